"""Error reports: failed tasks and repeated 5xx e-mail the admins at most once per error per interval;
Sentry events leave without personal data or secrets."""

from __future__ import annotations

import logging
import sys

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import include, path

from backoffice.alerts import RateLimitedAdminEmailHandler, task_finished
from backoffice.logs import scrub_sentry_event


@pytest.fixture
def admins(settings, mailoutbox):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.ALERT_MAIL_INTERVAL = 900
    cache.clear()
    return mailoutbox


def failed(func="inventory.tasks.check_stock_task", error="OperationalError: database is locked"):
    return {"id": "abc", "name": "nightly", "func": func, "success": False, "result": f"{error} : Traceback..."}


def test_a_failed_task_mails_the_admins_once_per_interval(admins):
    for _ in range(5):
        task_finished(sender="django_q", task=failed())

    assert len(admins) == 1
    assert admins[0].to == ["ops@example.com"]
    assert "inventory.tasks.check_stock_task" in admins[0].subject
    assert "database is locked" in admins[0].body


def test_a_different_error_is_mailed_too(admins):
    task_finished(sender="django_q", task=failed())
    task_finished(sender="django_q", task=failed(error="ValueError: bad"))
    task_finished(sender="django_q", task=failed(func="backoffice.tasks.nightly_backup_task"))

    assert len(admins) == 3


def test_the_same_error_is_mailed_again_after_the_interval(admins):
    task_finished(sender="django_q", task=failed())
    cache.clear()  # the interval has passed: the cache entry expired
    task_finished(sender="django_q", task=failed())

    assert len(admins) == 2


def test_a_successful_task_mails_nothing(admins):
    task_finished(sender="django_q", task={"func": "x", "success": True, "result": 1})

    assert admins == []


def server_error_record(path="/admin/orders/salesorder/", message="boom"):
    request = RequestFactory().get(path)
    try:
        raise RuntimeError(message)
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", (path,), exc_info
    )
    record.request = request
    record.status_code = 500
    return record


def test_repeated_server_errors_send_one_mail(admins):
    handler = RateLimitedAdminEmailHandler()

    for _ in range(10):
        handler.emit(server_error_record())
    handler.emit(server_error_record(message="another bug"))

    assert len(admins) == 2
    assert "Internal Server Error" in admins[0].subject


def test_sentry_event_loses_body_cookies_auth_and_user_details():
    event = {
        "request": {
            "url": "https://bo.example.com/admin/login/",
            "data": {"username": "sam", "password": "hunter2"},
            "cookies": {"sessionid": "s3ss10n"},
            "query_string": "token=abc",
            "headers": {"Authorization": "Basic c2FtOmh1bnRlcjI=", "Cookie": "sessionid=s3ss10n", "Accept": "*/*"},
        },
        "user": {"id": 7, "email": "sam@example.com", "ip_address": "10.0.0.9", "username": "sam"},
        "extra": {"customer": {"tax_id": "DE123456789"}},
        "exception": {"values": [{"stacktrace": {"frames": [{"vars": {"password": "hunter2", "qty": "3"}}]}}]},
    }

    scrubbed = scrub_sentry_event(event, {})

    text = repr(scrubbed)
    for secret in ("hunter2", "s3ss10n", "token=abc", "c2FtOmh1bnRlcjI=", "sam@example.com", "10.0.0.9", "DE123456789"):
        assert secret not in text
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["request"]["headers"]["Accept"] == "*/*"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["qty"] == "3"


def test_sentry_is_configured_from_sentry_dsn(tmp_path):
    from tests.backoffice.test_settings import django_env, run_python

    code = (
        "import django; django.setup(); import sentry_sdk\n"
        "client = sentry_sdk.get_client()\n"
        "print(client.is_active(), client.options['send_default_pii'], client.options['before_send'].__name__)"
    )
    result = run_python(
        django_env(tmp_path, DJANGO_DEBUG="true", SENTRY_DSN="https://key@o0.ingest.sentry.io/1"), "-c", code
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "scrub_sentry_event"]


def _view_that_fails(request):
    password = request.POST.get("password")  # noqa: F841 - locals of the failing frame
    raise RuntimeError("the save failed")


urlpatterns = [path("fails/", _view_that_fails), path("", include("backoffice.urls"))]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_mail_hides_sensitive_form_and_query_fields(admins, client):
    client.raise_request_exception = False

    response = client.post(
        "/fails/?otp_token=654321&page=2",
        {"tax_id": "DE123456789", "password": "hunter2-x", "bank_account": "DE89370400440532013000", "qty": "3"},
    )

    assert response.status_code == 500
    assert len(admins) == 1, [m.subject for m in admins]
    body = admins[0].body
    assert "the save failed" in body and "qty = '3'" in body and "page = '2'" in body
    assert "tax_id = '********************'" in body, "the field is listed, its value hidden"
    for secret in ("DE123456789", "hunter2-x", "DE89370400440532013000", "654321"):
        assert secret not in body, secret
