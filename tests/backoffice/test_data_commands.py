"""``manage.py import_data`` / ``export_data``: the admin's import engine from a shell, and exports it re-reads."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backoffice.data_commands import RESOURCES
from inventory.models import (
    MovementKind,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    Supplier,
    SupplierProduct,
)
from orders.models import Customer, PurchaseOrder, SalesOrder
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return caught.value


def read_errors(path):
    with path.with_name(path.name + ".errors.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


PRODUCTS = [
    ["sku", "name", "category", "sale_price", "cost", "tax_rate", "is_active"],
    ["NW-001", "Chai", "Beverages", "18.00", "11.70", "20", "yes"],
    ["NW-002", "Chang", "Beverages", "19.00", "12.00", "20", "no"],
]


@pytest.fixture
def beverages(db):
    return CategoryFactory(name="Beverages")


@pytest.fixture
def products_csv(tmp_path, beverages):
    return write_csv(tmp_path / "products.csv", PRODUCTS)


def test_products_import_creates_rows_and_prints_a_summary(products_csv):
    out, _ = run("import_data", "products", str(products_csv))
    assert "new 2, updated 0, unchanged 0, errors 0" in out
    chai = Product.objects.get(sku="NW-001")
    assert (chai.name, chai.category.name, chai.sale_price) == ("Chai", "Beverages", Decimal("18.00"))
    assert not Product.objects.get(sku="NW-002").is_active
    assert not (products_csv.parent / "products.csv.errors.csv").exists()


def test_history_names_the_user_given_or_nobody(products_csv, make_user):
    user = make_user("Manager", username="importer")
    run("import_data", "products", str(products_csv), "--user", "importer")
    assert Product.objects.get(sku="NW-001").history.get().history_user == user


def test_history_without_user_is_the_system(products_csv):
    run("import_data", "products", str(products_csv))
    history = Product.objects.get(sku="NW-001").history.get()
    assert (history.history_type, history.history_user) == ("+", None)


def test_unknown_or_inactive_user_is_a_usage_error(products_csv, make_user):
    assert refused("import_data", "products", str(products_csv), "--user", "ghost").returncode == 2
    make_user("Manager", username="gone").__class__.objects.filter(username="gone").update(is_active=False)
    error = refused("import_data", "products", str(products_csv), "--user", "gone")
    assert (error.returncode, str(error)) == (2, "User 'gone' is not active.")
    assert not Product.objects.exists()


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(products_csv, monkeypatch, capsys):
    run("import_data", "products", str(products_csv), "--dry-run")
    assert "row/s" not in capsys.readouterr().err  # output captured (not a TTY): no bar
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    call_command("import_data", "products", str(products_csv))
    bar = capsys.readouterr().err
    assert "2/2" in bar and "importing" in bar
    assert "new 2, updated 0, unchanged 0, errors 0" in terminal.getvalue()


def test_dry_run_writes_nothing(products_csv):
    out, _ = run("import_data", "products", str(products_csv), "--dry-run")
    assert "new 2" in out and "dry run: nothing written" in out
    assert not Product.objects.exists()


def test_changed_rows_need_update(products_csv, beverages):
    ProductFactory(sku="NW-001", name="Old chai", category=beverages)
    error = refused("import_data", "products", str(products_csv))
    assert error.returncode == 1
    assert read_errors(products_csv) == [
        {"row": "2", "column": "sku", "value": "NW-001", "reason": "exists; use --update"}  # header = row 1
    ]
    assert Product.objects.get(sku="NW-001").name == "Old chai"
    assert not Product.objects.filter(sku="NW-002").exists()  # all or nothing

    out, _ = run("import_data", "products", str(products_csv), "--update")
    assert "new 1, updated 1, unchanged 0, errors 0" in out
    assert Product.objects.get(sku="NW-001").name == "Chai"
    assert not (products_csv.parent / "products.csv.errors.csv").exists()  # the stale error file is gone


def test_unchanged_rows_are_fine_without_update(products_csv):
    run("import_data", "products", str(products_csv))
    out, _ = run("import_data", "products", str(products_csv))
    assert "new 0, updated 0, unchanged 2, errors 0" in out


def test_bad_rows_exit_1_with_every_error_in_the_errors_file(tmp_path, beverages):
    path = write_csv(
        tmp_path / "bad.csv",
        [
            ["sku", "name", "category", "sale_price"],
            ["A-1", "Fine", "Beverages", "1.00"],
            ["A-2", "Bad price", "Beverages", "cheap"],
            ["A-3", "Bad category", "Nope", "2.00"],
        ],
    )
    error = refused("import_data", "products", str(path))
    assert error.returncode == 1 and "bad.csv.errors.csv" in str(error)
    assert read_errors(path) == [
        {"row": "3", "column": "sale_price", "value": "cheap", "reason": "'cheap' is not a number."},
        {"row": "4", "column": "category", "value": "Nope", "reason": "No category with name 'Nope'."},
    ]
    assert not Product.objects.exists()


def test_errors_file_lists_every_error_beyond_what_the_admin_shows(tmp_path, beverages, settings):
    settings.IMPORT_PREVIEW_MAX_ERRORS = 2
    rows = [["sku", "name", "sale_price"]] + [[f"A-{n}", "x", "cheap"] for n in range(5)]
    path = write_csv(tmp_path / "bad.csv", rows)
    assert "5 error(s)" in str(refused("import_data", "products", str(path)))
    assert [e["row"] for e in read_errors(path)] == ["2", "3", "4", "5", "6"]  # the spreadsheet's rows


def test_missing_column_is_reported(tmp_path):
    path = write_csv(tmp_path / "p.csv", [["name"], ["Chai"]])
    assert refused("import_data", "products", str(path)).returncode == 1
    [row] = read_errors(path)
    assert "Missing column(s): sku" in row["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["widgets", "f.csv"], "Unknown resource 'widgets'. Known resources: products, supplier-products"),
        (["products", "missing.csv"], "No such file: "),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    args[1] = str(tmp_path / args[1])
    error = refused("import_data", *args)
    assert error.returncode == 2
    assert message in str(error) and "\n" not in str(error)


def test_refused_file_gives_the_readers_message(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    error = refused("import_data", "products", str(empty))
    assert (error.returncode, str(error)) == (2, "“empty.csv” is empty.")
    headers_only = write_csv(tmp_path / "head.csv", [["sku", "name"]])
    assert str(refused("import_data", "products", str(headers_only))) == "“head.csv” has no rows under its header row."
    not_a_sheet = tmp_path / "notes.txt"
    not_a_sheet.write_text("hello")
    assert refused("import_data", "products", str(not_a_sheet)).returncode == 2


def test_xlsx_file_imports(tmp_path, beverages):
    book = openpyxl.Workbook()
    for row in PRODUCTS:
        book.active.append(row)
    path = tmp_path / "products.xlsx"
    book.save(path)
    out, _ = run("import_data", "products", str(path))
    assert "new 2" in out and Product.objects.count() == 2


def test_supplier_products_suppliers_customers_and_reorder_settings(tmp_path, warehouse):
    product = ProductFactory(sku="NW-001")
    suppliers = write_csv(tmp_path / "s.csv", [["code", "name", "lead_time_days"], ["EXOTIC", "Exotic Liquids", "7"]])
    run("import_data", "suppliers", str(suppliers))
    assert Supplier.objects.get(code="EXOTIC").lead_time_days == 7

    prices = write_csv(tmp_path / "sp.csv", [["supplier", "sku", "unit_cost"], ["EXOTIC", "NW-001", "11.70"]])
    run("import_data", "supplier-products", str(prices))
    assert SupplierProduct.objects.get(supplier__code="EXOTIC", product=product).unit_cost == Decimal("11.70")

    customers = write_csv(tmp_path / "c.csv", [["code", "name", "country"], ["alfki", "Alfreds", "Germany"]])
    run("import_data", "customers", str(customers))
    assert Customer.objects.get(code="ALFKI").name == "Alfreds"

    levels = write_csv(
        tmp_path / "r.csv", [["sku", "warehouse", "reorder_point", "reorder_quantity"], ["NW-001", "MAIN", "20", "60"]]
    )
    out, _ = run("import_data", "reorder-settings", str(levels))
    level = StockLevel.objects.get(product=product, warehouse=warehouse)
    assert (level.reorder_point, level.reorder_quantity, level.on_hand) == (20, 60, 0)


def test_historical_orders_import(tmp_path, warehouse):
    ProductFactory(sku="CHAI", sale_price=Decimal("18.00"))
    CustomerFactory(code="ALFKI")
    SupplierFactory(code="EXOTIC")
    sales = write_csv(
        tmp_path / "so.csv",
        [
            ["order_number", "customer", "warehouse", "status", "order_date", "sku", "quantity", "unit_price"],
            ["A-1", "ALFKI", "MAIN", "cancelled", "1997-01-02", "CHAI", "2", "15.00"],
        ],
    )
    out, _ = run("import_data", "sales-orders", str(sales), "--dry-run")
    assert "new 1" in out and not SalesOrder.objects.exists()
    run("import_data", "sales-orders", str(sales))
    assert SalesOrder.objects.get(number="A-1").lines.count() == 1

    purchases = write_csv(
        tmp_path / "po.csv",
        [
            ["order_number", "supplier", "warehouse", "status", "order_date", "sku", "quantity", "unit_cost"],
            ["P-1", "EXOTIC", "MAIN", "cancelled", "1997-01-02", "CHAI", "5", "9.00"],
            ["P-2", "NOBODY", "MAIN", "cancelled", "1997-01-02", "CHAI", "5", "9.00"],
        ],
    )
    assert refused("import_data", "purchase-orders", str(purchases)).returncode == 1
    [error] = read_errors(purchases)
    assert (error["row"], error["column"], error["value"]) == ("3", "supplier", "NOBODY")
    assert not PurchaseOrder.objects.exists()


def test_opening_balances_write_opening_movements_once(tmp_path, warehouse, make_user):
    user = make_user("Manager", username="opener")
    ProductFactory(sku="A")
    ProductFactory(sku="B")
    path = write_csv(
        tmp_path / "open.csv",
        [["sku", "warehouse", "quantity", "unit_cost"], ["A", "MAIN", "10", "2.50"], ["B", "MAIN", "0", ""]],
    )
    out, _ = run("import_data", "opening-balances", str(path), "--dry-run")
    assert "new 1, updated 0, unchanged 1, errors 0" in out and not StockMovement.objects.exists()
    run("import_data", "opening-balances", str(path), "--user", "opener")
    [movement] = StockMovement.objects.all()
    assert (movement.kind, movement.quantity, movement.unit_cost, movement.user) == (
        MovementKind.OPENING,
        10,
        Decimal("2.50"),
        user,
    )
    assert StockLevel.objects.get(product__sku="A").on_hand == 10

    assert refused("import_data", "opening-balances", str(path)).returncode == 1  # twice would double the stock
    assert read_errors(path) == [
        {"row": "2", "column": "sku", "value": "A", "reason": "'A' already has an opening balance in MAIN."}
    ]
    assert StockMovement.objects.count() == 1


def test_opening_balances_report_every_bad_row(tmp_path, warehouse):
    ProductFactory(sku="A")
    path = write_csv(
        tmp_path / "open.csv",
        [
            ["sku", "warehouse", "quantity", "unit_cost"],
            ["A", "MAIN", "10", ""],
            ["NOPE", "MAIN", "1", ""],
            ["A", "FAR", "-3", "x"],
            ["A", "MAIN", "2.5", ""],
        ],
    )
    assert refused("import_data", "opening-balances", str(path)).returncode == 1
    assert [(e["row"], e["column"], e["value"]) for e in read_errors(path)] == [
        ("3", "sku", "NOPE"),
        ("4", "quantity", "-3"),
        ("4", "unit_cost", "x"),
        ("4", "warehouse", "FAR"),
        ("5", "quantity", "2.5"),
        ("5", "warehouse", "MAIN"),  # A in MAIN twice
    ]
    assert not StockMovement.objects.exists()


def test_stock_counts_become_one_adjustment_per_warehouse(tmp_path, warehouse, stocked_product, make_user):
    user = make_user("Warehouse", username="counter")
    other = ProductFactory(sku="TEA")
    WarehouseFactory(code="FAR")
    path = write_csv(
        tmp_path / "count.csv",
        [["sku", "warehouse", "counted"], ["CHAI", "MAIN", "7"], ["TEA", "MAIN", "4"], ["CHAI", "FAR", "0"]],
    )
    out, _ = run("import_data", "stock-counts", str(path), "--dry-run")
    assert "new 2, updated 0, unchanged 1, errors 0" in out and not StockAdjustment.objects.exists()
    run("import_data", "stock-counts", str(path), "--user", "counter")
    [adjustment] = StockAdjustment.objects.all()
    assert (adjustment.warehouse, adjustment.status, adjustment.created_by) == (warehouse, "applied", user)
    assert {(line.product.sku, line.counted_quantity, line.previous_quantity) for line in adjustment.lines.all()} == {
        ("CHAI", 7, 10),
        ("TEA", 4, 0),
    }
    assert StockLevel.objects.get(product=stocked_product, warehouse=warehouse).on_hand == 7
    assert StockLevel.objects.get(product=other, warehouse=warehouse).on_hand == 4
    assert set(StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).values_list("quantity", "user")) == {
        (-3, user.pk),
        (4, user.pk),
    }
    out, _ = run("import_data", "stock-counts", str(path))  # the same count again changes nothing
    assert "new 0, updated 0, unchanged 3" in out and StockAdjustment.objects.count() == 1


def test_stock_count_bad_rows_write_nothing(tmp_path, warehouse, stocked_product):
    StockLevel.objects.filter(product=stocked_product).update(allocated=5)
    path = write_csv(
        tmp_path / "count.csv",
        [["sku", "warehouse", "counted"], ["CHAI", "MAIN", "3"], ["CHAI", "MAIN", "8"], ["CHAI", "MAIN", "lots"]],
    )
    assert refused("import_data", "stock-counts", str(path)).returncode == 1
    assert [(e["row"], e["column"], e["reason"]) for e in read_errors(path)] == [
        ("2", "counted", "Counted 3 but 5 are reserved for orders (ship or release them first)."),
        ("3", "warehouse", "sku 'CHAI' + warehouse 'MAIN' appears more than once in the file (first in row 2)."),
        ("4", "counted", "'lots' is not a number."),
        ("4", "warehouse", "sku 'CHAI' + warehouse 'MAIN' appears more than once in the file (first in row 2)."),
    ]
    assert not StockAdjustment.objects.exists()
    assert StockLevel.objects.get(product=stocked_product).on_hand == 10


def test_stock_counts_refuse_unknown_columns(tmp_path, warehouse):
    path = write_csv(tmp_path / "count.csv", [["sku", "warehouse", "counted", "colour"], ["X", "MAIN", "1", "red"]])
    assert refused("import_data", "stock-counts", str(path)).returncode == 1
    assert read_errors(path)[0]["reason"].startswith("Unknown column(s): colour.")


# Export ------------------------------------------------------------------------------------------


def test_export_csv_to_stdout_has_the_import_columns(beverages):
    ProductFactory(sku="NW-001", name="Chai", category=beverages, sale_price=Decimal("18.00"))
    out, _ = run("export_data", "products")
    rows = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
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
    assert rows[1][:3] == ["NW-001", "Chai", "Beverages"] and Decimal(rows[1][5]) == Decimal("18.00")


def test_export_filters(tmp_path, beverages):
    ProductFactory(sku="ON", is_active=True)
    ProductFactory(sku="OFF", is_active=False)
    out, _ = run("export_data", "products", "--filter", "is_active=false")
    skus = [row[0] for row in csv.reader(io.StringIO(out.lstrip("\ufeff")))][1:]
    assert skus == ["OFF"]
    out, _ = run("export_data", "products", "--filter", "sku__startswith=O", "--filter", "is_active=true")
    assert [row[0] for row in csv.reader(io.StringIO(out.lstrip("\ufeff")))][1:] == ["ON"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["products", "--filter", "colour=red"], "Bad filter 'colour=red': Product has no field 'colour'"),
        (["products", "--filter", "sale_price__gte=cheap"], "Bad filter sale_price__gte=cheap"),
        (["products", "--filter", "nonsense"], "Bad filter 'nonsense': write it as key=value"),
        (["widgets"], "Unknown resource 'widgets'"),
        (["sales-orders"], "'sales-orders' cannot be exported by export_data"),
        (["stock-counts"], "'stock-counts' cannot be exported by export_data"),
        (["products", "--format", "xlsx"], "XLSX is written to a file: give --output FILE.xlsx."),
    ],
)
def test_export_usage_errors_exit_2(args, message):
    error = refused("export_data", *args)
    assert error.returncode == 2 and message in str(error)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_round_trip_export_then_import_writes_nothing(tmp_path, warehouse, beverages, file_format):
    chai = ProductFactory(
        sku="NW-001", name="Chai, “spiced”", category=beverages, barcode="", sale_price=Decimal("18.50")
    )
    ProductFactory(sku="NW-002", name="Chang", category=None, is_active=False)
    supplier = SupplierFactory(code="EXOTIC", name="Exotic", lead_time_days=7)
    SupplierProduct.objects.create(supplier=supplier, product=chai, unit_cost=Decimal("11.70"), preferred=True)
    CustomerFactory(code="ALFKI", name="Alfreds", credit_limit=Decimal("5000.00"))
    StockLevel.objects.create(product=chai, warehouse=warehouse, reorder_point=20, reorder_quantity=60)
    for name, resource in RESOURCES.items():
        if not resource.exportable:
            continue
        path = tmp_path / f"{name}.{file_format}"
        run("export_data", name, "--format", file_format, "--output", str(path))
        history = sum(model.history.count() for model in (Product, Supplier, SupplierProduct, Customer, StockLevel))
        out, _ = run("import_data", name, str(path))
        assert "new 0, updated 0" in out and "errors 0" in out, (name, out)
        assert (
            sum(model.history.count() for model in (Product, Supplier, SupplierProduct, Customer, StockLevel))
            == history
        )
