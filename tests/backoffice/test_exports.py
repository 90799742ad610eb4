"""The one export path (backoffice.exports): streamed, typed, formula-safe CSV/XLSX/JSON, and the admin on top of it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from import_export import fields

from backoffice import exports
from backoffice.export_admin import ResourceExport
from backoffice.exports import Column
from inventory.models import MovementKind, Product, StockLevel, StockMovement
from inventory.resources import ProductResource
from inventory.services import StockLine, stock_issue, stock_receive
from orders import services
from orders.resources import PurchaseOrderLineResource, SalesOrderLineResource
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"  # positions of the admin export form's format choice
HOSTILE_NAMES = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"]


def export(client, model: str, file_format: str, app: str = "inventory", **data):
    return client.post(reverse(f"admin:{app}_{model}_export"), {"format": file_format, "resource": "0", **data})


def body(response) -> bytes:
    if isinstance(response, StreamingHttpResponse | FileResponse):
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"), newline="")))


def workbook_sheet(response):
    return openpyxl.load_workbook(io.BytesIO(body(response))).active


def calamine_column(content: bytes, header: str) -> list:
    """The values under ``header`` as python-calamine (the import engine's XLSX reader) reads them."""
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


def column(sheet, header: str) -> list:
    """The cells under ``header`` (data rows only)."""
    headers = [cell.value for cell in sheet[1]]
    index = headers.index(header)
    return [row[index] for row in sheet.iter_rows(min_row=2)]


@pytest.fixture
def hostile_products(db):
    category = CategoryFactory(name="Beverages")
    return [
        ProductFactory(sku=f"H-{number}", name=name, category=category, sale_price=Decimal("18.5000"))
        for number, name in enumerate(HOSTILE_NAMES)
    ]


# ---------------------------------------------------------------------------
# The one rule


@pytest.mark.parametrize("text", HOSTILE_NAMES)
def test_text_starting_like_a_formula_gets_a_leading_quote(text):
    assert exports.neutralise_formula(text) == "'" + text
    assert exports.csv_cell(text, exports.TEXT) == "'" + text


@pytest.mark.parametrize("text", ["Chai", "", "a=b", "1+1", " =x", "'quoted"])
def test_ordinary_text_is_left_alone(text):
    assert exports.neutralise_formula(text) == text


def test_numbers_stay_numbers_even_negative():
    assert exports.csv_cell(-2, exports.INTEGER) == "-2"
    assert exports.csv_cell(Decimal("-18.50"), exports.MONEY) == "-18.50"
    assert exports.csv_cell(Decimal("1E+3"), exports.DECIMAL) == "1000"  # never scientific notation
    # The same text in a text column is neutralised: the column type decides, not the look of the value.
    assert exports.csv_cell("-2", exports.TEXT) == "'-2"
    # A string where a number was expected (a report's "—", "-n/a") is text, and neutralised.
    assert exports.csv_cell("-n/a", exports.INTEGER) == "'-n/a"


def test_unknown_format_or_type_is_a_clear_error():
    with pytest.raises(exports.ExportError, match="Unknown export format 'pdf'"):
        exports.write_export([], [Column("a")], "pdf", io.BytesIO())
    with pytest.raises(exports.ExportError, match="unknown type 'money2'"):
        Column("a", type="money2")


# ---------------------------------------------------------------------------
# Writers, from any rows


COLUMNS = [
    Column("name", "Name"),
    Column("quantity", "Quantity", exports.INTEGER),
    Column("price", "Price", exports.MONEY),
    Column("day", "Day", exports.DATE),
    Column("at", "At", exports.DATETIME),
    Column("active", "Active", exports.BOOL),
]
ROWS = [
    ("=1+2", -3, Decimal("18.50"), dt.date(2025, 3, 1), dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC), True),
    {"name": "Chai", "quantity": 4},  # dict rows: missing keys are empty cells
]


def test_csv_writer_types_and_neutralises():
    buffer = io.BytesIO()
    exports.write_export(ROWS, COLUMNS, "csv", buffer)

    assert buffer.getvalue().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads accents right
    rows = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))))
    assert rows[0] == ["Name", "Quantity", "Price", "Day", "At", "Active"]
    assert rows[1][:4] == ["'=1+2", "-3", "18.50", "2025-03-01"]
    assert rows[1][5] == "yes"
    assert rows[2] == ["Chai", "4", "", "", "", ""]


def test_json_writer_keeps_types_and_exact_decimals():
    buffer = io.BytesIO()
    exports.write_export(ROWS, COLUMNS, "json", buffer)

    data = json.loads(buffer.getvalue(), parse_float=Decimal)
    assert data[0] == {
        "name": "=1+2",  # JSON is data, not a spreadsheet
        "quantity": -3,
        "price": Decimal("18.50"),
        "day": "2025-03-01",
        "at": "2025-03-01T09:30:00+00:00",
        "active": True,
    }
    assert data[1]["price"] is None


def test_xlsx_writer_cells_are_typed_and_never_formulas():
    buffer = io.BytesIO()
    exports.write_export(ROWS, COLUMNS, "xlsx", buffer, title="Stock")

    book = openpyxl.load_workbook(buffer)
    sheet = book.active
    assert sheet.title == "Stock"
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    name, quantity, price, day, at, active = sheet[2]
    assert (name.data_type, name.value, name.quotePrefix) == ("s", "=1+2", True)
    assert (quantity.data_type, quantity.value) == ("n", -3)
    assert (price.data_type, price.value, price.number_format) == ("n", 18.5, "#,##0.00")
    assert day.is_date and day.value == dt.datetime(2025, 3, 1)
    assert at.is_date and at.value == dt.datetime(2025, 3, 1, 9, 30)  # local time (UTC in tests), no zone
    assert (active.data_type, active.value) == ("b", True)


def test_response_streams_csv_and_json_and_serves_xlsx_from_a_file():
    csv_response = exports.export_response(iter(ROWS), COLUMNS, "csv", "stock-2025-03-01.csv")
    json_response = exports.export_response(iter(ROWS), COLUMNS, "json", "stock-2025-03-01.json")
    xlsx_response = exports.export_response(iter(ROWS), COLUMNS, "xlsx", "stock-2025-03-01.xlsx")

    assert isinstance(csv_response, StreamingHttpResponse) and isinstance(json_response, StreamingHttpResponse)
    assert isinstance(xlsx_response, FileResponse)
    assert csv_response["Content-Disposition"] == 'attachment; filename="stock-2025-03-01.csv"'
    assert 'filename="stock-2025-03-01.xlsx"' in xlsx_response["Content-Disposition"]
    assert len(csv_rows(csv_response)) == 3
    assert len(json.loads(body(json_response))) == 2
    assert openpyxl.load_workbook(io.BytesIO(body(xlsx_response))).active.max_row == 3


def test_ledger_rows_from_a_queryset_keep_negative_quantities_numeric(warehouse, stocked_product):
    stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 3)], kind=MovementKind.SHIPMENT, reference="=cmd")
    columns = [
        Column("reference"),
        Column("quantity", type=exports.INTEGER),
        Column("unit_cost", type=exports.MONEY),
        Column("created_at", type=exports.DATETIME),
    ]
    movements = StockMovement.objects.order_by("pk").values_list("reference", "quantity", "unit_cost", "created_at")
    rows = exports.queryset_rows(movements, tuple, chunk_size=1)

    sheet = openpyxl.load_workbook(io.BytesIO(body(exports.export_response(rows, columns, "xlsx", "l.xlsx")))).active

    (opening, shipment) = list(sheet.iter_rows(min_row=2))
    assert (opening[1].data_type, opening[1].value) == ("n", 10)
    assert (shipment[1].data_type, shipment[1].value) == ("n", -3)
    assert (shipment[0].value, shipment[0].quotePrefix) == ("=cmd", True)
    assert shipment[3].is_date


def test_export_filename_names_what_and_when():
    assert exports.export_filename("sales orders", "xlsx", day=dt.date(2025, 3, 1)) == "sales-orders-2025-03-01.xlsx"


# ---------------------------------------------------------------------------
# Admin list exports


def test_admin_csv_export_is_streamed_and_neutralised(admin_client, hostile_products):
    response = export(admin_client, "product", CSV_FORMAT)

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert f"products-{timezone.localdate().isoformat()}.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == [
        "SKU",
        "Name",
        "Category",
        "Unit",
        "Barcode",
        "Sale price",
        "Cost",
        "Tax rate (%)",
        "Active",
        "Average cost",
    ]  # readable headers; the import reads them back (issue 10 §7)
    names = {row[0]: row[1] for row in rows[1:]}
    assert names == {f"H-{number}": "'" + name for number, name in enumerate(HOSTILE_NAMES)}
    assert {row[5] for row in rows[1:]} == {"18.5000"}  # numbers are not quoted


def test_admin_xlsx_export_has_no_formula_cells_and_typed_numbers(admin_client, hostile_products):
    response = export(admin_client, "product", XLSX_FORMAT)

    assert response.status_code == 200
    assert f"products-{timezone.localdate().isoformat()}.xlsx" in response["Content-Disposition"]
    content = body(response)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert not [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    names = column(sheet, "Name")
    # Every name comes back exactly, read as Excel and the import engine read it: a bare carriage
    # return is stored as Excel's own escape ``_x000D_`` (XML would turn a literal one into a line
    # feed), which python-calamine decodes and openpyxl's reader leaves as it is.
    assert sorted(calamine_column(content, "Name")) == sorted(HOSTILE_NAMES)
    assert all(cell.data_type == "s" and (cell.quotePrefix or cell.value.startswith("'")) for cell in names)
    prices = column(sheet, "Sale price")
    assert {(cell.data_type, cell.value) for cell in prices} == {("n", 18.5)}
    assert prices[0].number_format.startswith("#,##0.00")
    assert {cell.value for cell in column(sheet, "Active")} == {True}


def test_admin_xlsx_integer_quantities_are_numbers(admin_client, warehouse, stocked_product):
    sheet = workbook_sheet(export(admin_client, "stocklevel", XLSX_FORMAT))

    on_hand = column(sheet, "On hand")
    assert [(cell.data_type, cell.value) for cell in on_hand] == [("n", 10)]
    assert column(sheet, "SKU")[0].value == "CHAI"


def test_admin_ledger_export_keeps_negative_quantities_numeric(admin_client, warehouse, stocked_product):
    stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 3)], kind=MovementKind.SHIPMENT, reference="-SO-1")
    assert "export/" in admin_client.get(reverse("admin:inventory_stockmovement_changelist")).content.decode()
    form = admin_client.get(reverse("admin:inventory_stockmovement_export"))  # the format choice, as for every list
    assert form.status_code == 200
    assert [label for value, label in form.context["form"].fields["format"].choices if value != ""] == ["csv", "xlsx"]

    sheet = workbook_sheet(export(admin_client, "stockmovement", XLSX_FORMAT))
    assert [cell.value for cell in sheet[1]] == [
        "Created at", "Kind", "SKU", "Product name", "Warehouse", "Quantity", "Balance after", "Unit cost",
        "Reference", "Note", "User",
    ]  # fmt: skip
    quantities = [(cell.data_type, cell.value) for cell in column(sheet, "Quantity")]
    assert sorted(quantities) == [("n", -3), ("n", 10)]
    assert all(cell.is_date for cell in column(sheet, "Created at"))
    assert {cell.value for cell in column(sheet, "Unit cost")} == {9}

    rows = {row[5]: row for row in csv_rows(export(admin_client, "stockmovement", CSV_FORMAT))[1:]}
    assert set(rows) == {"10", "-3"}  # a negative number is not text: no quote
    assert rows["-3"][8] == "'-SO-1"  # text starting with "-" is


def test_admin_export_follows_warehouse_scoping(client, make_user, warehouse, stocked_product):
    other = WarehouseFactory(code="OTHER")
    stock_receive(lines=[StockLine(stocked_product.pk, other.pk, 5, Decimal("9"))], kind=MovementKind.OPENING)
    keeper = make_user("Warehouse")
    warehouse.staff.add(keeper)
    client.force_login(keeper)

    rows = csv_rows(export(client, "stocklevel", CSV_FORMAT))

    assert StockLevel.objects.count() == 2
    assert [row[1] for row in rows[1:]] == ["MAIN"]


@pytest.fixture
def orders(warehouse, stocked_product):
    customer = CustomerFactory(name="=evil()")
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=None)
    services.sales_order_line_add(order=order, product=stocked_product, quantity=2, user=None)
    supplier = SupplierFactory()
    purchase = services.purchase_order_create(supplier=supplier, warehouse=warehouse, user=None)
    services.purchase_order_line_add(order=purchase, product=stocked_product, quantity=7, user=None)
    return order, purchase


def test_sales_order_export_keeps_one_row_per_line_with_its_columns(admin_client, orders):
    order, _ = orders
    sheet = workbook_sheet(export(admin_client, "salesorder", XLSX_FORMAT, app="orders"))

    resource = SalesOrderLineResource()
    assert [cell.value for cell in sheet[1]] == [resource.column_label(h) for h in resource.get_export_headers()]
    assert [cell.value for cell in sheet[1]] == [
        "Order number", "Order date", "Required date", "Status", "Customer code", "Customer name",
        "Customer reference", "Warehouse", "SKU", "Product name", "Quantity", "Unit price", "Discount percent",
        "Tax rate (%)", "Net amount", "Tax amount", "Total amount", "Quantity reserved", "Quantity shipped",
        "Order total",
    ]  # fmt: skip
    line = dict(zip([cell.value for cell in sheet[1]], sheet[2], strict=True))
    assert line["Order number"].value == order.number
    assert line["Order date"].is_date and line["Order date"].value.date() == order.order_date
    assert (line["Quantity"].data_type, line["Quantity"].value) == ("n", 2)
    assert (line["Unit price"].data_type, line["Unit price"].value) == ("n", 18)
    assert (line["Customer name"].value, line["Customer name"].quotePrefix) == ("=evil()", True)
    assert line["Order total"].data_type == "n"


def test_purchase_order_csv_export_keeps_one_row_per_line_with_its_columns(admin_client, orders):
    _, purchase = orders
    response = export(admin_client, "purchaseorder", CSV_FORMAT, app="orders")

    assert isinstance(response, StreamingHttpResponse)
    assert f"purchase-orders-{timezone.localdate().isoformat()}.csv" in response["Content-Disposition"]
    header, line = csv_rows(response)
    assert header == [
        "Order number", "Order date", "Expected date", "Status", "Supplier code", "Supplier name",
        "Supplier reference", "Warehouse", "SKU", "Product name", "Quantity", "Unit cost", "Line total",
        "Quantity received", "Order total",
    ]  # fmt: skip
    resource = PurchaseOrderLineResource()
    assert header == [resource.column_label(h) for h in resource.get_export_headers()]
    row = dict(zip(header, line, strict=True))
    assert (row["Order number"], row["SKU"], row["Quantity"]) == (purchase.number, "CHAI", "7")


def test_export_needs_the_view_permission(client, make_user, hostile_products):
    client.force_login(make_user(None, username="nobody"))
    assert export(client, "product", CSV_FORMAT).status_code == 403


class ProductWithExtrasResource(ProductResource):
    """Columns that need the model instance: a dehydrate method and a related record rendered by str()."""

    label = fields.Field(column_name="label")
    category_object = fields.Field(attribute="category", column_name="category_object")

    class Meta(ProductResource.Meta):
        fields = (*ProductResource.Meta.fields, "label", "category_object")

    def dehydrate_label(self, product):
        return f"={product.sku}"


def test_resource_rows_read_as_tuples_match_rows_read_from_instances(hostile_products):
    fast = ResourceExport(ProductResource(), Product.objects.order_by("sku"))
    slow = ResourceExport(ProductResource(), Product.objects.order_by("sku"))
    slow._paths = None

    assert fast._paths is not None
    assert [list(row) for row in fast] == [list(row) for row in slow]


def test_resource_columns_needing_instances_are_exported_neutralised(hostile_products):
    data = ResourceExport(ProductWithExtrasResource(), Product.objects.order_by("sku"))
    buffer = io.BytesIO()
    exports.write_export(data, data.columns, "csv", buffer)

    assert data._paths is None
    first = dict(zip(*list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))))[:2], strict=True))
    assert (first["Label"], first["Category object"], first["Sale price"]) == ("'=H-0", "Beverages", "18.5000")


# ---------------------------------------------------------------------------
# An export re-imports unchanged


def import_preview(client, name: str, content: bytes, file_format: str):
    upload = SimpleUploadedFile(name, content)
    return client.post(
        reverse("admin:inventory_product_import"), {"format": file_format, "resource": "0", "import_file": upload}
    )


@pytest.fixture
def catalogue(db):
    category = CategoryFactory(name="Beverages")
    ProductFactory(sku="CHAI", name="Chai", category=category, sale_price=Decimal("18"), cost=Decimal("11.7"))
    ProductFactory(sku="CHANG", name="Chang — 24 × 12 oz", category=None, is_active=False, barcode="0123")
    ProductFactory(sku="ANISEED", name="Aniseed Syrup", unit="12 - 550 ml bottles", tax_rate=Decimal("0"))


@pytest.mark.parametrize("file_format, name", [(CSV_FORMAT, "products.csv"), (XLSX_FORMAT, "products.xlsx")])
def test_an_export_reimports_with_nothing_changed(admin_client, catalogue, file_format, name):
    exported = body(export(admin_client, "product", file_format))

    response = import_preview(admin_client, name, exported, file_format)

    assert response.status_code == 200
    outcome = response.context["outcome"]
    assert (outcome.new, outcome.updated, outcome.error_count) == (0, 0, 0)
    assert outcome.unchanged == Product.objects.count() == 3


def test_a_csv_export_of_formula_like_names_reimports_unchanged(admin_client, hostile_products):
    """CSV carries the neutralising quote in the text; the import removes exactly that quote again."""
    Product.objects.filter(name__in=["\tx", "\rx"]).delete()  # imports strip surrounding whitespace
    exported = body(export(admin_client, "product", CSV_FORMAT))
    assert "'=HYPERLINK" in exported.decode("utf-8-sig")

    outcome = import_preview(admin_client, "products.csv", exported, CSV_FORMAT).context["outcome"]

    assert (outcome.new, outcome.updated, outcome.error_count, outcome.unchanged) == (0, 0, 0, 4)


def test_an_xlsx_export_of_formula_like_names_reimports_unchanged(admin_client, hostile_products):
    """In XLSX the quote prefix is a cell style: the text itself is kept, so the round trip is exact."""
    Product.objects.filter(name__in=["\tx", "\rx"]).delete()  # imports strip surrounding whitespace
    exported = body(export(admin_client, "product", XLSX_FORMAT))

    outcome = import_preview(admin_client, "products.xlsx", exported, XLSX_FORMAT).context["outcome"]

    assert (outcome.new, outcome.updated, outcome.error_count, outcome.unchanged) == (0, 0, 0, 4)
