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

Optional hooks: ``get_columns(params)`` and ``get_chart(params)`` when they
depend on the parameters (the sales summary's ``group_by``), ``chart_rows``
when the chart summarises differently from the table, ``row_key`` +
``actions`` (``ReportAction``: buttons on the page posting the selected
``row_key`` values as ``selected`` plus the report's parameters) and
``urls()`` (their views; mounted under ``/admin/report/`` in the ``reports``
namespace, each wrapped in ``admin.site.admin_view``).

Parameters: the filter set is built by ``Report.filterset(data)`` for the
user, so the choices of a warehouse-bound model (the warehouse filter) are the
user's warehouses only — another warehouse's code is refused like an unknown
one. Files (``ReportResult.write``/``response``) head their columns with the
column *names* (``net_amount``), the interface scripts and checks read; pages
and e-mail bodies show the headers. docs/reports.md describes each report.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.date_field:
            for name in ("date_from", "date_to", "date_range"):
                self.filters.pop(name, None)
        self.user = user
        if user is not None:
            self._scope_choices(user)
        self._typed_choice_messages()

    def _typed_choice_messages(self) -> None:
        """A code typed into a text box (customer, supplier, product: too many to pick from a list) that matches
        nothing is refused saying so — not with the select's "not one of the available choices"."""
        from django import forms

        for form_field in self.form.fields.values():
            if isinstance(form_field, forms.ModelChoiceField) and isinstance(form_field.widget, forms.TextInput):
                noun = form_field.queryset.model._meta.verbose_name
                key = form_field.to_field_name or "id"
                form_field.error_messages["invalid_choice"] = f"No {noun} has the {key} “%(value)s”."

    def _scope_choices(self, user) -> None:
        """Choices of warehouse-bound models (e.g. the warehouse filter) narrowed to what ``user`` may see,
        so a Warehouse-role user is offered only their warehouses and another one's code is refused."""
        for name, report_filter in self.filters.items():
            queryset = report_filter.extra.get("queryset")
            if isinstance(queryset, QuerySet):
                scoped = scope_queryset(user, queryset)
                report_filter.extra["queryset"] = scoped
                if name in self.form.fields:
                    self.form.fields[name].queryset = scoped

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
            if _is_datetime_path(queryset.model, self.date_field):
                # A date-time field: whole local days, as bounds the field's index can use.
                if first:
                    queryset = queryset.filter(**{f"{self.date_field}__gte": _day_start(first)})
                if last:
                    queryset = queryset.filter(**{f"{self.date_field}__lt": _day_start(last + dt.timedelta(days=1))})
                return queryset
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


def _is_datetime_path(model, path: str) -> bool:
    """Whether lookup ``path`` (``"created_at"``, ``"order__confirmed_at"``) ends at a ``DateTimeField``."""
    from django.db.models import DateTimeField

    field = None
    for name in path.split("__"):
        field = model._meta.get_field(name)
        model = field.related_model or model
    return isinstance(field, DateTimeField)


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the current (site) time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# ---------------------------------------------------------------- rows


class MappedRows:
    """A queryset read lazily (``iterator(chunk_size=…)``) with a function applied to each row.

    Supports ``len()`` (one COUNT), slicing (for pages) and iteration (for exports), so a
    report of a million rows is never held in memory.
    """

    def __init__(
        self,
        queryset: QuerySet,
        function: Callable[[Any], Mapping] | None = None,
        *,
        count_queryset: QuerySet | None = None,
    ):
        self.queryset = queryset
        self.function = function or (lambda row: row)
        # What to count when that is cheaper than ``queryset`` (the same rows without the display joins).
        self.count_queryset = count_queryset

    def __len__(self) -> int:
        return self.count()

    @functools.cache  # noqa: B019 - per instance; one count per result
    def count(self) -> int:
        counted = self.queryset if self.count_queryset is None else self.count_queryset
        return counted.order_by().count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.function(row) for row in self.queryset[index]]
        return self.function(self.queryset[index])

    def __iter__(self) -> Iterator[Mapping]:
        for row in self.queryset.iterator(chunk_size=CHUNK_SIZE):
            yield self.function(row)

    def iter_export(self, columns: Sequence[Column]) -> Iterator[Mapping | Sequence]:
        """The rows as a file gets them: dicts by default; a subclass may yield tuples in the order of
        ``columns`` (``values_list``, no dict per row) where a million-row export must be fast."""
        return iter(self)


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

    def filterset(self, data=None) -> ReportFilterSet:
        """The report's parameters bound to ``data`` (strings) for this user: choices scoped, "today" set."""
        filterset = self.filterset_class(data=data, queryset=self.base_queryset(), user=self.user)
        filterset.today = self.today
        return filterset

    # -- what subclasses implement
    def get_columns(self, params: Mapping[str, Any]) -> list[Column]:
        """The columns for these parameters (override when they depend on e.g. ``group_by``)."""
        return list(self.columns)

    def get_chart(self, params: Mapping[str, Any]) -> Chart | None:
        """The chart for these parameters (override when it depends on them, e.g. time vs. groups)."""
        return self.chart

    def rows(self, queryset: QuerySet, params: Mapping[str, Any]):
        raise ImproperlyConfigured(f"Report {self.name} defines no rows().")

    def chart_rows(self, result: ReportResult, rows: Sequence[Mapping] | None) -> Sequence[Mapping]:
        """The rows the chart is drawn from: ``rows`` (e.g. a page) or the result's first rows. Override
        when the chart summarises differently from the table (e.g. on-time % by carrier over the period)."""
        if rows is None:
            rows = result.rows[: result.chart.max_points]
        return rows

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
        """The totals as a row: the first column without a total says "Total", the others are blank.

        (A "Total" in a date column is written as text by ``backoffice.exports``.)"""
        if self.totals is None:
            return None
        row = {column.name: None for column in self.columns}
        row.update({key: value for key, value in self.totals.items() if key in row})
        first_text = next((c.name for c in self.columns if c.type == TEXT and c.name not in self.totals), None)
        label = first_text or next((c.name for c in self.columns if c.name not in self.totals), None)
        if label:
            row[label] = "Total"
        return row

    def export_rows(self) -> Iterable[Mapping]:
        """The rows and then the totals row — what every file holds."""
        rows = self.rows
        yield from rows.iter_export(self.columns) if isinstance(rows, MappedRows) else self.iter_rows()
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

    def file_columns(self) -> list[Column]:
        """The columns of a file: headed by their names (``net_amount``), the interface scripts and checks
        read; the page and the e-mail body show the headers."""
        return [replace(column, header=column.name) for column in self.columns]

    def write(self, file_format: str, file: IO[bytes]) -> None:
        write_export(self.export_rows(), self.file_columns(), file_format, file, title=self.report.title)

    def response(self, file_format: str):
        return export_response(
            self.export_rows(), self.file_columns(), file_format, self.filename(file_format), title=self.report.title
        )

    def chart_data(self, rows: Sequence[Mapping] | None = None) -> dict | None:
        """Chart.js ``data`` (labels and datasets) for the report's chart, from ``rows`` or its first rows."""
        chart = self.chart
        if chart is None:
            return None
        rows = list(self.report.chart_rows(self, rows))[: chart.max_points]
        headers = {column.name: column.header for column in self.columns}
        return {
            "labels": [_chart_value(row.get(chart.label)) for row in rows],
            "datasets": [
                {"label": headers.get(series, series), "data": [_chart_number(row.get(series)) for row in rows]}
                for series in chart.series
            ],
        }

    @property
    def chart(self) -> Chart | None:
        """The report's chart for these parameters (``Report.get_chart``)."""
        return self.report.get_chart(self.params)


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
    known = set(filterset_class.base_filters)
    if not filterset_class.date_field:  # the date filters are declared on the base class for every report
        known -= {"date_from", "date_to", "date_range"}
    unknown = sorted(set(data) - known - RESERVED_PARAMS)
    if strict and unknown:
        raise ReportParamError({key: ["Unknown parameter."] for key in unknown})
    filterset = report.filterset(data)
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
