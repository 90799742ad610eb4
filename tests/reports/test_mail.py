"""backoffice.mail: send now, send after commit through django-q2, retries with backoff, admins told at the end."""

from __future__ import annotations

import ast
import datetime as dt

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from backoffice import mail as backoffice_mail
from backoffice.mail import EmailNotSent, send_email, send_email_later
from backoffice.task_registry import is_registered, is_schedulable

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_tasks(monkeypatch):
    """django-q2 runs queued tasks in the test process (as the worker would)."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def failing_backend(monkeypatch):
    """The mail server refuses the first ``failures`` messages."""
    state = {"failures": 0, "calls": 0}
    original = backoffice_mail.EmailMultiAlternatives.send

    def send(self, fail_silently=False):
        state["calls"] += 1
        if state["calls"] <= state["failures"]:
            raise ConnectionRefusedError("SMTP server down")
        return original(self, fail_silently=fail_silently)

    monkeypatch.setattr(backoffice_mail.EmailMultiAlternatives, "send", send)
    return state


def test_send_email_sends_text_html_and_attachment():
    send_email(
        "Weekly figures",
        ["ann@example.com"],
        "Plain body",
        html="<p>HTML body</p>",
        attachments=[("figures.csv", b"a,b\n1,2\n", "text/csv")],
        reply_to="boss@example.com",
    )
    (message,) = mail.outbox
    assert message.subject == "Weekly figures"
    assert message.to == ["ann@example.com"]
    assert message.reply_to == ["boss@example.com"]
    assert message.body == "Plain body"
    assert message.alternatives[0][0] == "<p>HTML body</p>"
    assert message.attachments[0][0] == "figures.csv"


def test_send_email_without_recipients_is_refused():
    with pytest.raises(ValueError, match="recipient"):
        send_email("Nobody", [], "text")
    assert mail.outbox == []


def test_send_email_raises_when_the_server_fails(failing_backend):
    failing_backend["failures"] = 1
    with pytest.raises(ConnectionRefusedError):
        send_email("Down", ["ann@example.com"], "text")


def test_the_mail_task_is_registered_but_not_schedulable_by_people():
    assert is_registered(backoffice_mail.SEND_TASK)
    assert not is_schedulable(backoffice_mail.SEND_TASK)


def test_send_email_later_waits_for_the_commit(sync_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send_email_later("After commit", ["ann@example.com"], "text", attachments=[("a.txt", b"x", "text/plain")])
        assert mail.outbox == []  # not before the transaction commits
    assert len(callbacks) == 1
    (message,) = mail.outbox
    assert message.subject == "After commit"
    assert message.attachments == [("a.txt", "x", "text/plain")]


def test_send_email_later_in_a_rolled_back_transaction_sends_nothing(sync_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                send_email_later("Never", ["ann@example.com"], "text")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert mail.outbox == []


def test_a_failed_send_is_retried_later_with_backoff_then_admins_are_told(
    sync_tasks, failing_backend, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Admin", "admin@example.com")]
    failing_backend["failures"] = 3
    with django_capture_on_commit_callbacks(execute=True):
        send_email_later("Retry me", ["ann@example.com"], "text", attachments=[("f.bin", b"\x00\xff", "x/y")])

    # Attempt 1 failed: attempt 2 is a one-off schedule a minute later, with the same message.
    retry = Schedule.objects.get(func=backoffice_mail.SEND_TASK)
    assert retry.schedule_type == Schedule.ONCE
    assert timezone.now() + dt.timedelta(seconds=50) < retry.next_run < timezone.now() + dt.timedelta(seconds=70)
    (payload,) = ast.literal_eval(retry.args)  # what the scheduler will pass to the task
    kwargs = ast.literal_eval(retry.kwargs)
    assert kwargs == {"attempt": 2, "attempts": 3}
    assert payload["attachments"] == [("f.bin", b"\x00\xff", "x/y")]

    # Attempt 2 fails too: attempt 3 is planned five minutes later.
    retry.delete()
    backoffice_mail.deliver_queued(payload, **kwargs)
    third = Schedule.objects.get(func=backoffice_mail.SEND_TASK)
    assert timezone.now() + dt.timedelta(seconds=290) < third.next_run < timezone.now() + dt.timedelta(seconds=310)
    assert ast.literal_eval(third.kwargs) == {"attempt": 3, "attempts": 3}
    assert mail.outbox == []

    # The last attempt fails: no further attempt, the admins get an e-mail naming the message and the error.
    third.delete()
    with pytest.raises(EmailNotSent, match="3 attempts"):
        backoffice_mail.deliver_queued(payload, attempt=3, attempts=3)
    assert not Schedule.objects.filter(func=backoffice_mail.SEND_TASK).exists()
    (alert,) = mail.outbox
    assert alert.to == ["admin@example.com"]
    assert "Retry me" in alert.subject
    assert "SMTP server down" in alert.body


def test_a_retry_that_succeeds_delivers_once(sync_tasks, failing_backend, django_capture_on_commit_callbacks):
    failing_backend["failures"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        send_email_later("Second time lucky", ["ann@example.com"], "text")
    retry = Schedule.objects.get(func=backoffice_mail.SEND_TASK)
    (payload,) = ast.literal_eval(retry.args)
    assert backoffice_mail.deliver_queued(payload, **ast.literal_eval(retry.kwargs)) == "sent (attempt 2)"
    assert [m.subject for m in mail.outbox] == ["Second time lucky"]
