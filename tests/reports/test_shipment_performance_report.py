"""The ``shipment-performance`` report: shipments by carrier × month, on-time % and days to ship."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders.services.shipping import shipment_create
from reports.registry import ReportParamError, ReportPermissionDenied, run_report
from tests.factories import CarrierFactory, CustomerFactory, ProductFactory, WarehouseFactory
from tests.reports.order_builders import (
    at,
    export_queries,
    first_page_queries,
    local,
    may_run_reports,
    order,
    read_csv,
    read_json,
    read_xlsx,
    ship,
)

NAME = "shipment-performance"
D = Decimal


@pytest.fixture
def shipments(db, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    main, east = WarehouseFactory(code="MAIN"), WarehouseFactory(code="EAST")
    dhl, ups = CarrierFactory(name="DHL"), CarrierFactory(name="UPS")
    customer = CustomerFactory()
    product = ProductFactory(sku="A")
    stock_receive(
        lines=[StockLine(product.pk, main.pk, 100), StockLine(product.pk, east.pk, 100)], kind=MovementKind.OPENING
    )

    def shipped(carrier, warehouse, ordered, required, when, quantity=1):
        so = order(customer, warehouse, [(product, quantity)], ordered=ordered, required=required)
        with at(local(when)):
            return ship(so, carrier=carrier)

    # DHL, March: on time (3 days); late by local date: 00:30 on the 6th in Berlin is the 5th in UTC (4 days).
    shipped(dhl, main, "2026-03-01", "2026-03-05", "2026-03-04 10:00")
    shipped(dhl, main, "2026-03-02", "2026-03-05", "2026-03-06 00:30")
    # DHL, April (Berlin; still 31 March in UTC): no required date, neither on time nor late (12 days).
    shipped(dhl, main, "2026-03-20", None, "2026-04-01 00:30")
    # UPS, March, from EAST: one order in two shipments, the first on time (2 days), the second late (15 days).
    so = order(customer, east, [(product, 2)], ordered="2026-03-10", required="2026-03-20")
    line = so.lines.get()
    with at(local("2026-03-12 08:00")):
        ship(so, [(line, 1)], carrier=ups)
    with at(local("2026-03-25 08:00")):
        ship(so, [(line, 1)], carrier=ups)
    # No carrier, March: late (5 days).
    shipped(None, main, "2026-03-10", "2026-03-11", "2026-03-15 12:00")
    # Not counted: a shipment that has not left.
    waiting = order(customer, main, [(product, 1)], ordered="2026-03-01", required="2026-03-02")
    shipment_create(sales_order=waiting, user=None, carrier=dhl)
    return {"main": main, "east": east}


COLUMNS = ("carrier", "month", "shipments", "on_time", "late", "on_time_percent", "avg_days_to_ship")
DHL_MARCH = ("DHL", "2026-03", 2, 1, 1, D("50.00"), D("3.5"))
DHL_APRIL = ("DHL", "2026-04", 1, 0, 0, None, D("12.0"))
UPS_MARCH = ("UPS", "2026-03", 2, 1, 1, D("50.00"), D("8.5"))
NONE_MARCH = ("(no carrier)", "2026-03", 1, 0, 1, D("0.00"), D("5.0"))
ALL = [DHL_MARCH, DHL_APRIL, UPS_MARCH, NONE_MARCH]


def figures(result) -> list[tuple]:
    return [tuple(row[name] for name in COLUMNS) for row in result.rows]


def test_by_carrier_and_month(shipments):
    result = run_report(NAME, {})
    assert figures(result) == ALL
    # 2 on time of 5 with a required date; (3 + 4 + 12 + 2 + 15 + 5) / 6 days.
    assert result.totals == {
        "shipments": 6,
        "on_time": 2,
        "late": 3,
        "on_time_percent": D("40.00"),
        "avg_days_to_ship": D("6.8"),
    }
    assert result.row_count == 4


def test_chart_is_on_time_percent_by_carrier_over_the_period(shipments):
    chart = run_report(NAME, {}).chart_data()
    assert chart == {
        "labels": ["DHL", "UPS", "(no carrier)"],
        "datasets": [{"label": "On time %", "data": [50.0, 50.0, 0.0]}],
    }
    march = run_report(NAME, {"date_from": "2026-03-05", "date_to": "2026-03-31"}).chart_data()
    assert march["labels"] == ["DHL", "UPS", "(no carrier)"]
    assert march["datasets"][0]["data"] == [0.0, 50.0, 0.0]


@pytest.mark.parametrize(
    ("params", "rows"),
    [
        ({"date_to": "2026-03-31"}, [DHL_MARCH, UPS_MARCH, NONE_MARCH]),  # 00:30 on 1 April (Berlin) is out
        ({"date_from": "2026-04-01"}, [DHL_APRIL]),
        ({"date_from": "2026-03-06", "date_to": "2026-03-06"}, [("DHL", "2026-03", 1, 0, 1, D("0.00"), D("4.0"))]),
        (
            {"date_range": "last_month"},  # seen from 15 April: March
            [DHL_MARCH, UPS_MARCH, NONE_MARCH],
        ),
    ],
)
def test_period_parameters(shipments, params, rows):
    result = run_report(NAME, params, today=dt.date(2026, 4, 15))
    assert figures(result) == rows
    assert result.totals["shipments"] == sum(row[2] for row in rows)
    assert result.totals["late"] == sum(row[4] for row in rows)


def test_empty_result(shipments):
    result = run_report(NAME, {"date_from": "2026-05-01"})
    assert result.row_count == 0 and list(result.rows) == []
    assert result.totals == {
        "shipments": 0,
        "on_time": 0,
        "late": 0,
        "on_time_percent": None,
        "avg_days_to_ship": None,
    }
    assert result.chart_data()["labels"] == []
    [totals] = read_json(result)
    assert (totals["carrier"], totals["shipments"], totals["on_time_percent"]) == ("Total", 0, None)


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2026-13-01"},
        {"date_to": "soon"},
        {"date_from": "2026-04-02", "date_to": "2026-04-01"},
        {"date_range": "fortnight"},
    ],
)
def test_bad_parameters_are_refused(shipments, params):
    with pytest.raises(ReportParamError) as error:
        run_report(NAME, params)
    assert set(error.value.errors) & set(params)


def test_unknown_parameter_is_refused_when_strict(shipments):
    with pytest.raises(ReportParamError) as error:
        run_report(NAME, {"carrier": "DHL"}, strict=True)
    assert list(error.value.errors) == ["carrier"]


def test_scoping_and_permissions(shipments, make_user):
    user = may_run_reports(make_user("Warehouse"))
    shipments["east"].staff.add(user)
    result = run_report(NAME, {}, user=user)
    assert figures(result) == [UPS_MARCH]
    assert result.totals["shipments"] == 2
    assert result.chart_data()["labels"] == ["UPS"]
    assert [row["carrier"] for row in read_csv(result)] == ["UPS", "Total"]
    assert run_report(NAME, {}, user=may_run_reports(make_user("Viewer"))).row_count == 4
    with pytest.raises(ReportPermissionDenied):
        run_report(NAME, {}, user=may_run_reports(make_user("Purchasing")))


def test_exports_hold_the_same_numbers(shipments):
    result = run_report(NAME, {})

    def parse(values):
        carrier, month, count, on_time, late, percent, days = values
        return (
            carrier,
            month,
            int(count),
            int(on_time),
            int(late),
            None if percent in ("", None) else D(str(percent)).quantize(D("0.01")),
            D(str(days)).quantize(D("0.1")),
        )

    csv_rows = read_csv(result)
    assert [parse([r[name] for name in COLUMNS]) for r in csv_rows[:-1]] == ALL
    assert csv_rows[-1]["carrier"] == "Total"
    assert (csv_rows[-1]["on_time_percent"], csv_rows[-1]["avg_days_to_ship"]) == ("40.00", "6.8")

    header, data = read_xlsx(result)
    assert header == list(COLUMNS)
    assert [parse(row) for row in data[:-1]] == ALL
    assert data[-1][2:] == [6, 2, 3, 40, 6.8]
    assert isinstance(data[0][5], float | int)  # a number cell, shown as a percent

    json_rows = read_json(result)
    assert [parse([r[name] for name in COLUMNS]) for r in json_rows[:-1]] == ALL
    assert json_rows[-1]["on_time_percent"] == 40


def test_queries_do_not_grow_with_rows(shipments):
    def run():
        return run_report(NAME, {})

    few_page, few_csv = first_page_queries(run), export_queries(run(), "csv")
    customer = CustomerFactory()
    product = ProductFactory()
    stock_receive(lines=[StockLine(product.pk, shipments["main"].pk, 20)])
    for index in range(5):
        carrier = CarrierFactory(name=f"Carrier {index}")
        so = order(customer, shipments["main"], [(product, 1)], ordered="2026-02-01", required="2026-02-10")
        with at(local(f"2026-02-0{index + 2} 10:00")):
            ship(so, carrier=carrier)
    assert run().row_count == 9
    assert first_page_queries(run) == few_page
    assert export_queries(run(), "csv") == few_csv


def test_admin_page_and_its_export_show_the_same_numbers(shipments, admin_client):
    url = reverse("reports:detail", args=[NAME])
    response = admin_client.get(url, {"date_to": "2026-03-31"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "DHL" in page and "UPS" in page and "(no carrier)" in page
    assert "50.00 %" in page and "40.00 %" in page  # DHL in March; the period: 2 on time of 5
    assert "<canvas" in page  # on-time % by carrier
    export = admin_client.get(url, {"date_to": "2026-03-31", "format": "csv"})
    lines = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[1:] == [
        "DHL,2026-03,2,1,1,50.00,3.5",
        "UPS,2026-03,2,1,1,50.00,8.5",
        "(no carrier),2026-03,1,0,1,0.00,5.0",
        "Total,,5,2,3,40.00,5.8",  # (3 + 4 + 2 + 15 + 5) / 5 days
    ]
