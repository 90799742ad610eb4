"""Draft purchase orders from the reorder lines: the service, the page action, twice at once (PostgreSQL)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse

from backoffice.errors import ValidationFailed
from orders.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from orders.services import purchase_order_lines_add
from reports.reorder import DRAFT_NOTE, create_reorder_drafts
from tests.factories import SupplierFactory
from tests.reports.reorder_helpers import prefer, product, purchase_order, stock_level, warehouse

CREATE_URL = "reports:reorder-create-drafts"
DONE_URL = "reports:reorder-drafts-created"


def po_lines():
    """{(supplier, warehouse, sku): (quantity, unit cost)} of every draft PO line."""
    return {
        (line.order.supplier.code, line.order.warehouse.code, line.product.sku): (line.quantity, line.unit_cost)
        for line in PurchaseOrderLine.objects.filter(order__status=PurchaseOrderStatus.DRAFT).select_related(
            "order__supplier", "order__warehouse", "product"
        )
    }


@pytest.fixture
def catalogue(db):
    """MAIN and WEST; A and B from SUP-A (B in cases of 12), C from SUP-C, D without a preferred supplier."""
    main, west = warehouse("MAIN"), warehouse("WEST")
    sup_a, sup_c = SupplierFactory(code="SUP-A"), SupplierFactory(code="SUP-C")
    a, b, c, d = product("A"), product("B"), product("C"), product("D")
    prefer(a, sup_a, unit_cost="2.50")
    prefer(b, sup_a, unit_cost="1.2500", moq=12)
    prefer(c, sup_c, unit_cost="9.99")
    stock_level(a, main, on_hand=2, reorder_point=10, reorder_quantity=20)  # suggest 20
    stock_level(b, main, on_hand=0, reorder_point=5, reorder_quantity=0)  # 6 → a case of 12
    stock_level(c, main, on_hand=1, reorder_point=3, reorder_quantity=5)  # suggest 5
    stock_level(d, main, on_hand=0, reorder_point=4, reorder_quantity=4)  # no supplier
    stock_level(a, west, on_hand=0, reorder_point=3, reorder_quantity=0)  # suggest 4
    stock_level(c, west, on_hand=50, reorder_point=3, reorder_quantity=5)  # plenty
    return {"MAIN": main, "WEST": west, "SUP-A": sup_a, "SUP-C": sup_c, "A": a, "B": b, "C": c, "D": d}


EXPECTED = {
    ("SUP-A", "MAIN", "A"): (20, Decimal("2.5000")),
    ("SUP-A", "MAIN", "B"): (12, Decimal("1.2500")),
    ("SUP-C", "MAIN", "C"): (5, Decimal("9.9900")),
    ("SUP-A", "WEST", "A"): (4, Decimal("2.5000")),
}


@pytest.mark.django_db
def test_one_draft_per_supplier_and_warehouse_at_the_suggested_quantity_and_supplier_cost(catalogue, make_user):
    buyer = make_user("Purchasing")

    result = create_reorder_drafts(user=buyer)

    assert po_lines() == EXPECTED
    orders = PurchaseOrder.objects.order_by("warehouse__code", "supplier__code")
    assert [(o.supplier.code, o.warehouse.code, o.status) for o in orders] == [
        ("SUP-A", "MAIN", "draft"),
        ("SUP-C", "MAIN", "draft"),
        ("SUP-A", "WEST", "draft"),
    ]
    assert {o.pk for o in result.created} == {o.pk for o in orders}
    assert orders[0].total == Decimal("65.00")  # 20 × 2.50 + 12 × 1.25
    assert all(o.created_by == buyer and o.notes == DRAFT_NOTE for o in orders)
    assert [(line.sku, line.warehouse) for line in result.without_supplier] == [("D", "MAIN")]
    assert "No preferred supplier for 1 product(s): D @ MAIN." in result.summary()


@pytest.mark.django_db
def test_a_second_run_duplicates_nothing(catalogue):
    create_reorder_drafts(user=None)
    before = (PurchaseOrder.objects.count(), po_lines())

    again = create_reorder_drafts(user=None)

    assert (PurchaseOrder.objects.count(), po_lines()) == before
    assert again.orders == [] and again.lines == []
    assert [line.sku for line in again.without_supplier] == ["D"]
    assert again.summary().startswith("No draft purchase order was needed.")


@pytest.mark.django_db
def test_a_product_already_on_an_open_po_line_gets_no_second_line(catalogue):
    main = catalogue["MAIN"]
    # Sent, and a draft of another supplier: both too little to cover the need, yet no second line.
    purchase_order(catalogue["SUP-C"], main, [(catalogue["A"], 1)], status=PurchaseOrderStatus.SENT)
    other = SupplierFactory(code="OTHER")
    purchase_order(other, main, [(catalogue["C"], 1)])

    result = create_reorder_drafts(user=None)

    assert {(line.sku, line.warehouse, line.incoming) for line in result.already_on_order} == {
        ("A", "MAIN", 1),
        ("C", "MAIN", 1),
    }
    assert po_lines() == {
        ("OTHER", "MAIN", "C"): (1, Decimal("6.0000")),  # the earlier draft, untouched
        ("SUP-A", "MAIN", "B"): (12, Decimal("1.2500")),
        ("SUP-A", "WEST", "A"): (4, Decimal("2.5000")),
    }


@pytest.mark.django_db
def test_a_cancelled_order_does_not_block_a_new_line(catalogue):
    purchase_order(catalogue["SUP-A"], catalogue["MAIN"], [(catalogue["A"], 20)], status=PurchaseOrderStatus.CANCELLED)
    create_reorder_drafts(user=None)
    assert po_lines() == EXPECTED


@pytest.mark.django_db
def test_later_needs_go_on_the_earlier_reorder_draft_not_on_other_drafts(catalogue):
    main = catalogue["MAIN"]
    manual = purchase_order(catalogue["SUP-A"], main, [(product("OTHER"), 1)])  # someone's own draft
    create_reorder_drafts(user=None, keys=[catalogue["A"].stock_levels.get(warehouse=main).pk])
    first = PurchaseOrder.objects.get(notes=DRAFT_NOTE)

    result = create_reorder_drafts(user=None, warehouse=main)

    assert [o.pk for o in result.extended] == [first.pk]
    assert {line.product.sku for line in first.lines.all()} == {"A", "B"}
    assert {line.product.sku for line in manual.lines.all()} == {"OTHER"}
    assert PurchaseOrder.objects.filter(supplier=catalogue["SUP-A"], warehouse=main).count() == 2


@pytest.mark.django_db
def test_selected_lines_only_and_lines_no_longer_needed(catalogue):
    level_b = catalogue["B"].stock_levels.get()
    level_c_west = catalogue["C"].stock_levels.get(warehouse=catalogue["WEST"])  # not below its point

    result = create_reorder_drafts(user=None, keys=[level_b.pk, str(level_c_west.pk)])

    assert po_lines() == {("SUP-A", "MAIN", "B"): (12, Decimal("1.2500"))}
    assert result.not_needed == [level_c_west.pk]
    assert result.without_supplier == []


@pytest.mark.django_db
def test_an_inactive_preferred_supplier_is_listed_not_ordered_from(catalogue):
    catalogue["SUP-C"].is_active = False
    catalogue["SUP-C"].save()
    result = create_reorder_drafts(user=None, warehouse=catalogue["MAIN"])
    assert {line.sku for line in result.without_supplier} == {"C", "D"}
    assert ("SUP-C", "MAIN", "C") not in po_lines()


@pytest.mark.django_db
def test_permission_and_scoping_in_the_service(catalogue, make_user):
    with pytest.raises(PermissionDenied):
        create_reorder_drafts(user=make_user("Viewer"))
    assert PurchaseOrder.objects.count() == 0

    clerk = make_user("Warehouse", username="westclerk")
    catalogue["WEST"].staff.add(clerk)
    clerk.user_permissions.add(Permission.objects.get(codename="add_purchaseorder"))
    create_reorder_drafts(user=clerk)
    assert po_lines() == {("SUP-A", "WEST", "A"): (4, Decimal("2.5000"))}


@pytest.mark.django_db
def test_purchase_order_lines_add_is_all_or_nothing(catalogue):
    order = purchase_order(catalogue["SUP-A"], catalogue["MAIN"], [])
    gone = product("GONE", is_active=False)
    with pytest.raises(ValidationFailed, match="GONE"):
        purchase_order_lines_add(order=order, lines=[(catalogue["A"], 5, None), (gone, 1, None)], user=None)
    with pytest.raises(ValidationFailed):
        purchase_order_lines_add(order=order, lines=[(catalogue["A"], 5, None), (catalogue["B"], 0, None)], user=None)
    assert order.lines.count() == 0

    purchase_order_lines_add(
        order=order, lines=[(catalogue["A"], 5, None), (catalogue["B"], 2, Decimal("7"))], user=None
    )
    order.refresh_from_db()
    assert sorted((line.product.sku, line.quantity, line.unit_cost) for line in order.lines.all()) == [
        ("A", 5, Decimal("2.5000")),  # the supplier's price by default
        ("B", 2, Decimal("7.0000")),
    ]
    assert order.total == Decimal("26.50")


# ---------------------------------------------------------------- the page action


@pytest.fixture
def buyer_client(client, make_user):
    client.force_login(make_user("Purchasing"))
    return client


@pytest.mark.django_db
def test_page_action_for_selected_lines(catalogue, buyer_client):
    levels = [catalogue[sku].stock_levels.get(warehouse=catalogue["MAIN"]) for sku in ("A", "C")]

    response = buyer_client.post(reverse(CREATE_URL), {"selected": [level.pk for level in levels]})

    assert response.status_code == 302
    assert response["Location"] == reverse(DONE_URL)
    assert po_lines() == {key: value for key, value in EXPECTED.items() if key[1:] in {("MAIN", "A"), ("MAIN", "C")}}
    page = buyer_client.get(reverse(DONE_URL))
    assert page.status_code == 200
    text = page.content.decode()
    for order in PurchaseOrder.objects.all():
        assert order.number in text
        assert reverse("admin:orders_purchaseorder_change", args=[order.pk]) in text


@pytest.mark.django_db
def test_page_action_for_all_lines_of_the_filtered_report(catalogue, buyer_client):
    response = buyer_client.post(reverse(CREATE_URL), {"warehouse": "MAIN"}, follow=True)

    assert response.status_code == 200
    assert po_lines() == {key: value for key, value in EXPECTED.items() if key[1] == "MAIN"}
    text = response.content.decode()
    assert "D · Product D @ MAIN" in text  # listed: no preferred supplier
    assert "2 draft purchase order(s)" in text  # the message

    again = buyer_client.post(reverse(CREATE_URL), {"warehouse": "MAIN"}, follow=True)
    assert "No draft purchase order was needed." in again.content.decode()
    assert PurchaseOrder.objects.count() == 2


@pytest.mark.django_db
def test_page_action_refused_to_a_viewer(catalogue, client, make_user):
    client.force_login(make_user("Viewer"))
    response = client.post(reverse(CREATE_URL), {})
    assert response.status_code == 403
    assert PurchaseOrder.objects.count() == 0
    assert client.get(reverse(DONE_URL)).status_code == 403


@pytest.mark.django_db
def test_page_action_needs_a_signed_in_user_and_a_post(catalogue, buyer_client):
    anonymous = Client()
    response = anonymous.post(reverse(CREATE_URL), {})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert buyer_client.get(reverse(CREATE_URL)).status_code == 405
    assert PurchaseOrder.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"warehouse": "NOPE"},
        {"supplier": "NOPE"},
        {"selected": ["1", "x"]},
        {"selected": ["²"]},
        {"selected": ["-1"]},
    ],
)
def test_page_action_bad_input_writes_nothing(catalogue, buyer_client, data):
    response = buyer_client.post(reverse(CREATE_URL), data, follow=True)
    assert response.status_code == 200
    assert "No purchase order was drafted" in response.content.decode()
    assert PurchaseOrder.objects.count() == 0


@pytest.mark.django_db
def test_page_action_refuses_a_flood_of_keys(catalogue, buyer_client):
    response = buyer_client.post(reverse(CREATE_URL), {"selected": [str(n) for n in range(1, 20_002)]})
    assert response.status_code == 400  # more fields than a form may post
    assert PurchaseOrder.objects.count() == 0


# ---------------------------------------------------------------- pressed twice at once


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_pressed_twice_at_once_drafts_once(catalogue, make_user):
    buyer = make_user("Purchasing")
    barrier = threading.Barrier(2)
    errors = []

    def press():
        try:
            barrier.wait()
            create_reorder_drafts(user=buyer)
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert po_lines() == EXPECTED
    assert PurchaseOrder.objects.count() == 3
