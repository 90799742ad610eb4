"""Browser journey: this morning's reorder list turned into draft purchase orders in one click."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from orders.models import PurchaseOrder, PurchaseOrderStatus
from tests.factories import SupplierFactory
from tests.reports.reorder_helpers import prefer, product, stock_level, warehouse


def reorder_shelves():
    """MAIN: CHAI and CHANG from EXOTIC, TOFU from TOKYO, KELP without a preferred supplier; WEST: CHAI."""
    main, west = warehouse("MAIN"), warehouse("WEST")
    exotic, tokyo = SupplierFactory(code="EXOTIC", name="Exotic Liquids"), SupplierFactory(code="TOKYO")
    chai, chang, tofu, kelp = product("CHAI"), product("CHANG"), product("TOFU"), product("KELP")
    prefer(chai, exotic, unit_cost="9.00")
    prefer(chang, exotic, unit_cost="9.50", moq=12)
    prefer(tofu, tokyo, unit_cost="4.00")
    stock_level(chai, main, on_hand=2, reorder_point=10, reorder_quantity=20)
    stock_level(chang, main, on_hand=0, reorder_point=5)
    stock_level(tofu, main, on_hand=1, reorder_point=3, reorder_quantity=5)
    stock_level(kelp, main, on_hand=0, reorder_point=4, reorder_quantity=4)
    stock_level(chai, west, on_hand=0, reorder_point=3, reorder_quantity=6)


def test_create_draft_purchase_orders_from_the_reorder_report(logged_in_page, screenshot):
    reorder_shelves()
    page = logged_in_page

    page.goto("/admin/report/reorder/?warehouse=MAIN")
    rows = page.locator("#report-table tbody tr.report-row")
    expect(rows).to_have_count(4)
    expect(page.locator("#report-table")).to_contain_text("KELP")
    screenshot("report")

    page.get_by_role("button", name="Create draft purchase orders").click()

    page.wait_for_url(re.compile(r"/admin/report/reorder/drafts-created/$"))
    orders = PurchaseOrder.objects.order_by("supplier__code")
    assert [(o.supplier.code, o.warehouse.code, o.status) for o in orders] == [
        ("EXOTIC", "MAIN", PurchaseOrderStatus.DRAFT),
        ("TOKYO", "MAIN", PurchaseOrderStatus.DRAFT),
    ]
    table = page.locator("#reorder-drafts-orders")
    for order in orders:
        expect(table.get_by_role("link", name=order.number)).to_be_visible()
    expect(page.locator("#reorder-drafts-line-count")).to_have_text("3")
    expect(page.locator("#reorder-drafts-without-supplier")).to_contain_text("KELP")
    screenshot("created")

    # The new drafts count as incoming: the report now lists only KELP (nothing to order it from).
    page.get_by_role("link", name="Back to the reorder report").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("KELP")

    # The PO behind the link is the draft with its lines at the supplier's cost.
    page.goto("/admin/report/reorder/drafts-created/")
    page.locator("#reorder-drafts-orders").get_by_role("link", name=orders[0].number).click()
    expect(page).to_have_url(re.compile(rf"/admin/orders/purchaseorder/{orders[0].pk}/change/"))
    assert sorted((line.product.sku, line.quantity) for line in orders[0].lines.all()) == [("CHAI", 20), ("CHANG", 12)]
    assert PurchaseOrder.objects.filter(warehouse__code="WEST").count() == 0


def test_create_drafts_for_ticked_rows_only(logged_in_page, screenshot):
    reorder_shelves()
    page = logged_in_page

    page.goto("/admin/report/reorder/")
    row = page.locator("#report-table tbody tr.report-row", has_text="TOFU")
    row.locator("input.row-select").check()
    page.get_by_role("button", name="Create draft purchase orders").click()

    page.wait_for_url(re.compile(r"/drafts-created/$"))
    expect(page.locator("#reorder-drafts-line-count")).to_have_text("1")
    order = PurchaseOrder.objects.get()
    assert (order.supplier.code, [line.product.sku for line in order.lines.all()]) == ("TOKYO", ["TOFU"])
    screenshot("ticked")
