"""django-q2 tasks of the project package (thin: load, call the import engine, record).

Only ``@schedulable`` tasks can be picked in the schedule admin; the import
tasks are queued by the import engine alone (``backoffice.task_registry``).
"""

from __future__ import annotations

from backoffice.imports import import_preview_run, import_previews_cleanup
from backoffice.task_registry import schedulable


@schedulable
def import_previews_cleanup_task() -> int:
    """Delete import previews (and their files) abandoned for more than 24 hours."""
    return import_previews_cleanup()


def import_validate_task(preview_id: int) -> None:
    """Validate a big uploaded file in the background (the preview of the import)."""
    import_preview_run(preview_id, apply=False)


def import_apply_task(preview_id: int) -> None:
    """Import a big previewed file in the background, all or nothing."""
    import_preview_run(preview_id, apply=True)


@schedulable
def nightly_backup_task() -> str:
    """Back up the database and media, then keep only the newest BACKUP_KEEP archives."""
    from backoffice.backup import backup_create, backup_prune

    archive = backup_create()
    backup_prune()
    return archive.name
