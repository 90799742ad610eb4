"""Time ``seed_scale`` (10,000 products / 200,000 movements by default) and ``check_stock`` on it.

Prints figures; asserts nothing. Runs on a throwaway SQLite file, and on a
throwaway PostgreSQL database when DATABASE_URL is set.

    python benchmarks/seed_scale.py [--products N] [--movements M] [--warehouses W]
"""

from __future__ import annotations

import argparse
import sys
import time

from _django import database_label, run_per_database, setup_django


def child(products: int, movements: int, warehouses: int) -> None:
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.products, args.movements, args.warehouses)
        return 0
    return run_per_database(
        __file__,
        ["--products", str(args.products), "--movements", str(args.movements), "--warehouses", str(args.warehouses)],
    )


if __name__ == "__main__":
    sys.exit(main())
