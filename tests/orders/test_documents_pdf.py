"""The printable PDFs (WeasyPrint): text read back with pypdf — company, number, lines, totals with currency."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from orders import documents_pdf, services
from tests.orders.documents_fixtures import pdf_text

pytestmark = pytest.mark.django_db


def test_purchase_order_pdf_names_company_supplier_lines_and_total_with_currency(docs):
    pdf = documents_pdf.purchase_order_pdf(docs["po"])

    assert pdf.content.startswith(b"%PDF-")
    assert pdf.filename == f"purchase-order-{docs['po'].number}.pdf"
    text = pdf_text(pdf.content)
    assert "Northwind Traders" in text and "12 Harbour Road" in text and "Seattle, WA 98101" in text
    assert "PURCHASE ORDER" in text.upper() and docs["po"].number in text
    assert "Exotic Liquids M" in text and "orders-m@exotic.example" in text
    assert "Main warehouse" in text and "1 Depot Lane" in text  # deliver to
    assert "EXO-REF-9" in text
    # lines: quantity with thousands separator, cost with the decimals it needs, line amounts with 2
    assert "CHAI-M" in text and "Chai tea" in text and "1,200" in text and "9.50" in text and "11,400.00" in text
    assert "SYRUP-M" in text and "2.125" in text and "6.38" in text
    assert "Total USD 11,406.38" in text
    assert "Total units 1,203" in text or "Total units 1203" in text


def test_a_draft_sales_order_is_a_quote_and_a_confirmed_one_a_confirmation(docs):
    so = docs["so"]
    quote = documents_pdf.sales_order_pdf(so)
    text = pdf_text(quote.content)
    assert quote.filename == f"quote-{so.number}.pdf"
    assert "QUOTE" in text.upper() and so.number in text and "Northwind Traders" in text
    assert "Alfreds Futterkiste M" in text and "Obere Str. 57" in text and "Lagerweg 3" in text  # bill to, ship to
    assert "PO-ALF-77" in text and "ALFM" in text
    # 2 × 1,234.50 at 10 % tax; 4 × 10.125 (a price with the decimals it needs) at 0 %
    assert "1,234.50" in text and "2,469.00" in text and "10.125" in text and "40.50" in text
    assert "Subtotal USD 2,509.50" in text
    assert "Tax USD 246.90" in text
    assert "Total USD 2,756.40" in text

    services.sales_order_confirm(order=so, user=docs["user"])
    confirmation = documents_pdf.sales_order_pdf(so)
    assert confirmation.filename == f"confirmation-{so.number}.pdf"
    assert "ORDER CONFIRMATION" in pdf_text(confirmation.content).upper()


def test_packing_slip_and_delivery_note_pdfs(doc_shipped, docs):
    shipped = doc_shipped
    slip = pdf_text(documents_pdf.packing_slip_pdf(shipped).content)
    assert "PACKING SLIP" in slip.upper() and shipped.number in slip and docs["so"].number in slip
    assert "Northwind Traders" in slip and "Lagerweg 3" in slip
    assert "Speedy Express" in slip and "1Z999" in slip
    assert "CHAI-M" in slip and "SYRUP-M" in slip and "Total units 5" in slip

    note = documents_pdf.delivery_note_pdf(shipped)
    text = pdf_text(note.content)
    assert note.filename == f"delivery-note-{shipped.number}.pdf"
    assert "DELIVERY NOTE" in text.upper() and shipped.number in text
    # chai: ordered 2, delivered 1, 1 to follow; syrup: ordered 4, delivered 4, 0 to follow
    assert "CHAI-M Chai tea 2 1 1" in text
    assert "SYRUP-M Aniseed Syrup 4 4 0" in text
    assert "Total units delivered 5" in text


def test_company_name_has_a_default_and_the_logo_is_embedded(docs, settings, tmp_path):
    from PIL import Image
    from pypdf import PdfReader

    settings.COMPANY_NAME = ""
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (20, 60, 120)).save(logo)
    settings.COMPANY_LOGO = str(logo)

    pdf = documents_pdf.purchase_order_pdf(docs["po"])

    assert pdf_text(pdf.content).startswith("Backoffice")
    (page,) = PdfReader(io.BytesIO(pdf.content)).pages
    assert len(page.images) == 1  # the logo
    settings.COMPANY_LOGO = str(tmp_path / "missing.png")
    assert documents_pdf.logo_path() is None  # a missing file is no logo, not an error


def test_user_text_cannot_make_the_renderer_fetch_a_url(docs, monkeypatch, tmp_path):
    from weasyprint.urls import URLFetcher

    fetched = []
    original = URLFetcher.fetch
    monkeypatch.setattr(URLFetcher, "fetch", lambda self, url, headers=None: fetched.append(url) or original(self, url))
    po = docs["po"]
    po.notes = '<img src="http://169.254.169.254/latest"> <link rel=stylesheet href="file:///etc/passwd">'
    po.save()

    text = pdf_text(documents_pdf.purchase_order_pdf(po).content)

    assert '<img src="http://169.254.169.254/latest">' in text  # shown as text (escaped), never loaded
    assert not [url for url in fetched if "169.254" in url or "passwd" in url]
    fetcher = documents_pdf.local_files_fetcher()
    for url in ("http://example.com/x.png", "file:///etc/passwd", "file:///work/../etc/passwd", "data:,x"):
        assert not documents_pdf.is_allowed_url(url)
        with pytest.raises(ValueError):
            fetcher.fetch(url)


# The PDF links: permission- and warehouse-scoped -------------------------------------------------------


def _pdf_urls(docs, shipment):
    return {
        "confirmation": reverse("admin:orders_salesorder_confirmation_pdf", args=[docs["so"].pk]),
        "purchase order": reverse("admin:orders_purchaseorder_purchase_order_pdf", args=[docs["po"].pk]),
        "packing slip": reverse("admin:orders_shipment_packing_slip_pdf", args=[shipment.pk]),
        "delivery note": reverse("admin:orders_shipment_delivery_note_pdf", args=[shipment.pk]),
    }


def test_change_pages_link_to_their_pdfs_which_open_inline(client, docs, doc_shipped):
    client.force_login(docs["user"])
    urls = _pdf_urls(docs, doc_shipped)
    pages = {
        "confirmation": reverse("admin:orders_salesorder_change", args=[docs["so"].pk]),
        "purchase order": reverse("admin:orders_purchaseorder_change", args=[docs["po"].pk]),
        "packing slip": reverse("admin:orders_shipment_change", args=[doc_shipped.pk]),
        "delivery note": reverse("admin:orders_shipment_change", args=[doc_shipped.pk]),
    }
    for name, url in urls.items():
        assert f'href="{url}"' in client.get(pages[name]).content.decode(), f"no {name} PDF link"
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf", name
        assert response["Content-Disposition"].startswith('inline; filename="'), name
        assert response.content.startswith(b"%PDF-")
    download = client.get(urls["purchase order"] + "?download=1")
    assert download["Content-Disposition"] == f'attachment; filename="purchase-order-{docs["po"].number}.pdf"'


def test_warehouse_staff_open_their_warehouses_pdfs_only(client, docs, doc_shipped, make_user):
    user = make_user("Warehouse", username="mainstaff")
    docs["main"].staff.add(user)
    client.force_login(user)
    other = docs["other"]

    assert client.get(reverse("admin:orders_purchaseorder_purchase_order_pdf", args=[docs["po"].pk])).status_code == 200
    # another warehouse's documents are "not found", like a document that does not exist
    for url in (
        reverse("admin:orders_purchaseorder_purchase_order_pdf", args=[other["po"].pk]),
        reverse("admin:orders_salesorder_confirmation_pdf", args=[other["so"].pk]),
        reverse("admin:orders_purchaseorder_purchase_order_pdf", args=[999999]),
        reverse("admin:orders_shipment_delivery_note_pdf", args=["not-a-number"]),
    ):
        assert client.get(url).status_code == 404, url


def test_roles_that_may_not_read_a_document_get_no_pdf(client, docs, doc_shipped, make_user):
    client.force_login(make_user("Sales", username="seller"))  # Sales may not see purchase orders
    assert client.get(_pdf_urls(docs, doc_shipped)["purchase order"]).status_code == 403
    client.force_login(make_user("Purchasing", username="buyer"))  # nor Purchasing sales orders
    assert client.get(_pdf_urls(docs, doc_shipped)["confirmation"]).status_code == 403
    client.logout()
    assert client.get(_pdf_urls(docs, doc_shipped)["delivery note"]).status_code == 302  # to the login page
