"""Helpers for the report tests: documents built through the services, at a chosen time, and file readers."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.services.sales import sales_order_confirm, sales_order_create, sales_order_line_add
from orders.services.shipping import shipment_create, shipment_ship

BERLIN = ZoneInfo("Europe/Berlin")


def local(text: str, zone=BERLIN) -> dt.datetime:
    """``"2026-03-31 23:30"`` as an aware datetime in ``zone``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


@contextlib.contextmanager
def at(moment: dt.datetime):
    """Run services as if it were ``moment``: ``timezone.now()`` (auto_now_add, shipped_at…) returns it."""
    with mock.patch("django.utils.timezone.now", return_value=moment.astimezone(dt.UTC)):
        yield


# -- documents through the services


def order(customer, warehouse, lines, *, confirm=True, ordered="2026-05-01", required=None):
    """A sales order through the services: ``lines`` = [(product, quantity)], confirmed unless ``confirm=False``."""
    so = sales_order_create(
        customer=customer,
        warehouse=warehouse,
        user=None,
        order_date=dt.date.fromisoformat(ordered),
        required_date=dt.date.fromisoformat(required) if required else None,
    )
    for product, quantity in lines:
        sales_order_line_add(order=so, product=product, quantity=quantity, user=None)
    if confirm:
        sales_order_confirm(order=so, user=None)
    so.refresh_from_db()
    return so


def ship(so, lines=None, *, carrier=None):
    """Ship ``lines`` (``None``: everything reserved) of sales order ``so`` now; returns the shipment."""
    shipment = shipment_create(sales_order=so, lines=lines, user=None, carrier=carrier)
    shipment_ship(shipment=shipment, user=None)
    so.refresh_from_db()
    return shipment


def may_run_reports(user):
    """Give ``user`` the ``reports.run_report`` permission (whatever the role setup grants)."""
    user.user_permissions.add(Permission.objects.get(content_type__app_label="reports", codename="run_report"))
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        with contextlib.suppress(AttributeError):
            delattr(user, cache)
    return user


def first_page_queries(run) -> int:
    """Queries to run a report and read what its first page shows: count, 50 rows, totals, chart."""
    with CaptureQueriesContext(connection) as captured:
        result = run()
        _ = result.row_count
        list(result.rows[:50])
        result.totals_row()
        result.chart_data()
    return len(captured)


def export_queries(result, file_format: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        result.write(file_format, io.BytesIO())
    return len(captured)


# -- reading exports back


def read_csv(result) -> list[dict]:
    buffer = io.BytesIO()
    result.write("csv", buffer)
    return list(csv.DictReader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))))


def read_json(result) -> list[dict]:
    buffer = io.BytesIO()
    result.write("json", buffer)
    return json.loads(buffer.getvalue().decode())


def read_xlsx(result) -> tuple[list, list[list]]:
    """(header, data rows) of the XLSX export, values as openpyxl reads them (numbers stay numbers)."""
    from openpyxl import load_workbook

    buffer = io.BytesIO()
    result.write("xlsx", buffer)
    buffer.seek(0)
    sheet = load_workbook(buffer, read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def as_decimal(value) -> Decimal:
    return Decimal(str(value))


def today_local() -> dt.date:
    return timezone.localdate()
