"""The background import of a confirmed big file writes the plan its preview validated, without parsing the file
again — but only while the file is unchanged, and reading it again when the data changed since the preview."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

import backoffice.imports
from backoffice.imports import Outcome, import_preview_run, imports_folder
from backoffice.models import ImportJob, ImportPreview
from inventory.models import Product

pytestmark = pytest.mark.django_db

ROWS = [["sku", "name", "sale_price"]] + [[f"BG-{n}", f"Background {n}", "2.50"] for n in range(6)]


def csv_bytes(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def confirmed(admin_client, monkeypatch, settings):
    """A big file uploaded, validated in the background and confirmed: the preview waiting for the worker."""
    settings.IMPORT_SYNC_MAX_ROWS = 2
    monkeypatch.setattr(backoffice.imports, "async_task", lambda *args, **kwargs: None)
    admin_client.post(
        reverse("admin:inventory_product_import"),
        {"format": "0", "import_file": SimpleUploadedFile("bg.csv", csv_bytes(ROWS))},
    )
    preview = ImportPreview.objects.get()
    import_preview_run(preview.pk, apply=False)
    response = admin_client.post(reverse("admin:inventory_product_process_import"), {"token": preview.token})
    assert response.status_code == 302
    preview.refresh_from_db()
    assert preview.status == ImportPreview.Status.CONFIRMED
    return preview


@pytest.fixture
def reads(monkeypatch):
    """Counts the times a stored file is parsed into rows."""
    seen = []
    real = backoffice.imports.read_upload

    def counting(*args, **kwargs):
        seen.append(kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(backoffice.imports, "read_upload", counting)
    return seen


def test_the_confirmed_plan_is_written_without_parsing_the_file_again(confirmed, reads, admin_user):
    outcome = import_preview_run(confirmed.pk, apply=True)

    assert reads == []
    assert outcome.ok and outcome.new == 6 and outcome.row_count == 6
    assert Product.objects.filter(sku__startswith="BG-").count() == 6
    assert Product.history.filter(history_type="+", history_user=admin_user).count() == 6
    job = ImportJob.objects.get()
    assert (job.status, job.new, job.row_count, job.rows_done) == (ImportJob.Status.DONE, 6, 6, 6)
    confirmed.refresh_from_db()
    assert confirmed.status == ImportPreview.Status.DONE and confirmed.row_count == 6


def test_a_file_changed_since_the_preview_is_refused_and_nothing_written(confirmed, reads):
    path = imports_folder() / confirmed.stored_name
    path.write_bytes(path.read_bytes().replace(b"2.50", b"9.50"))

    outcome = import_preview_run(confirmed.pk, apply=True)

    assert not outcome.ok and "expired" in outcome.message
    assert not Product.objects.exists()
    assert ImportJob.objects.get().status == ImportJob.Status.FAILED


def test_data_changed_since_the_preview_reads_the_file_again_and_checks_it(confirmed, reads, admin_user):
    Product.objects.create(sku="BG-0", name="Made meanwhile", sale_price="1.00")

    outcome = import_preview_run(confirmed.pk, apply=True)

    assert reads == ["bg.csv"]  # the plan no longer held: the file was read and checked again
    assert outcome.ok and (outcome.new, outcome.updated) == (5, 1)
    assert any("changed since the preview" in note for note in outcome.notes)
    assert Product.objects.get(sku="BG-0").name == "Background 0"
    assert Product.history.filter(history_user=admin_user).count() == 6


def test_the_stored_outcome_leaves_out_the_plan_and_every_error():
    outcome = Outcome(new=1, rows=[{"number": 2, "kind": "new", "values": ["A"]}], plan=object(), result=object())
    outcome.every_error.append({"row": 2, "column": "sku", "reason": "bad"})

    stored = outcome.as_json()

    assert not {"plan", "result", "every_error"} & set(stored)
    assert stored["rows"] == outcome.rows and stored["rows"] is not outcome.rows
    assert Outcome.from_json(stored).new == 1
