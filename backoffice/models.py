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
        return f"{self.prefix}-{self.last_value:06d}"


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
