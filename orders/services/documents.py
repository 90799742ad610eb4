"""Documents that go out by e-mail: the purchase order to the supplier, the order confirmation to the customer.

``purchase_order_send`` (Draft → Sent) calls ``purchase_order_email_queue``: the PO's PDF goes to the
supplier's e-mail address; a supplier without one is sent nothing (the PO is still sent, the admin says so).
``sales_order_email_confirmation`` e-mails the customer the order confirmation (a quote while the order is a
draft). Each records who, when and to whom on the document (``emailed_*`` / ``confirmation_emailed_*``,
so in its history too) in the caller's transaction, and queues ``orders.tasks.email_document_task`` with
django-q2 from ``transaction.on_commit``: a rolled-back transaction e-mails nothing. The task renders the
PDF (``orders.documents_pdf``) and delivers it through ``backoffice.mail.deliver_queued`` — the same mail
settings, retries with backoff and "admins told after the last attempt" as every queued e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.history import save_with_user
from backoffice.mail import deliver_queued
from backoffice.money import format_money
from orders import documents_pdf
from orders.models import PurchaseOrder, SalesOrder, SalesOrderStatus
from orders.services._common import _locked, _user_or_none

EMAIL_TASK = "orders.tasks.email_document_task"
PURCHASE_ORDER = "purchase_order"
SALES_ORDER = "sales_order"
ATTEMPTS = 3


def _reply_to(user) -> str:
    return (getattr(user, "email", "") or "") if _user_or_none(user) else ""


def _queue_after_commit(kind: str, pk: int, to: str, reply_to: str) -> None:
    def queue():
        from django_q.tasks import async_task

        async_task(EMAIL_TASK, kind, pk, [to], reply_to, ATTEMPTS, task_name=f"e-mail: {kind} {pk} to {to}"[:100])

    transaction.on_commit(queue, robust=True)


def purchase_order_email_queue(order: PurchaseOrder, user) -> str:
    """Inside the send transaction: record and queue the PO's e-mail to its supplier; returns the address ("" = none).

    The caller holds the PO's row lock and saves the order (one history row for "sent" and "e-mailed").
    """
    address = (order.supplier.email or "").strip()
    if not address:
        return ""
    order.emailed_to = address
    order.emailed_at = timezone.now()
    order.emailed_by = _user_or_none(user)
    _queue_after_commit(PURCHASE_ORDER, order.pk, address, _reply_to(user))
    return address


@transaction.atomic
def sales_order_email_confirmation(*, order: SalesOrder, user, to: str = "") -> SalesOrder:
    """E-mail the customer the order confirmation (a quote while a draft) as a PDF, after commit.

    ``to`` defaults to the customer's e-mail address; refused for a cancelled order, an order without lines
    or when there is no valid address. Recorded on the order (who, when, to whom) and in its history.
    """
    order = _locked(SalesOrder, order.pk, "customer")
    if order.status == SalesOrderStatus.CANCELLED:
        raise InvalidTransition(f"{order.number} is cancelled: there is nothing to confirm to the customer.")
    if not order.lines.exists():
        raise ValidationFailed(f"{order.number} has no lines to confirm.")
    address = (to or order.customer.email or "").strip()
    if not address:
        raise ValidationFailed(
            f"{order.customer.name} has no e-mail address: enter one to send the confirmation to.",
            fields={"to": ["Enter an e-mail address."]},
        )
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationFailed(
            f"“{address}” is not an e-mail address.", fields={"to": ["Enter a valid e-mail address."]}
        ) from None
    order.confirmation_emailed_to = address
    order.confirmation_emailed_at = timezone.now()
    order.confirmation_emailed_by = _user_or_none(user)
    save_with_user(
        order,
        user,
        update_fields=["confirmation_emailed_to", "confirmation_emailed_at", "confirmation_emailed_by", "updated_at"],
    )
    _queue_after_commit(SALES_ORDER, order.pk, address, _reply_to(user))
    return order


# The e-mails ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentEmail:
    subject: str
    text: str
    pdf: documents_pdf.PdfDocument


def purchase_order_email(order: PurchaseOrder) -> DocumentEmail:
    pdf = documents_pdf.purchase_order_pdf(order)
    company = documents_pdf.company()
    context = {
        "order": order,
        "supplier": order.supplier,
        "company": company,
        "pdf": pdf,
        "total": format_money(order.total),
    }
    return DocumentEmail(
        subject=f"Purchase order {order.number} from {company['name']}",
        text=render_to_string("orders/email/purchase_order.txt", context),
        pdf=pdf,
    )


def sales_order_email(order: SalesOrder) -> DocumentEmail:
    pdf = documents_pdf.sales_order_pdf(order)
    company = documents_pdf.company()
    title = documents_pdf.sales_order_title(order)
    context = {
        "order": order,
        "customer": order.customer,
        "company": company,
        "pdf": pdf,
        "title": title,
        "total": format_money(order.total),
    }
    return DocumentEmail(
        subject=f"{title} {order.number} from {company['name']}",
        text=render_to_string("orders/email/sales_order.txt", context),
        pdf=pdf,
    )


def document_email_deliver(kind: str, pk: int, to: list[str], reply_to: str = "", attempts: int = ATTEMPTS) -> str:
    """What the task runs: build the e-mail with its PDF now, then one delivery attempt (retried on failure)."""
    if kind == PURCHASE_ORDER:
        message = purchase_order_email(PurchaseOrder.objects.select_related("supplier", "warehouse").get(pk=pk))
    elif kind == SALES_ORDER:
        message = sales_order_email(SalesOrder.objects.select_related("customer", "warehouse").get(pk=pk))
    else:
        raise ValueError(f"Unknown document kind {kind!r}.")
    payload = {
        "subject": message.subject,
        "to": list(to),
        "text": message.text,
        "html": None,
        "attachments": [message.pdf.attachment],
        "reply_to": [reply_to] if reply_to else None,
    }
    return deliver_queued(payload, attempt=1, attempts=attempts)
