"""Fewer steps for shipments (issue 10 §2): Pack & ship in one step, bulk Mark packed / shipped / delivered
from the list (each through its service, refusals reported per shipment, warehouse scope kept), and no
confirmation page where nothing is destroyed and no money moves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import StockLevel
from orders import services
from orders.models import SalesOrderStatus, Shipment, ShipmentStatus
from tests.factories import CarrierFactory, ProductFactory, WarehouseFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


@pytest.fixture
def carrier(db):
    return CarrierFactory(name="DHL", tracking_url_template="https://dhl.example/track?n={tracking}")


@pytest.fixture
def ship_order(customer, admin_user, stock, warehouse):
    """ship_order(quantity, warehouse=MAIN, carrier=None) -> a pending shipment of a confirmed order."""

    def make(quantity=2, where=None, carrier=None):
        where = where or warehouse
        product = ProductFactory(sale_price=Decimal("5.0000"))
        from inventory.models import MovementKind
        from inventory.services import StockLine, stock_receive

        stock_receive(lines=[StockLine(product.pk, where.pk, quantity)], kind=MovementKind.OPENING, reference="T")
        order = services.sales_order_create(customer=customer, warehouse=where, user=admin_user)
        services.sales_order_line_add(order=order, product=product, quantity=quantity, user=admin_user)
        services.sales_order_confirm(order=order, user=admin_user)
        return services.shipment_create(sales_order=order, user=admin_user, carrier=carrier)

    return make


def changelist_action(client, action, shipments):
    return client.post(
        reverse("admin:orders_shipment_changelist"),
        {"action": action, "_selected_action": [s.pk for s in shipments], "index": "0"},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The service -------------------------------------------------------------------------------------------


def test_pack_and_ship_packs_then_ships_and_issues_the_stock(ship_order, carrier, admin_user, warehouse):
    shipment = ship_order(3)
    product = shipment.lines.get().sales_order_line.product
    shipped = services.shipment_pack_and_ship(
        shipment=shipment, user=admin_user, carrier=carrier, tracking_number=" 1Z9 "
    )
    assert (shipped.status, shipped.tracking_number, shipped.carrier_id) == (ShipmentStatus.SHIPPED, "1Z9", carrier.pk)
    assert [h.status for h in shipment.history.order_by("history_date")][-2:] == ["packed", "shipped"]
    assert StockLevel.objects.get(product=product, warehouse=warehouse).on_hand == 0
    assert shipped.sales_order.status == SalesOrderStatus.SHIPPED


def test_pack_and_ship_without_any_carrier_is_refused_and_nothing_changes(ship_order, admin_user):
    from backoffice.errors import ValidationFailed

    shipment = ship_order()
    with pytest.raises(ValidationFailed, match="has no carrier"):
        services.shipment_pack_and_ship(shipment=shipment, user=admin_user)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PENDING


def test_a_refused_shipping_does_not_leave_it_packed(ship_order, admin_user):
    from backoffice.errors import ValidationFailed

    inactive = CarrierFactory(name="Gone", is_active=False)
    shipment = ship_order()
    with pytest.raises(ValidationFailed, match="inactive"):
        services.shipment_pack_and_ship(shipment=shipment, user=admin_user, carrier=inactive)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PENDING
    assert not shipment.history.filter(status=ShipmentStatus.PACKED).exists()


def test_a_packed_shipment_ships_with_its_own_carrier(ship_order, carrier, admin_user):
    shipment = ship_order(carrier=carrier)
    services.shipment_pack(shipment=shipment, user=admin_user)
    assert services.shipment_pack_and_ship(shipment=shipment, user=admin_user).status == ShipmentStatus.SHIPPED


# The Pack & ship page ------------------------------------------------------------------------------------


def test_pack_and_ship_page_is_prefilled_from_the_shipment(admin_client, ship_order, carrier):
    shipment = ship_order(carrier=carrier)
    Shipment.objects.filter(pk=shipment.pk).update(tracking_number="PX-1")
    form = admin_client.get(reverse("admin:orders_shipment_pack_and_ship", args=[shipment.pk])).context["form"]
    assert form.initial == {"carrier": carrier.pk, "tracking_number": "PX-1"}
    response = admin_client.post(
        reverse("admin:orders_shipment_pack_and_ship", args=[shipment.pk]),
        {"carrier": carrier.pk, "tracking_number": "PX-1"},
        follow=True,
    )
    assert f"{shipment.number} packed and shipped; the stock left MAIN." in messages_of(response)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED


def test_buttons_offered_per_status(admin_client, ship_order, carrier, admin_user):
    shipment = ship_order(carrier=carrier)
    page = admin_client.get(reverse("admin:orders_shipment_change", args=[shipment.pk])).content.decode()
    assert "Pack &amp; ship" in page and "Mark packed" in page and "Mark shipped" not in page
    # Packing is one click (a POST): the button says so; its page stays as the fallback without JavaScript.
    assert 'data-one-click="true"' in page
    assert "orders/one_click_steps.js" in page
    services.shipment_pack(shipment=shipment, user=admin_user)
    page = admin_client.get(reverse("admin:orders_shipment_change", args=[shipment.pk])).content.decode()
    assert "Mark shipped" in page and "Pack &amp; ship" not in page


def test_marking_an_order_delivered_is_one_click(admin_client, ship_order, carrier, admin_user):
    shipment = services.shipment_ship(shipment=ship_order(carrier=carrier), user=admin_user)
    page = admin_client.get(reverse("admin:orders_salesorder_change", args=[shipment.sales_order_id])).content
    page = page.decode()
    marker = page[page.index("mark-delivered") - 400 : page.index("mark-delivered") + 400]
    assert 'data-one-click="true"' in marker
    # Returning a shipment puts stock back: it keeps its confirmation page.
    page = admin_client.get(reverse("admin:orders_shipment_change", args=[shipment.pk])).content.decode()
    back = page[page.index("/return/") - 400 : page.index("/return/") + 200]
    assert "data-one-click" not in back


# Bulk actions ------------------------------------------------------------------------------------------


def test_bulk_ship_reports_each_refusal_and_ships_the_rest(admin_client, ship_order, carrier):
    ready = ship_order(carrier=carrier)
    no_carrier = ship_order()
    response = changelist_action(admin_client, "ship_selected", [ready, no_carrier])
    shown = messages_of(response)
    assert f"Shipped: {ready.number}." in shown
    assert f"{no_carrier.number}: {no_carrier.number} has no carrier: choose one to ship it." in shown
    assert Shipment.objects.get(pk=ready.pk).status == ShipmentStatus.SHIPPED
    assert Shipment.objects.get(pk=no_carrier.pk).status == ShipmentStatus.PENDING


def test_bulk_pack_and_deliver(admin_client, ship_order, carrier, admin_user):
    pending = ship_order(carrier=carrier)
    shipped = services.shipment_ship(shipment=ship_order(carrier=carrier), user=admin_user)
    response = changelist_action(admin_client, "pack_selected", [pending, shipped])
    assert f"Packed: {pending.number}." in messages_of(response)
    assert f"{shipped.number}: {shipped.number} is shipped; it cannot be packed." in messages_of(response)
    response = changelist_action(admin_client, "deliver_selected", [pending, shipped])
    assert f"Delivered: {shipped.number}." in messages_of(response)
    assert Shipment.objects.get(pk=shipped.pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=pending.pk).status == ShipmentStatus.PACKED


def test_bulk_actions_keep_the_warehouse_scope(client, make_user, ship_order, carrier, warehouse):
    clerk = make_user("Warehouse", username="clerk")
    warehouse.staff.add(clerk)
    own = ship_order(carrier=carrier)
    elsewhere = ship_order(carrier=carrier, where=WarehouseFactory(code="EAST"))
    client.force_login(clerk)
    response = changelist_action(client, "ship_selected", [own, elsewhere])
    assert f"Shipped: {own.number}." in messages_of(response)
    assert Shipment.objects.get(pk=elsewhere.pk).status == ShipmentStatus.PENDING


@pytest.mark.parametrize("role", ["Viewer", "Purchasing"])
def test_bulk_steps_are_refused_without_the_ship_right(client, make_user, ship_order, carrier, role):
    shipment = ship_order(carrier=carrier)
    client.force_login(make_user(role, username=f"u{role}"))
    changelist_action(client, "ship_selected", [shipment])
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.PENDING
