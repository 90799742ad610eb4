"""The ``stock-movements`` report: the ledger for a period with each level's running balance."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import MovementKind
from inventory.services import StockLine, stock_issue, stock_receive
from reports.registry import ReportParamError, run_report
from tests.factories import ProductFactory, WarehouseFactory
from tests.reports.order_builders import (
    at,
    export_queries,
    first_page_queries,
    local,
    may_run_reports,
    read_csv,
    read_json,
    read_xlsx,
)

NAME = "stock-movements"


@pytest.fixture
def ledger(db, settings):
    """Seven movements in MAIN and EAST over March and the first night of April 2026 (Berlin time)."""
    settings.TIME_ZONE = "Europe/Berlin"
    main = WarehouseFactory(code="MAIN")
    east = WarehouseFactory(code="EAST")
    chai = ProductFactory(sku="CHAI", name="Chai")
    chang = ProductFactory(sku="CHANG", name="Chang")

    def receive(product, warehouse, quantity, kind=MovementKind.RECEIPT, cost="9.00", reference="RC-1"):
        stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, quantity, Decimal(cost))], kind=kind, reference=reference
        )

    def issue(product, warehouse, quantity, kind=MovementKind.SHIPMENT, reference="SH-1"):
        stock_issue(lines=[StockLine(product.pk, warehouse.pk, quantity)], kind=kind, reference=reference)

    with at(local("2026-03-01 10:00")):
        receive(chai, main, 10, MovementKind.OPENING, reference="OPENING")
        receive(chang, main, 5, MovementKind.OPENING, reference="OPENING")
        receive(chai, east, 7, MovementKind.OPENING, reference="OPENING")
    with at(local("2026-03-02 09:00")):
        issue(chai, main, 3)
        receive(chai, main, 4, cost="11.50")
    with at(local("2026-03-31 23:30")):
        issue(chai, main, 1, MovementKind.ADJUSTMENT, reference="=HYPERLINK(1)")
    with at(local("2026-04-01 00:30")):  # 2026-03-31 22:30 UTC: April in Berlin
        receive(chang, main, 2, reference="RC-2")
    return {"main": main, "east": east, "chai": chai, "chang": chang}


def figures(result) -> list[tuple]:
    return [(r["sku"], r["warehouse"], r["kind"], r["quantity"], r["balance"]) for r in result.rows]


ALL = [
    ("CHAI", "MAIN", "Opening balance", 10, 10),
    ("CHANG", "MAIN", "Opening balance", 5, 5),
    ("CHAI", "EAST", "Opening balance", 7, 7),
    ("CHAI", "MAIN", "Shipment", -3, 7),
    ("CHAI", "MAIN", "Receipt", 4, 11),
    ("CHAI", "MAIN", "Adjustment", -1, 10),
    ("CHANG", "MAIN", "Receipt", 2, 7),
]


def test_whole_ledger_in_order_with_running_balance_per_level(ledger):
    result = run_report(NAME, {})
    assert figures(result) == ALL
    assert result.row_count == 7
    assert result.totals == {"quantity": 24}
    first = result.rows[0]
    assert first["product"] == "Chai"
    assert first["reference"] == "OPENING"
    assert first["unit_cost"] == Decimal("9.0000")
    assert first["date"] == local("2026-03-01 10:00")
    assert result.rows[4]["unit_cost"] == Decimal("11.5000")
    # The balance is the level's running on-hand: the last row of each level is its on-hand now.
    levels = {(lvl.product.sku, lvl.warehouse.code): lvl.on_hand for lvl in ledger["main"].stock_levels.all()}
    assert levels == {("CHAI", "MAIN"): 10, ("CHANG", "MAIN"): 7}


def test_dates_are_whole_local_days(ledger):
    result = run_report(NAME, {"date_from": "2026-03-02", "date_to": "2026-03-31"})
    assert figures(result) == ALL[3:6]  # 23:30 on the 31st is in; 00:30 on 1 April (22:30 UTC on the 31st) is out
    assert result.totals == {"quantity": 0}
    assert result.period == (dt.date(2026, 3, 2), dt.date(2026, 3, 31))

    april = run_report(NAME, {"date_from": "2026-04-01"})
    assert figures(april) == ALL[6:]
    only_first = run_report(NAME, {"date_to": "2026-03-01"})
    assert figures(only_first) == ALL[:3]


def test_relative_range_wins_over_dates(ledger):
    result = run_report(NAME, {"date_range": "last_month", "date_from": "2026-04-01"}, today=dt.date(2026, 4, 15))
    assert result.period == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert figures(result) == ALL[:6]
    assert result.filename("csv") == "stock-movements_2026-03.csv"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"product": "CHAI"}, [ALL[0], ALL[2], ALL[3], ALL[4], ALL[5]]),
        ({"warehouse": "EAST"}, [ALL[2]]),
        ({"kind": "opening"}, ALL[:3]),
        ({"kind": "receipt", "product": "CHANG"}, [ALL[6]]),
        ({"product": "CHAI", "warehouse": "MAIN", "date_from": "2026-03-02"}, ALL[3:6]),
    ],
)
def test_each_parameter_filters(ledger, params, expected):
    result = run_report(NAME, params)
    assert figures(result) == expected
    assert result.totals == {"quantity": sum(row[3] for row in expected)}


def test_empty_result(ledger):
    result = run_report(NAME, {"date_from": "2027-01-01"})
    assert result.row_count == 0
    assert list(result.rows) == []
    assert result.totals == {"quantity": 0}
    rows = read_csv(result)  # the header and the totals row only
    assert len(rows) == 1
    assert (rows[0]["date"], rows[0]["sku"], rows[0]["quantity"]) == ("", "Total", "0")
    [totals] = read_json(result)
    assert (totals["sku"], totals["quantity"], totals["balance"]) == ("Total", 0, None)


@pytest.mark.parametrize(
    "params",
    [
        {"product": "NOPE"},
        {"warehouse": "NOPE"},
        {"kind": "theft"},
        {"date_from": "31/03/2026"},
        {"date_from": "2026-04-01", "date_to": "2026-03-01"},
        {"date_range": "last_decade"},
    ],
)
def test_bad_parameters_are_refused(ledger, params):
    with pytest.raises(ReportParamError) as error:
        run_report(NAME, params)
    assert set(error.value.errors) & set(params)


def test_unknown_parameter_is_refused_when_strict(ledger):
    with pytest.raises(ReportParamError) as error:
        run_report(NAME, {"sku": "CHAI"}, strict=True)
    assert "sku" in error.value.errors


def test_warehouse_user_gets_only_their_warehouses(ledger, make_user):
    user = may_run_reports(make_user("Warehouse"))
    ledger["east"].staff.add(user)
    result = run_report(NAME, {}, user=user)
    assert figures(result) == [ALL[2]]
    assert result.totals == {"quantity": 7}
    assert [row["sku"] for row in read_csv(result)] == ["CHAI", "Total"]  # the row and the totals row
    # Another warehouse's code is refused, not shown.
    with pytest.raises(ReportParamError):
        run_report(NAME, {"warehouse": "MAIN"}, user=user)
    manager = may_run_reports(make_user("Manager"))
    assert run_report(NAME, {}, user=manager).row_count == 7


def test_exports_hold_the_same_numbers(ledger):
    result = run_report(NAME, {"product": "CHAI"})
    expected = [(row["sku"], row["kind"], row["quantity"], row["balance"]) for row in result.rows]

    csv_rows = read_csv(result)
    assert [(r["sku"], r["kind"], int(r["quantity"]), int(r["balance"])) for r in csv_rows[:-1]] == expected
    assert csv_rows[-1]["sku"] == "Total" and csv_rows[-1]["quantity"] == "17"
    adjustment = next(r for r in csv_rows if r["kind"] == "Adjustment")
    assert adjustment["reference"] == "'=HYPERLINK(1)"  # neutralised
    assert adjustment["date"] == "2026-03-31 23:30:00"  # local time

    header, data = read_xlsx(result)
    assert header[:8] == ["date", "sku", "product", "warehouse", "kind", "reference", "quantity", "balance"]
    assert [(r[1], r[4], r[6], r[7]) for r in data[:-1]] == expected
    assert data[-1][1] == "Total" and data[-1][6] == 17
    assert data[0][0] == dt.datetime(2026, 3, 1, 10, 0)  # a real date-time cell, local

    json_rows = read_json(result)
    assert [(r["sku"], r["kind"], r["quantity"], r["balance"]) for r in json_rows[:-1]] == expected
    assert json_rows[-1]["quantity"] == 17
    assert json_rows[0]["unit_cost"] == 9


def test_queries_do_not_grow_with_rows(ledger):
    def run():
        return run_report(NAME, {"product": "CHAI"})

    few_page, few_csv = first_page_queries(run), export_queries(run(), "csv")
    chai, main = ledger["chai"], ledger["main"]
    for _ in range(30):
        stock_receive(lines=[StockLine(chai.pk, main.pk, 1, Decimal("9"))], reference="MORE")
    assert run().row_count == 35
    assert first_page_queries(run) == few_page
    assert export_queries(run(), "csv") == few_csv
    assert export_queries(run(), "xlsx") == few_csv


def test_admin_page_and_its_export_show_the_same_numbers(ledger, admin_client):
    url = reverse("reports:detail", args=[NAME])
    response = admin_client.get(url, {"product": "CHAI", "warehouse": "MAIN"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<td") >= 4 * 11  # four movements of eleven columns
    assert 'name="product"' in page and ">CHANG<" not in page  # the SKU is typed, not picked from every product
    export = admin_client.get(url, {"product": "CHAI", "warehouse": "MAIN", "format": "csv"})
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    buffer = io.BytesIO()
    run_report(NAME, {"product": "CHAI", "warehouse": "MAIN"}).write("csv", buffer)
    assert text == buffer.getvalue().decode("utf-8-sig")
    assert [line.split(",")[6:8] for line in text.splitlines()[1:]] == [
        ["10", "10"], ["-3", "7"], ["4", "11"], ["-1", "10"], ["10", ""]
    ]  # fmt: skip
