"""How money is shown to people: one place for amounts and prices (lists, pages, dashboard, PDFs, e-mails).

``format_money(1234.5)`` → ``"USD 1,234.50"``: two decimals, thousands separators and the currency
(``settings.CURRENCY``). ``format_price(Decimal("2.1250"))`` → ``"USD 2.125"``: a unit price keeps the
decimals it needs (at least two, at most the four prices are stored with). ``currency=False`` leaves the
code out (a table whose header names the currency).

Only what is *shown* goes through here: exports (CSV/XLSX/JSON) and the API keep raw numbers.
Templates use the ``money`` and ``price`` filters (``{% load money %}``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

EMPTY = "—"
CENT = Decimal("0.01")


def currency_code() -> str:
    return getattr(settings, "CURRENCY", "") or ""


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _with_currency(text: str, currency: bool | str) -> str:
    code = currency if isinstance(currency, str) else (currency_code() if currency else "")
    return f"{code} {text}" if code else text


def format_money(value, *, currency: bool | str = True, empty: str = EMPTY) -> str:
    """An amount: 2 decimals (rounded half-up), thousands separators, the currency code in front."""
    number = _decimal(value)
    if number is None:
        return empty
    return _with_currency(f"{number.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}", currency)


def format_price(value, *, currency: bool | str = True, empty: str = EMPTY, max_places: int = 4) -> str:
    """A unit price or cost: the decimals it needs, at least 2 and at most ``max_places``."""
    number = _decimal(value)
    if number is None:
        return empty
    number = number.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    places = max(2, min(max_places, -number.normalize().as_tuple().exponent))
    return _with_currency(f"{number:,.{places}f}", currency)


def money_column(field: str, description, *, price: bool = False):
    """An admin list column / read-only field showing model field ``field`` formatted (sorts on the field).

    ``total_display = money_column("total", _("total"))`` in a ModelAdmin, then ``"total_display"`` in
    ``list_display`` / ``readonly_fields``; ``price=True`` for unit prices and costs.
    """
    from unfold.decorators import display

    formatter = format_price if price else format_money

    @display(description=description, ordering=field)
    def column(self, obj):
        return formatter(getattr(obj, field, None))

    column.__name__ = f"{field}_display"
    return column
