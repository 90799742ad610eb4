"""One error shape everywhere and never a 500, whatever the input."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from inventory.models import Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def assert_shape(response, status, code=None):
    body = response.json()
    assert response.status_code == status, body
    assert set(body) >= {"code", "detail", "fields"}
    if code:
        assert body["code"] == code


def test_unknown_endpoint_is_a_json_404(client):
    assert_shape(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_unknown_id_is_a_json_404(client):
    assert_shape(client.get("/api/v1/products/999999999999999999999/"), 404, "not_found")


def test_method_not_allowed(client, stocked_product):
    assert_shape(client.delete(f"/api/v1/stock-movements/{stocked_product.movements.get().pk}/"), 405)


def test_malformed_json(client):
    response = client.generic("POST", "/api/v1/products/", b'{"sku": ', content_type="application/json")
    assert_shape(response, 400, "parse_error")


def test_wrong_content_type(client):
    assert_shape(client.generic("POST", "/api/v1/products/", b"sku=X", content_type="text/plain"), 415)


def test_ten_megabyte_body_is_a_413(client):
    body = b'{"sku": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert_shape(client.generic("POST", "/api/v1/products/", body, content_type="application/json"), 413)
    assert not Product.objects.exists()


@pytest.mark.parametrize("quantity", ["many", 10**30, -1, 0, None, [1], {"a": 1}, 1.5])
def test_bad_quantities_are_field_errors(client, stocked_product, quantity):
    from tests.factories import CustomerFactory

    CustomerFactory(code="ALFKI")
    body = {"customer": "ALFKI", "warehouse": "MAIN", "lines": [{"product": "CHAI", "quantity": quantity}]}
    assert_shape(client.post("/api/v1/sales-orders/", body, format="json"), 400, "invalid")


def test_huge_integer_in_json_is_a_400(client):
    body = b'{"sku": "X", "name": "x", "sale_price": ' + b"9" * 5000 + b"}"
    response = client.generic("POST", "/api/v1/products/", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("text", ["\\u0000", "\\udb5a"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("where", ["value", "key"])
def test_text_no_database_can_store_is_a_400_and_nothing_written(client, stocked_product, text, where):
    """Found by schemathesis: a NUL in a JSON string reached PostgreSQL's text column (500)."""
    note = f'"note": "a{text}b"' if where == "value" else f'"a{text}b": 1'
    body = (
        '{"from_warehouse": "MAIN", "to_warehouse": "MAIN", '
        + note
        + ', "lines": [{"product": "CHAI", "quantity": 1}]}'
    ).encode()
    response = client.generic("POST", "/api/v1/stock-transfers/", body, content_type="application/json")
    assert_shape(response, 400, "parse_error")
    assert "NUL" in response.json()["detail"]


def test_insufficient_stock_is_a_409_with_shortfalls(client, stocked_product):
    level = stocked_product.stock_levels.get()
    from tests.factories import WarehouseFactory

    other = WarehouseFactory(code="TWO")
    created = client.post(
        "/api/v1/stock-transfers/",
        {"from_warehouse": "MAIN", "to_warehouse": other.pk, "lines": [{"product": "CHAI", "quantity": 11}]},
        format="json",
    )
    assert created.status_code == 201, created.json()

    response = client.post(f"/api/v1/stock-transfers/{created.json()['id']}/apply/", {}, format="json")

    assert_shape(response, 409, "insufficient_stock")
    assert response.json()["data"]["shortfalls"][0]["available"] == 10
    level.refresh_from_db()
    assert level.on_hand == 10


def test_referenced_product_is_deactivated_not_deleted(client, stocked_product):
    response = client.delete(f"/api/v1/products/{stocked_product.pk}/")

    assert response.status_code == 200 and response.json()["code"] == "deactivated"
    stocked_product.refresh_from_db()
    assert stocked_product.is_active is False


def test_unreferenced_product_is_deleted(client):
    from tests.factories import ProductFactory

    product = ProductFactory(sku="LONE")
    assert client.delete(f"/api/v1/products/{product.pk}/").status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()
