"""Order entry while typing, in a real browser: the sales-order form shows each line's price, tax and stock
and the totals as they are typed, and they are the figures of the saved order; purchase and transfer lines
show their stock; a shipment is packed and shipped in one step."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from backoffice.money import format_money
from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from orders import services
from orders.models import SalesOrder, ShipmentStatus
from tests.factories import CarrierFactory, CustomerFactory, ProductFactory, SupplierFactory


@pytest.fixture
def customer(transactional_db):
    return CustomerFactory(code="ALFKI", name="Alfreds Futterkiste", shipping_address="Obere Str. 57, Berlin")


def stocked(warehouse, sku, name, on_hand, price, tax_rate):
    product = ProductFactory(sku=sku, name=name, sale_price=Decimal(price), tax_rate=Decimal(tax_rate))
    if on_hand:
        stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, on_hand, Decimal("4.00"))],
            kind=MovementKind.OPENING,
            reference="E2E-OPENING",
        )
    return product


def pick(page, field: str, search: str, option: str) -> None:
    page.locator(f"#id_{field} + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill(search)
    page.locator(".select2-results__option", has_text=option).click()


def readonly(page, name: str):
    """A total of the order form (subtotal, tax_total, shipping, total)."""
    return page.locator(f"[data-live-total={name}]")


def stock_cell(line):
    """The stock figures of a line (one per row of the cell; the title has them in one line)."""
    return line.locator("td.field-stock .readonly")


def row(page, index: int):
    return page.locator("#lines-group tr.form-row").nth(index)


def test_live_totals_and_stock_while_typing_match_the_saved_order(
    logged_in_page, screenshot, customer, warehouse, superuser
):
    page = logged_in_page
    stocked(warehouse, "TEA-GRN", "Green tea", 10, "12.5000", "20.00")
    black = stocked(warehouse, "TEA-BLK", "Black tea", 3, "8.9900", "7.00")
    inactive = ProductFactory(sku="TEA-OLD", name="Old tea", is_active=False)
    po = services.purchase_order_create(supplier=SupplierFactory(), warehouse=warehouse, user=superuser)
    services.purchase_order_line_add(order=po, product=black, quantity=24, user=superuser)
    services.purchase_order_send(order=po, user=superuser)

    page.goto("/admin/orders/salesorder/add/")
    # One warehouse: it is already chosen.
    expect(page.locator("#id_warehouse + .select2 .select2-selection")).to_contain_text("MAIN")
    pick(page, "customer", "ALFKI", "Alfreds Futterkiste")
    # The shipping address fills from the customer at once.
    expect(page.locator("textarea[name=shipping_address]")).to_have_value("Obere Str. 57, Berlin")

    # The picker shows price, tax and stock in MAIN, and no inactive product.
    page.locator("#id_lines-0-product + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("TEA")
    option = page.locator(".select2-results__option", has_text="TEA-BLK")
    expect(option).to_contain_text("8.99 · tax 7% · 3 available · 24 incoming")
    expect(page.locator(".select2-results__option", has_text=inactive.sku)).to_have_count(0)
    screenshot("picker")
    page.locator(".select2-results__option", has_text="TEA-GRN").click()
    page.fill("input[name='lines-0-quantity']", "4")
    first = row(page, 0)
    expect(stock_cell(first)).to_have_attribute("title", "10 available · 0 incoming")
    expect(first.locator("td.field-net_amount")).to_have_text(re.compile(r"^\s*USD 50\.00\s*$"))
    expect(first.locator("td.field-tax_rate")).to_have_text(re.compile(r"^\s*20\.00\s*$"))
    expect(readonly(page, "total")).to_have_text(format_money(Decimal("60.00")))

    page.get_by_role("link", name="Add another Sales order line").click()
    pick(page, "lines-1-product", "TEA-BLK", "TEA-BLK")
    page.fill("input[name='lines-1-quantity']", "5")
    page.fill("input[name='lines-1-discount_percent']", "10")
    second = row(page, 1)
    # 3 available: 2 cannot be reserved, flagged before saving.
    expect(second.locator("td.field-stock")).to_contain_text("cannot be reserved: 2 on backorder")
    page.fill("input[name=discount_percent]", "5")
    page.fill("input[name=shipping_charge]", "4.95")
    # 4 × 12.50 × 0.95 = 47.50 (tax 9.50); 5 × 8.99 × 0.90 × 0.95 = 38.43 (tax 2.69)
    expect(readonly(page, "subtotal")).to_have_text(format_money(Decimal("85.93")))
    expect(readonly(page, "tax_total")).to_have_text(format_money(Decimal("12.19")))
    expect(readonly(page, "shipping")).to_have_text(format_money(Decimal("4.95")))
    expect(readonly(page, "total")).to_have_text(format_money(Decimal("103.07")))
    typed = {name: readonly(page, name).inner_text().strip() for name in ("subtotal", "tax_total", "shipping", "total")}
    typed_lines = [
        row(page, n).locator(f"td.field-{name}").inner_text().strip()
        for n in (0, 1)
        for name in ("net_amount", "tax_amount", "total_amount")
    ]
    screenshot("typing")

    page.click("button[name=_continue]")
    expect(page.locator("body")).to_contain_text("was added successfully")
    order = SalesOrder.objects.get(customer=customer)
    assert typed == {
        "subtotal": format_money(order.subtotal),
        "tax_total": format_money(order.tax_total),
        "shipping": format_money(order.shipping_charge),
        "total": format_money(order.total),
    }
    assert typed_lines == [
        format_money(amount)
        for line in order.lines.order_by("id")
        for amount in (line.net_amount, line.tax_amount, line.total_amount)
    ]
    assert order.shipping_address == "Obere Str. 57, Berlin"
    # The saved draft shows the same figures and keeps them live.
    expect(readonly(page, "total")).to_have_text(format_money(order.total))
    expect(stock_cell(row(page, 1))).to_have_attribute("title", "3 available · 24 incoming")
    page.fill("input[name='lines-0-quantity']", "12")
    expect(row(page, 0).locator("td.field-stock")).to_contain_text("cannot be reserved: 2 on backorder")
    screenshot("saved-draft")
    # The stock column leaves room for the whole line: its delete box is on screen, not scrolled away.
    expect(row(page, 0).locator("td.delete")).to_be_in_viewport()


def test_purchase_and_transfer_lines_show_their_stock(logged_in_page, screenshot, warehouse, superuser):
    from inventory.models import StockLevel
    from tests.factories import WarehouseFactory

    page = logged_in_page
    flour = stocked(warehouse, "FLOUR-1", "Wheat flour", 6, "3.0000", "7.00")
    StockLevel.objects.filter(product=flour).update(reorder_point=10)
    supplier = SupplierFactory(name="Mill & Co")

    page.goto("/admin/orders/purchaseorder/add/")
    pick(page, "supplier", "Mill", "Mill & Co")
    pick(page, "warehouse", "MAIN", "MAIN")
    pick(page, "lines-0-product", "FLOUR", "FLOUR-1")
    expect(stock_cell(row(page, 0))).to_have_attribute("title", "6 on hand · 0 incoming · reorder point 10")
    screenshot("purchase")
    assert supplier.pk

    east = WarehouseFactory(code="EAST", name="East")
    page.goto("/admin/inventory/stocktransfer/add/")
    page.select_option("select[name=from_warehouse]", label=str(warehouse))
    page.select_option("select[name=to_warehouse]", label=str(east))
    pick(page, "lines-0-product", "FLOUR", "FLOUR-1")
    page.fill("input[name='lines-0-quantity']", "9")
    expect(row(page, 0).locator("td.field-stock")).to_contain_text("6 available")
    expect(row(page, 0).locator("td.field-stock")).to_contain_text("more than the 6 available in MAIN")
    screenshot("transfer")


@pytest.fixture
def confirmed(customer, warehouse, superuser):
    """confirmed("SKU", qty) -> an order of qty of a new product (stock enough), confirmed through the services."""

    def make(sku: str, quantity: int):
        product = stocked(warehouse, sku, f"Product {sku}", quantity, "10.0000", "0")
        order = services.sales_order_create(customer=customer, warehouse=warehouse, user=superuser)
        services.sales_order_line_add(order=order, product=product, quantity=quantity, user=superuser)
        return services.sales_order_confirm(order=order, user=superuser)

    return make


def test_pack_and_ship_in_one_step_then_deliver_from_the_list(logged_in_page, screenshot, confirmed, superuser):
    page = logged_in_page
    carrier = CarrierFactory(name="Parcel Express", tracking_url_template="https://track.example.com/?n={tracking}")
    shipment = services.shipment_create(
        sales_order=confirmed("BOX-1", 2), user=superuser, carrier=carrier, tracking_number="PX-100"
    )

    page.goto(f"/admin/orders/shipment/{shipment.pk}/change/")
    page.get_by_role("link", name="Pack & ship").click()
    # Carrier and tracking number asked once, prefilled from the shipment.
    expect(page.locator("select[name=carrier]")).to_have_value(str(carrier.pk))
    expect(page.locator("input[name=tracking_number]")).to_have_value("PX-100")
    page.get_by_role("button", name="Pack & ship").click()
    expect(page.locator("body")).to_contain_text(f"{shipment.number} packed and shipped; the stock left MAIN.")
    screenshot("packed-and-shipped")
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.history.filter(status=ShipmentStatus.PACKED).exists()  # the packing is on record too

    # Bulk from the list: one shipment ships, one without a carrier is refused with its reason; then both
    # shipped ones are delivered in one go.
    with_carrier = services.shipment_create(sales_order=confirmed("BOX-2", 1), user=superuser, carrier=carrier)
    without = services.shipment_create(sales_order=confirmed("BOX-3", 1), user=superuser)
    page.goto("/admin/orders/shipment/")
    for pk in (with_carrier.pk, without.pk):
        page.locator(f"input.action-select[value='{pk}']").check()
    page.select_option("select[name=action]", "ship_selected")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("body")).to_contain_text(f"Shipped: {with_carrier.number}.")
    expect(page.locator("body")).to_contain_text(f"{without.number}: {without.number} has no carrier")
    for pk in (shipment.pk, with_carrier.pk):
        page.locator(f"input.action-select[value='{pk}']").check()
    page.select_option("select[name=action]", "deliver_selected")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("body")).to_contain_text("Delivered:")
    screenshot("bulk-delivered")
    statuses = {s.pk: s.status for s in type(shipment).objects.all()}
    assert statuses == {
        shipment.pk: ShipmentStatus.DELIVERED,
        with_carrier.pk: ShipmentStatus.DELIVERED,
        without.pk: ShipmentStatus.PENDING,
    }

    # Packing needs no confirmation page: one click.
    page.goto(f"/admin/orders/shipment/{without.pk}/change/")
    page.get_by_role("link", name="Mark packed").click()
    expect(page.locator("body")).to_contain_text(f"{without.number} packed.")
    without.refresh_from_db()
    assert without.status == ShipmentStatus.PACKED
