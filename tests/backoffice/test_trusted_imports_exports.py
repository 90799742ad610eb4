"""Imports and exports people can trust (issue 10 §7): readable headers both ways, round trip, typed XLSX named
after the list, the last export format remembered per user."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from backoffice.imports import ResourceTarget, import_apply
from backoffice.uploads import read_upload
from inventory.models import Product
from inventory.resources import ProductResource
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"


def sheet_of(rows, file_format="csv"):
    if isinstance(rows, list):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        data = buffer.getvalue().encode()
    else:
        data = rows
    return read_upload(io.BytesIO(data), file_format=file_format, name=f"file.{file_format}")


def export(client, file_format):
    response = client.post(reverse("admin:inventory_product_export"), {"format": file_format, "resource": "0"})
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def tea(db):
    return CategoryFactory(name="Tea")


def test_imports_accept_readable_headers_and_field_names_in_any_case(tea, admin_user):
    rows = [
        ["SKU", "NAME", "category", "Sale price", "tax_rate", "Active"],
        ["H-1", "Header one", "Tea", "3.50", "7", "no"],
    ]
    done = import_apply(sheet=sheet_of(rows), target=ResourceTarget(ProductResource), user=admin_user)

    assert done.ok and done.new == 1, done.errors
    product = Product.objects.get(sku="H-1")
    assert (product.name, product.sale_price, product.tax_rate, product.is_active) == (
        "Header one",
        Decimal("3.50"),
        Decimal("7"),
        False,
    )


def test_an_unknown_header_is_still_refused(tea, admin_user):
    rows = [["SKU", "Name", "Sale prize"], ["H-2", "Two", "1"]]
    done = import_apply(sheet=sheet_of(rows), target=ResourceTarget(ProductResource), user=admin_user)
    assert not done.ok and "Unknown column(s): Sale prize" in done.errors[0]["reason"]
    assert not Product.objects.exists()


def test_xlsx_export_is_typed_named_after_the_list_and_reimports_unchanged(admin_client, admin_user, tea):
    ProductFactory(sku="RT-1", name="Round trip", category=tea, sale_price=Decimal("12.50"), tax_rate=Decimal("20"))
    ProductFactory(sku="RT-2", name="Second", category=tea, sale_price=Decimal("3"), is_active=False)
    content = export(admin_client, XLSX_FORMAT)

    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.active
    assert sheet.title == "Products"
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["SKU", "Name", "Category"] and "Sale price" in headers
    price = sheet.cell(row=2, column=headers.index("Sale price") + 1)
    assert price.data_type == "n" and price.value == 12.5

    history = Product.history.count()
    done = import_apply(sheet=sheet_of(content, "xlsx"), target=ResourceTarget(ProductResource), user=admin_user)
    assert done.ok and (done.new, done.updated, done.unchanged) == (0, 0, 2), done.errors
    assert Product.history.count() == history  # nothing written


def test_csv_export_reimports_unchanged(admin_client, admin_user, tea):
    ProductFactory(sku="RT-3", name='Comma, quote " name', category=tea, sale_price=Decimal("1.25"))
    content = export(admin_client, CSV_FORMAT)
    assert content.decode("utf-8-sig").splitlines()[0].startswith("SKU,Name,Category")

    done = import_apply(sheet=sheet_of(content, "csv"), target=ResourceTarget(ProductResource), user=admin_user)
    assert done.ok and (done.new, done.updated, done.unchanged) == (0, 0, 1), done.errors


def test_dates_are_dates_in_xlsx_exports(admin_client, tea, warehouse, stocked_product):
    response = admin_client.post(reverse("admin:inventory_stockmovement_export"), {"format": XLSX_FORMAT})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    headers = [cell.value for cell in sheet[1]]
    created = sheet.cell(row=2, column=headers.index("Created at") + 1)  # readable header, as every export
    assert created.is_date
    assert sheet.title == "Stock ledger"  # the list's name


def format_offered(client) -> str:
    form = client.get(reverse("admin:inventory_product_export")).context["form"]
    return str(form["format"].value())


def test_the_last_export_format_is_preselected_for_that_user(admin_client, make_user, tea):
    assert format_offered(admin_client) in ("", "None", CSV_FORMAT)
    export(admin_client, XLSX_FORMAT)
    assert format_offered(admin_client) == XLSX_FORMAT  # remembered, on any list's export form
    response = admin_client.get(reverse("admin:inventory_category_export"))
    assert str(response.context["form"]["format"].value()) == XLSX_FORMAT

    other = Client()
    other.force_login(make_user("Manager"))
    assert format_offered(other) != XLSX_FORMAT  # per user (their own session)

    export(admin_client, CSV_FORMAT)
    assert format_offered(admin_client) == CSV_FORMAT
