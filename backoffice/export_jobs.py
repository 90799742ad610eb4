"""Admin list exports too big for one request: written in the background, downloaded from the Exports page.

An admin list export (``backoffice.export_admin.StreamedExportMixin``) of
more than ``EXPORT_SYNC_MAX_ROWS`` rows (default 100,000; counted with a
``LIMIT`` of that plus one, never a full ``COUNT`` of a huge table) is not
streamed to the browser: ``export_job_queue`` records an ``ExportJob`` with
what the export page was given — the model, the changelist's query string
(filters, search) and the export form's choices — and queues
``backoffice.tasks.export_job_task``. The task (``export_job_run``) replays
the export through the model admin as that user *at that time*: the same
``get_export_queryset`` (filters, search, the admin's own ``get_queryset``
and its warehouse scoping), the same export permission check, the same
resource and columns; the client's data only ever narrows what the user may
see. The file is written through ``backoffice.exports.write_export``
(typed, formula-safe, constant memory) under ``MEDIA_ROOT/exports/``; the
user is told by e-mail (``backoffice.mail.send_email_later``) with a link to
the Exports page, where only they (and Admins/Managers) may download it.
Files are deleted after 24 hours by the import previews' cleanup.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import structlog
from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from backoffice import exports
from backoffice.models import ExportJob

logger = structlog.get_logger(__name__)

EXPORT_TASK = "backoffice.tasks.export_job_task"
# Seconds a background export may take (a million rows of XLSX take about 90 s; below django-q2's "retry").
EXPORT_TASK_TIMEOUT = 3600
VIEW_ALL_PERMISSION = "backoffice.view_all_exportjob"
FAILED_MESSAGE = "The export failed unexpectedly. The administrators have been told; try again or narrow the filters."
# What the export form posts besides its choices.
_NOT_FORM_DATA = {"csrfmiddlewaretoken"}


def sync_max_rows() -> int:
    return int(getattr(settings, "EXPORT_SYNC_MAX_ROWS", 100_000))


def exports_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


def is_big(rows) -> bool:
    """Whether an export's rows exceed ``EXPORT_SYNC_MAX_ROWS``: counted up to that limit plus one, no further."""
    limit = sync_max_rows()
    if isinstance(rows, QuerySet):
        return rows.order_by()[: limit + 1].count() > limit
    try:
        return len(rows) > limit
    except TypeError:
        return False


def export_jobs_visible(user) -> QuerySet[ExportJob]:
    jobs = ExportJob.objects.select_related("user")
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return jobs.none()
    if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
        return jobs
    return jobs.filter(user=user)


def export_file(job: ExportJob) -> Path | None:
    """The finished file, while it is kept."""
    if job.status != ExportJob.Status.DONE or not job.stored_name:
        return None
    path = exports_folder() / job.stored_name
    return path if path.is_file() else None


def export_job_queue(*, model_admin, request, file_format: str) -> ExportJob:
    """Record the export the user asked for on this request and queue it once the transaction commits."""
    form_data = {key: values for key, values in request.POST.lists() if key not in _NOT_FORM_DATA}
    job = ExportJob.objects.create(
        user=request.user,
        what=str(model_admin.model._meta.verbose_name_plural),
        model_label=model_admin.model._meta.label_lower,
        query_string=request.GET.urlencode(),
        form_data=form_data,
        file_format=file_format,
    )
    transaction.on_commit(lambda: _queue(job.pk), robust=True)
    return job


def _queue(job_id: int) -> None:
    from django_q.tasks import async_task

    async_task(EXPORT_TASK, job_id, task_name=f"export #{job_id}", timeout=EXPORT_TASK_TIMEOUT)


class ExportRefused(Exception):
    """The export can no longer be made for this user (permission, model, filters): said on the Exports page."""


def _replay(job: ExportJob):
    """(model admin, rows with ``columns``) as the export page would have produced them for the job's user now."""
    user = job.user
    if user is None or not (user.is_active and user.is_staff):
        raise ExportRefused("The user who asked for this export can no longer sign in.")
    model = next((m for m in admin.site._registry if m._meta.label_lower == job.model_label), None)
    if model is None:
        raise ExportRefused(f"“{job.what}” can no longer be exported.")
    model_admin = admin.site._registry[model]
    export_path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export")
    request = RequestFactory().get(export_path, QueryDict(job.query_string))
    request.user = user
    request.session = {}
    if not model_admin.has_export_permission(request):
        raise ExportRefused(f"You may no longer export {job.what}.")
    try:
        queryset = model_admin.get_export_queryset(request)
    except Exception as error:  # IncorrectLookupParameters, a bad filter value: the page would have refused it too
        raise ExportRefused(f"The filters of this export are no longer valid ({error.__class__.__name__}).") from None
    formats = model_admin.get_export_formats()
    data = QueryDict(mutable=True)
    for key, values in (job.form_data or {}).items():
        data.setlist(str(key), [str(value) for value in values])
    form = model_admin.get_export_form_class()(formats, model_admin.get_export_resource_classes(request), data=data)
    if "export_items" in data:
        from django.forms import MultipleChoiceField, MultipleHiddenInput

        pks = [str(pk) for pk in queryset.values_list("pk", flat=True).filter(pk__in=data.getlist("export_items"))]
        form.fields["export_items"] = MultipleChoiceField(
            widget=MultipleHiddenInput, required=False, choices=[(pk, pk) for pk in pks]
        )
    if not form.is_valid():
        raise ExportRefused("The export form's choices are no longer valid.")
    if "export_items" in form.changed_data:
        queryset = queryset.filter(pk__in=form.cleaned_data["export_items"])
    rows = model_admin.get_data_for_export(request, queryset, export_form=form)
    return model_admin, rows


def _counted(rows: Iterable, counter: list[int]) -> Iterator:
    for row in rows:
        counter[0] += 1
        yield row


def export_job_run(job_id: int) -> ExportJob | None:
    """Write a queued export (once: a retry of a finished or running job does nothing)."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.warning("export.run_refused", job_id=job_id, reason="not queued")
        return None
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    folder = exports_folder()
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.{job.file_format}"
    path = folder / stored_name
    counter = [0]
    try:
        model_admin, rows = _replay(job)
        with path.open("wb") as file:
            exports.write_export(
                _counted(rows, counter), rows.columns, job.file_format, file, title=model_admin.export_title()
            )
    except ExportRefused as refused:
        path.unlink(missing_ok=True)
        return _finish(job, ExportJob.Status.FAILED, message=str(refused))
    except Exception:
        path.unlink(missing_ok=True)
        logger.exception("export.crashed", job_id=job_id, model=job.model_label)
        return _finish(job, ExportJob.Status.FAILED, message=FAILED_MESSAGE)
    job.file_name = exports.export_filename(job.what, job.file_format)
    job.stored_name = stored_name
    job.row_count = counter[0]
    job.size = path.stat().st_size
    _finish(job, ExportJob.Status.DONE)
    _tell_user(job)
    return job


def _finish(job: ExportJob, status: str, *, message: str = "") -> ExportJob:
    job.status, job.message, job.finished_at = status, message, timezone.now()
    job.save(update_fields=["status", "message", "finished_at", "file_name", "stored_name", "row_count", "size"])
    return job


def export_job_link(job: ExportJob) -> str:
    return f"{settings.SITE_URL}{reverse('admin:backoffice_exportjob_change', args=[job.pk])}"


def _tell_user(job: ExportJob) -> None:
    """An e-mail with the link, queued after commit (``backoffice.mail.send_email_later``, retried)."""
    email = getattr(job.user, "email", "")
    if not email:
        return
    from backoffice.mail import send_email_later

    link = export_job_link(job)
    text = (
        f"Your export of {job.what} is ready: {job.row_count:,} rows ({job.file_format.upper()}).\n\n"
        f"Download it here (you may need to sign in): {link}\n\n"
        "The file is deleted after 24 hours."
    )
    try:
        send_email_later(f"Your export of {job.what} is ready", [email], text)
    except Exception:  # the file is ready on the Exports page whatever the mail does
        logger.exception("export.mail_failed", job_id=job.pk)


def export_jobs_cleanup(*, cutoff: datetime) -> int:
    """Delete the files of exports older than ``cutoff`` (the records stay, marked expired); returns the count."""
    count = 0
    for job in ExportJob.objects.filter(created_at__lt=cutoff).exclude(stored_name=""):
        (exports_folder() / job.stored_name).unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(stored_name="", status=ExportJob.Status.EXPIRED)
        count += 1
    folder = exports_folder()
    if folder.is_dir():
        known = set(ExportJob.objects.exclude(stored_name="").values_list("stored_name", flat=True))
        for path in folder.iterdir():
            if path.is_file() and path.name not in known and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return count
