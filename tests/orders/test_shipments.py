"""Shipments: partial shipping of reserved stock, tracking, delivery, returns."""

from __future__ import annotations

import pytest

from backoffice.errors import InvalidTransition, ValidationFailed
from inventory.models import MovementKind, StockLevel, StockMovement
from orders.models import SalesOrderStatus, ShipmentStatus
from orders.services import (
    sales_order_cancel,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
    shipment_create,
    shipment_deliver,
    shipment_pack,
    shipment_return,
    shipment_ship,
)
from tests.factories import CarrierFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


@pytest.fixture
def carrier(db):
    return CarrierFactory(name="Speedy Express", tracking_url_template="https://speedy.example/t/{tracking}")


@pytest.fixture
def confirmed(customer, warehouse, sales_user, product_with_stock):
    """A confirmed order: line A 5 ordered / 5 reserved, line B 4 ordered / 2 reserved (2 backordered)."""
    order = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=order, product=product_with_stock(10, sku="A"), quantity=5, user=sales_user)
    sales_order_line_add(order=order, product=product_with_stock(2, sku="B"), quantity=4, user=sales_user)
    return sales_order_confirm(order=order, user=sales_user)


def lines(order):
    return list(order.lines.order_by("id"))


def test_create_without_lines_takes_everything_reserved(confirmed, sales_user, carrier):
    shipment = shipment_create(sales_order=confirmed, user=sales_user, carrier=carrier, tracking_number="1Z9")
    assert shipment.number == "SH-000001" and shipment.status == ShipmentStatus.PENDING
    assert sorted(shipment.lines.values_list("quantity", flat=True)) == [2, 5]
    assert shipment.tracking_url == "https://speedy.example/t/1Z9"
    assert shipment.shipping_address == confirmed.shipping_address


def test_create_refuses_more_than_reserved_and_counts_pending_shipments(confirmed, sales_user):
    a, b = lines(confirmed)
    with pytest.raises(ValidationFailed, match="Only reserved stock") as refused:
        shipment_create(sales_order=confirmed, lines=[(b, 3)], user=sales_user)
    assert "B: 3 asked, 2 reserved" in refused.value.message
    shipment_create(sales_order=confirmed, lines=[(a, 3)], user=sales_user)
    with pytest.raises(ValidationFailed, match="2 reserved and not yet on a shipment"):
        shipment_create(sales_order=confirmed, lines=[(a.pk, 3)], user=sales_user)
    assert confirmed.shipments.count() == 1


def test_create_refuses_draft_orders_and_foreign_lines(customer, warehouse, sales_user, confirmed):
    draft = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    foreign = sales_order_line_add(order=draft, product=lines(confirmed)[0].product, quantity=1, user=sales_user)
    with pytest.raises(InvalidTransition, match="only confirmed"):
        shipment_create(sales_order=draft, user=sales_user)
    with pytest.raises(ValidationFailed, match="not on"):
        shipment_create(sales_order=confirmed, lines=[(foreign, 1)], user=sales_user)


def test_create_refuses_when_nothing_is_reserved(customer, warehouse, sales_user, product_with_stock):
    order = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=order, product=product_with_stock(0), quantity=1, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    with pytest.raises(ValidationFailed, match="no reserved quantity"):
        shipment_create(sales_order=order, user=sales_user)


def test_partial_shipping_issues_stock_and_moves_the_order(confirmed, sales_user, warehouse, carrier):
    a, b = lines(confirmed)
    first = shipment_create(sales_order=confirmed, lines=[(a, 3)], user=sales_user)
    shipment_pack(shipment=first, user=sales_user)
    first = shipment_ship(shipment=first, user=sales_user, carrier=carrier, tracking_number=" 42 ")
    assert (first.status, first.tracking_number, first.carrier) == (ShipmentStatus.SHIPPED, "42", carrier)
    movement = StockMovement.objects.get(reference=first.number)
    assert (movement.kind, movement.quantity, movement.balance_after) == (MovementKind.SHIPMENT, -3, 7)
    confirmed.refresh_from_db()
    assert confirmed.status == SalesOrderStatus.PARTIALLY_SHIPPED
    a.refresh_from_db()
    assert (a.quantity_shipped, a.quantity_reserved) == (3, 2)
    level = StockLevel.objects.get(product=a.product, warehouse=warehouse)
    assert (level.on_hand, level.allocated) == (7, 2)


def test_order_is_shipped_only_when_every_unit_left(confirmed, sales_user, stock):
    a, b = lines(confirmed)
    shipment_ship(shipment=shipment_create(sales_order=confirmed, user=sales_user), user=sales_user)
    confirmed.refresh_from_db()
    assert confirmed.status == SalesOrderStatus.PARTIALLY_SHIPPED  # B still has 2 backordered
    stock(b.product, 2)  # the backorder is reserved after commit (see test_backorders); here reserve by hand
    from orders.services import backorders_reserve

    backorders_reserve(keys=[(b.product_id, confirmed.warehouse_id)])
    shipment_ship(shipment=shipment_create(sales_order=confirmed, user=sales_user), user=sales_user)
    confirmed.refresh_from_db()
    assert confirmed.status == SalesOrderStatus.SHIPPED


def test_ship_twice_and_pack_after_shipping_are_refused(confirmed, sales_user):
    shipment = shipment_create(sales_order=confirmed, user=sales_user)
    shipment_ship(shipment=shipment, user=sales_user)
    with pytest.raises(InvalidTransition, match="cannot be shipped"):
        shipment_ship(shipment=shipment, user=sales_user)
    with pytest.raises(InvalidTransition, match="cannot be packed"):
        shipment_pack(shipment=shipment, user=sales_user)
    assert StockMovement.objects.filter(kind=MovementKind.SHIPMENT).count() == 2  # one per product, once


def test_deliver_needs_a_shipped_shipment_and_completes_the_order(customer, warehouse, sales_user, product_with_stock):
    order = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=order, product=product_with_stock(3), quantity=3, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    first = shipment_create(sales_order=order, lines=[(order.lines.get(), 1)], user=sales_user)
    second = shipment_create(sales_order=order, lines=[(order.lines.get(), 2)], user=sales_user)
    with pytest.raises(InvalidTransition, match="cannot be delivered"):
        shipment_deliver(shipment=first, user=sales_user)
    shipment_ship(shipment=first, user=sales_user)
    shipment_ship(shipment=second, user=sales_user)
    shipment_deliver(shipment=first, user=sales_user)
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.SHIPPED  # the second parcel is still on its way
    shipment_deliver(shipment=second, user=sales_user)
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.DELIVERED


def test_return_restocks_with_a_return_movement_and_reopens_the_order(confirmed, sales_user, warehouse):
    a, _b = lines(confirmed)
    shipment = shipment_create(sales_order=confirmed, lines=[(a, 5)], user=sales_user)
    shipment_ship(shipment=shipment, user=sales_user)
    shipment_deliver(shipment=shipment, user=sales_user)
    shipment = shipment_return(shipment=shipment, user=sales_user)
    assert shipment.status == ShipmentStatus.RETURNED and shipment.returned_at is not None
    movement = StockMovement.objects.get(reference=shipment.number, kind=MovementKind.RETURN)
    assert movement.quantity == 5
    assert StockLevel.objects.get(product=a.product, warehouse=warehouse).on_hand == 10
    a.refresh_from_db()
    assert a.quantity_shipped == 0 and a.quantity_backordered == 5
    confirmed.refresh_from_db()
    assert confirmed.status == SalesOrderStatus.CONFIRMED
    sales_order_cancel(order=confirmed, user=sales_user)  # nothing shipped any more: it can be cancelled


def test_return_of_a_pending_shipment_is_refused(confirmed, sales_user):
    shipment = shipment_create(sales_order=confirmed, user=sales_user)
    with pytest.raises(InvalidTransition, match="cannot be returned"):
        shipment_return(shipment=shipment, user=sales_user)
    assert not StockMovement.objects.filter(kind=MovementKind.RETURN).exists()


def test_inactive_carrier_is_refused(confirmed, sales_user):
    carrier = CarrierFactory(is_active=False)
    with pytest.raises(ValidationFailed, match="inactive"):
        shipment_create(sales_order=confirmed, user=sales_user, carrier=carrier)
