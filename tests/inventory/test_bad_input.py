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
