"""Hostile uploads and the import confirm step (issue 8, items 2 and 3).

Every refusal: a message naming the limit or the problem, nothing written, no
file left behind (neither under MEDIA_ROOT nor as an upload temp file). The
confirm step imports only the file this user previewed in this session, once.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import tracemalloc
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from backoffice.imports import import_previews_cleanup
from backoffice.models import ImportPreview
from backoffice.schedules import schedules_setup
from backoffice.tasks import import_previews_cleanup_task
from backoffice.uploads import UploadRefused, read_upload
from inventory.models import Category, Product
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"


def url(view: str, *args) -> str:
    return reverse(f"admin:inventory_product_{view}", args=args)


def csv_bytes(rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, *, extra_sheets=(), formulas=None) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for title in extra_sheets:
        book.create_sheet(title).append(["not", "read"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewrite_sheet(data: bytes, change) -> bytes:
    """The same workbook with xl/worksheets/sheet1.xml passed through ``change``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = change(content.decode()).encode()
            target.writestr(item.filename, content)
    return out.getvalue()


def set_dimension(xml: str, ref: str | None) -> str:
    """The sheet XML with its declared <dimension> set to ``ref`` (or removed), however openpyxl spaced the tag."""
    replacement = f'<dimension ref="{ref}"/>' if ref else ""
    new, count = re.subn(r'<dimension ref="[^"]*"\s*/>', replacement, xml)
    assert count == 1, "the sheet declares no <dimension> to rewrite"
    return new


def zip_bomb_xlsx(inflated_bytes: int = 40 * 1024 * 1024) -> bytes:
    """A real workbook whose sheet inflates ~1000×: megabytes of blanks inside the sheet XML."""
    base = xlsx_bytes([["sku", "name"], ["A", "B"]])
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename != "xl/worksheets/sheet1.xml":
                target.writestr(item.filename, content)
                continue
            head, tail = content.split(b"<sheetData>", 1)
            with target.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(head + b"<sheetData>")
                chunk = b" " * (1024 * 1024)
                for _ in range(inflated_bytes // len(chunk)):
                    sheet.write(chunk)
                sheet.write(tail)
    return out.getvalue()


def page_text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


@pytest.fixture
def uploads_dir(settings, tmp_path):
    """Every upload goes through a temp file in a folder of the test's own, to see that none is left."""
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    return folder


def imports_folder(settings):
    return settings.MEDIA_ROOT / "imports"


def stored_files(settings) -> list:
    folder = imports_folder(settings)
    return sorted(folder.iterdir()) if folder.exists() else []


def upload(client, name: str, content: bytes, file_format: str = CSV_FORMAT):
    return client.post(
        url("import"), {"format": file_format, "resource": "0", "import_file": SimpleUploadedFile(name, content)}
    )


def assert_refused(response, settings, uploads_dir, *texts):
    """Refused on the upload form with a message; nothing written, no file stored, no temp file left."""
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    errors = " ".join(response.context["form"].errors.get("import_file", []))
    for text in texts:
        assert text in errors, f"{text!r} not in {errors!r}"
    assert not Product.objects.exists()
    assert not ImportPreview.objects.exists()
    assert stored_files(settings) == []
    assert list(uploads_dir.iterdir()) == []


@pytest.fixture
def customer(db):
    return CustomerFactory(code="ALFKI", name="Alfreds Futterkiste")


PRODUCT_ROWS = [["sku", "name", "sale_price"], ["CHAI", "Chai", "18"], ["CHANG", "Chang", "19"]]


# ---------------------------------------------------------------------------
# Hostile files


def test_file_over_the_size_limit_is_refused_before_it_is_read(admin_client, settings, uploads_dir):
    settings.IMPORT_MAX_BYTES = 1024
    content = csv_bytes([["sku", "name"]] + [[f"SKU-{n}", "x" * 50] for n in range(100)])
    response = upload(admin_client, "big.csv", content)
    assert_refused(response, settings, uploads_dir, "1 KB (IMPORT_MAX_BYTES)", "big.csv")


def test_zip_bomb_is_refused_without_inflating_it(admin_client, settings, uploads_dir):
    bomb = zip_bomb_xlsx()
    assert len(bomb) < 200 * 1024  # 40 MB of sheet in a few tens of KB
    tracemalloc.start()
    try:
        response = upload(admin_client, "bomb.xlsx", bomb, XLSX_FORMAT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_refused(response, settings, uploads_dir, "IMPORT_MAX_COMPRESSION_RATIO", "zip bomb")
    assert peak < 20 * 1024 * 1024


def test_workbook_unpacking_beyond_the_limit_is_refused(settings):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 2000
    content = xlsx_bytes([["sku", "name"]] + [[f"S{n}", "name"] for n in range(200)])
    with pytest.raises(UploadRefused, match=r"IMPORT_MAX_UNCOMPRESSED_BYTES"):
        read_upload(io.BytesIO(content), file_format="xlsx", name="big.xlsx")


def test_huge_declared_dimensions_are_refused_before_any_row_is_read(admin_client, settings, uploads_dir):
    content = rewrite_sheet(
        xlsx_bytes([["sku", "name"], ["A", "B"]]),
        lambda xml: set_dimension(xml, "A1:XFD1048576"),
    )
    response = upload(admin_client, "huge.xlsx", content, XLSX_FORMAT)
    assert_refused(response, settings, uploads_dir, "declares 1,048,576 rows", "IMPORT_MAX_ROWS")


def test_too_wide_declared_dimension_is_refused(settings):
    content = rewrite_sheet(
        xlsx_bytes([["sku", "name"], ["A", "B"]]),
        lambda xml: set_dimension(xml, "A1:ZZ2"),
    )
    with pytest.raises(UploadRefused, match=r"702 columns: at most 200 \(IMPORT_MAX_COLUMNS\)"):
        read_upload(io.BytesIO(content), file_format="xlsx", name="wide.xlsx")


@pytest.mark.parametrize("file_format", [CSV_FORMAT, XLSX_FORMAT])
def test_too_many_rows_are_refused_while_streaming(admin_client, settings, uploads_dir, file_format):
    settings.IMPORT_MAX_ROWS = 50
    rows = [["sku", "name"]] + [[f"SKU-{n}", "name"] for n in range(60)]
    if file_format == CSV_FORMAT:
        response = upload(admin_client, "rows.csv", csv_bytes(rows))
    else:
        # No <dimension> at all: the count while streaming stops it.
        content = rewrite_sheet(xlsx_bytes(rows), lambda xml: set_dimension(xml, None))
        response = upload(admin_client, "rows.xlsx", content, XLSX_FORMAT)
    assert_refused(response, settings, uploads_dir, "more than 50 rows (IMPORT_MAX_ROWS)")


def test_a_million_columns_header_is_refused(admin_client, settings, uploads_dir):
    content = (",".join(f"c{n}" for n in range(1_000_000)) + "\n1\n").encode()
    response = upload(admin_client, "wide.csv", content)
    assert_refused(response, settings, uploads_dir, "1,000,000 columns", "at most 200 (IMPORT_MAX_COLUMNS)")


@pytest.mark.parametrize(
    "name, content, text",
    [
        ("empty.csv", b"", "is empty"),
        ("headers.csv", b"sku,name,sale_price\r\n", "no rows under its header row"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "holds binary data, not CSV text"),
        ("sheet.csv", xlsx_bytes([["sku"]]), "is an Excel or zip file"),
    ],
)
def test_bad_csv_files_get_a_clear_message(admin_client, settings, uploads_dir, name, content, text):
    assert_refused(upload(admin_client, name, content), settings, uploads_dir, text)


def test_a_text_file_named_xlsx_is_not_a_spreadsheet(admin_client, settings, uploads_dir):
    response = upload(admin_client, "notes.xlsx", b"sku,name\nA,B\n", XLSX_FORMAT)
    assert_refused(response, settings, uploads_dir, "not an Excel spreadsheet")


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1", "cp1252", "utf-8-sig"])
def test_csv_encodings_are_read_correctly(admin_client, encoding):
    content = csv_bytes([["sku", "name"], ["CAFE", "Café crème"]], encoding)
    preview = upload(admin_client, f"{encoding}.csv", content)
    assert preview.context["confirm_form"] is not None, page_text(preview)[:1000]
    admin_client.post(url("process_import"), preview.context["confirm_form"].initial)
    assert Product.objects.get(sku="CAFE").name == "Café crème"


def test_undecodable_utf16_is_a_clear_message():
    with pytest.raises(UploadRefused, match="says it is UTF-16 text but is not"):
        read_upload(io.BytesIO(b"\xff\xfes\x00k\x00\x00\xd8"), file_format="csv", name="broken.csv")


def test_formulas_use_their_cached_values(settings):
    content = rewrite_sheet(
        xlsx_bytes([["sku", "name", "sale_price"], ["CHAI", "Chai", 1]]),
        lambda xml: xml.replace('<c r="C2" t="n"><v>1</v></c>', '<c r="C2"><f>9*2</f><v>18</v></c>'),
    )
    sheet = read_upload(io.BytesIO(content), file_format="xlsx", name="formulas.xlsx")
    assert sheet.rows == [["CHAI", "Chai", 18]]


def test_formulas_without_a_saved_value_are_refused(admin_client, settings, uploads_dir):
    book = openpyxl.Workbook()
    book.active.append(["sku", "name", "sale_price"])
    book.active.append(["CHAI", "Chai", "=9*2"])
    book.active.append(["CHANG", "Chang", "=C2+1"])
    buffer = io.BytesIO()
    book.save(buffer)  # openpyxl stores formulas without results
    response = upload(admin_client, "formulas.xlsx", buffer.getvalue(), XLSX_FORMAT)
    assert_refused(response, settings, uploads_dir, "formulas without a saved value (cells C2, C3)")


def test_xlsx_cells_keep_their_types(monkeypatch):
    """Read with python-calamine: whole numbers stay int, dates come back as datetime, blanks as None."""
    import python_calamine

    from backoffice import uploads

    used = []
    monkeypatch.setattr(uploads, "_stream_first_sheet", lambda *a: used.append("openpyxl"))
    real = python_calamine.CalamineWorkbook.from_filelike
    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", lambda f: used.append("calamine") or real(f))
    when = datetime(2024, 1, 2, 3, 4, 5)
    content = xlsx_bytes(
        [
            ["sku", "qty", "price", "day", "at", "note"],
            ["CHAI", 3, 2.5, date(2024, 1, 2), when, None],
            [],
            ["CHANG", -1],
        ]
    )
    sheet = read_upload(io.BytesIO(content), file_format="xlsx", name="types.xlsx")
    assert used == ["calamine"]
    assert sheet.rows == [
        ["CHAI", 3, 2.5, datetime(2024, 1, 2), when, None],
        [None] * 6,
        ["CHANG", -1, None, None, None, None],
    ]
    assert [type(v) for v in sheet.rows[0][:5]] == [str, int, float, datetime, datetime]


def test_a_cell_far_outside_the_limits_never_reaches_the_fast_reader(settings):
    """calamine builds one grid up to the furthest cell: a cell at XFD1048576 goes to the streaming reader instead."""
    settings.IMPORT_MAX_ROWS = 10
    content = rewrite_sheet(
        xlsx_bytes([["sku", "name"], ["A", "B"]]),
        lambda xml: set_dimension(xml, None).replace(
            "</sheetData>", '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
        ),
    )
    with pytest.raises(UploadRefused, match=r"16,384 columns: at most 200"):
        read_upload(io.BytesIO(content), file_format="xlsx", name="far.xlsx")


def test_error_cells_and_mixed_formulas_read_as_before(settings):
    content = rewrite_sheet(
        xlsx_bytes([["sku", "name", "sale_price"], ["CHAI", "Chai", 1], ["CHANG", "Chang", 2]]),
        lambda xml: xml.replace('<c r="C2" t="n"><v>1</v></c>', '<c r="C2" t="e"><v>#N/A</v></c>').replace(
            '<c r="C3" t="n"><v>2</v></c>', '<c r="C3"><f>1+1</f><v>2</v></c>'
        ),
    )
    sheet = read_upload(io.BytesIO(content), file_format="xlsx", name="errors.xlsx")
    assert sheet.rows == [["CHAI", "Chai", "#N/A"], ["CHANG", "Chang", 2]]


def test_several_sheets_first_one_used_and_the_user_told(admin_client):
    content = xlsx_bytes(PRODUCT_ROWS, extra_sheets=["Prices 2023", "Notes"])
    preview = upload(admin_client, "book.xlsx", content, XLSX_FORMAT)
    assert "has 3 sheets: only the first, “Sheet”, was read" in page_text(preview)
    admin_client.post(url("process_import"), preview.context["confirm_form"].initial)
    assert set(Product.objects.values_list("sku", flat=True)) == {"CHAI", "CHANG"}


def test_orders_import_uses_the_same_limits(admin_client, settings):
    settings.IMPORT_MAX_ROWS = 1
    content = b"order_number,customer\nH-1,A\nH-2,A\n"
    response = admin_client.post(
        reverse("admin:orders_salesorder_import_orders"), {"file": SimpleUploadedFile("o.csv", content)}
    )
    assert "more than 1 rows (IMPORT_MAX_ROWS)" in page_text(response)
    assert not ImportPreview.objects.exists()


# ---------------------------------------------------------------------------
# Confirm: only this user's, this session's preview, once


@pytest.fixture
def previewed(admin_client):
    """A valid products preview of the admin: (client, token)."""
    response = upload(admin_client, "products.csv", csv_bytes(PRODUCT_ROWS))
    token = response.context["confirm_form"].initial["token"]
    assert not Product.objects.exists()
    return admin_client, token


def assert_expired(response):
    assert response.status_code == 302 and response.url == url("import")
    assert [str(m) for m in response.wsgi_request._messages] == ["This preview expired — upload the file again."]
    assert not Product.objects.exists()


def test_preview_is_stored_under_media_root_and_bound_to_the_user(previewed, settings, admin_user):
    _, token = previewed
    preview = ImportPreview.objects.get(token=token)
    assert preview.user == admin_user and preview.status == ImportPreview.Status.PREVIEWED
    assert [path.name for path in stored_files(settings)] == [preview.stored_name]
    assert token not in preview.stored_name


def test_confirm_imports_exactly_once(previewed, settings):
    client, token = previewed
    first = client.post(url("process_import"), {"token": token})
    assert first.status_code == 302
    assert Product.objects.count() == 2
    assert stored_files(settings) == [] and not ImportPreview.objects.exists()

    second = client.post(url("process_import"), {"token": token})
    assert second.url == url("import")
    assert [str(m) for m in second.wsgi_request._messages][-1] == "This preview expired — upload the file again."
    assert Product.objects.count() == 2


def test_another_users_token_is_expired(previewed, make_user):
    _, token = previewed
    intruder = Client()
    intruder.force_login(make_user(superuser=True, username="intruder"))
    assert_expired(intruder.post(url("process_import"), {"token": token}))
    assert ImportPreview.objects.get(token=token).status == ImportPreview.Status.PREVIEWED  # the owner still may


def test_the_same_user_in_another_session_gets_expired(previewed, admin_user):
    _, token = previewed
    other_browser = Client()
    other_browser.force_login(admin_user)
    assert_expired(other_browser.post(url("process_import"), {"token": token}))


def test_a_token_of_another_models_import_is_expired(previewed):
    client, token = previewed
    response = client.post(reverse("admin:inventory_category_process_import"), {"token": token})
    assert response.status_code == 302
    assert not Category.objects.exists() and not Product.objects.exists()
    assert ImportPreview.objects.get(token=token).status == ImportPreview.Status.PREVIEWED


def test_a_file_name_from_the_client_is_never_read(previewed, tmp_path, monkeypatch):
    """The old confirm form named a temp file: imported, then deleted it."""
    client, _ = previewed
    planted = tmp_path / "planted.csv"
    planted.write_bytes(csv_bytes([["sku", "name"], ["EVIL", "Planted"]]))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    response = client.post(
        url("process_import"),
        {"import_file_name": str(planted), "original_file_name": "x.csv", "format": "0", "resource": "0"},
    )
    assert_expired(response)
    assert planted.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"token": ""},
        {"token": "garbage"},
        {"token": "x" * 5000},
        {"token": "../../etc/passwd"},
        {"token": "' OR 1=1 --aaaaaaaaaaaaaaaaaaaa"},
        {"token": ["a", "b"]},
    ],
)
def test_tampered_confirm_fields_are_expired_never_a_500(previewed, data):
    client, _ = previewed
    assert_expired(client.post(url("process_import"), data))


def test_a_file_changed_after_the_preview_is_expired(previewed, settings):
    client, token = previewed
    [path] = stored_files(settings)
    path.write_bytes(csv_bytes([["sku", "name"], ["EVIL", "Changed"]]))
    assert_expired(client.post(url("process_import"), {"token": token}))


def test_a_preview_older_than_a_day_is_expired(previewed):
    client, token = previewed
    ImportPreview.objects.filter(token=token).update(created_at=timezone.now() - timedelta(hours=25))
    assert_expired(client.post(url("process_import"), {"token": token}))


def test_orders_confirm_is_bound_to_user_and_single_use(admin_client, make_user, customer, stocked_product):
    import_url = reverse("admin:orders_salesorder_import_orders")
    content = (
        b"order_number,customer,warehouse,status,order_date,sku,quantity\nH-1,ALFKI,MAIN,draft,2024-01-02,CHAI,1\n"
    )
    token = admin_client.post(import_url, {"file": SimpleUploadedFile("o.csv", content)}).context["token"]

    intruder = Client()
    intruder.force_login(make_user(superuser=True, username="intruder"))
    refused = intruder.post(import_url, {"token": token}, follow=True)
    assert "This preview expired — upload the file again" in page_text(refused)

    from orders.models import SalesOrder

    admin_client.post(import_url, {"token": token})
    again = admin_client.post(import_url, {"token": token}, follow=True)
    assert "This preview expired — upload the file again" in page_text(again)
    assert SalesOrder.objects.filter(number="H-1").count() == 1


# ---------------------------------------------------------------------------
# Cleanup, page size, background


def test_cleanup_deletes_previews_older_than_a_day(admin_client, settings):
    old_token = upload(admin_client, "old.csv", csv_bytes(PRODUCT_ROWS)).context["confirm_form"].initial["token"]
    new_token = upload(admin_client, "new.csv", csv_bytes(PRODUCT_ROWS)).context["confirm_form"].initial["token"]
    ImportPreview.objects.filter(token=old_token).update(created_at=timezone.now() - timedelta(hours=25))
    stray = imports_folder(settings) / "stray.csv"
    stray.write_bytes(b"left by a crash")
    day_ago = (timezone.now() - timedelta(hours=30)).timestamp()
    os.utime(stray, (day_ago, day_ago))

    assert import_previews_cleanup_task() == 1

    kept = ImportPreview.objects.get()
    assert kept.token == new_token
    assert [path.name for path in stored_files(settings)] == [kept.stored_name]
    assert import_previews_cleanup() == 0


def test_cleanup_is_scheduled_once(db):
    schedules_setup()
    schedules_setup()
    schedule = Schedule.objects.get(name="Delete abandoned import previews")
    assert schedule.func == "backoffice.tasks.import_previews_cleanup_task"


def test_preview_page_stays_small_for_5000_rows_with_errors(admin_client, settings, customer, stocked_product):
    """The historical order import: 5,000 lines, half of them bad, validated in one request."""
    settings.IMPORT_SYNC_MAX_ROWS = 10_000
    lines = "".join(f"H-{n:05d},ALFKI,MAIN,draft,2024-01-02,CHAI,{'-1' if n % 2 else '1'}\n" for n in range(5000))
    content = ("order_number,customer,warehouse,status,order_date,sku,quantity\n" + lines).encode()
    response = admin_client.post(
        reverse("admin:orders_salesorder_import_orders"), {"file": SimpleUploadedFile("5000.csv", content)}
    )
    text = page_text(response)
    assert response.context["error_count"] == 2500
    assert len(response.context["errors"]) == 1000  # IMPORT_PREVIEW_MAX_ERRORS listed, all counted
    assert "Nothing was imported: 2500 problems in the file" in text and "The first 1000 problems" in text
    assert len(response.content) < 400_000
    assert not ImportPreview.objects.exists() and stored_files(settings) == []


def test_resource_preview_shows_counts_first_rows_and_errors_up_to_the_cap(admin_client, settings):
    settings.IMPORT_PREVIEW_MAX_ERRORS = 40
    rows = [["sku", "name", "sale_price"]] + [[f"SKU-{n:05d}", f"Product {n}", "abc"] for n in range(150)]
    response = upload(admin_client, "150.csv", csv_bytes(rows))

    text = page_text(response)
    assert response.context.get("confirm_form") is None
    outcome = response.context["outcome"]
    assert (outcome.row_count, outcome.error_count, len(outcome.errors), len(outcome.rows)) == (150, 150, 40, 100)
    assert "150 problems in the file" in text and "110 more problems" in text
    assert "The first 100 of 150 rows" in text
    assert "SKU-00100" not in text  # row 101 is neither listed nor among the listed errors
    assert not Product.objects.exists() and not ImportPreview.objects.exists()


@pytest.fixture
def tasks_run_inline(monkeypatch, settings):
    """django-q2 runs async_task in the calling process (its ``sync`` mode)."""
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.IMPORT_SYNC_MAX_ROWS = 2


def test_big_file_is_validated_and_imported_in_the_background(admin_client, admin_user, settings, tasks_run_inline):
    rows = [["sku", "name", "sale_price"]] + [[f"BG-{n}", f"Background {n}", "2.50"] for n in range(5)]
    response = upload(admin_client, "big.csv", csv_bytes(rows))

    preview = ImportPreview.objects.get()
    status_url = url("import_status", preview.token)
    assert response.status_code == 302 and response.url == status_url
    assert preview.status == ImportPreview.Status.PREVIEWED  # validated by the task
    assert not Product.objects.exists()

    page = admin_client.get(status_url)
    assert "ready to confirm" in page_text(page) and page.context["outcome"].new == 5
    confirm = admin_client.post(url("process_import"), page.context["confirm_form"].initial)
    assert confirm.url == status_url

    preview.refresh_from_db()
    assert preview.status == ImportPreview.Status.DONE
    assert Product.objects.filter(sku__startswith="BG-", sale_price=Decimal("2.50")).count() == 5
    assert Product.objects.get(sku="BG-0").history.get().history_user == admin_user
    assert stored_files(settings) == []  # the file is gone, the status page stays
    assert "imported" in page_text(admin_client.get(status_url))
    assert admin_client.post(url("process_import"), {"token": preview.token}).url == url("import")


def test_big_file_with_errors_is_rejected_in_the_background(admin_client, settings, tasks_run_inline):
    rows = [["sku", "name", "sale_price"]] + [[f"BG-{n}", "x", "abc"] for n in range(5)]
    response = upload(admin_client, "bad.csv", csv_bytes(rows))
    page = admin_client.get(response.url)
    assert ImportPreview.objects.get().status == ImportPreview.Status.REJECTED
    assert page.context["confirm_form"] is None and page.context["outcome"].error_count == 5
    assert stored_files(settings) == [] and not Product.objects.exists()


def test_status_page_of_someone_else_is_expired(admin_client, make_user, tasks_run_inline):
    rows = [["sku", "name"]] + [[f"BG-{n}", "x"] for n in range(5)]
    status_url = upload(admin_client, "big.csv", csv_bytes(rows)).url
    intruder = Client()
    intruder.force_login(make_user(superuser=True, username="intruder"))
    response = intruder.get(status_url)
    assert response.status_code == 302 and response.url == url("import")


def test_big_order_file_goes_to_the_background(admin_client, customer, stocked_product, tasks_run_inline):
    from orders.models import SalesOrder

    import_url = reverse("admin:orders_salesorder_import_orders")
    lines = "".join(f"H-{n},ALFKI,MAIN,draft,2024-01-02,CHAI,1\n" for n in range(4))
    content = ("order_number,customer,warehouse,status,order_date,sku,quantity\n" + lines).encode()
    response = admin_client.post(import_url, {"file": SimpleUploadedFile("o.csv", content)})
    assert response.status_code == 302 and "?preview=" in response.url
    page = admin_client.get(response.url)
    assert page.context["outcome"].new == 4 and not SalesOrder.objects.exists()
    admin_client.post(import_url, {"token": page.context["confirm_form"].initial["token"], "_confirm": "1"})
    assert SalesOrder.objects.filter(number__startswith="H-").count() == 4
    assert ImportPreview.objects.get().status == ImportPreview.Status.DONE


# ---------------------------------------------------------------------------
# The apply task runs only on a preview its owner confirmed; crashes end as "failed"


def test_queuing_the_apply_task_for_someone_elses_preview_imports_nothing(previewed, make_user):
    """An Admin who queues (or schedules) import_apply_task with another user's preview id gets nothing."""
    from backoffice.tasks import import_apply_task

    _, token = previewed
    preview = ImportPreview.objects.get(token=token)

    import_apply_task(preview.pk)  # what the worker runs for a schedule naming the preview id

    preview.refresh_from_db()
    assert preview.status == ImportPreview.Status.PREVIEWED and preview.finished_at is None
    assert not Product.objects.exists()


def test_a_retry_of_the_apply_task_after_success_changes_nothing(admin_client, settings, tasks_run_inline):
    from backoffice.tasks import import_apply_task

    rows = [["sku", "name", "sale_price"]] + [[f"BG-{n}", f"Background {n}", "2.50"] for n in range(5)]
    status_url = upload(admin_client, "big.csv", csv_bytes(rows)).url
    page = admin_client.get(status_url)
    admin_client.post(url("process_import"), page.context["confirm_form"].initial)
    preview = ImportPreview.objects.get()
    assert preview.status == ImportPreview.Status.DONE

    import_apply_task(preview.pk)  # django-q2 delivers the task again

    preview.refresh_from_db()
    assert preview.status == ImportPreview.Status.DONE and preview.outcome["new"] == 5
    assert "imported" in page_text(admin_client.get(status_url))


def test_a_retry_of_the_validate_task_after_it_finished_changes_nothing(admin_client, tasks_run_inline):
    from backoffice.tasks import import_validate_task

    rows = [["sku", "name", "sale_price"]] + [[f"BG-{n}", "x", "abc"] for n in range(5)]
    upload(admin_client, "bad.csv", csv_bytes(rows))
    preview = ImportPreview.objects.get()
    assert preview.status == ImportPreview.Status.REJECTED

    import_validate_task(preview.pk)

    preview.refresh_from_db()
    assert preview.status == ImportPreview.Status.REJECTED and preview.outcome["error_count"] == 5


def test_a_crashing_background_import_is_failed_rolled_back_and_logged(
    admin_client, settings, tasks_run_inline, monkeypatch, caplog
):
    from backoffice.imports import ResourceTarget

    real_apply = ResourceTarget.apply

    def crash_after_writing(self, sheet, user):
        real_apply(self, sheet, user)  # the rows are written …
        raise RuntimeError("disk on fire")  # … then something unexpected breaks

    monkeypatch.setattr(ResourceTarget, "apply", crash_after_writing)
    rows = [["sku", "name", "sale_price"]] + [[f"BG-{n}", f"Background {n}", "2.50"] for n in range(5)]
    status_url = upload(admin_client, "big.csv", csv_bytes(rows)).url
    page = admin_client.get(status_url)
    admin_client.post(url("process_import"), page.context["confirm_form"].initial)

    preview = ImportPreview.objects.get()
    assert preview.status == ImportPreview.Status.FAILED and preview.finished_at is not None
    assert not Product.objects.exists()
    text = page_text(admin_client.get(status_url))
    assert "The import failed unexpectedly; nothing was written. The administrators have been told." in text
    assert stored_files(settings) == []
    assert any("import.crashed" in record.getMessage() and record.exc_info for record in caplog.records)


def test_a_crashing_validation_is_failed_not_left_validating(admin_client, tasks_run_inline, monkeypatch):
    from backoffice.imports import ResourceTarget

    def crash(self, sheet, user):
        raise KeyError("bug")

    monkeypatch.setattr(ResourceTarget, "validate", crash)
    rows = [["sku", "name"]] + [[f"BG-{n}", "x"] for n in range(5)]
    page = admin_client.get(upload(admin_client, "big.csv", csv_bytes(rows)).url)

    assert ImportPreview.objects.get().status == ImportPreview.Status.FAILED
    assert page.context["confirm_form"] is None and not page.context["running"]
    assert "The import failed unexpectedly" in page_text(page)


def test_background_tasks_get_a_timeout_sized_for_the_row_limit(admin_client, settings, monkeypatch):
    import backoffice.imports

    queued = []
    monkeypatch.setattr(backoffice.imports, "async_task", lambda func, *args, **kwargs: queued.append((func, kwargs)))
    settings.IMPORT_SYNC_MAX_ROWS = 2
    settings.IMPORT_MAX_ROWS = 200_000
    rows = [["sku", "name"]] + [[f"BG-{n}", "x"] for n in range(5)]
    upload(admin_client, "big.csv", csv_bytes(rows))

    [(func, kwargs)] = queued
    assert func == "backoffice.tasks.import_validate_task"
    assert kwargs["timeout"] >= 200_000 * 0.05 > Conf.TIMEOUT


def test_small_order_import_emits_the_import_finished_event(admin_client, customer, stocked_product, monkeypatch):
    import backoffice.imports

    events = []
    monkeypatch.setattr(backoffice.imports, "business_event", lambda event, **fields: events.append((event, fields)))
    import_url = reverse("admin:orders_salesorder_import_orders")
    content = (
        b"order_number,customer,warehouse,status,order_date,sku,quantity\nH-1,ALFKI,MAIN,draft,2024-01-02,CHAI,1\n"
    )
    token = admin_client.post(import_url, {"file": SimpleUploadedFile("o.csv", content)}).context["token"]

    response = admin_client.post(import_url, {"token": token, "_confirm": "1"})

    assert response.status_code == 302
    [(event, fields)] = events
    assert event == "import.finished" and fields["target"] == "orders.views.SALES_ORDER_IMPORT" and fields["new"] == 1
