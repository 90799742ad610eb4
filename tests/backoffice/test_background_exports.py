"""Admin list exports above EXPORT_SYNC_MAX_ROWS run in the background (issue 7 §3).

What a user notices: asking for a big export answers at once with "Your export
is being prepared" and a link; the Exports page lists it and, once written,
offers the file — exactly the rows the list's filters selected and the user
may see; an e-mail brings the link; nobody else can download it; the file is
gone after 24 hours.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf

from backoffice import export_jobs
from backoffice.models import ExportJob
from backoffice.tasks import export_job_task, import_previews_cleanup_task
from inventory.models import MovementKind, Product
from inventory.services import StockLine, stock_receive
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"


@pytest.fixture
def small_threshold(settings, monkeypatch):
    settings.EXPORT_SYNC_MAX_ROWS = 50
    monkeypatch.setattr(Conf, "SYNC", True)  # queued tasks (the export, the e-mail) run in this process


@pytest.fixture
def products(db):
    """60 active products and 10 inactive ones."""
    for n in range(70):
        ProductFactory(sku=f"P-{n:03d}", name=f"Product {n}", is_active=n < 60, sale_price=Decimal("1.50"))


def export(client, model: str, query: str = "", file_format: str = CSV_FORMAT, app: str = "inventory", **data):
    url = reverse(f"admin:{app}_{model}_export") + (f"?{query}" if query else "")
    return client.post(url, {"format": file_format, "resource": "0", **data})


def file_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def test_a_small_export_is_still_streamed_in_the_request(admin_client, products, small_threshold):
    response = export(admin_client, "product", "is_active__exact=0")
    assert response.status_code == 200 and len(file_rows(response)) == 11
    assert not ExportJob.objects.exists()


def test_a_big_export_goes_to_the_background_with_exactly_the_filtered_rows(
    admin_client, admin_user, products, small_threshold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = export(admin_client, "product", "is_active__exact=1")

    job = ExportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:backoffice_exportjob_change", args=[job.pk])
    told = [str(m) for m in response.wsgi_request._messages]
    assert any("Your export of more than 50 rows is being prepared" in m for m in told)
    assert (job.user, job.status, job.what, job.file_format) == (admin_user, "done", "products", "csv")
    assert job.query_string == "is_active__exact=1" and job.row_count == 60

    download = admin_client.get(reverse("admin:backoffice_exportjob_download", args=[job.pk]))
    assert download.status_code == 200 and job.file_name in download["Content-Disposition"]
    rows = file_rows(download)
    expected = sorted(Product.objects.filter(is_active=True).values_list("sku", flat=True))
    assert sorted(row[0] for row in rows[1:]) == expected  # 60 rows, none of the 10 inactive ones
    assert "Download" in admin_client.get(reverse("admin:backoffice_exportjob_changelist")).content.decode()

    [email] = mail.outbox
    assert email.to == [admin_user.email] and "Your export of products is ready" in email.subject
    assert reverse("admin:backoffice_exportjob_change", args=[job.pk]) in email.body


def test_a_big_xlsx_export_is_written_too(admin_client, products, small_threshold, django_capture_on_commit_callbacks):
    import openpyxl

    with django_capture_on_commit_callbacks(execute=True):
        export(admin_client, "product", file_format=XLSX_FORMAT)
    job = ExportJob.objects.get()
    assert job.status == "done" and job.file_name.endswith(".xlsx")
    response = admin_client.get(reverse("admin:backoffice_exportjob_download", args=[job.pk]))
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    assert len(list(sheet.iter_rows(values_only=True))) == 71  # header + every product


def test_nobody_else_downloads_an_export(
    admin_client, make_user, products, small_threshold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export(admin_client, "product")
    job = ExportJob.objects.get()
    assert job.status == "done"
    other = Client()
    other.force_login(make_user("Viewer"))
    for view in ("download", "change", "status"):
        assert other.get(reverse(f"admin:backoffice_exportjob_{view}", args=[job.pk])).status_code == 404, view
    listing = other.get(reverse("admin:backoffice_exportjob_changelist")).content.decode()
    assert reverse("admin:backoffice_exportjob_change", args=[job.pk]) not in listing
    manager = Client()
    manager.force_login(make_user("Manager"))
    assert manager.get(reverse("admin:backoffice_exportjob_download", args=[job.pk])).status_code == 200


def test_a_warehouse_users_background_export_holds_only_their_warehouses(
    client, make_user, settings, small_threshold, django_capture_on_commit_callbacks
):
    settings.EXPORT_SYNC_MAX_ROWS = 30
    main, other = WarehouseFactory(code="MAIN"), WarehouseFactory(code="OTHER")
    products = [ProductFactory(sku=f"S-{n:02d}") for n in range(40)]
    for warehouse in (main, other):
        lines = [StockLine(product.pk, warehouse.pk, 3, Decimal("1")) for product in products]
        stock_receive(lines=lines, kind=MovementKind.OPENING, reference=f"OPEN-{warehouse.code}")
    keeper = make_user("Warehouse")
    main.staff.add(keeper)
    client.force_login(keeper)

    # A filter naming OTHER (not offered to her) finds nothing: the file is streamed at once, with no rows.
    response = export(client, "stockmovement", f"warehouse__id__exact={other.pk}")
    assert response.status_code == 200 and file_rows(response)[1:] == []
    assert not ExportJob.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        # Over the threshold: the job stores the query, and the task scopes the rows again when it runs.
        response = export(client, "stockmovement", "kind__exact=opening")

    job = ExportJob.objects.get()
    assert job.query_string == "kind__exact=opening"
    assert response.status_code == 302 and job.status == "done" and job.row_count == 40
    rows = file_rows(client.get(reverse("admin:backoffice_exportjob_download", args=[job.pk])))
    warehouse_column = rows[0].index("Warehouse")  # the ledger's readable header
    assert len(rows) == 41 and {row[warehouse_column] for row in rows[1:]} == {"MAIN"}


def test_the_task_replays_the_users_current_rights(
    admin_client, make_user, products, small_threshold, django_capture_on_commit_callbacks
):
    viewer = make_user("Viewer")
    client = Client()
    client.force_login(viewer)
    viewer.groups.clear()  # the right is gone by the time the worker runs
    job = ExportJob.objects.create(user=viewer, what="products", model_label="inventory.product", file_format="csv")

    export_job_task(job.pk)

    job.refresh_from_db()
    assert job.status == "failed" and "You may no longer export products" in job.message
    assert not (export_jobs.exports_folder()).exists() or not any(export_jobs.exports_folder().iterdir())


def test_a_retry_of_a_finished_export_does_nothing(
    admin_client, products, small_threshold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export(admin_client, "product")
    job = ExportJob.objects.get()
    finished = job.finished_at

    assert export_jobs.export_job_run(job.pk) is None

    job.refresh_from_db()
    assert job.finished_at == finished and len(list(export_jobs.exports_folder().iterdir())) == 1


def test_export_files_are_deleted_after_24_hours(
    admin_client, products, small_threshold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export(admin_client, "product")
    job = ExportJob.objects.get()
    path = export_jobs.export_file(job)
    assert path is not None
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=25))

    import_previews_cleanup_task()

    job.refresh_from_db()
    assert not path.exists() and job.status == "expired" and job.row_count == 70
    assert admin_client.get(reverse("admin:backoffice_exportjob_download", args=[job.pk])).status_code == 404
    assert (
        "export the list again"
        in admin_client.get(reverse("admin:backoffice_exportjob_change", args=[job.pk])).content.decode()
    )


def test_counting_stops_at_the_threshold(settings, products, django_assert_max_num_queries):
    settings.EXPORT_SYNC_MAX_ROWS = 50
    with django_assert_max_num_queries(1) as captured:
        assert export_jobs.is_big(Product.objects.all())
    assert "LIMIT 51" in captured.captured_queries[0]["sql"]
    settings.EXPORT_SYNC_MAX_ROWS = 70
    assert not export_jobs.is_big(Product.objects.all())
