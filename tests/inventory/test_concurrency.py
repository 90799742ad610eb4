"""No oversell under concurrency (DESIGN.md invariant 3): real threads, real row locks."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from backoffice.errors import InsufficientStock
from inventory.models import StockLevel, StockMovement
from inventory.services import StockLine, stock_allocate, stock_issue, stock_receive
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),
]


def run_in_threads(count: int, work) -> tuple[list, list[BaseException]]:
    """Start ``count`` threads together; collect results and unexpected errors."""
    results, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def body(index):
        try:
            start.wait()
            outcome = work(index)
            with lock:
                results.append(outcome)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results, errors


def test_twenty_buyers_for_ten_units_exactly_ten_win():
    warehouse = WarehouseFactory(code="MAIN")
    product = ProductFactory(sku="HOT")
    stock_receive(lines=[StockLine(product.pk, warehouse.pk, 10, Decimal("1"))])

    def allocate_one(_):
        try:
            return stock_allocate(lines=[StockLine(product.pk, warehouse.pk, 1)])
        except InsufficientStock:
            return "refused"

    results, errors = run_in_threads(20, allocate_one)

    assert errors == []
    assert results.count([1]) == 10
    assert results.count("refused") == 10
    level = StockLevel.objects.get(product=product, warehouse=warehouse)
    assert (level.on_hand, level.allocated) == (10, 10)


def test_multi_line_allocations_in_opposite_orders_do_not_deadlock():
    warehouse = WarehouseFactory(code="MAIN")
    first, second = ProductFactory(), ProductFactory()
    stock_receive(
        lines=[
            StockLine(first.pk, warehouse.pk, 20, Decimal("1")),
            StockLine(second.pk, warehouse.pk, 20, Decimal("1")),
        ]
    )

    def allocate_pair(index):
        pair = [StockLine(first.pk, warehouse.pk, 1), StockLine(second.pk, warehouse.pk, 1)]
        return stock_allocate(lines=pair if index % 2 else pair[::-1])

    results, errors = run_in_threads(16, allocate_pair)

    assert errors == []
    assert len(results) == 16
    assert set(StockLevel.objects.values_list("allocated", flat=True)) == {16}


def test_concurrent_receipts_and_issues_keep_the_ledger_whole():
    warehouses = [WarehouseFactory(code="MAIN"), WarehouseFactory(code="EAST")]
    products = [ProductFactory() for _ in range(3)]
    stock_receive(
        lines=[StockLine(p.pk, w.pk, 50, Decimal("2")) for p in products for w in warehouses],
    )

    def trade(index):
        rng = random.Random(index)
        refused = 0
        for _ in range(15):
            lines = [
                StockLine(rng.choice(products).pk, rng.choice(warehouses).pk, rng.randint(1, 8))
                for _ in range(rng.randint(1, 3))
            ]
            if rng.random() < 0.5:
                stock_receive(lines=[StockLine(*line.key, line.quantity, Decimal(rng.randint(1, 5))) for line in lines])
            else:
                try:
                    stock_issue(lines=lines)
                except InsufficientStock:
                    refused += 1
        return refused

    results, errors = run_in_threads(10, trade)

    assert errors == []
    assert len(results) == 10
    for level in StockLevel.objects.all():
        movements = StockMovement.objects.filter(product_id=level.product_id, warehouse_id=level.warehouse_id)
        assert level.on_hand == movements.aggregate(t=Sum("quantity"))["t"]
        # balance_after is a true running balance: the latest movement shows the level's on hand.
        assert movements.order_by("-id").first().balance_after == level.on_hand
        assert level.on_hand >= 0
