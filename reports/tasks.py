"""django-q2 tasks of the reports app (thin: call the service, return a summary for the task list)."""

from __future__ import annotations

from backoffice.task_registry import schedulable


@schedulable
def send_due_reports_task() -> str:
    """Send the scheduled reports that are due (each once for its period) and retry failed sends."""
    from reports.sends import send_due_reports

    outcomes = send_due_reports()
    return "\n".join(str(outcome) for outcome in outcomes) or "Nothing due."


def reorder_alerts_task() -> str:
    """Daily reorder alert per warehouse to the Purchasing role (and draft POs when REORDER_AUTO_DRAFT is on)."""
    from django.conf import settings

    from reports.reorder import FAILED, send_reorder_alerts

    outcomes = send_reorder_alerts(create_drafts=settings.REORDER_AUTO_DRAFT)
    summary = "\n".join(outcome.message() for outcome in outcomes) or "No active warehouse."
    if any(outcome.status == FAILED for outcome in outcomes):
        raise RuntimeError(summary)  # a failed task, listed among the failed tasks in the admin
    return summary
