"""REST API for the catalogue and the ledger, through real role permissions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
MOVEMENTS = "/api/v1/stock-movements/"


@pytest.fixture
def catalogue(stocked_product):
    ProductFactory(sku="CHANG", name="Chang", barcode="4006381333931")
    ProductFactory(sku="TOFU", name="Tofu", is_active=False)
    return stocked_product


@pytest.fixture
def viewer_client(client, make_user):
    client.force_login(make_user("Viewer"))
    return client


def skus(response) -> list[str]:
    return [row["sku"] for row in response.json()["results"]]


def new_product(**overrides) -> dict:
    return {"sku": "IKURA", "name": "Ikura", "sale_price": "31.0000", "cost": "20.0000", "tax_rate": "5.00"} | overrides


class TestProducts:
    def test_anonymous_is_refused(self, client, catalogue):
        response = client.get(PRODUCTS)

        assert response.status_code in (401, 403)
        assert "results" not in response.json()

    def test_viewer_lists_products_in_sku_order(self, viewer_client, catalogue):
        response = viewer_client.get(PRODUCTS)

        assert response.status_code == 200
        assert response.json()["count"] == 3
        assert skus(response) == ["CHAI", "CHANG", "TOFU"]
        chai = response.json()["results"][0]
        assert chai["name"] == "Chai"
        assert Decimal(chai["sale_price"]) == Decimal("18.00")
        assert Decimal(chai["average_cost"]) == Decimal("9.00")

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("q=cha", ["CHAI", "CHANG"]),
            ("q=TOF", ["TOFU"]),
            ("q=4006381333931", ["CHANG"]),
            ("q=nothing-like-it", []),
            ("is_active=false", ["TOFU"]),
            ("is_active=true", ["CHAI", "CHANG"]),
            ("q=ch&is_active=true", ["CHAI", "CHANG"]),
            ("sku=CHAI", ["CHAI"]),
        ],
    )
    def test_filters(self, viewer_client, catalogue, query, expected):
        response = viewer_client.get(f"{PRODUCTS}?{query}")

        assert response.status_code == 200
        assert skus(response) == expected

    def test_viewer_cannot_create(self, viewer_client):
        response = viewer_client.post(PRODUCTS, new_product(), content_type="application/json")

        assert response.status_code == 403
        assert not Product.objects.filter(sku="IKURA").exists()

    def test_viewer_cannot_change_a_price(self, viewer_client, catalogue):
        response = viewer_client.patch(
            f"{PRODUCTS}{catalogue.pk}/", {"sale_price": "1.00"}, content_type="application/json"
        )

        assert response.status_code == 403
        catalogue.refresh_from_db()
        assert catalogue.sale_price == Decimal("18.0000")

    def test_superuser_creates_a_product(self, admin_client):
        response = admin_client.post(PRODUCTS, new_product(), content_type="application/json")

        assert response.status_code == 201, response.json()
        product = Product.objects.get(sku="IKURA")
        assert product.sale_price == Decimal("31.0000")
        assert response.json()["id"] == product.pk
        assert product.history.get().history_user.username == "boss"

    def test_average_cost_cannot_be_set_through_the_api(self, admin_client):
        admin_client.post(PRODUCTS, new_product(average_cost="999"), content_type="application/json")

        assert Product.objects.get(sku="IKURA").average_cost == Decimal("0")

    @pytest.mark.parametrize("price", ["-1.00", "abc", "1.123456"])
    def test_a_bad_price_is_a_400_with_the_field_named(self, admin_client, price):
        response = admin_client.post(PRODUCTS, new_product(sale_price=price), content_type="application/json")

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "invalid"
        assert "sale_price" in response.json()["fields"]
        assert not Product.objects.filter(sku="IKURA").exists()

    def test_a_duplicate_sku_is_a_400(self, admin_client, catalogue):
        response = admin_client.post(PRODUCTS, new_product(sku="CHAI"), content_type="application/json")

        assert response.status_code == 400
        assert "sku" in response.json()["fields"]


class TestStockMovements:
    def test_viewer_reads_the_ledger(self, viewer_client, catalogue):
        response = viewer_client.get(MOVEMENTS)

        assert response.status_code == 200
        [row] = response.json()["results"]
        assert (row["sku"], row["warehouse_code"], row["kind"], row["quantity"], row["balance_after"]) == (
            "CHAI",
            "MAIN",
            "opening",
            10,
            10,
        )

    def test_the_ledger_cannot_be_written_even_by_a_superuser(self, admin_client, catalogue, warehouse):
        movement_id = catalogue.movements.get().pk
        body = {"product": catalogue.pk, "warehouse": warehouse.pk, "kind": "receipt", "quantity": 5}

        assert admin_client.post(MOVEMENTS, body, content_type="application/json").status_code == 405
        assert admin_client.put(f"{MOVEMENTS}{movement_id}/", body, content_type="application/json").status_code == 405
        assert admin_client.delete(f"{MOVEMENTS}{movement_id}/").status_code == 405
        assert catalogue.movements.count() == 1


def test_schema_is_served(admin_client):
    response = admin_client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/products/" in response.content


@pytest.mark.django_db
def test_user_without_a_role_cannot_read_the_ledger_or_catalogue(client, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", "nobody@example.com", "pw-Secret-123")
    client.force_login(nobody)
    assert client.get("/api/v1/stock-movements/").status_code == 403
    assert client.get("/api/v1/products/").status_code == 403
