"""The report e-mail: the one a schedule sends and ``run_report --email`` sends.

``email_report(result, recipients, file_format, link=…)`` builds it from a
``ReportResult`` and sends it now (``backoffice.mail.send_email``; raises on
failure): the subject names the report and its period, the HTML and
plain-text bodies show the headline figures (the totals) and the first
``PREVIEW_ROWS`` rows, the file (``ReportResult.write``) is attached and a link
opens the report page with the same parameters (absolute, from ``SITE_URL``).

``build_report_email`` returns the parts without sending, so a scheduled run
can keep the very file it attached (``reports.scheduling``).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from backoffice.exports import CONTENT_TYPES, DATE, DATETIME, INTEGER, MONEY, PERCENT, Column
from backoffice.mail import send_email
from backoffice.money import format_money
from reports.registry import ReportResult

PREVIEW_ROWS = 10


@dataclass
class ReportEmail:
    subject: str
    text: str
    html: str
    filename: str
    content: bytes
    content_type: str

    @property
    def attachment(self) -> tuple[str, bytes, str]:
        return self.filename, self.content, self.content_type


def period_text(result: ReportResult) -> str:
    """``2026-10-05``, ``2026-10-05 – 2026-10-11``, ``from 2026-10-01`` … or ``as of <today>``."""
    first, last = result.period or (None, None)
    if first and last:
        return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
    if first:
        return f"from {first.isoformat()}"
    if last:
        return f"up to {last.isoformat()}"
    return f"as of {result.report.today.isoformat()}"


def report_link(result: ReportResult) -> str:
    """The absolute URL of the report's admin page with the same parameters ("" if the page is not mounted)."""
    try:
        path = reverse("reports:detail", args=[result.name])
    except NoReverseMatch:
        return ""
    query = urlencode(sorted(result.raw_params.items()))
    return f"{settings.SITE_URL}{path}{'?' + query if query else ''}"


def format_value(value, column: Column) -> str:
    """A cell as a person reads it in the e-mail body (the attachment keeps the types)."""
    if value is None or value == "":
        return ""
    if column.type == MONEY and isinstance(value, int | float | Decimal):
        return format_money(value, currency=False)
    if column.type == PERCENT and isinstance(value, int | float | Decimal):
        return f"{Decimal(value):.2f}%"
    if column.type == INTEGER and isinstance(value, int | float | Decimal):
        return f"{value:,}"
    if column.type in (DATE, DATETIME) and isinstance(value, dt.date):
        return value.isoformat(sep=" ", timespec="minutes") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cells(row, columns: list[Column]) -> list[dict]:
    return [{"text": format_value(row.get(c.name), c), "number": c.type in (INTEGER, MONEY, PERCENT)} for c in columns]


def build_report_email(result: ReportResult, file_format: str, *, link: str = "") -> ReportEmail:
    """Subject, bodies and attachment of the report e-mail for ``result``."""
    if file_format not in CONTENT_TYPES:
        raise ValueError(f"Unknown file format {file_format!r}; one of: {', '.join(CONTENT_TYPES)}.")
    columns = result.columns
    buffer = io.BytesIO()
    result.write(file_format, buffer)
    row_count = result.row_count
    first_rows = list(result.rows[:PREVIEW_ROWS])
    by_name = {column.name: column for column in columns}
    headline = [
        {
            "label": by_name[name].header if name in by_name else name,
            "value": format_value(value, by_name.get(name, Column(name))),
        }
        for name, value in (result.totals or {}).items()
    ]
    title = result.report.title
    period = period_text(result)
    filename = result.filename(file_format)
    context = {
        "title": title,
        "period": period,
        "row_count": row_count,
        "headline": headline,
        "headers": [{"text": c.header, "number": c.type in (INTEGER, MONEY, PERCENT)} for c in columns],
        "rows": [_cells(row, columns) for row in first_rows],
        "more_rows": max(0, row_count - len(first_rows)),
        "filename": filename,
        "link": link,
        "text_rows": [
            " | ".join(cell["text"] for cell in cells) for cells in (_cells(row, columns) for row in first_rows)
        ],
        "text_header": " | ".join(c.header for c in columns),
    }
    return ReportEmail(
        subject=f"{title} — {period}",
        text=render_to_string("reports/email/report.txt", context),
        html=render_to_string("reports/email/report.html", context),
        filename=filename,
        content=buffer.getvalue(),
        content_type=CONTENT_TYPES[file_format].split(";")[0],
    )


def email_report(result: ReportResult, recipients: list[str], file_format: str, *, link: str = "") -> ReportEmail:
    """Build and send the report e-mail to ``recipients`` now; ``link`` defaults to the report page's URL."""
    message = build_report_email(result, file_format, link=link or report_link(result))
    send_email(message.subject, list(recipients), message.text, message.html, [message.attachment])
    return message
