"""Integration plumbing: personal API tokens, idempotency keys, outbound webhooks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken

from backoffice.encryption import EncryptedCharField

WEBHOOK_EVENTS = [
    ("sales_order.confirmed", "Sales order confirmed"),
    ("sales_order.cancelled", "Sales order cancelled"),
    ("shipment.shipped", "Shipment shipped"),
    ("shipment.delivered", "Shipment delivered"),
    ("purchase_order.received", "Purchase order received"),
    ("stock.below_reorder_point", "Stock below reorder point"),
    ("import.finished", "Import finished"),
    ("report.sent", "Report sent"),
]
WEBHOOK_EVENT_NAMES = [name for name, _ in WEBHOOK_EVENTS]


class ApiToken(AbstractAuthToken):
    """A personal API token (django-rest-knox's token model, ``KNOX_TOKEN_MODEL``).

    Only knox's SHA-512 digest is stored; ``token_key`` is the token's first
    15 characters, shown as its id. ``last_used_at`` is written at most once a
    minute (``integrations.auth``).
    """

    name = models.CharField(max_length=100)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"

    @property
    def is_expired(self) -> bool:
        return self.expiry is not None and self.expiry <= timezone.now()


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` a user sent with a POST, and the first response to it (kept 24 h)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return self.key


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=100)
    target_url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="The events sent to this URL.")
    is_active = models.BooleanField("active", default=True)
    secret = EncryptedCharField(max_length=100, null=True, blank=True, editable=False)  # shown once, at creation
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "webhook subscription"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(db_index=True)
    event = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:40]}"
