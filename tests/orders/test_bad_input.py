"""Bad input on order pages: a 404 or a clear message, never a 500."""

from __future__ import annotations

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
