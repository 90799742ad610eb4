"""Purchase order services: header, lines, send, cancel, close short."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.history import save_with_user
from backoffice.numbering import next_document_number
from inventory.models import Product, SupplierProduct
from orders import pricing
from orders.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)
from orders.services._common import (
    _check_amount,
    _check_price,
    _check_quantity,
    _clean,
    _locked,
    _set_fields,
    _user_or_none,
)
from orders.services.documents import purchase_order_email_queue

# Purchase orders --------------------------------------------------------------------------------

PURCHASE_ORDER_FIELDS = {"order_date", "expected_date", "supplier_reference", "notes"}


def _require_po_editable(order: PurchaseOrder) -> None:
    if order.status not in PurchaseOrderStatus.EDITABLE:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}: lines can only be changed on a draft."
        )


def _po_recalculate(order: PurchaseOrder, user) -> PurchaseOrder:
    lines = list(order.lines.order_by("id"))
    for line in lines:
        line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
    if lines:
        bulk_update_with_history(lines, PurchaseOrderLine, ["line_total"], default_user=_user_or_none(user))
    order.total = _check_amount(sum((line.line_total for line in lines), pricing.ZERO_AMOUNT), "The order total")
    save_with_user(order, user, update_fields=["total", "updated_at"])
    return order


def default_unit_cost(*, supplier, product: Product) -> Decimal:
    """The supplier's cost for the product, else the product's standard cost."""
    cost = (
        SupplierProduct.objects.filter(supplier=supplier, product=product).values_list("unit_cost", flat=True).first()
    )
    return product.cost if cost is None else cost


@transaction.atomic
def purchase_order_create(*, supplier, warehouse, user, **fields) -> PurchaseOrder:
    """A new draft purchase order; the expected date defaults from the supplier's lead time."""
    if not supplier.is_active:
        raise ValidationFailed(f"Supplier {supplier.code} is inactive.")
    if not warehouse.is_active:
        raise ValidationFailed(f"Warehouse {warehouse.code} is inactive.")
    order = PurchaseOrder(supplier=supplier, warehouse=warehouse, created_by=_user_or_none(user))
    _set_fields(order, fields, PURCHASE_ORDER_FIELDS)
    if order.expected_date is None:
        order.expected_date = order.order_date + timedelta(days=supplier.lead_time_days)
    order.number = next_document_number("PO")
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_update(*, order: PurchaseOrder, user, **fields) -> PurchaseOrder:
    """Change a draft's header (dates, references, notes)."""
    order = _locked(PurchaseOrder, order.pk)
    _require_po_editable(order)
    _set_fields(order, fields, PURCHASE_ORDER_FIELDS)
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_line_add(
    *, order: PurchaseOrder, product: Product, quantity: int, unit_cost: Decimal | None = None, user
) -> PurchaseOrderLine:
    """Add a line to a draft; the cost defaults from the supplier's price for the product."""
    order = _locked(PurchaseOrder, order.pk, "supplier")
    _require_po_editable(order)
    if not product.is_active:
        raise ValidationFailed(f"{product.sku} is inactive and cannot be ordered.")
    if unit_cost is None:
        unit_cost = default_unit_cost(supplier=order.supplier, product=product)
    line = PurchaseOrderLine(
        order=order,
        product=product,
        quantity=_check_quantity(quantity),
        unit_cost=_check_price(unit_cost, "The unit cost"),
    )
    line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
    _clean(line)
    save_with_user(line, user)
    _po_recalculate(order, user)
    return line


@transaction.atomic
def purchase_order_lines_add(
    *, order: PurchaseOrder, lines: Sequence[tuple[Product, int, Decimal | None]], user
) -> list[PurchaseOrderLine]:
    """Add several lines to a draft at once, recalculated once: ``(product, quantity, unit_cost)`` each,
    the cost defaulting (``None``) from the supplier's price. All or nothing."""
    order = _locked(PurchaseOrder, order.pk, "supplier")
    _require_po_editable(order)
    if not lines:
        raise ValidationFailed("No lines were given.")
    inactive = sorted(product.sku for product, _quantity, _cost in lines if not product.is_active)
    if inactive:
        raise ValidationFailed(f"Inactive products cannot be ordered: {', '.join(inactive)}.")
    supplier_costs = dict(
        SupplierProduct.objects.filter(
            supplier=order.supplier, product__in=[product for product, _q, _c in lines]
        ).values_list("product_id", "unit_cost")
    )
    new_lines = []
    for product, quantity, unit_cost in lines:
        if unit_cost is None:
            unit_cost = supplier_costs.get(product.pk, product.cost)
        line = PurchaseOrderLine(
            order=order,
            product=product,
            quantity=_check_quantity(quantity),
            unit_cost=_check_price(unit_cost, "The unit cost"),
        )
        line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
        # The order is locked and the products are loaded rows; the check constraints are the database's
        # (mirrored by the checks above): skipping their per-line queries keeps a 1,000-line draft fast.
        _clean(line, exclude=["order", "product"], validate_constraints=False)
        new_lines.append(line)
    created = bulk_create_with_history(new_lines, PurchaseOrderLine, default_user=_user_or_none(user))
    _po_recalculate(order, user)
    return created


@transaction.atomic
def purchase_order_line_update(
    *, line: PurchaseOrderLine, user, quantity: int | None = None, unit_cost: Decimal | None = None
) -> PurchaseOrderLine:
    """Change the quantity or cost of a draft's line."""
    order = _locked(PurchaseOrder, line.order_id)
    _require_po_editable(order)
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    if quantity is not None:
        line.quantity = _check_quantity(quantity)
    if unit_cost is not None:
        line.unit_cost = _check_price(unit_cost, "The unit cost")
    line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
    _clean(line)
    save_with_user(line, user)
    _po_recalculate(order, user)
    return line


@transaction.atomic
def purchase_order_line_remove(*, line: PurchaseOrderLine, user) -> None:
    """Remove a line from a draft."""
    order = _locked(PurchaseOrder, line.order_id)
    _require_po_editable(order)
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    line._history_user = _user_or_none(user)
    line.delete()
    _po_recalculate(order, user)


@transaction.atomic
def purchase_order_recalculate(*, order: PurchaseOrder, user=None) -> PurchaseOrder:
    """Line totals and the order total from quantities and costs (admin calls it after inlines)."""
    order = _locked(PurchaseOrder, order.pk)
    return _po_recalculate(order, user)


@transaction.atomic
def purchase_order_send(*, order: PurchaseOrder, user) -> PurchaseOrder:
    """Draft → sent: the goods now count as incoming.

    The PO's PDF is e-mailed to the supplier after commit (``orders.services.documents``), when it has an address.
    """
    order = _locked(PurchaseOrder, order.pk, "supplier")
    if order.status != PurchaseOrderStatus.DRAFT:
        raise InvalidTransition(f"{order.number} is {order.get_status_display().lower()}; only a draft can be sent.")
    lines = list(order.lines.select_related("product"))
    if not lines:
        raise ValidationFailed(f"{order.number} has no lines to send.")
    if not order.supplier.is_active:
        raise ValidationFailed(f"Supplier {order.supplier.code} is inactive.")
    _po_recalculate(order, user)
    order.status = PurchaseOrderStatus.SENT
    order.sent_at = timezone.now()
    # The PDF to the supplier's e-mail address after commit (none without an address: the PO is sent anyway).
    purchase_order_email_queue(order, user)
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_cancel(*, order: PurchaseOrder, user, reason: str = "") -> PurchaseOrder:
    """Cancel a draft or sent order; refused once anything has been received."""
    order = _locked(PurchaseOrder, order.pk)
    if order.status not in {PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT} or order.receipts.exists():
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; "
            "only an order with nothing received can be cancelled (close it short instead)."
        )
    order.status = PurchaseOrderStatus.CANCELLED
    order.closed_at = timezone.now()
    if reason.strip():
        order.close_reason = reason.strip()
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_close(*, order: PurchaseOrder, user, reason: str = "") -> PurchaseOrder:
    """Close an order: fully received, or short (the rest will not come) with a reason."""
    order = _locked(PurchaseOrder, order.pk)
    if order.status not in {*PurchaseOrderStatus.OPEN, PurchaseOrderStatus.RECEIVED}:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only a sent or received order can be closed."
        )
    outstanding = order.lines.filter(quantity_received__lt=F("quantity")).exists()
    if outstanding and not reason.strip():
        raise ValidationFailed(f"{order.number} is not fully received: give a reason to close it short.")
    order.status = PurchaseOrderStatus.CLOSED
    order.closed_at = timezone.now()
    order.close_reason = reason.strip()
    _clean(order)
    save_with_user(order, user)
    return order
