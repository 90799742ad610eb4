"""Money rules for order lines and documents (pure ``Decimal`` arithmetic, no database).

DESIGN.md invariant 4: prices have 4 places, amounts 2; each line's net and
tax are rounded half-up to cents exactly once; document totals are sums of
the rounded lines (plus the shipping charge), so lines always add up to the
total a customer sees.

A line's net applies its own discount and then the order-level discount:
``net = round(quantity × unit price × (1 − line %) × (1 − order %))``.
Tax is charged on the rounded net: ``tax = round(net × tax rate %)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

ZERO = Decimal("0")
ZERO_AMOUNT = Decimal("0.00")
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
# Wide enough for 14-digit prices times 10-digit quantities without any rounding before the final one.
_PRECISION = 60


def round_money(amount: Decimal) -> Decimal:
    """Round to cents, half-up (0.005 → 0.01)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _percent(value, name: str) -> Decimal:
    value = Decimal(value)
    if not ZERO <= value <= HUNDRED:
        raise ValueError(f"{name} must be between 0 and 100, not {value}.")
    return value


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


@dataclass(frozen=True)
class OrderTotals:
    subtotal: Decimal
    tax_total: Decimal
    shipping: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total + self.shipping


def line_amounts(
    *,
    quantity: int,
    unit_price: Decimal,
    discount_percent: Decimal = ZERO,
    order_discount_percent: Decimal = ZERO,
    tax_rate: Decimal = ZERO,
) -> LineAmounts:
    """Net and tax of one sales line, each rounded once."""
    if quantity < 0:
        raise ValueError("Quantity cannot be negative.")
    unit_price = Decimal(unit_price)
    if unit_price < 0:
        raise ValueError("Unit price cannot be negative.")
    line_discount = _percent(discount_percent, "Discount")
    order_discount = _percent(order_discount_percent, "Order discount")
    rate = _percent(tax_rate, "Tax rate")
    with localcontext() as context:
        context.prec = _PRECISION
        gross = Decimal(quantity) * unit_price
        exact = gross * (HUNDRED - line_discount) * (HUNDRED - order_discount) / (HUNDRED * HUNDRED)
        net = round_money(exact)
        tax = round_money(net * rate / HUNDRED)
    return LineAmounts(net=net, tax=tax)


def order_totals(lines: Iterable[LineAmounts], *, shipping_charge: Decimal = ZERO) -> OrderTotals:
    """Document totals: sums of the already-rounded lines, plus shipping."""
    shipping = round_money(Decimal(shipping_charge))
    if shipping < 0:
        raise ValueError("Shipping charge cannot be negative.")
    subtotal = tax_total = ZERO_AMOUNT
    for line in lines:
        subtotal += line.net
        tax_total += line.tax
    return OrderTotals(subtotal=subtotal, tax_total=tax_total, shipping=shipping)


def purchase_line_total(*, quantity: int, unit_cost: Decimal) -> Decimal:
    """Value of a purchase line, rounded once."""
    if quantity < 0 or Decimal(unit_cost) < 0:
        raise ValueError("Quantity and unit cost cannot be negative.")
    with localcontext() as context:
        context.prec = _PRECISION
        return round_money(Decimal(quantity) * Decimal(unit_cost))
