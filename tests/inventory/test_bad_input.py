"""Bad import files: a clear message on the import page, nothing written."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from inventory.models import Product


def test_semicolon_separated_product_file_is_refused_with_a_hint(admin_client):
    upload = SimpleUploadedFile("products.csv", b"sku;name;sale_price;cost\nS1;Semi;1;1\n")

    response = admin_client.post("/admin/inventory/product/import/", {"format": "0", "import_file": upload})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Missing column(s): sku, name" in page
    assert "separated by &#x27;;&#x27;" in page or "separated by ';'" in page
    assert "_duplicates" not in page
    assert not Product.objects.exists()


# ---------------------------------------------------------------------------
# Absurd numbers (issue 8, hole 8): a clear message, nothing written, the pages keep working

HUGE = 9_223_372_036_854_775_807


def test_counting_an_absurd_quantity_is_refused_by_the_service(stocked_product, warehouse):
    import pytest

    from backoffice.errors import ValidationFailed
    from inventory.models import StockLevel, StockMovement
    from inventory.services import Count, stock_count_apply

    movements = StockMovement.objects.count()
    with pytest.raises(ValidationFailed, match="at most 10,000,000"):
        stock_count_apply(counts=[Count(stocked_product.pk, warehouse.pk, HUGE)], reason="cycle_count")

    assert StockLevel.objects.get(product=stocked_product).on_hand == 10
    assert StockMovement.objects.count() == movements


def test_an_adjustment_line_with_an_absurd_count_is_a_form_error_and_the_product_page_still_works(
    admin_client, stocked_product, warehouse
):
    from inventory.models import StockAdjustment

    response = admin_client.post(
        "/admin/inventory/stockadjustment/add/",
        {
            "warehouse": str(warehouse.pk),
            "reason": "cycle_count",
            "note": "",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": str(stocked_product.pk),
            "lines-0-counted_quantity": str(HUGE),
        },
    )

    assert response.status_code == 200
    assert "at most 10,000,000" in response.content.decode()
    assert not StockAdjustment.objects.exists()
    assert admin_client.get(f"/admin/inventory/product/{stocked_product.pk}/change/").status_code == 200


def test_a_receipt_that_would_take_on_hand_over_the_bound_is_a_business_error(stocked_product, warehouse):
    import pytest

    from backoffice.errors import ValidationFailed
    from backoffice.limits import MAX_QUANTITY, MAX_STOCK
    from inventory.models import StockLevel
    from inventory.services import StockLine, stock_receive

    StockLevel.objects.filter(product=stocked_product).update(on_hand=MAX_STOCK - 5)
    with pytest.raises(ValidationFailed, match="at most 1,000,000,000 on hand"):
        stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 10)], reference="PO-BIG")
    with pytest.raises(ValidationFailed, match="at most 10,000,000"):
        stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, MAX_QUANTITY + 1)], reference="PO-BIG")

    assert StockLevel.objects.get(product=stocked_product).on_hand == MAX_STOCK - 5


def test_the_database_refuses_stock_beyond_the_bound(stocked_product):
    import pytest
    from django.db import IntegrityError, transaction

    from backoffice.limits import MAX_STOCK
    from inventory.models import StockLevel

    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(product=stocked_product).update(on_hand=MAX_STOCK + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(product=stocked_product).update(reorder_point=10_000_001)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=stocked_product.pk).update(sale_price=1_000_000_001)


def test_product_import_with_absurd_prices_lists_the_rows_and_writes_nothing(admin_client):
    content = (
        b"sku,name,sale_price,cost\n"
        b"P1,One,1e309,1\n"
        b"P2,Two,99999999999999999999,1\n"
        b"P3,Three,1e20,1\n"
        b"P4,Four,NaN,1\n"
        b"P5,Five,2,inf\n"
        b"P6,Six,1000000001,1\n"
    )
    upload = SimpleUploadedFile("products.csv", content)

    response = admin_client.post("/admin/inventory/product/import/", {"format": "0", "import_file": upload})

    assert response.status_code == 200
    invalid = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
    assert sorted(invalid) == [1, 2, 3, 4, 5, 6]
    assert set(invalid[5]) == {"cost"}
    assert invalid[6] == {"sale_price": ["Ensure this value is at most 1,000,000,000."]}
    assert "Confirm import" not in response.content.decode()
    assert not Product.objects.exists()


def test_api_refuses_absurd_numbers(admin_client, stocked_product):
    from inventory.models import StockLevel

    level = StockLevel.objects.get(product=stocked_product)
    response = admin_client.patch(
        f"/api/v1/stock-levels/{level.pk}/", {"reorder_point": HUGE}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "reorder_point" in response.json()["fields"]

    response = admin_client.patch(
        f"/api/v1/products/{stocked_product.pk}/", {"sale_price": "5000000000"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "sale_price" in response.json()["fields"]
    level.refresh_from_db()
    stocked_product.refresh_from_db()
    assert level.reorder_point == 0
    assert stocked_product.sale_price == 18
