"""Two-word admin searches ("customer 12", "product 12") find exactly what Django's own search finds.

A short word without letters ("12") is matched without upper-casing every value (``admin_tools._is_caseless``)
and a search on local columns only goes through the keyed search too: the rows found must stay those of
Django's plain ``search_fields`` search (each word in some field, any case), on every list.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice import admin_tools
from backoffice.admin_tools import _is_caseless
from inventory.models import MovementKind, Product
from inventory.services import StockLine, stock_receive
from orders import services
from orders.models import PurchaseOrder, Receipt, SalesOrder, Shipment
from tests.factories import CarrierFactory, CustomerFactory, ProductFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def plain_django_search(model, request, term):
    """The rows Django's own ``ModelAdmin.get_search_results`` finds with the admin's ``search_fields``."""
    model_admin = admin.site._registry[model]
    queryset, duplicates = ModelAdmin.get_search_results(model_admin, request, model._default_manager.all(), term)
    return set((queryset.distinct() if duplicates else queryset).values_list("pk", flat=True))


def listed(admin_client, url, term) -> list:
    response = admin_client.get(url, {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("term", "caseless"),
    [("12", True), ("7", True), ("-/", True), ("a1", False), ("123", False), ("é", False), ("", False)],
)
def test_which_words_are_matched_without_upper_case(term, caseless):
    assert _is_caseless(term) is caseless


@pytest.fixture
def catalogue(db):
    return [
        ProductFactory(sku="P-12", name="Scale product 3"),
        ProductFactory(sku="P-3", name="Scale PRODUCT 12"),
        ProductFactory(sku="P-4", name="Scale product 4", barcode="4012"),
        ProductFactory(sku="P-5", name="Scale widget 12"),
        ProductFactory(sku="P-6", name="Scale product 6"),
    ]


def test_products_two_word_search_matches_djangos(admin_client, rf, admin_user, catalogue):
    request = rf.get("/")
    request.user = admin_user
    for term in ("product 12", "PRODUCT 12", "12 product", "product 1", "widget 12", "product", "12", "P-1"):
        found = {product.pk for product in listed(admin_client, "/admin/inventory/product/", term)}
        assert found == plain_django_search(Product, request, term), term
    found = listed(admin_client, "/admin/inventory/product/", "product 12")
    assert sorted(product.sku for product in found) == ["P-12", "P-3", "P-4"]


@pytest.mark.parametrize("keys_limit", [2_000, 1])
def test_orders_and_shipments_two_word_search_matches_djangos(
    admin_client, rf, admin_user, warehouse, monkeypatch, keys_limit
):
    # keys_limit 1: every related match is "many" (a subquery), and a word in every customer's name
    # ("scale") is dropped as true of every order and shipment (KeyedSearchMixin._in_every_row).
    monkeypatch.setattr(admin_tools, "SEARCH_KEYS_LIMIT", keys_limit)
    request = rf.get("/")
    request.user = admin_user
    tea = ProductFactory(sku="TEA-7", name="Tea")
    stock_receive(lines=[StockLine(tea.pk, warehouse.pk, 50)], kind=MovementKind.OPENING)
    carrier = CarrierFactory(name="DHL")
    for code, name in (("C1", "Scale customer 12"), ("C2", "Scale customer 3"), ("C3", "Scale client 12")):
        customer = CustomerFactory(code=code, name=name)
        order = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
        services.sales_order_line_add(order=order, product=tea, quantity=1, user=admin_user)
        services.sales_order_confirm(order=order, user=admin_user)
        services.shipment_ship(
            shipment=services.shipment_create(sales_order=order, user=admin_user, carrier=carrier), user=admin_user
        )
    terms = ("customer 12", "Customer 12", "customer 3", "client 12", "12 TEA-7", "customer 7", "scale 12", "SCALE")
    for term in terms:
        for model, url in ((SalesOrder, "/admin/orders/salesorder/"), (Shipment, "/admin/orders/shipment/")):
            found = {row.pk for row in listed(admin_client, url, term)}
            assert found == plain_django_search(model, request, term), (term, url)
    orders = listed(admin_client, "/admin/orders/salesorder/", "customer 12")
    assert [order.customer.name for order in orders] == ["Scale customer 12"]
    shipments = listed(admin_client, "/admin/orders/shipment/", "customer 12")
    assert [shipment.sales_order.customer.name for shipment in shipments] == ["Scale customer 12"]
    orders = listed(admin_client, "/admin/orders/salesorder/", "scale 12")
    assert sorted(order.customer.name for order in orders) == ["Scale client 12", "Scale customer 12"]
    assert len(listed(admin_client, "/admin/orders/shipment/", "scale")) == 3


@pytest.mark.parametrize("row_by_row", [False, True])
def test_sku_and_number_words_match_djangos(admin_client, rf, admin_user, warehouse, monkeypatch, row_by_row):
    # Every related match is "many" (keys limit 1). row_by_row: the list's table counts as big, so on
    # PostgreSQL each order / shipment is checked by its keys (admin_tools.RowByRowExists) instead of one
    # subquery over every match; on SQLite both stay a subquery. The rows found must not change.
    monkeypatch.setattr(admin_tools, "SEARCH_KEYS_LIMIT", 1)
    if row_by_row:
        monkeypatch.setattr(admin_tools, "_big_table", lambda model, using, rows_at_least=None: True)
    request = rf.get("/")
    request.user = admin_user
    green = ProductFactory(sku="SKU-12", name="Green tea")
    black = ProductFactory(sku="SKU-3", name="Black tea")
    mug = ProductFactory(sku="X-120", name="Mug")
    stock_receive(lines=[StockLine(p.pk, warehouse.pk, 50) for p in (green, black, mug)], kind=MovementKind.OPENING)
    carrier = CarrierFactory(name="DHL")
    for code, name, products in (
        ("C1", "Scale customer 12", [black]),
        ("C2", "Scale customer 3", [green]),
        ("C3", "Scale client 7", [black, mug]),
        ("C4", "Scale client 8", [black]),
    ):
        order = services.sales_order_create(
            customer=CustomerFactory(code=code, name=name), warehouse=warehouse, user=admin_user
        )
        for product in products:
            services.sales_order_line_add(order=order, product=product, quantity=1, user=admin_user)
        services.sales_order_confirm(order=order, user=admin_user)
        services.shipment_ship(
            shipment=services.shipment_create(sales_order=order, user=admin_user, carrier=carrier), user=admin_user
        )
    numbers = list(SalesOrder.objects.values_list("number", flat=True)) + list(
        Shipment.objects.values_list("number", flat=True)
    )
    digit = next(d for d in "123456789" if any(d in number for number in numbers))  # in a number and a SKU
    terms = ("12", digit, f"{digit} client", "SKU-12", "sku-1", "x-120", "customer 12", "client 120", "7 sku", "SKU")
    for term in terms:
        for model, url in ((SalesOrder, "/admin/orders/salesorder/"), (Shipment, "/admin/orders/shipment/")):
            found = {row.pk for row in listed(admin_client, url, term)}
            assert found == plain_django_search(model, request, term), (term, url)
    orders = listed(admin_client, "/admin/orders/salesorder/", "SKU-12")
    assert [order.customer.name for order in orders] == ["Scale customer 3"]
    shipments = listed(admin_client, "/admin/orders/shipment/", "x-120")
    assert [shipment.sales_order.customer.name for shipment in shipments] == ["Scale client 7"]
    orders = listed(admin_client, "/admin/orders/salesorder/", "client 120")
    assert [order.customer.name for order in orders] == ["Scale client 7"]
    # Two rows a page: the first page is a sliced query (checked row by row on PostgreSQL), while its count
    # is not (the matches hashed once, as ``order_id IN (SELECT ...)``: never row by row).
    monkeypatch.setattr(admin.site._registry[SalesOrder], "list_per_page", 2)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get("/admin/orders/salesorder/", {"q": "sku"})
    assert response.context["cl"].result_count == 4 and len(response.context["cl"].result_list) == 2
    checked_row_by_row = any("OFFSET 0)" in query["sql"] for query in captured.captured_queries)
    assert checked_row_by_row == (row_by_row and connection.vendor == "postgresql")
    counted_row_by_row = any("COUNT(" in q["sql"] and "OFFSET 0)" in q["sql"] for q in captured.captured_queries)
    assert not counted_row_by_row


@pytest.mark.parametrize(("keys_limit", "row_by_row"), [(2_000, False), (1, False), (1, True)])
def test_purchase_orders_and_receipts_two_word_search_matches_djangos(
    admin_client, rf, admin_user, warehouse, monkeypatch, keys_limit, row_by_row
):
    # keys_limit 1: every related match is "many" (a subquery; row by row on PostgreSQL when row_by_row makes
    # the list's table count as big). With 2,000 the word "supplier", in every supplier's name, is a literal
    # list of every supplier and is dropped as true of every purchase order (KeyedSearchMixin._in_every_row).
    monkeypatch.setattr(admin_tools, "SEARCH_KEYS_LIMIT", keys_limit)
    if row_by_row:
        monkeypatch.setattr(admin_tools, "_big_table", lambda model, using, rows_at_least=None: True)
    request = rf.get("/")
    request.user = admin_user
    tea, mug = ProductFactory(sku="SKU-12", name="Tea"), ProductFactory(sku="X-3", name="Mug")
    for code, name, products in (
        ("S1", "Scale supplier 12", [mug]),
        ("S2", "Scale supplier 3", [tea]),
        ("S3", "Scale vendor 12", [mug, tea]),
    ):
        order = services.purchase_order_create(
            supplier=SupplierFactory(code=code, name=name), warehouse=warehouse, user=admin_user
        )
        lines = [
            services.purchase_order_line_add(order=order, product=p, quantity=2, user=admin_user) for p in products
        ]
        services.purchase_order_send(order=order, user=admin_user)
        services.receipt_create(purchase_order=order, lines=[(line, 1) for line in lines], user=admin_user)
    terms = ("supplier 12", "Supplier 12", "supplier 3", "vendor 12", "12 SKU-12", "supplier 7", "scale 12", "SCALE")
    terms += ("12", "sku-1", "x-3 supplier", "PO", "RC")
    for term in terms:
        for model, url in ((PurchaseOrder, "/admin/orders/purchaseorder/"), (Receipt, "/admin/orders/receipt/")):
            found = {row.pk for row in listed(admin_client, url, term)}
            assert found == plain_django_search(model, request, term), (term, url)
    orders = listed(admin_client, "/admin/orders/purchaseorder/", "supplier 12")
    assert sorted(order.supplier.name for order in orders) == ["Scale supplier 12", "Scale supplier 3"]  # SKU-12
    receipts = listed(admin_client, "/admin/orders/receipt/", "supplier 12")
    assert [receipt.purchase_order.supplier.name for receipt in receipts] == ["Scale supplier 12"]
    assert len(listed(admin_client, "/admin/orders/purchaseorder/", "scale")) == 3
