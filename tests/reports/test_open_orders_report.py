"""The ``open-orders`` report: confirmed sales orders not fully shipped, with their quantities and lateness."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders.models import SalesOrderStatus
from orders.services.sales import sales_order_cancel
from reports.registry import ReportParamError, ReportPermissionDenied, run_report
from tests.factories import CustomerFactory, ProductFactory, WarehouseFactory
from tests.reports.order_builders import (
    export_queries,
    first_page_queries,
    may_run_reports,
    order,
    read_csv,
    read_json,
    read_xlsx,
    ship,
)

NAME = "open-orders"
TODAY = dt.date(2026, 5, 20)


@pytest.fixture
def orders(db):
    main, east = WarehouseFactory(code="MAIN"), WarehouseFactory(code="EAST")
    alfki = CustomerFactory(code="ALFKI", name="Alfreds Futterkiste")
    bonap = CustomerFactory(code="BONAP", name="Bon app'")
    zero = {"tax_rate": Decimal("0")}
    a = ProductFactory(sku="A", sale_price=Decimal("10.00"), **zero)
    b = ProductFactory(sku="B", sale_price=Decimal("2.50"), **zero)
    c = ProductFactory(sku="C", sale_price=Decimal("7.00"), **zero)
    stock_receive(
        lines=[StockLine(a.pk, main.pk, 10), StockLine(b.pk, main.pk, 2), StockLine(c.pk, east.pk, 5)],
        kind=MovementKind.OPENING,
    )
    # SO1: A×4 reserved and shipped, B×5 with 2 reserved and 3 backordered; required 10 May: late.
    so1 = order(alfki, main, [(a, 4), (b, 5)], ordered="2026-05-01", required="2026-05-10")
    ship(so1, [(so1.lines.get(product=a), 4)])
    # SO2: A×3 reserved, required in June.
    so2 = order(bonap, main, [(a, 3)], ordered="2026-05-15", required="2026-06-01")
    # SO3: C×2 in EAST, no required date.
    so3 = order(alfki, east, [(c, 2)], ordered="2026-05-18")
    # Not open: a draft, a fully shipped order, a cancelled one.
    order(alfki, main, [(a, 1)], confirm=False)
    shipped = order(bonap, main, [(a, 1)], ordered="2026-04-01", required="2026-04-02")
    ship(shipped)
    cancelled = order(bonap, main, [(a, 1)], ordered="2026-04-01", required="2026-04-02")
    sales_order_cancel(order=cancelled, user=None)
    assert shipped.status == SalesOrderStatus.SHIPPED
    return {"main": main, "east": east, "so1": so1, "so2": so2, "so3": so3}


COLUMNS = (
    "order",
    "customer",
    "warehouse",
    "status",
    "days_open",
    "late",
    "ordered",
    "reserved",
    "backordered",
    "shipped",
)


def figures(result) -> list[tuple]:
    return [tuple(row[name] for name in COLUMNS) for row in result.rows]


def expected(orders):
    so1, so2, so3 = orders["so1"].number, orders["so2"].number, orders["so3"].number
    return [
        (so1, "ALFKI", "MAIN", "Partially shipped", 19, True, 9, 2, 3, 4),
        (so2, "BONAP", "MAIN", "Confirmed", 5, False, 3, 3, 0, 0),
        (so3, "ALFKI", "EAST", "Confirmed", 2, False, 2, 2, 0, 0),
    ]


def test_open_orders_with_hand_computed_figures(orders):
    result = run_report(NAME, {}, today=TODAY)
    assert figures(result) == expected(orders)
    first = result.rows[0]
    assert first["order_date"] == dt.date(2026, 5, 1)
    assert first["required_date"] == dt.date(2026, 5, 10)
    assert first["customer_name"] == "Alfreds Futterkiste"
    assert first["total_amount"] == Decimal("52.50")
    assert result.rows[2]["required_date"] is None
    assert result.totals == {
        "ordered": 14,
        "reserved": 7,
        "backordered": 3,
        "shipped": 4,
        "total_amount": Decimal("96.50"),
    }
    assert result.row_count == 3


def test_late_is_relative_to_today(orders):
    later = run_report(NAME, {}, today=dt.date(2026, 6, 2))
    assert [row["late"] for row in later.rows] == [True, True, False]
    assert [row["days_open"] for row in later.rows] == [32, 18, 15]


@pytest.mark.parametrize(
    ("params", "indexes"),
    [
        ({"warehouse": "MAIN"}, [0, 1]),
        ({"warehouse": "EAST"}, [2]),
        ({"customer": "ALFKI"}, [0, 2]),
        ({"customer": "BONAP", "warehouse": "MAIN"}, [1]),
        ({"late": "true"}, [0]),
        ({"late": "false"}, [1, 2]),
        ({"late": ""}, [0, 1, 2]),
    ],
)
def test_each_parameter_filters(orders, params, indexes):
    result = run_report(NAME, params, today=TODAY)
    rows = expected(orders)
    assert figures(result) == [rows[i] for i in indexes]
    assert result.totals["ordered"] == sum(rows[i][6] for i in indexes)
    assert result.totals["backordered"] == sum(rows[i][8] for i in indexes)


def test_empty_result(orders):
    result = run_report(NAME, {"customer": "BONAP", "warehouse": "EAST"}, today=TODAY)
    assert result.row_count == 0
    assert list(result.rows) == []
    assert result.totals == {"ordered": 0, "reserved": 0, "backordered": 0, "shipped": 0, "total_amount": 0}
    assert [row["order"] for row in read_csv(result)] == ["Total"]


@pytest.mark.parametrize("params", [{"warehouse": "NOPE"}, {"customer": "NOPE"}, {"late": "maybe"}, {"late": "1"}])
def test_bad_parameters_are_refused(orders, params):
    with pytest.raises(ReportParamError) as error:
        run_report(NAME, params, today=TODAY)
    assert set(error.value.errors) == set(params)


def test_dates_are_not_parameters(orders):
    with pytest.raises(ReportParamError):
        run_report(NAME, {"date_from": "2026-05-01"}, strict=True)


def test_scoping_and_permissions(orders, make_user):
    user = may_run_reports(make_user("Warehouse"))
    orders["east"].staff.add(user)
    result = run_report(NAME, {}, user=user, today=TODAY)
    assert figures(result) == expected(orders)[2:]
    assert result.totals["ordered"] == 2
    assert result.totals["total_amount"] == Decimal("14.00")
    assert [row["order"] for row in read_csv(result)] == [orders["so3"].number, "Total"]
    with pytest.raises(ReportParamError):
        run_report(NAME, {"warehouse": "MAIN"}, user=user, today=TODAY)
    # Purchasing may not see sales orders: the report is not theirs.
    with pytest.raises(ReportPermissionDenied):
        run_report(NAME, {}, user=may_run_reports(make_user("Purchasing")))


def test_exports_hold_the_same_numbers(orders):
    result = run_report(NAME, {}, today=TODAY)
    rows = expected(orders)

    csv_rows = read_csv(result)
    assert [(r["order"], int(r["backordered"]), r["late"], r["required_date"]) for r in csv_rows[:-1]] == [
        (rows[0][0], 3, "yes", "2026-05-10"),
        (rows[1][0], 0, "no", "2026-06-01"),
        (rows[2][0], 0, "no", ""),
    ]
    assert (csv_rows[-1]["order"], csv_rows[-1]["ordered"], csv_rows[-1]["total_amount"]) == ("Total", "14", "96.50")

    header, data = read_xlsx(result)
    assert header[0] == "order" and header[-1] == "total_amount"
    index = {name: header.index(name) for name in ("ordered", "total_amount")}
    assert [r[index["ordered"]] for r in data] == [9, 3, 2, 14]
    assert [r[index["total_amount"]] for r in data] == [52.5, 30, 14, 96.5]
    assert data[0][1] == dt.datetime(2026, 5, 1)  # a date cell
    assert data[0][header.index("late")] is True

    json_rows = read_json(result)
    assert [(r["order"], r["reserved"], r["days_open"], r["late"]) for r in json_rows[:-1]] == [
        (row[0], row[7], row[4], row[5]) for row in rows
    ]
    assert json_rows[-1]["total_amount"] == 96.5


def test_queries_do_not_grow_with_rows(orders):
    def run():
        return run_report(NAME, {}, today=TODAY)

    few_page, few_csv = first_page_queries(run), export_queries(run(), "csv")
    customer = orders["so2"].customer
    product = orders["so2"].lines.get().product
    for _ in range(5):
        order(customer, orders["main"], [(product, 1)], ordered="2026-05-19")
    more = run()
    assert more.row_count == 8
    assert more.totals["backordered"] == 3 + 5 - 2  # A: 10 on hand, 4 shipped + 3 + 1 + 2 reserved: 2 more fit
    assert first_page_queries(run) == few_page
    assert export_queries(run(), "csv") == few_csv


def test_admin_page_and_its_export_show_the_same_numbers(orders, admin_client):
    url = reverse("reports:detail", args=[NAME])
    response = admin_client.get(url, {"warehouse": "MAIN"})
    assert response.status_code == 200
    page = response.content.decode()
    assert orders["so1"].number in page and orders["so2"].number in page and orders["so3"].number not in page
    assert "52.50" in page and "82.50" in page  # SO1's total and the totals row (52.50 + 30.00)
    export = admin_client.get(url, {"warehouse": "MAIN", "format": "json"})
    assert export.status_code == 200
    rows = json.loads(b"".join(export.streaming_content))
    assert [(r["order"], r["ordered"], r["backordered"]) for r in rows] == [
        (orders["so1"].number, 9, 3), (orders["so2"].number, 3, 0), ("Total", 12, 3)
    ]  # fmt: skip
