"""Shipments over the API (issue 9 §1, §6): ``sales-orders/{id}/ship/`` creates one; ``pack/``, ``mark-shipped/``
with carrier and tracking number, ``mark-delivered/``, ``return/``; invalid transitions are 409, roles and warehouse
scoping as in the admin."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from inventory.models import MovementKind, StockLevel, StockMovement
from orders.models import SalesOrder, Shipment
from tests.factories import CarrierFactory, CustomerFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/sales-orders/"
SHIPMENTS = "/api/v1/shipments/"
OFFSET = re.compile(r"T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def seller(make_user, stocked_product):
    CustomerFactory(code="ALFKI")
    CarrierFactory(name="Speedy Express")
    return make_user("Sales")


def confirmed_order(client, quantity=4, **extra) -> dict:
    body = {"customer": "ALFKI", "warehouse": "MAIN", "lines": [{"product": "CHAI", "quantity": quantity}]} | extra
    order = client.post(ORDERS, body, format="json").json()
    confirmed = client.post(f"{ORDERS}{order['id']}/confirm/", {}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    return confirmed.json()


def new_shipment(client, order, body=None) -> dict:
    response = client.post(f"{ORDERS}{order['id']}/ship/", body or {}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def post(client, shipment, action, body=None):
    return client.post(f"{SHIPMENTS}{shipment['id']}/{action}/", body or {}, format="json")


def test_the_whole_way_pack_ship_deliver(seller):
    client = api(seller)
    order = confirmed_order(client)
    shipment = new_shipment(client, order)
    assert shipment["status"] == "pending" and shipment["sales_order"] == order["id"]

    packed = post(client, shipment, "pack")
    shipped = post(client, shipment, "mark-shipped", {"carrier": "Speedy Express", "tracking_number": "1Z999"})

    assert packed.status_code == 200 and packed.json()["status"] == "packed"
    assert shipped.status_code == 200, shipped.json()
    body = shipped.json()
    assert (body["status"], body["carrier_name"], body["tracking_number"]) == ("shipped", "Speedy Express", "1Z999")
    assert OFFSET.search(body["shipped_at"]) and body["delivered_at"] is None
    level = StockLevel.objects.get(product__sku="CHAI")
    assert (level.on_hand, level.allocated) == (6, 0)
    assert client.get(f"{ORDERS}{order['id']}/").json()["status"] == "shipped"

    delivered = post(client, shipment, "mark-delivered")
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    assert OFFSET.search(delivered.json()["delivered_at"])
    assert client.get(f"{ORDERS}{order['id']}/").json()["status"] == "delivered"
    assert delivered["ETag"]


def test_carrier_by_id_and_shipping_without_packing(seller):
    client = api(seller)
    carrier = CarrierFactory(name="Federal Shipping")
    shipment = new_shipment(client, confirmed_order(client))

    shipped = post(client, shipment, "mark-shipped", {"carrier": carrier.pk, "tracking_number": "FS-1"})

    assert shipped.status_code == 200, shipped.json()
    assert (shipped.json()["carrier"], shipped.json()["carrier_name"]) == (carrier.pk, "Federal Shipping")


def test_ship_action_for_chosen_lines_and_quantities_with_carrier(seller):
    client = api(seller)
    order = confirmed_order(client)
    line = order["lines"][0]

    shipment = new_shipment(
        client,
        order,
        {"lines": [{"line": line["id"], "quantity": 3}], "carrier": "Speedy Express", "tracking_number": "A1"},
    )

    assert [(row["sales_order_line"], row["sku"], row["quantity"]) for row in shipment["lines"]] == [
        (line["id"], "CHAI", 3)
    ]
    assert (shipment["carrier_name"], shipment["tracking_number"]) == ("Speedy Express", "A1")
    post(client, shipment, "mark-shipped")
    after = client.get(f"{ORDERS}{order['id']}/").json()
    assert after["status"] == "partially_shipped"
    assert (after["lines"][0]["quantity_shipped"], after["lines"][0]["quantity_reserved"]) == (3, 1)


def test_shipping_more_than_reserved_is_refused(seller):
    client = api(seller)
    order = confirmed_order(client, quantity=12)  # 10 reserved, 2 backordered
    line = order["lines"][0]
    assert (line["quantity_reserved"], line["quantity_backordered"]) == (10, 2)

    response = client.post(
        f"{ORDERS}{order['id']}/ship/", {"lines": [{"line": line["id"], "quantity": 11}]}, format="json"
    )

    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert "reserved" in response.json()["detail"]
    assert not Shipment.objects.exists()


def test_shipping_a_draft_order_is_an_invalid_transition(seller):
    client = api(seller)
    body = {"customer": "ALFKI", "warehouse": "MAIN", "lines": [{"product": "CHAI", "quantity": 1}]}
    order = client.post(ORDERS, body, format="json").json()

    response = client.post(f"{ORDERS}{order['id']}/ship/", {}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    assert not Shipment.objects.exists()


@pytest.mark.parametrize(
    ("actions", "refused"),
    [
        (["pack", "mark-shipped"], "pack"),
        ([], "mark-delivered"),
        ([], "return"),
        (["mark-shipped", "mark-delivered"], "mark-shipped"),
        (["mark-shipped", "return"], "return"),
    ],
)
def test_invalid_transitions_are_409_and_change_nothing(seller, actions, refused):
    client = api(seller)
    shipment = new_shipment(client, confirmed_order(client))
    for action in actions:
        assert post(client, shipment, action).status_code == 200
    before = Shipment.objects.get(pk=shipment["id"]).status

    response = post(client, shipment, refused)

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "invalid_transition" and set(response.json()) >= {"code", "detail", "fields"}
    assert Shipment.objects.get(pk=shipment["id"]).status == before


def test_return_puts_the_goods_back_and_reopens_the_order(seller):
    client = api(seller)
    order = confirmed_order(client, quantity=2)
    shipment = new_shipment(client, order)
    post(client, shipment, "mark-shipped")
    post(client, shipment, "mark-delivered")

    returned = post(client, shipment, "return")

    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert OFFSET.search(returned.json()["returned_at"])
    assert StockMovement.objects.filter(kind=MovementKind.RETURN, reference=shipment["number"]).count() == 1
    assert StockLevel.objects.get(product__sku="CHAI").on_hand == 10
    assert SalesOrder.objects.get(pk=order["id"]).lines.get().quantity_shipped == 0


def test_an_inactive_carrier_is_refused(seller):
    client = api(seller)
    CarrierFactory(name="Gone Ltd", is_active=False)
    shipment = new_shipment(client, confirmed_order(client))

    response = post(client, shipment, "mark-shipped", {"carrier": "Gone Ltd"})

    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert Shipment.objects.get(pk=shipment["id"]).status == "pending"


def test_an_unknown_carrier_is_a_field_error(seller):
    client = api(seller)
    shipment = new_shipment(client, confirmed_order(client))

    response = post(client, shipment, "mark-shipped", {"carrier": "Nobody"})

    assert response.status_code == 400 and "carrier" in response.json()["fields"]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Admin", True),
        ("Manager", True),
        ("Sales", True),
        ("Warehouse", True),
        ("Purchasing", False),
        ("Viewer", False),
    ],
)
def test_who_may_create_and_move_shipments(make_user, seller, role, allowed):
    client = api(seller)
    order = confirmed_order(client)
    shipment = new_shipment(client, order, {"lines": [{"line": order["lines"][0]["id"], "quantity": 1}]})
    user = make_user(role, username=f"{role.lower()}-2")
    WarehouseFactory(code="MAIN").staff.add(user)
    other = api(user)

    created = other.post(f"{ORDERS}{order['id']}/ship/", {}, format="json")
    packed = post(other, shipment, "pack")
    shipped = post(other, shipment, "mark-shipped", {"tracking_number": "T"})

    if allowed:
        assert (created.status_code, packed.status_code, shipped.status_code) == (201, 200, 200)
    else:
        assert (created.status_code, packed.status_code, shipped.status_code) == (403, 403, 403)
        assert packed.json()["code"] == "permission_denied"
        assert Shipment.objects.get().status == "pending"


def test_viewer_reads_shipments(make_user, seller):
    client = api(seller)
    shipment = new_shipment(client, confirmed_order(client))

    read = api(make_user("Viewer")).get(f"{SHIPMENTS}{shipment['id']}/")

    assert read.status_code == 200 and read.json()["number"] == shipment["number"]


def test_another_warehouses_shipment_is_a_404_for_warehouse_staff(make_user, seller):
    client = api(seller)
    shipment = new_shipment(client, confirmed_order(client))
    staff = make_user("Warehouse")
    WarehouseFactory(code="NORTH").staff.add(staff)
    north = api(staff)

    assert north.get(f"{SHIPMENTS}{shipment['id']}/").status_code == 404
    for action in ("pack", "mark-shipped", "mark-delivered", "return"):
        response = post(north, shipment, action)
        assert response.status_code == 404 and response.json()["code"] == "not_found", action
    assert north.get(SHIPMENTS).json()["results"] == []
    assert Shipment.objects.get().status == "pending"


def test_warehouse_staff_cannot_ship_another_warehouses_order(make_user, seller):
    order = confirmed_order(api(seller))
    staff = make_user("Warehouse")
    WarehouseFactory(code="NORTH").staff.add(staff)

    response = api(staff).post(f"{ORDERS}{order['id']}/ship/", {}, format="json")

    assert response.status_code == 404 and not Shipment.objects.exists()


def test_filter_shipments_by_status_and_order(seller):
    client = api(seller)
    first = confirmed_order(client, quantity=1)
    second = confirmed_order(client, quantity=1)
    a, b = new_shipment(client, first), new_shipment(client, second)
    post(client, b, "mark-shipped")

    assert [row["id"] for row in client.get(SHIPMENTS, {"status": "shipped"}).json()["results"]] == [b["id"]]
    assert [row["id"] for row in client.get(SHIPMENTS, {"sales_order": first["id"]}).json()["results"]] == [a["id"]]


def test_stale_if_match_on_a_shipment_action_is_a_412(seller):
    client = api(seller)
    shipment = new_shipment(client, confirmed_order(client))
    etag = client.get(f"{SHIPMENTS}{shipment['id']}/")["ETag"]
    post(client, shipment, "pack")

    stale = client.post(f"{SHIPMENTS}{shipment['id']}/mark-shipped/", {}, format="json", HTTP_IF_MATCH=etag)

    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert Shipment.objects.get().status == "packed"
