"""Historical order import in the admin: upload → preview → confirm, all-or-nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory.models import StockMovement
from orders.models import PurchaseOrder, PurchaseOrderStatus, SalesOrder, SalesOrderStatus
from tests.factories import CarrierFactory, ProductFactory, SupplierFactory

IMPORT_URL = "admin:orders_salesorder_import_orders"

GOOD_CSV = """order_number,customer,warehouse,status,order_date,shipped_date,carrier,sku,quantity,unit_price
H-10248,ALFKI,MAIN,delivered,2024-07-04,2024-07-16,Speedy,CHAI,2,14.00
H-10248,,,,,,,TOFU,1,
H-10249,ALFKI,MAIN,confirmed,2024-07-05,,,CHAI,3,
"""

BAD_CSV = """order_number,customer,warehouse,status,order_date,sku,quantity,unit_price
H-1,NOBODY,MAIN,confirmed,2024-07-04,CHAI,2,14.00
H-1,,,,,NOPE,1,
H-2,ALFKI,MAIN,confirmed,not a date,CHAI,-3,
"""


@pytest.fixture
def catalogue(customer, stocked_product):
    CarrierFactory(name="Speedy")
    ProductFactory(sku="TOFU", name="Tofu", sale_price=Decimal("23.25"))
    return stocked_product


def upload(client, name: str, content: bytes, url_name: str = IMPORT_URL):
    return client.post(reverse(url_name), {"file": SimpleUploadedFile(name, content)})


def test_valid_file_previews_then_confirm_creates_orders_without_moving_stock(admin_client, catalogue):
    movements = StockMovement.objects.count()
    preview = upload(admin_client, "orders.csv", GOOD_CSV.encode())
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "H-10248" in text and "H-10249" in text and "Confirm import" in text
    assert not SalesOrder.objects.exists()  # the preview wrote nothing

    token = preview.context["token"]
    response = admin_client.post(reverse(IMPORT_URL), {"token": token}, follow=True)
    assert "Imported 2 orders with 3 lines" in response.content.decode()
    delivered = SalesOrder.objects.get(number="H-10248")
    confirmed = SalesOrder.objects.get(number="H-10249")
    assert delivered.status == SalesOrderStatus.DELIVERED
    assert delivered.order_date == datetime.date(2024, 7, 4)
    assert delivered.lines.count() == 2
    assert delivered.lines.get(product__sku="TOFU").unit_price == Decimal("23.25")  # the product's price
    assert delivered.shipments.get().shipped_at.date() == datetime.date(2024, 7, 16)
    assert confirmed.status == SalesOrderStatus.CONFIRMED and confirmed.lines.get().quantity_reserved == 3
    assert StockMovement.objects.count() == movements


def test_bad_file_reports_every_bad_row_with_column_and_writes_nothing(admin_client, catalogue):
    response = upload(admin_client, "orders.csv", BAD_CSV.encode())
    assert response.status_code == 200
    reported = {(error.row, error.column) for error in response.context["errors"]}
    assert {(2, "customer"), (3, "sku"), (4, "order_date"), (4, "quantity")} <= reported
    text = response.content.decode()
    assert "Nothing was imported" in text
    assert "no customer with code &#x27;NOBODY&#x27;" in text or "no customer with code 'NOBODY'" in text
    assert "Confirm import" not in text
    assert not SalesOrder.objects.exists()


def test_confirm_rechecks_and_writes_nothing_if_the_data_changed(admin_client, catalogue):
    preview = upload(admin_client, "orders.csv", GOOD_CSV.encode())
    from orders.models import Customer

    Customer.objects.filter(code="ALFKI").update(code="ALFKX")
    response = admin_client.post(reverse(IMPORT_URL), {"token": preview.context["token"]})
    assert "Nothing was imported" in response.content.decode()
    assert not SalesOrder.objects.exists()


def test_tampered_preview_is_refused(admin_client, catalogue):
    response = admin_client.post(reverse(IMPORT_URL), {"token": "forged"}, follow=True)
    assert "upload the file again" in response.content.decode()
    assert not SalesOrder.objects.exists()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("orders.pdf", b"%PDF-1.4", "is not a CSV or Excel (.xlsx) file"),
        ("orders.xlsx", b"this is not a spreadsheet", "could not be read as XLSX"),
        ("orders.csv", b"order_number,sku\n", "no rows under its header"),
    ],
)
def test_wrong_file_type_gets_a_clear_error(admin_client, catalogue, name, content, message):
    response = upload(admin_client, name, content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SalesOrder.objects.exists()


def test_excel_file_is_accepted(admin_client, catalogue):
    sheet = tablib.Dataset(headers=["order_number", "customer", "warehouse", "status", "order_date", "sku", "quantity"])
    sheet.append(["H-1", "ALFKI", "MAIN", "draft", datetime.date(2024, 1, 2), "CHAI", 4])
    preview = upload(admin_client, "orders.xlsx", sheet.export("xlsx"))
    assert [order.number for order in preview.context["preview"]] == ["H-1"]
    admin_client.post(reverse(IMPORT_URL), {"token": preview.context["token"]})
    order = SalesOrder.objects.get(number="H-1")
    assert (order.status, order.order_date, order.lines.get().quantity) == ("draft", datetime.date(2024, 1, 2), 4)


def test_purchase_orders_import(admin_client, warehouse):
    SupplierFactory(code="EXOTIC")
    ProductFactory(sku="ANISEED")
    content = (
        b"order_number,supplier,warehouse,status,order_date,sku,quantity,unit_cost,quantity_received\n"
        b"P-1,EXOTIC,MAIN,partially_received,2024-05-01,ANISEED,10,4.50,4\n"
    )
    preview = upload(admin_client, "po.csv", content, "admin:orders_purchaseorder_import_orders")
    admin_client.post(reverse("admin:orders_purchaseorder_import_orders"), {"token": preview.context["token"]})
    po = PurchaseOrder.objects.get(number="P-1")
    assert po.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert po.lines.get().quantity_received == 4
    assert not StockMovement.objects.exists()


def test_import_needs_the_add_permission(client, make_user, catalogue):
    client.force_login(make_user("Viewer"))
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert upload(client, "orders.csv", GOOD_CSV.encode()).status_code == 403
    assert not SalesOrder.objects.exists()


def test_import_button_on_the_changelist(admin_client):
    page = admin_client.get(reverse("admin:orders_salesorder_changelist")).content.decode()
    assert reverse(IMPORT_URL) in page
