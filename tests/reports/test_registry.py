"""The registry and the relative date ranges: names, errors, permissions, periods and file names."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.dates import RELATIVE_RANGES, UnknownRange, resolve_range
from reports.registry import (
    ReportParamError,
    ReportPermissionDenied,
    UnknownReport,
    all_reports,
    get_report,
    reports_for,
    run_report,
)

D = dt.date
ISSUE_REPORTS = {
    "sales-summary",
    "reorder",
    "stock-on-hand",
    "stock-valuation",
    "stock-movements",
    "open-orders",
    "purchase-summary",
    "shipment-performance",
}


def test_the_issue_reports_are_registered_with_a_title_and_description():
    reports = {report.name: report for report in all_reports()}
    assert set(reports) >= ISSUE_REPORTS
    for report in reports.values():
        assert report.title and report.description and "\n" not in report.description


def test_unknown_report_names_the_known_ones():
    with pytest.raises(UnknownReport) as unknown:
        get_report("sales")
    assert "sales-summary" in str(unknown.value)


@pytest.mark.django_db
def test_strict_refuses_unknown_parameters_lenient_ignores_them():
    with pytest.raises(ReportParamError) as refused:
        run_report("stock-on-hand", {"colour": "red"}, strict=True)
    assert refused.value.errors == {"colour": ["Unknown parameter."]}
    assert "colour" in str(refused.value) and "\n" not in str(refused.value)
    assert run_report("stock-on-hand", {"colour": "red", "page": "2"}).row_count == 0
    assert run_report("stock-on-hand", {"page": "2", "format": "csv"}, strict=True).row_count == 0


@pytest.mark.django_db
def test_permissions(make_user):
    viewer, nobody, sales = make_user("Viewer"), make_user(None, username="norole"), make_user("Sales")
    assert {"sales-summary", "stock-on-hand", "stock-valuation"} <= {r.name for r in reports_for(viewer)}
    assert reports_for(nobody) == []
    with pytest.raises(ReportPermissionDenied):
        run_report("sales-summary", {}, user=nobody)
    assert run_report("sales-summary", {}, user=viewer).row_count == 0
    # Sales may run the sales and stock reports (they view orders and stock levels).
    assert {"sales-summary", "stock-on-hand"} <= {r.name for r in reports_for(sales)}


@pytest.mark.django_db
def test_period_labels_in_file_names():
    def name(params):
        return run_report("sales-summary", params, today=D(2026, 11, 15)).filename("xlsx")

    assert name({"date_range": "last_month"}) == "sales-summary_2026-10.xlsx"
    assert name({"date_range": "yesterday"}) == "sales-summary_2026-11-14.xlsx"
    assert name({"date_range": "last_year"}) == "sales-summary_2025.xlsx"
    assert name({"date_range": "last_week"}) == "sales-summary_2026-11-02_to_2026-11-08.xlsx"
    assert name({"date_from": "2026-02-01", "date_to": "2026-02-28"}) == "sales-summary_2026-02.xlsx"
    assert name({"date_from": "2026-02-01"}) == "sales-summary_from_2026-02-01.xlsx"
    assert name({}) == "sales-summary_2026-11-15.xlsx"  # no period: the day it was run
    assert run_report("stock-on-hand", {}, today=D(2026, 11, 15)).filename("csv") == "stock-on-hand_2026-11-15.csv"


@pytest.mark.django_db
def test_totals_row_says_total_in_the_first_column_without_a_total():
    by_day = run_report("sales-summary", {"group_by": "day"})
    assert by_day.totals_row()["period"] == "Total"  # a date column: written as text
    by_customer = run_report("sales-summary", {"group_by": "customer"})
    assert by_customer.totals_row()["customer"] == "Total" and by_customer.totals_row()["customer_name"] is None


# ---------------------------------------------------------------- relative ranges around period ends

CASES = [
    # today, range, (first, last)
    (D(2026, 3, 1), "yesterday", (D(2026, 2, 28), D(2026, 2, 28))),
    (D(2028, 3, 1), "yesterday", (D(2028, 2, 29), D(2028, 2, 29))),  # leap year
    (D(2026, 1, 1), "yesterday", (D(2025, 12, 31), D(2025, 12, 31))),
    (D(2026, 1, 3), "last_7_days", (D(2025, 12, 28), D(2026, 1, 3))),
    (D(2026, 1, 1), "last_week", (D(2025, 12, 22), D(2025, 12, 28))),  # a Thursday
    (D(2026, 1, 5), "last_week", (D(2025, 12, 29), D(2026, 1, 4))),  # a Monday: the whole week before
    (D(2026, 1, 4), "last_week", (D(2025, 12, 22), D(2025, 12, 28))),  # a Sunday: not the week it ends
    (D(2026, 3, 31), "last_month", (D(2026, 2, 1), D(2026, 2, 28))),
    (D(2026, 1, 15), "last_month", (D(2025, 12, 1), D(2025, 12, 31))),
    (D(2024, 3, 1), "last_month", (D(2024, 2, 1), D(2024, 2, 29))),
    (D(2026, 5, 31), "month_to_date", (D(2026, 5, 1), D(2026, 5, 31))),
    (D(2026, 1, 1), "last_quarter", (D(2025, 10, 1), D(2025, 12, 31))),
    (D(2026, 3, 31), "last_quarter", (D(2025, 10, 1), D(2025, 12, 31))),
    (D(2026, 4, 1), "last_quarter", (D(2026, 1, 1), D(2026, 3, 31))),
    (D(2026, 7, 1), "last_quarter", (D(2026, 4, 1), D(2026, 6, 30))),
    (D(2026, 12, 31), "last_quarter", (D(2026, 7, 1), D(2026, 9, 30))),
    (D(2026, 1, 1), "year_to_date", (D(2026, 1, 1), D(2026, 1, 1))),
    (D(2026, 12, 31), "year_to_date", (D(2026, 1, 1), D(2026, 12, 31))),
    (D(2026, 1, 1), "last_year", (D(2025, 1, 1), D(2025, 12, 31))),
    (D(2026, 12, 31), "today", (D(2026, 12, 31), D(2026, 12, 31))),
]


@pytest.mark.parametrize("today, name, expected", CASES)
def test_relative_ranges_around_month_quarter_and_year_ends(today, name, expected):
    assert resolve_range(name, today) == expected


def test_every_range_is_covered_and_unknown_is_refused():
    assert {name for _today, name, _expected in CASES} == set(RELATIVE_RANGES)
    with pytest.raises(UnknownRange):
        resolve_range("last_decade", D(2026, 1, 1))


@given(st.dates(min_value=D(1901, 1, 1), max_value=D(9998, 12, 31)))
def test_range_properties_for_any_day(today):
    one = dt.timedelta(days=1)
    for name in RELATIVE_RANGES:
        first, last = resolve_range(name, today)
        assert first <= last <= today
    first, last = resolve_range("last_month", today)
    assert first.day == 1 and (last + one).day == 1 and last + one == today.replace(day=1)
    first, last = resolve_range("last_week", today)
    assert first.weekday() == 0 and last.weekday() == 6 and (last - first).days == 6 and today - last <= 7 * one
    first, last = resolve_range("last_quarter", today)
    assert first.month in (1, 4, 7, 10) and first.day == 1 and (last + one).month in (1, 4, 7, 10)
    assert (last + one).day == 1 and (today - last).days <= 92 and last < today
    assert resolve_range("last_7_days", today)[0] == today - 6 * one


def test_ranges_use_the_site_time_zone(settings, monkeypatch):
    """Without "today", the range is seen from the local date in TIME_ZONE, not the server's UTC date."""
    from django.utils import timezone

    settings.TIME_ZONE = "Pacific/Auckland"
    utc_evening = dt.datetime(2026, 3, 31, 20, 0, tzinfo=dt.UTC)  # already 1 April in Auckland
    monkeypatch.setattr(timezone, "now", lambda: utc_evening)
    assert resolve_range("today") == (D(2026, 4, 1), D(2026, 4, 1))
    assert resolve_range("last_month") == (D(2026, 3, 1), D(2026, 3, 31))
