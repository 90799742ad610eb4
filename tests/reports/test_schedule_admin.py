"""Scheduled-report admin: validation, owner, next-send preview, Send now / Resend, run files behind permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from reports.models import ReportRun, RunStatus, ScheduledReport
from tests.reports.conftest import grant_run_report

pytestmark = pytest.mark.django_db
ADD_URL = reverse("admin:reports_scheduledreport_add")


def form_data(**overrides):
    data = {
        "name": "Monday movements",
        "report": "stock-movements",
        "params": '{"date_range": "last_week"}',
        "format": "xlsx",
        "frequency": "weekly",
        "weekday": "0",
        "day_of_month": "",
        "send_time": "08:00",
        "recipients": "ann@example.com, bob@example.com",
        "is_active": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def manager_client(client, make_user):
    manager = grant_run_report(make_user("Manager"))
    client.force_login(manager)
    client.user = manager
    return client


def test_manager_creates_a_schedule_and_becomes_its_owner(manager_client, week_ledger):
    page = manager_client.get(ADD_URL)
    assert page.status_code == 200
    assert b'value="stock-movements"' in page.content  # the report is a select of registry names
    response = manager_client.post(ADD_URL, form_data())
    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule = ScheduledReport.objects.get()
    assert schedule.owner == manager_client.user
    assert schedule.params == {"date_range": "last_week"}
    change = manager_client.get(reverse("admin:reports_scheduledreport_change", args=[schedule.pk])).content.decode()
    assert "Mon " in change and "covering" in change  # the next send time and the period it covers
    assert "Send now" in change


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"params": '{"warehouse": "NOPE"}'}, "params", "warehouse:"),
        ({"params": '{"colour": "red"}'}, "params", "colour: Unknown parameter."),
        ({"params": '{"date_range": "next_century"}'}, "params", "date_range:"),
        ({"params": '{"date_from": "2026-01-01"}'}, "params", "use date_range"),
        ({"params": "[1, 2"}, "params", "JSON"),
        ({"params": "[1, 2]"}, "params", "JSON object"),
        ({"weekday": ""}, "weekday", "needs the weekday"),
        ({"frequency": "monthly", "day_of_month": ""}, "day_of_month", "day of the month"),
        ({"frequency": "monthly", "day_of_month": "31"}, "day_of_month", "28"),
        ({"recipients": "ann@example.com, not-an-address"}, "recipients", "Not e-mail addresses: not-an-address"),
        ({"recipients": ""}, "recipients", "at least one address or a role"),
        ({"report": "no-such-report"}, "report", "valid choice"),
    ],
)
def test_bad_input_gives_a_field_error_and_saves_nothing(manager_client, week_ledger, overrides, field, message):
    response = manager_client.post(ADD_URL, form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert not ScheduledReport.objects.exists()


def send_now_url(schedule, action="send_now"):
    return reverse(f"admin:reports_scheduledreport_{action}", args=[schedule.pk])


CONFIRM = {"_form_submitted": "on"}  # the Unfold dialog's confirmation


def test_send_now_sends_once_then_offers_resend(manager_client, week_ledger, make_schedule):
    schedule = make_schedule(recipients="ann@example.com", owner=manager_client.user)
    response = manager_client.post(send_now_url(schedule), CONFIRM, follow=True)
    assert response.status_code == 200
    assert "Sent " in response.content.decode()
    assert len(mail.outbox) == 1
    run = ReportRun.objects.get()
    assert run.status == RunStatus.SENT

    page = manager_client.post(send_now_url(schedule), CONFIRM, follow=True).content.decode()
    assert "Press “Resend” to send it again" in page
    assert len(mail.outbox) == 1
    assert "Resend" in page

    manager_client.post(send_now_url(schedule, "resend"), CONFIRM, follow=True)
    assert len(mail.outbox) == 2
    run = ReportRun.objects.get()
    assert run.resends == 1


def test_a_viewer_sees_schedules_but_cannot_change_or_send(client, make_user, week_ledger, make_schedule):
    viewer = make_user("Viewer")
    client.force_login(viewer)
    schedule = make_schedule(recipients="ann@example.com")
    assert client.get(reverse("admin:reports_scheduledreport_changelist")).status_code == 200
    assert client.get(ADD_URL).status_code == 403
    client.post(send_now_url(schedule), CONFIRM)
    assert mail.outbox == [] and not ReportRun.objects.exists()


def test_run_file_download_is_permission_checked(client, manager_client, make_user, week_ledger, make_schedule):
    schedule = make_schedule(recipients="ann@example.com", owner=manager_client.user)
    manager_client.post(send_now_url(schedule), CONFIRM)
    run = ReportRun.objects.get()
    url = reverse("admin:reports_reportrun_download", args=[run.pk])

    response = manager_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\xef\xbb\xbf")  # the stored CSV
    assert "attachment" in response["Content-Disposition"]
    listing = manager_client.get(reverse("admin:reports_reportrun_changelist")).content.decode()
    assert url in listing

    clerk = grant_run_report(make_user("Warehouse", username="clerk"))
    client.force_login(clerk)
    assert client.get(url).status_code == 403  # no view permission on runs; and limited to some warehouses

    runs_only = make_user(None, username="runsonly")  # may view runs, may not run reports
    runs_only.user_permissions.add(Permission.objects.get(codename="view_reportrun"))
    client.force_login(runs_only)
    assert client.get(url).status_code == 403

    viewer = make_user("Viewer", username="vic")  # runs reports, sees every warehouse
    client.force_login(viewer)
    assert client.get(url).status_code == 200

    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    assert client.get(run.file.url).status_code == 404  # media files are not served as public URLs


def test_runs_are_read_only(manager_client, make_schedule):
    schedule = make_schedule(recipients="ann@example.com")
    run = ReportRun.objects.create(
        scheduled_report=schedule, period_start=dt.date(2026, 10, 5), period_end=dt.date(2026, 10, 11)
    )
    change = reverse("admin:reports_reportrun_change", args=[run.pk])
    assert manager_client.get(change).status_code == 200
    manager_client.post(change, {"status": "sent"})
    run.refresh_from_db()
    assert run.status == RunStatus.PENDING
    assert manager_client.get(reverse("admin:reports_reportrun_add")).status_code == 403
