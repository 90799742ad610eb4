"""Sending scheduled reports: once per period, to each recipient as their permissions show it.

``send_due_reports(now=…)`` is what the django-q2 schedule and ``manage.py
send_due_reports`` run; ``scheduled_report_send_now`` is the admin's
**Send now** button. Due times and periods: ``reports.scheduling``.

**Once per period.** A send starts by inserting its ``ReportRun`` (unique on
schedule + period start) — the claim. Two workers racing both try the insert;
the database lets one through and the other gets an ``IntegrityError`` and
leaves. Only the claimant renders and sends. A retry is claimed the same way
with a conditional ``UPDATE`` (status pending, same attempt count, retry time
reached), so one worker wins it.

**Attempts and retries.** ``attempts`` counts tries of the current send
(the claim is attempt 1). A failed send stays ``pending`` with the error and
``next_attempt_at`` set RETRY_DELAYS later (5, then 15 minutes); the next
``send_due_reports`` pass at or after that time tries again (the schedule runs
every 5 minutes). After MAX_ATTEMPTS (3) the run is ``failed`` with the error
text and the admins get an e-mail. Recipients that already got the e-mail are
not sent it again by a retry. An attempt holds the run for ATTEMPT_LEASE; a
worker that dies mid-send is retried after it. Parameters the report no
longer accepts fail the run at once (retrying cannot fix them).

**Recipients** = the addresses of ``recipients`` plus the active users with
an e-mail address in ``roles``. Each address that belongs to an active user
gets the report as that user would see it (``run_report(user=…)``: a
Warehouse-role user's file holds only their warehouses' rows); a user who may
not run the report gets nothing. An address that is not a user gets the
unscoped report only if the schedule's owner may see everything (the owner
may run the report and is not limited to some warehouses; a schedule without
an owner was made from the shell, by someone who can see everything); else it
is skipped. Every skipped address is recorded on the run with the reason.
Recipients who would see the same rows (same permissions and warehouses) get
one e-mail together. With ``only_if_rows`` an empty report is not sent; a
run that sent nothing is ``skipped``.

**The stored file** (``ReportRun.file``, under MEDIA_ROOT, downloaded only
through the permission-checked admin view) is the report as the schedule's
owner sees it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import structlog
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from backoffice.alerts import mail_admins_once
from backoffice.events import business_event
from backoffice.mail import send_email
from backoffice.scoping import user_warehouse_ids
from reports.mailing import build_report_email, report_link
from reports.models import ReportRun, RunStatus, ScheduledReport
from reports.registry import ReportError, ReportParamError, get_report, run_report
from reports.scheduling import latest_due, period_for, site_zone

logger = structlog.get_logger(__name__)

MAX_ATTEMPTS = 3
RETRY_DELAYS = (dt.timedelta(minutes=5), dt.timedelta(minutes=15))
ATTEMPT_LEASE = dt.timedelta(minutes=15)

_SEPARATORS = re.compile(r"[,;\s]+")


# ---------------------------------------------------------------- recipients


def parse_recipients(text: str) -> list[str]:
    """The addresses of a ``recipients`` text (commas, semicolons or new lines), without duplicates."""
    seen: dict[str, str] = {}
    for address in _SEPARATORS.split(text or ""):
        if address and address.lower() not in seen:
            seen[address.lower()] = address
    return list(seen.values())


def invalid_recipients(text: str) -> list[str]:
    """The entries of a ``recipients`` text that are not e-mail addresses."""
    bad = []
    for address in parse_recipients(text):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    return bad


def schedule_addresses(schedule: ScheduledReport) -> list[str]:
    """The typed addresses, then the e-mail addresses of the active users of the schedule's roles."""
    addresses = parse_recipients(schedule.recipients)
    seen = {address.lower() for address in addresses}
    users = (
        get_user_model()
        .objects.filter(groups__in=schedule.roles.all(), is_active=True)
        .exclude(email="")
        .order_by("pk")
        .distinct()
    )
    for email in users.values_list("email", flat=True):
        if email.lower() not in seen:
            seen.add(email.lower())
            addresses.append(email)
    return addresses


SYSTEM = "system"


def _scope_key(user) -> tuple:
    """Users with the same key see the same rows of every report: same permissions, same warehouses."""
    if user is None:
        return (SYSTEM,)
    warehouses = user_warehouse_ids(user)
    permissions = "all" if user.is_superuser else frozenset(user.get_all_permissions())
    return (permissions, None if warehouses is None else frozenset(warehouses))


def owner_sees_everything(schedule: ScheduledReport, report_class) -> bool:
    owner = schedule.owner
    if owner is None:
        return True
    return report_class.allowed(owner) and user_warehouse_ids(owner) is None


@dataclass
class Audience:
    """Recipients who see the same rows: one e-mail, rendered for ``user`` (None = unscoped)."""

    user: object | None
    addresses: list[str] = field(default_factory=list)


def plan_audiences(schedule: ScheduledReport, report_class, addresses: list[str]) -> tuple[list[Audience], list[str]]:
    """Group ``addresses`` by what they may see; returns (audiences, "address: reason" for the skipped)."""
    users_by_email: dict[str, list] = {}
    lowered = [address.lower() for address in addresses]
    matching = get_user_model().objects.annotate(email_lower=Lower("email")).filter(email_lower__in=lowered)
    for user in matching.order_by("pk"):
        users_by_email.setdefault(user.email_lower, []).append(user)
    audiences: dict[tuple, Audience] = {}
    skipped: list[str] = []
    unscoped_allowed = owner_sees_everything(schedule, report_class)
    for address in addresses:
        users = users_by_email.get(address.lower(), [])
        active = [user for user in users if user.is_active]
        if len(active) > 1:
            skipped.append(f"{address}: several users have this address")
            continue
        if active:
            user = active[0]
            if not report_class.allowed(user):
                skipped.append(f"{address}: {user.get_username()} may not run this report")
                continue
            audiences.setdefault(_scope_key(user), Audience(user)).addresses.append(address)
        elif users:
            skipped.append(f"{address}: the user is inactive")
        elif unscoped_allowed:
            audiences.setdefault(_scope_key(None), Audience(None)).addresses.append(address)
        else:
            skipped.append(f"{address}: not a user, and the schedule's owner may not see every row")
    return list(audiences.values()), skipped


# ---------------------------------------------------------------- running


def run_params(schedule: ScheduledReport, report_class, period: tuple[dt.date, dt.date]) -> dict:
    """The report's parameters for a run: the schedule's, with the run's period as fixed dates (dated reports)."""
    params = {key: value for key, value in (schedule.params or {}).items() if value not in (None, "")}
    if report_class.filterset_class.date_field:
        params.pop("date_range", None)
        params["date_from"], params["date_to"] = period[0].isoformat(), period[1].isoformat()
    return params


def validate_schedule_params(report_name: str, params: dict, *, user=None) -> None:
    """Run the report's parameters through its filterset as a schedule would; ``ReportError`` when they are bad."""
    report_class = get_report(report_name)
    if not isinstance(params, dict):
        raise ReportParamError({"params": ['Parameters must be a JSON object, e.g. {"date_range": "last_week"}.']})
    fixed = sorted({"date_from", "date_to"} & set(params))
    if fixed and report_class.filterset_class.date_field:
        raise ReportParamError(
            {
                key: ["A schedule covers a period that moves: use date_range (or none), not fixed dates."]
                for key in fixed
            }
        )
    result = run_report(report_name, params, user=user, strict=True)
    result.row_count  # noqa: B018 - the query runs: a parameter the database refuses shows here, not at 8 am


@dataclass
class SendOutcome:
    schedule: ScheduledReport
    run: ReportRun | None
    status: str  # a RunStatus, or "pending" (retry planned), "busy", "already"
    message: str

    def __str__(self):
        return f"{self.schedule.name}: {self.message}"


def _period_text(run: ReportRun) -> str:
    if run.period_start == run.period_end:
        return run.period_start.isoformat()
    return f"{run.period_start.isoformat()} – {run.period_end.isoformat()}"


def _claim_new(schedule: ScheduledReport, period: tuple[dt.date, dt.date], now: dt.datetime) -> ReportRun | None:
    """Insert the run for ``period`` (attempt 1 in progress), or None when another send has it already."""
    try:
        with transaction.atomic():
            return ReportRun.objects.create(
                scheduled_report=schedule,
                period_start=period[0],
                period_end=period[1],
                status=RunStatus.PENDING,
                attempts=1,
                next_attempt_at=now + ATTEMPT_LEASE,
            )
    except IntegrityError:
        return None


def _claim_retry(run: ReportRun, now: dt.datetime) -> bool:
    """Take the next attempt of a pending run whose retry time has come; False when another worker took it."""
    taken = ReportRun.objects.filter(
        pk=run.pk, status=RunStatus.PENDING, attempts=run.attempts, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + ATTEMPT_LEASE)
    if taken:
        run.refresh_from_db()
    return bool(taken)


def _lines(text: str) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


def _attempt(run: ReportRun, schedule: ScheduledReport, now: dt.datetime) -> SendOutcome:
    """One attempt at a claimed run: render per audience, send, record the outcome."""
    period = (run.period_start, run.period_end)
    today = now.astimezone(site_zone()).date()
    delivered = _lines(run.recipients)
    done = {address.lower() for address in delivered}
    errors: list[str] = []
    skipped: list[str] = []
    try:
        report_class = get_report(schedule.report)
        params = run_params(schedule, report_class, period)
        audiences, skipped = plan_audiences(schedule, report_class, schedule_addresses(schedule))
        stored = None  # (filename, bytes, row count) of the owner's view
        owner_key = _scope_key(schedule.owner)
        for audience in audiences:
            pending = [address for address in audience.addresses if address.lower() not in done]
            result = run_report(schedule.report, params, user=audience.user, today=today, strict=True)
            rows = result.row_count
            message = None
            if _scope_key(audience.user) == owner_key:
                message = build_report_email(result, schedule.format, link=report_link(result))
                stored = (message.filename, message.content, rows)
            if not pending:
                continue
            if schedule.only_if_rows and rows == 0:
                skipped.extend(f"{address}: the report has no rows" for address in pending)
                continue
            message = message or build_report_email(result, schedule.format, link=report_link(result))
            try:
                send_email(message.subject, pending, message.text, message.html, [message.attachment])
            except Exception as exc:  # noqa: BLE001 - any mail failure is recorded on the run and retried
                errors.append(f"{', '.join(pending)}: {type(exc).__name__}: {exc}")
            else:
                delivered.extend(pending)
                done.update(address.lower() for address in pending)
        if stored is None and (schedule.owner is None or report_class.allowed(schedule.owner)):
            result = run_report(schedule.report, params, user=schedule.owner, today=today, strict=True)
            message = build_report_email(result, schedule.format)
            stored = (message.filename, message.content, result.row_count)
    except ReportError as exc:
        return _finish_failed(run, schedule, now, f"The report cannot run as scheduled: {exc}", permanent=True)

    if stored is not None:
        if run.file:
            run.file.delete(save=False)
        run.file.save(stored[0], ContentFile(stored[1]), save=False)
        run.row_count = stored[2]
    run.recipients = "\n".join(delivered)
    run.skipped = "\n".join(skipped)
    if errors:
        run.error = "\n".join(errors)
        if run.attempts < MAX_ATTEMPTS:
            delay = RETRY_DELAYS[min(run.attempts, len(RETRY_DELAYS)) - 1]
            run.status = RunStatus.PENDING
            run.next_attempt_at = now + delay
            run.save()
            logger.warning("report_run.retry", run=run.pk, attempts=run.attempts, error=run.error)
            return SendOutcome(
                schedule,
                run,
                "pending",
                f"attempt {run.attempts} of {MAX_ATTEMPTS} for {_period_text(run)} failed; "
                f"next attempt at {timezone.localtime(run.next_attempt_at):%Y-%m-%d %H:%M}: {run.error}",
            )
        return _finish_failed(run, schedule, now, run.error)
    run.error = ""
    run.next_attempt_at = None
    if delivered:
        run.status, run.sent_at = RunStatus.SENT, now
        run.save()
        logger.info("report_run.sent", run=run.pk, recipients=len(delivered))
        business_event(  # webhooks (integrations): "report.sent"
            "report.sent",
            report=schedule.report,
            schedule=schedule.name,
            schedule_id=schedule.pk,
            run_id=run.pk,
            recipients=len(delivered),
        )
        return SendOutcome(schedule, run, RunStatus.SENT, f"sent {_period_text(run)} to {', '.join(delivered)}")
    run.status = RunStatus.SKIPPED
    if not skipped:
        run.skipped = "no recipients"
    run.save()
    reason = "; ".join(_lines(run.skipped))
    return SendOutcome(schedule, run, RunStatus.SKIPPED, f"skipped {_period_text(run)} ({reason})")


def _finish_failed(
    run: ReportRun, schedule: ScheduledReport, now: dt.datetime, error: str, *, permanent: bool = False
) -> SendOutcome:
    run.status = RunStatus.FAILED
    run.error = error
    run.next_attempt_at = None
    run.save()
    tries = "" if permanent else f" after {run.attempts} attempts"
    logger.error("report_run.failed", run=run.pk, error=error)
    mail_admins_once(
        f"report-run|{run.pk}|{run.period_start}|{run.resends}|{error}",
        f"Scheduled report not sent: {schedule.name} ({_period_text(run)})",
        f"The scheduled report {schedule.name!r} ({schedule.report}) for {_period_text(run)} failed{tries}.\n\n{error}",
    )
    return SendOutcome(schedule, run, RunStatus.FAILED, f"failed{tries} for {_period_text(run)}: {error}")


# ---------------------------------------------------------------- entry points


def send_due_reports(*, now: dt.datetime | None = None) -> list[SendOutcome]:
    """Send every active schedule due at ``now`` once for its period, and retry pending runs whose time has come."""
    now = now or timezone.now()
    zone = site_zone()
    outcomes = []
    schedules = ScheduledReport.objects.filter(is_active=True).select_related("owner").order_by("pk")
    for schedule in schedules:
        due = latest_due(schedule, now)
        if due is None:
            continue
        period = period_for(schedule.frequency, schedule.params, due.astimezone(zone).date())
        run = _claim_new(schedule, period, now)
        if run is not None:
            outcomes.append(_attempt(run, schedule, now))
    waiting = (
        ReportRun.objects.filter(status=RunStatus.PENDING, next_attempt_at__lte=now, scheduled_report__is_active=True)
        .select_related("scheduled_report__owner")
        .order_by("pk")
    )
    for run in waiting:
        schedule = run.scheduled_report
        if run.attempts >= MAX_ATTEMPTS:
            # The last attempt's worker died mid-send (its lease ran out): that was the last try.
            if ReportRun.objects.filter(pk=run.pk, status=RunStatus.PENDING, attempts=run.attempts).update(
                status=RunStatus.FAILED
            ):
                outcomes.append(_finish_failed(run, schedule, now, run.error or "The last attempt did not finish."))
            continue
        if _claim_retry(run, now):
            outcomes.append(_attempt(run, schedule, now))
    return outcomes


def scheduled_report_send_now(
    *, schedule: ScheduledReport, now: dt.datetime | None = None, resend: bool = False
) -> SendOutcome:
    """The admin's Send now: send the period a send at ``now`` would cover.

    A period already sent (or skipped, or failed) is sent again only with ``resend`` — on the same
    ``ReportRun`` (its ``resends`` counts them), never as a second run.
    """
    now = now or timezone.now()
    period = period_for(schedule.frequency, schedule.params, now.astimezone(site_zone()).date())
    run = _claim_new(schedule, period, now)
    if run is not None:
        return _attempt(run, schedule, now)
    run = ReportRun.objects.get(scheduled_report=schedule, period_start=period[0])
    when = f"{timezone.localtime(run.sent_at or run.created_at):%Y-%m-%d %H:%M}"
    if run.status == RunStatus.PENDING:
        return SendOutcome(
            schedule,
            run,
            "busy",
            f"The send of {_period_text(run)} is under way (attempt {run.attempts} of {MAX_ATTEMPTS}); "
            "it is retried automatically.",
        )
    if not resend:
        done = {RunStatus.SENT: f"was sent on {when}", RunStatus.SKIPPED: f"was skipped on {when}"}.get(
            run.status, "failed"
        )
        return SendOutcome(schedule, run, "already", f"{_period_text(run)} {done}. Press “Resend” to send it again.")
    taken = (
        ReportRun.objects.filter(pk=run.pk, status=run.status, resends=run.resends)
        .exclude(status=RunStatus.PENDING)
        .update(
            status=RunStatus.PENDING,
            attempts=1,
            resends=F("resends") + 1,
            next_attempt_at=now + ATTEMPT_LEASE,
            recipients="",
            error="",
        )
    )
    if not taken:
        return SendOutcome(schedule, run, "busy", f"Someone else is sending {_period_text(run)} right now.")
    run.refresh_from_db()
    return _attempt(run, schedule, now)
