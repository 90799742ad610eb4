"""Throughput of the stock services: receipts, allocations, issues per second.

Each call is a full service call (own transaction, row locks, ledger rows).
Prints figures; asserts nothing. Runs on a throwaway SQLite file, and on a
throwaway PostgreSQL database when DATABASE_URL is set (where it also runs
allocations from several threads at once).

    python benchmarks/stock_services.py [--calls N] [--products P] [--threads T]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from decimal import Decimal

from _django import database_label, run_per_database, setup_django


def timed(label: str, calls: int, lines_per_call: int, function) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        function(0)
    started = time.perf_counter()
    for index in range(1, calls + 1):
        function(index)
    elapsed = time.perf_counter() - started
    print(
        f"  {label:<42} {calls / elapsed:>8,.0f} calls/s  {calls * lines_per_call / elapsed:>9,.0f} lines/s  "
        f"{elapsed / calls * 1000:6.2f} ms/call  {len(queries):>3} queries/call"
    )


def child(calls: int, product_count: int, thread_count: int) -> None:
    setup_django()
    from django.db import connection

    from inventory.models import Product, Warehouse
    from inventory.services import StockLine, stock_allocate, stock_issue, stock_receive, stock_release

    print(f"== stock services on {database_label()}")
    warehouse = Warehouse.objects.create(code="BENCH", name="Benchmark")
    Product.objects.bulk_create(
        [Product(sku=f"B-{i:05d}", name=f"Bench {i}", cost=Decimal("5")) for i in range(product_count)]
    )
    ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    wid = warehouse.pk

    def pick(index: int, size: int) -> list[int]:
        start = (index * size) % len(ids)
        return [ids[(start + k) % len(ids)] for k in range(size)]

    cost = Decimal("5.2500")
    timed("receive, 1 line", calls, 1, lambda i: stock_receive(lines=[StockLine(pick(i, 1)[0], wid, 50, cost)]))
    timed(
        "receive, 10 lines",
        calls // 5,
        10,
        lambda i: stock_receive(lines=[StockLine(p, wid, 50, cost) for p in pick(i, 10)]),
    )
    timed("allocate, 1 line", calls, 1, lambda i: stock_allocate(lines=[StockLine(pick(i, 1)[0], wid, 1)]))
    timed(
        "allocate, 10 lines (all-or-nothing)",
        calls // 5,
        10,
        lambda i: stock_allocate(lines=[StockLine(p, wid, 1) for p in pick(i, 10)]),
    )
    timed("release, 1 line", calls, 1, lambda i: stock_release(lines=[StockLine(pick(i, 1)[0], wid, 1)]))
    timed(
        "issue from allocation, 1 line",
        calls // 2,
        1,
        lambda i: stock_issue(lines=[StockLine(pick(i, 1)[0], wid, 1)], from_allocation=True),
    )
    timed("issue, 1 line", calls, 1, lambda i: stock_issue(lines=[StockLine(pick(i, 1)[0], wid, 1)]))

    if connection.vendor == "postgresql" and thread_count > 1:
        # Every thread hits the same few hot products: the row locks serialise them.
        hot = ids[:5]
        per_thread = max(calls // thread_count, 1)

        def worker():
            try:
                for k in range(per_thread):
                    stock_allocate(lines=[StockLine(hot[k % len(hot)], wid, 1)], allow_partial=True)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(thread_count)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        total = per_thread * thread_count
        print(
            f"  allocate, 1 line, {thread_count} threads on 5 hot rows   {total / elapsed:>8,.0f} calls/s "
            f"({total:,} calls in {elapsed:.2f} s)"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="Calls per single-line measurement (default 2000).")
    parser.add_argument("--products", type=int, default=500, help="Products to spread the calls over.")
    parser.add_argument("--threads", type=int, default=8, help="Threads for the PostgreSQL contention run.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.calls, args.products, args.threads)
        return 0
    return run_per_database(
        __file__, ["--calls", str(args.calls), "--products", str(args.products), "--threads", str(args.threads)]
    )


if __name__ == "__main__":
    sys.exit(main())
