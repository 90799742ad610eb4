"""sales-summary: figures against the hand-computed world of ``report_data`` for every ``group_by``,
the filters, the relative ranges, empty results and agreement with the orders' own stored totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from orders.models import SalesOrder, SalesOrderLine, SalesOrderStatus
from reports.registry import ReportParamError, run_report
from tests.reports.report_data import EVIL_NAME, build_world

D = Decimal
FIGURES = ("orders", "units", "net_amount", "tax_amount", "shipping_amount", "total_amount")
GRAND_TOTAL = {
    "orders": 4,
    "units": 21,
    "net_amount": D("150.05"),
    "tax_amount": D("18.10"),
    "shipping_amount": D("7.50"),
    "total_amount": D("175.65"),
}


def figures(orders, units, net, tax, shipping, total):
    return {
        "orders": orders,
        "units": units,
        "net_amount": D(net),
        "tax_amount": D(tax),
        "shipping_amount": None if shipping is None else D(shipping),
        "total_amount": D(total),
    }


@pytest.fixture
def world(admin_user):
    return build_world(admin_user)


def table(result, key):
    return {row[key]: {name: row[name] for name in FIGURES} for row in result.rows}


EXPECTED = {
    "day": (
        "period",
        {
            dt.date(2026, 9, 30): figures(1, 6, "47.00", "6.70", "5.00", "58.70"),
            dt.date(2026, 10, 1): figures(1, 4, "18.05", "1.90", "0.00", "19.95"),
            dt.date(2026, 12, 31): figures(1, 10, "75.00", "7.50", "2.50", "85.00"),
            dt.date(2027, 1, 4): figures(1, 1, "10.00", "2.00", "0.00", "12.00"),
        },
    ),
    # 2026-09-30 (Wed) and 2026-10-01 (Thu) are one ISO week; 2026-12-31 is in week 53 of 2026.
    "week": (
        "period",
        {
            "2026-W40": figures(2, 10, "65.05", "8.60", "5.00", "78.65"),
            "2026-W53": figures(1, 10, "75.00", "7.50", "2.50", "85.00"),
            "2027-W01": figures(1, 1, "10.00", "2.00", "0.00", "12.00"),
        },
    ),
    "month": (
        "period",
        {
            "2026-09": figures(1, 6, "47.00", "6.70", "5.00", "58.70"),
            "2026-10": figures(1, 4, "18.05", "1.90", "0.00", "19.95"),
            "2026-12": figures(1, 10, "75.00", "7.50", "2.50", "85.00"),
            "2027-01": figures(1, 1, "10.00", "2.00", "0.00", "12.00"),
        },
    ),
    "quarter": (
        "period",
        {
            "2026-Q3": figures(1, 6, "47.00", "6.70", "5.00", "58.70"),
            "2026-Q4": figures(2, 14, "93.05", "9.40", "2.50", "104.95"),
            "2027-Q1": figures(1, 1, "10.00", "2.00", "0.00", "12.00"),
        },
    ),
    "year": (
        "period",
        {
            "2026": figures(3, 20, "140.05", "16.10", "7.50", "163.65"),
            "2027": figures(1, 1, "10.00", "2.00", "0.00", "12.00"),
        },
    ),
    "customer": (
        "customer",
        {
            "ALFKI": figures(3, 17, "132.00", "16.20", "7.50", "155.70"),
            "EVIL": figures(1, 4, "18.05", "1.90", "0.00", "19.95"),
        },
    ),
    "warehouse": (
        "warehouse",
        {
            "EAST": figures(2, 14, "93.05", "9.40", "2.50", "104.95"),
            "MAIN": figures(2, 7, "57.00", "8.70", "5.00", "70.70"),
        },
    ),
    # Lines: shipping belongs to whole orders, so product and category rows leave it empty.
    "product": (
        "product",
        {
            "COF": figures(2, 14, "102.00", "10.20", None, "112.20"),
            "TEA": figures(3, 4, "39.50", "7.90", None, "47.40"),
            "BRD": figures(1, 3, "8.55", "0.00", None, "8.55"),
        },
    ),
    "category": (
        "category",
        {
            "Drinks": figures(4, 18, "141.50", "18.10", None, "159.60"),
            "Food": figures(1, 3, "8.55", "0.00", None, "8.55"),
        },
    ),
}


@pytest.mark.parametrize("group_by", list(EXPECTED))
def test_every_group_by_against_hand_computed_figures(world, group_by):
    key, expected = EXPECTED[group_by]
    result = run_report("sales-summary", {"group_by": group_by})
    assert table(result, key) == expected
    assert [row[key] for row in result.rows] == list(expected)  # in this order
    assert result.totals == GRAND_TOTAL
    assert [column.name for column in result.columns][-6:] == list(FIGURES)
    assert result.columns[0].name == key


def test_default_grouping_is_by_month(world):
    assert [row["period"] for row in run_report("sales-summary", {}).rows] == [
        "2026-09",
        "2026-10",
        "2026-12",
        "2027-01",
    ]


def test_group_names_are_shown_next_to_codes(world):
    customers = {
        row["customer"]: row["customer_name"] for row in run_report("sales-summary", {"group_by": "customer"}).rows
    }
    assert customers == {"ALFKI": "Alfreds Futterkiste", "EVIL": EVIL_NAME}
    products = {
        row["product"]: row["product_name"] for row in run_report("sales-summary", {"group_by": "product"}).rows
    }
    assert products == {"COF": "Coffee", "TEA": "Tea", "BRD": "Bread"}


def test_the_report_adds_up_exactly_what_the_saved_orders_show(world):
    counted = SalesOrder.objects.exclude(status__in=[SalesOrderStatus.DRAFT, SalesOrderStatus.CANCELLED])
    stored = counted.aggregate(
        net=Sum("subtotal"), tax=Sum("tax_total"), shipping=Sum("shipping_charge"), total=Sum("total")
    )
    lines = SalesOrderLine.objects.filter(order__in=counted).aggregate(net=Sum("net_amount"), units=Sum("quantity"))
    for group_by in EXPECTED:
        totals = run_report("sales-summary", {"group_by": group_by}).totals
        assert totals["net_amount"] == stored["net"] == lines["net"]
        assert totals["tax_amount"] == stored["tax"]
        assert totals["shipping_amount"] == stored["shipping"]
        assert totals["total_amount"] == stored["total"]
        assert totals["units"] == lines["units"]
    # Per order, too: each order's own stored totals are its row by day.
    by_day = {row["period"]: row for row in run_report("sales-summary", {"group_by": "day"}).rows}
    for order in counted:
        row = by_day[order.order_date]
        assert (row["net_amount"], row["tax_amount"], row["total_amount"]) == (
            order.subtotal,
            order.tax_total,
            order.total,
        )


@pytest.mark.parametrize("group_by", ["day", "month", "customer", "warehouse"])
def test_order_level_rows_add_up_to_the_totals_row(world, group_by):
    result = run_report("sales-summary", {"group_by": group_by})
    for name in FIGURES:
        assert sum(row[name] for row in result.rows) == result.totals[name]


def test_filters_warehouse_customer_and_inclusive_dates(world):
    main = run_report("sales-summary", {"warehouse": "MAIN", "group_by": "year"})
    assert table(main, "period") == {
        "2026": figures(1, 6, "47.00", "6.70", "5.00", "58.70"),
        "2027": figures(1, 1, "10.00", "2.00", "0.00", "12.00"),
    }
    evil = run_report("sales-summary", {"customer": "EVIL", "group_by": "year"})
    assert evil.totals == figures(1, 4, "18.05", "1.90", "0.00", "19.95")
    both_ends = run_report("sales-summary", {"date_from": "2026-09-30", "date_to": "2026-10-01"})
    assert both_ends.totals["orders"] == 2
    assert both_ends.period == (dt.date(2026, 9, 30), dt.date(2026, 10, 1))


def test_a_relative_range_wins_over_the_dates(world):
    result = run_report(
        "sales-summary",
        {"date_range": "last_month", "date_from": "2020-01-01", "date_to": "2030-01-01"},
        today=dt.date(2026, 11, 15),
    )
    assert result.period == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert table(result, "period") == {"2026-10": figures(1, 4, "18.05", "1.90", "0.00", "19.95")}
    assert result.filename("xlsx") == "sales-summary_2026-10.xlsx"
    quarter = run_report("sales-summary", {"date_range": "last_quarter"}, today=dt.date(2027, 1, 1))
    assert quarter.totals["orders"] == 2 and quarter.filename("csv") == "sales-summary_2026-10-01_to_2026-12-31.csv"
    year = run_report("sales-summary", {"date_range": "last_year"}, today=dt.date(2027, 2, 1))
    assert year.totals["net_amount"] == D("140.05") and year.filename("json") == "sales-summary_2026.json"


def test_empty_selection_has_zero_totals(world):
    result = run_report("sales-summary", {"date_from": "2030-01-01"})
    assert result.row_count == 0 and list(result.rows) == []
    assert result.totals == figures(0, 0, "0", "0", "0", "0")


@pytest.mark.django_db
def test_no_orders_at_all():
    result = run_report("sales-summary", {"group_by": "product"})
    assert result.row_count == 0 and result.totals["orders"] == 0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"group_by": "fortnight"}, "group_by"),
        ({"date_from": "yesterdayish"}, "date_from"),
        ({"date_range": "last_decade"}, "date_range"),
        ({"warehouse": "NOWHERE"}, "warehouse"),
        ({"customer": "NOBODY"}, "customer"),
        ({"date_from": "2026-10-02", "date_to": "2026-10-01"}, "date_to"),
    ],
)
def test_bad_parameters_name_the_parameter(world, params, field):
    with pytest.raises(ReportParamError) as refused:
        run_report("sales-summary", params)
    assert field in refused.value.errors


def test_charts_time_as_a_line_groups_as_bars(world):
    by_month = run_report("sales-summary", {"group_by": "month"})
    assert by_month.chart.type == "line"
    data = by_month.chart_data()
    assert data["labels"] == ["2026-09", "2026-10", "2026-12", "2027-01"]
    assert data["datasets"][0]["data"] == [47.0, 18.05, 75.0, 10.0]
    by_product = run_report("sales-summary", {"group_by": "product"})
    assert by_product.chart.type == "bar"
    assert by_product.chart_data()["labels"] == ["Coffee", "Tea", "Bread"]
