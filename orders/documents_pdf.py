"""The printable documents as PDF (WeasyPrint): order confirmation / quote, purchase order, packing slip,
delivery note.

One HTML template per document under ``templates/orders/pdf/`` (extending ``base.html``) and one print
stylesheet, the static file ``orders/pdf/documents.css``. The company printed at the top comes from the
settings ``COMPANY_NAME`` (default "Backoffice"), ``COMPANY_ADDRESS`` and ``COMPANY_LOGO``
(an absolute path or a static file path); amounts are shown with ``backoffice.money`` (``CURRENCY``).

WeasyPrint fetches nothing from the network: the URL fetcher serves ``file:`` URLs of the stylesheet's
folder and the logo only, so an address or note typed by a user can never make the server load a URL.
Each ``*_pdf`` function returns a ``PdfDocument`` (file name, bytes); the views and the e-mail tasks
share them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from backoffice.money import currency_code
from orders.models import PurchaseOrder, SalesOrder, SalesOrderStatus, Shipment

STYLESHEET = "orders/pdf/documents.css"
# WeasyPrint logs every rendering step, fontTools every font it subsets: keep the logs to warnings.
for _name in ("weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)
CONTENT_TYPE = "application/pdf"


@dataclass(frozen=True)
class PdfDocument:
    filename: str
    content: bytes
    title: str

    content_type = CONTENT_TYPE

    @property
    def attachment(self) -> tuple[str, bytes, str]:
        return self.filename, self.content, CONTENT_TYPE


def company() -> dict:
    """Name, address lines and logo file of the company the documents come from (settings)."""
    name = getattr(settings, "COMPANY_NAME", "") or "Backoffice"
    address = [line.strip() for line in str(getattr(settings, "COMPANY_ADDRESS", "")).splitlines() if line.strip()]
    return {"name": name, "address": address, "logo": logo_path()}


def logo_path() -> Path | None:
    """``COMPANY_LOGO`` as an existing file (absolute path, or found among the static files), else None."""
    configured = str(getattr(settings, "COMPANY_LOGO", "") or "").strip()
    if not configured:
        return None
    path = Path(configured)
    if not path.is_absolute():
        found = finders.find(configured)
        path = Path(found) if found else None
    return path if path is not None and path.is_file() else None


def _allowed_roots() -> list[Path]:
    """The stylesheet's folder and the logo file: all a document may load."""
    roots = []
    stylesheet = finders.find(STYLESHEET)
    if stylesheet:
        roots.append(Path(stylesheet).resolve().parent)
    logo = logo_path()
    if logo:
        roots.append(logo.resolve())
    return roots


def is_allowed_url(url: str) -> bool:
    """A ``file:`` URL of a file in the stylesheet's folder or of the logo; nothing else."""
    if not url.lower().startswith("file://"):
        return False
    path = Path(unquote(urlsplit(url).path)).resolve()
    return any(path == root or root in path.parents for root in _allowed_roots())


def local_files_fetcher():
    """A WeasyPrint URL fetcher that loads only ``is_allowed_url`` URLs (no network, no other file)."""
    from weasyprint.urls import URLFetcher

    class LocalFilesFetcher(URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols=("file",), allow_redirects=False)

        def fetch(self, url, headers=None):
            if not is_allowed_url(url):
                raise ValueError(f"Documents load no external resources ({url[:60]!r} refused).")
            return super().fetch(url, headers)

    return LocalFilesFetcher()


def render_pdf(template: str, context: dict) -> bytes:
    """``template`` rendered with the company, the currency and ``context``, as PDF bytes."""
    from weasyprint import CSS, HTML

    stylesheet = finders.find(STYLESHEET)
    logo = logo_path()
    html = render_to_string(
        template,
        {
            "company": company(),
            "logo_url": logo.resolve().as_uri() if logo else "",
            "currency": currency_code(),
            "printed_at": timezone.localtime(),
            **context,
        },
    )
    fetcher = local_files_fetcher()
    document = HTML(string=html, base_url=str(Path(stylesheet).parent), url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[CSS(filename=stylesheet, url_fetcher=fetcher)])


#: a sales order not yet confirmed is sent as a quote
QUOTE_STATUSES = frozenset({SalesOrderStatus.DRAFT, SalesOrderStatus.AWAITING_APPROVAL})


def sales_order_title(order: SalesOrder) -> str:
    """A draft (or one awaiting approval) is a quote; a confirmed order gets an order confirmation."""
    return "Quote" if order.status in QUOTE_STATUSES else "Order confirmation"


def _address_lines(*texts: str) -> list[str]:
    for text in texts:
        lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
        if lines:
            return lines
    return []


def sales_order_pdf(order: SalesOrder) -> PdfDocument:
    order = SalesOrder.objects.select_related("customer", "warehouse").get(pk=order.pk)
    customer = order.customer
    lines = list(order.lines.select_related("product").order_by("id"))
    title = sales_order_title(order)
    context = {
        "title": title,
        "number": order.number,
        "order": order,
        "customer": customer,
        "bill_to": _address_lines(customer.billing_address, customer.shipping_address),
        "ship_to": _address_lines(order.shipping_address, customer.shipping_address, customer.billing_address),
        "lines": lines,
        "any_discount": any(line.discount_percent for line in lines),
    }
    content = render_pdf("orders/pdf/sales_order.html", context)
    prefix = "confirmation" if title == "Order confirmation" else "quote"
    return PdfDocument(f"{prefix}-{order.number}.pdf", content, f"{title} {order.number}")


def purchase_order_pdf(order: PurchaseOrder) -> PdfDocument:
    order = PurchaseOrder.objects.select_related("supplier", "warehouse").get(pk=order.pk)
    lines = list(order.lines.select_related("product").order_by("id"))
    from inventory.models import SupplierProduct

    supplier_skus = dict(
        SupplierProduct.objects.filter(supplier=order.supplier, product__in=[line.product_id for line in lines])
        .exclude(supplier_sku="")
        .values_list("product_id", "supplier_sku")
    )
    context = {
        "title": "Purchase order",
        "number": order.number,
        "order": order,
        "supplier": order.supplier,
        "supplier_address": _address_lines(order.supplier.address),
        "deliver_to": _address_lines(order.warehouse.address),
        "lines": [{"line": line, "supplier_sku": supplier_skus.get(line.product_id, "")} for line in lines],
        "any_supplier_sku": bool(supplier_skus),
        "total_units": sum(line.quantity for line in lines),
    }
    content = render_pdf("orders/pdf/purchase_order.html", context)
    return PdfDocument(f"purchase-order-{order.number}.pdf", content, f"Purchase order {order.number}")


def _shipment_context(shipment: Shipment, title: str) -> dict:
    shipment = Shipment.objects.select_related("sales_order__customer", "sales_order__warehouse", "carrier").get(
        pk=shipment.pk
    )
    order = shipment.sales_order
    customer = order.customer
    lines = list(shipment.lines.select_related("sales_order_line__product").order_by("sales_order_line_id"))
    return {
        "title": title,
        "number": shipment.number,
        "shipment": shipment,
        "order": order,
        "customer": customer,
        "warehouse": order.warehouse,
        "ship_from": _address_lines(order.warehouse.address),
        "ship_to": _address_lines(shipment.shipping_address, order.shipping_address, customer.shipping_address),
        "lines": lines,
        "total_units": sum(line.quantity for line in lines),
    }


def packing_slip_pdf(shipment: Shipment) -> PdfDocument:
    content = render_pdf("orders/pdf/packing_slip.html", _shipment_context(shipment, "Packing slip"))
    return PdfDocument(f"packing-slip-{shipment.number}.pdf", content, f"Packing slip {shipment.number}")


def delivery_note_pdf(shipment: Shipment) -> PdfDocument:
    context = _shipment_context(shipment, "Delivery note")
    shipped = context["shipment"].shipped_at is not None  # else this shipment is not in quantity_shipped yet
    for line in context["lines"]:
        order_line = line.sales_order_line
        after_this = order_line.quantity_shipped + (0 if shipped else line.quantity)
        line.still_to_come = max(order_line.quantity - after_this, 0)
    content = render_pdf("orders/pdf/delivery_note.html", context)
    return PdfDocument(f"delivery-note-{shipment.number}.pdf", content, f"Delivery note {shipment.number}")
