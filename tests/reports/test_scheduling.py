"""Due times and periods of scheduled reports (reports.scheduling): weekdays, month ends, DST."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from reports.scheduling import latest_due, local_moment, next_due, period_for

BERLIN = ZoneInfo("Europe/Berlin")
D = dt.date


def schedule(frequency="daily", send_time=dt.time(8, 0), weekday=None, day_of_month=None, created_at=None):
    return SimpleNamespace(
        frequency=frequency, send_time=send_time, weekday=weekday, day_of_month=day_of_month, created_at=created_at
    )


def berlin(*args):
    return dt.datetime(*args, tzinfo=BERLIN)


pytestmark = pytest.mark.usefixtures("berlin_zone")


@pytest.fixture
def berlin_zone():
    with override_settings(TIME_ZONE="Europe/Berlin"):
        yield


def test_daily_is_due_at_the_first_check_at_or_after_its_time():
    daily = schedule("daily", dt.time(8, 0))
    assert latest_due(daily, berlin(2026, 10, 12, 7, 59)) == berlin(2026, 10, 11, 8, 0)
    assert latest_due(daily, berlin(2026, 10, 12, 8, 0)) == berlin(2026, 10, 12, 8, 0)
    assert latest_due(daily, berlin(2026, 10, 12, 8, 4)) == berlin(2026, 10, 12, 8, 0)
    assert next_due(daily, berlin(2026, 10, 12, 8, 0)) == berlin(2026, 10, 13, 8, 0)


def test_due_time_is_local_not_utc():
    daily = schedule("daily", dt.time(8, 0))
    # 06:30 UTC is 08:30 in Berlin (summer time): due; 05:59 UTC is 07:59: not yet.
    assert latest_due(daily, dt.datetime(2026, 7, 1, 6, 30, tzinfo=dt.UTC)) == berlin(2026, 7, 1, 8, 0)
    assert latest_due(daily, dt.datetime(2026, 7, 1, 5, 59, tzinfo=dt.UTC)) == berlin(2026, 6, 30, 8, 0)


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [(0, D(2026, 10, 12)), (2, D(2026, 10, 7)), (6, D(2026, 10, 11))],  # Monday 12 Oct 2026 at 09:00
)
def test_weekly_is_due_on_its_weekday(weekday, expected):
    weekly = schedule("weekly", dt.time(8, 0), weekday=weekday)
    due = latest_due(weekly, berlin(2026, 10, 12, 9, 0))
    assert due.date() == expected and due.weekday() == weekday
    assert next_due(weekly, berlin(2026, 10, 12, 9, 0)).date() == expected + dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("now", "due_day"),
    [
        (berlin(2026, 2, 28, 9, 0), D(2026, 2, 28)),  # 28 days: the 28th exists
        (berlin(2026, 3, 1, 9, 0), D(2026, 2, 28)),  # after February, the last due day is still 28 Feb
        (berlin(2024, 2, 29, 9, 0), D(2024, 2, 28)),  # leap year
        (berlin(2026, 5, 31, 9, 0), D(2026, 5, 28)),  # 31-day month
        (berlin(2026, 4, 30, 9, 0), D(2026, 4, 28)),  # 30-day month
        (berlin(2026, 1, 27, 9, 0), D(2025, 12, 28)),  # before the 28th: last year's December
    ],
)
def test_monthly_on_the_28th_across_month_lengths(now, due_day):
    monthly = schedule("monthly", dt.time(8, 0), day_of_month=28)
    assert latest_due(monthly, now) == berlin(due_day.year, due_day.month, due_day.day, 8, 0)


def test_monthly_next_due_crosses_the_year_end():
    monthly = schedule("monthly", dt.time(6, 0), day_of_month=1)
    assert next_due(monthly, berlin(2026, 12, 31, 23, 0)) == berlin(2027, 1, 1, 6, 0)
    assert latest_due(monthly, berlin(2027, 1, 1, 5, 59)) == berlin(2026, 12, 1, 6, 0)


def test_a_time_skipped_by_spring_forward_is_due_at_the_jump_once_that_day():
    # 29 March 2026: Berlin clocks jump from 02:00 to 03:00; 02:30 does not exist.
    daily = schedule("daily", dt.time(2, 30))
    jump = local_moment(D(2026, 3, 29), dt.time(2, 30))
    assert jump == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # 03:00 CEST
    assert jump.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    assert latest_due(daily, dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC)).date() == D(2026, 3, 28)
    assert latest_due(daily, dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)) == jump
    assert latest_due(daily, dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.UTC)) == jump
    # The next day it is 02:30 again (summer time).
    assert next_due(daily, jump) == berlin(2026, 3, 30, 2, 30)
    assert next_due(daily, jump) == dt.datetime(2026, 3, 30, 0, 30, tzinfo=dt.UTC)


def test_a_time_repeated_by_fall_back_is_due_at_its_first_occurrence_only():
    # 25 October 2026: 03:00 CEST → 02:00 CET; 02:30 happens twice.
    daily = schedule("daily", dt.time(2, 30))
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST
    assert local_moment(D(2026, 10, 25), dt.time(2, 30)) == first
    second_occurrence = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)  # 02:30 CET
    assert latest_due(daily, second_occurrence) == first  # same due moment → same period → no second send
    assert next_due(daily, first) == berlin(2026, 10, 26, 2, 30)


def test_due_moments_before_the_schedule_existed_do_not_count():
    weekly = schedule("weekly", dt.time(8, 0), weekday=0, created_at=berlin(2026, 10, 14, 12, 0))  # a Wednesday
    assert latest_due(weekly, berlin(2026, 10, 16, 12, 0)) is None
    assert latest_due(weekly, berlin(2026, 10, 19, 8, 0)) == berlin(2026, 10, 19, 8, 0)


def test_periods_without_date_range_end_the_day_before():
    assert period_for("daily", {}, D(2026, 3, 1)) == (D(2026, 2, 28), D(2026, 2, 28))
    assert period_for("weekly", {}, D(2026, 10, 12)) == (D(2026, 10, 5), D(2026, 10, 11))
    assert period_for("monthly", {}, D(2026, 3, 1)) == (D(2026, 2, 1), D(2026, 2, 28))
    assert period_for("monthly", {}, D(2024, 3, 15)) == (D(2024, 2, 1), D(2024, 2, 29))
    assert period_for("monthly", {}, D(2026, 1, 28)) == (D(2025, 12, 1), D(2025, 12, 31))


def test_a_date_range_param_is_resolved_as_of_the_due_date():
    assert period_for("weekly", {"date_range": "last_week"}, D(2026, 10, 14)) == (D(2026, 10, 5), D(2026, 10, 11))
    assert period_for("daily", {"date_range": "month_to_date"}, D(2026, 10, 14)) == (D(2026, 10, 1), D(2026, 10, 14))
    assert period_for("monthly", {"date_range": "last_quarter"}, D(2026, 10, 1)) == (D(2026, 7, 1), D(2026, 9, 30))
