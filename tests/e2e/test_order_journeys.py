"""Order journeys in a real browser: take an order by phone and confirm it with stock
reserved; ship part of it with a tracking number and print the packing slip; receive a
partial delivery against a PO and see the waiting backorder reserved."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inventory.models import MovementKind, StockLevel, StockMovement
from inventory.services import StockLine, stock_receive
from orders import services
from orders.models import (
    PurchaseOrderStatus,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    ShipmentStatus,
)
from tests.factories import CarrierFactory, CustomerFactory, ProductFactory, SupplierFactory


@pytest.fixture
def customer(transactional_db):
    return CustomerFactory(code="ALFKI", name="Alfreds Futterkiste", shipping_address="Obere Str. 57, Berlin")


@pytest.fixture
def product_with_stock(warehouse):
    """product_with_stock("SKU", "Name", 10) -> an active product with that many on hand in MAIN."""

    def make(sku: str, name: str, on_hand: int):
        product = ProductFactory(sku=sku, name=name, sale_price=Decimal("12.5000"))
        if on_hand:
            stock_receive(
                lines=[StockLine(product.pk, warehouse.pk, on_hand, Decimal("6.00"))],
                kind=MovementKind.OPENING,
                reference="E2E-OPENING",
            )
        return product

    return make


@pytest.fixture
def confirmed_order(customer, warehouse, superuser):
    """confirmed_order((product, qty), ...) -> a sales order confirmed through the services."""

    def make(*lines):
        order = services.sales_order_create(customer=customer, warehouse=warehouse, user=superuser)
        for product, quantity in lines:
            services.sales_order_line_add(order=order, product=product, quantity=quantity, user=superuser)
        return services.sales_order_confirm(order=order, user=superuser)

    return make


def level(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def pick(page, field: str, search: str, option: str) -> None:
    """Choose ``option`` in the select2 autocomplete of ``field`` after typing ``search``, like a user."""
    page.locator(f"#id_{field} + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill(search)
    page.locator(".select2-results__option", has_text=option).click()


def status_badge(page):
    """The status badge of a document's change page (the read-only field labelled "Status")."""
    return page.locator(".field-line").filter(has=page.get_by_text("Status", exact=True)).locator(".readonly span")


def line_row(page, sku: str):
    """The inline row of the sales-order line for ``sku``."""
    return page.locator("tr.form-row", has_text=sku)


def test_take_an_order_by_phone_and_confirm_it_with_stock_reserved(
    logged_in_page, screenshot, customer, warehouse, product_with_stock
):
    page = logged_in_page
    plenty = product_with_stock("TEA-GRN", "Green tea", 10)
    short = product_with_stock("TEA-BLK", "Black tea", 3)
    allocated_before = {p.sku: level(p, warehouse).allocated for p in (plenty, short)}

    page.goto("/admin/orders/salesorder/add/")
    pick(page, "customer", "ALFKI", "Alfreds Futterkiste")
    pick(page, "warehouse", "MAIN", "MAIN")
    pick(page, "lines-0-product", "TEA-GRN", "TEA-GRN")
    page.fill("input[name='lines-0-quantity']", "4")
    page.get_by_role("link", name="Add another Sales order line").click()
    pick(page, "lines-1-product", "TEA-BLK", "TEA-BLK")
    page.fill("input[name='lines-1-quantity']", "5")
    page.click("button[name=_continue]")
    expect(page.locator("body")).to_contain_text("was added successfully")
    order = SalesOrder.objects.get(customer=customer)
    assert order.status == SalesOrderStatus.DRAFT
    assert order.lines.count() == 2

    page.get_by_role("link", name=re.compile(r"\bConfirm$")).click()  # not "E-mail confirmation"
    expect(page.locator("#workflow_lines")).to_contain_text("TEA-BLK")
    page.get_by_role("button", name="Confirm order").click()
    expect(page.locator("body")).to_contain_text(f"{order.number} confirmed: 7 reserved, 2 on backorder.")
    expect(status_badge(page)).to_have_text("Confirmed")
    expect(line_row(page, "TEA-GRN").locator("td.field-quantity_reserved")).to_have_text(re.compile(r"^\s*4\s*$"))
    expect(line_row(page, "TEA-GRN").locator("td.field-backordered")).to_have_text(re.compile(r"^\s*0\s*$"))
    expect(line_row(page, "TEA-BLK").locator("td.field-quantity_reserved")).to_have_text(re.compile(r"^\s*3\s*$"))
    expect(line_row(page, "TEA-BLK").locator("td.field-backordered")).to_have_text(re.compile(r"^\s*2\s*$"))
    screenshot("confirmed")

    order.refresh_from_db()
    assert order.status == SalesOrderStatus.CONFIRMED
    reserved = {line.product.sku: line.quantity_reserved for line in order.lines.select_related("product")}
    assert reserved == {"TEA-GRN": 4, "TEA-BLK": 3}
    assert level(plenty, warehouse).allocated == allocated_before["TEA-GRN"] + 4
    assert level(short, warehouse).allocated == allocated_before["TEA-BLK"] + 3


def test_ship_part_of_an_order_with_a_tracking_number_and_print_the_packing_slip(
    logged_in_page, screenshot, request, warehouse, product_with_stock, confirmed_order
):
    page = logged_in_page
    coffee = product_with_stock("COF-1", "Coffee beans", 10)
    order = confirmed_order((coffee, 6))
    line = order.lines.get()
    assert line.quantity_reserved == 6
    CarrierFactory(name="Parcel Express", tracking_url_template="https://track.example.com/?n={tracking}")
    tracking = "PX123456789"

    page.goto(f"/admin/orders/salesorder/{order.pk}/change/")
    expect(status_badge(page)).to_have_text("Confirmed")
    page.get_by_role("link", name="Create shipment").click()
    expect(page.locator(f"input[name=line_{line.pk}]")).to_have_value("6")
    page.fill(f"input[name=line_{line.pk}]", "4")
    page.get_by_role("button", name="Create shipment").click()
    expect(page.locator("body")).to_contain_text(re.compile(r"Shipment SH-\d+ created\."))
    shipment = Shipment.objects.get(sales_order=order)
    expect(status_badge(page)).to_have_text("Pending")

    # A pending shipment is packed and shipped in one step (issue 10 §2).
    page.get_by_role("link", name="Pack & ship").click()
    page.select_option("select[name=carrier]", label="Parcel Express")
    page.fill("input[name=tracking_number]", tracking)
    page.get_by_role("button", name="Pack & ship").click()
    expect(page.locator("body")).to_contain_text(f"{shipment.number} packed and shipped; the stock left MAIN.")
    expect(status_badge(page)).to_have_text("Shipped")
    tracking_link = page.get_by_role("link", name=tracking)
    expect(tracking_link).to_have_attribute("href", f"https://track.example.com/?n={tracking}")
    # Styled like the page's other links, or nobody sees that it can be clicked.
    expect(tracking_link).to_have_class(re.compile(r"\btext-primary-600\b"))
    shipment_png = screenshot("shipment")

    with page.context.expect_page() as new_tab:
        page.get_by_role("link", name="Print packing slip").click()
    slip = new_tab.value
    slip.wait_for_load_state()
    expect(slip.locator("h1")).to_have_text("Packing slip")
    expect(slip.locator(".doc .number")).to_have_text(shipment.number)
    slip_line = slip.locator("tbody tr")
    expect(slip_line).to_have_count(1)
    expect(slip_line.locator("td")).to_have_text(["COF-1", "Coffee beans", "4", ""])
    expect(slip.locator("a.tracking")).to_have_text(tracking)
    expect(slip.locator("a.tracking")).to_have_attribute("href", f"https://track.example.com/?n={tracking}")
    expect(slip.locator("body")).to_contain_text("Parcel Express")
    slip.screenshot(path=str(shipment_png.with_name(f"{request.node.name}-packing-slip.png")), full_page=True)

    order.refresh_from_db()
    shipment.refresh_from_db()
    line.refresh_from_db()
    assert order.status == SalesOrderStatus.PARTIALLY_SHIPPED
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.tracking_number == tracking
    assert (line.quantity_shipped, line.quantity_reserved) == (4, 2)
    stock = level(coffee, warehouse)
    assert (stock.on_hand, stock.allocated) == (6, 2)
    movement = StockMovement.objects.get(kind=MovementKind.SHIPMENT, reference=shipment.number)
    assert (movement.product_id, movement.warehouse_id, movement.quantity) == (coffee.pk, warehouse.pk, -4)


def test_receive_a_partial_delivery_against_a_po_and_see_the_backorder_reserved(
    logged_in_page, screenshot, warehouse, superuser, product_with_stock, confirmed_order
):
    page = logged_in_page
    flour = product_with_stock("FLOUR-1", "Wheat flour", 2)
    order = confirmed_order((flour, 5))
    so_line = order.lines.get()
    assert (so_line.quantity_reserved, so_line.quantity_backordered) == (2, 3)
    po = services.purchase_order_create(supplier=SupplierFactory(name="Mill & Co"), warehouse=warehouse, user=superuser)
    po_line = services.purchase_order_line_add(order=po, product=flour, quantity=10, user=superuser)
    services.purchase_order_send(order=po, user=superuser)

    page.goto(f"/admin/orders/purchaseorder/{po.pk}/change/")
    expect(status_badge(page)).to_have_text("Sent")
    page.get_by_role("link", name="Receive…").click()
    expect(page.locator("#workflow_lines")).to_contain_text("FLOUR-1")
    page.fill(f"input[name=line_{po_line.pk}]", "2")
    page.fill("input[name=delivery_note]", "DN-4711")
    page.get_by_role("button", name="Record receipt").click()
    expect(page.locator("body")).to_contain_text(re.compile(r"Receipt RC-\d+ recorded: 2 units into MAIN\."))
    expect(status_badge(page)).to_have_text("Partially received")
    expect(line_row(page, "FLOUR-1").locator("td.field-quantity_received")).to_have_text(re.compile(r"^\s*2\s*$"))
    expect(line_row(page, "FLOUR-1").locator("td.field-outstanding")).to_have_text(re.compile(r"^\s*8\s*$"))
    screenshot("po-partially-received")

    po.refresh_from_db()
    po_line.refresh_from_db()
    assert po.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert po_line.quantity_received == 2
    assert po.receipts.get().delivery_note == "DN-4711"

    # The backorder is served after the receipt's transaction commits: the reload shows it.
    page.goto(f"/admin/orders/salesorder/{order.pk}/change/")
    expect(line_row(page, "FLOUR-1").locator("td.field-quantity_reserved")).to_have_text(re.compile(r"^\s*4\s*$"))
    expect(line_row(page, "FLOUR-1").locator("td.field-backordered")).to_have_text(re.compile(r"^\s*1\s*$"))
    screenshot("backorder-reserved")

    so_line.refresh_from_db()
    assert (so_line.quantity_reserved, so_line.quantity_backordered) == (4, 1)
    stock = level(flour, warehouse)
    assert (stock.on_hand, stock.allocated) == (4, 4)


def test_add_shipment_chooser_finds_the_order_by_typing(logged_in_page, confirmed_order, product_with_stock):
    page = logged_in_page
    order = confirmed_order((product_with_stock("COF-2", "Coffee beans", 5), 2))
    line = order.lines.get()

    page.goto("/admin/orders/shipment/add/")
    pick(page, "sales_order", order.number[-4:], order.number)  # searches the order autocomplete
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(f"input[name=line_{line.pk}]")).to_have_value("2")  # the order's Create shipment form
