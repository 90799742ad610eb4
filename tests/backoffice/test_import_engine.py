"""The bulk import engine (backoffice.bulk_import): constant queries per batch for every bulk resource, progress,
Confirm writing the validated plan without a second pass, and what happens when the data changed meanwhile."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice import bulk_import, bulk_writes, import_plans
from backoffice.imports import ResourceTarget, import_apply, import_validate
from backoffice.uploads import read_upload
from inventory.models import Product, StockLevel, Supplier, SupplierProduct
from inventory.resources import ProductResource, StockLevelResource, SupplierProductResource, SupplierResource
from orders.models import Customer
from orders.resources import CustomerResource
from tests.factories import CategoryFactory, ProductFactory, SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def sheet_of(header, rows, name="file.csv"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return read_upload(io.BytesIO(buffer.getvalue().encode()), file_format="csv", name=name)


def product_rows(count, start=0):
    return [[f"P-{i:05d}", f"Product {i}", "Tea", f"{i % 50}.25", "yes"] for i in range(start, start + count)]


PRODUCT_HEADER = ["sku", "name", "category", "sale_price", "is_active"]


def query_count(run) -> int:
    with CaptureQueriesContext(connection) as context:
        outcome = run()
    assert outcome.ok, outcome.errors
    return len(context.captured_queries)


# Constant queries per batch, for each bulk resource ---------------------------------------------------


@pytest.fixture
def catalogue(db):
    CategoryFactory(name="Tea")
    SupplierFactory(code="ACME")
    WarehouseFactory(code="MAIN")


def files(kind, count):
    """A valid file of ``count`` new rows of resource ``kind`` (products exist for the ones that need them)."""
    if kind == "products":
        return ProductResource, sheet_of(PRODUCT_HEADER, product_rows(count, start=count * 10))
    if kind == "suppliers":
        rows = [[f"S{count}-{i}", f"Supplier {i}", "7", "yes"] for i in range(count)]
        return SupplierResource, sheet_of(["code", "name", "lead_time_days", "is_active"], rows)
    if kind == "customers":
        rows = [[f"C{count}-{i}", f"Customer {i}", "DE"] for i in range(count)]
        return CustomerResource, sheet_of(["code", "name", "country"], rows)
    skus = [f"Q{count}-{i}" for i in range(count)]
    Product.objects.bulk_create([Product(sku=sku, name=sku) for sku in skus])
    if kind == "supplier-products":
        rows = [["ACME", sku, f"S-{sku}", "1.50", "2", "no"] for sku in skus]
        header = ["supplier", "sku", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred"]
        return SupplierProductResource, sheet_of(header, rows)
    rows = [[sku, "MAIN", "5", "20"] for sku in skus]
    return StockLevelResource, sheet_of(["sku", "warehouse", "reorder_point", "reorder_quantity"], rows)


@pytest.mark.parametrize("kind", ["products", "supplier-products", "reorder-settings", "customers", "suppliers"])
def test_the_engine_runs_the_same_queries_for_1000_and_3000_rows(catalogue, admin_user, kind):
    resource_class, small = files(kind, 1000)
    target = ResourceTarget(resource_class)
    assert bulk_import.supports_bulk(resource_class)
    small_validate = query_count(lambda: import_validate(sheet=small, target=target, user=admin_user))
    small_apply = query_count(lambda: import_apply(sheet=small, target=target, user=admin_user))

    _, large = files(kind, 3000)
    large_validate = query_count(lambda: import_validate(sheet=large, target=target, user=admin_user))
    large_apply = query_count(lambda: import_apply(sheet=large, target=target, user=admin_user))

    assert small_validate == large_validate <= 8
    # Writes: one statement per batch of rows (PostgreSQL: 5,000 rows; SQLite: as many as its parameters allow).
    assert small_apply <= large_apply <= small_apply + 12
    model = resource_class._meta.model
    assert model.objects.count() >= 4000
    assert model.history.filter(history_user=admin_user, history_type="+").count() == 4000


def test_updates_query_the_same_for_100_and_1000_changed_rows(catalogue, admin_user):
    target = ResourceTarget(ProductResource)
    rows = product_rows(2000)
    assert import_apply(sheet=sheet_of(PRODUCT_HEADER, rows), target=target, user=admin_user).new == 2000

    def changed(count):
        for row in rows[:count]:
            row[3] = f"{float(row[3]) + 1:.2f}"
        return sheet_of(PRODUCT_HEADER, rows)

    few = query_count(lambda: import_apply(sheet=changed(100), target=target, user=admin_user))
    many = query_count(lambda: import_apply(sheet=changed(1000), target=target, user=admin_user))
    assert few == many
    assert Product.history.filter(history_type="~").count() == 1100


# Progress ---------------------------------------------------------------------------------------------


def test_progress_is_reported_once_per_batch_in_each_pass(catalogue, admin_user, monkeypatch):
    monkeypatch.setattr(bulk_import, "ROW_BATCH", 100)
    monkeypatch.setattr(bulk_writes, "PG_WRITE_BATCH", 100)
    sheet = sheet_of(PRODUCT_HEADER, product_rows(450))
    target = ResourceTarget(ProductResource)
    seen = []

    preview = import_validate(sheet=sheet, target=target, user=admin_user, progress=lambda d, t: seen.append((d, t)))
    assert [d for d, _ in seen if 0 < d < 450] == [100, 200, 300, 400] and seen[-1] == (450, 450)
    assert {t for _, t in seen} == {450}

    seen.clear()
    done = import_apply(
        sheet=sheet, target=target, user=admin_user, plan=preview.plan, progress=lambda d, t: seen.append((d, t))
    )
    assert done.new == 450
    assert [d for d, _ in seen if 0 < d < 450] == [100, 200, 300, 400] and seen[-1] == (450, 450)


# Confirm writes what the preview validated ----------------------------------------------------------------


def test_confirm_writes_the_plan_without_validating_again(catalogue, admin_user, monkeypatch):
    target = ResourceTarget(ProductResource)
    sheet = sheet_of(PRODUCT_HEADER, product_rows(300))
    preview = import_validate(sheet=sheet, target=target, user=admin_user)
    assert (preview.new, preview.plan.ok) == (300, True)

    def no_second_pass(self):
        raise AssertionError("validated twice")

    monkeypatch.setattr(bulk_import.BulkImport, "validate", no_second_pass)
    done = import_apply(sheet=sheet, target=target, user=admin_user, plan=preview.plan)

    assert (done.new, done.error_count) == (300, 0)
    assert Product.objects.filter(sku__startswith="P-").count() == 300
    assert Product.history.filter(history_type="+", history_user=admin_user).count() == 300


def test_only_changed_rows_are_written_and_historised(catalogue, admin_user):
    target = ResourceTarget(ProductResource)
    rows = product_rows(200)
    import_apply(sheet=sheet_of(PRODUCT_HEADER, rows), target=target, user=admin_user)
    before = dict(Product.objects.values_list("sku", "updated_at"))
    for row in rows[::10]:
        row[1] = row[1] + " (renamed)"

    preview = import_validate(sheet=sheet_of(PRODUCT_HEADER, rows), target=target, user=admin_user)
    assert (preview.new, preview.updated, preview.unchanged) == (0, 20, 180)
    done = import_apply(sheet=sheet_of(PRODUCT_HEADER, rows), target=target, user=admin_user, plan=preview.plan)

    assert (done.updated, done.unchanged) == (20, 180)
    after = dict(Product.objects.values_list("sku", "updated_at"))
    touched = {sku for sku in after if after[sku] != before[sku]}
    assert touched == {row[0] for row in rows[::10]}
    changes = Product.history.filter(history_type="~")
    assert changes.count() == 20 and all(name.endswith("(renamed)") for name in changes.values_list("name", flat=True))


def test_a_row_changed_by_someone_else_after_the_preview_is_checked_again(catalogue, admin_user):
    target = ResourceTarget(ProductResource)
    rows = product_rows(20)
    import_apply(sheet=sheet_of(PRODUCT_HEADER, rows), target=target, user=admin_user)
    rows[0][3] = "99.00"
    sheet = sheet_of(PRODUCT_HEADER, rows)
    preview = import_validate(sheet=sheet, target=target, user=admin_user)
    assert preview.updated == 1
    Product.objects.filter(sku="P-00000").update(sale_price=Decimal("99.00"), name="Changed meanwhile")

    done = import_apply(sheet=sheet, target=target, user=admin_user, plan=preview.plan)

    # Checked again against the data as it is now: the price is already 99, only the name goes back.
    assert done.ok and done.updated == 1
    assert any("changed since the preview" in note for note in done.notes)
    assert Product.objects.get(sku="P-00000").name == "Product 0"


def test_a_plan_is_refused_when_a_new_key_was_taken_meanwhile(catalogue, admin_user):
    target = ResourceTarget(ProductResource)
    sheet = sheet_of(PRODUCT_HEADER, product_rows(5))
    preview = import_validate(sheet=sheet, target=target, user=admin_user)
    ProductFactory(sku="P-00003", name="Created meanwhile")
    resource = ProductResource()

    with pytest.raises(bulk_import.PlanOutdated) as refused:
        bulk_writes.write_plan(preview.plan, resource, admin_user)

    assert "P-00003" in refused.value.message and "Nothing was written" in refused.value.message
    assert Product.objects.count() == 1


def test_the_stored_plan_is_bound_to_its_preview(catalogue, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    target = ResourceTarget(ProductResource)
    outcome = import_validate(sheet=sheet_of(PRODUCT_HEADER, product_rows(3)), target=target, user=admin_user)
    preview = SimpleNamespace(
        stored_name="abc.csv", token="t" * 40, user_id=admin_user.pk, sha256="f" * 64, target=target.name, pk=1
    )
    assert import_plans.save_plan(preview, outcome.plan)
    assert import_plans.load_plan(preview).new_rows == outcome.plan.new_rows

    for change in ({"user_id": admin_user.pk + 1}, {"sha256": "e" * 64}, {"token": "u" * 40}):
        assert import_plans.load_plan(SimpleNamespace(**{**vars(preview), **change})) is None
    path = import_plans.plan_path(preview)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert import_plans.load_plan(preview) is None  # tampered: refused, the file is validated again


# Resources on the bulk path keep their rules -------------------------------------------------------------


def test_supplier_products_and_reorder_settings_update_by_their_two_part_key(catalogue, admin_user):
    product = ProductFactory(sku="TEA-1")
    supplier = Supplier.objects.get(code="ACME")
    header = ["supplier", "sku", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred"]
    target = ResourceTarget(SupplierProductResource)
    first = import_apply(
        sheet=sheet_of(header, [["ACME", "TEA-1", "A1", "2.00", "1", "yes"]]), target=target, user=admin_user
    )
    again = import_apply(
        sheet=sheet_of(header, [["ACME", "TEA-1", "A1", "2.50", "1", "yes"]]), target=target, user=admin_user
    )
    assert (first.new, again.updated) == (1, 1)
    assert SupplierProduct.objects.get(supplier=supplier, product=product).unit_cost == Decimal("2.5")

    levels = ResourceTarget(StockLevelResource)
    header = ["sku", "warehouse", "reorder_point", "reorder_quantity"]
    import_apply(sheet=sheet_of(header, [["TEA-1", "MAIN", "5", "10"]]), target=levels, user=admin_user)
    bad = import_apply(
        sheet=sheet_of(header, [["TEA-1", "MAIN", "-1", "10"], ["NOPE", "MAIN", "1", "1"]]),
        target=levels,
        user=admin_user,
    )
    assert not bad.ok and {(e["row"], e["column"]) for e in bad.errors} == {(2, "reorder_point"), (3, "sku")}
    assert StockLevel.objects.get().reorder_point == 5


def test_a_new_customer_imported_by_sales_gets_no_credit_and_protected_changes_are_refused(catalogue, make_user):
    sales = make_user("Sales")
    target = ResourceTarget(CustomerResource)
    created = import_apply(sheet=sheet_of(["code", "name"], [["new1", "New customer"]]), target=target, user=sales)
    assert created.new == 1
    customer = Customer.objects.get(code="NEW1")  # upper-cased by the resource's own row hook
    assert customer.credit_limit == Decimal("0")

    refused = import_apply(
        sheet=sheet_of(["code", "name", "credit_limit"], [["NEW1", "New customer", "5000"]]), target=target, user=sales
    )
    assert not refused.ok and refused.errors[0]["column"] == "credit_limit"
    assert "Only a Manager or Admin may change credit_limit" in refused.errors[0]["reason"]
    assert Customer.objects.get(code="NEW1").credit_limit == Decimal("0")
