"""django-q2 tasks of the project package (thin: load, call the import engine, record).

Only ``@schedulable`` tasks can be picked in the schedule admin; the import
tasks are queued by the import engine alone (``backoffice.task_registry``).
"""

from __future__ import annotations

from django.utils import timezone

from backoffice.imports import import_preview_run, import_previews_cleanup, preview_max_age
from backoffice.task_registry import schedulable


@schedulable
def import_previews_cleanup_task() -> int:
    """Delete import previews (and their files) abandoned for more than 24 hours, and big exports' files."""
    from backoffice.export_jobs import export_jobs_cleanup

    count = import_previews_cleanup()  # also deletes the import jobs' files (their records stay)
    return count + export_jobs_cleanup(cutoff=timezone.now() - preview_max_age())


def import_validate_task(preview_id: int) -> None:
    """Validate a big uploaded file in the background (the preview of the import)."""
    import_preview_run(preview_id, apply=False)


def import_apply_task(preview_id: int) -> None:
    """Import a big previewed file in the background, all or nothing."""
    import_preview_run(preview_id, apply=True)


def export_job_task(job_id: int) -> None:
    """Write a big admin list export in the background (queued by the export page for its user)."""
    from backoffice.export_jobs import export_job_run

    export_job_run(job_id)


def send_email_task(payload: dict, attempt: int = 1, attempts: int = 3) -> str:
    """Send an e-mail queued by backoffice.mail.send_email_later (retried with backoff, then admins told)."""
    from backoffice.mail import deliver_queued

    return deliver_queued(payload, attempt=attempt, attempts=attempts)


@schedulable
def nightly_backup_task() -> str:
    """Back up the database and media, then keep only the newest BACKUP_KEEP archives."""
    from backoffice.backup import backup_create, backup_prune

    archive = backup_create()
    backup_prune()
    return archive.name
