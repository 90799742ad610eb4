"""Inventory journeys in a real browser: create a product, import a price list,
revert a price from history, record a stock count."""

import re
from decimal import Decimal

from playwright.sync_api import expect

from inventory.models import Product, StockLevel, StockMovement
from tests.factories import CategoryFactory, ProductFactory


def test_create_product(logged_in_page, screenshot):
    page = logged_in_page
    CategoryFactory(name="Beverages")
    page.goto("/admin/inventory/product/add/")
    page.fill("input[name=sku]", "TEA-001")
    page.fill("input[name=name]", "Green tea")
    page.fill("input[name=sale_price]", "4.50")
    page.click("button[name=_save]")
    expect(page.locator("body")).to_contain_text("was added successfully")
    expect(page.locator("#result_list")).to_contain_text("TEA-001")
    screenshot("product-list")
    product = Product.objects.get(sku="TEA-001")
    assert product.sale_price == Decimal("4.50")
    assert product.history.count() == 1


def test_import_products_csv_with_preview_then_confirm(logged_in_page, screenshot, tmp_path):
    page = logged_in_page
    CategoryFactory(name="Beverages")
    csv_file = tmp_path / "price-list.csv"
    csv_file.write_text(
        "sku,name,category,unit,barcode,sale_price,cost,tax_rate,is_active\n"
        "IMP-1,Imported coffee,Beverages,1 kg bag,,12.50,7.00,10,1\n"
        "IMP-2,Imported cocoa,Beverages,500 g tin,,6.25,3.10,10,1\n"
    )
    page.goto("/admin/inventory/product/import/")
    page.set_input_files("input[name=import_file]", str(csv_file))
    page.select_option("select[name=format]", label="csv")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("body")).to_contain_text("IMP-1")
    expect(page.locator("body")).to_contain_text("Imported cocoa")
    screenshot("import-preview")
    assert not Product.objects.filter(sku__startswith="IMP-").exists(), "the preview must not write"
    page.get_by_role("button", name="Confirm import").click()
    expect(page.locator("body")).to_contain_text("Import finished")
    screenshot("import-done")
    assert set(Product.objects.filter(sku__startswith="IMP-").values_list("sku", flat=True)) == {"IMP-1", "IMP-2"}


def test_change_price_then_revert_from_history(logged_in_page, screenshot):
    page = logged_in_page
    product = ProductFactory(sku="PRICE-1", name="Price test", sale_price=Decimal("10.0000"))
    page.goto(f"/admin/inventory/product/{product.pk}/change/")
    page.fill("input[name=sale_price]", "12.00")
    page.click("button[name=_save]")
    expect(page.locator("body")).to_contain_text("was changed successfully")
    product.refresh_from_db()
    assert product.sale_price == Decimal("12.00")

    page.goto(f"/admin/inventory/product/{product.pk}/history/")
    expect(page.locator("body")).to_contain_text("12")
    screenshot("history")
    page.get_by_role("row", name=re.compile("Created")).get_by_role("link", name="PRICE-1").click()
    expect(page.locator("input[name=sale_price]")).to_have_value(re.compile(r"^10"))
    screenshot("version")
    page.get_by_role("button", name="Revert").click()
    expect(page.locator("body")).to_contain_text("was changed successfully")
    screenshot("reverted")
    product.refresh_from_db()
    assert product.sale_price == Decimal("10.0000")


def test_record_stock_count_and_see_the_movement(logged_in_page, screenshot, stocked_product, warehouse):
    page = logged_in_page
    page.goto("/admin/inventory/stockadjustment/add/")
    page.select_option("select[name=warehouse]", label=str(warehouse))
    page.select_option("select[name=reason]", value="cycle_count")
    page.click("button[name=_continue]")
    expect(page.locator("body")).to_contain_text("ADJ-")
    # Add a counted line through the inline with the product autocomplete.
    page.locator("#id_lines-0-product + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("CHAI")
    page.locator(".select2-results__option", has_text="CHAI").click()
    page.fill("input[name='lines-0-counted_quantity']", "7")
    page.click("button[name=_continue]")
    expect(page.locator("body")).to_contain_text("was changed successfully")
    page.get_by_role("link", name="Apply").click()
    page.get_by_role("button", name="Apply").last.click()
    expect(page.locator("body")).to_contain_text("was applied")
    screenshot("adjustment-applied")
    assert StockLevel.objects.get(product=stocked_product, warehouse=warehouse).on_hand == 7

    page.goto("/admin/inventory/stockmovement/")
    expect(page.locator("#result_list")).to_contain_text("ADJ-")
    expect(page.locator("#result_list")).to_contain_text("-3")
    screenshot("ledger")
    assert StockMovement.objects.filter(kind="adjustment", quantity=-3).count() == 1
