"""Confirm-and-reserve throughput: 1,000 sales orders of 5 lines, with 1 and 4 workers.

Workers are separate processes by default, as in production (gunicorn and
qcluster run processes, each with its own connection); ``--mode threads``
runs them as threads of one process instead (bound by the GIL).

Runs like the other benchmarks (see ``_django.py``): once on a throwaway SQLite
file, then, when ``DATABASE_URL`` points to PostgreSQL, on a throwaway
``<name>_bench`` database next to it (the named database is never touched).

Demand is set above supply on purpose so that orders compete for the same
stock: the script prints orders/s and checks that nothing was oversold
(``check_stock`` clean, allocated ≤ on hand everywhere). Exits 1 on any
error or oversell.

    .venv/bin/python benchmarks/orders_confirm.py [--orders 1000] [--lines 5] [--workers 1 4] [--mode processes threads]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice .venv/bin/python benchmarks/orders_confirm.py
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import threading
import time
from decimal import Decimal

from _django import database_label, run_per_database, setup_django

PRODUCTS = 60
SINGULAR = {"processes": "process", "threads": "thread"}


def create_drafts(run: int, orders: int, lines: int):
    """Products with stock below total demand, and ``orders`` draft orders of ``lines`` lines."""
    from django.db import transaction

    from backoffice.numbering import next_document_number
    from inventory.models import MovementKind, Product, Warehouse
    from inventory.services import StockLine, stock_receive
    from orders.models import Customer, SalesOrder, SalesOrderLine
    from orders.pricing import line_amounts

    rng = random.Random(run)
    with transaction.atomic():
        warehouse, _ = Warehouse.objects.get_or_create(code="BENCH", defaults={"name": "Benchmark"})
        products = Product.objects.bulk_create(
            [
                Product(
                    sku=f"B{run}-{i:03d}",
                    name=f"Bench {run}/{i}",
                    sale_price=Decimal("9.95"),
                    tax_rate=Decimal("20.00"),
                )
                for i in range(PRODUCTS)
            ]
        )
        # Average demand per product is orders × lines × 2 / PRODUCTS; stock covers about 80 % of it.
        supply = int(orders * lines * 2 / PRODUCTS * 0.8)
        stock_receive(
            lines=[StockLine(p.pk, warehouse.pk, supply, Decimal("5")) for p in products],
            kind=MovementKind.OPENING,
            reference=f"BENCH-{run}",
            update_average_cost=False,
        )
        customers = Customer.objects.bulk_create(
            [Customer(code=f"B{run}-{i:03d}", name=f"Bench customer {i}") for i in range(50)]
        )
        drafts = SalesOrder.objects.bulk_create(
            [
                SalesOrder(number=next_document_number("SO"), customer=rng.choice(customers), warehouse=warehouse)
                for _ in range(orders)
            ]
        )
        # Drafts as the services leave them: every line priced (confirm re-checks, and writes only what changes).
        draft_lines = []
        for order in drafts:
            for product in rng.sample(products, lines):
                quantity = rng.randint(1, 3)
                amounts = line_amounts(quantity=quantity, unit_price=product.sale_price, tax_rate=product.tax_rate)
                draft_lines.append(
                    SalesOrderLine(
                        order=order,
                        product=product,
                        quantity=quantity,
                        unit_price=product.sale_price,
                        tax_rate=product.tax_rate,
                        net_amount=amounts.net,
                        tax_amount=amounts.tax,
                        total_amount=amounts.total,
                    )
                )
        SalesOrderLine.objects.bulk_create(draft_lines)
    return drafts, products


def confirm_all(drafts, workers: int) -> tuple[float, list[BaseException]]:
    from django.db import connection

    from orders.services import sales_order_confirm

    queue = list(reversed(drafts))
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers + 1)

    def work():
        barrier.wait()
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    order = queue.pop()
                try:
                    sales_order_confirm(order=order, user=None)
                except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                    with lock:
                        errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, errors


def _confirm_process(order_ids, start, errors, done) -> None:
    """One worker process: wait for the start signal, confirm orders taken from the shared queue."""
    import queue as queue_module

    from django.db import connection

    from orders.models import SalesOrder
    from orders.services import sales_order_confirm

    start.wait()
    try:
        while True:
            try:
                order_id = order_ids.get_nowait()
            except queue_module.Empty:
                return
            try:
                sales_order_confirm(order=SalesOrder(pk=order_id), user=None)
            except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                errors.put(repr(error))
    finally:
        connection.close()
        done.put(1)


def confirm_all_processes(drafts, workers: int) -> tuple[float, list[str]]:
    """Like ``confirm_all`` with forked worker processes (each opens its own connection)."""
    from django.db import connections

    context = multiprocessing.get_context("fork")
    order_ids = context.Queue()
    for order in drafts:
        order_ids.put(order.pk)
    errors, done = context.Queue(), context.Queue()
    start = context.Event()
    connections.close_all()
    processes = [
        context.Process(target=_confirm_process, args=(order_ids, start, errors, done)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    time.sleep(0.5)  # let every process reach the start line
    started = time.perf_counter()
    start.set()
    for _ in processes:
        done.get()
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    found = []
    while not errors.empty():
        found.append(errors.get())
    return elapsed, found


def oversell_report(products) -> str:
    from django.db.models import F, Sum

    from inventory.models import StockLevel
    from inventory.selectors import stock_discrepancies
    from orders.models import SalesOrderLine

    levels = StockLevel.objects.filter(product__in=products)
    oversold = levels.filter(allocated__gt=F("on_hand")).count()
    totals = levels.aggregate(on_hand=Sum("on_hand"), allocated=Sum("allocated"))
    lines = SalesOrderLine.objects.filter(product__in=products)
    ordered = lines.aggregate(q=Sum("quantity"))["q"]
    reserved = lines.aggregate(q=Sum("quantity_reserved"))["q"]
    problems = stock_discrepancies()
    verdict = "OK" if not problems and not oversold and totals["allocated"] <= totals["on_hand"] else "OVERSOLD"
    return (
        f"ordered {ordered}, on hand {totals['on_hand']}, reserved {reserved} (levels allocated "
        f"{totals['allocated']}), backordered {ordered - reserved}; levels over on-hand: {oversold}; "
        f"check_stock discrepancies: {len(problems)} → {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--mode", nargs="+", choices=["processes", "threads"], default=["processes", "threads"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if not args.child:
        return run_per_database(__file__, sys.argv[1:])

    setup_django()
    from django.db import connection

    print(f"Database: {database_label()}")
    print(f"Confirm-and-reserve: {args.orders} orders × {args.lines} lines, {PRODUCTS} products, demand > supply")
    failed = False
    runs = [(mode, workers) for mode in args.mode for workers in args.workers]
    for run, (mode, workers) in enumerate(runs, start=1):
        drafts, products = create_drafts(run, args.orders, args.lines)
        connection.close()
        confirm = confirm_all_processes if mode == "processes" else confirm_all
        elapsed, errors = confirm(drafts, workers)
        report = oversell_report(products)
        failed |= bool(errors) or "OVERSOLD" in report
        print(
            f"  {workers} {SINGULAR[mode] if workers == 1 else mode}: {args.orders / elapsed:8.1f} orders/s "
            f"({elapsed:.2f} s, {len(errors)} errors{': ' + str(errors[0]) if errors else ''})"
        )
        print(f"    {report}")
    print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
