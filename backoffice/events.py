"""Business events: one info log line (and a metric) once the change is committed.

A service calls ``business_event("sales_order.confirmed", metric=ORDERS_CONFIRMED,
order=order.number, ...)`` where the event happens; nothing is logged or
counted if the surrounding transaction rolls back.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction

logger = structlog.get_logger("backoffice.events")


def business_event(event: str, *, metric: Any = None, **fields: Any) -> None:
    """Log ``event`` at info with ``fields`` and increment ``metric`` (a prometheus counter) after commit."""

    def emit() -> None:
        logger.info(event, **fields)
        if metric is not None:
            metric.inc()

    transaction.on_commit(emit)
