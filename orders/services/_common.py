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
