"""Synthetic data at scale, for benchmarks and for trying the admin on big tables.

Everything is written with ``bulk_create`` in batches inside one transaction,
so 10,000 products and 200,000 movements take seconds, not minutes. The
ledger is generated level by level with running balances, and each level's
``on_hand`` is the last balance, so ``manage.py check_stock`` passes.

Bulk inserts skip ``save()`` and signals: seeded rows have no simple-history
rows and no ``stock_increased`` signal is sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from backoffice.dashboard_cache import dashboard_changed
from inventory.models import Category, MovementKind, Product, StockLevel, StockMovement, Warehouse

SKU_PREFIX = "SCALE-"
SKU_WIDTH = 7
WAREHOUSE_PREFIX = "SCALE-W"
CATEGORY_COUNT = 20
CATEGORY_PREFIX = "Scale category "
DEFAULT_BATCH_SIZE = 5000


@dataclass(frozen=True)
class SeedResult:
    categories: int
    warehouses: int
    products: int
    stock_levels: int
    movements: int
    first_sku: str
    last_sku: str


def _next_sku_number() -> int:
    """One past the highest seeded SKU, so a second run adds products instead of clashing."""
    last = (
        Product.objects.filter(sku__startswith=SKU_PREFIX, sku__regex=rf"^{SKU_PREFIX}[0-9]{{{SKU_WIDTH}}}$")
        .order_by("-sku")
        .values_list("sku", flat=True)
        .first()
    )
    return int(last[len(SKU_PREFIX) :]) + 1 if last else 1


def _sku(number: int) -> str:
    return f"{SKU_PREFIX}{number:0{SKU_WIDTH}d}"


def _ensure_categories() -> list[Category]:
    names = [f"{CATEGORY_PREFIX}{i:02d}" for i in range(1, CATEGORY_COUNT + 1)]
    Category.objects.bulk_create([Category(name=name) for name in names], ignore_conflicts=True)
    return list(Category.objects.filter(name__in=names).order_by("name"))


def _ensure_warehouses(count: int) -> list[Warehouse]:
    codes = [f"{WAREHOUSE_PREFIX}{i:02d}" for i in range(1, count + 1)]
    Warehouse.objects.bulk_create(
        [Warehouse(code=code, name=f"Scale warehouse {code[-2:]}") for code in codes], ignore_conflicts=True
    )
    return list(Warehouse.objects.filter(code__in=codes).order_by("code"))


def _create_products(first: int, count: int, categories: list[Category], rng: random.Random, batch_size: int):
    products = []
    for number in range(first, first + count):
        cents = rng.randint(100, 50_000)
        price = Decimal(cents) / 100
        cost = (price * Decimal("0.6")).quantize(Decimal("0.01"))
        products.append(
            Product(
                sku=_sku(number),
                name=f"Scale product {number}",
                category=categories[number % len(categories)],
                sale_price=price,
                cost=cost,
                average_cost=cost,
                tax_rate=Decimal("20.00"),
            )
        )
    Product.objects.bulk_create(products, batch_size=batch_size)
    # Not every backend returns primary keys from bulk inserts; read them back by SKU.
    by_sku = dict(
        Product.objects.filter(sku__gte=_sku(first), sku__lte=_sku(first + count - 1)).values_list("sku", "pk")
    )
    for product in products:
        product.pk = by_sku[product.sku]
    return products


def _ledger_for_level(count: int, rng: random.Random) -> list[tuple[str, int, int]]:
    """``count`` movements (kind, signed quantity, balance after) that never go below zero."""
    rows = []
    balance = 0
    for index in range(count):
        if index == 0:
            kind, quantity = MovementKind.OPENING, rng.randint(20, 200)
        elif balance > 0 and rng.random() < 0.55:
            kind, quantity = MovementKind.SHIPMENT, -rng.randint(1, min(balance, 40))
        else:
            kind, quantity = MovementKind.RECEIPT, rng.randint(1, 60)
        balance += quantity
        rows.append((kind, quantity, balance))
    return rows


@transaction.atomic
def seed_scale(
    *, products: int, movements: int, warehouses: int = 3, seed: int | None = 0, batch_size: int = DEFAULT_BATCH_SIZE
) -> SeedResult:
    """Add ``products`` new products stocked in ``warehouses`` warehouses with ``movements`` ledger rows.

    Every product gets a stock level in every seeded warehouse; the movements
    are spread evenly over those levels (levels left without a movement hold 0).
    Re-running adds new products after the highest existing ``SCALE-`` SKU and
    reuses the seeded warehouses and categories.
    """
    if products < 1:
        raise ValueError("products must be at least 1")
    if movements < 0:
        raise ValueError("movements cannot be negative")
    if warehouses < 1:
        raise ValueError("warehouses must be at least 1")
    rng = random.Random(seed)
    categories = _ensure_categories()
    places = _ensure_warehouses(warehouses)
    first = _next_sku_number()
    if first + products - 1 >= 10**SKU_WIDTH:
        raise ValueError(f"SKU numbers would pass {SKU_PREFIX}{'9' * SKU_WIDTH}")
    new_products = _create_products(first, products, categories, rng, batch_size)

    level_count = len(new_products) * len(places)
    per_level, extra = divmod(movements, level_count)
    levels: list[StockLevel] = []
    ledger: list[StockMovement] = []
    written = 0
    index = 0
    for product in new_products:
        for place in places:
            count = per_level + (1 if index < extra else 0)
            index += 1
            rows = _ledger_for_level(count, rng)
            on_hand = rows[-1][2] if rows else 0
            reorder_point = rng.choice((0, 0, 10, 25, 50))
            levels.append(
                StockLevel(
                    product_id=product.pk,
                    warehouse_id=place.pk,
                    on_hand=on_hand,
                    reorder_point=reorder_point,
                    reorder_quantity=reorder_point * 2,
                )
            )
            ledger.extend(
                StockMovement(
                    product_id=product.pk,
                    warehouse_id=place.pk,
                    kind=kind,
                    quantity=quantity,
                    unit_cost=product.cost,
                    balance_after=balance,
                    reference="SEED",
                )
                for kind, quantity, balance in rows
            )
            if len(ledger) >= batch_size:
                StockMovement.objects.bulk_create(ledger, batch_size=batch_size)
                written += len(ledger)
                ledger = []
        if len(levels) >= batch_size:
            StockLevel.objects.bulk_create(levels, batch_size=batch_size)
            levels = []
    StockLevel.objects.bulk_create(levels, batch_size=batch_size)
    StockMovement.objects.bulk_create(ledger, batch_size=batch_size)
    written += len(ledger)
    dashboard_changed()  # bulk inserts send no signals: drop the start page's cached figures
    return SeedResult(
        categories=len(categories),
        warehouses=len(places),
        products=len(new_products),
        stock_levels=level_count,
        movements=written,
        first_sku=_sku(first),
        last_sku=_sku(first + products - 1),
    )
