"""The bulk path of the import engine (backoffice.bulk_import) for products: queries, history, all or nothing."""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.bulk_writes import BATCH_SIZE
from backoffice.imports import ResourceTarget, import_apply, import_validate
from backoffice.uploads import read_upload
from inventory.models import Product
from inventory.resources import ProductResource
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HEADER = ["sku", "name", "category", "barcode", "sale_price", "cost", "tax_rate", "is_active"]


def product_rows(count, *, start=0, price="10.00"):
    categories = ["Beverages", "Snacks", ""]
    return [
        [f"P-{i:05d}", f"Product {i}", categories[i % 3], f"BC{i:08d}" if i % 2 else "", price, "4.5", "20", "yes"]
        for i in range(start, start + count)
    ]


def sheet_of(rows, header=HEADER):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return read_upload(io.BytesIO(buffer.getvalue().encode()), file_format="csv", name="products.csv")


@pytest.fixture
def categories(db):
    return CategoryFactory(name="Beverages"), CategoryFactory(name="Snacks")


def queries_of(run):
    with CaptureQueriesContext(connection) as context:
        outcome = run()
    return outcome, [query["sql"] for query in context.captured_queries]


def write_batches(model, rows: int) -> int:
    """The most statements inserting ``rows`` rows of ``model`` take (Django assumes 999 parameters on SQLite)."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    size = min(BATCH_SIZE, connection.ops.bulk_batch_size(fields, [None] * rows) or rows)
    return math.ceil(rows / size)


TARGET = ResourceTarget(ProductResource)


def test_queries_do_not_grow_with_the_rows(categories, admin_user):
    small, small_queries = queries_of(
        lambda: import_apply(sheet=sheet_of(product_rows(50)), target=TARGET, user=admin_user)
    )
    large, large_queries = queries_of(
        lambda: import_apply(sheet=sheet_of(product_rows(500, start=1000)), target=TARGET, user=admin_user)
    )

    assert (small.new, large.new) == (50, 500) and small.ok and large.ok
    assert Product.objects.count() == 550

    def split(queries):
        # PostgreSQL writes new rows with COPY (its keys drawn from the sequence first, one read), SQLite with INSERT
        # (history rows: one prepared statement run for every row, logged by Django as "N times: INSERT …").
        def writes(query: str) -> bool:
            return query.split(" times: ", 1)[-1].startswith(("INSERT", "COPY"))

        inserts = [q for q in queries if writes(q)]
        return inserts, [q for q in queries if not writes(q)]

    small_inserts, small_reads = split(small_queries)
    large_inserts, large_reads = split(large_queries)
    assert len(small_reads) == len(large_reads) <= 10  # lookups, checks, savepoints: the same for any size
    for rows, inserts in ((50, small_inserts), (500, large_inserts)):  # one statement per batch, not per row
        assert 2 <= len(inserts) <= write_batches(Product, rows) + write_batches(Product.history.model, rows)


def test_preview_queries_do_not_grow_with_the_rows(categories, admin_user):
    ProductFactory(sku="P-00001", name="Old")
    _, small = queries_of(lambda: import_validate(sheet=sheet_of(product_rows(50)), target=TARGET, user=admin_user))
    _, large = queries_of(lambda: import_validate(sheet=sheet_of(product_rows(500)), target=TARGET, user=admin_user))
    assert len(small) == len(large) <= 8
    assert Product.objects.count() == 1  # the preview writes nothing


def test_history_rows_name_the_user_and_only_changed_rows_are_written(categories, admin_user, make_user):
    rows = product_rows(100)
    created = import_apply(sheet=sheet_of(rows), target=TARGET, user=admin_user)
    assert (created.new, created.updated, created.unchanged) == (100, 0, 0)
    history = Product.history.all()
    assert history.count() == 100
    assert set(history.values_list("history_type", "history_user")) == {("+", admin_user.pk)}
    chai = Product.objects.get(sku="P-00003")
    assert (chai.category.name, chai.barcode, chai.sale_price) == ("Beverages", "BC00000003", Decimal("10"))

    manager = make_user("Manager")
    for row in rows[:10]:
        row[4] = "12.50"
    updated = import_apply(sheet=sheet_of(rows), target=TARGET, user=manager)

    assert (updated.new, updated.updated, updated.unchanged) == (0, 10, 90)
    changes = Product.history.filter(history_type="~")
    assert changes.count() == 10 and set(changes.values_list("history_user", flat=True)) == {manager.pk}
    assert Product.objects.filter(sale_price=Decimal("12.5")).count() == 10


def test_a_bad_last_row_of_a_large_file_writes_nothing(categories, admin_user):
    rows = product_rows(2000)
    rows[-1][4] = "-3"

    outcome = import_apply(sheet=sheet_of(rows), target=TARGET, user=admin_user)

    assert not outcome.ok and outcome.error_count == 1
    [error] = outcome.errors
    assert (error["row"], error["column"]) == (2001, "sale_price")  # the spreadsheet's row: header = 1
    assert "greater than or equal to 0" in error["reason"]
    assert not Product.objects.exists() and not Product.history.exists()


def test_uniqueness_is_checked_in_the_file_and_against_the_database(categories, admin_user):
    ProductFactory(sku="OLD", barcode="TAKEN")
    rows = [
        ["A", "First", "", "DUP", "1", "1", "0", "yes"],
        ["B", "Second", "", "DUP", "1", "1", "0", "yes"],
        ["C", "Third", "", "TAKEN", "1", "1", "0", "yes"],
        ["D", "Fourth", "Nope", "", "1", "1", "0", "yes"],
        ["E", "x" * 201, "", "", "1.123456", "1", "101", "yes"],
    ]

    outcome = import_validate(sheet=sheet_of(rows), target=TARGET, user=admin_user)

    found = {(e["row"], e["column"]): e["reason"] for e in outcome.errors}
    assert "appears more than once in the file (first in row 2)" in found[(3, "barcode")]
    assert found[(4, "barcode")] == "Product with this barcode already exists."
    assert found[(5, "category")] == "No category with name 'Nope'."
    assert {"name", "sale_price", "tax_rate"} <= {column for row, column in found if row == 6}
    assert (2, "barcode") not in found
    assert outcome.error_count == 6


def test_taking_a_barcode_another_product_gives_up_in_the_same_file_is_refused(admin_user):
    """The database checks each row as it is written, so a swap is reported (as the row-by-row import did)."""
    ProductFactory(sku="A", name="A", barcode="ONE")
    ProductFactory(sku="B", name="B", barcode="TWO")
    sheet = sheet_of([["A", "A", "TWO"], ["B", "B", "ONE"]], header=["sku", "name", "barcode"])

    outcome = import_apply(sheet=sheet, target=TARGET, user=admin_user)

    assert [(e["row"], e["column"]) for e in outcome.errors] == [(2, "barcode"), (3, "barcode")]
    assert Product.objects.get(sku="A").barcode == "ONE"


def test_an_xlsx_sku_read_as_a_number_finds_its_product(admin_user):
    from backoffice.uploads import Sheet

    ProductFactory(sku="1001", name="Old name")
    sheet = Sheet(headers=["sku", "name"], rows=[[1001, "New name"]], file_format="xlsx")

    outcome = import_apply(sheet=sheet, target=TARGET, user=admin_user)

    assert (outcome.updated, outcome.new) == (1, 0), outcome.errors
    assert Product.objects.get().name == "New name"
