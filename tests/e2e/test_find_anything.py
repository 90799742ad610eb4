"""Find anything (issue 10 §1, §4) in a real browser: Ctrl+K opens a product, a customer and an order by
number; the product page as the hub; order lists as cards at phone width."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders import services
from tests.factories import CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory


@pytest.fixture
def northwind(superuser, warehouse):
    east = WarehouseFactory(code="EAST", name="East warehouse")
    chai = ProductFactory(sku="NW-CHAI", name="Chai", barcode="4006381333931", sale_price=Decimal("18.00"))
    for place, quantity in ((warehouse, 10), (east, 4)):
        stock_receive(
            lines=[StockLine(chai.pk, place.pk, quantity, Decimal("9"))], kind=MovementKind.OPENING, reference="OPEN"
        )
    customer = CustomerFactory(code="ALFKI", name="Alfreds Futterkiste")
    orders = []
    for n in range(3):
        order = services.sales_order_create(
            customer=customer,
            warehouse=warehouse,
            user=superuser,
            order_date=dt.date(2026, 1, 1),
            required_date=dt.date(2026, 1, 10 + n),
        )
        services.sales_order_line_add(order=order, product=chai, quantity=4 + n, user=superuser)
        services.sales_order_confirm(order=order, user=superuser)
        orders.append(order)
    supplier = SupplierFactory(code="EXLIQ", name="Exotic Liquids")
    po = services.purchase_order_create(supplier=supplier, warehouse=east, user=superuser)
    services.purchase_order_line_add(order=po, product=chai, quantity=24, unit_cost=Decimal("9"), user=superuser)
    services.purchase_order_send(order=po, user=superuser)
    return {"chai": chai, "customer": customer, "orders": orders, "po": po}


def command_search(page, term: str):
    """Open the palette with Ctrl+K, type, wait for the records."""
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("Control+k")
    box = page.locator("#search-input-command")
    expect(box).to_be_visible()
    box.fill("")
    box.press_sequentially(term, delay=20)
    results = page.locator("#command-results-list")
    expect(results).to_be_visible()
    return results


def test_ctrl_k_finds_a_product_a_customer_and_an_order_by_number(logged_in_page, northwind, screenshot):
    page = logged_in_page
    chai, customer, order = northwind["chai"], northwind["customer"], northwind["orders"][1]

    results = command_search(page, "chai")
    hit = results.locator("a", has_text="NW-CHAI · Chai")
    expect(hit).to_be_visible()
    screenshot("product-found")
    hit.click()
    page.wait_for_url(f"**/admin/inventory/product/{chai.pk}/change/")

    results = command_search(page, "futterkiste")
    hit = results.locator("a", has_text="Alfreds Futterkiste")
    expect(hit).to_contain_text("Customer · ALFKI")
    hit.click()
    page.wait_for_url(f"**/admin/orders/customer/{customer.pk}/change/")
    expect(page.locator(".bo-hub-panel")).to_contain_text(order.number)
    screenshot("customer-page")

    # An order by its number typed loosely ("so-2"): Enter opens the first hit.
    digits = int(order.number.split("-")[1])
    results = command_search(page, f"so-{digits}")
    hit = results.locator("a", has_text=order.number)
    expect(hit).to_contain_text("Sales order · Alfreds Futterkiste")
    screenshot("order-found")
    page.locator("#search-input-command").press("ArrowDown")
    page.locator("#search-input-command").press("Enter")
    page.wait_for_url(f"**/admin/orders/salesorder/{order.pk}/change/")
    expect(page.locator("body")).to_contain_text(order.number)


def test_the_product_page_is_the_hub(logged_in_page, northwind, screenshot):
    page = logged_in_page
    chai = northwind["chai"]
    page.goto(f"/admin/inventory/product/{chai.pk}/change/")
    panel = page.locator(".bo-hub-panel")
    expect(panel.locator("[data-hub=ledger]")).to_have_text(re.compile(r"Ledger \(2\)"))
    expect(panel.locator("[data-hub=reserved]")).to_have_text(re.compile(r"Reserved for 3 orders"))
    expect(panel.locator("[data-hub=incoming]")).to_have_text(re.compile(r"Incoming on 1 PO \(24\)"))
    expect(panel.locator("tfoot")).to_contain_text("14")
    screenshot("hub")

    # A warehouse row opens the product's ledger in that warehouse.
    panel.get_by_role("link", name="EAST · East warehouse").click()
    expect(page.locator("#result_list tbody")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("EAST")
    expect(page.locator("h1, h2").first).to_be_visible()
    screenshot("ledger-of-east")

    page.go_back()
    page.locator(".bo-hub-panel [data-hub=reserved]").click()
    expect(page.locator("#result_list tbody")).to_have_count(3)
    screenshot("orders-holding")


def test_order_lists_are_cards_at_phone_width(logged_in_page, northwind, screenshot):
    page = logged_in_page
    page.goto("/admin/orders/salesorder/")
    desktop = page.locator("#result_list thead")
    expect(desktop).to_be_visible()  # the desktop table keeps its header row
    expect(page.locator(".bo-overdue").first).to_be_visible()
    screenshot("desktop")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#result_list thead")).to_be_hidden()
    card = page.locator("#result_list tbody").first
    expect(card.locator("[data-card=title]")).to_be_visible()
    expect(card.locator("[data-label=Customer]")).to_contain_text("Alfreds Futterkiste")
    expect(card.locator("[data-card=extra]").first).to_be_hidden()
    # No sideways scrolling: the cards fit the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("sales-orders-phone")

    page.goto("/admin/inventory/stocklevel/")
    expect(page.locator("#result_list tbody").first.locator("[data-card=title]")).to_contain_text("NW-CHAI")
    screenshot("stock-levels-phone")
    page.goto("/admin/orders/purchaseorder/")
    expect(page.locator("#result_list tbody").first.locator("[data-label=Supplier]")).to_contain_text("Exotic")
    screenshot("purchase-orders-phone")

    # The order page keeps its line labels at phone width.
    order = northwind["orders"][0]
    page.goto(f"/admin/orders/salesorder/{order.pk}/change/")
    expect(page.locator("body")).to_contain_text(order.number)
    quantity = page.locator("#lines-group td.field-quantity").first
    expect(quantity).to_have_attribute("data-label", "Quantity")
    expect(quantity).to_be_visible()
    screenshot("order-phone")
