"""stock-on-hand and stock-valuation against the hand-computed world of ``report_data``.

After the orders of ``report_data`` are confirmed, the levels are (on hand / allocated):
TEA@MAIN 10/3 (O1 2 + O6 1), TEA@EAST 5/1 (O2), COF@MAIN 7/4 (O1), COF@EAST 0/0 (O3 backordered),
BRD@EAST 3/3 (O2). A sent PO brings 20 COF to EAST and 6 TEA to MAIN (2 already received: 4 incoming);
a draft PO of 99 TEA for MAIN is not incoming yet.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F, Sum

from inventory.models import StockLevel
from orders import services
from reports.registry import ReportParamError, run_report
from tests.factories import SupplierFactory
from tests.reports.report_data import build_world

D = Decimal


@pytest.fixture
def world(admin_user):
    world = build_world(admin_user)
    supplier = SupplierFactory(code="SUPA")
    sent = services.purchase_order_create(supplier=supplier, warehouse=world.east, user=admin_user)
    services.purchase_order_line_add(order=sent, product=world.cof, quantity=20, unit_cost=D("2.0000"), user=admin_user)
    services.purchase_order_send(order=sent, user=admin_user)
    main_po = services.purchase_order_create(supplier=supplier, warehouse=world.main, user=admin_user)
    tea_line = services.purchase_order_line_add(
        order=main_po, product=world.tea, quantity=6, unit_cost=D("4.1234"), user=admin_user
    )
    services.purchase_order_send(order=main_po, user=admin_user)
    services.receipt_create(purchase_order=main_po, lines=[(tea_line, 2)], user=admin_user)
    draft = services.purchase_order_create(supplier=supplier, warehouse=world.main, user=admin_user)
    services.purchase_order_line_add(
        order=draft, product=world.tea, quantity=99, unit_cost=D("4.1234"), user=admin_user
    )
    return world


ON_HAND_ROWS = [
    # sku, warehouse, on_hand, allocated, available, incoming, average cost, value
    ("BRD", "EAST", 3, 3, 0, 0, D("1.0000"), D("3.00")),
    ("COF", "EAST", 0, 0, 0, 20, D("2.3333"), D("0.00")),
    ("COF", "MAIN", 7, 4, 3, 0, D("2.3333"), D("16.33")),
    ("TEA", "EAST", 5, 1, 4, 0, D("4.1234"), D("20.62")),
    ("TEA", "MAIN", 12, 3, 9, 4, D("4.1234"), D("49.48")),
]
ON_HAND_KEYS = ("sku", "warehouse", "on_hand", "allocated", "available", "incoming", "average_cost", "value")


def on_hand_rows(result):
    return [tuple(row[key] for key in ON_HAND_KEYS) for row in result.rows]


def test_stock_on_hand_per_product_and_warehouse(world):
    result = run_report("stock-on-hand", {})
    assert on_hand_rows(result) == ON_HAND_ROWS
    assert [column.name for column in result.columns] == (
        [
            "sku",
            "product",
            "category",
            "warehouse",
            "on_hand",
            "allocated",
            "available",
            "incoming",
            "average_cost",
            "value",
        ]
    )
    assert result.totals == {
        "on_hand": 27,
        "allocated": 11,
        "available": 16,
        "incoming": 24,
        "value": D("89.43"),  # 12 × 4.1234 + 5 × 4.1234 + 7 × 2.3333 + 3 × 1 = 89.4309
    }
    first = next(iter(result.rows))
    assert (first["product"], first["category"]) == ("Bread", "Food")


def test_stock_on_hand_filters(world):
    assert [row[:2] for row in on_hand_rows(run_report("stock-on-hand", {"warehouse": "MAIN"}))] == [
        ("COF", "MAIN"),
        ("TEA", "MAIN"),
    ]
    assert [row[0] for row in on_hand_rows(run_report("stock-on-hand", {"category": "Food"}))] == ["BRD"]
    assert [row[:2] for row in on_hand_rows(run_report("stock-on-hand", {"sku": "co"}))] == [
        ("COF", "EAST"),
        ("COF", "MAIN"),
    ]
    in_stock = run_report("stock-on-hand", {"in_stock": "true"})
    assert ("COF", "EAST") not in [row[:2] for row in on_hand_rows(in_stock)] and in_stock.row_count == 4
    with pytest.raises(ReportParamError):
        run_report("stock-on-hand", {"category": "Nope"})


VALUATION = [
    ("Drinks", "EAST", 1, 5, D("20.62")),
    ("Drinks", "MAIN", 2, 19, D("65.81")),
    ("Drinks", "Subtotal", 3, 24, D("86.43")),
    ("Food", "EAST", 1, 3, D("3.00")),
    ("Food", "Subtotal", 1, 3, D("3.00")),
]


def test_stock_valuation_by_category_and_warehouse_with_subtotals(world):
    result = run_report("stock-valuation", {})
    assert [(r["category"], r["warehouse"], r["products"], r["on_hand"], r["value"]) for r in result.rows] == VALUATION
    assert result.totals == {"products": 4, "on_hand": 27, "value": D("89.43")}
    exact = StockLevel.objects.aggregate(value=Sum(F("on_hand") * F("product__average_cost")))["value"]
    assert result.totals["value"] == Decimal(exact).quantize(D("0.01"))
    assert result.chart_data() == {
        "labels": ["Drinks", "Food"],
        "datasets": [{"label": "Value", "data": [86.43, 3.0]}],
    }


def test_stock_valuation_grand_total_is_the_exact_sum_rounded_once(admin_user):
    """Three levels worth 0.0049 … each: rows round to 0.00, the grand total is still 0.01."""
    from inventory.models import MovementKind
    from inventory.services import StockLine, stock_receive
    from tests.factories import CategoryFactory, ProductFactory, WarehouseFactory

    category = CategoryFactory(name="Tiny")
    warehouses = [WarehouseFactory(code=f"W{n}") for n in range(3)]
    product = ProductFactory(sku="TINY", category=category)
    stock_receive(
        lines=[StockLine(product.pk, warehouse.pk, 1, D("0.0049")) for warehouse in warehouses],
        kind=MovementKind.OPENING,
    )
    result = run_report("stock-valuation", {})
    assert [row["value"] for row in result.rows] == [D("0.00")] * 3 + [D("0.01")]
    assert result.totals["value"] == D("0.01")


def test_stock_reports_scope_a_warehouse_user_to_their_warehouses(world, make_user):
    keeper = make_user("Warehouse", username="keeper")
    world.main.staff.add(keeper)
    mine = run_report("stock-on-hand", {}, user=keeper)
    assert [row[:2] for row in on_hand_rows(mine)] == [("COF", "MAIN"), ("TEA", "MAIN")]
    assert mine.totals["on_hand"] == 19
    valuation = run_report("stock-valuation", {}, user=keeper)
    assert [(r["category"], r["warehouse"]) for r in valuation.rows] == [("Drinks", "MAIN"), ("Drinks", "Subtotal")]
    assert valuation.totals["value"] == D("65.81")
    with pytest.raises(ReportParamError) as refused:  # another warehouse's code is not a choice for them
        run_report("stock-on-hand", {"warehouse": "EAST"}, user=keeper)
    assert "warehouse" in refused.value.errors


def test_empty_stock(db):
    for name in ("stock-on-hand", "stock-valuation"):
        result = run_report(name, {})
        assert result.row_count == 0
        assert result.totals["value"] == D("0.00") and result.totals["on_hand"] == 0
