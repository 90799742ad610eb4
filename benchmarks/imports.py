"""Product imports through the project's import engine (backoffice/imports.py) against plain django-import-export.

Generates a products CSV of N rows (default 100,000; 50 categories referenced by
name, every other row with a barcode) and times, each phase in its own process
so the peak resident memory printed is that phase's own:

* **engine**: the file read (``backoffice.uploads.read_upload``), validated
  (the preview, a dry run) and imported with history (``import_validate`` then
  ``import_apply`` of the preview's plan with ``ResourceTarget(ProductResource)``,
  the calls the admin's confirm step, the background tasks and the commands
  make), from CSV and from XLSX (other SKUs: new rows again);
* **baseline**: a plain ``import_export.resources.ModelResource`` for Product
  with default settings (keyed by sku, category by name; no bulk mode,
  row-by-row saves, history by signal), dry run then import, on a sample of the
  same file (``--baseline-rows``, default 2,000: the full file would take
  many minutes); rows/s are compared, and the ratio printed;
* **admin upload**: the same kind of file (other SKUs) uploaded through the
  admin (test client, a superuser): the upload request's time (a big file is
  stored and queued unread), the background validation, the Confirm request and
  the background import (the queued tasks run in the same process, as a worker);
* **update**: the same N rows again with 10 % of them changed: how many rows
  were written and how many history rows that produced.

Prints figures; asserts nothing. Runs on a throwaway SQLite file, and on a
throwaway PostgreSQL database when DATABASE_URL is set.

    python benchmarks/imports.py [--rows N] [--baseline-rows N] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _django import database_label, run_per_database, setup_django

HEADER = ["sku", "name", "category", "unit", "barcode", "sale_price", "cost", "tax_rate", "is_active"]
CATEGORIES = 50
TARGETS = {"rows": 100_000, "seconds": 10.0, "ratio": 20.0, "peak_mb": 400}


def product_csv(rows: int, *, prefix: str, changed_every: int = 0) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for i in range(rows):
        price = f"{10 + i % 90}.{i % 100:02d}"
        if changed_every and i % changed_every == 0:
            price = f"{200 + i % 90}.50"
        writer.writerow(
            [
                f"{prefix}{i:07d}",
                f"Product {i} of the benchmark",
                f"Category {i % CATEGORIES:02d}",
                "box of 12",
                f"{prefix}BC{i:09d}" if i % 2 else "",
                price,
                f"{5 + i % 40}.25",
                "20",
                "yes" if i % 7 else "no",
            ]
        )
    return buffer.getvalue().encode()


def product_xlsx(rows: int, *, prefix: str, path: Path) -> None:
    """The same rows as ``product_csv`` in a workbook (write-only mode)."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("products")
    for row in csv.reader(io.StringIO(product_csv(rows, prefix=prefix).decode())):
        sheet.append(row)
    book.save(path)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process (all its threads): with the server's, what the figures cost whatever the load."""
    times = os.times()
    return times.user + times.system


def server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend (read from /proc: a server on this machine), else None."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None  # SQLite works inside this process: counted in cpu_seconds()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def report(**figures) -> None:
    print("RESULT " + json.dumps(figures), flush=True)


def phase_engine(path: str) -> None:
    """Read, validate (preview) and import through the project's engine; print the figures as JSON."""
    from django.contrib.auth import get_user_model

    from backoffice.imports import ResourceTarget, import_apply, import_validate
    from backoffice.uploads import read_upload
    from inventory.models import Product
    from inventory.resources import ProductResource

    user = get_user_model().objects.get(username="bench")
    target = ResourceTarget(ProductResource)
    history = Product.history.model.objects
    last_history = history.order_by("-history_id").values_list("history_id", flat=True).first() or 0
    server_before, cpu_before = server_cpu_seconds(), cpu_seconds()
    started = time.perf_counter()
    with open(path, "rb") as upload:
        sheet = read_upload(upload, file_format=Path(path).suffix.lstrip("."), name=Path(path).name)
    read = time.perf_counter() - started
    progress_calls = []
    preview = import_validate(sheet=sheet, target=target, user=user, progress=lambda d, t: progress_calls.append(d))
    validated = time.perf_counter() - started - read
    # Confirm writes what the preview validated (its plan), as the admin's confirm step does.
    done = import_apply(sheet=sheet, target=target, user=user, plan=preview.plan)
    total = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    server_after = server_cpu_seconds()
    server_cpu = server_after - server_before if server_before is not None and server_after is not None else None
    report(
        rows=len(sheet),
        read=read,
        validate=validated,
        apply=total - read - validated,
        total=total,
        new=done.new,
        updated=done.updated,
        unchanged=done.unchanged,
        errors=done.error_count + preview.error_count,
        history=history.filter(history_id__gt=last_history).count(),
        history_users=history.filter(history_id__gt=last_history).exclude(history_user=user).count(),
        progress_calls=len(progress_calls),
        peak=peak_mb(),
        cpu=cpu,
        server_cpu=server_cpu,
    )


def phase_upload(path: str) -> None:
    """The admin's upload of the file (a request), its background validation, Confirm (a request) and the
    background import: as a person sees it, with the queued django-q2 tasks run in this process after each
    request (what a worker does)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client, override_settings
    from django.urls import reverse
    from pages import login_verified

    import backoffice.imports
    from backoffice.models import ImportJob, ImportPreview
    from backoffice.tasks import import_apply_task, import_validate_task

    tasks = {"backoffice.tasks.import_validate_task": import_validate_task}
    tasks["backoffice.tasks.import_apply_task"] = import_apply_task
    queued = []
    backoffice.imports.async_task = lambda func, *args, **kwargs: queued.append((func, args))
    client = Client()
    login_verified(client, get_user_model().objects.get(username="bench"))
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    content = Path(path).read_bytes()
    file_format = "0" if path.endswith(".csv") else "1"
    with override_settings(ALLOWED_HOSTS=["testserver"], STORAGES={**settings.STORAGES, "staticfiles": static}):

        def run_queued() -> float:
            started = time.perf_counter()
            while queued:
                func, args = queued.pop(0)
                tasks[func](*args)
            return time.perf_counter() - started

        client.get(reverse("admin:inventory_product_import"), secure=True)  # the page the person uploads from
        upload = SimpleUploadedFile(Path(path).name, content)
        started = time.perf_counter()
        response = client.post(
            reverse("admin:inventory_product_import"), {"format": file_format, "import_file": upload}, secure=True
        )
        upload_request = time.perf_counter() - started
        background_request = response.status_code == 302
        validate = run_queued()
        preview = ImportPreview.objects.latest("pk")
        started = time.perf_counter()
        confirm = client.post(reverse("admin:inventory_product_process_import"), {"token": preview.token}, secure=True)
        confirm_request = time.perf_counter() - started
        apply = run_queued()
    job = ImportJob.objects.latest("pk")
    report(
        rows=job.row_count,
        upload_request=upload_request,
        background=background_request,
        validate=validate,
        confirm_request=confirm_request,
        confirm_status=confirm.status_code,
        apply=apply,
        status=job.status,
        new=job.new,
        peak=peak_mb(),
    )


def phase_baseline(path: str) -> None:
    """A plain ModelResource, default settings: dry run, then import, of the same kind of rows."""
    import tablib
    from import_export import fields, resources, widgets

    from inventory.models import Category, Product

    class PlainProductResource(resources.ModelResource):
        category = fields.Field(
            attribute="category", column_name="category", widget=widgets.ForeignKeyWidget(Category, "name")
        )

        class Meta:
            model = Product
            fields = HEADER
            import_id_fields = ("sku",)

    started = time.perf_counter()
    with open(path, encoding="utf-8") as handle:
        dataset = tablib.Dataset().load(handle.read(), format="csv")
    preview = PlainProductResource().import_data(dataset, dry_run=True)
    validated = time.perf_counter() - started
    done = PlainProductResource().import_data(dataset, dry_run=False, use_transactions=True)
    total = time.perf_counter() - started
    report(
        rows=len(dataset),
        validate=validated,
        apply=total - validated,
        total=total,
        new=done.totals["new"],
        errors=int(preview.has_errors() or done.has_errors() or done.has_validation_errors()),
        peak=peak_mb(),
    )


def run_phase(name: str, path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", str(path)],
        env=os.environ,
        check=False,
        capture_output=True,
        text=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.stderr.write(completed.stdout + completed.stderr)
    raise SystemExit(f"phase {name} failed")


def load_text() -> str:
    """The machine's load average (1, 5, 15 minutes): the times above swing with it on a shared machine."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_text(figures: dict) -> str:
    """CPU seconds spent (load-independent, unlike the times): this process, and the database server's backend."""
    text = f"{figures['cpu']:.1f} s in Python"
    if figures.get("server_cpu") is not None:
        text += f" + {figures['server_cpu']:.1f} s in the PostgreSQL backend"
    return text


def child(rows: int, baseline_rows: int) -> None:
    setup_django()
    from django.contrib.auth import get_user_model

    from inventory.models import Category

    Category.objects.bulk_create([Category(name=f"Category {i:02d}") for i in range(CATEGORIES)])
    get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-123")
    print(f"== product imports on {database_label()}; load average {load_text()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        new_file = Path(folder) / "products.csv"
        new_file.write_bytes(product_csv(rows, prefix="P"))
        baseline_file = Path(folder) / "baseline.csv"
        baseline_file.write_bytes(product_csv(baseline_rows, prefix="B"))
        update_file = Path(folder) / "products-10pct.csv"
        update_file.write_bytes(product_csv(rows, prefix="P", changed_every=10))
        size = new_file.stat().st_size / 1e6
        upload_file = Path(folder) / "products-upload.csv"
        upload_file.write_bytes(product_csv(rows, prefix="U"))

        base = run_phase("baseline", baseline_file)
        base_rate = base["rows"] / base["total"]
        print(
            f"  plain ModelResource (default settings), sample of {base['rows']:,} rows of the same kind: "
            f"preview {base['validate']:.1f} s + import {base['apply']:.1f} s = {base['total']:.1f} s, "
            f"{base_rate:,.0f} rows/s, peak RSS {base['peak']:.0f} MB" + ("  (ERRORS)" if base["errors"] else ""),
            flush=True,
        )

        engine = run_phase("engine", new_file)
        rate = engine["rows"] / engine["total"]
        print(
            f"  engine, {engine['rows']:,} new rows ({size:.1f} MB CSV): read {engine['read']:.1f} s + preview "
            f"{engine['validate']:.1f} s + import {engine['apply']:.1f} s = {engine['total']:.1f} s, "
            f"{rate:,.0f} rows/s, peak RSS {engine['peak']:.0f} MB; new {engine['new']:,}, errors {engine['errors']}, "
            f"history rows {engine['history']:,}, progress reported {engine['progress_calls']} times"
            + (" (some without the user!)" if engine["history_users"] else " (all with the user)")
            + f"; CPU {cpu_text(engine)}",
            flush=True,
        )
        print(
            f"  ratio engine / plain import-export: {rate / base_rate:.1f}x (rows/s; baseline measured on "
            f"{base['rows']:,} rows, engine on {engine['rows']:,})",
            flush=True,
        )

        xlsx_file = Path(folder) / "products.xlsx"
        product_xlsx(rows, prefix="X", path=xlsx_file)
        xlsx = run_phase("engine", xlsx_file)
        print(
            f"  engine, {xlsx['rows']:,} new rows from XLSX ({xlsx_file.stat().st_size / 1e6:.1f} MB): read "
            f"{xlsx['read']:.1f} s + preview {xlsx['validate']:.1f} s + import {xlsx['apply']:.1f} s = "
            f"{xlsx['total']:.1f} s, {xlsx['rows'] / xlsx['total']:,.0f} rows/s, peak RSS {xlsx['peak']:.0f} MB; "
            f"new {xlsx['new']:,}, errors {xlsx['errors']}; XLSX / CSV time: {xlsx['total'] / engine['total']:.2f}x; "
            f"CPU {cpu_text(xlsx)}",
            flush=True,
        )

        admin = run_phase("upload", upload_file)
        print(
            f"  admin upload of {admin['rows']:,} new rows (CSV): upload request {admin['upload_request']:.2f} s"
            f" ({'queued for the background' if admin['background'] else 'validated in the request'}), background "
            f"validation {admin['validate']:.1f} s, Confirm request {admin['confirm_request']:.2f} s, background "
            f"import {admin['apply']:.1f} s; upload to done "
            f"{admin['upload_request'] + admin['validate'] + admin['confirm_request'] + admin['apply']:.1f} s "
            f"(the person's clicks not counted); job {admin['status']}, new {admin['new']:,}",
            flush=True,
        )

        update = run_phase("engine", update_file)
        print(
            f"  engine, same {update['rows']:,} rows with 10 % changed: {update['total']:.1f} s "
            f"(read {update['read']:.1f} + preview {update['validate']:.1f} + import {update['apply']:.1f}), "
            f"{update['rows'] / update['total']:,.0f} rows/s, peak RSS {update['peak']:.0f} MB; "
            f"updated {update['updated']:,}, unchanged {update['unchanged']:,}, new {update['new']:,}, "
            f"history rows written {update['history']:,}; CPU {cpu_text(update)}",
            flush=True,
        )
        if rows == TARGETS["rows"]:
            verdict = [
                f"new ≤ {TARGETS['seconds']:.0f} s: {'yes' if engine['total'] <= TARGETS['seconds'] else 'NO'}",
                f"≥ {TARGETS['ratio']:.0f}x: {'yes' if rate / base_rate >= TARGETS['ratio'] else 'NO'}",
                f"peak ≤ {TARGETS['peak_mb']} MB: {'yes' if engine['peak'] <= TARGETS['peak_mb'] else 'NO'}",
                f"10 % update ≤ {TARGETS['seconds']:.0f} s: {'yes' if update['total'] <= TARGETS['seconds'] else 'NO'}",
                f"XLSX ≤ 2x CSV: {'yes' if xlsx['total'] <= 2 * engine['total'] else 'NO'}",
                f"upload request < 2 s: {'yes' if admin['upload_request'] < 2 else 'NO'}",
            ]
            print("  targets (issue 7): " + "; ".join(verdict), flush=True)
        print(f"  load average at the end: {load_text()}", flush=True)
        print(flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_IMPORT_ROWS", TARGETS["rows"])))
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="", help="run on one database only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["engine", "baseline", "upload"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        setup_django()
        {"engine": phase_engine, "baseline": phase_baseline, "upload": phase_upload}[args.phase](args.file)
        return 0
    if args.child:
        child(args.rows, min(args.baseline_rows, args.rows))
        return 0
    return run_per_database(
        __file__, ["--rows", str(args.rows), "--baseline-rows", str(args.baseline_rows)], only=args.only
    )


if __name__ == "__main__":
    sys.exit(main())
