"""The ``purchase-summary`` report: ordered, received and outstanding by supplier × month."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from orders.services.purchasing import (
    purchase_order_cancel,
    purchase_order_close,
    purchase_order_create,
    purchase_order_line_add,
    purchase_order_send,
)
from orders.services.receiving import receipt_create
from reports.registry import ReportParamError, ReportPermissionDenied, run_report
from tests.factories import ProductFactory, SupplierFactory, WarehouseFactory
from tests.reports.order_builders import (
    as_decimal,
    export_queries,
    first_page_queries,
    may_run_reports,
    read_csv,
    read_json,
    read_xlsx,
)

NAME = "purchase-summary"


def purchase(supplier, warehouse, ordered, lines, *, send=True, receive=()):
    po = purchase_order_create(
        supplier=supplier, warehouse=warehouse, user=None, order_date=dt.date.fromisoformat(ordered)
    )
    po_lines = [
        purchase_order_line_add(order=po, product=product, quantity=quantity, unit_cost=Decimal(cost), user=None)
        for product, quantity, cost in lines
    ]
    if send:
        purchase_order_send(order=po, user=None)
    if receive:
        receipt_create(purchase_order=po, lines=[(po_lines[i], q) for i, q in receive], user=None)
    po.refresh_from_db()
    return po


@pytest.fixture
def purchases(db):
    main, east = WarehouseFactory(code="MAIN"), WarehouseFactory(code="EAST")
    exo = SupplierFactory(code="EXO", name="Exotic Liquids")
    tok = SupplierFactory(code="TOK", name="Tokyo Traders")
    a, b = ProductFactory(sku="A"), ProductFactory(sku="B")
    # EXO, March: PO1 (MAIN) A×10 @ 2.50 with 6 received, B×4 @ 1.125; PO2 (EAST) A×5 @ 3.00 fully received.
    purchase(exo, main, "2026-03-05", [(a, 10, "2.50"), (b, 4, "1.125")], receive=[(0, 6)])
    purchase(exo, east, "2026-03-20", [(a, 5, "3.00")], receive=[(0, 5)])
    # EXO, April: PO3 B×8 @ 1.125, 3 received, then closed short: nothing outstanding.
    po3 = purchase(exo, main, "2026-04-02", [(b, 8, "1.125")], receive=[(0, 3)])
    purchase_order_close(order=po3, user=None, reason="Rest discontinued")
    # TOK, March: A×7 @ 2.00 sent, nothing received.
    purchase(tok, main, "2026-03-10", [(a, 7, "2.00")])
    # Not counted: a draft and a cancelled order.
    purchase(tok, main, "2026-03-11", [(a, 100, "2.00")], send=False)
    cancelled = purchase(tok, main, "2026-03-12", [(a, 100, "2.00")])
    purchase_order_cancel(order=cancelled, user=None)
    return {"main": main, "east": east}


COLUMNS = (
    "supplier",
    "month",
    "orders",
    "ordered_quantity",
    "received_quantity",
    "outstanding_quantity",
    "ordered_value",
    "received_value",
    "outstanding_value",
)
D = Decimal
EXO_MARCH = ("EXO", "2026-03", 2, 19, 11, 8, D("44.50"), D("30.00"), D("14.50"))
EXO_APRIL = ("EXO", "2026-04", 1, 8, 3, 0, D("9.00"), D("3.38"), D("0.00"))  # 3 × 1.125 = 3.375 → 3.38
TOK_MARCH = ("TOK", "2026-03", 1, 7, 0, 7, D("14.00"), D("0.00"), D("14.00"))


def figures(result) -> list[tuple]:
    return [tuple(row[name] for name in COLUMNS) for row in result.rows]


def total_of(rows) -> dict:
    return {name: sum(row[i] for row in rows) for i, name in enumerate(COLUMNS) if i >= 2}


def test_by_supplier_and_month(purchases):
    result = run_report(NAME, {})
    assert figures(result) == [EXO_MARCH, EXO_APRIL, TOK_MARCH]
    assert result.rows[0]["supplier_name"] == "Exotic Liquids"
    assert result.totals == {
        "orders": 4,
        "ordered_quantity": 34,
        "received_quantity": 14,
        "outstanding_quantity": 15,
        "ordered_value": D("67.50"),
        "received_value": D("33.38"),
        "outstanding_value": D("28.50"),
    }
    assert result.totals == total_of([EXO_MARCH, EXO_APRIL, TOK_MARCH])


def test_chart_is_value_by_month_over_all_suppliers(purchases):
    chart = run_report(NAME, {}).chart_data()
    assert chart["labels"] == ["2026-03", "2026-04"]
    assert [dataset["label"] for dataset in chart["datasets"]] == [
        "Ordered value",
        "Received value",
        "Outstanding value",
    ]
    assert [dataset["data"] for dataset in chart["datasets"]] == [[58.5, 9.0], [30.0, 3.38], [28.5, 0.0]]


@pytest.mark.parametrize(
    ("params", "rows"),
    [
        ({"supplier": "EXO"}, [EXO_MARCH, EXO_APRIL]),
        ({"supplier": "TOK"}, [TOK_MARCH]),
        ({"date_from": "2026-04-01"}, [EXO_APRIL]),
        ({"date_to": "2026-03-31"}, [EXO_MARCH, TOK_MARCH]),
        (
            {"date_from": "2026-03-06", "date_to": "2026-03-31", "supplier": "EXO"},
            [("EXO", "2026-03", 1, 5, 5, 0, D("15.00"), D("15.00"), D("0.00"))],
        ),
        ({"warehouse": "EAST"}, [("EXO", "2026-03", 1, 5, 5, 0, D("15.00"), D("15.00"), D("0.00"))]),
        (
            {"warehouse": "MAIN", "supplier": "EXO", "date_range": "last_month"},
            [("EXO", "2026-04", 1, 8, 3, 0, D("9.00"), D("3.38"), D("0.00"))],
        ),
    ],
)
def test_each_parameter_filters(purchases, params, rows):
    result = run_report(NAME, params, today=dt.date(2026, 5, 10))
    assert figures(result) == rows
    assert result.totals == total_of(rows)


def test_empty_result(purchases):
    result = run_report(NAME, {"date_from": "2026-06-01"})
    assert result.row_count == 0 and list(result.rows) == []
    assert result.totals == dict.fromkeys(COLUMNS[2:], 0)
    assert result.chart_data() == {
        "labels": [],
        "datasets": [
            {"label": "Ordered value", "data": []},
            {"label": "Received value", "data": []},
            {"label": "Outstanding value", "data": []},
        ],
    }
    assert [row["supplier"] for row in read_csv(result)] == ["Total"]


@pytest.mark.parametrize(
    "params",
    [
        {"supplier": "NOPE"},
        {"warehouse": "NOPE"},
        {"date_from": "yesterday"},
        {"date_from": "2026-05-01", "date_to": "2026-04-01"},
        {"date_range": "next_month"},
    ],
)
def test_bad_parameters_are_refused(purchases, params):
    with pytest.raises(ReportParamError) as error:
        run_report(NAME, params)
    assert set(error.value.errors) & set(params)


def test_scoping_and_permissions(purchases, make_user):
    user = may_run_reports(make_user("Warehouse"))
    purchases["east"].staff.add(user)
    result = run_report(NAME, {}, user=user)
    assert figures(result) == [("EXO", "2026-03", 1, 5, 5, 0, D("15.00"), D("15.00"), D("0.00"))]
    assert result.totals["ordered_value"] == D("15.00")
    assert result.chart_data()["labels"] == ["2026-03"]
    assert result.chart_data()["datasets"][0]["data"] == [15.0]
    assert [row["ordered_value"] for row in read_csv(result)] == ["15.00", "15.00"]
    # Sales may not see purchase orders, so not this report either.
    with pytest.raises(ReportPermissionDenied):
        run_report(NAME, {}, user=may_run_reports(make_user("Sales")))
    assert run_report(NAME, {}, user=may_run_reports(make_user("Purchasing"))).row_count == 3


def test_exports_hold_the_same_numbers(purchases):
    result = run_report(NAME, {})
    expected = [EXO_MARCH, EXO_APRIL, TOK_MARCH]

    csv_rows = read_csv(result)
    headers = COLUMNS
    parsed = [
        tuple(r[h] if i < 2 else (int(r[h]) if i < 6 else D(r[h])) for i, h in enumerate(headers)) for r in csv_rows
    ]
    assert parsed[:-1] == expected
    assert parsed[-1][0] == "Total" and parsed[-1][2:] == tuple(total_of(expected).values())
    assert csv_rows[1]["received_value"] == "3.38"

    header, data = read_xlsx(result)
    assert header == [*headers[:1], "supplier_name", *headers[1:]]
    xlsx = [(r[0], r[2], r[3], r[4], r[5], r[6], as_decimal(r[7]), as_decimal(r[8]), as_decimal(r[9])) for r in data]
    assert xlsx[:-1] == expected
    assert xlsx[-1][0] == "Total" and xlsx[-1][2:] == tuple(total_of(expected).values())

    json_rows = read_json(result)
    assert [tuple(r[name] if i < 6 else D(str(r[name])) for i, name in enumerate(COLUMNS)) for r in json_rows[:-1]] == [
        tuple(row) for row in expected
    ]
    assert json_rows[-1]["received_value"] == 33.38


def test_queries_do_not_grow_with_rows(purchases):
    def run():
        return run_report(NAME, {})

    few_page, few_csv = first_page_queries(run), export_queries(run(), "csv")
    supplier = SupplierFactory(code="NEW")
    product = ProductFactory()
    for month in range(1, 7):
        purchase(supplier, purchases["main"], f"2025-{month:02d}-15", [(product, 2, "1.00"), (product, 3, "1.00")])
    assert run().row_count == 9
    assert first_page_queries(run) == few_page
    assert export_queries(run(), "csv") == few_csv


def test_admin_page_and_its_export_show_the_same_numbers(purchases, admin_client):
    url = reverse("reports:detail", args=[NAME])
    response = admin_client.get(url, {"supplier": "EXO"})
    assert response.status_code == 200
    page = response.content.decode()
    assert ">Exotic Liquids<" in page and ">TOK<" not in page  # (TOK is still offered in the supplier filter)
    assert "44.50" in page and "3.38" in page and "53.50" in page  # March, April received, total ordered
    assert "<canvas" in page  # the chart
    export = admin_client.get(url, {"supplier": "EXO", "format": "xlsx"})
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(export.streaming_content)), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert [row[7] for row in rows[1:]] == [44.5, 9, 53.5]
