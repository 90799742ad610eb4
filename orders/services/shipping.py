"""Shipment services: create, pack, ship (or pack and ship in one step), deliver, return."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.events import business_event
from backoffice.history import save_with_user
from backoffice.numbering import next_document_number
from inventory.models import MovementKind
from inventory.services import StockLine, stock_issue, stock_receive
from orders.models import (
    Carrier,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orders.services._common import (
    _check_quantity,
    _clean,
    _locked,
    _pk,
    _user_or_none,
)
from orders.services.sales import _store_counters

# Shipments --------------------------------------------------------------------------------------


def _in_pending_shipments(order: SalesOrder, exclude_shipment_id: int | None = None) -> dict[int, int]:
    """Quantity per sales line already put on shipments that have not left yet."""
    queryset = ShipmentLine.objects.filter(
        shipment__sales_order=order, shipment__status__in=ShipmentStatus.EDITABLE
    ).exclude(shipment_id=exclude_shipment_id)
    return dict(
        queryset.values("sales_order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("sales_order_line_id", "total")
    )


@transaction.atomic
def shipment_create(
    *,
    sales_order: SalesOrder,
    lines: Sequence[tuple[SalesOrderLine | int, int]] | None = None,
    user,
    carrier: Carrier | None = None,
    tracking_number: str = "",
) -> Shipment:
    """A pending shipment for reserved quantities (``lines=None``: everything reserved and not yet on a shipment)."""
    order = _locked(SalesOrder, sales_order.pk)
    if order.status not in SalesOrderStatus.OPEN:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only confirmed orders can be shipped."
        )
    order_lines = {line.pk: line for line in order.lines.select_related("product")}
    pending = _in_pending_shipments(order)
    free = {pk: line.quantity_reserved - pending.get(pk, 0) for pk, line in order_lines.items()}
    if lines is None:
        requested = {pk: quantity for pk, quantity in free.items() if quantity > 0}
        if not requested:
            raise ValidationFailed(f"{order.number} has no reserved quantity left to ship.")
    else:
        requested = defaultdict(int)
        for line, quantity in lines:
            requested[_pk(line)] += _check_quantity(quantity, "A shipped quantity")
        if not requested:
            raise ValidationFailed("Nothing to ship: give at least one line and quantity.")
        foreign = sorted(set(requested) - set(order_lines))
        if foreign:
            raise ValidationFailed(f"Lines {foreign} are not on {order.number}.")
        over = [
            f"{order_lines[pk].product.sku}: {quantity} asked, {max(free[pk], 0)} reserved and not yet on a shipment"
            for pk, quantity in requested.items()
            if quantity > free[pk]
        ]
        if over:
            raise ValidationFailed(f"Only reserved stock can be shipped: {'; '.join(over)}.", lines=over)
    if carrier is not None and not carrier.is_active:
        raise ValidationFailed(f"Carrier {carrier.name} is inactive.")
    shipment = Shipment(
        number=next_document_number("SH"),
        sales_order=order,
        carrier=carrier,
        tracking_number=tracking_number,
        shipping_address=order.shipping_address,
        created_by=_user_or_none(user),
    )
    _clean(shipment)
    save_with_user(shipment, user)
    bulk_create_with_history(
        [ShipmentLine(shipment=shipment, sales_order_line_id=pk, quantity=q) for pk, q in requested.items()],
        ShipmentLine,
        default_user=_user_or_none(user),
    )
    return shipment


def _locked_shipment(shipment: Shipment) -> tuple[SalesOrder, Shipment]:
    order = _locked(SalesOrder, Shipment.objects.values_list("sales_order_id", flat=True).get(pk=shipment.pk))
    return order, _locked(Shipment, shipment.pk)


def _refuse(shipment: Shipment, action: str, allowed: Iterable[str]) -> None:
    if shipment.status not in allowed:
        raise InvalidTransition(f"{shipment.number} is {shipment.get_status_display().lower()}; it cannot be {action}.")


@transaction.atomic
def shipment_pack(*, shipment: Shipment, user) -> Shipment:
    """Pending → packed."""
    _order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "packed", {ShipmentStatus.PENDING})
    shipment.status = ShipmentStatus.PACKED
    save_with_user(shipment, user, update_fields=["status", "updated_at"])
    return shipment


def _follow_shipping(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> None:
    """The order's status from its lines' shipped quantities."""
    if all(line.quantity_shipped >= line.quantity for line in lines):
        if order.status != SalesOrderStatus.DELIVERED:
            order.status = SalesOrderStatus.SHIPPED
    elif any(line.quantity_shipped for line in lines):
        order.status = SalesOrderStatus.PARTIALLY_SHIPPED
    else:
        order.status = SalesOrderStatus.CONFIRMED


@transaction.atomic
def shipment_ship(
    *, shipment: Shipment, user, tracking_number: str | None = None, carrier: Carrier | None = None
) -> Shipment:
    """Pending/packed → shipped: issues the reserved stock and moves the order to (partially) shipped."""
    order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "shipped", ShipmentStatus.EDITABLE)
    if order.status not in SalesOrderStatus.OPEN:
        raise InvalidTransition(f"{order.number} is {order.get_status_display().lower()}; it cannot be shipped.")
    if carrier is not None:
        if not carrier.is_active:
            raise ValidationFailed(f"Carrier {carrier.name} is inactive.")
        shipment.carrier = carrier
    if tracking_number is not None:
        shipment.tracking_number = tracking_number.strip()
    shipment_lines = list(shipment.lines.all())
    order_lines = {line.pk: line for line in order.lines.select_related("product")}
    short = [
        f"{order_lines[s.sales_order_line_id].product.sku}: {s.quantity} on the shipment, "
        f"{order_lines[s.sales_order_line_id].quantity_reserved} reserved"
        for s in shipment_lines
        if s.quantity > order_lines[s.sales_order_line_id].quantity_reserved
    ]
    if short:
        raise ValidationFailed(f"{shipment.number} holds more than is reserved: {'; '.join(short)}.", lines=short)
    if not shipment_lines:
        raise ValidationFailed(f"{shipment.number} has no lines.")
    stock_issue(
        lines=[
            StockLine(order_lines[s.sales_order_line_id].product_id, order.warehouse_id, s.quantity)
            for s in shipment_lines
        ],
        kind=MovementKind.SHIPMENT,
        reference=shipment.number,
        note=order.number,
        user=user,
        from_allocation=True,
    )
    changed = []
    for s in shipment_lines:
        line = order_lines[s.sales_order_line_id]
        line.quantity_reserved -= s.quantity
        line.quantity_shipped += s.quantity
        changed.append(line)
    bulk_update_with_history(
        changed, SalesOrderLine, ["quantity_reserved", "quantity_shipped"], default_user=_user_or_none(user)
    )
    shipment.status = ShipmentStatus.SHIPPED
    shipment.shipped_at = timezone.now()
    _clean(shipment)
    save_with_user(shipment, user)
    _follow_shipping(order, list(order_lines.values()))
    save_with_user(order, user, update_fields=["status", "updated_at"])
    _store_counters(order, list(order_lines.values()))
    business_event(
        "shipment.shipped",
        shipment=shipment.number,
        shipment_id=shipment.pk,
        order=order.number,
        order_id=order.pk,
        carrier=shipment.carrier.name if shipment.carrier_id else None,
        tracking_number=shipment.tracking_number,
        by_user_id=getattr(user, "pk", None),
    )
    return shipment


@transaction.atomic
def shipment_pack_and_ship(
    *, shipment: Shipment, user, carrier: Carrier | None = None, tracking_number: str | None = None
) -> Shipment:
    """Pending or packed → shipped in one step: a pending shipment is packed first, then shipped.

    All or nothing: when shipping is refused (more than is reserved, an inactive carrier...) the
    shipment is not left packed either. A shipment must have a carrier to leave: the one given, or
    the one it already names.
    """
    current = Shipment.objects.select_related("carrier").get(pk=shipment.pk)
    _refuse(current, "shipped", ShipmentStatus.EDITABLE)
    if carrier is None and current.carrier_id is None:
        raise ValidationFailed(f"{current.number} has no carrier: choose one to ship it.")
    if current.status == ShipmentStatus.PENDING:
        shipment_pack(shipment=current, user=user)
    return shipment_ship(shipment=current, user=user, carrier=carrier, tracking_number=tracking_number)


@transaction.atomic
def shipment_deliver(*, shipment: Shipment, user) -> Shipment:
    """Shipped → delivered; when every shipment of a fully shipped order arrived, the order is delivered."""
    order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "delivered", {ShipmentStatus.SHIPPED})
    shipment.status = ShipmentStatus.DELIVERED
    shipment.delivered_at = timezone.now()
    save_with_user(shipment, user, update_fields=["status", "delivered_at", "updated_at"])
    business_event(
        "shipment.delivered",
        shipment=shipment.number,
        shipment_id=shipment.pk,
        order=order.number,
        order_id=order.pk,
        by_user_id=getattr(user, "pk", None),
    )
    still_travelling = order.shipments.filter(status=ShipmentStatus.SHIPPED).exists()
    if order.status == SalesOrderStatus.SHIPPED and not still_travelling:
        order.status = SalesOrderStatus.DELIVERED
        save_with_user(order, user, update_fields=["status", "updated_at"])
    return shipment


@transaction.atomic
def shipment_return(*, shipment: Shipment, user) -> Shipment:
    """Shipped/delivered → returned: the goods go back on hand with a return movement.

    The returned quantities count as not shipped again, so the order reopens
    (confirmed / partially shipped) and they are either reserved again as a
    backorder or cancelled by the user.
    """
    order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "returned", {ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED})
    shipment_lines = list(shipment.lines.all())
    order_lines = {line.pk: line for line in order.lines.all()}
    stock_receive(
        lines=[
            StockLine(order_lines[s.sales_order_line_id].product_id, order.warehouse_id, s.quantity)
            for s in shipment_lines
        ],
        kind=MovementKind.RETURN,
        reference=shipment.number,
        note=f"Return of {shipment.number} ({order.number})",
        user=user,
        update_average_cost=False,
    )
    for s in shipment_lines:
        order_lines[s.sales_order_line_id].quantity_shipped -= s.quantity
    bulk_update_with_history(
        [order_lines[s.sales_order_line_id] for s in shipment_lines],
        SalesOrderLine,
        ["quantity_shipped"],
        default_user=_user_or_none(user),
    )
    shipment.status = ShipmentStatus.RETURNED
    shipment.returned_at = timezone.now()
    save_with_user(shipment, user, update_fields=["status", "returned_at", "updated_at"])
    if order.status != SalesOrderStatus.CANCELLED:
        if order.status == SalesOrderStatus.DELIVERED:
            order.status = SalesOrderStatus.SHIPPED
        _follow_shipping(order, list(order_lines.values()))
        save_with_user(order, user, update_fields=["status", "updated_at"])
        _store_counters(order, list(order_lines.values()))
    return shipment
