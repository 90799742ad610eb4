"""Error reports to the operators: admin e-mails (rate-limited) and Sentry scrubbing.

* ``mail_admins_once`` sends at most one e-mail per distinct error per
  ``ALERT_MAIL_INTERVAL`` seconds (default 15 minutes), using the cache, so a
  failing page hit a thousand times sends one mail, not a thousand.
* ``RateLimitedAdminEmailHandler`` is the ``django.request`` handler for 5xx.
* ``task_finished`` (django-q2 ``post_execute``) counts and reports failed tasks.

Sentry's ``before_send`` scrubbing is ``backoffice.logs.scrub_sentry_event``.
"""

from __future__ import annotations

import hashlib
import logging

import structlog
from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.utils.log import AdminEmailHandler

from backoffice.metrics import TASK_FAILURES

logger = structlog.get_logger(__name__)


def _first_send(key: str) -> bool:
    """True the first time ``key`` is seen within the interval (atomic ``cache.add``)."""
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    return cache.add(f"alert-mail:{digest}", 1, timeout=settings.ALERT_MAIL_INTERVAL)


def mail_admins_once(key: str, subject: str, message: str) -> bool:
    """E-mail the admins unless the same ``key`` was mailed within the interval; True when sent."""
    if not settings.ADMINS or not _first_send(key):
        return False
    mail_admins(subject, message, fail_silently=True)
    return True


class RateLimitedAdminEmailHandler(AdminEmailHandler):
    """Django's 5xx e-mail, once per distinct error (view, exception type, message) per interval."""

    def emit(self, record: logging.LogRecord) -> None:
        error = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            error = f"{type(exc).__module__}.{type(exc).__qualname__}:{exc}"
        request = getattr(record, "request", None)
        path = getattr(request, "path", "") if request is not None else ""
        if not _first_send(f"5xx|{path}|{error or record.getMessage()}"):
            return
        super().emit(record)


def task_finished(sender, task: dict, **kwargs) -> None:
    """django-q2 ``post_execute``: a failed task is counted, logged and mailed (once per function per interval)."""
    if task.get("success"):
        return
    func = task.get("func")
    func_name = func if isinstance(func, str) else getattr(func, "__qualname__", repr(func))
    TASK_FAILURES.labels(func=func_name).inc()
    result = str(task.get("result") or "")
    logger.error("task.failed", func=func_name, task_name=task.get("name"), task_id=task.get("id"))
    first_line = result.splitlines()[0] if result else "no result"
    mail_admins_once(
        f"task|{func_name}|{first_line}",
        f"Task failed: {func_name}",
        f"Task {task.get('name')} ({task.get('id')}) running {func_name} failed.\n\n{result}",
    )
