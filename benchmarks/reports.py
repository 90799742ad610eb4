"""Every registered report on a large database: first admin page and full CSV / XLSX export, time and memory.

Seeds like ``pages.py`` (its ``seed``: ``manage.py seed_scale`` with products, 5 warehouses, ledger
movements and, with ``--orders``, customers, suppliers, sales orders × ``--lines-per-order`` lines,
shipments, purchase orders and receipts), once per database when ``--keep NAME`` is given. Then,
for each report of the registry, each measurement runs in its own process so the peak resident
memory printed is that step's own (``ru_maxrss`` is a high-water mark):

* page — ``GET /admin/report/<name>/`` (``reports:detail``) through the Django test client as a
  superuser (whole middleware stack): the first (cold) request, then the median of ``--requests``.
  Before it, the fresh process serves the Reports list once, as any running server's worker has done
  long before someone opens a report: "cold" is this report's first run (nothing of it cached), not
  Python importing the URL configuration and compiling the admin's templates (~0.3 s, paid once per
  worker; printed as ``warm-up s``);
* csv, xlsx — ``run_report`` and ``ReportResult.write`` of every row into a temporary file.

``sales-summary`` runs grouped by month over the last year (the issue's case); the others with
their default parameters (``stock-movements``: the whole ledger). Targets are printed beside the
figures (``MISS`` when over): every first page ≤ 1 s; ``sales-summary`` by month over a year and
``stock-valuation`` ≤ 2 s on PostgreSQL (full result, i.e. the CSV export); the 1,000,000-row
``stock-movements`` CSV ≤ 20 s and ≤ 200 MB. Prints figures; asserts nothing. Runs on SQLite and,
when DATABASE_URL is set, on PostgreSQL.

    python benchmarks/reports.py [--products N] [--movements N] [--orders N] [--lines-per-order K]
                                 [--requests N] [--reports a,b] [--formats csv,xlsx]
                                 [--keep NAME] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from _django import database_label, run_per_database, setup_django

PAGE_TARGET_S = 1.0
FULL_TARGET_S = 2.0  # sales-summary by month over a year, stock-valuation: on PostgreSQL
FULL_TARGET_REPORTS = ("sales-summary", "stock-valuation")
LEDGER_CSV_TARGET_S = 20.0
LEDGER_CSV_TARGET_MB = 200.0


def report_params(name: str) -> dict:
    """The parameters each report is measured with."""
    if name == "sales-summary":
        today = dt.date.today()
        return {
            "group_by": "month",
            "date_from": (today - dt.timedelta(days=364)).isoformat(),
            "date_to": today.isoformat(),
        }
    return {}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="bench")


def measure_page(name: str, requests: int) -> dict:
    """Time the report's admin page (cold, then the median of ``requests``); peak RSS."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse
    from pages import login_verified

    before = _rss_mb()
    params = {key: str(value) for key, value in report_params(name).items()}
    try:
        url = reverse("reports:detail", args=[name])
    except NoReverseMatch:
        url = ""
    if not url:  # no admin pages yet: the first page of rows, as a page would read them
        from reports.registry import run_report

        def get():
            result = run_report(name, params, user=_superuser())
            if result.row_count:
                list(result.rows[:50])
            result.chart_data()
            return 200

    else:
        client = Client()
        login_verified(client, _superuser())
        full_url = f"{url}?{urlencode(params)}" if params else url
        static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        overrides = override_settings(
            ALLOWED_HOSTS=["testserver"], STORAGES={**settings.STORAGES, "staticfiles": static}
        )
        overrides.enable()

        def get():
            return client.get(full_url, secure=True).status_code

        started = time.perf_counter()
        client.get(reverse("reports:list"), secure=True)
        warm_up = time.perf_counter() - started
    started = time.perf_counter()
    status = get()
    cold = time.perf_counter() - started
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        get()
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as captured:
        get()
    return {
        "status": status,
        "cold": cold,
        "warm_up": warm_up if url else 0.0,
        "median": statistics.median(times) if times else cold,
        "queries": len(captured),
        "peak": _rss_mb(),
        "before": before,
        "kind": "page" if url else "rows",
    }


def measure_export(name: str, file_format: str) -> dict:
    """Run the report and write every row to a temporary file; time, rows, size and peak RSS."""
    from reports.registry import run_report

    before = _rss_mb()
    with tempfile.NamedTemporaryFile(suffix=f".{file_format}") as file:
        started = time.perf_counter()
        result = run_report(name, report_params(name), user=_superuser())
        result.write(file_format, file)
        file.flush()
        elapsed = time.perf_counter() - started
        size = os.path.getsize(file.name)
    return {"seconds": elapsed, "rows": result.row_count, "size": size, "peak": _rss_mb(), "before": before}


def _in_process(*args: str) -> dict:
    """Run one measurement in a fresh process (same database) and return what it printed as JSON."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", *args], env=os.environ, capture_output=True, text=True, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:120]}


def _mark(miss: bool) -> str:
    return "  MISS" if miss else ""


def child(args) -> None:
    setup_django()
    from django.db import connection
    from pages import seed

    from reports.registry import all_reports

    seeded = seed(args.products, args.movements, args.orders, args.lines_per_order)
    postgres = connection.vendor == "postgresql"
    print(
        f"== reports on {database_label()}: {args.products:,} products, {args.movements:,} movements, "
        f"{args.orders:,} sales orders (x{args.lines_per_order} lines); seeding {seeded:.1f} s",
        flush=True,
    )
    names = [report.name for report in all_reports()]
    wanted = [name for name in args.reports.split(",") if name] or names
    formats = [f for f in args.formats.split(",") if f]
    print(
        f"  {'report':<22} {'step':<5} {'rows':>10} {'time s':>8} {'cold s':>7} {'queries':>7} "
        f"{'peak RSS MB':>11} {'(+ over start)':>14} {'size MB':>8}  target",
        flush=True,
    )
    misses = 0
    for name in names:
        if name not in wanted:
            continue
        page = _in_process("page", name, str(args.requests))
        if "error" in page:
            print(f"  {name:<22} page  error: {page['error']}", flush=True)
            misses += 1
        else:
            miss = page["median"] > PAGE_TARGET_S or page["cold"] > PAGE_TARGET_S or page["status"] >= 400
            misses += miss
            print(
                f"  {name:<22} {page['kind']:<5} {'':>10} {page['median']:>8.3f} {page['cold']:>7.3f} "
                f"{page['queries']:>7} {page['peak']:>11.0f} {page['peak'] - page['before']:>+14.0f} {'':>8}  "
                f"<= {PAGE_TARGET_S:g} s (HTTP {page['status']}; warm-up {page['warm_up']:.2f} s){_mark(miss)}",
                flush=True,
            )
        for file_format in formats:
            export = _in_process("export", name, file_format)
            if "error" in export:
                print(f"  {name:<22} {file_format:<5} error: {export['error']}", flush=True)
                misses += 1
                continue
            target, miss = "", False
            if name == "stock-movements" and file_format == "csv":
                target = f"<= {LEDGER_CSV_TARGET_S:g} s, <= {LEDGER_CSV_TARGET_MB:g} MB (at 1,000,000 rows)"
                miss = export["seconds"] > LEDGER_CSV_TARGET_S * max(1, export["rows"] / 1_000_000) or (
                    export["peak"] > LEDGER_CSV_TARGET_MB
                )
            elif name in FULL_TARGET_REPORTS and file_format == "csv" and postgres:
                target = f"<= {FULL_TARGET_S:g} s on PostgreSQL"
                miss = export["seconds"] > FULL_TARGET_S
            misses += miss
            print(
                f"  {name:<22} {file_format:<5} {export['rows']:>10,} {export['seconds']:>8.2f} {'':>7} {'':>7} "
                f"{export['peak']:>11.0f} {export['peak'] - export['before']:>+14.0f} "
                f"{export['size'] / 1e6:>8.1f}  {target}{_mark(miss)}",
                flush=True,
            )
    print(f"\n  {misses} figure(s) over a target\n", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=int(os.environ.get("BENCH_REPORTS_PRODUCTS", 20_000)))
    parser.add_argument("--movements", type=int, default=int(os.environ.get("BENCH_REPORTS_MOVEMENTS", 200_000)))
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_REPORTS_ORDERS", 10_000)))
    parser.add_argument("--lines-per-order", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3, help="timed page requests after the cold one (3)")
    parser.add_argument("--reports", default="", help="only these reports (comma-separated names)")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument(
        "--keep",
        default="",
        help="seed a kept database once (/tmp/backoffice-bench-NAME.sqlite3, "
        "<DATABASE_URL name>_NAME) and reuse it in later runs (shared with pages.py --keep NAME)",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="", help="run on one database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        # The parent migrated already: no migrate here, so the peak RSS is the step's own, not the migration's.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        import django

        django.setup()
        step, name, *rest = args.measure
        figures = measure_page(name, int(rest[0])) if step == "page" else measure_export(name, rest[0])
        print(json.dumps(figures), flush=True)
        return 0
    if args.child:
        child(args)
        return 0
    forwarded = [
        *("--products", str(args.products), "--movements", str(args.movements)),
        *("--orders", str(args.orders), "--lines-per-order", str(args.lines_per_order)),
        *("--requests", str(args.requests), "--formats", args.formats),
    ]
    if args.reports:
        forwarded += ["--reports", args.reports]
    return run_per_database(__file__, forwarded, keep=args.keep, only=args.only)


if __name__ == "__main__":
    sys.exit(main())
