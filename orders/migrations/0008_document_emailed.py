"""Who e-mailed a document, when and to whom: the PO's PDF to the supplier, the confirmation to the customer."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _user(verbose_name, historical=False):
    if historical:
        return models.ForeignKey(
            blank=True,
            db_constraint=False,
            editable=False,
            null=True,
            on_delete=django.db.models.deletion.DO_NOTHING,
            related_name="+",
            to=settings.AUTH_USER_MODEL,
            verbose_name=verbose_name,
        )
    return models.ForeignKey(
        blank=True,
        editable=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
    )


def _fields(prefix, label, historical):
    return [
        (
            f"{prefix}emailed_at",
            models.DateTimeField(blank=True, editable=False, null=True, verbose_name=f"{label} at"),
        ),
        (f"{prefix}emailed_by", _user(f"{label} by", historical)),
        (
            f"{prefix}emailed_to",
            models.CharField(blank=True, editable=False, max_length=254, verbose_name=f"{label} to"),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(model_name=model, name=name, field=field)
        for model, prefix, label in (
            ("purchaseorder", "", "e-mailed"),
            ("historicalpurchaseorder", "", "e-mailed"),
            ("salesorder", "confirmation_", "confirmation e-mailed"),
            ("historicalsalesorder", "confirmation_", "confirmation e-mailed"),
        )
        for name, field in _fields(prefix, label, model.startswith("historical"))
    ]
