"""Admin exports through the one export path (backoffice/exports.py): time and peak memory.

Seeds N stock movements (bulk insert, 1,000 products, every tenth name a formula
that must come out neutralised), then exports the whole ledger through the stock
ledger admin's export view as CSV and as XLSX, reading the streamed response to
the end as a browser would; above ``EXPORT_SYNC_MAX_ROWS`` (100,000) the view
queues a background export, whose task is then run in the same process as the
django-q2 worker would (the time printed is request + task, the file is the
task's). Each format runs in its own process so the peak
resident memory printed is that export's own. Prints figures; asserts nothing.
Runs on a throwaway SQLite file, and on a throwaway PostgreSQL database when
DATABASE_URL is set.

    python benchmarks/exports.py [--movements N] [--formats csv,xlsx]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from decimal import Decimal

from _django import database_label, run_per_database, setup_django

FORMAT_CHOICES = {"csv": "0", "xlsx": "1"}


def seed(movements: int) -> None:
    from django.contrib.auth import get_user_model

    from inventory.models import Category, MovementKind, Product, StockMovement, Warehouse

    category = Category.objects.create(name="Bench")
    warehouse = Warehouse.objects.create(code="MAIN", name="Main")
    products = Product.objects.bulk_create(
        [
            Product(sku=f"P{i:05d}", name=f"=Formula {i}" if i % 10 == 0 else f"Product {i}", category=category)
            for i in range(1000)
        ]
    )
    batch = []
    for i in range(movements):
        receipt = i % 2 == 0
        batch.append(
            StockMovement(
                product=products[i % 1000],
                warehouse=warehouse,
                kind=MovementKind.RECEIPT if receipt else MovementKind.SHIPMENT,
                quantity=5 if receipt else -3,
                unit_cost=Decimal("9.1234"),
                balance_after=100,
                reference=f"REF-{i}",
            )
        )
        if len(batch) == 10_000:
            StockMovement.objects.bulk_create(batch)
            batch = []
    StockMovement.objects.bulk_create(batch)
    get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-123")


def export(file_format: str) -> None:
    """One export as the admin's export button makes it; above ``EXPORT_SYNC_MAX_ROWS`` rows, in the background.

    Up to the limit the view's streamed response is read to the end, as a browser would. Above it the
    view records an ``ExportJob`` and redirects to it; the queued task (``backoffice.tasks.export_job_task``)
    is then run here, as the django-q2 worker would, and the file it writes is measured.
    """
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.test import RequestFactory

    from backoffice.export_jobs import export_file
    from backoffice.models import ExportJob
    from backoffice.tasks import export_job_task
    from inventory.models import StockMovement

    model_admin = admin.site._registry[StockMovement]
    request = RequestFactory().post(
        "/admin/inventory/stockmovement/export/", {"format": FORMAT_CHOICES[file_format], "resource": "0"}
    )
    request.user = get_user_model().objects.get(username="bench")
    request.session = {}
    request._messages = FallbackStorage(request)
    rows = StockMovement.objects.count()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    response = model_admin.export_action(request)
    if response.status_code == 302:
        asked = time.perf_counter() - started
        job = ExportJob.objects.latest("pk")
        export_job_task(job.pk)
        job.refresh_from_db()
        path = export_file(job)
        size = path.stat().st_size if path else 0
        if path:
            path.unlink()  # a throwaway file of a throwaway database
        how = f"background job ({job.status}, {job.row_count:,} rows; the request took {asked:.2f} s)"
    else:
        size = sum(len(chunk) for chunk in response.streaming_content)
        how = type(response).__name__
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {file_format.upper():<5} {rows:>10,} rows  {elapsed:7.1f} s ({cpu:.1f} s CPU in Python)  "
        f"{rows / elapsed:>9,.0f} rows/s  "
        f"{size / 1e6:7.1f} MB file  peak RSS {peak:5.0f} MB (process before export {before:.0f} MB)  {how}",
        flush=True,
    )


def child(movements: int, formats: list[str]) -> None:
    setup_django()
    started = time.perf_counter()
    seed(movements)
    print(
        f"== exports on {database_label()}: {movements:,} movements seeded in {time.perf_counter() - started:.1f} s; "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for file_format in formats:
        # A fresh process per format: ru_maxrss is a high-water mark.
        subprocess.run([sys.executable, __file__, "--export", file_format], env=os.environ, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=int(os.environ.get("BENCH_EXPORT_MOVEMENTS", 100_000)))
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--export", choices=sorted(FORMAT_CHOICES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    if args.export:
        setup_django()
        export(args.export)
        return 0
    if args.child:
        child(args.movements, formats)
        return 0
    return run_per_database(__file__, ["--movements", str(args.movements), "--formats", ",".join(formats)])


if __name__ == "__main__":
    sys.exit(main())
