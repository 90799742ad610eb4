"""Indexes the full-scale pages benchmark asked for (issue 7).

* receipts list: its default order ``-received_at, -id`` read from a ``(received_at, id)`` index (without it
  each page of receipts joined and sorted all 40,000 purchase orders' receipts);
* trigram indexes (PostgreSQL only, same form as ``0005_search_indexes``: GIN ``gin_trgm_ops`` on
  ``UPPER(col::text)``, the expression Django's ``icontains`` uses) on the searched columns that had none:
  customer codes and shipment tracking numbers (a shipments search for a number or SKU that matched
  nothing scanned all 200,000 orders joined to customers, and every tracking number), and the customer's,
  supplier's and delivery-note references the order, purchase-order and receipt lists search — one
  unindexed column in a search's OR made PostgreSQL read the whole table.
"""

from django.db import migrations, models

TRIGRAM_INDEXES = [
    ("orders_customer_code_trgm", "orders_customer", "code"),
    ("orders_shipment_tracking_trgm", "orders_shipment", "tracking_number"),
    ("orders_salesorder_customer_ref_trgm", "orders_salesorder", "customer_reference"),
    ("orders_purchaseorder_supplier_ref_trgm", "orders_purchaseorder", "supplier_reference"),
    ("orders_receipt_delivery_note_trgm", "orders_receipt", "delivery_note"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_salesorder_credit_approval")]

    operations = [
        migrations.AddIndex(
            model_name="receipt",
            index=models.Index(fields=["received_at", "id"], name="receipt_received_at_idx"),
        ),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
