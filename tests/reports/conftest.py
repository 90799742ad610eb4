"""Fixtures for scheduled-report tests: two warehouses with dated stock movements, users per role."""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import Permission

from inventory.models import StockMovement
from inventory.services import StockLine, stock_receive
from reports.models import ScheduledReport
from tests.factories import ProductFactory, WarehouseFactory

# Monday 12 October 2026, 08:00 UTC (tests run in UTC unless they say otherwise); the week before is 5–11 Oct.
MONDAY = dt.datetime(2026, 10, 12, 8, 0, tzinfo=dt.UTC)
IN_LAST_WEEK = dt.datetime(2026, 10, 7, 12, 0, tzinfo=dt.UTC)


def grant_run_report(user):
    user.user_permissions.add(Permission.objects.get(content_type__app_label="reports", codename="run_report"))
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


@pytest.fixture
def week_ledger(db):
    """MAIN received 7 of CHAI and 5 of CHANG last week, EAST 11 of CHAI; and one movement the week before."""
    main = WarehouseFactory(code="MAIN", name="Main warehouse")
    east = WarehouseFactory(code="EAST", name="East warehouse")
    chai = ProductFactory(sku="CHAI", name="Chai")
    chang = ProductFactory(sku="CHANG", name="Chang")
    moves = [
        (chai, main, 7, IN_LAST_WEEK),
        (chang, main, 5, IN_LAST_WEEK + dt.timedelta(hours=1)),
        (chai, east, 11, IN_LAST_WEEK + dt.timedelta(hours=2)),
        (chang, east, 3, IN_LAST_WEEK - dt.timedelta(days=7)),  # the week before: in no weekly run below
    ]
    for product, warehouse, quantity, when in moves:
        # The ledger is never edited: the movement is written at that moment instead.
        with mock.patch("django.utils.timezone.now", return_value=when):
            stock_receive(lines=[StockLine(product.pk, warehouse.pk, quantity, Decimal("2.50"))])
    assert StockMovement.objects.filter(created_at__gte=IN_LAST_WEEK).count() == 3
    return {"main": main, "east": east}


@pytest.fixture
def make_schedule(db):
    def make(**fields) -> ScheduledReport:
        roles = fields.pop("roles", ())
        values = {
            "name": "Weekly ledger",
            "report": "stock-movements",
            "params": {},
            "format": "csv",
            "frequency": "weekly",
            "weekday": 0,
            "send_time": dt.time(8, 0),
            "recipients": "",
        }
        values.update(fields)
        schedule = ScheduledReport.objects.create(**values)
        ScheduledReport.objects.filter(pk=schedule.pk).update(
            created_at=MONDAY - dt.timedelta(days=3)
        )  # the Friday before
        schedule.refresh_from_db()
        schedule.roles.set(roles)
        return schedule

    return make


class CollectingHandler:
    """aiosmtpd handler keeping every message it receives (envelope: mail_from, rcpt_tos, content)."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd); ``.handler.envelopes`` holds what it received."""
    from aiosmtpd.controller import Controller

    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    controller.handler = handler
    yield controller
    controller.stop()
