"""The API's fast paths give exactly the answers of the plain ones (issue 9 §7, benchmarks/api.py).

* ``LeanRows``: lists of flat serializers read with ``.values()`` — compared, body for body, with the same
  list through the serializer, for every list that takes the lean path, with filters, search, ordering,
  page numbers and cursor pages;
* ``FilterBackend``: a list without filter parameters skips django-filter, with them it filters;
* order create: the lines added at once (``sales_order_lines_add``) price and reject like one by one.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from backoffice.api_base import LeanRows
from backoffice.api_urls import router
from inventory.services import StockLine, stock_receive
from tests.factories import (
    CarrierFactory,
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    SupplierFactory,
    SupplierProductFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

LEAN = ["categories", "products", "warehouses", "suppliers", "supplier-products", "stock-movements", "carriers"]


@pytest.fixture
def data(warehouse, stocked_product):
    category = CategoryFactory(name="Drinks")
    products = [
        ProductFactory(sku=f"FP-{n:02d}", category=category if n % 2 else None, sale_price=Decimal("1.5") * n)
        for n in range(1, 8)
    ]
    products[2].is_active = False
    products[2].save()
    WarehouseFactory(code="EAST")
    for n, product in enumerate(products[:4]):
        SupplierProductFactory(supplier=SupplierFactory(code=f"SUP{n}"), product=product)
    CarrierFactory(name="Speedy Express")
    stock_receive(
        lines=[StockLine(product.pk, warehouse.pk, 5 + n, Decimal("2.125")) for n, product in enumerate(products)],
        reference="FAST",
    )
    return products


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def plain(monkeypatch, client, url):
    with monkeypatch.context() as patch:
        patch.setattr(LeanRows, "for_list", classmethod(lambda cls, serializer_class, queryset: None))
        return client.get(url)


def test_the_lean_path_serves_the_flat_lists_only():
    lean = {
        prefix
        for prefix, viewset, _ in router.registry
        if LeanRows.for_list(viewset.serializer_class, viewset.queryset)
    }

    assert lean == set(LEAN)


@pytest.mark.parametrize("prefix", LEAN)
@pytest.mark.parametrize("query", ["", "?page_size=3", "?page_size=3&page=2", "?ordering=-id", "?search=FP-0"])
def test_a_lean_list_is_the_serializers_list(monkeypatch, admin_user, data, prefix, query):
    client = api(admin_user)
    url = f"/api/v1/{prefix}/{query}"

    fast, slow = client.get(url), plain(monkeypatch, client, url)

    assert fast.status_code == slow.status_code
    assert fast.json() == slow.json()
    assert fast.content == slow.content  # same keys in the same order, same number formats


def test_cursor_pages_of_the_ledger_follow_the_same_links(monkeypatch, admin_user, data):
    client = api(admin_user)
    url, pages = "/api/v1/stock-movements/?page_size=3", 0
    while url:
        fast, slow = client.get(url), plain(monkeypatch, client, url)
        assert fast.content == slow.content
        url, pages = fast.json()["next"], pages + 1
    assert pages == 3  # 8 movements, 3 a page


def test_filters_still_filter_and_refuse_bad_values(admin_user, data):
    client = api(admin_user)

    assert {row["sku"] for row in client.get("/api/v1/products/?is_active=false").json()["results"]} == {"FP-03"}
    assert client.get("/api/v1/products/?sku=FP-05").json()["count"] == 1
    bad = client.get("/api/v1/products/?updated_since=yesterday")
    assert bad.status_code == 400 and "updated_since" in bad.json()["fields"]


def test_a_page_of_products_runs_two_queries(admin_user, data):
    client = api(admin_user)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/products/?page_size=50").status_code == 200

    assert len(queries) == 2  # the count and the page


@pytest.fixture
def customer(db):
    return CustomerFactory(code="ALFKI")


def test_an_order_created_with_lines_at_once_is_priced_like_line_by_line(
    make_user, customer, warehouse, stocked_product
):
    from orders.services import sales_order_create, sales_order_line_add

    lines = [
        {"product": "CHAI", "quantity": 3, "discount_percent": "10"},
        {"product": stocked_product.pk, "quantity": 2, "unit_price": "9.5000"},
    ]
    body = api(make_user("Sales")).post(
        "/api/v1/sales-orders/", {"customer": "ALFKI", "warehouse": "MAIN", "lines": lines}, format="json"
    )
    assert body.status_code == 201, body.json()
    order = body.json()

    reference = sales_order_create(customer=customer, warehouse=warehouse, user=None)
    sales_order_line_add(
        order=reference, product=stocked_product, quantity=3, discount_percent=Decimal("10"), user=None
    )
    sales_order_line_add(order=reference, product=stocked_product, quantity=2, unit_price=Decimal("9.5"), user=None)
    reference.refresh_from_db()

    assert (order["subtotal"], order["tax_total"], order["total"]) == (
        f"{reference.subtotal:.2f}",
        f"{reference.tax_total:.2f}",
        f"{reference.total:.2f}",
    )
    assert [line["net_amount"] for line in order["lines"]] == [
        f"{line.net_amount:.2f}" for line in reference.lines.order_by("id")
    ]


def test_an_inactive_product_among_the_lines_writes_nothing(make_user, customer, stocked_product):
    from orders.models import SalesOrder

    ProductFactory(sku="OLD", is_active=False)
    lines = [{"product": "CHAI", "quantity": 1}, {"product": "OLD", "quantity": 1}]

    answer = api(make_user("Sales")).post(
        "/api/v1/sales-orders/", {"customer": "ALFKI", "warehouse": "MAIN", "lines": lines}, format="json"
    )

    assert answer.status_code == 400
    assert answer.json()["detail"] == "OLD is inactive and cannot be put on an order."
    assert not SalesOrder.objects.exists()
