"""Admin pages of imports and big exports: the **Imports** and **Exports** lists, an import's result page.

Read-only lists (Unfold ``ModelAdmin``) scoped to the user: every staff user
sees their own imports and exports; Admins and Managers (permissions
``backoffice.view_all_importjob`` / ``view_all_exportjob``) and superusers see
everyone's. A job someone may not see answers 404, like one that does not
exist, on every page: the result page, its status endpoint, the bad rows
download and the export download.

An import's result page (the change page) shows the counts, a live progress
bar while a task runs (``backoffice/static/backoffice/job_progress.js`` polls
``<id>/status/``, a JSON view; no inline script under the Content-Security-
Policy), the first 100 bad rows and a CSV download of all of them.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from backoffice import export_jobs, import_jobs
from backoffice.admin_tools import is_valid_pk
from backoffice.exports import CONTENT_TYPES
from backoffice.models import ExportJob, ImportJob

STATUS_COLOURS = {
    "queued": "info",
    "validating": "info",
    "running": "info",
    "importing": "info",
    "validated": "warning",
    "done": "success",
    "failed": "danger",
    "expired": "",
}


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class _ReadOnlyJobAdmin(ModelAdmin):
    """Lists any active staff user may open, showing only what ``visible(user)`` lets them see."""

    show_full_result_count = False
    list_per_page = 50
    date_hierarchy = "created_at"
    list_filter = ["status", "what"]
    search_fields = ["what", "file_name", "user__username"]
    list_select_related = ["user"]

    def visible(self, user) -> QuerySet:
        raise Http404

    def get_queryset(self, request):
        return self.visible(request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or self.visible(request.user).filter(pk=obj.pk).exists()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def job_or_404(self, request, object_id):
        if not self.has_view_permission(request) or not is_valid_pk(self.model, object_id):
            raise Http404
        job = self.visible(request.user).filter(pk=object_id).first()
        if job is None:
            raise Http404
        return job

    def history_view(self, request, object_id, extra_context=None):
        self.job_or_404(request, object_id)  # someone else's job answers as one that does not exist
        return super().history_view(request, object_id, extra_context)

    @display(description=_("status"), label=STATUS_COLOURS)
    def status_label(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("when"), ordering="created_at")
    def when(self, obj):
        return obj.created_at

    @display(description=_("who"), ordering="user__username")
    def who(self, obj):
        return obj.user or "—"


@admin.register(ImportJob)
class ImportJobAdmin(_ReadOnlyJobAdmin):
    list_display = ["__str__", "who", "what", "when", "file_name", "status_label", "counts", "duration"]

    def visible(self, user):
        return import_jobs.import_jobs_visible(user)

    @display(description=_("new / updated / unchanged / errors"))
    def counts(self, obj):
        return f"{obj.new:,} / {obj.updated:,} / {obj.unchanged:,} / {obj.error_count:,}"

    @display(description=_("duration"), ordering="seconds")
    def duration(self, obj):
        return "—" if obj.running or not obj.finished_at else duration_text(obj.seconds)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="backoffice_importjob_status",
            ),
            path(
                "<path:object_id>/bad-rows/",
                self.admin_site.admin_view(self.bad_rows_view),
                name="backoffice_importjob_bad_rows",
            ),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        """The progress bar's figures (JSON), polled while the job runs."""
        job = self.job_or_404(request, object_id)
        response = JsonResponse(import_jobs.import_job_status(job))
        response["Cache-Control"] = "no-store"
        return response

    def bad_rows_view(self, request, object_id):
        """Every bad row as CSV (row, column, value, reason), ready to fix and upload again."""
        job = self.job_or_404(request, object_id)
        file = import_jobs.bad_rows_file(job)
        if file is None:
            raise Http404("This import has no bad rows file (it is deleted after 24 hours).")
        return FileResponse(
            file.open("rb"),
            as_attachment=True,
            filename=import_jobs.bad_rows_filename(job),
            content_type=CONTENT_TYPES["csv"],
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The result page of one import (read-only)."""
        job = self.job_or_404(request, object_id)
        if request.method != "GET":
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import #%(id)s: %(name)s") % {"id": job.pk, "name": job.file_name},
            "job": job,
            "progress": import_jobs.import_job_status(job),
            "status_url": reverse("admin:backoffice_importjob_status", args=[job.pk]),
            "bad_rows_url": (
                reverse("admin:backoffice_importjob_bad_rows", args=[job.pk])
                if import_jobs.bad_rows_file(job)
                else None
            ),
            "bad_rows_deleted": bool(job.bad_row_count and not job.errors_file),
            "continue_url": continue_url(job, request.user),
            "duration": None if job.running or not job.finished_at else duration_text(job.seconds),
            "list_url": reverse("admin:backoffice_importjob_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/backoffice/importjob/result.html", context)


def continue_url(job: ImportJob, user) -> str | None:
    """Where the owner confirms a checked file (the import's status page), while it waits for confirmation."""
    if job.status != ImportJob.Status.VALIDATED or job.preview is None or job.user_id != user.pk:
        return None
    app_label, _, model_name = job.model_label.partition(".")
    token = job.preview.token
    try:
        if job.target.startswith("resource:"):
            return reverse(f"admin:{app_label}_{model_name}_import_status", args=[token])
        return reverse(f"admin:{app_label}_{model_name}_import_orders") + f"?preview={token}"
    except NoReverseMatch:
        return None


def import_job_url(job_id: int | None) -> str | None:
    return reverse("admin:backoffice_importjob_change", args=[job_id]) if job_id else None


@admin.register(ExportJob)
class ExportJobAdmin(_ReadOnlyJobAdmin):
    list_display = ["__str__", "who", "what", "when", "file_format", "status_label", "rows", "download"]
    search_fields = ["what", "file_name", "user__username"]

    def visible(self, user):
        return export_jobs.export_jobs_visible(user)

    @display(description=_("rows"), ordering="row_count")
    def rows(self, obj):
        return f"{obj.row_count:,}" if obj.status == ExportJob.Status.DONE else "—"

    @display(description=_("file"))
    def download(self, obj):
        if obj.status != ExportJob.Status.DONE or not obj.stored_name:
            return "—"
        url = reverse("admin:backoffice_exportjob_download", args=[obj.pk])
        return format_html('<a href="{}" class="text-primary-600 font-semibold">{}</a>', url, _("Download"))

    def get_urls(self):
        return [
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="backoffice_exportjob_download",
            ),
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="backoffice_exportjob_status",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, object_id):
        job = self.job_or_404(request, object_id)
        file = export_jobs.export_file(job)
        if file is None:
            raise Http404("This export is not ready, failed, or was deleted after 24 hours.")
        return FileResponse(
            file.open("rb"), as_attachment=True, filename=job.file_name, content_type=CONTENT_TYPES[job.file_format]
        )

    def status_view(self, request, object_id):
        job = self.job_or_404(request, object_id)
        running = job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
        response = JsonResponse(
            {"id": job.pk, "status": job.status, "status_display": job.get_status_display(), "running": running}
        )
        response["Cache-Control"] = "no-store"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.job_or_404(request, object_id)
        if request.method != "GET":
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Export #%(id)s: %(what)s") % {"id": job.pk, "what": job.what},
            "job": job,
            "running": job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING),
            "status_url": reverse("admin:backoffice_exportjob_status", args=[job.pk]),
            "download_url": (
                reverse("admin:backoffice_exportjob_download", args=[job.pk]) if export_jobs.export_file(job) else None
            ),
            "list_url": reverse("admin:backoffice_exportjob_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/backoffice/exportjob/detail.html", context)
