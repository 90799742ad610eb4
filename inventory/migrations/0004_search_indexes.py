"""Trigram indexes for the admin's ``icontains`` searches (PostgreSQL only; no model state).

Django searches ``search_fields`` with ``UPPER("col"::text) LIKE UPPER('%term%')`` on PostgreSQL,
which no B-tree can serve: each search read the whole table. A GIN index with ``gin_trgm_ops`` on
that same expression serves it. SQLite is left untouched (it has no such index; its tables are small),
so the migration declares no model state and ``makemigrations --check`` stays clean.
"""

from django.db import migrations

#: (index name, table, column) — each indexed as GIN (UPPER(column::text) gin_trgm_ops)
INDEXES = [
    ("inventory_product_name_trgm", "inventory_product", "name"),
    ("inventory_product_sku_trgm", "inventory_product", "sku"),
    ("inventory_supplier_name_trgm", "inventory_supplier", "name"),
    ("inventory_stockmovement_reference_trgm", "inventory_stockmovement", "reference"),
]


def create_indexes(apps, schema_editor, indexes=INDEXES):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in indexes:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor, indexes=INDEXES):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in indexes:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_supplier_bank_account")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
