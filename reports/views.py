"""The report pages of the admin: the Reports list and one page per report (filters, table, chart, exports).

Thin: every figure comes from ``reports.registry.run_report`` for the signed-in
user (permissions and warehouse scoping are the registry's), so the page, its
exports, the command line and the e-mails show the same numbers. The views are
wrapped in ``admin.site.admin_view`` (``reports/urls.py``): staff only, the
admin's login page otherwise.

* ``GET /admin/report/`` — every report the user may run, with its description.
* ``GET /admin/report/<name>/?<params>`` — the filter form, a page of rows with the
  totals row, the chart and the export buttons. Bad parameters are shown on the
  form (never a 500); an unknown report is a 404; a report the user may not run
  is a 403 page in the admin's style.
* ``GET /admin/report/<name>/?<params>&format=csv|xlsx|json`` — the export of
  exactly what the page shows (all pages), streamed (``ReportResult.response``).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from unfold.widgets import (
    UnfoldAdminNullBooleanSelectWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from backoffice.exports import DATE, DATETIME, FORMATS, INTEGER, MONEY, NUMBER_TYPES, PERCENT, Column
from backoffice.money import format_money
from reports.registry import (
    RUN_PERMISSION,
    ReportParamError,
    ReportPermissionDenied,
    UnknownReport,
    get_report,
    reports_for,
    run_report,
)

PAGE_SIZE = 50
#: Chart.js colours (Unfold resolves ``var(...)`` to the theme's colours), one per series.
SERIES_COLOURS = ("var(--color-primary-600)", "var(--color-primary-300)", "var(--color-base-400)")


class DateInput(UnfoldAdminTextInputWidget):
    """The browser's own date picker, in Unfold's input style (ISO dates, which the filters parse)."""

    input_type = "date"


def _unfold_widgets(form: forms.Form) -> None:
    """The report's filter form in the admin's look (django-filter builds plain Django widgets)."""
    for field in form.fields.values():
        attrs = dict(field.widget.attrs)
        if isinstance(field, forms.DateField):
            field.widget = DateInput(attrs=attrs)
        elif isinstance(field, forms.NullBooleanField):
            field.widget = UnfoldAdminNullBooleanSelectWidget(attrs=attrs)
        elif isinstance(field, forms.ChoiceField | forms.ModelChoiceField) and isinstance(field.widget, forms.Select):
            field.widget = UnfoldAdminSelectWidget(attrs=attrs)
            field.widget.choices = field.choices
        elif isinstance(field.widget, forms.TextInput):
            field.widget = UnfoldAdminTextInputWidget(attrs=attrs)


def _page(request, title: str, template: str, context: dict, status: int = 200) -> TemplateResponse:
    context = {**admin.site.each_context(request), "title": title, **context}
    return TemplateResponse(request, template, context, status=status)


def denied(request, message: str) -> TemplateResponse:
    """403 in the admin's frame (sidebar and all), saying what was refused."""
    return _page(request, _("Not allowed"), "reports/denied.html", {"message": message}, status=403)


def report_list(request):
    """Every report the user may run, with its one-line description."""
    if not request.user.has_perm(RUN_PERMISSION):
        return denied(request, _("You may not run reports. Ask an administrator for a role that may."))
    entries = [
        {"report": report, "url": reverse("reports:detail", args=[report.name])} for report in reports_for(request.user)
    ]
    return _page(request, _("Reports"), "reports/report_list.html", {"entries": entries})


def _query(params: QueryDict, **changes) -> str:
    """``params`` without pagination and export switches, with ``changes``, as a query string."""
    query = params.copy()
    for key in ("page", "format"):
        query.pop(key, None)
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


def display(value, column: Column) -> str:
    """A cell as the page shows it (exports keep the raw types)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if column.type == MONEY and isinstance(value, int | Decimal | float):
        if column.number_format.endswith("##") and Decimal(value) != round(Decimal(value), 2):
            return number_format(Decimal(value), 4, force_grouping=True)  # a price that needs its 4 places
        return format_money(value, currency=False)
    if column.type == PERCENT and isinstance(value, int | Decimal | float):
        return f"{number_format(Decimal(value), 2, force_grouping=True)} %"
    if column.type == INTEGER and isinstance(value, int):
        return number_format(value, force_grouping=True)
    if column.type in NUMBER_TYPES and isinstance(value, int | Decimal | float):
        return number_format(value, force_grouping=True)
    if column.type in (DATE, DATETIME) and isinstance(value, dt.date):
        if not isinstance(value, dt.datetime):
            return value.isoformat()
        # Local time, as the exports write it (``backoffice.exports``): the database holds UTC.
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.date().isoformat() if column.type == DATE else local.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _cells(row, columns) -> list[dict]:
    return [
        {"text": display(row.get(column.name), column), "number": column.type in NUMBER_TYPES} for column in columns
    ]


def _chart(result) -> dict | None:
    chart = result.chart
    data = result.chart_data() if chart else None
    if not data or not data["labels"]:
        return None
    for index, dataset in enumerate(data["datasets"]):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        dataset.update({"borderColor": colour, "backgroundColor": colour, "displayYAxis": True})
        if chart.type == "bar":
            dataset["maxBarThickness"] = 32
    return {
        "type": chart.type if chart.type in ("line", "bar") else "bar",
        "title": chart.title,
        "json": json.dumps(data),
        "series": [dataset["label"] for dataset in data["datasets"]],
    }


def _actions(request, report) -> list[dict]:
    actions = []
    for action in report.actions:
        if action.permission and not request.user.has_perm(action.permission):
            continue
        url_name = action.url_name if ":" in action.url_name else f"reports:{action.url_name}"
        actions.append({"label": action.label, "url": reverse(url_name)})
    return actions


def report_detail(request, name: str):
    """One report: filters, a page of rows with the totals row, the chart and the exports."""
    try:
        report_class = get_report(name)
    except UnknownReport as unknown:
        raise Http404(str(unknown)) from None
    if not report_class.allowed(request.user):
        return denied(request, _("You may not run the %(report)s report.") % {"report": report_class.title})
    report = report_class(user=request.user)
    file_format = request.GET.get("format")
    context = {
        "report": report_class,
        "subtitle": report_class.description,
        "formats": [(fmt, fmt.upper(), f"?{_query(request.GET, format=fmt)}") for fmt in FORMATS],
        "reset_url": request.path,
    }
    status = 200
    if file_format is not None and file_format not in FORMATS:
        context["format_error"] = _("Unknown export format %(format)s: one of %(formats)s.") % {
            "format": file_format,
            "formats": ", ".join(FORMATS),
        }
        status = 400
        file_format = None
    try:
        result = run_report(name, request.GET, user=request.user)
    except ReportPermissionDenied as refused:
        return denied(request, str(refused))
    except ReportParamError:
        filterset = report.filterset(request.GET)
        if filterset.is_valid() and filterset.date_field:
            filterset.clean_dates()
        _unfold_widgets(filterset.form)
        context.update({"form": filterset.form, "invalid": True})
        # The page with its form's errors is a page like any other (as the admin's forms); a file asked for
        # with bad parameters is a bad request (the same page, saying what is wrong).
        status = 400 if file_format or status == 400 else 200
        return _page(request, report_class.title, "reports/report_detail.html", context, status=status)
    if file_format:
        return result.response(file_format)

    form = result.filterset.form
    _unfold_widgets(form)
    paginator = Paginator(result.rows, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    columns = result.columns
    row_key = report_class.row_key if report_class.actions else None
    rows = [
        {
            "cells": _cells(row, columns),
            "key": row.get(row_key) if row_key else None,
            "subtotal": bool(row.get("subtotal")),
        }
        for row in page.object_list
    ]
    totals = result.totals_row()
    context.update(
        {
            "form": form,
            "result": result,
            "columns": [{"header": c.header, "number": c.type in NUMBER_TYPES} for c in columns],
            "rows": rows,
            "totals": _cells(totals, columns) if totals else None,
            "page": page,
            "row_count": paginator.count,
            "page_links": _page_links(request, page),
            "chart": _chart(result),
            "actions": _actions(request, report_class) if row_key else [],
            "action_params": [(key, value) for key, values in request.GET.lists() for value in values if key != "page"],
        }
    )
    return _page(request, report_class.title, "reports/report_detail.html", context, status=status)


def _page_links(request, page) -> dict:
    def link(number):
        return f"?{_query(request.GET, page=str(number))}"

    paginator = page.paginator
    return {
        "first": link(1) if page.number > 1 else "",
        "previous": link(page.previous_page_number()) if page.has_previous() else "",
        "next": link(page.next_page_number()) if page.has_next() else "",
        "last": link(paginator.num_pages) if page.number < paginator.num_pages else "",
    }
