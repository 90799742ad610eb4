"""The reorder report and "Create draft purchase orders" on a large database: time, queries, memory.

Seeds with ``manage.py seed_scale`` (products × 5 warehouses, ledger movements, and with
``--orders`` customers, suppliers with price lists — a preferred supplier per product — sales and
purchase orders), then measures, on SQLite and (with DATABASE_URL) PostgreSQL:

* report — ``run_report("reorder")``: rows, queries (bounded: 4 whatever the size), time;
* alert — ``send_reorder_alerts`` for one warehouse with the locmem mail backend (report → XLSX → e-mail);
* drafts — ``create_reorder_drafts(user=None)`` over every line: drafts and lines written, time;
* again — the same a second time (nothing to add: every line is on a draft now), time.

Prints figures; asserts nothing.

    python benchmarks/reorder.py [--products N] [--movements N] [--orders N] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time

from _django import database_label, run_per_database, setup_django


def child(products: int, movements: int, orders: int) -> None:
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    call_command("seed_scale", products=products, movements=movements, warehouses=5, verbosity=0)
    if orders:
        call_command("seed_scale", products=0, orders=orders, lines_per_order=5, verbosity=0)

    from inventory.models import StockLevel, Warehouse
    from reports.registry import run_report
    from reports.reorder import create_reorder_drafts, send_reorder_alerts

    print(f"{database_label()}: {StockLevel.objects.count():,} stock levels")
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = run_report("reorder", {})
        rows = result.row_count
        elapsed = time.perf_counter() - start
    print(f"  report   {rows:>7,} rows  {len(queries.captured_queries)} queries  {elapsed:6.2f} s")

    call_command("setup_roles", stdout=io.StringIO())
    from django.contrib.auth.models import Group, User

    buyer, _ = User.objects.get_or_create(username="bench-buyer", defaults={"email": "buyer@example.com"})
    buyer.groups.add(Group.objects.get(name="Purchasing"))
    warehouse = Warehouse.objects.order_by("code").first()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        start = time.perf_counter()
        [outcome] = send_reorder_alerts(warehouse=warehouse)
        elapsed = time.perf_counter() - start
        print(f"  alert    {outcome.status} ({outcome.line_count:,} lines, XLSX attached)  {elapsed:6.2f} s")

    start = time.perf_counter()
    drafts = create_reorder_drafts(user=None)
    elapsed = time.perf_counter() - start
    print(
        f"  drafts   {len(drafts.created):>7,} POs, {len(drafts.lines):,} lines "
        f"({len(drafts.already_on_order):,} already on order, {len(drafts.without_supplier):,} without supplier)"
        f"  {elapsed:6.2f} s  ({1000 * elapsed / max(len(drafts.lines), 1):.1f} ms a line)"
    )
    start = time.perf_counter()
    again = create_reorder_drafts(user=None)
    print(f"  again    {len(again.lines):>7,} lines  {time.perf_counter() - start:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory of the process: {peak:.0f} MB\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--movements", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.products, args.movements, args.orders)
        return 0
    return run_per_database(
        __file__,
        ["--products", str(args.products), "--movements", str(args.movements), "--orders", str(args.orders)],
        only=args.only,
    )


if __name__ == "__main__":
    sys.exit(main())
