"""Shared data of the document tests: a purchase order, a confirmed sales order and its shipment (MAIN),
plus the same kind of documents in another warehouse (EAST)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders import services
from tests.factories import CarrierFactory, CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory


def pdf_text(content: bytes) -> str:
    """The text of a PDF, pages joined, whitespace collapsed (pypdf)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def doc_company(settings):
    settings.COMPANY_NAME = "Northwind Traders"
    settings.COMPANY_ADDRESS = "12 Harbour Road\nSeattle, WA 98101"
    settings.CURRENCY = "USD"
    settings.COMPANY_LOGO = ""
    return settings


def _documents(warehouse, make_user, tag: str):
    user = make_user("Manager", username=f"docs-{tag.lower()}")
    supplier = SupplierFactory(
        code=f"EXO{tag}", name=f"Exotic Liquids {tag}", email=f"orders-{tag.lower()}@exotic.example"
    )
    chai = ProductFactory(sku=f"CHAI-{tag}", name="Chai tea", sale_price=Decimal("1234.50"), tax_rate=Decimal("10"))
    syrup = ProductFactory(
        sku=f"SYRUP-{tag}", name="Aniseed Syrup", sale_price=Decimal("10.125"), tax_rate=Decimal("0")
    )
    po = services.purchase_order_create(
        supplier=supplier, warehouse=warehouse, user=user, supplier_reference="EXO-REF-9"
    )
    services.purchase_order_line_add(order=po, product=chai, quantity=1200, unit_cost=Decimal("9.5000"), user=user)
    services.purchase_order_line_add(order=po, product=syrup, quantity=3, unit_cost=Decimal("2.1250"), user=user)
    po.refresh_from_db()

    stock_receive(
        lines=[StockLine(chai.pk, warehouse.pk, 50, Decimal("9")), StockLine(syrup.pk, warehouse.pk, 50, Decimal("2"))],
        kind=MovementKind.OPENING,
        reference="OPENING",
    )
    customer = CustomerFactory(
        code=f"ALF{tag}",
        name=f"Alfreds Futterkiste {tag}",
        email=f"buyer-{tag.lower()}@alfreds.example",
        contact_name="Maria Anders",
        billing_address="Obere Str. 57\n12209 Berlin",
        shipping_address="Lagerweg 3\n12209 Berlin",
    )
    so = services.sales_order_create(customer=customer, warehouse=warehouse, user=user, customer_reference="PO-ALF-77")
    services.sales_order_line_add(order=so, product=chai, quantity=2, user=user)
    services.sales_order_line_add(order=so, product=syrup, quantity=4, user=user)
    so.refresh_from_db()
    return {"user": user, "supplier": supplier, "po": po, "customer": customer, "so": so, "chai": chai, "syrup": syrup}


@pytest.fixture
def docs(db, make_user, doc_company):
    main = WarehouseFactory(code="MAIN", name="Main warehouse", address="1 Depot Lane\nSeattle")
    east = WarehouseFactory(code="EAST", name="East warehouse")
    data = _documents(main, make_user, "M")
    data["main"], data["east"] = main, east
    data["other"] = _documents(east, make_user, "E")
    return data


@pytest.fixture
def doc_shipped(docs):
    """The MAIN order confirmed and 1 chai + 4 syrup shipped with a carrier and tracking number."""
    user, so = docs["user"], docs["so"]
    services.sales_order_confirm(order=so, user=user)
    chai_line, syrup_line = list(so.lines.order_by("id"))
    shipment = services.shipment_create(
        sales_order=so,
        lines=[(chai_line, 1), (syrup_line, 4)],
        user=user,
        carrier=CarrierFactory(name="Speedy Express"),
        tracking_number="1Z999",
    )
    services.shipment_ship(shipment=shipment, user=user)
    shipment.refresh_from_db()
    so.refresh_from_db()
    return shipment
