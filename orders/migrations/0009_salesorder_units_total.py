"""Stored units per sales order (``total_quantity`` = Σ its lines' quantity), filled from the lines.

The ``sales-summary`` report added up a million order lines to show units; the order services now keep
this counter with the other stored counters (``orders.services.sales.sales_order_counters``) inside the
transaction that changes the lines. This migration fills it for existing orders with one UPDATE.
"""

from django.db import migrations, models
from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce


def fill_units(apps, schema_editor):
    SalesOrder = apps.get_model("orders", "SalesOrder")
    SalesOrderLine = apps.get_model("orders", "SalesOrderLine")
    units = (
        SalesOrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    SalesOrder.objects.update(total_quantity=Coalesce(Subquery(units, output_field=IntegerField()), Value(0)))


class Migration(migrations.Migration):
    dependencies = [("orders", "0008_document_emailed")]

    operations = [
        migrations.AddField(
            model_name="salesorder",
            name="total_quantity",
            field=models.PositiveIntegerField(
                default=0,
                editable=False,
                help_text="Units ordered: the lines' quantities added up.",
                verbose_name="units",
            ),
        ),
        migrations.RunPython(fill_units, migrations.RunPython.noop, elidable=False),
    ]
