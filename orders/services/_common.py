"""Private helpers shared by the order services (cleaning, checks, row locks)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from backoffice.errors import ValidationFailed
from backoffice.limits import MAX_AMOUNT, MAX_PRICE, check_money, check_quantity

ZERO = Decimal("0")
HUNDRED = Decimal("100")


# Helpers ----------------------------------------------------------------------------------------


def _user_or_none(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _clean(instance, **kwargs) -> None:
    """``full_clean`` turning Django's ValidationError into our domain error."""
    try:
        instance.full_clean(**kwargs)
    except ValidationError as error:
        details = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        text = "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in details.items()
        )
        raise ValidationFailed(text, fields=details) from error


def _set_fields(instance, fields: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValidationFailed(f"These fields cannot be set here: {', '.join(unknown)}.")
    for name, value in fields.items():
        setattr(instance, name, value)


def _check_quantity(quantity, what: str = "Quantity") -> int:
    return check_quantity(quantity, what)


def _check_price(value, what: str) -> Decimal:
    return check_money(value, what, maximum=MAX_PRICE)


def _check_amount(value, what: str) -> Decimal:
    return check_money(value, what, maximum=MAX_AMOUNT)


def _check_percent(value, what: str) -> Decimal:
    value = Decimal(value)
    if not ZERO <= value <= HUNDRED:
        raise ValidationFailed(f"{what} must be between 0 and 100.")
    return value


def _locked(model, pk, *related: str):
    queryset = model.objects.select_for_update(of=("self",))
    if related:
        queryset = queryset.select_related(*related)
    return queryset.get(pk=pk)


def _pk(value) -> int:
    return value if isinstance(value, int) else value.pk


def document_lines_replace(order, lines: Iterable[dict], *, user, line_add, line_update, line_remove) -> None:
    """``lines`` become the document's lines: those with an ``id`` are changed, those without added, the
    others removed — each through the document's own line services (they price and total it).

    A line ``id`` that is not on ``order`` refuses the whole change (call inside the caller's transaction).
    """
    lines = list(lines)
    existing = {line.pk: line for line in order.lines.all()}
    unknown = [line["id"] for line in lines if "id" in line and line["id"] not in existing]
    if unknown:
        raise ValidationError({"lines": [f"Lines {unknown} are not on {order.number}."]})
    kept = {line["id"] for line in lines if "id" in line}
    for pk, line in existing.items():
        if pk not in kept:
            line_remove(line=line, user=user)
    for line in lines:
        fields = {key: value for key, value in line.items() if key != "id"}
        if "id" in line:
            line_update(line=existing[line["id"]], user=user, **fields)
        else:
            line_add(order=order, user=user, **fields)
