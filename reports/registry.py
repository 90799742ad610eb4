"""The report registry: a report is defined once and every outlet shows the same numbers.

Outlets — the admin report pages, file exports (CSV/XLSX/JSON through
``backoffice.exports``), ``manage.py run_report``, scheduled e-mails and the
API — all call ``run_report(name, params, user=…)`` and get a ``ReportResult``:
the cleaned parameters, the period, typed columns, the rows, the totals and
the chart data. Reports only read.

Scoping: a report names the ``model`` its rows come from; ``run_report``
narrows ``model``'s queryset with ``backoffice.scoping.scope_queryset`` for
the user, so a Warehouse-role user's report (page, export, e-mail) holds only
their warehouses' rows. Any other queryset a report reads goes through
``self.scope(queryset)``. ``user=None`` means the system (commands, an
address that is not a user on a schedule whose owner may see everything).

Permissions: running any report needs ``reports.run_report``; each report
also lists the model permissions of the data it shows
(``required_permissions``), so Sales, who may not see purchase orders, do not
get the purchase summary.

Adding a report = one small module in ``reports/definitions/`` (every module
there is imported at start-up)::

    import django_filters
    from backoffice.exports import Column, INTEGER, MONEY, TEXT
    from inventory.models import StockLevel, Warehouse
    from reports.registry import Report, ReportFilterSet, register


    class StockParams(ReportFilterSet):
        warehouse = django_filters.ModelChoiceFilter(queryset=Warehouse.objects.all(), to_field_name="code")


    @register
    class StockOnHand(Report):
        name = "stock-on-hand"                      # the interface name; never rename
        title = "Stock on hand"
        description = "On hand, allocated and available per product and warehouse."
        model = StockLevel                          # rows are scoped through this model
        required_permissions = ("inventory.view_stocklevel",)
        filterset_class = StockParams
        columns = [Column("sku", "SKU"), Column("on_hand", "On hand", INTEGER)]
        total_columns = ("on_hand",)

        def rows(self, queryset, params):
            return queryset.values("on_hand", sku=F("product__sku")).order_by("product__sku")

``rows`` gets the scoped and filtered queryset and the cleaned parameters and
returns a queryset of dicts, a list of dicts, or ``MappedRows`` (a queryset
plus a per-row function, read lazily in chunks). ``totals`` returns a dict
(by default: an aggregate ``Sum`` of ``total_columns`` over what ``rows``
returned when it is a queryset, else a sum in Python).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, ClassVar

import django_filters
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet, Sum
from django.http import QueryDict
from django.utils import timezone

from backoffice.exports import TEXT, Column, export_response, write_export
from backoffice.scoping import scope_queryset
from reports.dates import RANGE_CHOICES, UnknownRange, resolve_range

RUN_PERMISSION = "reports.run_report"
CHUNK_SIZE = 2000

# Parameters every outlet may pass besides a report's own (pagination, export format).
RESERVED_PARAMS = frozenset({"page", "format", "o", "_export"})


class ReportError(Exception):
    """Base class: a report cannot be run as asked. ``str(error)`` is a one-line message for a person."""


class UnknownReport(ReportError, KeyError):
    def __str__(self):  # KeyError quotes its message otherwise
        return self.args[0] if self.args else "Unknown report."


class ReportParamError(ReportError, ValueError):
    """Bad parameters; ``errors`` maps parameter name → list of messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]):
        self.errors = {key: list(messages) for key, messages in errors.items()}
        text = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in self.errors.items())
        super().__init__(f"Invalid report parameters — {text}")


class ReportPermissionDenied(ReportError, PermissionError):
    pass


# ---------------------------------------------------------------- parameters


class ReportFilterSet(django_filters.FilterSet):
    """Parameters of a report. Subclasses declare filters; the date filters below are on when
    ``date_field`` is set (a lookup path on the report's model, e.g. ``"order_date"``).

    ``date_range`` (one of ``reports.dates.RELATIVE_RANGES``) wins over ``date_from``/``date_to``;
    both dates are inclusive. After ``.qs`` the chosen period is ``self.period``
    (``(first, last)``, either side ``None`` when open) — also computed by ``resolve_period()``.
    """

    date_field: ClassVar[str | None] = None
    today: dt.date | None = None  # set by run_report; "today" for relative ranges

    date_from = django_filters.DateFilter(method="_no_filter", label="From")
    date_to = django_filters.DateFilter(method="_no_filter", label="To")
    date_range = django_filters.ChoiceFilter(
        choices=RANGE_CHOICES, method="_no_filter", label="Date range", empty_label="Custom dates"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.date_field:
            for name in ("date_from", "date_to", "date_range"):
                self.filters.pop(name, None)

    def _no_filter(self, queryset, name, value):
        return queryset

    def resolve_period(self) -> tuple[dt.date | None, dt.date | None] | None:
        if not self.date_field:
            return None
        data = self.form.cleaned_data
        if data.get("date_range"):
            try:
                return resolve_range(data["date_range"], self.today)
            except UnknownRange:  # the ChoiceFilter refuses unknown names before this
                return None
        return data.get("date_from"), data.get("date_to")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        self.period = self.resolve_period()
        if self.period:
            first, last = self.period
            if first:
                queryset = queryset.filter(**{f"{self.date_field}__gte": first})
            if last:
                queryset = queryset.filter(**{f"{self.date_field}__lte": last})
        return queryset

    def clean_dates(self):
        """Validation shared by every dated report: a start after the end is an error."""
        data = self.form.cleaned_data
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last and not data.get("date_range"):
            self.form.add_error("date_to", "The end date is before the start date.")


# ---------------------------------------------------------------- rows


class MappedRows:
    """A queryset read lazily (``iterator(chunk_size=…)``) with a function applied to each row.

    Supports ``len()`` (one COUNT), slicing (for pages) and iteration (for exports), so a
    report of a million rows is never held in memory.
    """

    def __init__(self, queryset: QuerySet, function: Callable[[Any], Mapping] | None = None):
        self.queryset = queryset
        self.function = function or (lambda row: row)

    def __len__(self) -> int:
        return self.count()

    @functools.cache  # noqa: B019 - per instance; one count per result
    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.function(row) for row in self.queryset[index]]
        return self.function(self.queryset[index])

    def __iter__(self) -> Iterator[Mapping]:
        for row in self.queryset.iterator(chunk_size=CHUNK_SIZE):
            yield self.function(row)


@dataclass(frozen=True)
class Chart:
    """A Chart.js chart of a report's rows: ``label`` column on the x axis, one dataset per ``series``."""

    type: str  # "line" | "bar" | "doughnut"
    label: str
    series: tuple[str, ...]
    title: str = ""
    max_points: int = 60  # charts of long reports show the first N rows


@dataclass(frozen=True)
class ReportAction:
    """A button on a report's admin page acting on the selected rows (``row_key`` values, POSTed
    as ``selected``; none selected = all rows) and the report's parameters; needs ``permission``."""

    label: str
    url_name: str
    permission: str = ""


# ---------------------------------------------------------------- reports

_REGISTRY: dict[str, type[Report]] = {}


class Report:
    """One report. Class attributes describe it; an instance runs it for one user."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    model: ClassVar[type]
    required_permissions: ClassVar[tuple[str, ...]] = ()
    filterset_class: ClassVar[type[ReportFilterSet]] = ReportFilterSet
    columns: ClassVar[list[Column]] = []
    total_columns: ClassVar[tuple[str, ...]] = ()
    chart: ClassVar[Chart | None] = None
    order: ClassVar[int] = 100  # position in the Reports list
    row_key: ClassVar[str | None] = None  # a column identifying a row, for actions on selected rows
    actions: ClassVar[tuple[ReportAction, ...]] = ()

    @classmethod
    def urls(cls) -> list:
        """Extra URL patterns (e.g. the views behind ``actions``), mounted under ``/admin/report/``."""
        return []

    def __init__(self, *, user=None, today: dt.date | None = None):
        self.user = user
        self.today = today or timezone.localdate()

    # -- permissions and scoping
    @classmethod
    def allowed(cls, user) -> bool:
        if user is None:
            return True
        if not (user.is_authenticated and user.is_active):
            return False
        return user.has_perm(RUN_PERMISSION) and user.has_perms(cls.required_permissions)

    def scope(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` narrowed to what the user may see (all of it for the system)."""
        return queryset if self.user is None else scope_queryset(self.user, queryset)

    def base_queryset(self) -> QuerySet:
        return self.scope(self.model._default_manager.all())

    # -- what subclasses implement
    def get_columns(self, params: Mapping[str, Any]) -> list[Column]:
        """The columns for these parameters (override when they depend on e.g. ``group_by``)."""
        return list(self.columns)

    def rows(self, queryset: QuerySet, params: Mapping[str, Any]):
        raise ImproperlyConfigured(f"Report {self.name} defines no rows().")

    def totals(self, rows, params: Mapping[str, Any]) -> dict | None:
        if not self.total_columns:
            return None
        if isinstance(rows, MappedRows):
            rows = rows.queryset
        if isinstance(rows, QuerySet):
            sums = rows.order_by().aggregate(**{name: Sum(name) for name in self.total_columns})
            return {name: (value if value is not None else 0) for name, value in sums.items()}
        sums: dict[str, Any] = dict.fromkeys(self.total_columns, 0)
        for row in rows:
            for name in self.total_columns:
                sums[name] += row.get(name) or 0
        return sums


def register(report_class: type[Report]) -> type[Report]:
    name = report_class.name
    if name in _REGISTRY and _REGISTRY[name] is not report_class:
        raise ValueError(f"Two reports are named {name!r}.")
    _REGISTRY[name] = report_class
    return report_class


def _load_definitions() -> None:
    package = importlib.import_module("reports.definitions")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"reports.definitions.{module.name}")


def all_reports() -> list[type[Report]]:
    _load_definitions()
    return sorted(_REGISTRY.values(), key=lambda report: (report.order, report.name))


def get_report(name: str) -> type[Report]:
    _load_definitions()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownReport(f"Unknown report {name!r}; one of: {known}.") from None


def reports_for(user) -> list[type[Report]]:
    return [report for report in all_reports() if report.allowed(user)]


# ---------------------------------------------------------------- results


@dataclass
class ReportResult:
    report: Report
    params: dict[str, Any]  # cleaned values
    raw_params: dict[str, str]  # as given (for links and the e-mail)
    period: tuple[dt.date | None, dt.date | None] | None
    columns: list[Column]
    rows: Any  # QuerySet of dicts, list of dicts or MappedRows
    totals: dict | None = None
    filterset: ReportFilterSet | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.report.name

    @property
    def row_count(self) -> int:
        rows = self.rows
        return rows.count() if isinstance(rows, QuerySet | MappedRows) else len(rows)

    def iter_rows(self) -> Iterator[Mapping]:
        rows = self.rows
        if isinstance(rows, QuerySet):
            return rows.iterator(chunk_size=CHUNK_SIZE)
        return iter(rows)

    def totals_row(self) -> dict | None:
        """The totals as a row: the first text column says "Total", the others are blank."""
        if self.totals is None:
            return None
        row = {column.name: None for column in self.columns}
        row.update({key: value for key, value in self.totals.items() if key in row})
        first_text = next((c.name for c in self.columns if c.type == TEXT and c.name not in self.totals), None)
        if first_text:
            row[first_text] = "Total"
        return row

    def export_rows(self) -> Iterable[Mapping]:
        """The rows and then the totals row — what every file holds."""
        yield from self.iter_rows()
        totals = self.totals_row()
        if totals is not None:
            yield totals

    # -- files
    def period_label(self) -> str:
        """``2026-10`` for a whole month, ``2026`` for a year, ``2026-10-05`` for a day, else first_to_last."""
        if not self.period or not (self.period[0] and self.period[1]):
            first = self.period[0] if self.period and self.period[0] else None
            last = self.period[1] if self.period and self.period[1] else None
            if first:
                return f"from_{first.isoformat()}"
            if last:
                return f"to_{last.isoformat()}"
            return self.report.today.isoformat()
        first, last = self.period
        if first == last:
            return first.isoformat()
        if (
            first.day == 1
            and (last + dt.timedelta(days=1)).day == 1
            and (first.year, first.month)
            == (
                last.year,
                last.month,
            )
        ):
            return f"{first:%Y-%m}"
        if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and first.year == last.year:
            return f"{first:%Y}"
        return f"{first.isoformat()}_to_{last.isoformat()}"

    def filename(self, file_format: str) -> str:
        return f"{self.report.name}_{self.period_label()}.{file_format}"

    def write(self, file_format: str, file: IO[bytes]) -> None:
        write_export(self.export_rows(), self.columns, file_format, file, title=self.report.title)

    def response(self, file_format: str):
        return export_response(
            self.export_rows(), self.columns, file_format, self.filename(file_format), title=self.report.title
        )

    def chart_data(self, rows: Sequence[Mapping] | None = None) -> dict | None:
        """Chart.js ``data`` (labels and datasets) for the report's chart, from ``rows`` or its first rows."""
        chart = self.report.chart
        if chart is None:
            return None
        if rows is None:
            rows = self.rows[: chart.max_points]
        rows = list(rows)[: chart.max_points]
        headers = {column.name: column.header for column in self.columns}
        return {
            "labels": [_chart_value(row.get(chart.label)) for row in rows],
            "datasets": [
                {"label": headers.get(series, series), "data": [_chart_number(row.get(series)) for row in rows]}
                for series in chart.series
            ],
        }


def _chart_value(value) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _chart_number(value):
    if isinstance(value, Decimal):
        return float(value)
    return value if isinstance(value, int | float) else 0


def _as_data(params: Mapping[str, Any] | None) -> QueryDict | dict:
    if params is None:
        return {}
    if isinstance(params, QueryDict):
        return params
    return {key: value for key, value in params.items() if value is not None}


def run_report(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    user=None,
    today: dt.date | None = None,
    strict: bool = False,
) -> ReportResult:
    """Run report ``name`` with ``params`` (strings, as from a query string or ``--param``) for ``user``.

    ``strict`` (the command line, schedules) refuses parameters the report does not have;
    outlets with their own parameters in the query string (pages, exports) pass ``strict=False``.
    Raises ``UnknownReport``, ``ReportPermissionDenied`` or ``ReportParamError``.
    """
    report_class = get_report(name)
    if not report_class.allowed(user):
        raise ReportPermissionDenied(f"You may not run the {report_class.title} report.")
    report = report_class(user=user, today=today)
    data = _as_data(params)
    filterset_class = report_class.filterset_class
    unknown = sorted(set(data) - set(filterset_class.base_filters) - RESERVED_PARAMS)
    if strict and unknown:
        raise ReportParamError({key: ["Unknown parameter."] for key in unknown})
    filterset = filterset_class(data=data, queryset=report.base_queryset())
    filterset.today = report.today
    if not filterset.is_valid():
        raise ReportParamError(filterset.errors)
    if filterset.date_field:
        filterset.clean_dates()
        if filterset.form.errors:
            raise ReportParamError(filterset.form.errors)
    queryset = filterset.qs
    cleaned = dict(filterset.form.cleaned_data)
    period = getattr(filterset, "period", None)
    cleaned["period"] = period
    rows = report.rows(queryset, cleaned)
    raw = {key: str(data[key]) for key in data if key in filterset_class.base_filters and data[key] not in ("", None)}
    return ReportResult(
        report=report,
        params=cleaned,
        raw_params=raw,
        period=period,
        columns=report.get_columns(cleaned),
        rows=rows,
        totals=report.totals(rows, cleaned),
        filterset=filterset,
    )
