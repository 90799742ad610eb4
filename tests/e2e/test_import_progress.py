"""A big import in a real browser: upload, watch it on its page, find every bad row and download them (issue 7 §2).

The worker runs in the server's process (django-q2's sync mode); the live
progress bar is shown with a job whose progress a "worker" (the test) moves
while the page is open: the figures change without the page being reloaded.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.conf import Conf
from playwright.sync_api import expect

from backoffice import import_jobs
from backoffice.models import ImportJob
from inventory.models import Product


@pytest.fixture
def in_background(monkeypatch, settings):
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.IMPORT_SYNC_MAX_ROWS = 5


def test_upload_a_big_file_then_see_and_download_its_bad_rows(logged_in_page, screenshot, tmp_path, in_background):
    page = logged_in_page
    rows = ["sku,name,sale_price"] + [
        f"BIG-{n:02d},Product {n},{'cheap' if n in (3, 11) else '2.50'}" for n in range(20)
    ]
    csv_file = tmp_path / "price-list.csv"
    csv_file.write_text("\n".join(rows) + "\n")

    page.goto("/admin/inventory/product/import/")
    page.set_input_files("input[name=import_file]", str(csv_file))
    page.select_option("select[name=format]", label="csv")
    page.get_by_role("button", name="Submit").click()

    # The upload answered with the import's status page; the page links to the import under Imports.
    expect(page.locator("#import-status")).to_contain_text("price-list.csv: 20 rows")
    page.locator("#job-link").click()
    expect(page.locator("#job-summary")).to_contain_text("18 OK / 2 with errors")
    expect(page.locator("#bad-rows")).to_contain_text("2 bad rows")
    bad_rows = page.locator("#bad-rows tbody tr")
    expect(bad_rows).to_have_count(2)
    expect(bad_rows.first).to_contain_text("5")  # data row 4 of the file = spreadsheet row 5
    expect(bad_rows.first).to_contain_text("cheap")
    expect(page.locator("#job-progress progress")).to_have_attribute("value", "100.0")
    shot = screenshot("result")
    assert shot.stat().st_size > 10_000

    with page.expect_download() as download_info:
        page.locator("#download-bad-rows").click()
    download = download_info.value
    assert download.suggested_filename == "price-list-bad-rows.csv"
    table = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert [row[:3] for row in table] == [
        ["row", "column", "value"],
        ["5", "sale_price", "cheap"],
        ["13", "sale_price", "cheap"],
    ]
    assert not Product.objects.exists()

    # The Imports list shows it with its counts.
    page.goto("/admin/backoffice/importjob/")
    expect(page.locator("#result_list")).to_contain_text("price-list.csv")
    expect(page.locator("#result_list")).to_contain_text("failed")


def test_the_progress_bar_moves_without_reloading(logged_in_page, screenshot, superuser):
    page = logged_in_page
    job = ImportJob.objects.create(
        user=superuser,
        target="resource:inventory.resources.ProductResource",
        what="products",
        model_label="inventory.product",
        file_name="prices-100k.csv",
        status=ImportJob.Status.IMPORTING,
        row_count=100_000,
        started_at=timezone.now() - timedelta(seconds=4),
    )
    worker = import_jobs.ProgressRecorder(job, interval=0)
    worker(20_000, 100_000)

    page.goto(f"/admin/backoffice/importjob/{job.pk}/change/")
    expect(page.locator("[data-progress-text]")).to_contain_text("20,000 of 100,000 rows (20 %)")
    page.evaluate("window.notReloaded = true")

    worker(60_000, 100_000)
    expect(page.locator("[data-progress-text]")).to_contain_text("60,000 of 100,000 rows (60 %)")
    expect(page.locator("[data-progress-text]")).to_contain_text("rows/s")
    expect(page.locator("[data-progress-text]")).to_contain_text("left")
    assert page.evaluate("window.notReloaded") is True  # updated in place
    expect(page.locator("#job-progress progress")).to_have_js_property("value", 60)
    screenshot("running")

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, new=100_000, rows_done=100_000, finished_at=timezone.now(), seconds=9.5
    )
    expect(page.locator("#job-summary")).to_contain_text("100000 OK / 0 with errors")  # reloaded once, finished
    expect(page.locator("#job-facts")).to_contain_text("imported")
    screenshot("done")
