"""The upload request of a big file: stored and queued unread (issue 7 §5: the request returns in < 2 s).

``backoffice.uploads.estimate_rows`` bounds the rows without reading them; the background task reads the file
with every check and records its real row count. Small files still go through the same engine synchronously.
"""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

import backoffice.imports
from backoffice.imports import import_preview_run
from backoffice.models import ImportJob, ImportPreview
from backoffice.uploads import UploadRefused, estimate_rows
from inventory.models import Product

pytestmark = pytest.mark.django_db


def csv_bytes(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def xlsx_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PRODUCTS = [["sku", "name", "sale_price"]] + [[f"BIG-{n}", f"Big {n}", "2.50"] for n in range(6)]


def test_estimate_bounds_the_rows_without_reading_them():
    assert estimate_rows(io.BytesIO(csv_bytes(PRODUCTS)), file_format="csv") == 6
    assert estimate_rows(io.BytesIO(b"sku,name\nA,1\nB,2"), file_format="csv") == 2  # no final line break
    assert estimate_rows(io.BytesIO(xlsx_bytes(PRODUCTS)), file_format="xlsx") == 6
    assert estimate_rows(io.BytesIO(b"not a zip"), file_format="xlsx") is None  # read_upload says why
    with pytest.raises(UploadRefused, match="IMPORT_MAX_COLUMNS"):
        estimate_rows(io.BytesIO(b",".join(b"c%d" % n for n in range(300)) + b"\n1\n"), file_format="csv")


@pytest.fixture
def queued(monkeypatch, settings):
    """No worker: the queued tasks are kept; files above 2 rows go to the background."""
    settings.IMPORT_SYNC_MAX_ROWS = 2
    tasks = []
    monkeypatch.setattr(backoffice.imports, "async_task", lambda func, *args, **kwargs: tasks.append((func, args)))
    return tasks


@pytest.mark.parametrize("name, content", [("big.csv", csv_bytes(PRODUCTS)), ("big.xlsx", xlsx_bytes(PRODUCTS))])
def test_a_big_upload_is_stored_and_queued_without_reading_its_rows(admin_client, queued, monkeypatch, name, content):
    def no_reading(*args, **kwargs):
        raise AssertionError("the request read the file")

    monkeypatch.setattr(backoffice.imports, "read_upload", no_reading)
    response = admin_client.post(
        reverse("admin:inventory_product_import"),
        {"format": "0" if name.endswith(".csv") else "1", "import_file": SimpleUploadedFile(name, content)},
    )

    preview = ImportPreview.objects.get()
    assert response.status_code == 302 and preview.token in response.url
    assert preview.status == ImportPreview.Status.VALIDATING and preview.row_count == 6
    job = ImportJob.objects.get()
    assert (job.status, job.row_count, job.file_name) == (ImportJob.Status.QUEUED, 6, name)
    assert queued == [("backoffice.tasks.import_validate_task", (preview.pk,))]

    monkeypatch.undo()
    import_preview_run(preview.pk, apply=False)  # what the worker runs: reads, validates, previews
    preview.refresh_from_db()
    job.refresh_from_db()
    assert preview.status == ImportPreview.Status.PREVIEWED and preview.row_count == 6
    assert (job.status, job.new) == (ImportJob.Status.VALIDATED, 6)
    assert not Product.objects.exists()


def test_the_background_reading_corrects_an_estimate_and_reports_a_bad_file(admin_client, queued):
    # Blank lines count in the estimate (4 line breaks) but are not rows; a row wider than the header is refused.
    content = b"sku,name\nW-1,One\n\n\nW-2,Two,extra\n"
    admin_client.post(
        reverse("admin:inventory_product_import"), {"format": "0", "import_file": SimpleUploadedFile("w.csv", content)}
    )
    preview = ImportPreview.objects.get()
    assert preview.row_count == 4

    import_preview_run(preview.pk, apply=False)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "3 cells, but the header row has 2 columns" in job.message
    assert not Product.objects.exists()


def test_a_small_upload_is_still_validated_in_the_request(admin_client, queued):
    content = csv_bytes(PRODUCTS[:3])
    response = admin_client.post(
        reverse("admin:inventory_product_import"), {"format": "0", "import_file": SimpleUploadedFile("s.csv", content)}
    )
    assert response.status_code == 200 and response.context["outcome"].new == 2
    assert queued == []
    assert ImportJob.objects.get().status == ImportJob.Status.VALIDATED


def test_a_refusal_found_cheaply_is_shown_at_once_even_for_a_big_file(admin_client, queued):
    content = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50 + b"\n" * 10
    response = admin_client.post(
        reverse("admin:inventory_product_import"), {"format": "0", "import_file": SimpleUploadedFile("p.csv", content)}
    )
    assert response.status_code == 200 and "binary data" in str(response.context["form"].errors["import_file"])
    assert queued == [] and not ImportPreview.objects.exists()


def test_confirm_of_a_big_file_queues_it_without_reading_it(admin_client, queued, monkeypatch):
    admin_client.post(
        reverse("admin:inventory_product_import"),
        {"format": "0", "import_file": SimpleUploadedFile("big.csv", csv_bytes(PRODUCTS))},
    )
    preview = ImportPreview.objects.get()
    import_preview_run(preview.pk, apply=False)
    queued.clear()

    def no_reading(*args, **kwargs):
        raise AssertionError("the Confirm request read the file")

    monkeypatch.setattr(backoffice.imports, "read_upload", no_reading)
    response = admin_client.post(reverse("admin:inventory_product_process_import"), {"token": preview.token})

    assert response.status_code == 302
    assert queued == [("backoffice.tasks.import_apply_task", (preview.pk,))]
    preview.refresh_from_db()
    assert preview.status == ImportPreview.Status.CONFIRMED
    monkeypatch.undo()
    import_preview_run(preview.pk, apply=True)
    assert Product.objects.filter(sku__startswith="BIG-").count() == 6
