"""Documents that really go out: Send PO e-mails the PDF to the supplier, "E-mail confirmation" the customer.

After commit, through django-q2 (run in the test process here) and Django's mail settings (the locmem outbox).
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django_q.conf import Conf

from backoffice.errors import ValidationFailed
from orders import services
from orders.models import PurchaseOrderStatus
from tests.factories import SupplierFactory
from tests.orders.documents_fixtures import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_tasks(monkeypatch):
    """django-q2 runs queued tasks in the test process (as the worker would)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def _pdf_attachment(message):
    (attachment,) = message.attachments
    filename, content, mimetype = attachment
    assert mimetype == "application/pdf" and content.startswith(b"%PDF-")
    return filename, pdf_text(content)


def test_send_po_emails_the_pdf_to_the_supplier_and_records_it(docs, sync_tasks, django_capture_on_commit_callbacks):
    po, user = docs["po"], docs["user"]
    user.email = "buyer@northwind.example"
    user.save()

    with django_capture_on_commit_callbacks(execute=True):
        sent = services.purchase_order_send(order=po, user=user)

    (message,) = mail.outbox
    assert message.to == ["orders-m@exotic.example"]
    assert message.reply_to == ["buyer@northwind.example"]  # the supplier's answer reaches the purchaser
    assert message.subject == f"Purchase order {po.number} from Northwind Traders"
    assert "Total: USD 11,406.38" in message.body and po.number in message.body
    filename, text = _pdf_attachment(message)
    assert filename == f"purchase-order-{po.number}.pdf"
    assert po.number in text and "Northwind Traders" in text and "Total USD 11,406.38" in text

    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.SENT
    assert (po.emailed_to, po.emailed_by) == ("orders-m@exotic.example", user)
    assert po.emailed_at is not None and po.emailed_at == sent.emailed_at
    latest = po.history.latest("history_date")
    assert (latest.status, latest.emailed_to, latest.history_user) == ("sent", "orders-m@exotic.example", user)


def test_send_po_to_a_supplier_without_address_still_sends_and_emails_nothing(
    docs, sync_tasks, django_capture_on_commit_callbacks
):
    po = docs["po"]
    po.supplier.email = ""
    po.supplier.save()

    with django_capture_on_commit_callbacks(execute=True):
        services.purchase_order_send(order=po, user=docs["user"])

    assert mail.outbox == []
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.SENT and po.emailed_to == "" and po.emailed_at is None


def test_a_rolled_back_send_emails_nothing(docs, sync_tasks, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.purchase_order_send(order=docs["po"], user=docs["user"])
        raise RuntimeError("something after the send failed")

    assert callbacks == [] and mail.outbox == []
    docs["po"].refresh_from_db()
    assert docs["po"].status == PurchaseOrderStatus.DRAFT and docs["po"].emailed_to == ""


def test_a_failing_mail_server_is_retried_like_every_queued_email(
    docs, sync_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    from django_q.models import Schedule

    from backoffice import mail as backoffice_mail

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(backoffice_mail.EmailMultiAlternatives, "send", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        services.purchase_order_send(order=docs["po"], user=docs["user"])

    (retry,) = Schedule.objects.filter(func=backoffice_mail.SEND_TASK)
    assert "attempt=2" in retry.kwargs or "'attempt': 2" in retry.kwargs
    assert "purchase-order-" in retry.args  # the retry carries the rendered PDF


def test_admin_send_po_says_to_whom_the_pdf_goes(client, docs, sync_tasks, django_capture_on_commit_callbacks):
    po = docs["po"]
    client.force_login(docs["user"])
    url = reverse("admin:orders_purchaseorder_send", args=[po.pk])
    assert "will be e-mailed to orders-m@exotic.example" in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)

    page = response.content.decode()
    assert f"{po.number} sent to Exotic Liquids M: the PDF is being e-mailed to orders-m@exotic.example." in page
    assert "orders-m@exotic.example on " in page  # the change page's "e-mailed to supplier" field
    assert len(mail.outbox) == 1


def test_admin_send_po_without_supplier_address_says_nothing_was_emailed(client, docs, sync_tasks):
    po = docs["po"]
    po.supplier.email = ""
    po.supplier.save()
    client.force_login(docs["user"])
    url = reverse("admin:orders_purchaseorder_send", args=[po.pk])
    assert "has no e-mail address: the order is marked sent and nothing is e-mailed" in client.get(url).content.decode()

    page = client.post(url, follow=True).content.decode()

    assert "marked as sent, but Exotic Liquids M has no e-mail address, so nothing was e-mailed" in page
    assert "Sent without e-mail (no supplier address)" in page
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.SENT and mail.outbox == []


def test_email_confirmation_sends_the_customer_the_pdf_and_records_it(
    client, docs, sync_tasks, django_capture_on_commit_callbacks
):
    so, user = docs["so"], docs["user"]
    services.sales_order_confirm(order=so, user=user)
    client.force_login(user)
    url = reverse("admin:orders_salesorder_email_confirmation", args=[so.pk])
    form = client.get(url).content.decode()
    assert 'value="buyer-m@alfreds.example"' in form and f"confirmation-{so.number}.pdf" in form

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"to": "buyer-m@alfreds.example"}, follow=True)

    assert (
        f"Order confirmation {so.number} is being e-mailed to buyer-m@alfreds.example with the PDF attached."
        in response.content.decode()
    )
    (message,) = mail.outbox
    assert message.to == ["buyer-m@alfreds.example"]
    assert message.subject == f"Order confirmation {so.number} from Northwind Traders"
    assert "Dear Maria Anders" in message.body and "Total: USD 2,756.40" in message.body
    filename, text = _pdf_attachment(message)
    assert filename == f"confirmation-{so.number}.pdf" and "Total USD 2,756.40" in text
    so.refresh_from_db()
    assert (so.confirmation_emailed_to, so.confirmation_emailed_by) == ("buyer-m@alfreds.example", user)
    latest = so.history.latest("history_date")
    assert latest.confirmation_emailed_to == "buyer-m@alfreds.example" and latest.history_user == user


def test_a_draft_is_emailed_as_a_quote(docs, sync_tasks, django_capture_on_commit_callbacks):
    so = docs["so"]
    with django_capture_on_commit_callbacks(execute=True):
        services.sales_order_email_confirmation(order=so, user=docs["user"], to="someone@else.example")

    (message,) = mail.outbox
    assert message.to == ["someone@else.example"]
    assert message.subject.startswith(f"Quote {so.number}")
    assert _pdf_attachment(message)[0] == f"quote-{so.number}.pdf"


def test_email_confirmation_refuses_a_bad_address_or_a_cancelled_order(client, docs, sync_tasks):
    so, user = docs["so"], docs["user"]
    client.force_login(user)
    url = reverse("admin:orders_salesorder_email_confirmation", args=[so.pk])

    response = client.post(url, {"to": "not an address"})
    assert response.status_code == 200 and "Enter a valid email address." in response.content.decode()

    so.customer.email = ""
    so.customer.save()
    with pytest.raises(ValidationFailed, match="has no e-mail address"):
        services.sales_order_email_confirmation(order=so, user=user)

    services.sales_order_cancel(order=so, user=user)
    page = client.post(url, {"to": "buyer-m@alfreds.example"}, follow=True).content.decode()
    assert "is cancelled: there is nothing to confirm" in page
    so.refresh_from_db()
    assert so.confirmation_emailed_to == "" and mail.outbox == []


def test_email_confirmation_needs_the_confirm_right(client, docs, make_user):
    so = docs["so"]
    url = reverse("admin:orders_salesorder_email_confirmation", args=[so.pk])
    client.force_login(make_user("Viewer", username="reader"))

    assert client.get(url).status_code == 403
    assert client.post(url, {"to": "x@example.com"}).status_code == 403
    so.refresh_from_db()
    assert so.confirmation_emailed_to == "" and mail.outbox == []


def test_bulk_send_says_which_pdfs_go_out_and_which_suppliers_have_no_address(client, docs, make_user):
    po, other_supplier_po = (
        docs["po"],
        services.purchase_order_create(
            supplier=SupplierFactory(code="NOMAIL", name="No Mail Ltd", email=""), warehouse=docs["main"], user=None
        ),
    )
    services.purchase_order_line_add(order=other_supplier_po, product=docs["chai"], quantity=1, user=None)
    client.force_login(docs["user"])

    response = client.post(
        reverse("admin:orders_purchaseorder_changelist"),
        {"action": "send_selected", "_selected_action": [po.pk, other_supplier_po.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert f"PDF being e-mailed: {po.number} → orders-m@exotic.example." in page
    assert (
        f"Marked sent but not e-mailed, the supplier has no e-mail address: {other_supplier_po.number} (No Mail Ltd)."
        in page
    )
