"""Scheduled e-mailed reports and their runs (docs/reports.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    JSON = "json", "JSON"


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ScheduledReport(models.Model):
    """A report e-mailed on a schedule to addresses and to the users of roles."""

    name = models.CharField(max_length=120)
    report = models.CharField(max_length=60, help_text="The report's registry name, e.g. sales-summary.")
    params = models.JSONField(
        default=dict, blank=True, help_text='Report parameters, e.g. {"date_range": "last_week"}.'
    )
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.XLSX)
    frequency = models.CharField(max_length=7, choices=Frequency.choices, default=Frequency.WEEKLY)
    weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(6)], help_text="0 = Monday (weekly schedules)."
    )
    day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(28)], help_text="1–28 (monthly)."
    )
    send_time = models.TimeField(help_text="Local time (the site's time zone).")
    recipients = models.TextField(blank=True, help_text="E-mail addresses, separated by commas or new lines.")
    roles = models.ManyToManyField(
        Group,
        blank=True,
        related_name="+",
        help_text="Active users of these roles with an e-mail address receive it too.",
    )
    only_if_rows = models.BooleanField("only if there are rows", default=False)
    is_active = models.BooleanField("active", default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [("run_report", "Can run and export reports")]

    def __str__(self):
        return self.name


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class ReportRun(models.Model):
    """One send of a scheduled report for one period; at most one per (schedule, period start)."""

    scheduled_report = models.ForeignKey(ScheduledReport, on_delete=models.CASCADE, related_name="runs")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.PENDING)
    row_count = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="reports/%Y/%m/", blank=True)
    recipients = models.TextField(blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # While pending: when the next attempt may start (after a failure: the backoff; during an attempt: its lease).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    skipped = models.TextField(blank=True, help_text="Recipients who got nothing, and why.")
    resends = models.PositiveSmallIntegerField(default=0, help_text="Times sent again with Send now → Resend.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["scheduled_report", "period_start"], name="report_run_once_per_period")
        ]

    def __str__(self):
        return f"{self.scheduled_report} {self.period_start}"


class ReorderAlert(models.Model):
    """The daily reorder alert of one warehouse: at most one a day (``manage.py reorder_alerts``)."""

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    line_count = models.PositiveIntegerField(default=0)
    recipients = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "warehouse"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "date"], name="reorder_alert_once_a_day")]

    def __str__(self):
        return f"{self.warehouse} {self.date}"
