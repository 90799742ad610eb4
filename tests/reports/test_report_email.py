"""The report e-mail really delivered over SMTP (aiosmtpd on loopback), read back, attachment numbers checked."""

from __future__ import annotations

import email
import io
from email import policy

import openpyxl
import pytest
from django.urls import reverse

from reports.mailing import email_report
from reports.models import ReportRun, RunStatus
from reports.registry import run_report
from reports.sends import send_due_reports
from tests.reports.conftest import MONDAY, grant_run_report

pytestmark = pytest.mark.django_db
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = "https://backoffice.example.com"
    return smtp_server


def received(server) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(envelope.original_content, policy=policy.default)
        for envelope in server.handler.envelopes
    ]


def xlsx_rows(part) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(part.get_content()), read_only=True).worksheets[0]
    return [tuple(cell for cell in row) for row in sheet.iter_rows(values_only=True)]


def test_scheduled_xlsx_report_is_delivered_with_bodies_link_and_matching_numbers(
    smtp_settings, week_ledger, make_schedule, make_user
):
    clerk = grant_run_report(make_user("Warehouse", username="clerk"))
    week_ledger["main"].staff.add(clerk)
    make_schedule(format="xlsx", recipients=f"{clerk.email}, partner@example.org")

    send_due_reports(now=MONDAY)

    messages = received(smtp_settings)
    assert len(messages) == 2  # the clerk's scoped view and the unscoped one for the partner
    by_to = {message["To"]: message for message in messages}
    expected = {
        clerk.email: run_report(
            "stock-movements", {"date_from": "2026-10-05", "date_to": "2026-10-11"}, user=clerk, today=MONDAY.date()
        ),
        "partner@example.org": run_report(
            "stock-movements", {"date_from": "2026-10-05", "date_to": "2026-10-11"}, today=MONDAY.date()
        ),
    }
    for address, result in expected.items():
        message = by_to[address]
        assert message["Subject"] == "Stock ledger — 2026-10-05 – 2026-10-11"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        total = f"{result.totals['quantity']:,}"
        assert f"Quantity: {total}" in text  # headline figure
        assert f"{result.row_count} rows" in text
        assert "<table" in html and total in html
        link = "https://backoffice.example.com" + reverse("reports:detail", args=["stock-movements"])
        assert f"{link}?date_from=2026-10-05&amp;date_to=2026-10-11" in html
        assert f"{link}?date_from=2026-10-05&date_to=2026-10-11" in text

        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == XLSX_TYPE
        assert attachment.get_filename() == "stock-movements_2026-10-05_to_2026-10-11.xlsx"
        header, *body = xlsx_rows(attachment)
        columns = [column.name for column in result.columns]
        assert list(header) == columns
        quantity = columns.index("quantity")
        warehouse = columns.index("warehouse")
        *rows, totals = body
        expected_rows = list(result.iter_rows())
        assert [row[quantity] for row in rows] == [row["quantity"] for row in expected_rows]
        assert [row[warehouse] for row in rows] == [row["warehouse"] for row in expected_rows]
        assert totals[quantity] == result.totals["quantity"]
    clerk_header, *clerk_rows = xlsx_rows(next(by_to[clerk.email].iter_attachments()))
    clerk_quantities = [row[clerk_header.index("quantity")] for row in clerk_rows[:-1]]
    assert sorted(clerk_quantities) == [5, 7]  # MAIN only; EAST's 11 is not in the clerk's file
    assert ReportRun.objects.get().status == RunStatus.SENT


def test_email_report_shows_the_first_ten_rows_and_says_how_many_more(smtp_settings, week_ledger):
    from inventory.services import StockLine, stock_receive
    from tests.factories import ProductFactory

    for index in range(12):
        product = ProductFactory(sku=f"BULK{index:02d}")
        stock_receive(lines=[StockLine(product.pk, week_ledger["main"].pk, index + 1, 1)])
    result = run_report("stock-movements", {"warehouse": "MAIN", "date_range": "today"})
    assert result.row_count == 12
    email_report(result, ["ann@example.com"], "csv", link="https://backoffice.example.com/x")

    (message,) = received(smtp_settings)
    text = message.get_body(("plain",)).get_content()
    assert "BULK09" in text and "BULK10" not in text  # the first ten rows only
    assert "and 2 more in the attached file" in text
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content().count("BULK") == 12  # the file holds every row


def test_delivery_failure_is_an_error_the_run_records(settings, week_ledger, make_schedule):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    make_schedule(recipients="ann@example.com")
    send_due_reports(now=MONDAY)
    run = ReportRun.objects.get()
    assert run.status == RunStatus.PENDING and run.attempts == 1
    assert "ann@example.com" in run.error and "Connection" in run.error
