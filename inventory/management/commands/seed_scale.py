"""Generate a large synthetic catalogue and stock ledger, and optionally orders (benchmarks, big-table admin checks)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from inventory.scale import DEFAULT_BATCH_SIZE, seed_scale


class Command(BaseCommand):
    help = (
        "Add N synthetic products (SKUs SCALE-0000001...) in 20 categories, a stock level in each of W "
        "warehouses (SCALE-W01...) and M ledger movements whose sums equal each level's on hand, so "
        "check_stock passes. With --orders, also customers, suppliers with price lists, sales orders "
        "(K lines each, over the last two years, in realistic statuses, with shipments; open orders "
        "reserve available stock) and purchase orders with receipts (orders.scale). Written with bulk "
        "inserts in one transaction: seeded rows get no history (simple-history) and send no signals. "
        "Re-running adds N more products after the highest SCALE- SKU (--products 0: none) and reuses the "
        "seeded warehouses, categories, customers and suppliers. Not for production databases."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--products", type=int, default=10_000, help="Products to add (default 10000; 0 = only orders)."
        )
        parser.add_argument("--movements", type=int, default=200_000, help="Ledger movements to add (default 200000).")
        parser.add_argument("--warehouses", type=int, default=3, help="Seeded warehouses to stock (default 3).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed, for repeatable data (default 0).")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Rows per INSERT batch.")
        parser.add_argument("--orders", type=int, default=0, help="Sales orders to add (default 0).")
        parser.add_argument("--lines-per-order", type=int, default=5, help="Lines per sales/purchase order (5).")
        parser.add_argument(
            "--purchase-orders", type=int, default=None, help="Purchase orders to add (default: orders / 5)."
        )
        parser.add_argument("--customers", type=int, default=None, help="Customers (default: orders / 10, min 10).")
        parser.add_argument("--suppliers", type=int, default=200, help="Suppliers with price lists (default 200).")

    def handle(self, *args, products, movements, warehouses, seed, batch_size, **options):
        orders = options["orders"]
        purchase_orders = options["purchase_orders"]
        if products < 0:
            raise CommandError("--products cannot be negative")
        if products == 0 and not orders and not purchase_orders:
            raise CommandError("products must be at least 1 (or give --orders N to seed orders only)")
        started = time.perf_counter()
        if products:
            try:
                result = seed_scale(
                    products=products, movements=movements, warehouses=warehouses, seed=seed, batch_size=batch_size
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            elapsed = time.perf_counter() - started
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {result.products} products ({result.first_sku}..{result.last_sku}), "
                    f"{result.stock_levels} stock levels in {result.warehouses} warehouses, "
                    f"{result.movements} movements in {elapsed:.1f} s."
                )
            )
        if orders or purchase_orders:
            self._seed_orders(options, orders, purchase_orders, seed, batch_size)
        if connection.vendor == "postgresql":
            # After a bulk load, as PostgreSQL's manual advises: fresh statistics (the admin's estimated counts
            # and the planner read them) and, outside a transaction, a VACUUM that marks the new pages all-visible
            # so counts can be read from an index alone. Autovacuum would do it later where it runs.
            statement = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(statement)
            self.stdout.write(f"{statement} in {time.perf_counter() - started:.1f} s.")

    def _seed_orders(self, options, orders, purchase_orders, seed, batch_size):
        from orders.scale import seed_orders

        started = time.perf_counter()
        verbose = options["verbosity"] > 1
        try:
            result = seed_orders(
                orders=orders,
                lines_per_order=options["lines_per_order"],
                purchase_orders=purchase_orders,
                customers=options["customers"],
                suppliers=options["suppliers"],
                seed=seed,
                batch_size=batch_size,
                progress=lambda message: verbose and self.stdout.write(f"  {message}"),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.sales_orders} sales orders ({result.sales_lines} lines, {result.shipments} shipments, "
                f"{result.units_reserved} units reserved, {result.units_backordered} backordered), "
                f"{result.purchase_orders} purchase orders ({result.purchase_lines} lines, "
                f"{result.receipts} receipts), "
                f"{result.customers} customers, {result.suppliers} suppliers (+{result.supplier_products} "
                f"price-list rows) in {elapsed:.1f} s."
            )
        )
