"""Stock over the API (issue 9 §1, §6): stock levels (reorder settings editable, nothing else), ``count/`` booking an
adjustment through the services, stock transfers (create + apply), the ledger's cursor pages; business errors as 409
with their code, roles and warehouse scoping."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from rest_framework.test import APIClient

from inventory.models import MovementKind, StockLevel, StockMovement, StockTransfer
from inventory.services import StockLine, stock_receive
from orders.services import sales_order_confirm, sales_order_create, sales_order_line_add
from tests.factories import CustomerFactory, ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

LEVELS = "/api/v1/stock-levels/"
TRANSFERS = "/api/v1/stock-transfers/"
MOVEMENTS = "/api/v1/stock-movements/"
OFFSET = re.compile(r"T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def north(db):
    return WarehouseFactory(code="NORTH", name="North")


@pytest.fixture
def level(stocked_product):
    return StockLevel.objects.get(product=stocked_product)


@pytest.fixture
def storeman(make_user, warehouse):
    user = make_user("Warehouse")
    warehouse.staff.add(user)
    return user


def reserve(product, warehouse, quantity, user):
    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
    sales_order_line_add(order=order, product=product, quantity=quantity, user=user)
    return sales_order_confirm(order=order, user=user)


# Stock levels -------------------------------------------------------------------------------------


def test_levels_list_and_read_with_available(storeman, level):
    client = api(storeman)

    listed = client.get(LEVELS, {"sku": "chai"}).json()
    read = client.get(f"{LEVELS}{level.pk}/").json()

    assert listed["count"] == 1 and listed["results"][0] == read
    assert (read["sku"], read["warehouse_code"], read["on_hand"], read["allocated"], read["available"]) == (
        "CHAI",
        "MAIN",
        10,
        0,
        10,
    )


def test_reorder_settings_are_editable_and_quantities_are_not(make_user, level):
    client = api(make_user("Purchasing"))

    response = client.patch(
        f"{LEVELS}{level.pk}/",
        {"reorder_point": 4, "reorder_quantity": 20, "on_hand": 999, "allocated": 5},
        format="json",
    )

    assert response.status_code == 200, response.json()
    level.refresh_from_db()
    assert (level.reorder_point, level.reorder_quantity, level.on_hand, level.allocated) == (4, 20, 10, 0)
    assert not StockMovement.objects.exclude(kind=MovementKind.OPENING).exists()


@pytest.mark.parametrize("value", [-1, "many", 10**20])
def test_bad_reorder_settings_are_field_errors(make_user, level, value):
    response = api(make_user("Manager")).patch(f"{LEVELS}{level.pk}/", {"reorder_point": value}, format="json")

    assert response.status_code == 400 and "reorder_point" in response.json()["fields"]
    level.refresh_from_db()
    assert level.reorder_point != value


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Admin", True),
        ("Manager", True),
        ("Purchasing", True),
        ("Warehouse", False),
        ("Sales", False),
        ("Viewer", False),
    ],
)
def test_who_may_change_reorder_settings(make_user, warehouse, level, role, allowed):
    user = make_user(role)
    warehouse.staff.add(user)

    response = api(user).patch(f"{LEVELS}{level.pk}/", {"reorder_point": 7}, format="json")

    assert response.status_code == (200 if allowed else 403)
    level.refresh_from_db()
    assert (level.reorder_point == 7) is allowed


def test_stock_levels_cannot_be_created_or_deleted(make_user, level):
    client = api(make_user(superuser=True))

    assert (
        client.post(LEVELS, {"product": level.product_id, "warehouse": level.warehouse_id}, format="json").status_code
        == 405
    )
    assert client.delete(f"{LEVELS}{level.pk}/").status_code == 405
    assert StockLevel.objects.count() == 1


# Counting -----------------------------------------------------------------------------------------


def test_a_count_books_an_adjustment_movement_with_the_reason(storeman, level):
    response = api(storeman).post(
        f"{LEVELS}{level.pk}/count/", {"counted": 7, "reason": "damage", "note": "crushed box"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["on_hand"], response.json()["available"]) == (7, 7)
    movement = StockMovement.objects.get(kind=MovementKind.ADJUSTMENT)
    assert (movement.quantity, movement.balance_after, movement.note, movement.user) == (-3, 7, "crushed box", storeman)
    level.refresh_from_db()
    assert level.on_hand == 7


def test_a_count_equal_to_on_hand_books_nothing(storeman, level):
    response = api(storeman).post(f"{LEVELS}{level.pk}/count/", {"counted": 10, "reason": "cycle_count"}, format="json")

    assert response.status_code == 200 and response.json()["on_hand"] == 10
    assert not StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).exists()


def test_a_count_below_the_reserved_quantity_puts_the_shortage_back_on_backorder(make_user, storeman, level):
    order = reserve(level.product, level.warehouse, 6, make_user("Sales"))

    response = api(storeman).post(f"{LEVELS}{level.pk}/count/", {"counted": 4, "reason": "loss"}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["on_hand"], response.json()["allocated"], response.json()["available"]) == (4, 4, 0)
    line = order.lines.get()
    assert (line.quantity_reserved, line.quantity_backordered) == (4, 2)
    assert StockMovement.objects.get(kind=MovementKind.ADJUSTMENT).quantity == -6


@pytest.mark.parametrize("body", [{"counted": 3}, {"counted": -1, "reason": "loss"}, {"counted": 3, "reason": "whim"}])
def test_a_count_without_a_valid_reason_or_quantity_is_a_field_error(storeman, level, body):
    response = api(storeman).post(f"{LEVELS}{level.pk}/count/", body, format="json")

    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) <= {"counted", "reason"}
    assert not StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Admin", True),
        ("Manager", True),
        ("Warehouse", True),
        ("Purchasing", False),
        ("Sales", False),
        ("Viewer", False),
    ],
)
def test_who_may_count(make_user, warehouse, level, role, allowed):
    user = make_user(role)
    warehouse.staff.add(user)

    response = api(user).post(f"{LEVELS}{level.pk}/count/", {"counted": 9, "reason": "loss"}, format="json")

    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.json()["code"] == "permission_denied"
    level.refresh_from_db()
    assert level.on_hand == (9 if allowed else 10)


def test_another_warehouses_level_is_a_404_and_cannot_be_counted(make_user, level, north):
    staff = make_user("Warehouse")
    north.staff.add(staff)
    client = api(staff)

    assert client.get(f"{LEVELS}{level.pk}/").status_code == 404
    counted = client.post(f"{LEVELS}{level.pk}/count/", {"counted": 0, "reason": "loss"}, format="json")
    assert counted.status_code == 404 and counted.json()["code"] == "not_found"
    assert client.get(LEVELS).json()["results"] == []
    level.refresh_from_db()
    assert level.on_hand == 10


# Transfers ----------------------------------------------------------------------------------------


def transfer_body(quantity=4, **overrides):
    return {
        "from_warehouse": "MAIN",
        "to_warehouse": "NORTH",
        "note": "rebalance",
        "lines": [{"product": "CHAI", "quantity": quantity}],
    } | overrides


def test_a_transfer_is_created_as_a_draft_then_applied(storeman, level, north):
    client = api(storeman)

    created = client.post(TRANSFERS, transfer_body(), format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and body["number"] and OFFSET.search(body["created_at"])
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [("CHAI", 4)]
    assert created["ETag"]
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10

    applied = client.post(f"{TRANSFERS}{body['id']}/apply/", format="json")

    assert applied.status_code == 200, applied.json()
    assert applied.json()["status"] == "applied" and OFFSET.search(applied.json()["applied_at"])
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6
    assert StockLevel.objects.get(product=level.product, warehouse=north).on_hand == 4
    kinds = set(StockMovement.objects.exclude(kind=MovementKind.OPENING).values_list("kind", flat=True))
    assert kinds == {MovementKind.TRANSFER_OUT, MovementKind.TRANSFER_IN}

    again = client.post(f"{TRANSFERS}{body['id']}/apply/", format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6


def test_a_short_transfer_is_a_409_listing_every_short_line(storeman, level, north):
    ProductFactory(sku="MATE")
    client = api(storeman)
    body = transfer_body(lines=[{"product": "CHAI", "quantity": 11}, {"product": "MATE", "quantity": 1}])
    transfer = client.post(TRANSFERS, body, format="json").json()

    response = client.post(f"{TRANSFERS}{transfer['id']}/apply/", format="json")

    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    shortfalls = {row["sku"]: (row["requested"], row["available"]) for row in response.json()["data"]["shortfalls"]}
    assert shortfalls == {"CHAI": (11, 10), "MATE": (1, 0)}
    assert StockTransfer.objects.get().status == "draft"
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10


def test_reserved_stock_cannot_be_transferred(make_user, storeman, level, north):
    reserve(level.product, level.warehouse, 8, make_user("Sales"))
    client = api(storeman)
    transfer = client.post(TRANSFERS, transfer_body(quantity=3), format="json").json()

    response = client.post(f"{TRANSFERS}{transfer['id']}/apply/", format="json")

    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert response.json()["data"]["shortfalls"][0]["available"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (transfer_body(to_warehouse="MAIN"), None),
        (transfer_body(lines=[]), "lines"),
        (transfer_body(lines=[{"product": "CHAI", "quantity": 1}, {"product": "CHAI", "quantity": 2}]), "lines"),
        (transfer_body(lines=[{"product": "NOPE", "quantity": 1}]), "lines"),
        (transfer_body(quantity=0), "lines"),
    ],
)
def test_bad_transfers_are_refused_and_nothing_is_written(storeman, level, north, body, field):
    response = api(storeman).post(TRANSFERS, body, format="json")

    assert response.status_code == 400
    if field:
        assert field in response.json()["fields"]
    else:
        assert response.json()["code"] == "validation_failed"
    assert not StockTransfer.objects.exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Admin", True),
        ("Manager", True),
        ("Warehouse", True),
        ("Purchasing", False),
        ("Sales", False),
        ("Viewer", False),
    ],
)
def test_who_may_create_and_apply_transfers(make_user, storeman, level, north, role, allowed):
    draft = api(storeman).post(TRANSFERS, transfer_body(quantity=1), format="json").json()
    user = make_user(role, username=f"{role.lower()}-2")
    level.warehouse.staff.add(user)
    client = api(user)

    created = client.post(TRANSFERS, transfer_body(quantity=1), format="json")
    applied = client.post(f"{TRANSFERS}{draft['id']}/apply/", format="json")

    assert (created.status_code, applied.status_code) == ((201, 200) if allowed else (403, 403))
    assert StockTransfer.objects.count() == (2 if allowed else 1)
    assert StockTransfer.objects.get(pk=draft["id"]).status == ("applied" if allowed else "draft")


def test_warehouse_staff_move_only_out_of_their_own_warehouses(make_user, level, north):
    staff = make_user("Warehouse")
    north.staff.add(staff)
    stock_receive(lines=[StockLine(level.product_id, north.pk, 5, Decimal("1"))], kind=MovementKind.OPENING)

    from_main = api(staff).post(TRANSFERS, transfer_body(), format="json")
    from_north = api(staff).post(TRANSFERS, transfer_body(from_warehouse="NORTH", to_warehouse="MAIN"), format="json")

    assert from_main.status_code == 400 and "from_warehouse" in from_main.json()["fields"]
    assert from_north.status_code == 201


def test_another_warehouses_transfer_is_a_404(make_user, storeman, level, north):
    transfer = api(storeman).post(TRANSFERS, transfer_body(), format="json").json()
    elsewhere = WarehouseFactory(code="SOUTH")
    staff = make_user("Warehouse", username="south")
    elsewhere.staff.add(staff)
    client = api(staff)

    assert client.get(f"{TRANSFERS}{transfer['id']}/").status_code == 404
    assert client.post(f"{TRANSFERS}{transfer['id']}/apply/", format="json").status_code == 404
    assert client.get(TRANSFERS).json()["results"] == []
    # the destination's staff see it (transfers into their warehouse)
    receiving = make_user("Warehouse", username="north-staff")
    north.staff.add(receiving)
    assert api(receiving).get(f"{TRANSFERS}{transfer['id']}/").status_code == 200
    assert StockTransfer.objects.get().status == "draft"


def test_transfers_are_not_changed_or_deleted_through_the_api(make_user, storeman, level, north):
    transfer = api(storeman).post(TRANSFERS, transfer_body(), format="json").json()
    client = api(make_user(superuser=True))

    assert client.patch(f"{TRANSFERS}{transfer['id']}/", {"note": "x"}, format="json").status_code == 405
    assert client.delete(f"{TRANSFERS}{transfer['id']}/").status_code == 405


# The ledger ---------------------------------------------------------------------------------------


def walk(client, url, **params):
    """Every page of a cursor-paginated list: (rows, pages)."""
    rows, pages = [], []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        pages.append(body)
        rows.extend(body["results"])
        if not body["next"]:
            return rows, pages
        response = client.get(body["next"])


def test_the_ledger_pages_by_cursor_without_counting(make_user, level):
    for number in range(6):
        stock_receive(
            lines=[StockLine(level.product_id, level.warehouse_id, 1, Decimal("1"))],
            kind=MovementKind.RECEIPT,
            reference=f"R-{number}",
        )
    client = api(make_user("Viewer"))

    rows, pages = walk(client, MOVEMENTS, page_size=3)

    assert len(pages) == 3 and all("count" not in page for page in pages)
    assert "cursor" in parse_qs(urlparse(pages[0]["next"]).query)
    assert len(rows) == 7 and len({row["id"] for row in rows}) == 7
    assert [row["reference"] for row in rows[:6]] == [f"R-{n}" for n in range(5, -1, -1)]  # newest first
    assert all(OFFSET.search(row["created_at"]) for row in rows)
    assert isinstance(rows[0]["unit_cost"], str) and isinstance(rows[0]["quantity"], int)


def test_new_movements_do_not_shift_the_pages_being_read(make_user, level):
    for number in range(4):
        stock_receive(
            lines=[StockLine(level.product_id, level.warehouse_id, 1, Decimal("1"))],
            kind=MovementKind.RECEIPT,
            reference=f"R-{number}",
        )
    client = api(make_user("Viewer"))
    first = client.get(MOVEMENTS, {"page_size": 2}).json()
    stock_receive(
        lines=[StockLine(level.product_id, level.warehouse_id, 1, Decimal("1"))],
        kind=MovementKind.RECEIPT,
        reference="NEW",
    )

    rest, _ = walk(client, first["next"])

    seen = [row["reference"] for row in first["results"] + rest]
    assert seen == ["R-3", "R-2", "R-1", "R-0", "OPENING"]


def test_the_ledger_page_size_is_capped(make_user, level):
    response = api(make_user("Viewer")).get(MOVEMENTS, {"page_size": 100000})

    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_a_garbled_cursor_is_a_404_not_a_500(make_user, level):
    response = api(make_user("Viewer")).get(MOVEMENTS, {"cursor": "not-a-cursor"})

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_ledger_filters_by_sku_and_kind(make_user, level):
    ProductFactory(sku="MATE")
    stock_receive(lines=[StockLine(level.product_id, level.warehouse_id, 1, Decimal("1"))], kind=MovementKind.RECEIPT)
    client = api(make_user("Viewer"))

    by_kind = client.get(MOVEMENTS, {"kind": "receipt"}).json()["results"]
    by_sku = client.get(MOVEMENTS, {"sku": "mate"}).json()["results"]

    assert [row["kind"] for row in by_kind] == ["receipt"]
    assert by_sku == []


def test_warehouse_staff_read_only_their_warehouses_movements(make_user, level, north):
    stock_receive(lines=[StockLine(level.product_id, north.pk, 3, Decimal("1"))], kind=MovementKind.OPENING)
    staff = make_user("Warehouse")
    north.staff.add(staff)
    client = api(staff)
    main_movement = StockMovement.objects.get(warehouse=level.warehouse)

    rows, _ = walk(client, MOVEMENTS)

    assert [row["warehouse_code"] for row in rows] == ["NORTH"]
    assert client.get(f"{MOVEMENTS}{main_movement.pk}/").status_code == 404


def test_sales_reads_the_ledger_but_a_user_without_a_role_does_not(make_user, level):
    assert api(make_user("Sales")).get(MOVEMENTS).status_code == 200
    assert api(make_user()).get(MOVEMENTS).status_code == 403
