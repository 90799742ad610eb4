"""The product page as the hub, the customer and supplier pages' orders, the stock ledger, readable lists.

* the product page links to its ledger ("Ledger (n)"), the open orders holding it and the open POs
  bringing it, and shows its stock per warehouse with a total; each link opens exactly those rows,
  each warehouse row that product's ledger in that warehouse; a Warehouse user sees their own only;
* customer page: latest orders and open balance; supplier page: POs and price list;
* the ledger is searched by product name, filtered by product and warehouse, and links its references;
* overdue dates in red, backordered quantities highlighted, list cells labelled for the phone cards;
* the pages' queries do not grow with the data.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory.models import MovementKind, StockMovement
from inventory.services import StockLine, stock_receive
from orders import services
from orders.record_pages import ledger_url
from tests.factories import CustomerFactory, ProductFactory, SupplierFactory, SupplierProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def receive(product, warehouse, quantity, reference="OPEN"):
    stock_receive(
        lines=[StockLine(product.pk, warehouse.pk, quantity, Decimal("5"))],
        kind=MovementKind.OPENING,
        reference=reference,
    )


@pytest.fixture
def hub(warehouse, admin_user):
    east = WarehouseFactory(code="EAST", name="East warehouse")
    chai = ProductFactory(sku="NW-CHAI", name="Chai tea")
    receive(chai, warehouse, 10)
    receive(chai, east, 4)
    customer = CustomerFactory(code="ALFKI", name="Alfreds Futterkiste", credit_limit=Decimal("5000"))
    order = services.sales_order_create(
        customer=customer,
        warehouse=warehouse,
        user=admin_user,
        order_date=dt.date(2019, 12, 1),
        required_date=dt.date(2020, 1, 1),
    )
    services.sales_order_line_add(order=order, product=chai, quantity=13, unit_price=Decimal("10"), user=admin_user)
    services.sales_order_confirm(order=order, user=admin_user)  # 10 reserved, 3 backordered
    other_order = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)  # draft
    supplier = SupplierFactory(code="EXLIQ", name="Exotic Liquids")
    SupplierProductFactory(supplier=supplier, product=chai)
    po = services.purchase_order_create(
        supplier=supplier,
        warehouse=east,
        user=admin_user,
        order_date=dt.date(2020, 1, 1),
        expected_date=dt.date(2020, 2, 1),
    )
    services.purchase_order_line_add(order=po, product=chai, quantity=20, unit_cost=Decimal("4"), user=admin_user)
    services.purchase_order_send(order=po, user=admin_user)
    return {
        "east": east,
        "chai": chai,
        "customer": customer,
        "order": order,
        "draft": other_order,
        "supplier": supplier,
        "po": po,
    }


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def hub_links(html: str) -> dict[str, tuple[str, str]]:
    """data-hub name → (href, text) of the hub panel's links."""
    found = {}
    for href, name, text in re.findall(
        r'<a href="([^"]+)" class="bo-hub-link" data-hub="([a-z-]+)">(.*?)</a>', html, re.S
    ):
        found[name] = (href.replace("&amp;", "&"), re.sub(r"<[^>]+>|\s+", " ", text).strip())
    return found


def listed_numbers(html: str) -> set[str]:
    return set(re.findall(r"\b(?:SO|PO|SH|RC|ADJ|TR)-\d{6}\b", html))


def test_the_product_page_is_the_hub(admin_client, hub, warehouse):
    chai = hub["chai"]
    html = page(admin_client, reverse("admin:inventory_product_change", args=[chai.pk]))
    links = hub_links(html)
    assert links["ledger"][1].endswith("Ledger (2)")
    assert links["reserved"][1].endswith("Reserved for 1 order")
    assert links["incoming"][1].endswith("Incoming on 1 PO (20)")

    # Each link opens exactly those rows.
    reserved = page(admin_client, links["reserved"][0])
    assert hub["order"].number in reserved and hub["draft"].number not in reserved
    incoming = page(admin_client, links["incoming"][0])
    assert listed_numbers(incoming) == {hub["po"].number}
    ledger = page(admin_client, links["ledger"][0])
    assert ledger.count("field-quantity_display") == 2

    # Stock per warehouse, a total row; each warehouse opens the product's ledger there.
    table = html.split('data-hub="stock"')[1].split("</table>")[0]
    assert "MAIN · Main warehouse" in table and "EAST · East warehouse" in table
    total = table.split("<tfoot>")[1]
    assert re.findall(r">\s*(\d+)\s*<", total)[:3] == ["14", "10", "4"]  # on hand, allocated, available
    main_ledger = ledger_url(product_id=chai.pk, warehouse_id=warehouse.pk).replace("&", "&amp;")
    assert main_ledger in table
    rows = page(admin_client, main_ledger.replace("&amp;", "&"))
    assert rows.count("field-quantity_display") == 1 and "+10" in rows


def test_a_warehouse_user_sees_their_own_warehouse_on_the_hub(client, make_user, hub, warehouse):
    user = make_user("Warehouse")
    warehouse.staff.add(user)
    client.force_login(user)
    html = page(client, reverse("admin:inventory_product_change", args=[hub["chai"].pk]))
    table = html.split('data-hub="stock"')[1].split("</table>")[0]
    assert "MAIN · Main warehouse" in table and "EAST" not in table
    links = hub_links(html)
    assert links["ledger"][1].endswith("Ledger (1)")
    assert links["incoming"][1].endswith("Incoming on 0 POs")  # the PO goes to EAST


def test_a_sales_user_gets_no_purchase_link(client, make_user, hub):
    client.force_login(make_user("Sales"))
    links = hub_links(page(client, reverse("admin:inventory_product_change", args=[hub["chai"].pk])))
    assert "incoming" not in links and "reserved" in links


def test_customer_and_supplier_pages_list_their_orders(admin_client, hub):
    html = page(admin_client, reverse("admin:orders_customer_change", args=[hub["customer"].pk]))
    panel = html.split("bo-hub-panel")[1].split("</section>")[0]
    assert {hub["order"].number, hub["draft"].number} <= listed_numbers(panel)
    balance = re.sub(r"<[^>]+>|\s+", " ", panel.split('data-hub="balance"')[1].split("</li>")[0])
    hub["order"].refresh_from_db()
    assert f"{hub['order'].total:,.2f}" in balance and "on 1 open order" in balance and "5,000.00" in balance
    links = hub_links(html)
    assert listed_numbers(page(admin_client, links["orders"][0])) >= {hub["order"].number, hub["draft"].number}

    html = page(admin_client, reverse("admin:inventory_supplier_change", args=[hub["supplier"].pk]))
    links = hub_links(html)
    assert hub["po"].number in html and links["price-list"][1].endswith("Price list (1 product)")
    assert "NW-CHAI" in page(admin_client, links["price-list"][0])


def test_the_ledger_is_searched_by_product_name_and_links_references(admin_client, hub, admin_user):
    lines = list(hub["po"].lines.all())
    receipt = services.receipt_create(purchase_order=hub["po"], lines=[(lines[0], 5)], user=admin_user)
    url = reverse("admin:inventory_stockmovement_changelist")
    html = page(admin_client, url + "?q=chai+tea")
    assert html.count("field-quantity_display") == 3
    assert f'href="{reverse("admin:orders_receipt_change", args=[receipt.pk])}"' in html
    assert "<h1" in html and "Stock ledger" in html
    assert page(admin_client, url + "?q=nothing-like-it").count("field-quantity_display") == 0
    assert StockMovement.objects.filter(reference=receipt.number).exists()


def test_overdue_dates_and_backorders_stand_out_and_cells_carry_labels(admin_client, hub, admin_user):
    services.shipment_create(sales_order=hub["order"], user=admin_user)
    html = page(admin_client, reverse("admin:orders_salesorder_changelist"))
    assert re.search(r'class="bo-overdue"[^>]*>[^<]*2020', html)
    assert '<span class="bo-backordered">3</span>' in html
    assert 'data-label="Customer" data-card="key"' in html and 'data-card="title"' in html
    html = page(admin_client, reverse("admin:orders_purchaseorder_changelist"))
    assert re.search(r'class="bo-overdue"[^>]*>[^<]*2020', html)
    for name in ("shipment", "purchaseorder"):
        assert "bo-cards" in page(admin_client, reverse(f"admin:orders_{name}_changelist"))
    assert "bo-cards" in page(admin_client, reverse("admin:inventory_stocklevel_changelist"))


def test_hub_pages_run_the_same_queries_with_more_data(admin_client, hub, warehouse, admin_user):
    urls = [
        reverse("admin:inventory_product_change", args=[hub["chai"].pk]),
        reverse("admin:orders_customer_change", args=[hub["customer"].pk]),
        reverse("admin:inventory_supplier_change", args=[hub["supplier"].pk]),
    ]

    def counts():
        result = {}
        for url in urls:
            admin_client.get(url)
            with CaptureQueriesContext(connection) as captured:
                admin_client.get(url)
            result[url] = len(captured)
        return result

    before = counts()
    for n in range(4):
        receive(hub["chai"], WarehouseFactory(code=f"W{n}"), 3, reference=f"R{n}")
        order = services.sales_order_create(customer=hub["customer"], warehouse=warehouse, user=admin_user)
        services.sales_order_line_add(order=order, product=hub["chai"], quantity=1, user=admin_user)
        po = services.purchase_order_create(supplier=hub["supplier"], warehouse=warehouse, user=admin_user)
        services.purchase_order_line_add(
            order=po, product=hub["chai"], quantity=2, unit_cost=Decimal(1), user=admin_user
        )
    assert counts() == before
