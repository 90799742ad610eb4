"""Load the Northwind demo data (idempotent: re-running adds nothing twice)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inventory.demo import load_inventory

DEFAULT_DIR = Path(settings.BASE_DIR) / "demo" / "northwind"


class Command(BaseCommand):
    help = "Load the Northwind demo catalogue, stock and orders."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR, help="Folder with the Northwind CSV files.")

    def handle(self, *args, data_dir: Path, **options):
        if not (data_dir / "products.csv").is_file():
            raise CommandError(f"No Northwind CSV files in {data_dir}.")
        counts = load_inventory(data_dir)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo inventory: {categories} categories, {suppliers} suppliers, {products} products, "
                "{opening_movements} opening balances written.".format(**counts)
            )
        )
