"""``/api/v1/reports/``: the report registry over the API (the same numbers as the admin pages).

``reports/`` lists the reports the user may run; ``reports/{name}/?param=…`` runs one through
``reports.registry.run_report(strict=False, user=request.user)`` and returns its rows (page by page)
and totals as JSON; ``&format=csv|xlsx`` streams the file the admin page exports.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from backoffice.api_base import PageNumberPages
from backoffice.api_schema import error_responses
from backoffice.exports import MONEY
from reports.registry import (
    ReportParamError,
    ReportPermissionDenied,
    UnknownReport,
    get_report,
    reports_for,
    run_report,
)

FILE_FORMATS = ("csv", "xlsx")
RUN_REPORTS = "reports.run_report"


def _json_value(value, column_type: str):
    if isinstance(value, Decimal):
        return f"{value:.2f}" if column_type == MONEY else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _row(row, columns) -> dict:
    return {column.name: _json_value(row.get(column.name), column.type) for column in columns}


def _describe(report) -> dict:
    return {
        "name": report.name,
        "title": report.title,
        "description": report.description,
        "parameters": sorted(report.filterset_class.base_filters),
    }


REPORT_INFO = inline_serializer(
    "ReportInfo",
    many=True,
    fields={
        "name": serializers.CharField(),
        "title": serializers.CharField(),
        "description": serializers.CharField(),
        "parameters": serializers.ListField(child=serializers.CharField()),
    },
)
REPORT_RESULT = inline_serializer(
    "ReportRows",
    fields={
        "name": serializers.CharField(),
        "title": serializers.CharField(),
        "period": serializers.ListField(child=serializers.DateField(allow_null=True), allow_null=True),
        "params": serializers.DictField(),
        "columns": serializers.ListField(child=serializers.DictField()),
        "count": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
        "results": serializers.ListField(child=serializers.DictField()),
        "totals": serializers.DictField(allow_null=True),
    },
)


class ReportViewSet(viewsets.ViewSet):
    """Reports: list and run. Running needs ``reports.run_report`` and the report's own data permissions."""

    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9_-]+"

    def _check_may_run(self, request):
        if not request.user.has_perm(RUN_REPORTS):
            raise PermissionDenied("You may not run reports.")

    def perform_content_negotiation(self, request, force=False):
        # ``?format=csv|xlsx`` picks the report file, not a DRF renderer.
        if request.query_params.get("format") in FILE_FORMATS:
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="List the reports you may run",
        responses={200: REPORT_INFO},
        examples=[
            OpenApiExample(
                "Reports",
                value={  # one report: drf-spectacular shows it in the list
                    "name": "sales-summary",
                    "title": "Sales summary",
                    "description": "Orders, units and revenue per period.",
                    "parameters": ["date_from", "date_to", "group_by", "warehouse"],
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        self._check_may_run(request)
        return Response([_describe(report) for report in reports_for(request.user)])

    @extend_schema(
        summary="Run a report",
        description="Parameters as on the admin report page (see `parameters` in the list); rows paginated "
        "(`page`, `page_size`), totals over every row. `format=csv|xlsx` streams the file instead.",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", *FILE_FORMATS], required=False),
            OpenApiParameter("page", OpenApiTypes.INT, required=False),
            OpenApiParameter("page_size", OpenApiTypes.INT, required=False),
        ],
        responses={200: REPORT_RESULT, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Sales summary by month",
                value={
                    "name": "sales-summary",
                    "title": "Sales summary",
                    "period": ["2026-01-01", "2026-01-31"],
                    "params": {"date_from": "2026-01-01", "date_to": "2026-01-31", "group_by": "month"},
                    "columns": [
                        {"name": "period", "header": "Period", "type": "text"},
                        {"name": "revenue", "header": "Revenue", "type": "money"},
                    ],
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [{"period": "2026-01", "revenue": "18250.00"}],
                    "totals": {"revenue": "18250.00"},
                },
                response_only=True,
            )
        ],
    )
    def retrieve(self, request, name=None):
        self._check_may_run(request)
        try:
            get_report(name)
        except UnknownReport:
            raise NotFound(f"No report named {name!r}.") from None
        params = request.query_params.copy()
        params.pop("page_size", None)
        try:
            result = run_report(name, params, user=request.user, strict=False)
        except ReportPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        except ReportParamError as error:
            raise ValidationError({key: list(map(str, value)) for key, value in error.errors.items()}) from None
        file_format = request.query_params.get("format")
        if file_format in FILE_FORMATS:
            return result.response(file_format)
        paginator = PageNumberPages()
        page = paginator.paginate_queryset(result.rows, request, view=self)
        columns = result.columns
        totals = result.totals
        return Response(
            {
                "name": result.name,
                "title": result.report.title,
                "period": [day.isoformat() if day else None for day in result.period] if result.period else None,
                "params": {key: value for key, value in result.raw_params.items()},
                "columns": [{"name": c.name, "header": c.header, "type": c.type} for c in columns],
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": [_row(row, columns) for row in page],
                "totals": {key: _json_value(value, _type(columns, key)) for key, value in totals.items()}
                if totals
                else None,
            }
        )


def _type(columns, name: str) -> str:
    return next((column.type for column in columns if column.name == name), "")
