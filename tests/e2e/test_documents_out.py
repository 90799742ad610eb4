"""Documents that really go out (issue 10 §3), in a real browser against a real SMTP server.

Send PO on a purchase order's page e-mails the PO's PDF to the supplier: the test starts an SMTP server
(aiosmtpd on loopback), the app's mail settings point at it, django-q2 runs the queued task in the
server's process, and the PDF that arrives is read back. The PDF is also kept in the test artifacts,
with a PNG of its first page (pdftoppm, poppler-utils, installed by .ci/run).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import subprocess
from decimal import Decimal

import pytest
from django_q.conf import Conf
from playwright.sync_api import expect

from orders import services
from orders.models import PurchaseOrder, PurchaseOrderStatus
from tests.e2e.conftest import ARTIFACTS
from tests.factories import ProductFactory, SupplierFactory
from tests.orders.documents_fixtures import pdf_text


class CollectingHandler:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings, monkeypatch):
    """A real SMTP server on loopback; the app sends through it; queued tasks run at once (no worker)."""
    from aiosmtpd.controller import Controller

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "purchasing@northwind.example"
    settings.COMPANY_NAME = "Northwind Traders"
    settings.COMPANY_ADDRESS = "12 Harbour Road\nSeattle, WA 98101"
    settings.CURRENCY = "USD"
    monkeypatch.setattr(Conf, "SYNC", True)
    yield handler
    controller.stop()


def test_send_po_delivers_the_pdf_to_the_supplier_over_smtp(
    logged_in_page, screenshot, superuser, warehouse, smtp_server
):
    page = logged_in_page
    supplier = SupplierFactory(code="EXOTIC", name="Exotic Liquids", email="orders@exotic.example")
    chai = ProductFactory(sku="CHAI", name="Chai")
    syrup = ProductFactory(sku="SYRUP", name="Aniseed Syrup")
    po = services.purchase_order_create(supplier=supplier, warehouse=warehouse, user=superuser)
    services.purchase_order_line_add(order=po, product=chai, quantity=1200, unit_cost=Decimal("9.50"), user=superuser)
    services.purchase_order_line_add(order=po, product=syrup, quantity=3, unit_cost=Decimal("2.125"), user=superuser)

    page.goto(f"/admin/orders/purchaseorder/{po.pk}/change/")
    expect(page.get_by_role("link", name="PDF")).to_have_attribute("href", f"/admin/orders/purchaseorder/{po.pk}/pdf/")
    page.get_by_role("link", name="Send PO").click()
    expect(page.get_by_text("The purchase order PDF will be e-mailed to orders@exotic.example.")).to_be_visible()
    page.get_by_role("button", name="Send purchase order").click()

    expect(
        page.get_by_text(f"{po.number} sent to Exotic Liquids: the PDF is being e-mailed to orders@exotic.example.")
    ).to_be_visible()
    expect(page.get_by_text("orders@exotic.example on ")).to_be_visible()  # recorded on the PO
    screenshot("po-sent")

    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["orders@exotic.example"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Subject"] == f"Purchase order {po.number} from Northwind Traders"
    (attachment,) = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == f"purchase-order-{po.number}.pdf"
    content = attachment.get_content()
    text = pdf_text(content)
    assert "Northwind Traders" in text and "PURCHASE ORDER" in text.upper() and po.number in text
    assert "Exotic Liquids" in text and "CHAI" in text and "1,200" in text and "11,400.00" in text
    assert "Total USD 11,406.38" in text

    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.status == PurchaseOrderStatus.SENT and po.emailed_to == "orders@exotic.example"
    assert po.emailed_by == superuser

    # Keep the PDF that arrived, and a picture of it to look at.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf_path = ARTIFACTS / "test_send_po_delivers_the_pdf_to_the_supplier_over_smtp-po.pdf"
    pdf_path.write_bytes(content)
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "100", "-singlefile", str(pdf_path), str(pdf_path.with_suffix(""))], check=True
        )
        assert pdf_path.with_suffix(".png").stat().st_size > 10_000


def test_email_confirmation_delivers_the_order_confirmation_pdf_to_the_customer(
    logged_in_page, screenshot, superuser, warehouse, stocked_product, smtp_server
):
    from tests.factories import CustomerFactory

    page = logged_in_page
    customer = CustomerFactory(code="ALFKI", name="Alfreds Futterkiste", email="maria@alfreds.example")
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=superuser)
    services.sales_order_line_add(order=order, product=stocked_product, quantity=3, user=superuser)
    services.sales_order_confirm(order=order, user=superuser)

    page.goto(f"/admin/orders/salesorder/{order.pk}/change/")
    page.get_by_role("link", name="E-mail confirmation").click()
    expect(page.locator("input[name=to]")).to_have_value("maria@alfreds.example")
    page.get_by_role("button", name="Send e-mail").click()
    expect(
        page.get_by_text(f"Order confirmation {order.number} is being e-mailed to maria@alfreds.example")
    ).to_be_visible()
    expect(page.get_by_text("maria@alfreds.example on ")).to_be_visible()  # recorded on the order
    screenshot("confirmation-emailed")

    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["maria@alfreds.example"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    (attachment,) = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == f"confirmation-{order.number}.pdf"
    text = pdf_text(attachment.get_content())
    assert "ORDER CONFIRMATION" in text.upper() and order.number in text and "Alfreds Futterkiste" in text
    assert "CHAI" in text and "Subtotal USD 54.00" in text and "Total USD 64.80" in text  # 3 × 18.00 + 20 % tax
