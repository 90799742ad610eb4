"""Backorders are served automatically, oldest order first, once arriving stock is committed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from inventory.models import AdjustmentReason, StockAdjustmentLine, StockLevel, StockTransferLine
from inventory.services import (
    StockLine,
    stock_adjustment_apply,
    stock_adjustment_create,
    stock_receive,
    stock_transfer_apply,
    stock_transfer_create,
)
from orders.selectors import backordered_lines, reserved_by_open_orders
from orders.services import (
    purchase_order_create,
    purchase_order_line_add,
    purchase_order_send,
    receipt_create,
    sales_order_cancel,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
)
from tests.factories import CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


@pytest.fixture
def product(db):
    return ProductFactory(sku="IKURA")


@pytest.fixture
def place(warehouse, sales_user, product):
    """place(quantity, order_date) -> a confirmed order for ``product`` in MAIN."""

    def make(quantity: int, order_date: date, warehouse=warehouse):
        order = sales_order_create(
            customer=CustomerFactory(), warehouse=warehouse, user=sales_user, order_date=order_date
        )
        sales_order_line_add(order=order, product=product, quantity=quantity, user=sales_user)
        return sales_order_confirm(order=order, user=sales_user)

    return make


def reserved(order) -> int:
    return order.lines.get().quantity_reserved


def test_receipt_serves_backorders_oldest_order_first_after_commit(
    place, product, warehouse, django_capture_on_commit_callbacks, make_user
):
    newest = place(3, date(2025, 5, 3))
    oldest = place(3, date(2025, 5, 1))
    middle = place(3, date(2025, 5, 2))
    buyer = make_user("Purchasing")
    po = purchase_order_create(supplier=SupplierFactory(), warehouse=warehouse, user=buyer)
    line = purchase_order_line_add(order=po, product=product, quantity=5, unit_cost=Decimal("4"), user=buyer)
    purchase_order_send(order=po, user=buyer)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        receipt_create(purchase_order=po, lines=[(line, 5)], user=buyer)
    assert callbacks, "the reservation waits for the receipt to commit"
    assert [reserved(o) for o in (oldest, middle, newest)] == [0, 0, 0]

    for callback in callbacks:
        callback()
    assert [reserved(o) for o in (oldest, middle, newest)] == [3, 2, 0]
    assert StockLevel.objects.get(product=product, warehouse=warehouse).allocated == 5


def test_same_day_orders_are_served_in_the_order_they_were_taken(
    place, product, stock, django_capture_on_commit_callbacks
):
    first = place(2, date(2025, 5, 1))
    second = place(2, date(2025, 5, 1))
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 3)
    assert (reserved(first), reserved(second)) == (2, 1)


def test_count_up_serves_backorders(place, product, warehouse, manager, django_capture_on_commit_callbacks):
    order = place(4, date(2025, 5, 1))
    adjustment = stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.FOUND, user=manager)
    StockAdjustmentLine.objects.create(adjustment=adjustment, product=product, counted_quantity=6)
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjustment_apply(adjustment=adjustment, user=manager)
    assert reserved(order) == 4
    assert StockLevel.objects.get(product=product, warehouse=warehouse).available == 2


def test_transfer_in_serves_backorders_of_the_destination_only(
    place, product, warehouse, manager, django_capture_on_commit_callbacks
):
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    stock_receive(lines=[StockLine(product.pk, north.pk, 5, Decimal("1"))], reference="SEED")
    elsewhere = place(2, date(2025, 4, 1), warehouse=south)  # older, but waiting in another warehouse
    here = place(2, date(2025, 5, 1))
    transfer = stock_transfer_create(from_warehouse=north, to_warehouse=warehouse, user=manager)
    StockTransferLine.objects.create(transfer=transfer, product=product, quantity=3)
    with django_capture_on_commit_callbacks(execute=True):
        stock_transfer_apply(transfer=transfer, user=manager)
    assert reserved(here) == 2
    assert reserved(elsewhere) == 0
    assert [line.order_id for line in backordered_lines()] == [elsewhere.pk]


def test_cancelled_and_draft_orders_do_not_take_arriving_stock(
    place, product, warehouse, sales_user, stock, django_capture_on_commit_callbacks
):
    cancelled = place(2, date(2025, 5, 1))
    sales_order_cancel(order=cancelled, user=sales_user)
    draft = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=draft, product=product, quantity=2, user=sales_user)
    waiting = place(2, date(2025, 5, 2))
    with django_capture_on_commit_callbacks(execute=True):
        stock(product, 10)
    assert (reserved(cancelled), draft.lines.get().quantity_reserved, reserved(waiting)) == (0, 0, 2)
    assert reserved_by_open_orders() == {(product.pk, warehouse.pk): 2}


def test_backorders_of_other_products_are_left_alone(place, stock, django_capture_on_commit_callbacks):
    order = place(2, date(2025, 5, 1))
    with django_capture_on_commit_callbacks(execute=True):
        stock(ProductFactory(), 10)
    assert reserved(order) == 0
