"""Receipts sorted by who received them or by delivery note: a (column, id) index each, as the other lists have."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0011_scale_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="receipt",
            index=models.Index(fields=["received_by", "id"], name="receipt_received_by_idx"),
        ),
        migrations.AddIndex(
            model_name="receipt",
            index=models.Index(fields=["delivery_note", "id"], name="receipt_delivery_note_idx"),
        ),
    ]
