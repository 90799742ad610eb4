"""Every django-q2 schedule the system runs, declared once.

``manage.py setup_schedules`` creates or updates them by name (idempotent);
apps add theirs to ``SCHEDULES``. A ``func`` must be a function of an app's
``tasks.py``: only those can run (``backoffice.task_registry``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "Nightly stock invariant check",
        "func": "inventory.tasks.check_stock_task",
        "schedule_type": Schedule.DAILY,
        "first_run_at": (2, 15),
    },
    {
        "name": "Nightly backup",
        "func": "backoffice.tasks.nightly_backup_task",
        "schedule_type": Schedule.DAILY,
        "first_run_at": (1, 30),
    },
    {
        "name": "Delete abandoned import previews",
        "func": "backoffice.tasks.import_previews_cleanup_task",
        "schedule_type": Schedule.HOURLY,
        "first_run_at": (0, 5),
    },
    {
        "name": "Daily reorder alerts",
        "func": "reports.tasks.reorder_alerts_task",
        "schedule_type": Schedule.DAILY,
        "first_run_at": (6, 30),
    },
    {
        # Each scheduled report is sent at the first check at or after its time (reports.scheduling).
        "name": "Send due scheduled reports",
        "func": "reports.tasks.send_due_reports_task",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        "name": "Delete API idempotency keys older than 24 hours",
        "func": "integrations.tasks.idempotency_keys_cleanup_task",
        "schedule_type": Schedule.HOURLY,
        "first_run_at": (0, 20),
    },
]


@transaction.atomic
def schedules_setup() -> list[tuple[str, bool]]:
    """Create missing schedules and refresh existing ones; returns (name, created)."""
    results = []
    for spec in SCHEDULES:
        defaults = {k: v for k, v in spec.items() if k not in {"name", "first_run_at"}}
        schedule = Schedule.objects.filter(name=spec["name"]).first()
        if schedule is None:
            # Without "first_run_at" (e.g. every few minutes) the first run is now.
            first_run = _next_time(*spec["first_run_at"]) if "first_run_at" in spec else timezone.now()
            Schedule.objects.create(name=spec["name"], next_run=first_run, **defaults)
            results.append((spec["name"], True))
        else:
            for field, value in defaults.items():
                setattr(schedule, field, value)
            schedule.save()
            results.append((spec["name"], False))
    return results


def _next_time(hour: int, minute: int) -> datetime:
    """The next local wall-clock time hour:minute, for a schedule's first run."""
    now = timezone.localtime()
    candidate = timezone.make_aware(datetime.combine(now.date(), time(hour, minute)))
    return candidate if candidate > now else candidate + timedelta(days=1)
