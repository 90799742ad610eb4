"""Load the Northwind catalogue as demo data (categories, suppliers, products, stock).

Idempotent: records are matched by their natural keys, and opening balances
are written only once (recognised by their reference).
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.db import transaction

from inventory.models import (
    Category,
    MovementKind,
    Product,
    StockLevel,
    StockMovement,
    Supplier,
    SupplierProduct,
    Warehouse,
)
from inventory.services import StockLine, stock_receive

OPENING_REFERENCE = "DEMO-OPENING"
# Northwind has list prices only; the demo assumes goods cost 65 % of them.
DEMO_COST_RATIO = Decimal("0.65")


def read_rows(path: Path) -> list[dict[str, str]]:
    """Northwind CSV rows with the literal text NULL turned into ''."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: ("" if v == "NULL" else v) for k, v in row.items()} for row in csv.DictReader(handle)]


def product_sku(product_id: str | int) -> str:
    return f"NW-{int(product_id):03d}"


def supplier_code(supplier_id: str | int) -> str:
    return f"NW{int(supplier_id):02d}"


def _upsert(model, lookup: dict, values: dict):
    """Like ``update_or_create`` but saves only when a value differs, so a re-run adds no history rows."""
    instance, created = model.objects.get_or_create(**lookup, defaults=values)
    changed = [field for field, value in values.items() if getattr(instance, field) != value]
    if not created and changed:
        for field in changed:
            setattr(instance, field, values[field])
        instance.save(update_fields=[*changed, "updated_at"])
    return instance


@transaction.atomic
def load_inventory(data_dir: Path, *, user=None) -> dict[str, int]:
    """Load categories, suppliers, products, warehouse MAIN and its opening stock."""
    categories = {}
    for row in read_rows(data_dir / "categories.csv"):
        category = _upsert(Category, {"name": row["categoryName"]}, {"description": row["description"]})
        categories[row["categoryID"]] = category

    suppliers = {}
    for row in read_rows(data_dir / "suppliers.csv"):
        address = ", ".join(filter(None, [row["address"], row["city"], row["region"], row["postalCode"]]))
        supplier = _upsert(
            Supplier,
            {"code": supplier_code(row["supplierID"])},
            {
                "name": row["companyName"],
                "contact_name": row["contactName"],
                "phone": row["phone"],
                "address": address,
                "country": row["country"],
            },
        )
        suppliers[row["supplierID"]] = supplier

    warehouse, _ = Warehouse.objects.get_or_create(code="MAIN", defaults={"name": "Main warehouse"})
    opening_done = StockMovement.objects.filter(reference=OPENING_REFERENCE, warehouse=warehouse).exists()

    opening_lines = []
    rows = read_rows(data_dir / "products.csv")
    for row in rows:
        price = Decimal(row["unitPrice"])
        cost = (price * DEMO_COST_RATIO).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        product, created = Product.objects.get_or_create(
            sku=product_sku(row["productID"]),
            defaults={
                "name": row["productName"],
                "category": categories.get(row["categoryID"]),
                "unit": row["quantityPerUnit"][:60] or "unit",
                "sale_price": price,
                "cost": cost,
                "is_active": row["discontinued"] != "1",
            },
        )
        supplier = suppliers.get(row["supplierID"])
        if supplier:
            SupplierProduct.objects.get_or_create(
                supplier=supplier,
                product=product,
                defaults={"supplier_sku": row["productID"], "unit_cost": cost, "preferred": True},
            )
        level, _ = StockLevel.objects.get_or_create(product=product, warehouse=warehouse)
        if created or not opening_done:
            level.reorder_point = int(row["reorderLevel"] or 0)
            level.reorder_quantity = max(level.reorder_point * 2, 10) if level.reorder_point else 0
            level.save(update_fields=["reorder_point", "reorder_quantity"])
        in_stock = int(row["unitsInStock"] or 0)
        if not opening_done and in_stock > 0:
            opening_lines.append(StockLine(product.pk, warehouse.pk, in_stock, cost))

    if opening_lines:
        stock_receive(
            lines=opening_lines,
            kind=MovementKind.OPENING,
            reference=OPENING_REFERENCE,
            note="Northwind unitsInStock",
            user=user,
        )
    return {
        "categories": len(categories),
        "suppliers": len(suppliers),
        "products": len(rows),
        "opening_movements": len(opening_lines),
    }
