"""The import engine: read (``backoffice.uploads``) → validate (dry run) → preview → confirm → write.

Every import goes through here, whatever it writes into:

* an **import target** says how to validate and apply a ``Sheet``:
  ``ResourceTarget`` wraps a django-import-export resource (the admin's model
  imports), and ``orders.views`` declares ``ImportTarget`` subclasses for the
  historical order imports. Both return an ``Outcome`` (counts, the first
  rows, every error) that the preview and status pages render.
* an **``ImportPreview``** binds the uploaded file, stored under
  ``MEDIA_ROOT/imports/``, to the user and the session that previewed it. The
  confirm step accepts only its token, once, for that user and session, while
  the file is unchanged and not older than ``IMPORT_PREVIEW_MAX_AGE``; anything
  else raises ``PreviewExpired`` ("This preview expired — upload the file
  again"). The client never names a file.
* files with more than ``IMPORT_SYNC_MAX_ROWS`` rows are validated and
  imported by django-q2 tasks (``backoffice.tasks``) through the same
  functions, the page showing their status meanwhile.
* ``import_upload`` (the upload step) and ``import_confirm`` (the confirm
  step) are the one flow every import page calls.
* The write happens only after an atomic claim: the confirm step moves a
  preview from *previewed* to *confirmed* (token, user, session, once), and
  the import moves it from *confirmed* to *importing*. A task queued by anyone
  else (a schedule naming a preview id) or run again by a django-q2 retry finds
  no *confirmed* preview and does nothing. A crash marks the preview *failed*
  (rolled back, logged with its traceback) instead of leaving it running.
"""

from __future__ import annotations

import abc
import copy
import functools
import hashlib
import inspect
import io
import math
import re
import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task
from import_export.resources import Resource

from backoffice import import_jobs, import_plans
from backoffice.bulk_import import BulkImport, ImportPlan, PlanOutdated, plan_result, supports_bulk
from backoffice.bulk_writes import write_plan
from backoffice.errors import BusinessError, ImportRejected, RowError
from backoffice.events import business_event
from backoffice.metrics import IMPORTS_FINISHED
from backoffice.models import ImportJob, ImportPreview
from backoffice.uploads import Sheet, UploadLimits, UploadRefused, estimate_rows, read_upload

PREVIEW_ROWS = 100
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
RESOURCE_PREFIX = "resource:"
CRASH_MESSAGE = "The import failed unexpectedly; nothing was written. The administrators have been told."
VALIDATE_TASK = "backoffice.tasks.import_validate_task"
APPLY_TASK = "backoffice.tasks.import_apply_task"
TASK_MIN_TIMEOUT = 300

logger = structlog.get_logger(__name__)


class PreviewExpired(BusinessError):
    """The confirm step was given something other than a live preview of this user and session."""

    code = "preview_expired"

    def default_message(self) -> str:
        return "This preview expired — upload the file again."


def preview_max_age() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "IMPORT_PREVIEW_MAX_AGE", 24 * 60 * 60)))


def sync_max_rows() -> int:
    return int(getattr(settings, "IMPORT_SYNC_MAX_ROWS", 1000))


def max_errors_shown() -> int:
    return int(getattr(settings, "IMPORT_PREVIEW_MAX_ERRORS", 1000))


def task_timeout() -> int:
    """Seconds a background validation or import may take: enough for a file of ``IMPORT_MAX_ROWS`` rows."""
    rows = int(getattr(settings, "IMPORT_MAX_ROWS", 200_000))
    return max(TASK_MIN_TIMEOUT, math.ceil(rows * settings.IMPORT_TASK_SECONDS_PER_ROW))


def request_session_key(request) -> str:
    """The session a preview is bound to (created if the user has none yet)."""
    if not request.session.session_key:
        request.session.cycle_key()
    return request.session.session_key


# Outcome ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a validation or an import found: counts, the first rows, every error (shown up to a cap)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_count: int = 0
    notes: list[str] = field(default_factory=list)
    message: str = ""
    # The import-export ``Result`` of a resource import (not stored).
    result: Any = None
    # The validated plan of a bulk resource import (``backoffice.bulk_import``; not stored here, see import_plans).
    plan: Any = field(default=None, repr=False)
    # Every error, beyond the listed ones (not stored: the import's job keeps them in its bad rows file).
    every_error: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # The ``ImportJob`` recording this import (backoffice.import_jobs), when there is one.
    job_id: int | None = None

    NOT_STORED: ClassVar[frozenset[str]] = frozenset({"result", "plan", "every_error"})

    @property
    def ok(self) -> bool:
        return not self.error_count

    @property
    def errors_not_shown(self) -> int:
        return max(0, self.error_count - len(self.errors))

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = max(0, max_errors_shown() - len(self.errors))
        self.errors.extend(asdict(error) for error in errors[:room])
        self.every_error.extend(asdict(error) for error in errors)

    def as_json(self) -> dict[str, Any]:
        # Field by field: ``asdict(self)`` would deep-copy the plan (every row of the file) only to drop it.
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name not in self.NOT_STORED}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        known = {name for name in cls.__dataclass_fields__ if name not in cls.NOT_STORED}
        return cls(**{key: value for key, value in (data or {}).items() if key in known})


def sheet_line(sheet: Sheet | None, number: int) -> int:
    """Data row ``number`` (first data row = 1) as the spreadsheet numbers it (header = 1); 0 (the file) stays 0."""
    if not number:
        return 0
    return number + (sheet.first_row if sheet is not None else Sheet.first_row) - 1


def first_rows(sheet: Sheet, kinds: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """The first rows of the file as text, numbered as the spreadsheet does (header = 1), with what the import
    does with each (new, update, …) when known (``kinds`` by the same row numbers)."""
    rows = []
    for index, values in enumerate(sheet.rows[:PREVIEW_ROWS], sheet.first_row):
        rows.append(
            {
                "number": index,
                "kind": (kinds or {}).get(index, ""),
                "values": ["" if value is None else str(value) for value in values],
            }
        )
    return rows


# Targets ------------------------------------------------------------------------------------------


class ImportTarget(abc.ABC):
    """How one kind of import validates and writes a sheet. Subclasses set ``name`` (a dotted path to the instance).

    ``validate`` and ``apply`` may take a keyword argument ``progress``: the
    engine then hands them its ``progress(rows_done, rows_total)`` callable.
    """

    name = ""
    # Errors' ``row`` is the line of the file, as the spreadsheet numbers it (header = 1, first data row = 2).
    error_rows_are_lines = True

    @abc.abstractmethod
    def validate(self, sheet: Sheet, user) -> Outcome:
        """Check every row and write nothing: the preview."""

    @abc.abstractmethod
    def apply(self, sheet: Sheet, user) -> Outcome:
        """Check every row and write them all, or nothing when any row is bad."""


class ResourceTarget(ImportTarget):
    """A django-import-export resource: all or nothing (any bad row rolls the whole file back).

    import-export and the bulk plan count data rows from 1; the outcome numbers them as the spreadsheet does."""

    def __init__(self, resource_class: type[Resource], **resource_kwargs) -> None:
        self.resource_class = resource_class
        self.resource_kwargs = resource_kwargs
        self.name = f"{RESOURCE_PREFIX}{resource_class.__module__}.{resource_class.__qualname__}"

    def run(
        self, sheet: Sheet | None, user, *, dry_run: bool, progress=None, plan: ImportPlan | None = None
    ) -> Outcome:
        resource = self.resource_class(**self.resource_kwargs)

        def readable(sheet):
            """``sheet`` with readable headers ("Sale price", as templates and exports write them) read as the column
            names; done only where the rows are read (a plan given is written without reading the file)."""
            if sheet is not None and hasattr(resource, "canonical_headers"):
                sheet.headers = resource.canonical_headers(sheet.headers)
            return sheet

        if supports_bulk(self.resource_class):
            # Validated into a plan (the preview), the plan written in bulk with history (backoffice.bulk_import).
            # A plan given (validated earlier by this user, e.g. the preview being confirmed) is written as it is.
            if hasattr(resource, "user"):
                resource.user = user
            with transaction.atomic():
                fresh = plan is None or not self.owns(plan)
                if fresh:
                    plan = BulkImport(resource, readable(sheet), user, progress).validate()
                note = ""
                if not dry_run and plan.ok and not fresh:
                    try:
                        write_plan(plan, resource, user, progress=progress)
                    except PlanOutdated as outdated:
                        # Records changed since the preview: the file is checked again against them (nothing was
                        # written yet) and written only if every row is still good.
                        logger.info("import.plan_outdated", target=self.name, reason=outdated.message)
                        note = "The data changed since the preview: the file was checked again before importing."
                        plan = BulkImport(resource, readable(sheet), user, progress).validate()
                        fresh = True
                if not dry_run and plan.ok and fresh:
                    write_plan(plan, resource, user, progress=progress, fresh=True)
            outcome = outcome_of_plan(plan, sheet)
            if note:
                outcome.notes.append(note)
            return outcome
        result = resource.import_data(
            readable(sheet).dataset(),
            dry_run=dry_run,
            raise_errors=False,
            use_transactions=True,
            rollback_on_validation_errors=True,
            retain_instance_in_row_result=True,
            user=user,
        )
        return outcome_of_result(result, sheet)

    def owns(self, plan) -> bool:
        """Whether ``plan`` was made by this target's resource (and by the current engine)."""
        return (
            isinstance(plan, ImportPlan)
            and self.name == f"{RESOURCE_PREFIX}{plan.resource}"
            and plan.version == ImportPlan.version
        )

    def validate(self, sheet: Sheet, user, progress=None) -> Outcome:
        return self.run(sheet, user, dry_run=True, progress=progress)

    def apply(self, sheet: Sheet | None, user, progress=None, plan: ImportPlan | None = None) -> Outcome:
        """Write ``sheet``; with the ``plan`` its validation made, that plan is written without a second pass."""
        return self.run(sheet, user, dry_run=False, progress=progress, plan=plan)


def outcome_of_plan(plan: ImportPlan, sheet: Sheet | None) -> Outcome:
    """A bulk import's plan summarised as the preview and result pages show it."""
    outcome = Outcome(
        new=len(plan.new_rows),
        updated=len(plan.update_rows),
        unchanged=plan.unchanged,
        columns=list(plan.headers),
        row_count=plan.row_count,
        notes=list(plan.notes),
        result=plan_result(plan, sheet),
        plan=plan,
    )
    outcome.add_errors(
        [RowError(row=sheet_line(sheet, row), column=column, reason=reason) for row, column, reason in plan.errors]
    )
    kinds = dict(plan.preview_kinds)
    outcome.rows = [
        {"number": sheet_line(sheet, index), "kind": kinds.get(index, ""), "values": values}
        for index, values in enumerate(plan.first_rows, 1)
    ]
    return outcome


def outcome_of_result(result, sheet: Sheet) -> Outcome:
    """An import-export ``Result`` summarised: counts, kind of the first rows, every error by row and column."""
    totals = result.totals
    outcome = Outcome(
        new=totals.get("new", 0),
        updated=totals.get("update", 0),
        unchanged=totals.get("skip", 0),
        columns=list(sheet.headers),
        row_count=len(sheet),
        notes=list(sheet.notes),
        result=result,
    )
    errors = [RowError(row=0, column="", reason=str(error.error)) for error in result.base_errors]
    for number, row_errors in result.row_errors():
        line = sheet_line(sheet, number)
        errors.extend(RowError(row=line, column="", reason=str(error.error)) for error in row_errors)
    for row in result.invalid_rows:
        for column, messages in row.error_dict.items():
            label = "" if column == "__all__" else column
            line = sheet_line(sheet, row.number)
            errors.extend(RowError(row=line, column=label, reason=str(message)) for message in messages)
    errors.sort(key=lambda error: (error.row, error.column))
    outcome.add_errors(errors)
    kinds = {}
    for index, row in enumerate(result.rows[:PREVIEW_ROWS], 1):
        kinds[sheet_line(sheet, getattr(row, "number", None) or index)] = row.import_type
    for row in result.invalid_rows:
        if row.number <= PREVIEW_ROWS:
            kinds[sheet_line(sheet, row.number)] = "invalid"
    outcome.rows = first_rows(sheet, kinds)
    return outcome


def outcome_of_rejection(rejected: ImportRejected, sheet: Sheet) -> Outcome:
    outcome = Outcome(columns=list(sheet.headers), row_count=len(sheet), notes=list(sheet.notes))
    outcome.add_errors(rejected.errors)
    outcome.rows = first_rows(sheet)
    return outcome


def resolve_target(name: str) -> ImportTarget:
    """The target a stored preview names (set by the server, never by the client)."""
    if name.startswith(RESOURCE_PREFIX):
        resource_class = import_string(name[len(RESOURCE_PREFIX) :])
        if not (isinstance(resource_class, type) and issubclass(resource_class, Resource)):
            raise PreviewExpired()
        return ResourceTarget(resource_class)
    target = import_string(name)
    if not isinstance(target, ImportTarget):
        raise PreviewExpired()
    return target


# Previews -----------------------------------------------------------------------------------------


def imports_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def _session_hash(session_key: str | None) -> str:
    if not session_key:
        raise PreviewExpired()
    return hashlib.sha256(f"{settings.SECRET_KEY}:{session_key}".encode()).hexdigest()


def import_preview_create(
    *,
    content: bytes,
    sheet: Sheet | None,
    user,
    session_key: str | None,
    target: ImportTarget,
    file_name: str,
    status: str,
    file_format: str = "",
    row_count: int = 0,
) -> ImportPreview:
    """Store the uploaded file under ``MEDIA_ROOT/imports/`` and record whose preview it is.

    ``sheet``: the file as read; None for a file stored unread (``file_format`` and an estimated ``row_count``
    given instead; the background validation reads it and records its real row count)."""
    folder = imports_folder()
    folder.mkdir(parents=True, exist_ok=True)
    if sheet is not None:
        file_format, row_count = sheet.file_format, len(sheet)
    stored_name = f"{secrets.token_hex(16)}.{file_format}"
    path = folder / stored_name
    path.write_bytes(content)
    try:
        return ImportPreview.objects.create(
            token=secrets.token_urlsafe(32),
            user=user,
            session_hash=_session_hash(session_key),
            target=target.name,
            file_format=file_format,
            file_name=Path(file_name).name[:255],
            stored_name=stored_name,
            sha256=hashlib.sha256(content).hexdigest(),
            row_count=row_count,
            status=status,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def import_preview_get(*, token: Any, user, session_key: str | None) -> ImportPreview:
    """This user's and session's live preview with ``token``; anything else is ``PreviewExpired``."""
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        raise PreviewExpired()
    preview = ImportPreview.objects.filter(token=token).first()
    if (
        preview is None
        or user is None
        or preview.user_id != user.pk
        or not secrets.compare_digest(preview.session_hash, _session_hash(session_key))
        or preview.created_at < timezone.now() - preview_max_age()
    ):
        raise PreviewExpired()
    return preview


def import_preview_claim(
    *, token: Any, user, session_key: str | None, read: bool = True
) -> tuple[ImportPreview, Sheet | None]:
    """Take a previewed file for import, once: the preview and the sheet re-read from the unchanged file.

    ``read=False``: the file is only checked unchanged (its SHA-256), not read (None for the sheet): a big file
    is read by the background import, not in the Confirm request."""
    preview = import_preview_get(token=token, user=user, session_key=session_key)
    content = _stored_content(preview)
    claimed = ImportPreview.objects.filter(pk=preview.pk, status=ImportPreview.Status.PREVIEWED).update(
        status=ImportPreview.Status.CONFIRMED, confirmed_at=timezone.now()
    )
    if not claimed:
        raise PreviewExpired()
    preview.refresh_from_db()
    if not read:
        return preview, None
    try:
        sheet = read_upload(io.BytesIO(content), file_format=preview.file_format, name=preview.file_name)
    except UploadRefused:
        import_preview_discard(preview)
        raise PreviewExpired() from None
    return preview, sheet


def _stored_content(preview: ImportPreview) -> bytes:
    path = imports_folder() / preview.stored_name
    try:
        content = path.read_bytes()
    except OSError:
        raise PreviewExpired() from None
    if not secrets.compare_digest(hashlib.sha256(content).hexdigest(), preview.sha256):
        raise PreviewExpired()
    return content


def import_preview_sheet(preview: ImportPreview) -> Sheet:
    """The stored file read again (for a background task)."""
    return read_upload(io.BytesIO(_stored_content(preview)), file_format=preview.file_format, name=preview.file_name)


class StoredSheet:
    """The stored file of a preview whose validated plan is being written (``import_plans``).

    The file is checked unchanged at once (its SHA-256, as ``import_preview_sheet`` does: ``PreviewExpired``
    otherwise) but read into rows only if something needs them: the plan outdated and the file checked again,
    or bad rows whose values are quoted. Writing a plan needs only its row count (the plan's, made from this
    very file: the plan is bound to the file's hash)."""

    first_row = Sheet.first_row

    def __init__(self, preview: ImportPreview, *, row_count: int) -> None:
        self._content = _stored_content(preview)
        self._preview = preview
        self._row_count = row_count
        self._sheet: Sheet | None = None

    def read(self) -> Sheet:
        if self._sheet is None:
            preview = self._preview
            self._sheet = read_upload(
                io.BytesIO(self._content), file_format=preview.file_format, name=preview.file_name
            )
            self._content = b""
        return self._sheet

    @property
    def was_read(self) -> bool:
        return self._sheet is not None

    def __len__(self) -> int:
        return len(self._sheet) if self._sheet is not None else self._row_count

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.read(), name)

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.read(), name, value)


def import_preview_discard(preview: ImportPreview, *, keep_record: bool = False) -> None:
    """Delete the stored file (and the record, unless a status page still shows it)."""
    (imports_folder() / preview.stored_name).unlink(missing_ok=True)
    import_plans.discard_plan(preview)
    if not keep_record:
        preview.delete()


def import_previews_cleanup(*, now=None) -> int:
    """Delete previews (records and files) older than ``IMPORT_PREVIEW_MAX_AGE``, and stray files; returns the count."""
    now = now or timezone.now()
    cutoff = now - preview_max_age()
    import_jobs.import_jobs_cleanup(cutoff=cutoff)  # the jobs' records stay, their files go
    old = list(ImportPreview.objects.filter(created_at__lt=cutoff))
    for preview in old:
        import_preview_discard(preview)
    folder = imports_folder()
    if folder.is_dir():
        known = set(ImportPreview.objects.values_list("stored_name", flat=True))
        for path in folder.iterdir():
            if path.is_file() and path.name not in known and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return len(old)


# Running ------------------------------------------------------------------------------------------


def _no_progress(rows_done: int, rows_total: int) -> None:
    return None


def _run_step(method, sheet: Sheet, user, progress) -> Outcome:
    """``target.validate``/``apply`` with the ``progress`` callable when it takes one; told start and end anyway."""
    progress = progress or _no_progress
    total = len(sheet)
    progress(0, total)
    try:
        takes_progress = "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        takes_progress = False
    outcome = method(sheet, user, progress=progress) if takes_progress else method(sheet, user)
    progress(total, total)
    return outcome


def import_validate(*, sheet: Sheet, target: ImportTarget, user, progress=None) -> Outcome:
    """The preview: everything the import would do, with nothing written.

    ``progress(rows_done, rows_total)`` is called as the rows are checked (at least at the start and the end).
    """
    return _run_step(target.validate, sheet, user, progress)


@transaction.atomic
def import_apply(*, sheet: Sheet, target: ImportTarget, user, progress=None, plan=None) -> Outcome:
    """The import itself, all or nothing (``progress`` as for ``import_validate``).

    ``plan``: what the preview's validation found (``Outcome.plan``, or ``import_plans.load_plan``); a target that
    takes it writes it without validating the file again (``backoffice.bulk_writes.write_plan``).
    """
    method = target.apply
    if plan is not None and "plan" in inspect.signature(method).parameters:
        method = functools.partial(target.apply, plan=plan)
    outcome = _run_step(method, sheet, user, progress)
    if not outcome.ok:
        transaction.set_rollback(True)
    else:
        business_event(
            "import.finished",
            metric=IMPORTS_FINISHED.labels(resource=target.name.rsplit(".", 1)[-1]),
            target=target.name,
            new=outcome.new,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
            by_user_id=getattr(user, "pk", None),
        )
    return outcome


def import_preview_run(preview_id: int, *, apply: bool) -> Outcome | None:
    """Validation (``apply=False``) or import of a stored preview; records status and outcome.

    Runs only on a preview in the state its step left it: *validating* for a
    validation, *confirmed* (by its owner, through the token) for an import,
    which it claims atomically. Anything else (a preview never confirmed, one
    already imported, a django-q2 retry after success) is logged and left
    alone: returns None. A crash is logged with its traceback, rolled back and
    recorded as *failed* with a readable message.
    """
    Status = ImportPreview.Status
    previews = ImportPreview.objects.filter(pk=preview_id)
    if apply:
        running = Status.IMPORTING
        claimed = previews.filter(status=Status.CONFIRMED).update(status=Status.IMPORTING) == 1
    else:
        running = Status.VALIDATING
        claimed = previews.filter(status=Status.VALIDATING).exists()
    if not claimed:
        logger.warning("import.run_refused", preview_id=preview_id, apply=apply, reason="not confirmed or already done")
        return None
    preview = ImportPreview.objects.select_related("user").get(pk=preview_id)
    job = ImportJob.objects.filter(preview_id=preview_id).first()
    import_jobs.import_job_started(job, apply=apply)
    crashed = False
    sheet = target = None
    try:
        with transaction.atomic():
            target = resolve_target(preview.target)
            progress = import_jobs.ProgressRecorder(job)
            if apply:  # what the preview validated (import_plans), written without a second pass
                plan = import_plans.load_plan(preview)
                if plan is not None and getattr(target, "owns", None) is not None and target.owns(plan):
                    sheet = StoredSheet(preview, row_count=plan.row_count)  # checked unchanged, read if needed
                else:
                    sheet = import_preview_sheet(preview)
                outcome = import_apply(sheet=sheet, target=target, user=preview.user, progress=progress, plan=plan)
            else:
                sheet = import_preview_sheet(preview)
                outcome = import_validate(sheet=sheet, target=target, user=preview.user, progress=progress)
    except BusinessError as error:
        outcome = Outcome(message=error.message, error_count=1)
    except Exception:
        logger.exception("import.crashed", preview_id=preview_id, target=preview.target, apply=apply)
        outcome = Outcome(message=CRASH_MESSAGE, error_count=1)
        crashed = True
    if apply or crashed:
        status = Status.DONE if outcome.ok else Status.FAILED
    else:
        status = Status.PREVIEWED if outcome.ok else Status.REJECTED
    read = {"row_count": len(sheet)} if sheet is not None else {}  # a file stored unread had an estimate
    finished = previews.filter(status=running).update(
        status=status, outcome=outcome.as_json(), finished_at=timezone.now(), **read
    )
    if not finished:
        logger.warning("import.finish_skipped", preview_id=preview_id, apply=apply, reason="finished elsewhere")
        return outcome
    preview.status = status
    preview.row_count = read.get("row_count", preview.row_count)
    if status == Status.PREVIEWED:
        import_plans.save_plan(preview, outcome.plan)
    else:
        import_preview_discard(preview, keep_record=True)
    import_jobs.import_job_finished(
        job,
        outcome,
        status=JOB_STATUS[status],
        target=target,
        sheet=sheet,
        stored_file_deleted=status != Status.PREVIEWED,
    )
    outcome.job_id = job.pk if job is not None else None
    return outcome


JOB_STATUS = {
    ImportPreview.Status.PREVIEWED: ImportJob.Status.VALIDATED,
    ImportPreview.Status.REJECTED: ImportJob.Status.FAILED,
    ImportPreview.Status.DONE: ImportJob.Status.DONE,
    ImportPreview.Status.FAILED: ImportJob.Status.FAILED,
}


def import_job_of(preview: ImportPreview | None) -> ImportJob | None:
    """The job recording ``preview``'s import."""
    return ImportJob.objects.filter(preview=preview).first() if preview is not None else None


def import_task_queue(func: str, preview: ImportPreview) -> None:
    """Queue a background validation or import of ``preview``, with a timeout sized for ``IMPORT_MAX_ROWS``."""
    async_task(func, preview.pk, timeout=task_timeout())


# The flow every import page calls -----------------------------------------------------------------


def import_upload(
    *, upload, sheet: Sheet, target: ImportTarget, user, session_key: str
) -> tuple[ImportPreview | None, Outcome | None]:
    """The upload step, once the file is read into ``sheet``.

    A file above ``IMPORT_SYNC_MAX_ROWS`` rows is stored and validated in the
    background: ``(preview, None)``, the preview *validating*. A smaller one is
    validated now: ``(preview, outcome)`` with the preview stored *previewed*
    if the file is clean, else ``(None, outcome)``.
    """

    def store(status: str) -> ImportPreview:
        upload.seek(0)
        return import_preview_create(
            content=upload.read(),
            sheet=sheet,
            user=user,
            session_key=session_key,
            target=target,
            file_name=upload.name,
            status=status,
        )

    record = {"target": target, "user": user, "file_name": upload.name, "file_format": sheet.file_format}
    if len(sheet) > sync_max_rows():
        preview = store(ImportPreview.Status.VALIDATING)
        import_jobs.import_job_create(**record, row_count=len(sheet), preview=preview, status=ImportJob.Status.QUEUED)
        import_task_queue(VALIDATE_TASK, preview)
        return preview, None
    job = import_jobs.import_job_create(**record, row_count=len(sheet), status=ImportJob.Status.VALIDATING)
    outcome = import_validate(sheet=sheet, target=target, user=user, progress=import_jobs.ProgressRecorder(job))
    preview = store(ImportPreview.Status.PREVIEWED) if outcome.ok else None
    if preview is not None:
        import_plans.save_plan(preview, outcome.plan)
        import_jobs.import_job_attach(job, preview)
    status = ImportJob.Status.VALIDATED if outcome.ok else ImportJob.Status.FAILED
    import_jobs.import_job_finished(job, outcome, status=status, target=target, sheet=sheet)
    outcome.job_id = job.pk
    return preview, outcome


def import_upload_file(
    *, upload, file_format: str, target: ImportTarget, user, session_key: str
) -> tuple[ImportPreview | None, Outcome | None]:
    """The upload step from the uploaded file itself: a file that is surely big is stored and queued unread.

    ``backoffice.uploads.estimate_rows`` bounds its rows without reading them (and makes the checks that cost
    nothing: size, encoding, header width, zip checks). Above ``IMPORT_SYNC_MAX_ROWS`` (and within
    ``IMPORT_MAX_ROWS``) the file is stored and the background task reads, validates and previews it: the request
    returns at once. Anything else is read now (``read_upload``, every limit) and goes through ``import_upload``.
    ``UploadRefused`` for a refused file.
    """
    limits = UploadLimits.from_settings()
    estimate = estimate_rows(upload, file_format=file_format, name=upload.name, limits=limits)
    if estimate is not None and sync_max_rows() < estimate <= limits.max_rows:
        upload.seek(0)
        preview = import_preview_create(
            content=upload.read(),
            sheet=None,
            user=user,
            session_key=session_key,
            target=target,
            file_name=upload.name,
            status=ImportPreview.Status.VALIDATING,
            file_format=file_format,
            row_count=estimate,
        )
        import_jobs.import_job_create(
            target=target,
            user=user,
            file_name=upload.name,
            file_format=file_format,
            row_count=estimate,
            preview=preview,
            status=ImportJob.Status.QUEUED,
        )
        import_task_queue(VALIDATE_TASK, preview)
        return preview, None
    sheet = read_upload(upload, file_format=file_format, name=upload.name, limits=limits)
    return import_upload(upload=upload, sheet=sheet, target=target, user=user, session_key=session_key)


def import_confirm(*, token: Any, user, session_key: str | None, targets) -> tuple[ImportPreview, Outcome | None]:
    """The confirm step: the user's previewed file with ``token`` (one of ``targets``, by name), imported once.

    A big file is queued for the background import: ``(preview, None)``. A
    small one is imported now and its preview deleted: ``(preview, outcome)``.
    ``PreviewExpired`` for anything but a live preview of this user and session.
    """
    found = import_preview_get(token=token, user=user, session_key=session_key)
    if found.target not in targets:
        raise PreviewExpired()
    big = found.row_count > sync_max_rows()
    preview, _sheet = import_preview_claim(token=token, user=user, session_key=session_key, read=not big)
    if big:
        import_jobs.import_job_queued(import_job_of(preview))
        import_task_queue(APPLY_TASK, preview)
        return preview, None
    try:
        outcome = import_preview_run(preview.pk, apply=True)
    finally:
        import_preview_discard(preview)
    if outcome is None:
        raise PreviewExpired()
    return preview, outcome
