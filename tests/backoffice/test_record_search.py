"""Ctrl+K record search (``backoffice.record_search``): each kind found, permissions, scope, bounded queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.record_search import PER_KIND, document_numbers, search_records
from inventory import services as stock_services
from inventory.models import AdjustmentReason, MovementKind
from inventory.services import StockLine, stock_receive
from orders import services
from tests.factories import CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def links(hits) -> set[str]:
    return {hit.link for hit in hits}


def change(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


@pytest.fixture
def world(warehouse, admin_user):
    """Two warehouses, each with a sales order, purchase order, shipment, receipt, adjustment and transfer."""
    other = WarehouseFactory(code="EAST", name="East warehouse")
    chai = ProductFactory(sku="NW-CHAI", name="Chai tea", barcode="4006381333931")
    chang = ProductFactory(sku="NW-CHANG", name="Chang beer")
    customer = CustomerFactory(code="ALFKI", name="Alfreds Futterkiste")
    supplier = SupplierFactory(code="EXLIQ", name="Exotic Liquids")
    docs = {}
    for place in (warehouse, other):
        stock_receive(
            lines=[StockLine(chai.pk, place.pk, 20, Decimal("5"))], kind=MovementKind.OPENING, reference="OPEN"
        )
        order = services.sales_order_create(customer=customer, warehouse=place, user=admin_user)
        services.sales_order_line_add(order=order, product=chai, quantity=2, user=admin_user)
        services.sales_order_confirm(order=order, user=admin_user)
        shipment = services.shipment_create(sales_order=order, user=admin_user, tracking_number=f"TRK{place.code}")
        po = services.purchase_order_create(supplier=supplier, warehouse=place, user=admin_user)
        line = services.purchase_order_line_add(
            order=po, product=chang, quantity=5, unit_cost=Decimal("3"), user=admin_user
        )
        services.purchase_order_send(order=po, user=admin_user)
        receipt = services.receipt_create(purchase_order=po, lines=[(line, 2)], user=admin_user)
        adjustment = stock_services.stock_adjustment_create(
            warehouse=place, reason=AdjustmentReason.CYCLE_COUNT, note="", user=admin_user
        )
        target = other if place == warehouse else warehouse
        transfer = stock_services.stock_transfer_create(
            from_warehouse=place, to_warehouse=target, note="", user=admin_user
        )
        docs[place.code] = {
            "order": order,
            "shipment": shipment,
            "po": po,
            "receipt": receipt,
            "adjustment": adjustment,
            "transfer": transfer,
        }
    return {"chai": chai, "chang": chang, "customer": customer, "supplier": supplier, "docs": docs, "other": other}


def test_a_product_is_found_by_name_sku_prefix_and_barcode(world, admin_user):
    chai = world["chai"]
    for term in ("chai", "Chai tea", "nw-chai", "NW-CH", "4006381333931"):
        assert change(chai) in links(search_records(admin_user, term)), term
    hit = next(h for h in search_records(admin_user, "4006381333931") if h.link == change(chai))
    assert hit.title == "NW-CHAI · Chai tea"
    assert "barcode 4006381333931" in hit.description


def test_customers_and_suppliers_by_name_or_code(world, admin_user):
    assert change(world["customer"]) in links(search_records(admin_user, "alfki"))
    assert change(world["customer"]) in links(search_records(admin_user, "futterkiste"))
    assert change(world["supplier"]) in links(search_records(admin_user, "EXLIQ"))
    assert change(world["supplier"]) in links(search_records(admin_user, "exotic liq"))


@pytest.mark.parametrize("key", ["order", "shipment", "po", "receipt", "adjustment", "transfer"])
def test_every_document_is_found_by_its_number_typed_in_any_form(world, admin_user, key):
    document = world["docs"]["MAIN"][key]
    number = document.number  # e.g. SO-000001
    prefix, digits = number.split("-")
    for term in (number, number.lower(), f"{prefix}{int(digits)}", f"{prefix.lower()}-{int(digits)}"):
        hits = search_records(admin_user, term)
        assert change(document) in links(hits), term
        assert next(h for h in hits if h.link == change(document)).title == number


def test_a_bare_number_finds_that_number_of_every_kind_and_a_tracking_number_its_shipment(world, admin_user):
    found = links(search_records(admin_user, "01"))
    assert change(world["docs"]["MAIN"]["order"]) in found
    assert change(world["docs"]["MAIN"]["po"]) in found
    shipment = world["docs"]["EAST"]["shipment"]
    assert change(shipment) in links(search_records(admin_user, "trkeast"))


def test_document_numbers():
    assert document_numbers("so-42", "SO") == ["SO-000042", "SO-42"]
    assert document_numbers("42", "PO") == ["PO-000042", "PO-42"]
    assert document_numbers("po-42", "SO") == []
    assert document_numbers("chai", "SO") == []


def test_a_warehouse_user_finds_only_their_warehouses_documents(world, make_user, warehouse):
    user = make_user("Warehouse")
    warehouse.staff.add(user)
    for key in ("order", "shipment", "po", "receipt", "adjustment"):
        mine, theirs = world["docs"]["MAIN"][key], world["docs"]["EAST"][key]
        assert change(mine) in links(search_records(user, mine.number)), key
        found = links(search_records(user, theirs.number))
        assert change(theirs) not in found, key
    # Transfers: into or out of their warehouse, both are theirs (backoffice.scoping).
    assert change(world["docs"]["EAST"]["transfer"]) in links(
        search_records(user, world["docs"]["EAST"]["transfer"].number)
    )
    # Products are not warehouse-bound: found everywhere.
    assert change(world["chai"]) in links(search_records(user, "chai"))


def test_a_sales_user_does_not_find_what_they_may_not_view(world, make_user):
    user = make_user("Sales")
    po = world["docs"]["MAIN"]["po"]
    assert change(po) not in links(search_records(user, po.number))
    receipt = world["docs"]["MAIN"]["receipt"]
    assert not search_records(user, receipt.number)
    adjustment = world["docs"]["MAIN"]["adjustment"]
    assert not search_records(user, adjustment.number)
    # ...but finds their own kinds.
    assert change(world["docs"]["MAIN"]["order"]) in links(search_records(user, world["docs"]["MAIN"]["order"].number))
    assert change(world["customer"]) in links(search_records(user, "alfreds"))


def test_a_user_without_role_or_inactive_finds_nothing(world, make_user, admin_user):
    assert search_records(make_user(None, username="norole"), "chai") == []
    admin_user.is_active = False
    assert search_records(admin_user, "chai") == []


def test_short_terms_and_many_matches(world, admin_user):
    assert search_records(admin_user, "c") == []
    for n in range(PER_KIND + 3):
        ProductFactory(sku=f"TEA-{n:03d}", name=f"Green tea {n}")
    hits = search_records(admin_user, "green tea")
    products = [h for h in hits if "/inventory/product/" in h.link and "/change/" in h.link]
    assert len(products) == PER_KIND
    more = [h for h in hits if h.link.startswith(reverse("admin:inventory_product_changelist") + "?")]
    assert len(more) == 1 and "q=green+tea" in more[0].link


def test_queries_are_bounded_whatever_the_data(world, admin_user, make_user, warehouse):
    user = make_user("Warehouse")
    warehouse.staff.add(user)

    def count(who, term):
        who = type(who).objects.get(pk=who.pk)  # fresh permission caches
        with CaptureQueriesContext(connection) as captured:
            search_records(who, term)
        return len(captured)

    small = {term: count(user, term) for term in ("chai", "so-1", "alfki")}
    for n in range(30):
        ProductFactory(sku=f"CHAI-{n:03d}", name=f"Chai blend {n}")
        CustomerFactory(name=f"Alfki branch {n}")
    large = {term: count(user, term) for term in ("chai", "so-1", "alfki")}
    assert small == large
    # permissions + groups + warehouses + one query per kind (products: exact, then the rest)
    assert max(large.values()) <= 14, large


def test_the_command_palette_answers_with_records(world, admin_client):
    response = admin_client.get(reverse("admin:search"), {"s": world["docs"]["MAIN"]["order"].number})
    assert response.status_code == 200
    page = response.content.decode()
    assert change(world["docs"]["MAIN"]["order"]) in page
    assert "Alfreds Futterkiste" in page
