"""Structured logs (structlog + django-structlog): JSON in production, readable console in development.

Every request logs ``request_started`` and ``request_finished`` with
``request_id``, ``user_id``, ``ip``, ``method``, ``path`` (no query string),
``status`` and ``duration_ms``. Business events are logged at info by the
services once committed (``backoffice.events``: ``sales_order.confirmed``,
``stock.adjusted``, ``import.finished``). ``redact_processor`` replaces the
value of any key that looks like a secret (password, token, secret,
authorization, cookie, session, tax_id, bank_account…) with ``[redacted]``, at
any depth. Tracebacks (JSON or console) never include local variables.
``scrub_sentry_event`` is Sentry's ``before_send``: no request
body, cookies, query string, auth headers or user details.
"""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from django.dispatch import receiver
from django_structlog import signals

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|token|secret|authori[sz]ation|cookie|session|csrf|api[_-]?key|otp|"
    r"tax_id|bank_account|iban|encryption_key|private",
    re.IGNORECASE,
)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every sensitive key's value replaced, through dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and SENSITIVE_KEY.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value


def redact_processor(logger, method_name: str, event_dict: dict) -> dict:
    """structlog processor: no secret leaves the process in a log line."""
    return redact(event_dict)


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_processor,
]


def structlog_configure() -> None:
    """structlog hands its events to the standard ``logging`` handlers configured in ``LOGGING``."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def logging_config(*, log_format: str, level: str) -> dict:
    """The ``LOGGING`` dict: one console handler, JSON or console rendering."""
    # Tracebacks never show local variables: they hold passwords, tax IDs, tokens… and the redaction
    # processor runs before the traceback is rendered. structlog's ``dict_tracebacks`` and the Rich /
    # better-exceptions console formatters show locals by default, so both are chosen explicitly.
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if log_format == "json":
        final.append(
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [*final, renderer],
                "foreign_pre_chain": SHARED_PROCESSORS,
            },
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
            "mail_admins": {
                "level": "ERROR",
                "filters": ["require_debug_false"],
                "class": "backoffice.alerts.RateLimitedAdminEmailHandler",
            },
        },
        "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own defaults put a console handler and a plain (not rate-limited, no query filtering)
            # AdminEmailHandler on "django": without this line every 5xx was mailed twice.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.db.backends": {"level": "WARNING"},
            # django-axes announces its configuration at every start (each manage.py command, each worker).
            "axes.apps": {"level": "WARNING"},
            "django.request": {"handlers": ["mail_admins"], "level": "ERROR", "propagate": True},
            # django-structlog logs every request itself; the 4xx warnings of django.request would repeat them.
            "django_structlog": {"level": level},
        },
    }


@receiver(signals.bind_extra_request_metadata)
def _request_started(request, logger, log_kwargs, **kwargs) -> None:
    request._log_started = time.monotonic()
    log_kwargs["request"] = f"{request.method} {request.path}"
    log_kwargs.update(method=request.method, path=request.path)


def _finished_fields(request, log_kwargs: dict) -> None:
    log_kwargs["request"] = f"{request.method} {request.path}"
    log_kwargs.update(method=request.method, path=request.path, status=log_kwargs.get("code"))
    started = getattr(request, "_log_started", None)
    if started is not None:
        log_kwargs["duration_ms"] = round((time.monotonic() - started) * 1000, 1)


@receiver(signals.bind_extra_request_finished_metadata)
def _request_finished(request, logger, response, log_kwargs, **kwargs) -> None:
    _finished_fields(request, log_kwargs)


@receiver(signals.bind_extra_request_failed_metadata)
def _request_failed(request, logger, exception, log_kwargs, **kwargs) -> None:
    _finished_fields(request, log_kwargs)


SENSITIVE_HEADERS = {"authorization", "cookie", "set-cookie", "x-csrftoken", "proxy-authorization", "x-api-key"}


def scrub_sentry_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry ``before_send``: no request body, cookies, auth headers, query string or user details."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        request.pop("query_string", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: ("[Filtered]" if k.lower() in SENSITIVE_HEADERS or SENSITIVE_KEY.search(k) else v)
                for k, v in headers.items()
            }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for key in ("extra", "contexts"):
        if isinstance(event.get(key), dict):
            event[key] = redact(event[key])
    for exception in (event.get("exception") or {}).get("values", []) or []:
        for frame in ((exception.get("stacktrace") or {}).get("frames")) or []:
            if isinstance(frame.get("vars"), dict):
                frame["vars"] = redact(frame["vars"])
    return event
