"""Sending e-mail: now (``send_email``) or after the transaction commits, with retries (``send_email_later``).

Both go through Django's mail settings (``EMAIL_URL`` / ``EMAIL_HOST`` …,
``DEFAULT_FROM_EMAIL``), so development prints to the console and production
uses SMTP.

``send_email_later`` queues ``backoffice.tasks.send_email_task`` with django-q2
from ``transaction.on_commit`` (a rolled-back transaction sends nothing). A
failed attempt is tried again later with backoff: attempt *n* failing queues
attempt *n + 1* as a one-off django-q2 ``Schedule`` ``RETRY_DELAYS[n - 1]``
seconds later (1 minute, then 5 minutes). After the last attempt (3 by
default) the admins get one e-mail naming the message and the error
(``backoffice.alerts.mail_admins_once``) and the task fails, so it is listed
among the failed tasks in the admin.

Scheduled reports do not use the queue: each ``ReportRun`` counts its own
attempts (``reports.scheduling``), and calls ``send_email`` directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import structlog
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

logger = structlog.get_logger(__name__)

SEND_TASK = "backoffice.tasks.send_email_task"
# Seconds to wait before attempt 2, attempt 3, … (the last value repeats).
RETRY_DELAYS = (60, 300, 900)

Attachment = tuple[str, bytes, str]  # (filename, content, mimetype)


class EmailNotSent(Exception):
    """The last attempt of a queued e-mail failed (the admins were told)."""


def _message(
    subject: str,
    to: Sequence[str],
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to: Sequence[str] | str | None = None,
) -> EmailMultiAlternatives:
    if isinstance(reply_to, str):
        reply_to = [reply_to]
    # A subject is one line: a newline in it would be a header injection (Django refuses it).
    subject = " ".join(str(subject).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to) if reply_to else None,
    )
    if html:
        message.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    return message


def send_email(
    subject: str,
    to: list[str],
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to=None,
) -> None:
    """Send one e-mail now through Django's mail settings; raises on failure (SMTP errors, refused addresses)."""
    if not to:
        raise ValueError("An e-mail needs at least one recipient.")
    sent = _message(subject, to, text, html, attachments, reply_to).send(fail_silently=False)
    if not sent:
        raise OSError("The mail backend accepted no message.")
    logger.info("mail.sent", subject=subject, recipients=len(to), attachments=len(attachments))


def send_email_later(
    subject: str,
    to: list[str],
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to=None,
    attempts: int = 3,
) -> None:
    """Queue the e-mail (django-q2) once the transaction commits; retried with backoff, then admins told."""
    if not to:
        raise ValueError("An e-mail needs at least one recipient.")
    if isinstance(reply_to, str):
        reply_to = [reply_to]
    payload = {
        "subject": str(subject),
        "to": [str(address) for address in to],
        "text": text,
        "html": html,
        "attachments": [(str(name), bytes(content), str(mimetype)) for name, content, mimetype in attachments],
        "reply_to": list(reply_to) if reply_to else None,
    }
    transaction.on_commit(lambda: _queue(payload, attempt=1, attempts=max(1, attempts)), robust=True)


def _queue(payload: dict, *, attempt: int, attempts: int) -> None:
    from django_q.tasks import async_task

    async_task(SEND_TASK, payload, attempt=attempt, attempts=attempts, task_name=f"e-mail: {payload['subject']}"[:100])


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
    return RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]


def deliver_queued(payload: dict, *, attempt: int = 1, attempts: int = 3) -> str:
    """One attempt at a queued e-mail (what ``send_email_task`` runs): send, or plan the next attempt, or give up."""
    try:
        send_email(
            payload["subject"],
            payload["to"],
            payload["text"],
            payload.get("html"),
            [tuple(item) for item in payload.get("attachments") or ()],
            payload.get("reply_to"),
        )
    except Exception as exc:  # noqa: BLE001 - any backend error (SMTP, DNS, refused recipient) is retried
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("mail.failed", subject=payload["subject"], attempt=attempt, attempts=attempts, error=error)
        if attempt < attempts:
            _schedule_retry(payload, attempt=attempt + 1, attempts=attempts, delay=retry_delay(attempt))
            return f"attempt {attempt} of {attempts} failed ({error}); retrying"
        _tell_admins(payload, attempts, error)
        raise EmailNotSent(f"E-mail {payload['subject']!r} not sent after {attempts} attempts: {error}") from exc
    return f"sent (attempt {attempt})"


def _schedule_retry(payload: dict, *, attempt: int, attempts: int, delay: int) -> None:
    from django_q.models import Schedule
    from django_q.tasks import schedule

    schedule(
        SEND_TASK,
        payload,
        attempt=attempt,
        attempts=attempts,
        schedule_type=Schedule.ONCE,  # deleted by the scheduler once it has queued the attempt
        next_run=timezone.now() + dt.timedelta(seconds=delay),
    )


def _tell_admins(payload: dict, attempts: int, error: str) -> None:
    from backoffice.alerts import mail_admins_once

    to = ", ".join(payload["to"])
    mail_admins_once(
        f"mail|{payload['subject']}|{to}|{error}",
        f"E-mail not sent: {payload['subject']}",
        f"The e-mail {payload['subject']!r} to {to} could not be sent after {attempts} attempts."
        f"\n\nLast error: {error}",
    )
