"""Shared models of the project package."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class DocumentSequence(models.Model):
    """One counter per prefix; rows are locked while a number is taken.

    The counter moves inside the caller's transaction: if the document is rolled
    back, so is its number, which therefore never names two committed documents.
    """

    prefix = models.CharField(max_length=8, unique=True)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "backoffice"

    def __str__(self) -> str:
        from backoffice.numbering import format_document_number

        return format_document_number(self.prefix, self.last_value)


class ImportPreview(models.Model):
    """An uploaded import file between its preview and its confirmation, bound to one user and session.

    The file lives under ``MEDIA_ROOT/imports/`` (never a path the client
    names); the confirm step finds it only through ``token``, for the same
    user and session, once, while the file still has the hash it was
    previewed with. Big files are validated and imported by a background task
    that records its progress and outcome here. Abandoned previews are deleted
    after 24 hours (``backoffice.tasks.import_previews_cleanup_task``).
    """

    class Status(models.TextChoices):
        VALIDATING = "validating", "validating"
        PREVIEWED = "previewed", "ready to confirm"
        REJECTED = "rejected", "rejected"
        CONFIRMED = "confirmed", "waiting to import"
        IMPORTING = "importing", "importing"
        DONE = "done", "imported"
        FAILED = "failed", "failed"

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_hash = models.CharField(max_length=64)
    target = models.CharField(max_length=200)
    file_format = models.CharField(max_length=8)
    file_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PREVIEWED)
    outcome = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "backoffice"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


def feedback_screenshot_path(instance, filename: str) -> str:
    """``feedback/2026/05/<random>.png``: an unguessable name; the extension comes from the file's bytes."""
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"feedback/{timezone.now():%Y/%m}/{secrets.token_urlsafe(16)}.{extension}"


class Feedback(models.Model):
    """A note from a staff user about the page they were on (backoffice.feedback), triaged by admins."""

    class Status(models.TextChoices):
        NEW = "new", "new"
        PLANNED = "planned", "planned"
        DONE = "done", "done"

    message = models.TextField(max_length=5000)
    page = models.CharField(max_length=500, blank=True, help_text="The path of the admin page it was sent from.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_agent = models.CharField("browser", max_length=500, blank=True)
    screenshot = models.FileField(upload_to=feedback_screenshot_path, blank=True, max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "backoffice"
        ordering = ["-created_at", "-pk"]
        verbose_name = "feedback"
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"Feedback #{self.pk}"


class ImportJob(models.Model):
    """One import as its user and the Imports list see it: what, by whom, when, how far, with what result.

    Every upload through the import engine (``backoffice.imports``) is recorded
    here (``backoffice.import_jobs``), whether it is validated now or in the
    background, confirmed, rejected or abandoned. The job outlives its
    ``ImportPreview`` (the token-bound file awaiting confirmation): the
    cleanup deletes the files after 24 hours and keeps this record, counts and
    the first bad rows included. Users see their own jobs; Admins and Managers
    (permission ``backoffice.view_all_importjob``) see everyone's.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        VALIDATING = "validating", "checking the file"
        VALIDATED = "validated", "checked: waiting for confirmation"
        IMPORTING = "importing", "importing"
        DONE = "done", "imported"
        FAILED = "failed", "failed"
        EXPIRED = "expired", "expired (not confirmed)"

    RUNNING = (Status.QUEUED, Status.VALIDATING, Status.IMPORTING)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    preview = models.OneToOneField(
        ImportPreview, null=True, blank=True, on_delete=models.SET_NULL, related_name="job", editable=False
    )
    target = models.CharField(max_length=200, editable=False)
    what = models.CharField("what", max_length=100, help_text="What the file imports (products, sales orders…).")
    model_label = models.CharField(max_length=100, blank=True, editable=False)
    file_name = models.CharField("file", max_length=255)
    file_format = models.CharField(max_length=8, blank=True)
    stored_name = models.CharField(max_length=100, blank=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    row_count = models.PositiveIntegerField("rows", default=0)
    rows_done = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField("errors", default=0)
    bad_row_count = models.PositiveIntegerField("bad rows", default=0)
    # The first bad rows ({row, column, value, reason}, spreadsheet numbering): kept after the files are deleted.
    bad_rows = models.JSONField(default=list, blank=True, editable=False)
    errors_file = models.CharField(max_length=100, blank=True, editable=False)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField("processing seconds", default=0)

    class Meta:
        app_label = "backoffice"
        ordering = ["-created_at", "-pk"]
        verbose_name = "import"
        verbose_name_plural = "imports"
        permissions = [("view_all_importjob", "Can see every user's imports")]
        indexes = [models.Index(fields=["user", "-created_at"], name="importjob_user_created")]

    def __str__(self) -> str:
        return f"Import #{self.pk}: {self.file_name}"

    @property
    def running(self) -> bool:
        return self.status in self.RUNNING

    @property
    def ok_row_count(self) -> int:
        return max(0, self.row_count - self.bad_row_count)


class ExportJob(models.Model):
    """An admin list export too big for one request (above ``EXPORT_SYNC_MAX_ROWS`` rows), written by a task.

    The filters are the changelist's query string and the export form's
    choices; the task rebuilds the queryset through the model admin with the
    user's current permissions and warehouse scope (``backoffice.export_jobs``).
    The file lives under ``MEDIA_ROOT/exports/`` and is deleted after 24 hours;
    only its owner and Admins/Managers (``backoffice.view_all_exportjob``) may download it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        RUNNING = "running", "being written"
        DONE = "done", "ready"
        FAILED = "failed", "failed"
        EXPIRED = "expired", "deleted (older than 24 hours)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    what = models.CharField("what", max_length=100)
    model_label = models.CharField(max_length=100, editable=False)
    query_string = models.TextField("filters", blank=True)
    form_data = models.JSONField(default=dict, blank=True, editable=False)
    file_format = models.CharField("format", max_length=8)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    row_count = models.PositiveBigIntegerField("rows", default=0)
    file_name = models.CharField("file", max_length=200, blank=True)
    stored_name = models.CharField(max_length=100, blank=True, editable=False)
    size = models.PositiveBigIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "backoffice"
        ordering = ["-created_at", "-pk"]
        verbose_name = "export"
        verbose_name_plural = "exports"
        permissions = [("view_all_exportjob", "Can see every user's exports")]
        indexes = [models.Index(fields=["user", "-created_at"], name="exportjob_user_created")]

    def __str__(self) -> str:
        return f"Export #{self.pk}: {self.what}"
