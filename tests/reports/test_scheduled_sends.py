"""Scheduled sends: once per period, only_if_rows, retries, per-recipient scoping, the command and the task."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django_q.models import Schedule

from backoffice.schedules import SCHEDULES, schedules_setup
from backoffice.task_registry import is_schedulable
from reports import sends
from reports.models import ReportRun, RunStatus
from reports.registry import run_report
from reports.sends import send_due_reports
from reports.tasks import send_due_reports_task
from tests.reports.conftest import MONDAY, grant_run_report

pytestmark = pytest.mark.django_db
MINUTE = dt.timedelta(minutes=1)


def attachment_rows(message) -> list[dict]:
    """The CSV attachment's rows (without the totals row)."""
    (name, content, _mimetype) = message.attachments[0]
    assert name.endswith(".csv")
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content.lstrip("\ufeff")  # Excel's BOM
    rows = [{key.lower(): value for key, value in row.items()} for row in csv.DictReader(io.StringIO(text))]
    return [row for row in rows if row["sku"] != "Total"]


@pytest.fixture
def manager(make_user):
    return grant_run_report(make_user("Manager"))


@pytest.fixture
def main_clerk(make_user, week_ledger):
    """A Warehouse-role user staffing MAIN only."""
    user = grant_run_report(make_user("Warehouse", username="clerk"))
    week_ledger["main"].staff.add(user)
    return user


def test_a_due_report_is_sent_once_for_its_period(week_ledger, make_schedule):
    make_schedule(recipients="ann@example.com")

    assert send_due_reports(now=MONDAY - MINUTE) == []  # 07:59: not due yet (last Monday's was before it existed)
    (outcome,) = send_due_reports(now=MONDAY + 5 * MINUTE)
    assert outcome.status == RunStatus.SENT
    for later in (5, 10, 60 * 24):  # later checks, even the next day, send nothing more
        assert send_due_reports(now=MONDAY + later * MINUTE) == []

    (message,) = mail.outbox
    assert message.to == ["ann@example.com"]
    assert "2026-10-05 – 2026-10-11" in message.subject
    run = ReportRun.objects.get()
    assert (run.period_start, run.period_end) == (dt.date(2026, 10, 5), dt.date(2026, 10, 11))
    assert (run.status, run.attempts, run.row_count, run.recipients) == ("sent", 1, 3, "ann@example.com")
    assert run.file.name.endswith("stock-movements_2026-10-05_to_2026-10-11.csv")
    # The week before (3 CHANG into EAST on 30 Sept) is not in this run.
    assert sorted((r["sku"], r["quantity"]) for r in attachment_rows(message)) == [
        ("CHAI", "11"),
        ("CHAI", "7"),
        ("CHANG", "5"),
    ]

    # The next Monday is a new period: one more run.
    send_due_reports(now=MONDAY + dt.timedelta(days=7))
    assert ReportRun.objects.count() == 2
    assert len(mail.outbox) == 2


def test_the_database_refuses_a_second_run_for_the_same_period(make_schedule):
    schedule = make_schedule(recipients="ann@example.com")
    ReportRun.objects.create(
        scheduled_report=schedule, period_start=dt.date(2026, 10, 5), period_end=dt.date(2026, 10, 11)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportRun.objects.create(
            scheduled_report=schedule, period_start=dt.date(2026, 10, 5), period_end=dt.date(2026, 10, 11)
        )


def test_inactive_schedules_are_not_sent(week_ledger, make_schedule):
    make_schedule(recipients="ann@example.com", is_active=False)
    assert send_due_reports(now=MONDAY + MINUTE) == []
    assert mail.outbox == [] and not ReportRun.objects.exists()


def test_only_if_rows_skips_an_empty_period_and_records_it(make_schedule, week_ledger):
    make_schedule(recipients="ann@example.com", only_if_rows=True, params={"warehouse": "EAST", "kind": "shipment"})
    (outcome,) = send_due_reports(now=MONDAY)
    assert outcome.status == RunStatus.SKIPPED
    assert mail.outbox == []
    run = ReportRun.objects.get()
    assert run.status == RunStatus.SKIPPED and run.row_count == 0
    assert "ann@example.com: the report has no rows" in run.skipped


def test_without_only_if_rows_an_empty_report_is_still_sent(make_schedule, week_ledger):
    make_schedule(recipients="ann@example.com", params={"warehouse": "EAST", "kind": "shipment"})
    send_due_reports(now=MONDAY)
    (message,) = mail.outbox
    assert attachment_rows(message) == []
    assert "0 rows" in message.body


def test_a_failed_send_is_retried_with_backoff_then_fails_and_tells_the_admins(
    make_schedule, week_ledger, monkeypatch, settings
):
    settings.ADMINS = [("Admin", "admin@example.com")]
    make_schedule(recipients="ann@example.com")

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(sends, "send_email", refuse)

    (first,) = send_due_reports(now=MONDAY)
    run = ReportRun.objects.get()
    assert (run.status, run.attempts) == (RunStatus.PENDING, 1)
    assert "SMTP server down" in run.error
    assert run.next_attempt_at == MONDAY + dt.timedelta(minutes=5)

    assert send_due_reports(now=MONDAY + 4 * MINUTE) == []  # backoff not over
    (second,) = send_due_reports(now=MONDAY + 5 * MINUTE)
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.PENDING, 2)
    assert run.next_attempt_at == MONDAY + 20 * MINUTE  # 15 minutes after attempt 2
    assert send_due_reports(now=MONDAY + 19 * MINUTE) == []

    (third,) = send_due_reports(now=MONDAY + 20 * MINUTE)
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.FAILED, 3)
    assert "SMTP server down" in run.error
    assert third.status == RunStatus.FAILED
    (alert,) = mail.outbox
    assert alert.to == ["admin@example.com"]
    assert "Weekly ledger" in alert.subject and "SMTP server down" in alert.body

    assert send_due_reports(now=MONDAY + dt.timedelta(hours=2)) == []  # failed for good: no fourth attempt
    assert ReportRun.objects.count() == 1


def test_a_retry_sends_only_to_those_who_did_not_get_it(make_schedule, week_ledger, manager, main_clerk, monkeypatch):
    make_schedule(recipients=f"{manager.email}, {main_clerk.email}")
    real_send = sends.send_email
    calls = []

    def flaky(subject, to, *args, **kwargs):
        calls.append(list(to))
        if to == [main_clerk.email] and len(calls) <= 2:
            raise TimeoutError("timed out")
        return real_send(subject, to, *args, **kwargs)

    monkeypatch.setattr(sends, "send_email", flaky)
    send_due_reports(now=MONDAY)
    run = ReportRun.objects.get()
    assert run.status == RunStatus.PENDING and run.recipients == manager.email
    send_due_reports(now=MONDAY + 5 * MINUTE)
    run.refresh_from_db()
    assert run.status == RunStatus.SENT and run.attempts == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([manager.email, main_clerk.email])  # nobody twice
    assert run.error == ""


def test_each_recipient_gets_the_rows_their_permissions_show(
    make_schedule, week_ledger, manager, main_clerk, make_user
):
    outsider = make_user(None, username="nobody")  # staff without any role: may not run reports
    make_schedule(
        recipients=f"{main_clerk.email}\n{manager.email}; partner@example.org, {outsider.email}", owner=manager
    )
    send_due_reports(now=MONDAY)

    by_recipient = {tuple(message.to): message for message in mail.outbox}
    assert set(by_recipient) == {(main_clerk.email,), (manager.email,), ("partner@example.org",)}
    clerk_rows = attachment_rows(by_recipient[(main_clerk.email,)])
    assert {row["warehouse"] for row in clerk_rows} == {"MAIN"}
    assert sorted(int(row["quantity"]) for row in clerk_rows) == [5, 7]
    # Same numbers as the report run for that user.
    scoped = run_report(
        "stock-movements", {"date_from": "2026-10-05", "date_to": "2026-10-11"}, user=main_clerk, today=MONDAY.date()
    )
    assert len(clerk_rows) == scoped.row_count and scoped.totals["quantity"] == 12
    assert {row["warehouse"] for row in attachment_rows(by_recipient[(manager.email,)])} == {"MAIN", "EAST"}
    assert {row["warehouse"] for row in attachment_rows(by_recipient[("partner@example.org",)])} == {"MAIN", "EAST"}

    run = ReportRun.objects.get()
    assert run.status == RunStatus.SENT
    assert f"{outsider.email}: nobody may not run this report" in run.skipped
    assert outsider.email not in run.recipients
    assert run.row_count == 3  # the stored file is the owner's (manager's) view


def test_an_address_that_is_not_a_user_is_skipped_when_the_owner_sees_only_some_warehouses(
    make_schedule, week_ledger, main_clerk
):
    make_schedule(recipients=f"partner@example.org, {main_clerk.email}", owner=main_clerk)
    send_due_reports(now=MONDAY)
    (message,) = mail.outbox
    assert message.to == [main_clerk.email]
    run = ReportRun.objects.get()
    assert "partner@example.org: not a user, and the schedule's owner may not see every row" in run.skipped
    assert run.row_count == 2  # the owner's view: MAIN only


def test_recipients_who_see_the_same_rows_share_one_email(make_schedule, week_ledger, main_clerk, make_user):
    second_clerk = grant_run_report(make_user("Warehouse", username="clerk2"))
    week_ledger["main"].staff.add(second_clerk)
    east_clerk = grant_run_report(make_user("Warehouse", username="eastclerk"))
    week_ledger["east"].staff.add(east_clerk)
    make_schedule(recipients=f"{main_clerk.email}, {second_clerk.email}, {east_clerk.email}")
    send_due_reports(now=MONDAY)
    recipients = sorted(sorted(message.to) for message in mail.outbox)
    assert recipients == [sorted([main_clerk.email, second_clerk.email]), [east_clerk.email]]


def test_role_members_with_an_address_receive_it(make_schedule, week_ledger, make_user, roles):
    from django.contrib.auth.models import Group

    viewer = grant_run_report(make_user("Viewer", username="vera"))
    no_address = grant_run_report(make_user("Viewer", username="noaddress"))
    no_address.email = ""
    no_address.save()
    gone = grant_run_report(make_user("Viewer", username="gone"))
    gone.is_active = False
    gone.save()
    make_schedule(roles=[Group.objects.get(name="Viewer")], recipients="VERA@example.com")
    send_due_reports(now=MONDAY)
    (message,) = mail.outbox
    assert message.to == ["VERA@example.com"]  # typed address and role member are one person: one copy
    assert ReportRun.objects.get().recipients == "VERA@example.com"
    assert viewer.email.lower() == "vera@example.com"


def test_a_schedule_whose_params_no_longer_work_fails_at_once(make_schedule, week_ledger, settings):
    settings.ADMINS = [("Admin", "admin@example.com")]
    make_schedule(recipients="ann@example.com", params={"warehouse": "GONE"})
    (outcome,) = send_due_reports(now=MONDAY)
    assert outcome.status == RunStatus.FAILED
    run = ReportRun.objects.get()
    assert run.status == RunStatus.FAILED and "warehouse" in run.error
    assert [m.to for m in mail.outbox] == [["admin@example.com"]]


def test_send_now_sends_the_current_period_once_and_resends_only_when_asked(make_schedule, week_ledger):
    schedule = make_schedule(recipients="ann@example.com")
    first = sends.scheduled_report_send_now(schedule=schedule, now=MONDAY + dt.timedelta(hours=3))
    assert first.status == RunStatus.SENT
    again = sends.scheduled_report_send_now(schedule=schedule, now=MONDAY + dt.timedelta(hours=4))
    assert again.status == "already" and "Resend" in again.message
    assert len(mail.outbox) == 1
    resent = sends.scheduled_report_send_now(schedule=schedule, now=MONDAY + dt.timedelta(hours=5), resend=True)
    assert resent.status == RunStatus.SENT
    assert len(mail.outbox) == 2
    run = ReportRun.objects.get()  # never a second row
    assert (run.resends, run.status) == (1, RunStatus.SENT)
    # The scheduled check at the same period sends nothing more.
    assert send_due_reports(now=MONDAY + dt.timedelta(hours=6)) == []


def test_command_sends_as_of_now_and_reports_what_it_did(make_schedule, week_ledger):
    make_schedule(recipients="ann@example.com")
    out = io.StringIO()
    call_command("send_due_reports", "--now", "2026-10-12T08:03", stdout=out)
    assert "Weekly ledger: sent 2026-10-05 – 2026-10-11 to ann@example.com" in out.getvalue()
    out = io.StringIO()
    call_command("send_due_reports", "--now", "2026-10-12T08:08:00+00:00", stdout=out)
    assert out.getvalue().strip() == "Nothing due."
    assert len(mail.outbox) == 1


def test_command_refuses_a_malformed_now():
    with pytest.raises(CommandError, match="not an ISO date-time") as error:
        call_command("send_due_reports", "--now", "next monday")
    assert error.value.returncode == 2


def test_the_task_is_scheduled_every_five_minutes_and_setup_is_idempotent(make_schedule, week_ledger, monkeypatch):
    spec = next(s for s in SCHEDULES if s["func"] == "reports.tasks.send_due_reports_task")
    assert (spec["schedule_type"], spec["minutes"]) == (Schedule.MINUTES, 5)
    assert is_schedulable(spec["func"])
    schedules_setup()
    schedules_setup()
    (row,) = Schedule.objects.filter(func=spec["func"])
    assert (row.schedule_type, row.minutes) == (Schedule.MINUTES, 5)

    make_schedule(recipients="ann@example.com")
    monkeypatch.setattr(sends.timezone, "now", lambda: MONDAY + MINUTE)
    assert "sent 2026-10-05 – 2026-10-11" in send_due_reports_task()
    assert send_due_reports_task() == "Nothing due."


# ---------------------------------------------------------------- two workers at once (PostgreSQL)

RACER = """
import os, sys, time
import django
django.setup()
from pathlib import Path
from django.core.management import call_command
barrier = Path(sys.argv[1])
(barrier / f"ready-{os.getpid()}").touch()
while not (barrier / "go").exists():
    time.sleep(0.01)
call_command("send_due_reports", "--now", sys.argv[2])
"""


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two processes on one database need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_the_same_moment_send_once(make_schedule, week_ledger, tmp_path, smtp_server):
    controller = smtp_server
    make_schedule(recipients="ann@example.com", owner=None)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), "2026-10-12T08:05:00+00:00"],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    Path(tmp_path / "go").touch()
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    said = [out for out, _err in outputs]
    assert sum("sent 2026-10-05" in out for out in said) == 1, said
    assert sum(out.strip() == "Nothing due." for out in said) == 1, said
    assert ReportRun.objects.count() == 1
    assert ReportRun.objects.get().status == RunStatus.SENT
    assert len(controller.handler.envelopes) == 1
