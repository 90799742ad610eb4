"""``manage.py reorder_alerts [--warehouse CODE] [--create-drafts]``: the daily reorder task, by hand.

Per warehouse with something to reorder: one e-mail to the active Purchasing users with the
``reorder`` report attached, at most once a day; with ``--create-drafts`` also the draft purchase
orders (``reports.reorder``). Exit status 1 when an e-mail could not be sent, 2 for an unknown warehouse.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.models import Warehouse
from reports.reorder import FAILED, send_reorder_alerts


class Command(BaseCommand):
    help = "E-mail the Purchasing role what needs reordering (once a day per warehouse); optionally draft the POs."

    def add_arguments(self, parser):
        parser.add_argument("--warehouse", metavar="CODE", help="Only this warehouse (default: every active one).")
        parser.add_argument(
            "--create-drafts",
            action="store_true",
            help="Also create the draft purchase orders (one per preferred supplier and warehouse).",
        )

    def handle(self, *args, warehouse=None, create_drafts=False, **options):
        chosen = None
        if warehouse:
            chosen = Warehouse.objects.filter(code=warehouse).first()
            if chosen is None:
                raise CommandError(f"Unknown warehouse {warehouse!r}.", returncode=2)
            if not chosen.is_active:
                raise CommandError(f"Warehouse {chosen.code} is inactive.", returncode=2)
        outcomes = send_reorder_alerts(warehouse=chosen, create_drafts=create_drafts)
        for outcome in outcomes:
            write = self.stderr.write if outcome.status == FAILED else self.stdout.write
            write(outcome.message())
        if not outcomes:
            self.stdout.write("No active warehouse.")
        failed = [outcome.warehouse.code for outcome in outcomes if outcome.status == FAILED]
        if failed:
            raise CommandError(f"The reorder alert could not be sent for {', '.join(failed)}.")
