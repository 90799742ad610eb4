"""Indexes for the sales orders and shipments lists: a (column, id) index per sort, open orders per customer."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_list_indexes"),
        ("orders", "0006_salesorder_counters"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="salesorder",
            index=models.Index(fields=["backordered_quantity", "id"], name="salesorder_backordered_idx"),
        ),
        migrations.AddIndex(
            model_name="salesorder",
            index=models.Index(fields=["status", "id"], name="salesorder_status_idx"),
        ),
        migrations.AddIndex(
            model_name="salesorder",
            index=models.Index(fields=["required_date", "id"], name="salesorder_required_idx"),
        ),
        migrations.AddIndex(
            model_name="salesorder",
            index=models.Index(fields=["total", "id"], name="salesorder_total_idx"),
        ),
        migrations.AddIndex(
            model_name="salesorder",
            index=models.Index(fields=["order_date", "id"], name="salesorder_order_date_idx"),
        ),
        migrations.AddIndex(
            model_name="salesorder",
            index=models.Index(fields=["customer", "status"], name="salesorder_customer_status_idx"),
        ),
        migrations.AddIndex(
            model_name="shipment",
            index=models.Index(fields=["created_at", "id"], name="shipment_created_at_idx"),
        ),
        migrations.AddIndex(
            model_name="shipment",
            index=models.Index(fields=["status", "id"], name="shipment_status_idx"),
        ),
        migrations.AddIndex(
            model_name="shipment",
            index=models.Index(fields=["shipped_at", "id"], name="shipment_shipped_at_idx"),
        ),
        migrations.AddIndex(
            model_name="shipment",
            index=models.Index(fields=["delivered_at", "id"], name="shipment_delivered_at_idx"),
        ),
    ]
