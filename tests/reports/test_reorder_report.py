"""The ``reorder`` report: which levels need reordering, suggested quantities, incoming, days of cover, scoping."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import PurchaseOrderStatus
from orders.services import receipt_create
from reports.registry import ReportParamError, ReportPermissionDenied, run_report
from reports.reorder import suggested_quantity
from tests.factories import SupplierFactory
from tests.reports.reorder_helpers import prefer, product, purchase_order, ship, stock_level, warehouse

pytestmark = pytest.mark.django_db

COLUMNS = [
    "sku",
    "product",
    "warehouse",
    "on_hand",
    "allocated",
    "available",
    "incoming",
    "reorder_point",
    "reorder_quantity",
    "suggested_quantity",
    "supplier",
    "days_of_cover",
]


def rows(params=None, **kwargs):
    return list(run_report("reorder", params or {}, **kwargs).iter_rows())


def by_sku(params=None, **kwargs):
    return {row["sku"]: row for row in rows(params, **kwargs)}


@pytest.fixture
def main(db):
    return warehouse("MAIN")


def test_columns_are_the_interface_names(main):
    chai = product("CHAI")
    stock_level(chai, main, on_hand=3, reorder_point=10, reorder_quantity=20)
    result = run_report("reorder", {})
    assert [column.name for column in result.columns] == COLUMNS
    out = io.BytesIO()
    result.write("json", out)
    data = json.loads(out.getvalue())
    assert list(data[0]) == COLUMNS
    assert data[0]["sku"] == "CHAI"


@pytest.mark.parametrize(
    ("available", "incoming", "point", "reorder_quantity", "moq", "expected"),
    [
        (5, 0, 20, 10, 1, 16),  # 20 - 5 + 1 = 16 brings 5 + 16 = 21 above 20; more than the reorder quantity
        (8, 0, 10, 30, 1, 30),  # only 3 needed, the reorder quantity is the floor
        (5, 0, 20, 10, 12, 24),  # 16 rounded up to a whole case of 12
        (8, 0, 10, 30, 25, 50),  # the floor of 30 rounded up to two cases of 25
        (0, 0, 10, 0, 1, 11),  # no reorder quantity: just above the point
        (0, 4, 10, 0, 1, 7),  # incoming counts: 0 + 4 + 7 = 11
        (10, 0, 10, 24, 24, 24),  # exactly at the point, one case
    ],
)
def test_suggested_quantity(available, incoming, point, reorder_quantity, moq, expected):
    quantity = suggested_quantity(
        available=available,
        incoming=incoming,
        reorder_point=point,
        reorder_quantity=reorder_quantity,
        minimum_order_quantity=moq,
    )
    assert quantity == expected
    assert available + incoming + quantity > point
    assert quantity >= reorder_quantity
    assert quantity % moq == 0


def test_report_rows_with_minimum_order_rounding_and_reorder_quantity_floor(main):
    supplier = SupplierFactory(code="EXOTIC")
    chai, chang, tofu, kelp = product("CHAI"), product("CHANG"), product("TOFU"), product("KELP")
    prefer(chai, supplier, moq=12)
    prefer(chang, supplier)
    prefer(tofu, SupplierFactory(code="TOKYO"), moq=25)
    stock_level(chai, main, on_hand=9, allocated=4, reorder_point=20, reorder_quantity=10)  # available 5
    stock_level(chang, main, on_hand=8, reorder_point=10, reorder_quantity=30)
    stock_level(tofu, main, on_hand=8, reorder_point=10, reorder_quantity=30)
    stock_level(kelp, main, on_hand=0, reorder_point=5, reorder_quantity=0)  # no preferred supplier

    found = by_sku()

    assert found["CHAI"] == {
        "key": found["CHAI"]["key"],
        "sku": "CHAI",
        "product": "Product CHAI",
        "warehouse": "MAIN",
        "on_hand": 9,
        "allocated": 4,
        "available": 5,
        "incoming": 0,
        "reorder_point": 20,
        "reorder_quantity": 10,
        "suggested_quantity": 24,
        "supplier": "EXOTIC",
        "days_of_cover": None,
    }
    assert found["CHANG"]["suggested_quantity"] == 30
    assert found["TOFU"]["suggested_quantity"] == 50
    assert found["KELP"]["suggested_quantity"] == 6
    assert found["KELP"]["supplier"] == ""


def test_at_the_reorder_point_is_included_one_above_is_not(main):
    at, above = product("AT"), product("ABOVE")
    stock_level(at, main, on_hand=10, reorder_point=10)
    stock_level(above, main, on_hand=11, reorder_point=10)
    assert set(by_sku()) == {"AT"}


def test_inactive_products_zero_reorder_points_and_inactive_warehouses_are_left_out(main):
    closed = warehouse("OLD")
    active, inactive, no_point, elsewhere = product("ACTIVE"), product("GONE"), product("NOPOINT"), product("ELSE")
    stock_level(active, main, on_hand=0, reorder_point=5)
    stock_level(inactive, main, on_hand=0, reorder_point=5)
    stock_level(no_point, main, on_hand=0, reorder_point=0, reorder_quantity=10)
    stock_level(elsewhere, closed, on_hand=0, reorder_point=5)
    inactive.is_active = False
    inactive.save()
    closed.is_active = False
    closed.save()

    assert set(by_sku()) == {"ACTIVE"}


def test_incoming_counts_drafts_and_sent_orders_not_cancelled_or_received_ones(main):
    supplier = SupplierFactory()
    covered, short, cancelled, partial = product("COVERED"), product("SHORT"), product("CANCELLED"), product("PARTIAL")
    for item in (covered, short, cancelled, partial):
        stock_level(item, main, on_hand=5, reorder_point=20, reorder_quantity=10)
    purchase_order(supplier, main, [(covered, 16)])  # a draft: 5 + 16 = 21 > 20, nothing to suggest
    purchase_order(supplier, main, [(short, 10)])  # a draft that is not enough: 5 + 10 = 15
    purchase_order(supplier, main, [(cancelled, 50)], status=PurchaseOrderStatus.CANCELLED)
    sent = purchase_order(supplier, main, [(partial, 30)], status=PurchaseOrderStatus.SENT)
    receipt_create(purchase_order=sent, lines=[(sent.lines.get(), 28)], user=None)  # 2 still to come; 33 on hand

    found = by_sku()

    assert "COVERED" not in found
    assert found["SHORT"]["incoming"] == 10
    assert found["SHORT"]["suggested_quantity"] == 10  # 20 - 15 + 1 = 6, floor 10
    assert found["CANCELLED"]["incoming"] == 0
    assert "PARTIAL" not in found  # 33 on hand now


def test_outstanding_quantity_of_a_partly_received_order_is_incoming(main):
    supplier = SupplierFactory()
    item = product("SLOW")
    stock_level(item, main, on_hand=0, reorder_point=50, reorder_quantity=10)
    sent = purchase_order(supplier, main, [(item, 30)], status=PurchaseOrderStatus.SENT)
    receipt_create(purchase_order=sent, lines=[(sent.lines.get(), 10)], user=None)

    row = by_sku()["SLOW"]

    assert (row["on_hand"], row["incoming"]) == (10, 20)
    assert row["suggested_quantity"] == 21  # 50 - 30 + 1


def test_incoming_of_another_warehouse_does_not_count(main):
    west = warehouse("WEST")
    item = product("ITEM")
    stock_level(item, main, on_hand=0, reorder_point=10, reorder_quantity=5)
    purchase_order(SupplierFactory(), west, [(item, 100)])
    assert by_sku()["ITEM"]["incoming"] == 0


def test_days_of_cover_from_the_last_90_days_of_shipments(main):
    moving, still = product("MOVING"), product("STILL")
    stock_level(moving, main, on_hand=51, reorder_point=10, reorder_quantity=10)
    stock_level(still, main, on_hand=3, reorder_point=10, reorder_quantity=10)
    ship(moving, main, 45)  # 45 units in 90 days: 0.5 a day; 6 left → 12 days

    found = by_sku()
    assert found["MOVING"]["available"] == 6
    assert found["MOVING"]["days_of_cover"] == Decimal("12.0")
    assert found["STILL"]["days_of_cover"] is None

    # 90 days later the shipment is out of the window: nothing shipped, no cover figure.
    later = timezone.localdate() + dt.timedelta(days=90)
    assert by_sku(today=later)["MOVING"]["days_of_cover"] is None
    assert by_sku(today=later - dt.timedelta(days=1))["MOVING"]["days_of_cover"] == Decimal("12.0")


def test_days_of_cover_rounds_to_one_decimal(main):
    item = product("ITEM")
    stock_level(item, main, on_hand=7 + 4, reorder_point=10, reorder_quantity=10)
    ship(item, main, 7)  # 7/90 a day; 4 available → 51.43 days
    assert by_sku()["ITEM"]["days_of_cover"] == Decimal("51.4")


def test_warehouse_and_supplier_parameters(main):
    west = warehouse("WEST")
    exotic = SupplierFactory(code="EXOTIC")
    chai, tofu = product("CHAI"), product("TOFU")
    prefer(chai, exotic)
    prefer(tofu, SupplierFactory(code="TOKYO"))
    for item in (chai, tofu):
        stock_level(item, main, on_hand=0, reorder_point=5)
        stock_level(item, west, on_hand=0, reorder_point=5)

    assert {(r["sku"], r["warehouse"]) for r in rows({"warehouse": "WEST"})} == {("CHAI", "WEST"), ("TOFU", "WEST")}
    assert {(r["sku"], r["warehouse"]) for r in rows({"supplier": "EXOTIC"})} == {("CHAI", "MAIN"), ("CHAI", "WEST")}
    assert rows({"warehouse": "WEST", "supplier": "TOKYO"}) == [
        row for row in rows() if (row["sku"], row["warehouse"]) == ("TOFU", "WEST")
    ]
    with pytest.raises(ReportParamError):
        run_report("reorder", {"warehouse": "NOPE"})
    with pytest.raises(ReportParamError):
        run_report("reorder", {"supplier": "NOPE"}, strict=True)


def test_rows_ordered_by_warehouse_then_sku(main):
    west = warehouse("WEST")
    for sku in ("B", "A"):
        item = product(sku)
        stock_level(item, west, on_hand=0, reorder_point=5)
        stock_level(item, main, on_hand=0, reorder_point=5)
    assert [(r["warehouse"], r["sku"]) for r in rows()] == [("MAIN", "A"), ("MAIN", "B"), ("WEST", "A"), ("WEST", "B")]


def test_a_warehouse_user_sees_only_their_warehouses(main, make_user):
    west = warehouse("WEST")
    item = product("ITEM")
    stock_level(item, main, on_hand=0, reorder_point=5)
    stock_level(item, west, on_hand=0, reorder_point=5)
    purchase_order(SupplierFactory(), west, [(item, 2)])
    clerk = make_user("Warehouse", username="westclerk")
    west.staff.add(clerk)

    assert [(r["warehouse"], r["incoming"]) for r in rows(user=clerk)] == [("WEST", 2)]
    assert {r["warehouse"] for r in rows(user=make_user("Purchasing"))} == {"MAIN", "WEST"}


def test_sales_may_not_run_it(make_user):
    with pytest.raises(ReportPermissionDenied):
        run_report("reorder", {}, user=make_user("Sales"))


def test_queries_do_not_grow_with_the_number_of_lines(main, django_assert_max_num_queries):
    supplier = SupplierFactory()

    def add(count, start):
        for number in range(start, start + count):
            item = product(f"P{number:03d}")
            prefer(item, supplier)
            stock_level(item, main, on_hand=2, reorder_point=5)
            purchase_order(supplier, main, [(item, 1)])
            ship(item, main, 1)

    add(2, 0)
    with django_assert_max_num_queries(8) as few:
        assert len(rows()) == 2
    add(30, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(rows()) == 32
