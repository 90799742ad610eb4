"""``manage.py import_data`` records each run in the Imports list (``ImportJob``), as an admin upload is."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from backoffice.import_jobs import bad_rows_file
from backoffice.models import ImportJob
from inventory.models import Product
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

HEADER = ["sku", "name", "category", "sale_price", "is_active"]


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def run(*args):
    call_command("import_data", *args, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def tea(db):
    return CategoryFactory(name="Tea")


def test_an_import_is_recorded_with_who_counts_duration_and_status(tmp_path, tea, make_user):
    clerk = make_user("Admin", username="clerk")
    path = write_csv(tmp_path / "cli.csv", [["CLI-1", "One", "Tea", "1.50", "yes"], ["CLI-2", "Two", "Tea", "2", "no"]])

    run("products", str(path), "--user", "clerk")

    job = ImportJob.objects.get()
    assert (job.user, job.file_name, job.file_format, job.what) == (clerk, "cli.csv", "csv", "products")
    assert (job.status, job.row_count, job.new, job.updated, job.unchanged, job.error_count) == (
        ImportJob.Status.DONE,
        2,
        2,
        0,
        0,
        0,
    )
    assert job.finished_at is not None and job.seconds > 0
    assert Product.objects.count() == 2

    run("products", str(path), "--user", "clerk")  # the same file again: nothing changes
    again = ImportJob.objects.latest("pk")
    assert (again.status, again.new, again.unchanged) == (ImportJob.Status.DONE, 0, 2)


def test_bad_rows_are_recorded_and_downloadable_and_nothing_is_written(tmp_path, tea):
    path = write_csv(tmp_path / "bad.csv", [["B-1", "Good", "Tea", "1", "yes"], ["B-2", "Bad", "Tea", "abc", "yes"]])

    with pytest.raises(CommandError):
        run("products", str(path))

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and job.user is None
    assert job.bad_row_count == 1 and job.bad_rows[0]["row"] == 3  # spreadsheet numbering: the header is row 1
    assert job.bad_rows[0]["column"] == "sale_price" and job.bad_rows[0]["value"] == "abc"
    assert "B-2" not in bad_rows_file(job).read_text() and "abc" in bad_rows_file(job).read_text()
    assert not Product.objects.exists()


def test_a_dry_run_is_recorded_as_checked_with_nothing_written(tmp_path, tea):
    path = write_csv(tmp_path / "dry.csv", [["D-1", "Dry", "Tea", "1", "yes"]])

    run("products", str(path), "--dry-run")

    job = ImportJob.objects.get()
    assert (job.status, job.new) == (ImportJob.Status.VALIDATED, 1)
    assert "nothing was written" in job.message and job.error_count == 0
    assert not Product.objects.exists()


def test_the_imports_list_shows_command_line_imports(admin_client, tmp_path, tea):
    run("products", str(write_csv(tmp_path / "listed.csv", [["L-1", "Listed", "Tea", "1", "yes"]])))

    page = admin_client.get(reverse("admin:backoffice_importjob_changelist"))

    assert page.status_code == 200 and "listed.csv" in page.content.decode()
