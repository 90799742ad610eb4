"""When a scheduled report is due and which period it covers (pure functions, the site's time zone).

All times are computed in ``settings.TIME_ZONE`` (``zoneinfo``):

* A schedule is **due** at its ``send_time`` (local wall-clock time) on each
  send day: every day (daily), its ``weekday`` (weekly, 0 = Monday), or its
  ``day_of_month`` (monthly, 1–28, so every month has it). The check that
  runs every few minutes sends it at the first check at or after that moment.
* Daylight-saving changes: a ``send_time`` that does not exist on the day the
  clocks jump forward (02:30 in Europe/Berlin on the last Sunday of March) is
  due at the jump (03:00 local), so it is still sent once that day; a time
  that exists twice when the clocks go back is due at its first occurrence.
* Only the latest due moment counts: a worker that was down for three days
  sends the latest period, not three. Due moments before the schedule was
  created do not count (a weekly schedule created on Wednesday first sends on
  its next weekday).
* The **period** a run covers: ``params["date_range"]`` resolved
  (``reports.dates.resolve_range``) as of the due date when the schedule has
  one; otherwise the frequency's period before the due date — daily:
  yesterday; weekly: the 7 days before; monthly: the previous calendar month.
  A dated report is run for exactly the run's period (``date_from``/``date_to``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

from reports.dates import resolve_range

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
ONE_DAY = dt.timedelta(days=1)


def site_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def is_send_day(frequency: str, day: dt.date, *, weekday: int | None = None, day_of_month: int | None = None) -> bool:
    if frequency == DAILY:
        return True
    if frequency == WEEKLY:
        return weekday is not None and day.weekday() == weekday
    if frequency == MONTHLY:
        return day_of_month is not None and day.day == day_of_month
    raise ValueError(f"Unknown frequency {frequency!r}.")


def local_moment(day: dt.date, at: dt.time, zone: ZoneInfo | None = None) -> dt.datetime:
    """The moment (in UTC) the local clock shows ``at`` on ``day``: the first one if it shows it twice, the
    clock change itself if it never shows it (the first moment whose local time is ``at`` or later).

    UTC because Python compares two datetimes of the same zone by wall clock, ignoring the DST fold."""
    zone = zone or site_zone()
    naive = dt.datetime.combine(day, at.replace(tzinfo=None))
    first = naive.replace(tzinfo=zone, fold=0)
    if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return first.astimezone(dt.UTC)
    # A gap: the local clock jumps over ``naive``. The jump happens between the two readings of it.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    high = first.astimezone(dt.UTC)
    low, high = min(low, high), max(low, high)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def due_on(schedule, day: dt.date, zone: ZoneInfo | None = None) -> dt.datetime | None:
    """The moment ``schedule`` is due on local ``day``, or None when ``day`` is not one of its send days."""
    if not is_send_day(schedule.frequency, day, weekday=schedule.weekday, day_of_month=schedule.day_of_month):
        return None
    return local_moment(day, schedule.send_time, zone)


def latest_due(schedule, now: dt.datetime) -> dt.datetime | None:
    """The latest moment at or before ``now`` at which ``schedule`` was due (None within its first period)."""
    zone = site_zone()
    today = now.astimezone(zone).date()
    now = now.astimezone(dt.UTC)
    for back in range(0, 32):  # every frequency has a send day within 31 days
        moment = due_on(schedule, today - back * ONE_DAY, zone)
        if moment is not None and moment <= now:
            created = getattr(schedule, "created_at", None)
            return None if created is not None and moment < created else moment
    return None


def next_due(schedule, now: dt.datetime) -> dt.datetime | None:
    """The first moment after ``now`` at which ``schedule`` is due."""
    zone = site_zone()
    today = now.astimezone(zone).date()
    now = now.astimezone(dt.UTC)
    for ahead in range(0, 63):
        moment = due_on(schedule, today + ahead * ONE_DAY, zone)
        if moment is not None and moment > now:
            return moment
    return None


def frequency_period(frequency: str, due_date: dt.date) -> tuple[dt.date, dt.date]:
    """Daily: yesterday; weekly: the 7 days before ``due_date``; monthly: the calendar month before its month."""
    last = due_date - ONE_DAY
    if frequency == DAILY:
        return last, last
    if frequency == WEEKLY:
        return due_date - 7 * ONE_DAY, last
    if frequency == MONTHLY:
        previous_month_end = due_date.replace(day=1) - ONE_DAY
        return previous_month_end.replace(day=1), previous_month_end
    raise ValueError(f"Unknown frequency {frequency!r}.")


def period_for(frequency: str, params: dict | None, due_date: dt.date) -> tuple[dt.date, dt.date]:
    """The (first, last) dates a run due on ``due_date`` covers (module docstring)."""
    date_range = (params or {}).get("date_range")
    if date_range:
        return resolve_range(date_range, due_date)
    return frequency_period(frequency, due_date)
