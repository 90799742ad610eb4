"""Error reports to the operators: admin e-mails (rate-limited) and Sentry scrubbing.

* ``mail_admins_once`` sends at most one e-mail per distinct error per
  ``ALERT_MAIL_INTERVAL`` seconds (default 15 minutes), using the cache, so a
  failing page hit a thousand times sends one mail, not a thousand.
* ``RateLimitedAdminEmailHandler`` is the ``django.request`` handler for 5xx.
* ``SensitiveDataExceptionReporterFilter`` (``DEFAULT_EXCEPTION_REPORTER_FILTER``) and
  ``SensitiveDataExceptionReporter`` (the handler's report) hide every form field,
  query parameter and local variable whose name matches ``backoffice.logs.SENSITIVE_KEY``
  (password, tax_id, bank_account, otp…), not only those of views decorated with
  ``@sensitive_post_parameters``.
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
from django.http import QueryDict
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from backoffice.logs import SENSITIVE_KEY
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


class SensitiveDataExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: any POST/GET key or local variable named like a secret is hidden.

    The rule is the log redaction's (``SENSITIVE_KEY``), so a field hidden from the logs is
    hidden from the error e-mails too. Active when ``DEBUG`` is off, like Django's.
    """

    def cleanse_querydict(self, request, querydict):
        """A copy of ``querydict`` with the value of every sensitive key replaced."""
        if not self.is_active(request) or not any(isinstance(k, str) and SENSITIVE_KEY.search(k) for k in querydict):
            return querydict
        cleansed = querydict.copy()
        for key in list(cleansed):
            if isinstance(key, str) and SENSITIVE_KEY.search(key):
                cleansed.setlist(key, [self.cleansed_substitute])
        return cleansed

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        return parameters if request is None else self.cleanse_querydict(request, parameters)

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        return self.cleanse_querydict(request, super().get_cleansed_multivaluedict(request, multivaluedict))

    def get_safe_query(self, request) -> QueryDict:
        return self.cleanse_querydict(request, request.GET)

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        if meta.get("QUERY_STRING") and hasattr(request, "GET"):
            meta["QUERY_STRING"] = self.get_safe_query(request).urlencode(safe="*")
        return meta

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return [
            (name, self.cleansed_substitute if isinstance(name, str) and SENSITIVE_KEY.search(name) else value)
            for name, value in variables
        ]


class SensitiveDataExceptionReporter(ExceptionReporter):
    """Django's report with the query string filtered too (in the URL and the GET list)."""

    def _safe_query(self):
        get_safe_query = getattr(self.filter, "get_safe_query", None)
        return get_safe_query(self.request) if get_safe_query and self.request is not None else None

    def _get_raw_insecure_uri(self):
        uri = super()._get_raw_insecure_uri()
        query = self._safe_query()
        if query is None or "?" not in uri:
            return uri
        return f"{uri.split('?', 1)[0]}?{query.urlencode(safe='*')}"

    def get_traceback_data(self):
        data = super().get_traceback_data()
        query = self._safe_query()
        if query is not None:
            data["request_GET_items"] = query.items()
        return data


class RateLimitedAdminEmailHandler(AdminEmailHandler):
    """Django's 5xx e-mail, once per distinct error (view, exception type, message) per interval,
    reported by ``SensitiveDataExceptionReporter`` (no sensitive form field or query parameter)."""

    def __init__(self, include_html=False, email_backend=None, reporter_class=None):
        super().__init__(
            include_html=include_html,
            email_backend=email_backend,
            reporter_class=reporter_class or "backoffice.alerts.SensitiveDataExceptionReporter",
        )

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
