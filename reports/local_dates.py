"""Local dates of date-time columns, computed by the database without a function call per row.

Django truncates a date-time to the site's local date with ``TruncDate``: PostgreSQL does it natively
(``AT TIME ZONE``), but SQLite calls a Python function for every row (parsing the value and converting
it with ``zoneinfo``), which dominates a report grouping a few hundred thousand shipments. On SQLite,
``LocalDate`` instead compiles to SQLite's own ``date()`` shifted by the zone's UTC offset, picking
the offset with a ``CASE`` over the zone's offset changes in the span of the data::

    CASE WHEN shipped_at < '2026-03-29 01:00:00' THEN date(shipped_at, '+60 minutes')
         WHEN shipped_at < '2026-10-25 01:00:00' THEN date(shipped_at, '+120 minutes')
         ELSE date(shipped_at, '+60 minutes') END

(SQLite stores date-times as UTC text, so the comparisons are exact and the result is the same
``YYYY-MM-DD`` a ``TruncDate`` gives). ``LocalMonth`` is the first day of that date's month and
``DaysBetween`` the whole days from a date to another. Elsewhere they are ``TruncDate``,
``TruncMonth`` and a date difference: same values on every database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import DateField, Func, IntegerField
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

#: (until, modifier): rows before ``until`` (UTC text as SQLite stores it; None: the last span) shift by ``modifier``
Spans = Sequence[tuple[str | None, str]]

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S"


def _offset(zone, moment: dt.datetime) -> dt.timedelta:
    return moment.astimezone(zone).utcoffset() or dt.timedelta(0)


def offset_spans(first: dt.datetime, last: dt.datetime, zone=None) -> list[tuple[str | None, str]]:
    """The site zone's UTC offsets between ``first`` and ``last`` (aware): ``[(until, "+60 minutes"), ...]``.

    Walks the range a day at a time and finds each change to the second (offsets change at most a few
    times a year; a 2-year range is ~730 steps)."""
    zone = zone or timezone.get_current_timezone()
    step = dt.timedelta(days=1)
    moment = first.astimezone(dt.UTC) - step
    end = last.astimezone(dt.UTC) + step
    current = _offset(zone, moment)
    spans: list[tuple[str | None, str]] = []
    while moment < end:
        following = min(moment + step, end)
        offset = _offset(zone, following)
        if offset != current:
            low, high = moment, following  # offset(low) == current, offset(high) != current
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle <= low:
                    break
                if _offset(zone, middle) == current:
                    low = middle
                else:
                    high = middle
            spans.append((high.strftime(_SQLITE_DATETIME), _modifier(current)))
            current = offset
        moment = following
    spans.append((None, _modifier(current)))
    return spans


def _modifier(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    return f"{minutes:+d} minutes"


class LocalDate(TruncDate):
    """``TruncDate`` (the date in the site's time zone); on SQLite, with ``spans`` from ``offset_spans`` covering
    every value, SQLite's ``date()`` shifted by the right offset (no Python call per row)."""

    def __init__(self, expression, *, spans: Spans = (), **extra):
        self.spans = tuple(spans)
        super().__init__(expression, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        if not self.spans:
            return super().as_sql(compiler, connection, **extra_context)
        return self._shifted(compiler, "date({column}, %s)")

    def sqlite_julian_day(self, compiler) -> tuple[str, list]:
        """The local date as a Julian day number (SQLite, with ``spans``): ``julianday(x, modifier, 'start of
        day')``, the same number as ``julianday(date(x, modifier))`` with one date-time parse instead of two."""
        return self._shifted(compiler, "julianday({column}, %s, 'start of day')")

    def _shifted(self, compiler, function: str) -> tuple[str, list]:
        """``function`` (``{column}`` and one ``%s`` for the modifier) of the column shifted by its span's offset."""
        column, column_params = compiler.compile(self.lhs)
        shifted = function.format(column=column)
        if len(self.spans) == 1:
            return shifted, [*column_params, self.spans[0][1]]
        sql, params = ["CASE"], []
        for until, modifier in self.spans[:-1]:
            sql.append(f"WHEN {column} < %s THEN {shifted}")
            params += [*column_params, until, *column_params, modifier]
        sql.append(f"ELSE {shifted} END")
        params += [*column_params, self.spans[-1][1]]
        return " ".join(sql), params


class LocalMonth(TruncMonth):
    """``TruncMonth`` of a date expression (e.g. a ``LocalDate``); on SQLite a text operation on ``YYYY-MM-DD``."""

    def __init__(self, expression, **extra):
        super().__init__(expression, output_field=DateField(), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.lhs)
        return f"(substr({sql}, 1, 7) || '-01')", params


class DaysBetween(Func):
    """Whole days from the first date expression to the second (negative when the second is earlier)."""

    output_field = IntegerField()
    arg_joiner = " - "
    template = "(%(expressions)s)"

    def __init__(self, start, end, **extra):
        super().__init__(end, start, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        end, start = self.get_source_expressions()
        if isinstance(end, LocalDate) and end.spans:
            end_sql, end_params = end.sqlite_julian_day(compiler)
        else:
            end_sql, end_params = compiler.compile(end)
            end_sql = f"julianday({end_sql})"
        start_sql, start_params = compiler.compile(start)
        return (
            f"CAST({end_sql} - julianday({start_sql}) AS INTEGER)",
            [*end_params, *start_params],
        )
