"""Spreadsheet imports through the admin: preview → confirm, all-or-nothing, every bad file kind, templates."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from backoffice.models import ImportJob
from inventory.models import Category, Product, StockLevel, Supplier, SupplierProduct, Warehouse
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    SupplierFactory,
    SupplierProductFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
CSV_FORMAT, XLSX_FORMAT = "0", "1"  # positions in settings.IMPORT_FORMATS


def url(model, view):
    return reverse(f"admin:inventory_{model}_{view}")


def csv_file(rows, name="data.csv"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def xlsx_file(rows, name="data.xlsx"):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def preview(client, model, upload, file_format=CSV_FORMAT):
    return client.post(url(model, "import"), {"format": file_format, "import_file": upload, "resource": "0"})


def confirm(client, model, preview_response):
    form = preview_response.context["confirm_form"]
    return client.post(url(model, "process_import"), {**form.initial})


def page_text(response):
    return " ".join(html.unescape(response.content.decode()).split())


PRODUCT_HEADER = ["sku", "name", "category", "sale_price", "cost", "tax_rate", "is_active"]


@pytest.fixture
def beverages(db):
    return CategoryFactory(name="Beverages")


def test_csv_products_preview_then_confirm(admin_client, admin_user, beverages):
    upload = csv_file(
        [
            PRODUCT_HEADER,
            ["CHAI", "Chai", "Beverages", "18.00", "11.70", "20", "yes"],
            ["CHANG", "Chang", "", "19", "12", "0", "no"],
        ]
    )

    response = preview(admin_client, "product", upload)

    assert response.status_code == 200
    assert response.context["confirm_form"] is not None
    assert [row.import_type for row in response.context["result"].rows] == ["new", "new"]
    assert "CHANG" in response.content.decode()
    assert not Product.objects.exists()  # the preview writes nothing

    done = confirm(admin_client, "product", response)

    assert done.status_code == 302
    chai = Product.objects.get(sku="CHAI")
    assert (chai.category, chai.sale_price, chai.is_active) == (beverages, Decimal("18.00"), True)
    assert Product.objects.get(sku="CHANG").is_active is False
    history = chai.history.get()
    assert (history.history_type, history.history_user) == ("+", admin_user)


def test_xlsx_import_updates_existing_products_and_records_history(admin_client, admin_user, beverages):
    product = ProductFactory(sku="CHAI", name="Chai", category=beverages, sale_price=Decimal("18"))
    Product.objects.filter(pk=product.pk).update(average_cost=Decimal("9.5"))
    upload = xlsx_file([["sku", "name", "sale_price"], ["CHAI", "Chai tea", 21.5], ["NEW-1", "Green tea", 7]])

    response = preview(admin_client, "product", upload, XLSX_FORMAT)
    assert [row.import_type for row in response.context["result"].rows] == ["update", "new"]
    confirm(admin_client, "product", response)

    product.refresh_from_db()
    assert (product.name, product.sale_price) == ("Chai tea", Decimal("21.5"))
    assert product.average_cost == Decimal("9.5")  # maintained by receipts, never by imports
    assert product.history.first().history_user == admin_user
    assert Product.objects.get(sku="NEW-1").sale_price == Decimal("7")


def assert_rejected(response, *texts, written=None):
    """The preview shows the errors, offers no confirm button, and nothing was written."""
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    text = page_text(response)
    for expected in texts:
        assert expected in text, f"{expected!r} not shown"
    assert not (written if written is not None else Product.objects.exclude(sku="KEEP")).exists()


def test_missing_column_is_refused(admin_client, beverages):
    response = preview(admin_client, "product", csv_file([["sku", "sale_price"], ["CHAI", "18"]]))
    assert_rejected(response, "Missing column(s): name.")


def test_unknown_column_is_refused(admin_client, beverages):
    response = preview(admin_client, "product", csv_file([["sku", "name", "sale prize"], ["CHAI", "Chai", "18"]]))
    assert_rejected(response, "Unknown column(s): sale prize.")


def test_every_bad_row_is_reported_and_nothing_is_written(admin_client, beverages):
    upload = csv_file(
        [
            PRODUCT_HEADER,
            ["GOOD", "Fine row", "Beverages", "1", "1", "0", "yes"],
            ["BAD-NUM", "Bad price", "Beverages", "abc", "1", "0", "yes"],
            ["BAD-CAT", "Bad category", "Snacks", "1", "1", "0", "yes"],
            ["GOOD", "Duplicate", "Beverages", "1", "1", "0", "yes"],
            ["NEG", "Negative", "Beverages", "-5", "1", "0", "maybe"],
        ]
    )

    response = preview(admin_client, "product", upload)

    invalid = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
    assert invalid[2] == {"sale_price": ["'abc' is not a number."]}
    assert invalid[3] == {"category": ["No category with name 'Snacks'."]}
    # import-export's own row numbers (first data row = 1); messages name the spreadsheet's row (header = 1).
    assert invalid[4] == {"sku": ["sku 'GOOD' appears more than once in the file (first in row 2)."]}
    assert set(invalid[5]) == {"sale_price", "is_active"}
    assert_rejected(response, "'abc' is not a number.", "No category with name 'Snacks'.", "appears more than once")


def test_the_preview_numbers_rows_as_the_spreadsheet_does_header_is_row_1(admin_client, beverages):
    upload = csv_file(
        [
            PRODUCT_HEADER,
            ["A-1", "First", "Beverages", "1", "1", "0", "yes"],
            ["A-2", "Second", "Beverages", "2", "1", "0", "yes"],
            ["A-3", "Third", "Beverages", "cheap", "1", "0", "yes"],  # the 3rd data row: row 4 of the sheet
        ]
    )

    response = preview(admin_client, "product", upload)

    outcome = response.context["outcome"]
    assert [(e["row"], e["column"], e["reason"]) for e in outcome.errors] == [
        (4, "sale_price", "'cheap' is not a number.")
    ]
    assert [(row["number"], row["values"][0]) for row in outcome.rows] == [(2, "A-1"), (3, "A-2"), (4, "A-3")]
    content = response.content.decode()
    errors = content[content.index('id="import-errors"') :]
    assert "<td>4</td><td><code>sale_price</code></td>" in errors
    shown = content[content.index('id="import-rows"') :]
    assert re.findall(r"<tr[^>]*><td>(\d+)</td>", shown) == ["2", "3", "4"]  # each shown row's number
    assert "<td>4</td><td>invalid</td><td>A-3</td>" in shown
    assert_rejected(response, "'cheap' is not a number.")

    job = ImportJob.objects.get(pk=outcome.job_id)  # the import's result page: the same row number
    assert [(r["row"], r["column"], r["value"]) for r in job.bad_rows] == [(4, "sale_price", "cheap")]


def test_duplicate_sku_differing_in_case_is_caught(admin_client, beverages):
    upload = csv_file([["sku", "name"], ["chai", "One"], ["CHAI ", "Two"]])
    response = preview(admin_client, "product", upload)
    assert [row.number for row in response.context["result"].invalid_rows] == [2]
    assert_rejected(response, "appears more than once")


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(lambda: SimpleUploadedFile("empty.csv", b""), id="empty-file"),
        pytest.param(lambda: csv_file([PRODUCT_HEADER]), id="headers-only"),
    ],
)
def test_empty_file_is_refused(admin_client, upload):
    response = preview(admin_client, "product", upload())
    assert_rejected(response)
    assert response.context["form"].errors["import_file"]


@pytest.mark.parametrize("file_format", [CSV_FORMAT, XLSX_FORMAT])
def test_a_picture_is_not_a_spreadsheet(admin_client, file_format):
    picture = SimpleUploadedFile("photo.png", (FIXTURES / "not-a-spreadsheet.png").read_bytes())
    response = preview(admin_client, "product", picture, file_format)
    assert_rejected(response, "Ensure you have chosen the correct format for the file")


def test_confirm_writes_nothing_if_a_row_became_invalid_after_the_preview(admin_client, beverages):
    ProductFactory(sku="KEEP", category=beverages)
    upload = csv_file([["sku", "name", "category"], ["A-1", "First", "Beverages"], ["A-2", "Second", "Tea"]])
    tea = CategoryFactory(name="Tea")
    response = preview(admin_client, "product", upload)
    assert response.context["confirm_form"] is not None
    tea.delete()

    done = confirm(admin_client, "product", response)

    assert done.status_code == 302 and done.url == url("product", "import")
    assert not Product.objects.filter(sku__startswith="A-").exists()
    [message] = [str(m) for m in done.wsgi_request._messages]
    assert message.startswith("Nothing was imported: rows 2 are invalid.")


def test_stock_level_import_sets_reorder_settings_only(admin_client, warehouse, stocked_product):
    upload = csv_file(
        [
            ["sku", "warehouse", "reorder_point", "reorder_quantity", "on_hand", "allocated"],
            ["CHAI", "MAIN", "15", "40", "999", "3"],
        ]
    )
    confirm(admin_client, "stocklevel", preview(admin_client, "stocklevel", upload))
    level = StockLevel.objects.get()
    assert (level.reorder_point, level.reorder_quantity, level.on_hand, level.allocated) == (15, 40, 10, 0)


def test_stock_level_import_rejects_unknown_warehouse_and_fractional_quantity(admin_client, stocked_product):
    upload = csv_file([["sku", "warehouse", "reorder_point"], ["CHAI", "NOWHERE", "5"], ["CHAI", "MAIN", "2.5"]])
    response = preview(admin_client, "stocklevel", upload)
    invalid = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
    assert invalid == {
        1: {"warehouse": ["No warehouse with code 'NOWHERE'."]},
        2: {"reorder_point": ["'2.5' is not a whole number."]},
    }
    assert StockLevel.objects.get().reorder_point == 0


def test_supplier_products_are_matched_by_supplier_code_and_sku(admin_client, stocked_product):
    supplier = SupplierFactory(code="EXOTIC")
    existing = SupplierProductFactory(supplier=supplier, product=stocked_product, unit_cost=Decimal("5"))
    upload = csv_file([["supplier", "sku", "unit_cost", "preferred"], ["EXOTIC", "CHAI", "6.25", "yes"]])

    response = preview(admin_client, "supplierproduct", upload)
    assert [row.import_type for row in response.context["result"].rows] == ["update"]
    confirm(admin_client, "supplierproduct", response)

    existing.refresh_from_db()
    assert (existing.unit_cost, existing.preferred, SupplierProduct.objects.count()) == (Decimal("6.25"), True, 1)


def test_supplier_product_with_unknown_supplier_is_a_row_error(admin_client, stocked_product):
    response = preview(
        admin_client, "supplierproduct", csv_file([["supplier", "sku", "unit_cost"], ["NOPE", "CHAI", "1"]])
    )
    [row] = response.context["result"].invalid_rows
    assert row.error_dict == {"supplier": ["No supplier with code 'NOPE'."]}
    assert_rejected(response, "No supplier with code 'NOPE'.", written=SupplierProduct.objects.all())


def test_viewer_cannot_import(client, make_user):
    client.force_login(make_user("Viewer"))
    assert client.get(url("product", "import")).status_code == 403
    assert client.get(url("product", "import_template_csv")).status_code == 403


# ---------------------------------------------------------------------------
# Templates: download, then import them unchanged


# model: (class, template headers, what the example row writes) — readable headers, a made-up example row.
IMPORTABLE = {
    "category": (
        Category,
        ["Name", "Parent", "Description"],
        {"name": "Example category", "description__startswith": "Made-up"},
    ),
    "product": (
        Product,
        ["SKU", "Name", "Category", "Unit", "Barcode", "Sale price", "Cost", "Tax rate (%)", "Active"],
        {"sku": "EXAMPLE-001", "name__startswith": "Example product", "sale_price": Decimal("18")},
    ),
    "warehouse": (
        Warehouse,
        ["Code", "Name", "Address", "Active"],
        {"code": "EXAMPLE-WH", "name": "Example warehouse"},
    ),
    "supplier": (
        Supplier,
        [
            "Code",
            "Name",
            "Contact name",
            "Email",
            "Phone",
            "Address",
            "Country",
            "Lead time (days)",
            "Bank account (IBAN)",
            "Active",
        ],
        {"code": "EXAMPLE-SUP", "name__startswith": "Example supplier", "lead_time_days": 7},
    ),
    "supplierproduct": (
        SupplierProduct,
        ["Supplier", "SKU", "Supplier SKU", "Unit cost", "Minimum order quantity", "Preferred"],
        {
            "supplier__code": "EXAMPLE-SUP",
            "product__sku": "EXAMPLE-001",
            "unit_cost": Decimal("11.70"),
            "preferred": True,
        },
    ),
    "stocklevel": (
        StockLevel,
        ["SKU", "Warehouse", "Reorder point", "Reorder quantity"],
        {"product__sku": "EXAMPLE-001", "warehouse__code": "EXAMPLE-WH", "reorder_point": 20, "reorder_quantity": 60},
    ),
}


@pytest.fixture
def template_prerequisites(db):
    """What the example rows refer to: the made-up category, product, supplier and warehouse of the examples."""
    example = CategoryFactory(name="Example category")
    ProductFactory(sku="EXAMPLE-001", name="Old name", category=example, sale_price=Decimal("1"))
    SupplierFactory(code="EXAMPLE-SUP", name="Old name")
    WarehouseFactory(code="EXAMPLE-WH")


@pytest.mark.parametrize("model", IMPORTABLE)
def test_csv_template_has_headers_and_an_example_row_that_imports(admin_client, template_prerequisites, model):
    model_class, headers, written = IMPORTABLE[model]
    response = admin_client.get(url(model, "import_template_csv"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{model}_import_template.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == headers and len(rows) == 2 and any(rows[1])

    assert not model_class.objects.filter(**written).exists()
    upload = SimpleUploadedFile("template.csv", response.content)
    preview_response = preview(admin_client, model, upload)
    assert preview_response.context["confirm_form"] is not None, page_text(preview_response)[:2000]
    confirm(admin_client, model, preview_response)
    assert model_class.objects.filter(**written).exists()


@pytest.mark.parametrize("model", IMPORTABLE)
def test_templates_never_hold_a_real_record(admin_client, model):
    """The example row is made up (EXAMPLE-… codes, "Example …" names): importing it unchanged cannot touch
    a real record such as the demo's Chai (issue 10 §7)."""
    rows = list(csv.reader(io.StringIO(admin_client.get(url(model, "import_template_csv")).content.decode())))
    example = dict(zip(rows[0], rows[1], strict=True))
    key = next(v for k, v in example.items() if k in ("SKU", "Code", "Name"))
    assert key.startswith(("EXAMPLE-", "Example ")), example
    assert not any(word in " ".join(rows[1]) for word in ("Chai", "NW-001", "ALFKI", "Exotic", "Beverages"))


def test_xlsx_template_matches_the_csv_one(admin_client):
    response = admin_client.get(url("supplierproduct", "import_template_xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [[cell or "" for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == IMPORTABLE["supplierproduct"][1]
    assert rows[1][:2] == ["EXAMPLE-SUP", "EXAMPLE-001"]


def test_changelist_offers_the_template_links(admin_client):
    html = admin_client.get(url("product", "changelist")).content.decode()
    assert url("product", "import_template_csv") in html and url("product", "import_template_xlsx") in html
