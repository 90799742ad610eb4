"""Time ``seed_scale`` (10,000 products / 200,000 movements by default, optionally orders) and ``check_stock``.

Prints figures; asserts nothing. Runs on a throwaway SQLite file, and on a
throwaway PostgreSQL database when DATABASE_URL is set.

    python benchmarks/seed_scale.py [--products N] [--movements M] [--warehouses W]
                                    [--orders N] [--lines-per-order K] [--purchase-orders P]

The full dataset of issue 7: ``--products 100000 --movements 1000000 --warehouses 5 --orders 50000``
(250,000 sales lines, 10,000 purchase orders).
"""

from __future__ import annotations

import argparse
import sys
import time

from _django import database_label, run_per_database, setup_django


def child(
    products: int, movements: int, warehouses: int, orders: int, lines_per_order: int, purchase_orders: int | None
) -> None:
    setup_django()
    from django.db import connection

    from inventory.models import StockLevel, StockMovement
    from inventory.scale import seed_scale
    from inventory.selectors import dashboard_figures, stock_discrepancies

    print(f"== seed_scale on {database_label()}")
    started = time.perf_counter()
    result = seed_scale(products=products, movements=movements, warehouses=warehouses)
    seeded = time.perf_counter() - started
    print(
        f"  seed_scale: {result.products:,} products, {result.stock_levels:,} levels, "
        f"{result.movements:,} movements in {seeded:.2f} s ({result.movements / seeded:,.0f} movements/s)"
    )

    started = time.perf_counter()
    problems = stock_discrepancies()
    checked = time.perf_counter() - started
    print(f"  check_stock: {len(problems)} discrepancies over {StockLevel.objects.count():,} levels in {checked:.2f} s")

    started = time.perf_counter()
    figures = dashboard_figures(user=None)
    print(
        f"  dashboard figures: {time.perf_counter() - started:.3f} s "
        f"(stock value {figures['stock_value']:,}, {figures['reorder_count']:,} levels to reorder)"
    )
    if orders or purchase_orders:
        from orders.scale import seed_orders

        started = time.perf_counter()
        seeded = seed_orders(orders=orders, lines_per_order=lines_per_order, purchase_orders=purchase_orders)
        took = time.perf_counter() - started
        print(
            f"  seed_orders: {seeded.sales_orders:,} sales orders ({seeded.sales_lines:,} lines, "
            f"{seeded.shipments:,} shipments), {seeded.purchase_orders:,} purchase orders ({seeded.purchase_lines:,} "
            f"lines, {seeded.receipts:,} receipts), {seeded.customers:,} customers, {seeded.supplier_products:,} "
            f"price-list rows in {took:.2f} s ({seeded.sales_lines / took:,.0f} sales lines/s); "
            f"{seeded.units_reserved:,} units reserved, {seeded.units_backordered:,} backordered"
        )
        started = time.perf_counter()
        problems = stock_discrepancies()
        print(f"  check_stock with orders: {len(problems)} discrepancies in {time.perf_counter() - started:.2f} s")
    print(f"  ledger rows in database: {StockMovement.objects.count():,}")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            size = pages * cursor.fetchone()[0]
        print(f"  database file: {size / 1_048_576:.1f} MiB")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--movements", type=int, default=200_000)
    parser.add_argument("--warehouses", type=int, default=3)
    parser.add_argument("--orders", type=int, default=0, help="sales orders to seed after the products (default 0)")
    parser.add_argument("--lines-per-order", type=int, default=5)
    parser.add_argument("--purchase-orders", type=int, default=None, help="default: orders / 5")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.products, args.movements, args.warehouses, args.orders, args.lines_per_order, args.purchase_orders)
        return 0
    extra = ["--purchase-orders", str(args.purchase_orders)] if args.purchase_orders is not None else []
    return run_per_database(
        __file__,
        [
            *("--products", str(args.products), "--movements", str(args.movements)),
            *("--warehouses", str(args.warehouses), "--orders", str(args.orders)),
            *("--lines-per-order", str(args.lines_per_order), *extra),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
