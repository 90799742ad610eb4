"""Document numbers (``SO-000001``, ``PO-…``): unique, never reused, safe under concurrency."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from backoffice.models import DocumentSequence

WIDTH = 6


def format_document_number(prefix: str, value: int, *, width: int = WIDTH) -> str:
    """``SO``, 42 → ``SO-000042``: the one spelling of a document number."""
    return f"{prefix}-{value:0{width}d}"


def next_document_numbers(prefix: str, count: int, *, width: int = WIDTH) -> list[str]:
    """Return the next ``count`` consecutive numbers for ``prefix`` in one locked step.

    Runs in its own savepoint and locks the counter row, so two concurrent
    callers never get the same number (PostgreSQL row lock; SQLite serialises
    writers with ``BEGIN IMMEDIATE``). Bulk paths (imports, seeding) take a block at once.
    """
    if count <= 0:
        return []
    with transaction.atomic():
        DocumentSequence.objects.get_or_create(prefix=prefix)
        DocumentSequence.objects.filter(prefix=prefix).update(last_value=F("last_value") + count)
        last = DocumentSequence.objects.select_for_update().values_list("last_value", flat=True).get(prefix=prefix)
    return [format_document_number(prefix, value, width=width) for value in range(last - count + 1, last + 1)]


def next_document_number(prefix: str, *, width: int = WIDTH) -> str:
    """Return the next number for ``prefix``, e.g. ``SO-000042`` (see ``next_document_numbers``)."""
    return next_document_numbers(prefix, 1, width=width)[0]
