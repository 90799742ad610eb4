"""Relative date ranges for report parameters (``date_range``) and scheduled reports.

``resolve_range(name, today)`` turns a name into an inclusive ``(first, last)``
pair of dates; ``today`` defaults to today in the site's time zone
(``timezone.localdate()``), so "yesterday" at 00:30 in Europe/Berlin is the
Berlin yesterday whatever the server's clock zone.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

RELATIVE_RANGES: dict[str, str] = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last_7_days": "Last 7 days",
    "last_week": "Last week (Mon–Sun)",
    "last_month": "Last month",
    "month_to_date": "Month to date",
    "last_quarter": "Last quarter",
    "year_to_date": "Year to date",
    "last_year": "Last year",
}
RANGE_CHOICES = list(RELATIVE_RANGES.items())


class UnknownRange(ValueError):
    pass


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def resolve_range(name: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The inclusive (first, last) dates of a relative range, seen from ``today``."""
    today = today or timezone.localdate()
    one = dt.timedelta(days=1)
    if name == "today":
        return today, today
    if name == "yesterday":
        return today - one, today - one
    if name == "last_7_days":
        return today - 6 * one, today
    if name == "last_week":
        this_monday = today - dt.timedelta(days=today.weekday())
        return this_monday - 7 * one, this_monday - one
    if name == "last_month":
        last = today.replace(day=1) - one
        return last.replace(day=1), last
    if name == "month_to_date":
        return today.replace(day=1), today
    if name == "last_quarter":
        last = _quarter_start(today) - one
        return _quarter_start(last), last
    if name == "year_to_date":
        return dt.date(today.year, 1, 1), today
    if name == "last_year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    raise UnknownRange(f"Unknown date range {name!r}; one of: {', '.join(RELATIVE_RANGES)}.")
