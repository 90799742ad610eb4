"""Stored counters on sales orders (``line_count``, ``backordered_quantity``), filled from the lines.

The sales-order list sorted and filtered on an annotation (a sum over the lines of every order);
the services now keep these two columns inside the transaction that changes lines or status
(``orders.services.sales.sales_order_counters``). This migration fills them for existing orders
with one UPDATE (same rule: backordered only counts on open orders).
"""

from django.db import migrations, models
from django.db.models import Case, Count, F, IntegerField, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

OPEN = ["confirmed", "partially_shipped"]


def fill_counters(apps, schema_editor):
    SalesOrder = apps.get_model("orders", "SalesOrder")
    SalesOrderLine = apps.get_model("orders", "SalesOrderLine")
    lines = SalesOrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    count = lines.annotate(n=Count("pk")).values("n")
    waiting = lines.annotate(n=Sum(F("quantity") - F("quantity_shipped") - F("quantity_reserved"))).values("n")
    SalesOrder.objects.update(
        line_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        backordered_quantity=Case(
            When(status__in=OPEN, then=Coalesce(Subquery(waiting, output_field=IntegerField()), Value(0))),
            default=Value(0),
        ),
    )


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_search_indexes")]

    operations = [
        migrations.AddField(
            model_name="salesorder",
            name="backordered_quantity",
            field=models.PositiveIntegerField(
                default=0,
                editable=False,
                help_text="Ordered, not shipped and not reserved, on an open order (0 otherwise).",
                verbose_name="backordered",
            ),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="line_count",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="lines"),
        ),
        migrations.RunPython(fill_counters, migrations.RunPython.noop, elidable=False),
    ]
