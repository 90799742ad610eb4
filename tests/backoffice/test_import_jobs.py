"""The Imports list and each import's result page (issue 7 §2): every upload recorded, progress, bad rows.

What a user notices: the import appears under Administration → Imports with
who, what, when, file, status, counts and duration; its page shows a progress
bar while a worker runs it, then "18 OK / 2 with errors", the first 100 bad
rows (spreadsheet row numbers: header = row 1) and a CSV of all of them;
nobody else (but Admins and Managers) can open it.
"""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf

from backoffice import import_jobs
from backoffice.imports import ImportTarget, Outcome, first_rows, import_previews_cleanup, import_upload
from backoffice.models import ImportJob, ImportPreview
from backoffice.tasks import import_previews_cleanup_task
from backoffice.uploads import read_upload
from inventory.models import Product
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = ["sku", "name", "sale_price"]


def import_url(view: str, *args) -> str:
    return reverse(f"admin:inventory_product_{view}", args=args)


def job_url(job, view: str = "change") -> str:
    return reverse(f"admin:backoffice_importjob_{view}", args=[job.pk])


def csv_bytes(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def upload(client, name: str, rows):
    return client.post(
        import_url("import"), {"format": "0", "resource": "0", "import_file": SimpleUploadedFile(name, csv_bytes(rows))}
    )


def text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


def download(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


@pytest.fixture
def in_background(monkeypatch, settings):
    """django-q2 runs queued tasks in the calling process (its ``sync`` mode); files above 2 rows go there."""
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.IMPORT_SYNC_MAX_ROWS = 2


def twenty_rows_two_bad():
    rows = [HEADER] + [[f"OK-{n:02d}", f"Product {n}", "2.50"] for n in range(20)]
    rows[5][2] = "cheap"  # data row 5 = spreadsheet row 6
    rows[17][2] = "=HYPERLINK(1)"  # spreadsheet row 18, a value starting like a formula
    return rows


# ---------------------------------------------------------------------------
# Small files: validated in the request, recorded all the same


def test_a_file_with_bad_rows_is_recorded_with_counts_and_every_bad_row(admin_client, admin_user):
    response = upload(admin_client, "prices.csv", twenty_rows_two_bad())

    job = ImportJob.objects.get()
    assert (job.user, job.what, job.file_name, job.status) == (admin_user, "products", "prices.csv", "failed")
    assert (job.row_count, job.bad_row_count, job.ok_row_count, job.error_count) == (20, 2, 18, 2)
    assert [(r["row"], r["column"], r["value"]) for r in job.bad_rows] == [
        (6, "sale_price", "cheap"),
        (18, "sale_price", "=HYPERLINK(1)"),
    ]
    page = text(response)
    assert "18 OK / 2 with errors" in page
    assert job_url(job) in response.content.decode()  # the upload page links to the import's page
    assert not Product.objects.exists()


def test_the_result_page_lists_bad_rows_and_the_csv_holds_all_of_them(admin_client, settings):
    settings.IMPORT_PREVIEW_MAX_ERRORS = 30  # the preview lists 30; the job keeps all 150
    rows = [HEADER] + [[f"B-{n:03d}", f"Bad {n}", f"x{n}"] for n in range(150)]
    rows.append(["C-1", "Formula", "@SUM(A1)"])
    upload(admin_client, "bad.csv", rows)
    job = ImportJob.objects.get()

    page = admin_client.get(job_url(job))
    assert page.status_code == 200
    shown = text(page)
    assert "151 bad rows (151 problems) — the first 100 are listed" in shown
    assert "0 OK / 151 with errors" in shown
    assert "x99" in shown and "x100" not in shown  # the 100th bad row is listed, the 101st is not

    response = admin_client.get(job_url(job, "bad_rows"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="bad-bad-rows.csv"' in response["Content-Disposition"]
    table = download(response)
    assert table[0] == ["row", "column", "value", "reason"]
    assert len(table) == 152  # every bad row, header excluded
    assert table[1][:3] == ["2", "sale_price", "x0"] and "is not a number" in table[1][3]
    assert table[-1][:3] == ["152", "sale_price", "'@SUM(A1)"]  # formula-safe


def test_a_clean_small_file_is_validated_then_done_with_duration(admin_client):
    rows = [HEADER] + [[f"OK-{n}", f"Product {n}", "1.00"] for n in range(2)]
    response = upload(admin_client, "ok.csv", rows)
    job = ImportJob.objects.get()
    assert job.status == "validated" and job.preview is not None and (job.new, job.bad_row_count) == (2, 0)
    assert "2 OK / 0 with errors" in text(response)

    admin_client.post(import_url("process_import"), response.context["confirm_form"].initial)

    job.refresh_from_db()
    assert job.status == "done" and job.new == 2 and job.finished_at is not None and job.seconds >= 0
    assert job.preview is None and job.stored_name == ""  # the preview and its file are gone, the record stays
    assert Product.objects.count() == 2


def test_order_imports_are_recorded_with_file_line_numbers(admin_client, warehouse, stocked_product):
    CustomerFactory(code="ALFKI")
    content = (
        b"order_number,customer,warehouse,status,order_date,sku,quantity\n"
        b"H-1,ALFKI,MAIN,draft,2024-01-02,CHAI,1\n"
        b"H-2,ALFKI,MAIN,draft,2024-01-02,NOPE,1\n"
    )
    response = admin_client.post(
        reverse("admin:orders_salesorder_import_orders"), {"file": SimpleUploadedFile("orders.csv", content)}
    )

    job = ImportJob.objects.get()
    assert (job.what, job.status, job.model_label) == ("sales orders", "failed", "orders.salesorder")
    assert [(r["row"], r["column"], r["value"]) for r in job.bad_rows] == [(3, "sku", "NOPE")]
    assert job_url(job) in response.content.decode()


# ---------------------------------------------------------------------------
# Big files: the background path, worker run synchronously


def test_background_import_is_recorded_through_each_step(admin_client, admin_user, in_background):
    rows = [HEADER] + [[f"BG-{n}", f"Background {n}", "2.50"] for n in range(5)]
    response = upload(admin_client, "big.csv", rows)

    job = ImportJob.objects.get()
    assert job.status == "validated" and (job.row_count, job.new, job.rows_done) == (5, 5, 5)
    status_page = admin_client.get(response.url)
    assert job_url(job) in status_page.content.decode()
    result = admin_client.get(job_url(job))
    assert reverse("admin:inventory_product_import_status", args=[job.preview.token]) in result.content.decode()

    admin_client.post(import_url("process_import"), status_page.context["confirm_form"].initial)

    job.refresh_from_db()
    assert job.status == "done" and job.new == 5 and job.finished_at and job.started_at
    assert Product.objects.filter(sku__startswith="BG-").count() == 5
    listing = admin_client.get(reverse("admin:backoffice_importjob_changelist"))
    row = text(listing)
    assert "big.csv" in row and "imported" in row and "5 / 0 / 0 / 0" in row and "boss" in row


def test_a_rejected_background_file_keeps_its_bad_rows(admin_client, in_background):
    rows = [HEADER] + [[f"BG-{n}", "x", "abc" if n == 3 else "1"] for n in range(5)]
    upload(admin_client, "bad.csv", rows)
    job = ImportJob.objects.get()
    assert job.status == "failed" and job.bad_rows[0]["row"] == 5 and job.bad_rows[0]["value"] == "abc"
    assert job.stored_name == ""  # the stored upload is deleted at once; the bad rows file stays 24 h
    assert admin_client.get(job_url(job, "bad_rows")).status_code == 200


def test_a_queued_job_shows_a_live_progress_bar(admin_client, settings, monkeypatch):
    import backoffice.imports

    monkeypatch.setattr(backoffice.imports, "async_task", lambda *args, **kwargs: None)  # no worker yet
    settings.IMPORT_SYNC_MAX_ROWS = 2
    rows = [HEADER] + [[f"BG-{n}", "x", "1"] for n in range(5)]
    status_page = admin_client.get(upload(admin_client, "big.csv", rows).url)

    job = ImportJob.objects.get()
    assert job.status == "queued" and job.running
    content = status_page.content.decode()
    assert 'id="job-progress"' in content and 'data-running="1"' in content
    assert reverse("admin:backoffice_importjob_status", args=[job.pk]) in content
    assert "backoffice/job_progress.js" in content and "http-equiv" not in content  # updated in place, no reload
    assert 'data-running="1"' in admin_client.get(job_url(job)).content.decode()


# ---------------------------------------------------------------------------
# Progress


class CountingTarget(ImportTarget):
    """A target that reports its progress per batch of 10 rows, and looks at the status page meanwhile."""

    name = "tests.backoffice.test_import_jobs.COUNTING"
    model = Product

    def __init__(self):
        self.seen = []

    def validate(self, sheet, user, progress=None):
        for done in range(0, len(sheet) + 1, 10):
            progress(done, len(sheet))
            if done == 50:
                job = ImportJob.objects.get()
                self.seen.append(import_jobs.import_job_status(job))
        return Outcome(new=len(sheet), row_count=len(sheet), rows=first_rows(sheet))

    def apply(self, sheet, user, progress=None):
        return self.validate(sheet, user, progress)


def test_the_engine_reports_progress_and_the_status_view_shows_it(admin_user, monkeypatch):
    monkeypatch.setattr(import_jobs, "PROGRESS_INTERVAL", 0)  # keep every call (throttling: the next test)
    rows = [HEADER] + [[f"P-{n}", "x", "1"] for n in range(100)]
    content = csv_bytes(rows)
    sheet = read_upload(io.BytesIO(content), file_format="csv", name="p.csv")
    target = CountingTarget()

    _, outcome = import_upload(
        upload=SimpleUploadedFile("p.csv", content), sheet=sheet, target=target, user=admin_user, session_key="s" * 32
    )

    [midway] = target.seen
    assert midway["running"] and midway["rows_done"] == 50 and midway["rows_total"] == 100
    assert midway["percent"] == 50.0
    job = ImportJob.objects.get(pk=outcome.job_id)
    assert job.status == "validated" and job.rows_done == 100


def test_progress_is_stored_at_most_every_half_second(admin_user, settings):
    job = ImportJob.objects.create(user=admin_user, target="t", what="products", file_name="f.csv", status="importing")
    clock = iter([0.0, 0.1, 0.2, 0.3, 0.6, 0.7, 1.0, 1.2, 1.3, 5.0])
    recorder = import_jobs.ProgressRecorder(job, clock=lambda: next(clock))
    for done in range(0, 90, 10):
        recorder(done, 100)
    assert recorder.writes == 3  # at 0.0, 0.6 and 1.2 s: not once per call
    saved = json.loads(import_jobs.progress_path(job.pk).read_text())
    assert (saved["rows_done"], saved["rows_total"]) == (70, 100)
    recorder(100, 100)  # the end is always kept
    assert json.loads(import_jobs.progress_path(job.pk).read_text())["rows_done"] == 100


def test_status_endpoint_gives_rate_and_time_left(admin_client, admin_user):
    job = ImportJob.objects.create(
        user=admin_user,
        target="t",
        what="products",
        file_name="f.csv",
        status="importing",
        row_count=10_000,
        started_at=timezone.now() - timedelta(seconds=2),
    )
    import_jobs.ProgressRecorder(job)(4000, 10_000)

    data = admin_client.get(job_url(job, "status")).json()

    assert data["running"] and data["rows_done"] == 4000 and data["percent"] == 40.0
    assert 1500 <= data["rows_per_second"] <= 2100
    assert 2 <= data["seconds_left"] <= 4


# ---------------------------------------------------------------------------
# Who sees what


@pytest.fixture
def someones_bad_import(make_user):
    owner = make_user("Sales", username="seller")
    client = Client()
    client.force_login(owner)
    client.post(
        reverse("admin:orders_customer_import"),
        {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("c.csv", b"code,name\n,Nameless\n")},
    )
    return ImportJob.objects.get(user=owner)


def test_another_user_cannot_open_someones_job_or_its_bad_rows(someones_bad_import, make_user):
    job = someones_bad_import
    assert job.bad_rows and job.errors_file
    other = Client()
    other.force_login(make_user("Sales", username="other-seller"))
    for view in ("change", "status", "bad_rows", "history"):
        assert other.get(job_url(job, view)).status_code == 404, view
    listing = other.get(reverse("admin:backoffice_importjob_changelist"))
    assert listing.status_code == 200 and "c.csv" not in text(listing)


def test_the_owner_and_managers_see_the_job(someones_bad_import, make_user):
    job = someones_bad_import
    owner = Client()
    owner.force_login(job.user)
    assert owner.get(job_url(job)).status_code == 200
    assert "c.csv" in text(owner.get(reverse("admin:backoffice_importjob_changelist")))
    manager = Client()
    manager.force_login(make_user("Manager"))
    assert manager.get(job_url(job, "bad_rows")).status_code == 200
    assert "c.csv" in text(manager.get(reverse("admin:backoffice_importjob_changelist")))


def test_the_imports_list_is_read_only(admin_client, someones_bad_import):
    job = someones_bad_import
    assert admin_client.get(reverse("admin:backoffice_importjob_add")).status_code == 403
    assert admin_client.post(reverse("admin:backoffice_importjob_delete", args=[job.pk])).status_code == 403
    assert ImportJob.objects.filter(pk=job.pk).exists()


def test_sidebar_offers_imports_and_exports_to_every_staff_user(make_user):
    client = Client()
    client.force_login(make_user("Viewer"))
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:backoffice_importjob_changelist") in page
    assert reverse("admin:backoffice_exportjob_changelist") in page


# ---------------------------------------------------------------------------
# Cleanup after 24 hours: files go, the record stays


def test_cleanup_keeps_the_record_and_deletes_the_files(admin_client, settings):
    response = upload(admin_client, "ok.csv", [HEADER, ["OK-1", "One", "1"]])
    assert response.context["confirm_form"] is not None
    upload(admin_client, "bad.csv", [HEADER, ["B-1", "Bad", "x"]])
    waiting, rejected = ImportJob.objects.order_by("pk")
    assert waiting.stored_name and rejected.errors_file
    files = [settings.MEDIA_ROOT / "imports" / waiting.stored_name, import_jobs.bad_rows_file(rejected)]
    assert all(path.is_file() for path in files)

    import_previews_cleanup(now=timezone.now() + timedelta(hours=25))

    waiting.refresh_from_db()
    rejected.refresh_from_db()
    assert not any(path.exists() for path in files)
    assert waiting.status == "expired" and waiting.stored_name == "" and not ImportPreview.objects.exists()
    assert rejected.status == "failed" and rejected.errors_file == "" and rejected.bad_rows[0]["value"] == "x"
    page = text(admin_client.get(job_url(rejected)))
    assert "The full list was deleted after 24 hours" in page
    assert admin_client.get(job_url(rejected, "bad_rows")).status_code == 404


def test_the_scheduled_cleanup_leaves_recent_jobs_alone(admin_client):
    upload(admin_client, "bad.csv", [HEADER, ["B-1", "Bad", "x"]])
    import_previews_cleanup_task()
    job = ImportJob.objects.get()
    assert job.errors_file and import_jobs.bad_rows_file(job) is not None
    assert job.bad_rows[0]["row"] == 2
