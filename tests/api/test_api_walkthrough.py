"""The curl walk-through of docs/api.md, step by step, with a token made by ``manage.py api_token``."""

from __future__ import annotations

import io
import json

from django.core.management import call_command

from tests.factories import CarrierFactory, CustomerFactory


def test_the_documented_walk_through_takes_an_order_to_delivery(client, make_user, stocked_product):
    make_user(superuser=True, username="shopbot")
    CustomerFactory(code="ALFKI")
    CarrierFactory(name="Speedy Express")
    out = io.StringIO()
    call_command("api_token", "create", "shopbot", "--name", "web shop", "--expires-days", "30", stdout=out)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {out.getvalue().strip()}"}

    def post(path, body=None, key=None):
        extra = dict(auth, **({"HTTP_IDEMPOTENCY_KEY": key} if key else {}))
        if body is None:  # curl -X POST without -d: no body, no content type
            return client.generic("POST", path, b"", **extra)
        return client.post(path, json.dumps(body), content_type="application/json", **extra)

    body = {
        "customer": "ALFKI",
        "warehouse": "MAIN",
        "customer_reference": "WEB-1001",
        "lines": [{"product": "CHAI", "quantity": 2}],
    }
    created = post("/api/v1/sales-orders/", body, key="web-order-1001")
    assert created.status_code == 201, created.content
    assert post("/api/v1/sales-orders/", body, key="web-order-1001").json() == created.json()  # a safe retry
    order = created.json()["id"]
    assert created.json()["status"] == "draft"

    confirmed = post(f"/api/v1/sales-orders/{order}/confirm/", key="web-order-1001-confirm")
    assert confirmed.status_code == 200, confirmed.content
    shipment = post(f"/api/v1/sales-orders/{order}/ship/", key="web-order-1001-ship")
    assert shipment.status_code == 201, shipment.content
    number = shipment.json()["id"]
    assert post(f"/api/v1/shipments/{number}/pack/").status_code == 200
    shipped = post(
        f"/api/v1/shipments/{number}/mark-shipped/", {"carrier": "Speedy Express", "tracking_number": "1Z999"}
    )
    assert shipped.status_code == 200, shipped.content
    assert post(f"/api/v1/shipments/{number}/mark-delivered/").status_code == 200

    final = client.get(f"/api/v1/sales-orders/{order}/", **auth).json()
    assert final["status"] == "delivered"
    assert [line["quantity_shipped"] for line in final["lines"]] == [2]
