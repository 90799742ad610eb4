"""Bad input on order pages: a 404 or a clear message, never a 500."""

from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.mark.parametrize("object_id", ["abc", "1 or 1"])
def test_packing_slip_with_a_malformed_id_is_not_found(admin_client, object_id):
    response = admin_client.get(f"/admin/orders/shipment/{object_id}/packing-slip/")

    assert response.status_code == 404


def test_inactive_product_on_a_new_sales_order_line_is_a_form_error_that_keeps_the_input(admin_client):
    """The add page shows the error next to the line and keeps what was typed; nothing is saved."""
    from orders.models import SalesOrder
    from tests.factories import CustomerFactory, ProductFactory, WarehouseFactory

    customer = CustomerFactory(code="KEEP")
    warehouse = WarehouseFactory(code="MAIN")
    old = ProductFactory(sku="OLD-1", is_active=False)
    response = admin_client.post(
        "/admin/orders/salesorder/add/",
        {
            "customer": customer.pk,
            "warehouse": warehouse.pk,
            "order_date": "2026-11-20",
            "discount_percent": "0",
            "shipping_charge": "0",
            "customer_reference": "PHONE-42",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": old.pk,
            "lines-0-quantity": "3",
            "lines-0-discount_percent": "0",
        },
    )
    assert response.status_code == 200
    assert "OLD-1 is inactive and cannot be put on an order." in response.content.decode()
    assert "PHONE-42" in response.content.decode()
    assert not SalesOrder.objects.exists()


# ---------------------------------------------------------------------------
# Absurd numbers (issue 8, hole 8)

ABSURD = ["1e309", "99999999999999999999", "1e20", "NaN", "inf", "-inf"]
TOO_MANY = "10000001"  # one more than MAX_QUANTITY
TOO_DEAR = "1000000001"  # one more than MAX_PRICE


@pytest.fixture
def catalogue(db):
    from tests.factories import CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory

    CustomerFactory(code="ALFKI")
    SupplierFactory(code="EXOTIC")
    WarehouseFactory(code="MAIN")
    ProductFactory(sku="CHAI")


@pytest.mark.parametrize(("column", "just_over"), [("quantity", TOO_MANY), ("unit_price", TOO_DEAR)])
def test_sales_order_import_lists_every_absurd_number_as_a_row_error(catalogue, column, just_over):
    from backoffice.errors import ImportRejected
    from orders.importing import sales_orders_import
    from orders.models import SalesOrder

    base = {"customer": "ALFKI", "warehouse": "MAIN", "status": "draft", "order_date": "2024-01-02", "sku": "CHAI"}
    values = [*ABSURD, just_over]
    rows = [
        {**base, "quantity": "2", "unit_price": "1", "order_number": f"A-{i}", column: v} for i, v in enumerate(values)
    ]
    with pytest.raises(ImportRejected) as refused:
        sales_orders_import(rows=rows, user=None)

    reported = {(error["row"], error["column"]) for error in refused.value.data["errors"]}
    assert reported == {(2 + i, column) for i in range(len(values))}
    assert not SalesOrder.objects.exists()


def test_purchase_order_import_lists_absurd_quantities_and_costs(catalogue):
    from backoffice.errors import ImportRejected
    from orders.importing import purchase_orders_import
    from orders.models import PurchaseOrder

    base = {"supplier": "EXOTIC", "warehouse": "MAIN", "status": "draft", "order_date": "2024-01-02", "sku": "CHAI"}
    values = [*ABSURD, TOO_MANY]
    rows = [{**base, "order_number": f"P-{i}", "quantity": value, "unit_cost": "1"} for i, value in enumerate(values)]
    rows += [{**base, "order_number": "P-COST", "quantity": "1", "unit_cost": TOO_DEAR}]
    with pytest.raises(ImportRejected) as refused:
        purchase_orders_import(rows=rows, user=None)

    reported = {(error["row"], error["column"]) for error in refused.value.data["errors"]}
    assert reported == {(2 + i, "quantity") for i in range(len(values))} | {(2 + len(values), "unit_cost")}
    assert not PurchaseOrder.objects.exists()


def test_an_order_whose_total_would_overflow_is_a_row_error(catalogue):
    from backoffice.errors import ImportRejected
    from orders.importing import sales_orders_import

    base = {
        "order_number": "BIG",
        "customer": "ALFKI",
        "warehouse": "MAIN",
        "status": "draft",
        "order_date": "2024-01-02",
        "sku": "CHAI",
        "quantity": "10000000",
        "unit_price": "1000000000",
    }
    with pytest.raises(ImportRejected, match="at most 100,000,000,000"):
        sales_orders_import(rows=[base], user=None)


def test_customer_import_refuses_an_absurd_credit_limit(catalogue):
    from backoffice.errors import ImportRejected
    from orders.importing import customers_import

    with pytest.raises(ImportRejected) as refused:
        customers_import(rows=[{"code": "BIG", "name": "Big", "credit_limit": "1e20"}], user=None)
    assert {(e["row"], e["column"]) for e in refused.value.data["errors"]} == {(2, "credit_limit")}


def test_admin_order_import_with_absurd_numbers_shows_the_rows(admin_client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from orders.models import SalesOrder

    values = [*ABSURD, TOO_MANY]
    content = "order_number,customer,warehouse,status,order_date,sku,quantity,unit_price\n" + "".join(
        f"H-{i},ALFKI,MAIN,draft,2024-07-04,CHAI,{value},1\n" for i, value in enumerate(values)
    )
    response = admin_client.post(
        reverse("admin:orders_salesorder_import_orders"),
        {"file": SimpleUploadedFile("orders.csv", content.encode())},
    )

    assert response.status_code == 200
    reported = {(error.row, error.column) for error in response.context["errors"]}
    assert reported == {(2 + i, "quantity") for i in range(len(values))}
    assert not SalesOrder.objects.exists()


@pytest.fixture
def draft(catalogue, admin_user):
    from inventory.models import Warehouse
    from orders.models import Customer
    from orders.services import sales_order_create

    return sales_order_create(
        customer=Customer.objects.get(code="ALFKI"), warehouse=Warehouse.objects.get(code="MAIN"), user=admin_user
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": 10_000_001}, "at most 10,000,000"),
        ({"quantity": 9_223_372_036_854_775_807}, "at most 10,000,000"),
        ({"quantity": 1, "unit_price": Decimal("1000000001")}, "at most 1,000,000,000"),
        ({"quantity": 10_000_000, "unit_price": Decimal("1000000000")}, "at most 100,000,000,000"),
    ],
)
def test_sales_line_services_refuse_absurd_numbers(draft, admin_user, fields, message):
    from backoffice.errors import ValidationFailed
    from inventory.models import Product
    from orders.services import sales_order_line_add

    with pytest.raises(ValidationFailed, match=message):
        sales_order_line_add(order=draft, product=Product.objects.get(sku="CHAI"), user=admin_user, **fields)
    assert not draft.lines.exists()


def test_purchase_line_services_refuse_absurd_numbers(catalogue, admin_user):
    from backoffice.errors import ValidationFailed
    from inventory.models import Product, Supplier, Warehouse
    from orders.services import purchase_order_create, purchase_order_line_add

    order = purchase_order_create(
        supplier=Supplier.objects.get(code="EXOTIC"), warehouse=Warehouse.objects.get(code="MAIN"), user=admin_user
    )
    product = Product.objects.get(sku="CHAI")
    with pytest.raises(ValidationFailed, match="at most 10,000,000"):
        purchase_order_line_add(order=order, product=product, quantity=10_000_001, user=admin_user)
    with pytest.raises(ValidationFailed, match="at most 1,000,000,000"):
        purchase_order_line_add(order=order, product=product, quantity=1, unit_cost=Decimal("1e12"), user=admin_user)
    assert not order.lines.exists()

    # Each line fits the bound for amounts; together they would not.
    purchase_order_line_add(order=order, product=product, quantity=10_000_000, unit_cost=Decimal(9000), user=admin_user)
    with pytest.raises(ValidationFailed, match="at most 100,000,000,000"):
        purchase_order_line_add(
            order=order, product=product, quantity=10_000_000, unit_cost=Decimal(9000), user=admin_user
        )
    order.refresh_from_db()
    assert order.lines.count() == 1 and order.total == Decimal("90000000000.00")


def test_sales_order_form_refuses_an_absurd_shipping_charge(admin_client, catalogue):
    from inventory.models import Warehouse
    from orders.models import Customer, SalesOrder

    response = admin_client.post(
        "/admin/orders/salesorder/add/",
        {
            "customer": Customer.objects.get(code="ALFKI").pk,
            "warehouse": Warehouse.objects.get(code="MAIN").pk,
            "order_date": "2026-01-05",
            "discount_percent": "0",
            "shipping_charge": "200000000000",
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "shipping_charge" in response.context["adminform"].form.errors
    assert not SalesOrder.objects.exists()


# ---------------------------------------------------------------------------
# Tracking links (issue 8, hole 6): only http(s), tracking numbers URL-encoded, anything else is text

UNSAFE_TEMPLATES = [
    "javascript:alert(document.cookie)//{tracking}",
    "JavaScript:alert(1)//{tracking}",
    " javascript:alert(1)//{tracking}",
    "data:text/html,<script>alert(1)</script>{tracking}",
    "//evil.example/{tracking}",
    "ftp://files.example/{tracking}",
    "https:///{tracking}",
    "https://track.example/",  # no {tracking}
    "https://track example/{tracking}",
]


@pytest.mark.parametrize("template", UNSAFE_TEMPLATES)
def test_carrier_tracking_template_must_be_an_http_link_with_the_number(db, template):
    from django.core.exceptions import ValidationError

    from orders.models import Carrier

    carrier = Carrier(name="Evil", tracking_url_template=template)
    with pytest.raises(ValidationError) as refused:
        carrier.full_clean()
    assert "tracking_url_template" in refused.value.message_dict
    with pytest.raises(ValidationError):
        carrier.save()
    assert not Carrier.objects.exists()


@pytest.mark.parametrize(
    "template", ["https://track.example.com/?n={tracking}", "HTTP://track.example.com/{tracking}/status", ""]
)
def test_http_tracking_templates_are_accepted(db, template):
    from orders.models import Carrier

    carrier = Carrier(name="Good", tracking_url_template=template)
    carrier.full_clean()
    carrier.save()


def test_carrier_admin_refuses_a_javascript_template(admin_client):
    from orders.models import Carrier

    response = admin_client.post(
        "/admin/orders/carrier/add/",
        {"name": "Evil", "phone": "", "tracking_url_template": "javascript:alert(1)//{tracking}", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "tracking_url_template" in response.context["adminform"].form.errors
    assert not Carrier.objects.exists()


def test_tracking_numbers_are_url_encoded_into_the_link(db):
    from orders.models import Carrier

    carrier = Carrier(name="DHL", tracking_url_template="https://dhl.example/track?n={tracking}")

    assert (
        carrier.tracking_url('1Z 9/"><script>&x=1') == "https://dhl.example/track?n=1Z%209%2F%22%3E%3Cscript%3E%26x%3D1"
    )


@pytest.fixture
def shipped_with_unsafe_carrier(customer_for_shipping, admin_user):
    """A shipped shipment whose carrier got a javascript: template before validation existed."""
    from orders import services
    from orders.models import Carrier

    order, carrier = customer_for_shipping
    services.sales_order_confirm(order=order, user=admin_user)
    shipment = services.shipment_create(sales_order=order, lines=None, user=admin_user, carrier=carrier)
    shipment = services.shipment_ship(shipment=shipment, user=admin_user, tracking_number="TRK123")
    Carrier.objects.filter(pk=carrier.pk).update(tracking_url_template="javascript:alert(document.cookie)//{tracking}")
    return shipment


@pytest.fixture
def customer_for_shipping(db, admin_user):
    from inventory.models import MovementKind
    from inventory.services import StockLine, stock_receive
    from orders import services
    from tests.factories import CarrierFactory, CustomerFactory, ProductFactory, WarehouseFactory

    warehouse = WarehouseFactory(code="MAIN")
    product = ProductFactory(sku="CHAI")
    stock_receive(lines=[StockLine(product.pk, warehouse.pk, 5)], kind=MovementKind.OPENING, reference="OPEN")
    order = services.sales_order_create(customer=CustomerFactory(code="ALFKI"), warehouse=warehouse, user=admin_user)
    services.sales_order_line_add(order=order, product=product, quantity=2, user=admin_user)
    return order, CarrierFactory(name="Legacy", tracking_url_template="https://legacy.example/{tracking}")


@pytest.mark.parametrize("page", ["shipment_change", "shipment_packing_slip"])
def test_a_non_http_tracking_link_already_stored_renders_as_plain_text(admin_client, shipped_with_unsafe_carrier, page):
    from django.urls import reverse

    response = admin_client.get(reverse(f"admin:orders_{page}", args=[shipped_with_unsafe_carrier.pk]))

    text = response.content.decode()
    assert response.status_code == 200
    assert "TRK123" in text
    assert "javascript:" not in text.lower()
