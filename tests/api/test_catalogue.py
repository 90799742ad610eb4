"""The catalogue over the API (issue 9 §1, §6): products, categories, warehouses, suppliers, supplier products,
customers and carriers — list, retrieve, create, update, incremental sync; ``DELETE`` deactivates a referenced row
and says so, deletes an unreferenced one (204). Which role may do what is the permission matrix's
(tests/backoffice/test_permission_matrix.py ``test_api``); the field rights on customers are here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from inventory.models import StockLevel
from orders.services import (
    purchase_order_create,
    purchase_order_line_add,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
    shipment_create,
)
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

OFFSET = re.compile(r"T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
MONEY = re.compile(r"^\d+\.\d{2,4}$")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def boss(make_user):
    return api(make_user("Manager"))


@dataclass
class Resource:
    prefix: str
    model: str
    create: dict
    update: tuple[str, object]
    money: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"/api/v1/{self.prefix}/"


def _category_id():
    return CategoryFactory(name="Beverages").pk


RESOURCES = [
    Resource(
        "products",
        "inventory.Product",
        {"sku": "NEW-1", "name": "New tea", "sale_price": "12.50", "cost": "7.25", "tax_rate": "20.00"},
        ("sale_price", "13.0000"),
        ("sale_price", "cost", "average_cost", "tax_rate"),
    ),
    Resource("categories", "inventory.Category", {"name": "Condiments"}, ("description", "Sauces and spices")),
    Resource("warehouses", "inventory.Warehouse", {"code": "EAST", "name": "East"}, ("address", "1 Dock Road")),
    Resource(
        "suppliers",
        "inventory.Supplier",
        {"code": "NEWSUP", "name": "New supplier", "lead_time_days": 5},
        ("lead_time_days", 9),
    ),
    Resource(
        "supplier-products",
        "inventory.SupplierProduct",
        {"supplier": "SUPX", "product": "SKUX", "unit_cost": "3.2000", "supplier_sku": "X-1"},
        ("unit_cost", "3.1000"),
        ("unit_cost",),
    ),
    Resource(
        "customers",
        "orders.Customer",
        {"code": "BONAP", "name": "Bon app'", "credit_limit": "5000.00"},
        ("credit_limit", "6000.00"),
        ("credit_limit",),
    ),
    Resource("carriers", "orders.Carrier", {"name": "United Package"}, ("phone", "(503) 555-3199")),
]
BY_PREFIX = {resource.prefix: resource for resource in RESOURCES}


@pytest.fixture
def catalogue(db):
    """Rows the create bodies refer to."""
    SupplierFactory(code="SUPX")
    ProductFactory(sku="SKUX")


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.prefix)
def test_create_read_update_list(boss, catalogue, resource):
    created = boss.post(resource.url, resource.create, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert OFFSET.search(body["created_at"]) and OFFSET.search(body["updated_at"])
    for name in resource.money:
        assert isinstance(body[name], str) and MONEY.match(body[name]), (name, body[name])
    read = boss.get(f"{resource.url}{body['id']}/")
    assert read.status_code == 200 and read.json() == body

    field, value = resource.update
    changed = boss.patch(f"{resource.url}{body['id']}/", {field: value}, format="json")

    assert changed.status_code == 200, changed.json()
    stored = apps.get_model(resource.model).objects.get(pk=body["id"])
    assert getattr(stored, field) == (Decimal(value) if field in resource.money else value)
    assert changed.json()[field] == value
    listed = boss.get(resource.url, {"page_size": 200}).json()
    assert body["id"] in {row["id"] for row in listed["results"]}
    assert listed["count"] == len(listed["results"])


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.prefix)
def test_updated_since_returns_only_rows_changed_since(boss, catalogue, resource):
    model = apps.get_model(resource.model)
    old_id = boss.post(resource.url, resource.create, format="json").json()["id"]
    model.objects.filter(pk=old_id).update(updated_at=datetime.fromisoformat("2020-01-01T12:00:00+00:00"))
    changed_at = model.objects.exclude(pk=old_id).order_by("-updated_at").values_list("updated_at", flat=True).first()

    since = boss.get(resource.url, {"updated_since": "2021-06-01T10:00:00+02:00", "page_size": 200}).json()["results"]
    before = boss.get(resource.url, {"updated_since": "2019-12-31T23:00:00-05:00", "page_size": 200}).json()["results"]

    assert old_id not in {row["id"] for row in since}
    assert old_id in {row["id"] for row in before}
    if changed_at is not None:
        assert {row["id"] for row in since} == set(model.objects.exclude(pk=old_id).values_list("pk", flat=True))


def test_put_replaces_a_product(boss, catalogue):
    product = ProductFactory(sku="P-1", name="Old")
    body = {"sku": "P-1", "name": "Renamed", "sale_price": "2.00", "cost": "1.00", "tax_rate": "7.00"}

    response = boss.put(f"/api/v1/products/{product.pk}/", body, format="json")

    assert response.status_code == 200, response.json()
    product.refresh_from_db()
    assert (product.name, product.sale_price, product.tax_rate) == ("Renamed", Decimal("2.00"), Decimal("7.00"))


@pytest.mark.parametrize(
    ("prefix", "body", "field"),
    [
        ("products", {"sku": "SKUX", "name": "Dup"}, "sku"),
        ("products", {"sku": "P-9", "name": "Neg", "sale_price": "-1"}, "sale_price"),
        ("categories", {"name": ""}, "name"),
        ("warehouses", {"code": "X" * 200, "name": "Long"}, "code"),
        ("suppliers", {"code": "SUPX", "name": "Dup"}, "code"),
        ("supplier-products", {"supplier": "SUPX", "product": "NOPE"}, "product"),
        ("supplier-products", {"supplier": 10**30, "product": "SKUX"}, "supplier"),
        ("customers", {"code": "", "name": "No code"}, "code"),
        ("carriers", {"name": "Speedy", "tracking_url_template": "not a url"}, "tracking_url_template"),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_written(boss, catalogue, prefix, body, field):
    model = apps.get_model(BY_PREFIX[prefix].model)
    before = model.objects.count()

    response = boss.post(f"/api/v1/{prefix}/", body, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"] or field in response.json()["detail"]
    assert model.objects.count() == before


def test_a_duplicate_supplier_product_is_refused(boss, catalogue):
    body = BY_PREFIX["supplier-products"].create
    assert boss.post("/api/v1/supplier-products/", body, format="json").status_code == 201

    again = boss.post("/api/v1/supplier-products/", body, format="json")

    assert again.status_code in (400, 409) and again.json()["code"] in ("invalid", "conflict")
    assert apps.get_model("inventory.SupplierProduct").objects.count() == 1


# DELETE -------------------------------------------------------------------------------------------


def _referenced(prefix: str, stocked_product, warehouse, user):
    """A row of ``prefix`` that stock or a document refers to."""
    if prefix == "products":
        return stocked_product
    if prefix == "warehouses":
        return warehouse
    if prefix == "suppliers":
        supplier = SupplierFactory()
        order = purchase_order_create(supplier=supplier, warehouse=warehouse, user=user)
        purchase_order_line_add(order=order, product=stocked_product, quantity=1, user=user)
        return supplier
    customer = CustomerFactory()
    order = sales_order_create(customer=customer, warehouse=warehouse, user=user)
    sales_order_line_add(order=order, product=stocked_product, quantity=1, user=user)
    if prefix == "customers":
        return customer
    carrier = CarrierFactory(name="Speedy Express")
    sales_order_confirm(order=order, user=user)
    shipment_create(sales_order=order, user=user, carrier=carrier)
    return carrier


@pytest.mark.parametrize(
    ("prefix", "holder"),
    [
        ("products", "stock level"),
        ("warehouses", "stock level"),
        ("suppliers", "purchase order"),
        ("customers", "sales order"),
        ("carriers", "shipment"),
    ],
)
def test_delete_of_a_referenced_row_deactivates_it_and_says_so(
    make_user, boss, stocked_product, warehouse, prefix, holder
):
    row = _referenced(prefix, stocked_product, warehouse, make_user(superuser=True))
    url = f"/api/v1/{prefix}/{row.pk}/"

    response = boss.delete(url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == "deactivated" and body["is_active"] is False and body["id"] == row.pk
    assert "deactivated instead of deleted" in body["detail"]
    assert holder in body["used_by"]
    row.refresh_from_db()
    assert row.is_active is False
    assert boss.get(url).json()["is_active"] is False
    again = boss.delete(url)
    assert again.status_code == 200 and again.json()["code"] == "deactivated"
    assert type(row).objects.filter(pk=row.pk).exists()


def test_a_deactivated_product_keeps_its_stock_and_ledger(boss, stocked_product):
    boss.delete(f"/api/v1/products/{stocked_product.pk}/")

    assert StockLevel.objects.get(product=stocked_product).on_hand == 10
    assert stocked_product.movements.count() == 1


@pytest.mark.parametrize("prefix", [resource.prefix for resource in RESOURCES if resource.prefix != "categories"])
def test_delete_of_an_unreferenced_row_removes_it(boss, prefix):
    row = {
        "products": lambda: ProductFactory(),
        "warehouses": lambda: WarehouseFactory(code="EMPTY"),
        "suppliers": lambda: SupplierFactory(),
        "supplier-products": lambda: SupplierProductFactory(),
        "customers": lambda: CustomerFactory(),
        "carriers": lambda: CarrierFactory(),
    }[prefix]()

    response = boss.delete(f"/api/v1/{prefix}/{row.pk}/")

    assert response.status_code == 204 and not response.content
    assert not type(row).objects.filter(pk=row.pk).exists()


def test_a_category_in_use_is_a_409_protected_and_an_empty_one_is_deleted(boss):
    used = CategoryFactory(name="Used")
    ProductFactory(category=used)
    empty = CategoryFactory(name="Empty")

    refused = boss.delete(f"/api/v1/categories/{used.pk}/")
    deleted = boss.delete(f"/api/v1/categories/{empty.pk}/")

    assert refused.status_code == 409
    assert refused.json()["code"] == "protected" and refused.json()["data"]["used_by"] == ["product"]
    assert deleted.status_code == 204
    assert CategoryFactory._meta.model.objects.filter(name="Used").exists()


# Customers: field rights --------------------------------------------------------------------------


def test_sales_creates_a_customer_without_credit_and_cannot_grant_any(make_user):
    client = api(make_user("Sales"))

    created = client.post("/api/v1/customers/", {"code": "bonap", "name": "Bon app'"}, format="json")
    granted = client.patch(f"/api/v1/customers/{created.json()['id']}/", {"credit_limit": "100.00"}, format="json")

    assert created.status_code == 201 and created.json()["code"] == "BONAP"
    assert created.json()["credit_limit"] == "0.00"
    assert "tax_id" not in created.json()
    assert granted.status_code == 403 and granted.json()["code"] == "field_change_refused"
    assert granted.json()["data"]["fields"] == ["credit_limit"]
    assert apps.get_model("orders.Customer").objects.get(code="BONAP").credit_limit == Decimal("0.00")


def test_manager_sets_credit_and_vat_number(boss):
    created = boss.post(
        "/api/v1/customers/",
        {"code": "BONAP", "name": "Bon", "credit_limit": "250.00", "tax_id": "fr 123"},
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert (created.json()["credit_limit"], created.json()["tax_id"]) == ("250.00", "FR123")


def test_customers_are_found_by_code_search_and_activity(boss):
    CustomerFactory(code="ALFKI", name="Alfreds")
    CustomerFactory(code="GONE", name="Gone Ltd", is_active=False)

    by_code = boss.get("/api/v1/customers/", {"code": "alfki"}).json()["results"]
    by_search = boss.get("/api/v1/customers/", {"search": "alfr"}).json()["results"]
    inactive = boss.get("/api/v1/customers/", {"is_active": "false"}).json()["results"]

    assert [row["code"] for row in by_code] == ["ALFKI"] == [row["code"] for row in by_search]
    assert [row["code"] for row in inactive] == ["GONE"]


def test_page_size_is_capped_at_200(boss):
    Carrier = apps.get_model("orders.Carrier")
    Carrier.objects.bulk_create(Carrier(name=f"Carrier {number:03d}") for number in range(205))

    response = boss.get("/api/v1/carriers/", {"page_size": 5000})

    assert response.status_code == 200 and response.json()["count"] == 205
    assert len(response.json()["results"]) == 200 and response.json()["next"]
