"""django-q2 tasks of the orders app (thin: the work is in ``orders.services``)."""

from __future__ import annotations


def email_document_task(kind: str, pk: int, to: list[str], reply_to: str = "", attempts: int = 3) -> str:
    """E-mail an order document as PDF (purchase order to the supplier, order confirmation to the customer)."""
    from orders.services.documents import document_email_deliver

    return document_email_deliver(kind, pk, to, reply_to, attempts)
