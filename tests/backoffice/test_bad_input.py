"""Malformed ids in admin URLs and form posts: a 404 or a form error, never a 500, nothing written."""

from __future__ import annotations

import pytest

from inventory.models import StockLevel
from tests.factories import ProductFactory

BAD_IDS = ["abc", "1 or 1", "9" * 30]


@pytest.mark.parametrize("object_id", BAD_IDS)
@pytest.mark.parametrize(
    "path",
    [
        "inventory/product/{}/history/",
        "orders/salesorder/{}/history/",
        "inventory/stocktransfer/{}/history/1/",
    ],
)
def test_history_pages_with_a_malformed_id_are_not_found(admin_client, path, object_id):
    response = admin_client.get("/admin/" + path.format(object_id))

    assert response.status_code == 404


@pytest.mark.parametrize("product_id", ["abc", "1e400", "9" * 30])
def test_stock_level_form_with_a_malformed_product_id_shows_a_form_error(admin_client, warehouse, product_id):
    response = admin_client.post(
        "/admin/inventory/stocklevel/add/",
        {"product": product_id, "warehouse": str(warehouse.pk), "reorder_point": "1", "reorder_quantity": "1"},
    )

    assert response.status_code == 200
    assert "product" in response.context["adminform"].form.errors
    assert not StockLevel.objects.exists()


def test_sales_order_line_with_a_malformed_product_id_shows_a_form_error(admin_client, warehouse):
    from orders.models import SalesOrder
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    ProductFactory()
    response = admin_client.post(
        "/admin/orders/salesorder/add/",
        {
            "customer": str(customer.pk),
            "warehouse": str(warehouse.pk),
            "order_date": "2026-01-05",
            "shipping_charge": "0",
            "discount_percent": "0",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": "abc",
            "lines-0-quantity": "2",
        },
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not SalesOrder.objects.exists()
