"""Upper bounds for numbers people type or import, in one place.

A counted quantity of 9,223,372,036,854,775,807 once went through and broke
every page that summed that stock level. Every quantity, price and amount has
a sane ceiling here; models carry it as validators (so admin forms, imports
and API serializers refuse it) and as database check constraints, and the
services check it with ``check_quantity`` / ``check_money`` before writing.

The bounds fit the columns they guard: prices (4 places, 14 digits) below
10^10, amounts (2 places, 14 digits) below 10^12, stock counters in a 32-bit
PostgreSQL integer, and sums of them in 64 bits.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.validators import MaxValueValidator

from backoffice.errors import ValidationFailed

#: one line, count, reorder setting or minimum order quantity
MAX_QUANTITY = 10_000_000
#: what one stock level may hold (built from many quantities, so above ``MAX_QUANTITY``)
MAX_STOCK = 1_000_000_000
#: a unit price or cost
MAX_PRICE = Decimal("1000000000")
#: a line amount, document total, shipping charge, shipment cost or credit limit
MAX_AMOUNT = Decimal("100000000000")

max_quantity = MaxValueValidator(MAX_QUANTITY, message=f"Ensure this value is at most {MAX_QUANTITY:,}.")
max_stock = MaxValueValidator(MAX_STOCK, message=f"Ensure this value is at most {MAX_STOCK:,}.")
max_price = MaxValueValidator(MAX_PRICE, message=f"Ensure this value is at most {MAX_PRICE:,}.")
max_amount = MaxValueValidator(MAX_AMOUNT, message=f"Ensure this value is at most {MAX_AMOUNT:,}.")


def check_quantity(value, what: str = "Quantity", *, allow_zero: bool = False, maximum: int = MAX_QUANTITY) -> int:
    """A whole number from 1 (or 0) up to ``maximum``; otherwise ``ValidationFailed`` naming it."""
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= maximum:
        wanted = "zero or more" if allow_zero else "greater than zero"
        raise ValidationFailed(
            f"{what} must be a whole number {wanted} and at most {maximum:,} (got {value!r}).",
            value=str(value),
            maximum=maximum,
        )
    return value


def check_money(value, what: str, *, maximum: Decimal = MAX_PRICE) -> Decimal:
    """A finite decimal from 0 up to ``maximum`` (``MAX_PRICE`` or ``MAX_AMOUNT``)."""
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed(f"{what} is not a number (got {value!r}).", value=str(value)) from None
    if not number.is_finite():
        raise ValidationFailed(f"{what} is not a number (got {value!r}).", value=str(value))
    if number < 0:
        raise ValidationFailed(f"{what} cannot be negative.", value=str(value))
    if number > maximum:
        raise ValidationFailed(
            f"{what} must be at most {maximum:,} (got {value}).", value=str(value), maximum=str(maximum)
        )
    return number

#: words of an admin search (each word becomes an OR over every search field; SQLite refuses
#: an expression tree deeper than 1,000), and its characters (SQLite's LIKE pattern limit is 50,000)
MAX_SEARCH_TERMS = 10
MAX_SEARCH_LENGTH = 500
#: forms of one admin inline (document lines); a posted TOTAL_FORMS above it is refused
MAX_INLINE_FORMS = 300
#: nesting of a JSON request body
MAX_JSON_DEPTH = 32
