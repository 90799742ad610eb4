"""Business events: one info log line (and a metric) once the change is committed.

A service calls ``business_event("sales_order.confirmed", metric=ORDERS_CONFIRMED,
order=order.number, ...)`` where the event happens; nothing is logged or
counted if the surrounding transaction rolls back.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.dispatch import Signal

logger = structlog.get_logger("backoffice.events")

# Sent after commit with ``event`` and ``fields``; integrations.webhooks turns it into webhook deliveries.
event_committed = Signal()


def business_event(event: str, *, metric: Any = None, **fields: Any) -> None:
    """Log ``event`` at info with ``fields`` and increment ``metric`` (a prometheus counter) after commit."""

    def emit() -> None:
        logger.info(event, **fields)
        if metric is not None:
            metric.inc()
        for _receiver, error in event_committed.send_robust(sender=None, event=event, fields=fields):
            if isinstance(error, Exception):
                logger.error("event.listener_failed", event=event, error=f"{type(error).__name__}: {error}")

    transaction.on_commit(emit)
