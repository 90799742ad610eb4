"""``shipment-performance``: shipments per carrier and month, how many left on time, how fast.

Rows are carrier × month of the shipping date, over shipments that left the
warehouse (shipped, delivered or returned; the period filters on the local
shipping date). A shipment is *on time* when it left on or before its sales
order's required date and *late* when after; shipments of orders without a
required date are counted in ``shipments`` but are neither, so
``on_time_percent`` = on time ÷ (on time + late) × 100 (empty when no
shipment had a required date). ``avg_days_to_ship`` is the mean number of
days from the order date to the shipping date. Everything is aggregated in
the database (one grouped query, with the sum of the waits); the totals row
and the chart (on-time % by carrier over the whole period) add those groups
up exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import connections
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from backoffice.exports import DECIMAL, INTEGER, PERCENT, Column
from orders.models import Shipment
from reports.local_dates import DaysBetween, LocalDate, LocalMonth, offset_spans
from reports.registry import Chart, Report, ReportFilterSet, register

NO_CARRIER = "(no carrier)"
BY_CARRIER = F("carrier__name").asc(nulls_last=True)  # carriers by name, shipments without one last
HUNDRED = Decimal("100")


class ShipmentPerformanceParams(ReportFilterSet):
    date_field = "shipped_at"  # whole local days


def _figures(shipped_on: LocalDate) -> dict:
    return {
        "shipments": Count("id"),
        "on_time": Count("id", filter=Q(sales_order__required_date__gte=shipped_on)),
        # Shipments with a required date: each is on time or late, so late = dated - on time (one local date
        # less to compute per shipment than a second filtered count).
        "dated": Count("sales_order__required_date"),
        # Σ waits in whole days, not their average: groups add up exactly into the carrier chart and the totals.
        "wait_days": Sum(DaysBetween(F("sales_order__order_date"), shipped_on)),
    }


def _shipped_on(shipments) -> LocalDate:
    """The local shipping date; on SQLite computed by SQLite itself over the zone's offsets in the shipments'
    span (``reports.local_dates``: no Python function per row), elsewhere ``TruncDate``."""
    if connections[shipments.db].vendor != "sqlite":
        return LocalDate("shipped_at")
    # Two ends of the ``shipped_at`` index, not one MIN/MAX aggregate (SQLite reads the whole index for that).
    shipped = shipments.order_by().values_list("shipped_at", flat=True)
    first = shipped.order_by("shipped_at").first()
    if first is None:
        return LocalDate("shipped_at")
    return LocalDate("shipped_at", spans=offset_spans(first, shipped.order_by("-shipped_at").first()))


def _combined(groups: list[dict], key: str | None) -> list[dict]:
    """Groups (carrier × month) added up by ``key`` (``"carrier_label"``), or into one when ``key`` is None."""
    combined: dict = {}
    for group in groups:
        label = group[key] if key else ""
        into = combined.setdefault(
            label, {"carrier_label": label, "shipments": 0, "on_time": 0, "late": 0, "total_wait": None}
        )
        for name in ("shipments", "on_time", "late"):
            into[name] += group[name]
        if group["total_wait"] is not None:
            into["total_wait"] = group["total_wait"] + (into["total_wait"] or dt.timedelta(0))
    return list(combined.values())


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _days(wait: dt.timedelta | None) -> Decimal | None:
    if wait is None:
        return None
    return (Decimal(wait.total_seconds()) / Decimal(86400)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _performance_row(group: dict) -> dict:
    wait = group["total_wait"]
    row = {
        "carrier": group["carrier_label"],
        "shipments": group["shipments"],
        "on_time": group["on_time"],
        "late": group["late"],
        "on_time_percent": _percent(group["on_time"], group["on_time"] + group["late"]),
        "avg_days_to_ship": _days(wait / group["shipments"] if wait is not None and group["shipments"] else None),
    }
    if "month" in group:
        row["month"] = f"{group['month']:%Y-%m}"
    return row


@register
class ShipmentPerformanceReport(Report):
    name = "shipment-performance"
    title = "Shipment performance"
    description = "Shipments by carrier and month: on-time % against the required date, days from order to shipment."
    model = Shipment
    required_permissions = ("orders.view_shipment", "orders.view_salesorder", "orders.view_carrier")
    filterset_class = ShipmentPerformanceParams
    order = 80
    columns = [
        Column("carrier", "Carrier"),
        Column("month", "Month"),
        Column("shipments", "Shipments", INTEGER),
        Column("on_time", "On time", INTEGER),
        Column("late", "Late", INTEGER),
        Column("on_time_percent", "On time %", PERCENT),
        Column("avg_days_to_ship", "Avg days to ship", DECIMAL, number_format="0.0"),
    ]
    total_columns = ("shipments", "on_time", "late", "on_time_percent", "avg_days_to_ship")
    chart = Chart(type="bar", label="carrier", series=("on_time_percent",), title="On-time % by carrier")

    def rows(self, queryset, params):
        shipments = queryset.filter(shipped_at__isnull=False)
        shipped_on = _shipped_on(shipments)
        groups = list(
            shipments.annotate(carrier_label=Coalesce(F("carrier__name"), Value(NO_CARRIER)))
            .order_by()
            .values("carrier_label", month=LocalMonth(shipped_on))
            .annotate(**_figures(shipped_on))
            .order_by(BY_CARRIER, "month")
        )
        for group in groups:
            group["late"] = group.pop("dated") - group["on_time"]
            days = group.pop("wait_days")
            group["total_wait"] = None if days is None else dt.timedelta(days=days)
        # Bounded (carriers × months) and read once: the page needs no count, and the totals row and the
        # chart (by carrier over the whole period) are these groups added up — no second or third scan.
        self._groups = groups
        return [_performance_row(group) for group in groups]

    def totals(self, rows, params):
        combined = _combined(self._groups, None)
        row = _performance_row(combined[0] if combined else _EMPTY)
        return {name: row[name] for name in self.total_columns}

    def chart_rows(self, result, rows):
        by_carrier = _combined(self._groups, "carrier_label")  # groups come by carrier already (BY_CARRIER)
        return [_performance_row(group) for group in by_carrier[: self.chart.max_points]]


_EMPTY = {"carrier_label": "", "shipments": 0, "on_time": 0, "late": 0, "total_wait": None}
