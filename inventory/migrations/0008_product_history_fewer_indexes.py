"""Product history: no indexes on the historical SKU and category, which no query reads (history is read by product and date)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0007_stock_ledger_names"),
    ]

    operations = [
        migrations.AlterField(
            model_name="historicalproduct",
            name="category",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="inventory.category",
            ),
        ),
        migrations.AlterField(
            model_name="historicalproduct",
            name="sku",
            field=models.CharField(max_length=64, verbose_name="SKU"),
        ),
    ]
