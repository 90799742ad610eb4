"""django-q2 tasks of the integrations app (registered by backoffice.task_registry)."""

from __future__ import annotations

from backoffice.task_registry import schedulable


def deliver_webhook_task(delivery_id: int, attempt: int = 1) -> str:
    """Send one webhook delivery (retried with backoff by integrations.webhooks)."""
    from integrations.webhooks import deliver

    return deliver(delivery_id, attempt=attempt)


@schedulable
def idempotency_keys_cleanup_task() -> str:
    """Delete API idempotency keys older than 24 hours."""
    from integrations.idempotency import idempotency_keys_cleanup

    return f"{idempotency_keys_cleanup()} idempotency keys deleted"
