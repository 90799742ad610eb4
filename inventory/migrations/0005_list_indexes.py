"""Indexes for every sort the big inventory lists offer, and a trigram index for product barcodes.

Each sortable column gets ``(column, tie-breaker)``: the change list breaks ties in the sorted column's
direction (``backoffice.admin_tools.IndexFriendlyChangeList``), so one index scan yields any page.
The products search ORs sku, name and barcode: with all three trigram-indexed on PostgreSQL the
database combines the indexes instead of reading the table.
"""

import importlib

import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models

_trigram = importlib.import_module("inventory.migrations.0004_search_indexes")
TRIGRAM = [("inventory_product_barcode_trgm", "inventory_product", "barcode")]


def create_trigram(apps, schema_editor):
    _trigram.create_indexes(apps, schema_editor, TRIGRAM)


def drop_trigram(apps, schema_editor):
    _trigram.drop_indexes(apps, schema_editor, TRIGRAM)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["name", "sku"], name="product_name_sku_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["category", "sku"], name="product_category_sku_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["sale_price", "sku"], name="product_sale_price_sku_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["cost", "sku"], name="product_cost_sku_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["average_cost", "sku"], name="product_average_cost_sku_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["is_active", "sku"], name="product_is_active_sku_idx"),
        ),
        migrations.AddIndex(
            model_name="stocklevel",
            index=models.Index(fields=["on_hand", "id"], name="stocklevel_on_hand_idx"),
        ),
        migrations.AddIndex(
            model_name="stocklevel",
            index=models.Index(fields=["allocated", "id"], name="stocklevel_allocated_idx"),
        ),
        migrations.AddIndex(
            model_name="stocklevel",
            index=models.Index(fields=["reorder_point", "id"], name="stocklevel_reorder_pt_idx"),
        ),
        migrations.AddIndex(
            model_name="stocklevel",
            index=models.Index(fields=["reorder_quantity", "id"], name="stocklevel_reorder_qty_idx"),
        ),
        migrations.AddIndex(
            model_name="stocklevel",
            index=models.Index(
                django.db.models.expressions.CombinedExpression(models.F("on_hand"), "-", models.F("allocated")),
                models.F("id"),
                name="stocklevel_available_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="stockmovement",
            index=models.Index(fields=["created_at", "id"], name="stockmovement_created_id_idx"),
        ),
        migrations.AddIndex(
            model_name="stockmovement",
            index=models.Index(fields=["kind", "id"], name="stockmovement_kind_id_idx"),
        ),
        migrations.RunPython(create_trigram, drop_trigram, elidable=False),
    ]
