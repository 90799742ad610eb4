"""``?search=`` on every API list finds exactly what DRF's own ``SearchFilter`` finds, and refuses hostile terms.

The API searches through the admin's keyed search (``backoffice.api_base.KeyedSearchFilter``): related fields
on their own table, narrowed by keys, a word found in every related row dropped. The rows must stay DRF's:
each word (split on spaces and commas, quotes keeping a phrase) in one of the list's ``search_fields``, any
case — checked here against DRF's ``SearchFilter`` on the same endpoints, with few and with many related
matches, and (PostgreSQL) with each row checked by its keys as on a big table.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework import filters

from backoffice import admin_tools
from backoffice.api_base import ApiViewSet, FilterBackend
from backoffice.limits import MAX_SEARCH_LENGTH, MAX_SEARCH_TERMS
from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders import services
from orders.models import Customer
from tests.api.token_helpers import bearer, make_token
from tests.factories import (
    CarrierFactory,
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    SupplierFactory,
    SupplierProductFactory,
)

pytestmark = pytest.mark.django_db

TERMS = (
    "customer 12",
    "Customer 12",
    "CUSTOMER,12",
    '"customer 12"',
    "12",
    "scale",
    "scale 12",
    "client 12",
    "supplier 3",
    "product 12",
    "P-1",
    "tea 7",
    "SO-",
    "zzz",
)


def searchable_lists() -> list[str]:
    from backoffice.api_urls import router

    return sorted(prefix for prefix, viewset, _basename in router.registry if getattr(viewset, "search_fields", None))


@pytest.fixture
def data(make_user, warehouse):
    user = make_user(superuser=True, username="maker")
    category = CategoryFactory(name="Scale tea 7")
    products = [
        ProductFactory(sku="P-12", name="Scale product 3", category=category),
        ProductFactory(sku="P-3", name="Scale PRODUCT 12", category=category),
        ProductFactory(sku="P-4", name="Scale product 4", barcode="4012", category=category),
        ProductFactory(sku="TEA-7", name="Green tea", category=category),
    ]
    stock_receive(
        lines=[StockLine(p.pk, warehouse.pk, 50, Decimal("2.00")) for p in products], kind=MovementKind.OPENING
    )
    carrier = CarrierFactory(name="Scale carrier 12")
    CarrierFactory(name="Other carrier 3")
    for code, name in (("S12", "Scale supplier 3"), ("S3", "Scale supplier 12")):
        supplier = SupplierFactory(code=code, name=name)
        SupplierProductFactory(supplier=supplier, product=products[0], supplier_sku=f"{code}-P12")
        po = services.purchase_order_create(supplier=supplier, warehouse=warehouse, user=user)
        services.purchase_order_line_add(order=po, product=products[1], quantity=5, user=user)
        services.purchase_order_send(order=po, user=user)
        services.receipt_create(purchase_order=po, lines=[(line, 2) for line in po.lines.all()], user=user)
    for code, name in (("C1", "Scale customer 12"), ("C12", "Scale customer 3"), ("C3", "Scale client 12")):
        customer = CustomerFactory(code=code, name=name)
        order = services.sales_order_create(customer=customer, warehouse=warehouse, user=user)
        services.sales_order_line_add(order=order, product=products[3], quantity=1, user=user)
        services.sales_order_confirm(order=order, user=user)
        services.shipment_create(sales_order=order, user=user, carrier=carrier, tracking_number=f"TRK-{code}")
    return user


def found(client, auth, prefix: str, term: str) -> set:
    response = client.get(f"/api/v1/{prefix}/", {"search": term, "page_size": 200}, **auth)
    assert response.status_code == 200, (prefix, term, response.content[:300])
    body = response.json()
    return {row["id"] for row in body["results"]}


def drf_searches(monkeypatch):
    """DRF's own ``SearchFilter`` in place of the keyed one, on every list that inherits the base's backends."""
    monkeypatch.setattr(ApiViewSet, "filter_backends", [FilterBackend, filters.SearchFilter, filters.OrderingFilter])


@pytest.mark.parametrize("path", ["few keys", "many keys", "row by row"])
def test_every_api_search_finds_what_drfs_search_finds(client, data, monkeypatch, path):
    auth = bearer(make_token(data))
    lists = searchable_lists()
    assert {"sales-orders", "products", "shipments", "supplier-products", "stock-levels"} <= set(lists)
    with monkeypatch.context() as drf:
        drf_searches(drf)
        expected = {(prefix, term): found(client, auth, prefix, term) for prefix in lists for term in TERMS}
    if path != "few keys":
        monkeypatch.setattr(admin_tools, "SEARCH_KEYS_LIMIT", 1)  # every related match is a subquery
    if path == "row by row":  # as on a big PostgreSQL table: each row checked by its keys (SQLite: a subquery)
        monkeypatch.setattr(admin_tools, "_big_table", lambda model, using, rows_at_least=None: True)

    got = {(prefix, term): found(client, auth, prefix, term) for prefix in lists for term in TERMS}

    differ = {key: (got[key], expected[key]) for key in expected if got[key] != expected[key]}
    assert not differ, differ
    assert expected[("sales-orders", "customer 12")] and expected[("products", "product 12")]  # the data matches


def test_a_two_word_search_narrows_to_the_rows_with_both_words(client, data):
    auth = bearer(make_token(data))

    orders = client.get("/api/v1/sales-orders/", {"search": "customer 12"}, **auth).json()["results"]
    products = client.get("/api/v1/products/", {"search": "product 12"}, **auth).json()["results"]

    # "12" in the name of C1 and the code of C12; "customer" in both (not in "Scale client 12")
    assert sorted(order["customer"] for order in orders) == sorted(
        Customer.objects.filter(code__in=["C1", "C12"]).values_list("pk", flat=True)
    )
    assert sorted(product["sku"] for product in products) == ["P-12", "P-3", "P-4"]


@pytest.mark.parametrize("prefix", ["products", "sales-orders", "shipments"])
@pytest.mark.parametrize(
    "term",
    [
        " ".join(f"w{i}" for i in range(MAX_SEARCH_TERMS + 1)),
        "x" * (MAX_SEARCH_LENGTH + 1),
        " ".join(f"w{i}" for i in range(1500)),  # was a 500 on SQLite ("Expression tree is too large")
    ],
    ids=["one word too many", "one character too many", "1500 words"],
)
def test_an_oversized_search_is_a_400_naming_the_limit(client, data, prefix, term):
    response = client.get(f"/api/v1/{prefix}/", {"search": term}, **bearer(make_token(data)))

    assert response.status_code == 400
    body = response.json()
    assert "search" in body["fields"]
    assert f"at most {MAX_SEARCH_TERMS} words" in str(body["fields"]["search"])


def test_a_search_at_the_limits_is_answered(client, data):
    words = " ".join(["scale"] * MAX_SEARCH_TERMS)

    response = client.get("/api/v1/products/", {"search": words}, **bearer(make_token(data)))

    assert response.status_code == 200
    assert sorted(row["sku"] for row in response.json()["results"]) == ["P-12", "P-3", "P-4"]  # not the tea
