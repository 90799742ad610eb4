"""What ``manage.py import_data`` and ``manage.py export_data`` run: the admin's import engine, from a shell.

There is no second engine: a file is read by ``backoffice.uploads.read_upload``
(the same limits, encodings and XLSX checks as an upload), validated and
written by ``backoffice.imports`` through the same targets the admin uses (the
inventory and order resources, the historical order imports of
``orders.views``), all or nothing. Exports write the columns those imports read
through ``backoffice.exports.write_export``, so an export imported again
unchanged writes nothing.

``RESOURCES`` maps the command-line names to them (stock counts and opening
balances: ``inventory.stock_imports``; they are import-only).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import models
from django.test.utils import override_settings
from django.utils.module_loading import import_string
from simple_history.models import HistoricalRecords

from backoffice import import_jobs
from backoffice.errors import BusinessError
from backoffice.exports import AUTO, Column
from backoffice.imports import ImportTarget, Outcome, ResourceTarget, import_apply, import_validate, sheet_line
from backoffice.models import ImportJob
from backoffice.uploads import Sheet, UploadRefused, file_format_for, read_upload

EXISTS_REASON = "exists; use --update"
ERROR_COLUMNS = ("row", "column", "value", "reason")
TRUE_WORDS = {"true", "yes"}
FALSE_WORDS = {"false", "no"}


class DataCommandError(BusinessError):
    """A usage error of the data commands (unknown resource, missing file, refused file, bad filter): exit 2."""

    code = "data_command_usage"


@dataclass(frozen=True)
class DataResource:
    """One ``RESOURCE`` name: how it is imported and exported.

    ``resource`` is the import-export resource (dotted path) when the import is
    a resource import (it is also the export); ``target`` a dotted path to an
    ``ImportTarget`` instance otherwise (orders, stock counts, opening balances). Every target's errors
    number rows as the spreadsheet does (the header is row 1).
    """

    name: str
    resource: str = ""
    target: str = ""

    @property
    def exportable(self) -> bool:
        return bool(self.resource)

    def import_target(self) -> ImportTarget:
        if self.resource:
            return ResourceTarget(import_string(self.resource))
        return import_string(self.target)

    def resource_class(self):
        return import_string(self.resource)


RESOURCES: dict[str, DataResource] = {
    resource.name: resource
    for resource in (
        DataResource("products", resource="inventory.resources.ProductResource"),
        DataResource("supplier-products", resource="inventory.resources.SupplierProductResource"),
        DataResource("stock-counts", target="inventory.stock_imports.STOCK_COUNT_IMPORT"),
        DataResource("opening-balances", target="inventory.stock_imports.OPENING_BALANCE_IMPORT"),
        DataResource("reorder-settings", resource="inventory.resources.StockLevelResource"),
        DataResource("customers", resource="orders.resources.CustomerResource"),
        DataResource("suppliers", resource="inventory.resources.SupplierResource"),
        DataResource("sales-orders", target="orders.views.SALES_ORDER_IMPORT"),
        DataResource("purchase-orders", target="orders.views.PURCHASE_ORDER_IMPORT"),
    )
}


def data_resource(name: str, *, for_export: bool = False) -> DataResource:
    """The ``RESOURCE`` called ``name``; a ``DataCommandError`` naming the known ones otherwise."""
    resource = RESOURCES.get(name)
    if resource is None:
        raise DataCommandError(f"Unknown resource '{name}'. Known resources: {', '.join(RESOURCES)}.")
    if for_export and not resource.exportable:
        exportable = ", ".join(r.name for r in RESOURCES.values() if r.exportable)
        raise DataCommandError(f"'{name}' cannot be exported by export_data. Exportable resources: {exportable}.")
    return resource


# Import -------------------------------------------------------------------------------------------


def read_file(path: Path) -> Sheet:
    """The file read by the upload reader; ``DataCommandError`` with the reader's message if it is refused."""
    if not path.is_file():
        raise DataCommandError(f"No such file: {path}")
    file_format = file_format_for(path.name)
    if file_format is None:
        raise DataCommandError(f"“{path.name}” is not a CSV or Excel (.xlsx) file.")
    try:
        with path.open("rb") as handle:
            return read_upload(handle, file_format=file_format, name=path.name)
    except UploadRefused as refused:
        raise DataCommandError(refused.message) from None


@contextmanager
def history_user(user) -> Iterator[None]:
    """History rows written meanwhile name ``user`` (None: the system), as the admin's request would."""
    context = HistoricalRecords.context
    previous = getattr(context, "request", None)
    if user is None:
        if previous is not None:
            del context.request
    else:
        context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        if previous is not None:
            context.request = previous
        elif hasattr(context, "request"):
            del context.request


@dataclass
class ImportReport:
    """What ``run_import`` did: the engine's outcome, and every error with the value found in the file."""

    outcome: Outcome
    errors: list[dict[str, Any]] = field(default_factory=list)
    written: bool = False
    job: ImportJob | None = None  # the record of the run (the Imports list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _updated_rows(outcome: Outcome, sheet: Sheet) -> list[int]:
    """Spreadsheet row numbers (header = 1) of the rows that would change an existing record (resource imports)."""
    result = outcome.result
    rows = getattr(result, "rows", None)
    if rows is None:
        return []
    return [
        sheet_line(sheet, getattr(row, "number", None) or index)
        for index, row in enumerate(rows, 1)
        if getattr(row, "import_type", "") == "update"
    ]


def _key_column(resource: DataResource) -> str:
    if not resource.resource:
        return ""
    instance = resource.resource_class()()
    keys = [instance.fields[name].column_name for name in instance.get_import_id_fields()]
    return keys[0] if keys else ""


def _value(sheet: Sheet, row: int, column: str) -> str:
    index = row - sheet.first_row
    if not column or column not in sheet.headers or not 0 <= index < len(sheet.rows):
        return ""
    value = sheet.rows[index][sheet.headers.index(column)]
    return "" if value is None else str(value)


def _with_values(errors, sheet: Sheet) -> list[dict[str, Any]]:
    return [
        {
            "row": error["row"],
            "column": error["column"],
            "value": _value(sheet, error["row"], error["column"]),
            "reason": error["reason"],
        }
        for error in errors
    ]


DRY_RUN_MESSAGE = "Dry run from the command line: nothing was written."


def run_import(
    resource: DataResource,
    sheet: Sheet,
    *,
    user=None,
    dry_run: bool = False,
    update: bool = False,
    stage: Callable[[str], None] | None = None,
    file_name: str = "",
    progress: Callable[[int, int], None] | None = None,
):
    """Validate ``sheet`` and (unless ``dry_run``) import it, all or nothing, through the admin's engine.

    Without ``update`` a row that would change an existing record is an error
    (``EXISTS_REASON``) and nothing is written. Every error is kept (the admin
    shows the first ``IMPORT_PREVIEW_MAX_ERRORS``; the errors file lists all).
    ``stage`` is told "validating" and "importing" as the engine's passes start;
    ``progress(rows_done, rows_total)`` as the engine goes.

    The run is recorded as an ``ImportJob`` (who: ``user``, what, ``file_name``,
    counts, bad rows, duration, status), as an admin upload is, so the Imports
    list shows command-line imports too: *imported*, *failed*, or for a dry run
    *checked* with ``DRY_RUN_MESSAGE``.
    """
    target = resource.import_target()
    stage = stage or (lambda name: None)
    job = import_jobs.import_job_create(
        target=target,
        user=user,
        file_name=file_name,
        file_format=sheet.file_format,
        row_count=len(sheet),
        status=ImportJob.Status.VALIDATING if dry_run or not update else ImportJob.Status.IMPORTING,
    )
    recorder = import_jobs.ProgressRecorder(job)

    def tell(rows_done: int, rows_total: int) -> None:
        recorder(rows_done, rows_total)
        if progress is not None:
            progress(rows_done, rows_total)

    try:
        with history_user(user), override_settings(IMPORT_PREVIEW_MAX_ERRORS=sys.maxsize):
            if update and not dry_run:
                stage("importing")
                outcome = import_apply(sheet=sheet, target=target, user=user, progress=tell)
                report = ImportReport(outcome, written=outcome.ok)
            else:
                stage("validating")
                outcome = import_validate(sheet=sheet, target=target, user=user, progress=tell)
                report = ImportReport(outcome)
                if not update and outcome.updated:
                    column = _key_column(resource)
                    rows = _updated_rows(outcome, sheet) or [0]
                    extra = [{"row": row, "column": column, "reason": EXISTS_REASON} for row in rows]
                    outcome.errors = sorted(list(outcome.errors) + extra, key=lambda e: (e["row"], e["column"]))
                    outcome.error_count += len(extra)
                if outcome.ok and not dry_run:
                    stage("importing")
                    import_jobs.import_job_stage(job, ImportJob.Status.IMPORTING)
                    outcome = import_apply(sheet=sheet, target=target, user=user, progress=tell)
                    report = ImportReport(outcome, written=outcome.ok)
    except BaseException as error:
        crashed = Outcome(message=f"The import stopped: {error.__class__.__name__}. Nothing was written.")
        crashed.error_count = 1
        import_jobs.import_job_finished(job, crashed, status=ImportJob.Status.FAILED, target=target, sheet=sheet)
        raise
    if outcome.message and not outcome.errors:
        outcome.errors = [{"row": 0, "column": "", "reason": outcome.message}]
    report.errors = _with_values(outcome.errors, sheet)
    if not outcome.ok:
        status = ImportJob.Status.FAILED
    else:
        status = ImportJob.Status.VALIDATED if dry_run else ImportJob.Status.DONE
    import_jobs.import_job_finished(job, outcome, status=status, target=target, sheet=sheet)
    if status == ImportJob.Status.VALIDATED:
        job.message = DRY_RUN_MESSAGE
        job.save(update_fields=["message"])
    report.job = job
    return report


def errors_path(path: Path) -> Path:
    return path.with_name(path.name + ".errors.csv")


def write_errors(path: Path, errors: list[dict[str, Any]]) -> None:
    """``row, column, value, reason`` for every bad row, as CSV."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ERROR_COLUMNS)
        writer.writeheader()
        writer.writerows(errors)


# Export -------------------------------------------------------------------------------------------


def _lookup_field(model, key: str) -> models.Field | None:
    """The model field a filter key ends on (following relations), or None for an unknown name."""
    field = None
    for part in key.split("__"):
        if field is not None and field.is_relation and field.related_model is not None:
            model = field.related_model
        elif field is not None:
            return field  # the rest is a lookup (``__gte``, ``__icontains``…)
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None if field is None else field
    return field


def parse_filters(model, pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings as queryset filter lookups, each checked against ``model``'s fields."""
    filters: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DataCommandError(f"Bad filter '{pair}': write it as key=value (for example is_active=true).")
        field = _lookup_field(model, key)
        if field is None:
            names = ", ".join(sorted(f.name for f in model._meta.get_fields() if f.concrete))
            raise DataCommandError(
                f"Bad filter '{pair}': {model.__name__} has no field '{key.split('__')[0]}' ({names})."
            )
        if value.strip().lower() in TRUE_WORDS | FALSE_WORDS and (
            isinstance(field, models.BooleanField) or key.endswith("__isnull")
        ):
            value = value.strip().lower() in TRUE_WORDS
        filters[key] = value
    try:
        model._default_manager.filter(**filters).exists()
    except (FieldError, ValidationError, ValueError, TypeError) as error:
        message = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        raise DataCommandError(f"Bad filter {' '.join(pairs)}: {message}") from None
    return filters


def export_rows(resource: DataResource, filters: dict[str, Any]) -> tuple[list[Column], Callable[[], Iterator]]:
    """The columns the import reads and a generator of the matching records' values, typed."""
    instance = resource.resource_class()()
    export_fields = instance.get_export_fields()
    label = getattr(instance, "column_label", str)  # readable headers ("Sale price"); the import reads them back
    columns = [Column(f.column_name, label(f.column_name), AUTO) for f in export_fields]
    queryset = instance.filter_export(instance.get_queryset().filter(**filters).order_by("pk"))

    def cell(export_field, obj):
        value = export_field.get_value(obj)
        if isinstance(value, models.Model):
            return export_field.widget.render(value)
        return value

    def rows():
        for obj in queryset.iterator(chunk_size=2000):
            yield [cell(f, obj) for f in export_fields]

    return columns, rows


def export_title(resource: DataResource) -> str:
    return resource.name.replace("-", " ").capitalize()


class TextSink(io.RawIOBase):
    """A binary file whose bytes go to a text stream (the command's stdout)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.stream.write(bytes(data).decode("utf-8"), ending="")
        return len(data)
