"""Counts: a blind-count flag, a reason per line, the unit cost and the reservations released when applied."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_list_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalstockadjustment",
            name="blind_count",
            field=models.BooleanField(
                default=False,
                help_text="Hide expected quantities on the count sheet and the lines until the count is reviewed.",
                verbose_name="blind count",
            ),
        ),
        migrations.AddField(
            model_name="historicalstockadjustmentline",
            name="reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("cycle_count", "Cycle count"),
                    ("damage", "Damaged"),
                    ("loss", "Lost / stolen"),
                    ("found", "Found"),
                    ("expired", "Expired"),
                    ("correction", "Data correction"),
                ],
                help_text="Empty: the adjustment's reason.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="historicalstockadjustmentline",
            name="released_quantity",
            field=models.PositiveIntegerField(
                default=0,
                editable=False,
                help_text="Counted below the reservations: taken from the newest orders (back on backorder).",
                verbose_name="released from orders",
            ),
        ),
        migrations.AddField(
            model_name="historicalstockadjustmentline",
            name="unit_cost",
            field=models.DecimalField(blank=True, decimal_places=4, editable=False, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name="stockadjustment",
            name="blind_count",
            field=models.BooleanField(
                default=False,
                help_text="Hide expected quantities on the count sheet and the lines until the count is reviewed.",
                verbose_name="blind count",
            ),
        ),
        migrations.AddField(
            model_name="stockadjustmentline",
            name="reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("cycle_count", "Cycle count"),
                    ("damage", "Damaged"),
                    ("loss", "Lost / stolen"),
                    ("found", "Found"),
                    ("expired", "Expired"),
                    ("correction", "Data correction"),
                ],
                help_text="Empty: the adjustment's reason.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="stockadjustmentline",
            name="released_quantity",
            field=models.PositiveIntegerField(
                default=0,
                editable=False,
                help_text="Counted below the reservations: taken from the newest orders (back on backorder).",
                verbose_name="released from orders",
            ),
        ),
        migrations.AddField(
            model_name="stockadjustmentline",
            name="unit_cost",
            field=models.DecimalField(blank=True, decimal_places=4, editable=False, max_digits=14, null=True),
        ),
    ]
