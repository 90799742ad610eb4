"""manage.py send_due_reports [--now ISO-DATETIME]: what the every-5-minutes schedule does (reports.sends)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports.scheduling import site_zone
from reports.sends import send_due_reports


def parse_now(text: str) -> dt.datetime:
    """An ISO date-time; without an offset it is the site's local time."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--now: {text!r} is not an ISO date-time (e.g. 2026-10-12T08:05 or 2026-10-12T06:05:00+00:00).",
            returncode=2,
        ) from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=site_zone())
    return moment


class Command(BaseCommand):
    help = "Send each due scheduled report once for its period, and retry failed sends whose time has come."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", help="Act as if it were this moment (ISO date-time; local time unless it has an offset)."
        )

    def handle(self, *args, now=None, **options):
        moment = parse_now(now) if now else timezone.now()
        outcomes = send_due_reports(now=moment)
        for outcome in outcomes:
            self.stdout.write(str(outcome))
        if not outcomes:
            self.stdout.write("Nothing due.")
