"""Receipts: goods received against a purchase order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.events import business_event
from backoffice.history import save_with_user
from backoffice.numbering import next_document_number
from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Receipt,
    ReceiptLine,
)
from orders.services._common import (
    _check_quantity,
    _clean,
    _locked,
    _pk,
    _user_or_none,
)

# Receipts ---------------------------------------------------------------------------------------


@transaction.atomic
def receipt_create(
    *,
    purchase_order: PurchaseOrder,
    lines: Sequence[tuple[PurchaseOrderLine | int, int]],
    user,
    delivery_note: str = "",
    received_at=None,
) -> Receipt:
    """Receive a delivery: any subset of lines and quantities, never more than is outstanding.

    Writes receipt movements at the PO's unit costs (updating moving-average
    costs) and moves the PO to partially received / received. Waiting
    backorders are served after commit (``stock_increased``).
    """
    order = _locked(PurchaseOrder, purchase_order.pk)
    if order.status not in PurchaseOrderStatus.RECEIVABLE:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; goods can only be received on a sent order."
        )
    requested: dict[int, int] = defaultdict(int)
    for line, quantity in lines:
        requested[_pk(line)] += _check_quantity(quantity, "A received quantity")
    if not requested:
        raise ValidationFailed("Nothing to receive: give at least one line and quantity.")
    po_lines = {line.pk: line for line in order.lines.select_related("product").filter(pk__in=requested)}
    foreign = sorted(set(requested) - set(po_lines))
    if foreign:
        raise ValidationFailed(f"Lines {foreign} are not on {order.number}.")
    over = [
        f"{po_lines[pk].product.sku}: {quantity} received but only {po_lines[pk].quantity_outstanding} outstanding"
        for pk, quantity in requested.items()
        if quantity > po_lines[pk].quantity_outstanding
    ]
    if over:
        raise ValidationFailed(f"Over-receipt refused on {order.number}: {'; '.join(over)}.", lines=over)
    receipt = Receipt(
        number=next_document_number("RC"),
        purchase_order=order,
        received_by=_user_or_none(user),
        delivery_note=delivery_note,
        received_at=received_at or timezone.now(),
    )
    _clean(receipt)
    save_with_user(receipt, user)
    bulk_create_with_history(
        [ReceiptLine(receipt=receipt, purchase_order_line_id=pk, quantity=q) for pk, q in requested.items()],
        ReceiptLine,
        default_user=_user_or_none(user),
    )
    stock_receive(
        lines=[
            StockLine(po_lines[pk].product_id, order.warehouse_id, quantity, po_lines[pk].unit_cost)
            for pk, quantity in requested.items()
        ],
        kind=MovementKind.RECEIPT,
        reference=receipt.number,
        note=order.number,
        user=user,
    )
    for pk, quantity in requested.items():
        po_lines[pk].quantity_received += quantity
    bulk_update_with_history(
        list(po_lines.values()), PurchaseOrderLine, ["quantity_received"], default_user=_user_or_none(user)
    )
    complete = not order.lines.filter(quantity_received__lt=F("quantity")).exists()
    order.status = PurchaseOrderStatus.RECEIVED if complete else PurchaseOrderStatus.PARTIALLY_RECEIVED
    save_with_user(order, user, update_fields=["status", "updated_at"])
    business_event(
        "purchase_order.received",
        purchase_order=order.number,
        purchase_order_id=order.pk,
        receipt=receipt.number,
        receipt_id=receipt.pk,
        complete=complete,
        quantities={po_lines[pk].product.sku: quantity for pk, quantity in requested.items()},
        by_user_id=getattr(user, "pk", None),
    )
    return receipt
