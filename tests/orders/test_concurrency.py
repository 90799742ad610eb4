"""Many users at once: no oversell, no lost update, unique numbers (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from inventory.models import StockLevel
from orders.models import PurchaseOrderStatus, SalesOrder, SalesOrderLine, SalesOrderStatus
from orders.services import (
    purchase_order_create,
    purchase_order_line_add,
    purchase_order_send,
    receipt_create,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
    shipment_create,
    shipment_ship,
)
from tests.factories import CustomerFactory, SupplierFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("stock_checked"),
]


def run_together(jobs: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Start every job at the same moment in its own thread (and connection)."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(job):
        try:
            barrier.wait()
            value = job()
            with lock:
                results.append(value)
        except BaseException as error:  # noqa: BLE001 - collected and asserted on by the test
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker is stuck (deadlock?)"
    return results, errors


def draft_orders(count: int, product, warehouse, user, quantity: int = 1) -> list[SalesOrder]:
    orders = []
    for _ in range(count):
        order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
        sales_order_line_add(order=order, product=product, quantity=quantity, user=user)
        orders.append(order)
    return orders


def test_twenty_confirmations_competing_for_ten_units(warehouse, sales_user, product_with_stock):
    product = product_with_stock(10)
    orders = draft_orders(20, product, warehouse, sales_user)

    _results, errors = run_together([lambda o=o: sales_order_confirm(order=o, user=sales_user) for o in orders])

    assert errors == []
    assert SalesOrder.objects.filter(status=SalesOrderStatus.CONFIRMED).count() == 20
    lines = SalesOrderLine.objects.filter(order__in=orders)
    assert sorted(line.quantity_reserved for line in lines) == [0] * 10 + [1] * 10
    assert sum(line.quantity_backordered for line in lines) == 10
    level = StockLevel.objects.get(product=product, warehouse=warehouse)
    assert (level.on_hand, level.allocated) == (10, 10)


def test_order_numbers_stay_unique_under_concurrency(warehouse, sales_user, customer):
    results, errors = run_together(
        [lambda: sales_order_create(customer=customer, warehouse=warehouse, user=sales_user).number] * 20
    )
    assert errors == []
    assert sorted(results) == [f"SO-{n:06d}" for n in range(1, 21)]


def test_concurrent_receipts_shipments_and_confirmations_keep_the_ledger(
    warehouse, sales_user, make_user, product_with_stock
):
    buyer = make_user("Purchasing")
    product = product_with_stock(12)
    shipped_orders = draft_orders(6, product, warehouse, sales_user, quantity=2)
    for order in shipped_orders:
        sales_order_confirm(order=order, user=sales_user)
    shipments = [shipment_create(sales_order=order, user=sales_user) for order in shipped_orders]
    waiting = draft_orders(8, product, warehouse, sales_user, quantity=1)  # confirmed during the receipts
    po = purchase_order_create(supplier=SupplierFactory(), warehouse=warehouse, user=buyer)
    line = purchase_order_line_add(order=po, product=product, quantity=10, user=buyer)
    purchase_order_send(order=po, user=buyer)

    jobs = [lambda s=s: shipment_ship(shipment=s, user=sales_user) for s in shipments]
    jobs += [lambda: receipt_create(purchase_order=po, lines=[(line, 2)], user=buyer) for _ in range(5)]
    jobs += [lambda o=o: sales_order_confirm(order=o, user=sales_user) for o in waiting]
    _results, errors = run_together(jobs)

    assert errors == []
    level = StockLevel.objects.get(product=product, warehouse=warehouse)
    assert level.on_hand == 12 - 12 + 10
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.RECEIVED
    # The 8 late orders got the 10 received units, either when confirmed or as backorders after each receipt.
    assert sum(SalesOrderLine.objects.filter(order__in=waiting).values_list("quantity_reserved", flat=True)) == 8
    assert level.allocated == 8
