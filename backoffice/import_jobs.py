"""The record of every import (``ImportJob``): status, counts, progress, bad rows — what the Imports pages show.

The import engine (``backoffice.imports``) calls in here at each step:

* ``import_job_create`` when a file is uploaded (before it is validated, now
  or in the background);
* ``import_job_started`` when a validation or an import starts, and
  ``import_job_finished`` with the engine's ``Outcome`` when it ends: counts,
  the first ``BAD_ROWS_KEPT`` bad rows on the record and *all* of them in a CSV
  file (``row, column, value, reason``; written through ``backoffice.exports``,
  formula-safe, ready to fix and upload again);
* a ``ProgressRecorder`` is the ``progress(rows_done, rows_total)`` callable
  handed to the engine. It writes at most every ``PROGRESS_INTERVAL`` seconds.
  While the import's transaction is open (all or nothing: nothing it writes is
  visible to other connections until it commits, and SQLite allows one writer),
  the figures go to a small JSON file beside the import files, which the
  status endpoint reads; outside a transaction they are stored on the job.

Row numbers are the spreadsheet's: the header is row 1, the first data row
row 2 (the engine's outcomes already number rows so, as the preview shows them).

Who sees what (``import_jobs_visible``): every staff user their own imports;
Admins and Managers (permission ``backoffice.view_all_importjob``) and
superusers everyone's.

Files (the stored upload, the bad rows CSV, the progress file) are deleted
after ``IMPORT_PREVIEW_MAX_AGE`` (24 hours) by the previews' cleanup; the job
record — who, what, when, counts and the first bad rows — is kept.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from backoffice import exports
from backoffice.exports import Column
from backoffice.models import ImportJob, ImportPreview

BAD_ROWS_KEPT = 100
PROGRESS_INTERVAL = 0.5
VIEW_ALL_PERMISSION = "backoffice.view_all_importjob"
BAD_ROW_COLUMNS = [
    Column("row", "row", exports.INTEGER),
    Column("column", "column"),
    Column("value", "value"),
    Column("reason", "reason"),
]


def jobs_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "import-jobs"


def progress_path(job_id: int) -> Path:
    return jobs_folder() / "progress" / f"{int(job_id)}.json"


# Who sees what -------------------------------------------------------------------------------------


def sees_all_imports(user) -> bool:
    return bool(user.is_active and (user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION)))


def import_jobs_visible(user) -> QuerySet[ImportJob]:
    """The jobs ``user`` may see: their own, or everyone's for Admins and Managers."""
    jobs = ImportJob.objects.select_related("user")
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return jobs.none()
    return jobs if sees_all_imports(user) else jobs.filter(user=user)


# What a target imports -----------------------------------------------------------------------------


def target_model(target):
    """The model an import target writes (a resource's model, an order import's model), or None."""
    resource_class = getattr(target, "resource_class", None)
    if resource_class is not None:
        return resource_class._meta.model
    return getattr(target, "model", None)


def spreadsheet_row(target, sheet, row: int) -> int:
    """An error's row as the spreadsheet numbers it (header = 1); 0 (the whole file) stays 0."""
    if not row:
        return 0
    if getattr(target, "error_rows_are_lines", True):
        return row
    return row + sheet.first_row - 1


def _cell(sheet, line: int, column: str) -> str:
    index = line - sheet.first_row
    if not column or column not in sheet.headers or not 0 <= index < len(sheet.rows):
        return ""
    value = sheet.rows[index][sheet.headers.index(column)]
    return "" if value is None else str(value)


def bad_rows(errors: Iterable[dict[str, Any]], *, target, sheet) -> list[dict[str, Any]]:
    """Every error as ``{row, column, value, reason}``: spreadsheet row number and the value found in the file."""
    found = []
    for error in errors:
        row = spreadsheet_row(target, sheet, error.get("row") or 0) if sheet is not None else error.get("row") or 0
        column = error.get("column") or ""
        value = _cell(sheet, row, column) if sheet is not None and row else ""
        found.append({"row": row, "column": column, "value": value, "reason": str(error.get("reason", ""))})
    found.sort(key=lambda error: (error["row"], error["column"]))
    return found


# The engine's calls ----------------------------------------------------------------------------------


def import_job_create(
    *,
    target,
    user,
    file_name: str,
    file_format: str = "",
    row_count: int = 0,
    preview: ImportPreview | None = None,
    status: str = ImportJob.Status.QUEUED,
) -> ImportJob:
    """Record an upload (before anything is validated)."""
    model = target_model(target)
    now = timezone.now()
    return ImportJob.objects.create(
        user=user if getattr(user, "pk", None) else None,
        preview=preview,
        target=target.name,
        what=str(model._meta.verbose_name_plural) if model is not None else target.name.rsplit(".", 1)[-1],
        model_label=model._meta.label_lower if model is not None else "",
        file_name=Path(file_name or "").name[:255],
        file_format=file_format,
        stored_name=preview.stored_name if preview is not None else "",
        row_count=row_count,
        status=status,
        started_at=None if status == ImportJob.Status.QUEUED else now,
    )


def import_job_attach(job: ImportJob | None, preview: ImportPreview) -> None:
    """The upload was stored as ``preview`` (after its validation, for a small file)."""
    if job is None:
        return
    ImportJob.objects.filter(pk=job.pk).update(preview=preview, stored_name=preview.stored_name)
    job.preview, job.stored_name = preview, preview.stored_name


def import_job_queued(job: ImportJob | None) -> None:
    """The import was confirmed and queued for a worker."""
    if job is None:
        return
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED, rows_done=0, finished_at=None)


def import_job_stage(job: ImportJob | None, status: str) -> None:
    """The run goes on to its next step (validating → importing) without restarting its clock."""
    if job is None:
        return
    job.status = status
    ImportJob.objects.filter(pk=job.pk).update(status=status)


def import_job_started(job: ImportJob | None, *, apply: bool) -> None:
    """A validation (``apply=False``) or the import itself starts."""
    if job is None:
        return
    job.status = ImportJob.Status.IMPORTING if apply else ImportJob.Status.VALIDATING
    job.started_at = timezone.now()
    job.rows_done = 0
    job.finished_at = None
    ImportJob.objects.filter(pk=job.pk).update(
        status=job.status, started_at=job.started_at, rows_done=0, finished_at=None
    )
    progress_path(job.pk).unlink(missing_ok=True)


def import_job_finished(
    job: ImportJob | None, outcome, *, status: str, target=None, sheet=None, stored_file_deleted: bool = False
) -> None:
    """Record what a validation or an import found: counts, bad rows (all in a CSV file), duration."""
    if job is None:
        return
    now = timezone.now()
    errors = list(getattr(outcome, "every_error", None) or outcome.errors)
    if outcome.message and not errors:
        errors = [{"row": 0, "column": "", "reason": outcome.message}]
    rows = bad_rows(errors, target=target, sheet=sheet)
    job.status = status
    job.new, job.updated, job.unchanged = outcome.new, outcome.updated, outcome.unchanged
    job.error_count = max(outcome.error_count, len(rows))
    job.bad_row_count = len({row["row"] for row in rows if row["row"]}) or (1 if rows else 0)
    job.row_count = outcome.row_count or job.row_count
    job.rows_done = job.row_count if status != ImportJob.Status.FAILED or not outcome.message else job.rows_done
    job.bad_rows = rows[:BAD_ROWS_KEPT]
    job.message = outcome.message
    job.finished_at = now
    if job.started_at:
        job.seconds += max(0.0, (now - job.started_at).total_seconds())
    old_errors_file = job.errors_file
    job.errors_file = _write_bad_rows(rows) if rows else ""
    if stored_file_deleted:
        job.stored_name = ""
    job.save(
        update_fields=[
            "status",
            "new",
            "updated",
            "unchanged",
            "error_count",
            "bad_row_count",
            "row_count",
            "rows_done",
            "bad_rows",
            "message",
            "finished_at",
            "seconds",
            "errors_file",
            "stored_name",
        ]
    )
    if old_errors_file and old_errors_file != job.errors_file:
        (jobs_folder() / old_errors_file).unlink(missing_ok=True)
    progress_path(job.pk).unlink(missing_ok=True)


def _write_bad_rows(rows: list[dict[str, Any]]) -> str:
    folder = jobs_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.errors.csv"
    with (folder / name).open("wb") as file:
        exports.write_export(rows, BAD_ROW_COLUMNS, exports.CSV, file)
    return name


def bad_rows_file(job: ImportJob) -> Path | None:
    """The CSV of all the job's bad rows, while it is kept."""
    if not job.errors_file:
        return None
    path = jobs_folder() / job.errors_file
    return path if path.is_file() else None


def bad_rows_filename(job: ImportJob) -> str:
    stem = Path(job.file_name).stem or "import"
    return f"{stem}-bad-rows.csv"


# Progress ------------------------------------------------------------------------------------------


class ProgressRecorder:
    """The engine's ``progress(rows_done, rows_total)``: kept at most every ``PROGRESS_INTERVAL`` seconds."""

    def __init__(self, job: ImportJob | None, *, interval: float | None = None, clock=None) -> None:
        self.job_id = job.pk if job is not None else None
        self.interval = PROGRESS_INTERVAL if interval is None else interval
        self.clock = clock or time.monotonic
        self.last: float | None = None
        self.writes = 0

    def __call__(self, rows_done: int, rows_total: int) -> None:
        if self.job_id is None:
            return
        now = self.clock()
        finished = rows_total and rows_done >= rows_total
        if self.last is not None and now - self.last < self.interval and not finished:
            return
        self.last = now
        self.writes += 1
        rows_done, rows_total = max(0, int(rows_done)), max(0, int(rows_total))
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job_id).update(rows_done=rows_done, row_count=rows_total)
        _write_progress(self.job_id, rows_done, rows_total)


def _write_progress(job_id: int, rows_done: int, rows_total: int) -> None:
    path = progress_path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"rows_done": rows_done, "rows_total": rows_total, "at": time.time()}))
    os.replace(temporary, path)


def _read_progress(job_id: int) -> dict[str, Any] | None:
    try:
        data = json.loads(progress_path(job_id).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def import_job_status(job: ImportJob, *, now: datetime | None = None) -> dict[str, Any]:
    """What the result page's progress bar shows: rows done, percent, rows/s, seconds left, counts."""
    now = now or timezone.now()
    rows_total, rows_done = job.row_count, job.rows_done
    if job.running:
        found = _read_progress(job.pk)
        if found:
            rows_done = int(found.get("rows_done") or 0)
            rows_total = int(found.get("rows_total") or rows_total)
    elif job.status in (ImportJob.Status.DONE, ImportJob.Status.VALIDATED):
        rows_done = rows_total
    rows_done = min(rows_done, rows_total) if rows_total else rows_done
    elapsed = (now - job.started_at).total_seconds() if job.started_at and job.running else 0
    rate = rows_done / elapsed if elapsed > 0 and rows_done else None
    seconds_left = (rows_total - rows_done) / rate if rate else None
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "running": job.running,
        "rows_done": rows_done,
        "rows_total": rows_total,
        "percent": round(100 * rows_done / rows_total, 1) if rows_total else (100.0 if not job.running else 0.0),
        "rows_per_second": round(rate) if rate else None,
        "seconds_left": round(seconds_left) if seconds_left is not None else None,
        "new": job.new,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "error_count": job.error_count,
        "bad_row_count": job.bad_row_count,
        "message": job.message,
    }


# Cleanup -------------------------------------------------------------------------------------------


def import_jobs_cleanup(*, cutoff: datetime) -> int:
    """Jobs older than ``cutoff``: files deleted (bad rows CSV, progress), unconfirmed ones expired; records kept."""
    old = ImportJob.objects.filter(created_at__lt=cutoff)
    expired = old.filter(status=ImportJob.Status.VALIDATED).update(status=ImportJob.Status.EXPIRED)
    for job in old.exclude(Q(errors_file="") & Q(stored_name="")).only("pk", "errors_file", "stored_name", "status"):
        if job.errors_file:
            (jobs_folder() / job.errors_file).unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(errors_file="", stored_name="")
    progress = jobs_folder() / "progress"
    if progress.is_dir():
        for path in progress.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return expired
