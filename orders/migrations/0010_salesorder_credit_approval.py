"""Credit approval: the "awaiting approval" status, who asked and decided, when and why; approve_credit."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0009_salesorder_units_total"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="salesorder",
            options={
                "ordering": ["-order_date", "-id"],
                "permissions": [
                    ("confirm_salesorder", "Can confirm and cancel sales orders"),
                    ("override_credit_salesorder", "Can override a customer's credit limit"),
                    ("approve_credit", "Can approve or reject orders awaiting credit approval"),
                ],
            },
        ),
        migrations.AddField(
            model_name="historicalsalesorder",
            name="approval_decided_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalsalesorder",
            name="approval_decided_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalsalesorder",
            name="approval_rejection_reason",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="historicalsalesorder",
            name="approval_request_note",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="historicalsalesorder",
            name="approval_requested_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalsalesorder",
            name="approval_requested_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="approval_decided_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="approval_decided_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="approval_rejection_reason",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="approval_request_note",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="approval_requested_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="salesorder",
            name="approval_requested_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="historicalsalesorder",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("awaiting_approval", "Awaiting approval"),
                    ("confirmed", "Confirmed"),
                    ("partially_shipped", "Partially shipped"),
                    ("shipped", "Shipped"),
                    ("delivered", "Delivered"),
                    ("cancelled", "Cancelled"),
                ],
                db_index=True,
                default="draft",
                editable=False,
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="salesorder",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("awaiting_approval", "Awaiting approval"),
                    ("confirmed", "Confirmed"),
                    ("partially_shipped", "Partially shipped"),
                    ("shipped", "Shipped"),
                    ("delivered", "Delivered"),
                    ("cancelled", "Cancelled"),
                ],
                db_index=True,
                default="draft",
                editable=False,
                max_length=20,
            ),
        ),
    ]
