"""Trigram indexes for the admin's ``icontains`` searches (PostgreSQL only; no model state).

Same reason and form as ``inventory/migrations/0004_search_indexes.py``: customer names and the
document numbers the order lists search (``SO-…``, ``PO-…``, ``SH-…``, ``RC-…``, typed whole or in
part) get a GIN ``gin_trgm_ops`` index on ``UPPER(col::text)``. SQLite is untouched.
"""

from django.db import migrations

INDEXES = [
    ("orders_customer_name_trgm", "orders_customer", "name"),
    ("orders_salesorder_number_trgm", "orders_salesorder", "number"),
    ("orders_purchaseorder_number_trgm", "orders_purchaseorder", "number"),
    ("orders_shipment_number_trgm", "orders_shipment", "number"),
    ("orders_receipt_number_trgm", "orders_receipt", "number"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_carrier_tracking_url_http")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
