"""Generate a large synthetic catalogue and stock ledger (benchmarks, big-table admin checks)."""

import time

from django.core.management.base import BaseCommand, CommandError

from inventory.scale import DEFAULT_BATCH_SIZE, seed_scale


class Command(BaseCommand):
    help = (
        "Add N synthetic products (SKUs SCALE-0000001...) in 20 categories, a stock level in each of W "
        "warehouses (SCALE-W01...) and M ledger movements whose sums equal each level's on hand, so "
        "check_stock passes. Written with bulk inserts in one transaction: seeded rows get no history "
        "(simple-history) and send no signals. Re-running adds N more products after the highest SCALE- "
        "SKU and reuses the seeded warehouses and categories. Not for production databases."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=10_000, help="Products to add (default 10000).")
        parser.add_argument("--movements", type=int, default=200_000, help="Ledger movements to add (default 200000).")
        parser.add_argument("--warehouses", type=int, default=3, help="Seeded warehouses to stock (default 3).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed, for repeatable data (default 0).")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Rows per INSERT batch.")

    def handle(self, *args, products, movements, warehouses, seed, batch_size, **options):
        started = time.perf_counter()
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
