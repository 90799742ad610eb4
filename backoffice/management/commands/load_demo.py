"""Load the Northwind demo data (idempotent: re-running adds nothing twice)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inventory.demo import load_inventory
from orders.demo import load_orders

DEFAULT_DIR = Path(settings.BASE_DIR) / "demo" / "northwind"


class Command(BaseCommand):
    help = "Load the Northwind demo catalogue, stock and orders."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR, help="Folder with the Northwind CSV files.")
        parser.add_argument(
            "--no-shift",
            action="store_false",
            dest="shift",
            help="Keep Northwind's 1996-1998 dates (by default they move so the newest order is yesterday).",
        )

    def handle(self, *args, data_dir: Path, shift: bool = True, **options):
        if not (data_dir / "products.csv").is_file():
            raise CommandError(f"No Northwind CSV files in {data_dir}.")
        counts = load_inventory(data_dir)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo inventory: {categories} categories, {suppliers} suppliers, {products} products, "
                "{opening_movements} opening balances written.".format(**counts)
            )
        )
        counts = load_orders(data_dir, shift=shift)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo orders: {customers} customers, {carriers} carriers, {sales_orders} sales orders "
                "({sales_lines} lines), {purchase_orders} purchase orders added.".format(**counts)
            )
        )
