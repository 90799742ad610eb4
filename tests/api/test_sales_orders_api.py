"""Sales orders over the API: nested create, draft-only edits, confirm/cancel/ship, roles, scoping, ETag."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from inventory.models import StockLevel
from orders.models import SalesOrder
from tests.factories import CustomerFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/sales-orders/"


@pytest.fixture
def customer(db):
    return CustomerFactory(code="ALFKI")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_order(quantity=3, **overrides):
    return {
        "customer": "ALFKI",
        "warehouse": "MAIN",
        "customer_reference": "WEB-1",
        "lines": [{"product": "CHAI", "quantity": quantity}],
    } | overrides


def test_sales_creates_and_confirms_an_order_with_codes(make_user, customer, stocked_product):
    client = api(make_user("Sales"))

    created = client.post(ORDERS, new_order(3), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and body["customer_code"] == "ALFKI" and body["warehouse_code"] == "MAIN"
    assert body["lines"][0]["quantity"] == 3 and body["lines"][0]["unit_price"] == "18.0000"
    assert body["subtotal"] == "54.00"
    assert "+" in body["created_at"] or body["created_at"].endswith("Z")

    confirmed = client.post(f"{ORDERS}{body['id']}/confirm/", {}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    line = confirmed.json()["lines"][0]
    assert confirmed.json()["status"] == "confirmed"
    assert (line["quantity_reserved"], line["quantity_backordered"]) == (3, 0)
    assert StockLevel.objects.get(product=stocked_product).allocated == 3


def test_short_stock_is_backordered(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order_id = client.post(ORDERS, new_order(14), format="json").json()["id"]

    line = client.post(f"{ORDERS}{order_id}/confirm/", {}, format="json").json()["lines"][0]

    assert (line["quantity_reserved"], line["quantity_backordered"]) == (10, 4)


def test_confirmed_order_cannot_be_edited_or_confirmed_again(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order_id = client.post(ORDERS, new_order(), format="json").json()["id"]
    client.post(f"{ORDERS}{order_id}/confirm/", {}, format="json")

    edited = client.patch(f"{ORDERS}{order_id}/", {"lines": [{"product": "CHAI", "quantity": 1}]}, format="json")
    again = client.post(f"{ORDERS}{order_id}/confirm/", {}, format="json")

    assert edited.status_code == 409 and edited.json()["code"] == "invalid_transition"
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert set(again.json()) >= {"code", "detail", "fields"}


def test_draft_lines_are_replaced(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order = client.post(ORDERS, new_order(3), format="json").json()
    line_id = order["lines"][0]["id"]

    changed = client.patch(f"{ORDERS}{order['id']}/", {"lines": [{"id": line_id, "quantity": 5}]}, format="json")

    assert changed.status_code == 200, changed.json()
    assert [(row["id"], row["quantity"]) for row in changed.json()["lines"]] == [(line_id, 5)]
    assert changed.json()["subtotal"] == "90.00"


def test_a_line_of_another_order_refuses_the_whole_change(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order = client.post(ORDERS, new_order(3), format="json").json()
    other = client.post(ORDERS, new_order(1), format="json").json()
    foreign = other["lines"][0]["id"]

    refused = client.patch(
        f"{ORDERS}{order['id']}/",
        {"customer_reference": "changed", "lines": [{"id": foreign, "quantity": 7}]},
        format="json",
    )

    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    assert f"Lines [{foreign}] are not on {order['number']}." in refused.json()["fields"]["lines"]
    after = client.get(f"{ORDERS}{order['id']}/").json()
    assert after["customer_reference"] == order["customer_reference"]  # nothing written
    assert [(row["id"], row["quantity"]) for row in after["lines"]] == [(order["lines"][0]["id"], 3)]


def test_ship_creates_a_shipment_of_everything_reserved(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order_id = client.post(ORDERS, new_order(2), format="json").json()["id"]
    client.post(f"{ORDERS}{order_id}/confirm/", {}, format="json")

    shipped = client.post(f"{ORDERS}{order_id}/ship/", {}, format="json")

    assert shipped.status_code == 201, shipped.json()
    assert shipped.json()["status"] == "pending" and shipped.json()["lines"][0]["quantity"] == 2


def test_cancel_releases_the_reservation(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order_id = client.post(ORDERS, new_order(2), format="json").json()["id"]
    client.post(f"{ORDERS}{order_id}/confirm/", {}, format="json")

    cancelled = client.post(f"{ORDERS}{order_id}/cancel/", {"reason": "customer called"}, format="json")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert StockLevel.objects.get(product=stocked_product).allocated == 0


@pytest.mark.parametrize("role", ["Viewer", "Purchasing", "Warehouse"])
def test_roles_without_confirm_right_are_refused(make_user, customer, stocked_product, role):
    order_id = api(make_user("Sales")).post(ORDERS, new_order(), format="json").json()["id"]
    user = make_user(role)
    if role == "Warehouse":
        stocked_product.stock_levels.get().warehouse.staff.add(user)

    response = api(user).post(f"{ORDERS}{order_id}/confirm/", {}, format="json")

    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert SalesOrder.objects.get(pk=order_id).status == "draft"


def test_unknown_references_are_field_errors(make_user, customer, stocked_product):
    body = new_order(lines=[{"product": "NOPE", "quantity": 1}], customer=99999999)

    response = api(make_user("Sales")).post(ORDERS, body, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"customer", "lines"}
    assert not SalesOrder.objects.exists()


def test_another_warehouses_order_is_a_404_for_warehouse_staff(make_user, customer, stocked_product):
    order_id = api(make_user("Sales")).post(ORDERS, new_order(), format="json").json()["id"]
    staff = make_user("Warehouse")
    WarehouseFactory(code="OTHER").staff.add(staff)

    response = api(staff).get(f"{ORDERS}{order_id}/")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_stale_if_match_is_a_412(make_user, customer, stocked_product):
    client = api(make_user("Sales"))
    order_id = client.post(ORDERS, new_order(), format="json").json()["id"]
    etag = client.get(f"{ORDERS}{order_id}/")["ETag"]
    client.patch(f"{ORDERS}{order_id}/", {"customer_reference": "first"}, format="json")

    stale = client.patch(f"{ORDERS}{order_id}/", {"customer_reference": "second"}, format="json", HTTP_IF_MATCH=etag)
    fresh_tag = client.get(f"{ORDERS}{order_id}/")["ETag"]
    fresh = client.patch(
        f"{ORDERS}{order_id}/", {"customer_reference": "third"}, format="json", HTTP_IF_MATCH=fresh_tag
    )

    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert fresh.status_code == 200
    assert SalesOrder.objects.get(pk=order_id).customer_reference == "third"


def test_confirming_over_the_credit_limit_is_a_409_and_reserves_nothing(make_user, stocked_product):
    CustomerFactory(code="TIGHT", credit_limit="20.00")
    client = api(make_user("Sales"))
    order_id = client.post(ORDERS, new_order(3, customer="TIGHT"), format="json").json()["id"]  # 54.00 + tax

    refused = client.post(f"{ORDERS}{order_id}/confirm/", {}, format="json")
    not_theirs = client.post(f"{ORDERS}{order_id}/confirm/", {"credit_override_reason": "known"}, format="json")

    for response in (refused, not_theirs):
        assert response.status_code == 409 and response.json()["code"] == "credit_limit_exceeded"
        assert response.json()["data"]["customer"] == "TIGHT" and response.json()["data"]["credit_limit"] == "20.00"
    assert SalesOrder.objects.get(pk=order_id).status == "draft"
    assert StockLevel.objects.get(product=stocked_product).allocated == 0


def test_a_manager_confirms_over_the_credit_limit_with_a_reason(make_user, stocked_product):
    CustomerFactory(code="TIGHT", credit_limit="20.00")
    order_id = api(make_user("Sales")).post(ORDERS, new_order(3, customer="TIGHT"), format="json").json()["id"]

    confirmed = api(make_user("Manager")).post(
        f"{ORDERS}{order_id}/confirm/", {"credit_override_reason": "pays on delivery"}, format="json"
    )

    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["status"] == "confirmed"
    assert SalesOrder.objects.get(pk=order_id).credit_override_reason == "pays on delivery"
