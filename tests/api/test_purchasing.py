"""Purchase orders and receipts over the API (issue 9 §1, §6): nested create, draft-only edits, send, receive with
per-line quantities, cancel, close, receipts read; business errors as 409 with their code, roles, warehouse scoping."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from inventory.models import MovementKind, StockLevel, StockMovement
from orders.models import PurchaseOrder, Receipt
from tests.factories import ProductFactory, SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/purchase-orders/"
RECEIPTS = "/api/v1/receipts/"
OFFSET = re.compile(r"T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def goods(warehouse):
    SupplierFactory(code="EXOTIC")
    return ProductFactory(sku="TEA"), ProductFactory(sku="COFFEE")


@pytest.fixture
def buyer(make_user):
    return make_user("Purchasing")


def new_order(**overrides):
    return {
        "supplier": "EXOTIC",
        "warehouse": "MAIN",
        "supplier_reference": "Q-77",
        "lines": [{"product": "TEA", "quantity": 10, "unit_cost": "2.5000"}, {"product": "COFFEE", "quantity": 4}],
    } | overrides


def create(client, **overrides) -> dict:
    response = client.post(ORDERS, new_order(**overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def sent_order(client) -> dict:
    order = create(client)
    assert client.post(f"{ORDERS}{order['id']}/send/", format="json").status_code == 200
    return order


def test_purchasing_creates_an_order_with_nested_lines(buyer, goods):
    body = create(api(buyer))

    assert body["status"] == "draft" and body["supplier_code"] == "EXOTIC" and body["warehouse_code"] == "MAIN"
    assert body["supplier_reference"] == "Q-77"
    tea, coffee = body["lines"]
    assert (tea["sku"], tea["quantity"], tea["unit_cost"], tea["line_total"]) == ("TEA", 10, "2.5000", "25.00")
    assert coffee["sku"] == "COFFEE" and isinstance(coffee["unit_cost"], str)
    assert isinstance(body["total"], str) and "." in body["total"]
    assert OFFSET.search(body["created_at"]) and OFFSET.search(body["updated_at"])
    assert PurchaseOrder.objects.get(pk=body["id"]).lines.count() == 2


def test_a_draft_is_changed_header_and_lines(buyer, goods):
    client = api(buyer)
    order = create(client)
    tea = order["lines"][0]

    changed = client.patch(
        f"{ORDERS}{order['id']}/",
        {"notes": "call before delivery", "lines": [{"id": tea["id"], "quantity": 20}]},
        format="json",
    )

    assert changed.status_code == 200, changed.json()
    assert changed.json()["notes"] == "call before delivery"
    assert [(line["id"], line["quantity"]) for line in changed.json()["lines"]] == [(tea["id"], 20)]
    assert changed.json()["total"] == "50.00"


def test_changing_the_product_of_an_existing_line_is_a_field_error_not_a_500(buyer, goods):
    client = api(buyer)
    order = create(client)
    tea = order["lines"][0]

    response = client.patch(
        f"{ORDERS}{order['id']}/", {"lines": [{"id": tea["id"], "product": "COFFEE", "quantity": 2}]}, format="json"
    )

    assert response.status_code == 400
    assert "product" in response.json()["fields"]["lines"]["0"]
    assert [line.product.sku for line in PurchaseOrder.objects.get(pk=order["id"]).lines.all()] == ["TEA", "COFFEE"]


def test_a_sent_order_can_no_longer_be_edited_or_sent(buyer, goods):
    client = api(buyer)
    order = sent_order(client)

    edited = client.patch(f"{ORDERS}{order['id']}/", {"notes": "too late"}, format="json")
    again = client.post(f"{ORDERS}{order['id']}/send/", format="json")

    for response in (edited, again):
        assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
        assert set(response.json()) >= {"code", "detail", "fields"}
    assert PurchaseOrder.objects.get(pk=order["id"]).notes == ""


def test_sent_order_shows_sent_at_with_offset(buyer, goods):
    client = api(buyer)
    order = sent_order(client)

    body = client.get(f"{ORDERS}{order['id']}/").json()

    assert body["status"] == "sent" and OFFSET.search(body["sent_at"])


def test_receive_per_line_quantities_books_stock_and_the_receipt_reads_back(make_user, buyer, goods):
    order = sent_order(api(buyer))
    tea, coffee = order["lines"]
    storeman = make_user("Warehouse")
    WarehouseFactory(code="MAIN").staff.add(storeman)
    client = api(storeman)

    received = client.post(
        f"{ORDERS}{order['id']}/receive/",
        {"lines": [{"line": tea["id"], "quantity": 6}], "delivery_note": "DN-1"},
        format="json",
    )

    assert received.status_code == 201, received.json()
    receipt = received.json()
    assert receipt["purchase_order"] == order["id"] and receipt["delivery_note"] == "DN-1"
    assert [(line["sku"], line["quantity"]) for line in receipt["lines"]] == [("TEA", 6)]
    assert OFFSET.search(receipt["received_at"])
    after = client.get(f"{ORDERS}{order['id']}/").json()
    assert after["status"] == "partially_received"
    assert {line["sku"]: (line["quantity_received"], line["quantity_outstanding"]) for line in after["lines"]} == {
        "TEA": (6, 4),
        "COFFEE": (0, 4),
    }
    assert StockLevel.objects.get(product__sku="TEA").on_hand == 6
    assert StockMovement.objects.filter(kind=MovementKind.RECEIPT, product__sku="TEA").count() == 1

    read = client.get(f"{RECEIPTS}{receipt['id']}/")
    listed = client.get(RECEIPTS, {"purchase_order": order["id"]})
    assert read.status_code == 200 and read.json() == receipt
    assert [row["id"] for row in listed.json()["results"]] == [receipt["id"]]

    rest = client.post(
        f"{ORDERS}{order['id']}/receive/",
        {"lines": [{"line": tea["id"], "quantity": 4}, {"line": coffee["id"], "quantity": 4}]},
        format="json",
    )
    assert rest.status_code == 201
    assert client.get(f"{ORDERS}{order['id']}/").json()["status"] == "received"


def test_over_receipt_is_refused_and_nothing_is_booked(buyer, goods):
    client = api(buyer)
    order = sent_order(client)
    tea = order["lines"][0]

    response = client.post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": tea["id"], "quantity": 11}]}, format="json"
    )

    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert "outstanding" in response.json()["detail"]
    assert not Receipt.objects.exists() and not StockMovement.objects.exists()


def test_receiving_a_draft_is_an_invalid_transition(buyer, goods):
    client = api(buyer)
    order = create(client)

    response = client.post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": order["lines"][0]["id"], "quantity": 1}]}, format="json"
    )

    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    assert not Receipt.objects.exists()


def test_a_line_of_another_order_is_refused(buyer, goods):
    client = api(buyer)
    order = sent_order(client)
    other = create(client)

    response = client.post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": other["lines"][0]["id"], "quantity": 1}]}, format="json"
    )

    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert not Receipt.objects.exists()


def test_cancel_a_draft_and_not_a_cancelled_one(buyer, goods):
    client = api(buyer)
    order = create(client)

    cancelled = client.post(f"{ORDERS}{order['id']}/cancel/", {"reason": "price too high"}, format="json")
    again = client.post(f"{ORDERS}{order['id']}/cancel/", {}, format="json")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_close_short_needs_a_reason(buyer, goods):
    client = api(buyer)
    order = sent_order(client)
    client.post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": order["lines"][0]["id"], "quantity": 10}]}, format="json"
    )

    without = client.post(f"{ORDERS}{order['id']}/close/", {}, format="json")
    closed = client.post(f"{ORDERS}{order['id']}/close/", {"reason": "coffee discontinued"}, format="json")

    assert without.status_code == 400 and without.json()["code"] == "validation_failed"
    assert closed.status_code == 200, closed.json()
    assert closed.json()["status"] == "closed" and closed.json()["close_reason"] == "coffee discontinued"
    assert OFFSET.search(closed.json()["closed_at"])


def test_closing_a_draft_is_an_invalid_transition(buyer, goods):
    client = api(buyer)
    order = create(client)

    response = client.post(f"{ORDERS}{order['id']}/close/", {"reason": "x"}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_inactive_supplier_or_product_is_refused_and_nothing_written(buyer, goods):
    ProductFactory(sku="OLD", is_active=False)

    response = api(buyer).post(ORDERS, new_order(lines=[{"product": "OLD", "quantity": 1}]), format="json")

    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert not PurchaseOrder.objects.exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Admin", True),
        ("Manager", True),
        ("Purchasing", True),
        ("Sales", False),
        ("Warehouse", False),
        ("Viewer", False),
    ],
)
def test_who_may_create_and_send(make_user, goods, role, allowed):
    user = make_user(role)
    WarehouseFactory(code="MAIN").staff.add(user)
    draft = create(api(make_user("Purchasing", username="other-buyer")))

    created = api(user).post(ORDERS, new_order(), format="json")
    sent = api(user).post(f"{ORDERS}{draft['id']}/send/", format="json")

    if allowed:
        assert (created.status_code, sent.status_code) == (201, 200)
    else:
        # Sales may not even see purchase orders: its refusal is a 403 all the same
        assert (created.status_code, sent.status_code) == (403, 403)
        assert sent.json()["code"] == "permission_denied"
        assert PurchaseOrder.objects.get(pk=draft["id"]).status == "draft"
        assert PurchaseOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Admin", True),
        ("Manager", True),
        ("Purchasing", True),
        ("Warehouse", True),
        ("Sales", False),
        ("Viewer", False),
    ],
)
def test_who_may_receive(make_user, goods, role, allowed):
    order = sent_order(api(make_user("Purchasing", username="other-buyer")))
    user = make_user(role)
    WarehouseFactory(code="MAIN").staff.add(user)

    response = api(user).post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": order["lines"][0]["id"], "quantity": 1}]}, format="json"
    )

    assert response.status_code == (201 if allowed else 403)
    assert Receipt.objects.count() == (1 if allowed else 0)


@pytest.mark.parametrize("role", ["Warehouse", "Viewer", "Sales"])
def test_read_only_roles_cannot_cancel_or_close(make_user, goods, role):
    order = sent_order(api(make_user("Purchasing", username="other-buyer")))
    user = make_user(role)
    WarehouseFactory(code="MAIN").staff.add(user)

    cancelled = api(user).post(f"{ORDERS}{order['id']}/cancel/", {}, format="json")
    closed = api(user).post(f"{ORDERS}{order['id']}/close/", {"reason": "x"}, format="json")

    assert (cancelled.status_code, closed.status_code) == (403, 403)
    assert PurchaseOrder.objects.get(pk=order["id"]).status == "sent"


def test_another_warehouses_order_and_receipt_are_404_for_warehouse_staff(make_user, buyer, goods):
    WarehouseFactory(code="NORTH")
    client = api(buyer)
    order = sent_order(client)
    receipt = client.post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": order["lines"][0]["id"], "quantity": 1}]}, format="json"
    ).json()
    staff = make_user("Warehouse")
    WarehouseFactory(code="NORTH").staff.add(staff)
    north = api(staff)

    assert north.get(f"{ORDERS}{order['id']}/").status_code == 404
    assert north.get(f"{RECEIPTS}{receipt['id']}/").status_code == 404
    refused = north.post(
        f"{ORDERS}{order['id']}/receive/", {"lines": [{"line": order["lines"][0]["id"], "quantity": 1}]}, format="json"
    )
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert north.get(ORDERS).json()["results"] == [] and north.get(RECEIPTS).json()["results"] == []
    assert Receipt.objects.count() == 1


def test_warehouse_staff_cannot_order_into_another_warehouse(make_user, goods):
    WarehouseFactory(code="NORTH")
    manager_of_nothing = make_user("Warehouse")
    WarehouseFactory(code="NORTH").staff.add(manager_of_nothing)
    # Purchasing sees every warehouse; a buyer restricted by a Warehouse role too is limited to its own.
    from django.contrib.auth.models import Group

    manager_of_nothing.groups.add(Group.objects.get(name="Purchasing"))

    response = api(manager_of_nothing).post(ORDERS, new_order(warehouse="MAIN"), format="json")

    assert response.status_code == 400 and "warehouse" in response.json()["fields"]
    assert not PurchaseOrder.objects.exists()


def test_filters_by_status_and_supplier(buyer, goods):
    client = api(buyer)
    draft = create(client)
    sent = sent_order(client)

    by_status = client.get(ORDERS, {"status": "sent"}).json()["results"]
    by_sku = client.get(ORDERS, {"sku": "tea", "status": "draft,sent"}).json()["results"]

    assert [row["id"] for row in by_status] == [sent["id"]]
    assert {row["id"] for row in by_sku} == {draft["id"], sent["id"]}
