"""Document numbers (``SO-000001``, ``PO-…``): unique, never reused, safe under concurrency."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from backoffice.models import DocumentSequence


def next_document_number(prefix: str, *, width: int = 6) -> str:
    """Return the next number for ``prefix``, e.g. ``SO-000042``.

    Runs in its own savepoint and locks the counter row, so two concurrent
    callers never get the same number (PostgreSQL row lock; SQLite serialises
    writers with ``BEGIN IMMEDIATE``).
    """
    with transaction.atomic():
        DocumentSequence.objects.get_or_create(prefix=prefix)
        DocumentSequence.objects.filter(prefix=prefix).update(last_value=F("last_value") + 1)
        value = DocumentSequence.objects.select_for_update().values_list("last_value", flat=True).get(prefix=prefix)
    return f"{prefix}-{value:0{width}d}"
