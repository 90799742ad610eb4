"""Money rules of orders/pricing.py: exact examples and properties for any input."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.pricing import LineAmounts, line_amounts, order_totals, purchase_line_total, round_money

CENT = Decimal("0.01")

quantities = st.integers(min_value=0, max_value=1_000_000)
prices = st.decimals(min_value=0, max_value=Decimal("9999999999.9999"), places=4, allow_nan=False)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)
money = st.decimals(min_value=0, max_value=Decimal("999999.99"), places=2, allow_nan=False)


def test_half_cent_rounds_up_not_to_even():
    # 1 × 0.125 → 0.13 (banker's rounding would give 0.12); 1 × 0.135 → 0.14.
    assert line_amounts(quantity=1, unit_price=Decimal("0.125")).net == Decimal("0.13")
    assert line_amounts(quantity=1, unit_price=Decimal("0.135")).net == Decimal("0.14")


def test_line_discount_then_order_discount_then_tax_on_rounded_net():
    # 3 × 19.99 = 59.97; −10 % = 53.973; −5 % = 51.27435 → 51.27; tax 20 % of 51.27 = 10.254 → 10.25.
    amounts = line_amounts(
        quantity=3,
        unit_price=Decimal("19.99"),
        discount_percent=Decimal("10"),
        order_discount_percent=Decimal("5"),
        tax_rate=Decimal("20"),
    )
    assert (amounts.net, amounts.tax, amounts.total) == (Decimal("51.27"), Decimal("10.25"), Decimal("61.52"))


def test_order_totals_are_sums_of_rounded_lines_plus_shipping():
    # Three lines of 1 × 0.335 each: 0.34 per line → 1.02 (rounding the sum 1.005 once would give 1.01).
    lines = [line_amounts(quantity=1, unit_price=Decimal("0.335"), tax_rate=Decimal("10")) for _ in range(3)]
    totals = order_totals(lines, shipping_charge=Decimal("4.50"))
    assert totals.subtotal == Decimal("1.02")
    assert totals.tax_total == Decimal("0.09")
    assert totals.total == Decimal("5.61")


def test_empty_order_totals_only_shipping():
    totals = order_totals([], shipping_charge=Decimal("7"))
    assert (totals.subtotal, totals.tax_total, totals.total) == (Decimal("0.00"), Decimal("0.00"), Decimal("7.00"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quantity": -1, "unit_price": Decimal("1")},
        {"quantity": 1, "unit_price": Decimal("-0.01")},
        {"quantity": 1, "unit_price": Decimal("1"), "discount_percent": Decimal("100.01")},
        {"quantity": 1, "unit_price": Decimal("1"), "order_discount_percent": Decimal("-1")},
        {"quantity": 1, "unit_price": Decimal("1"), "tax_rate": Decimal("101")},
    ],
)
def test_out_of_range_inputs_are_refused(kwargs):
    with pytest.raises(ValueError):
        line_amounts(**kwargs)


@given(quantity=quantities, price=prices, discount=percents, order_discount=percents, rate=percents)
def test_line_is_rounded_once_from_the_exact_value(quantity, price, discount, order_discount, rate):
    amounts = line_amounts(
        quantity=quantity,
        unit_price=price,
        discount_percent=discount,
        order_discount_percent=order_discount,
        tax_rate=rate,
    )
    exact_net = Decimal(quantity) * price * (100 - discount) * (100 - order_discount) / Decimal(10000)
    # Both amounts have exactly two places and are the half-up rounding of the exact value.
    assert amounts.net == amounts.net.quantize(CENT) and amounts.net.as_tuple().exponent == -2
    assert abs(amounts.net - exact_net) <= Decimal("0.005")
    assert amounts.net == exact_net.quantize(CENT, rounding=ROUND_HALF_UP)
    assert amounts.tax == (amounts.net * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    assert amounts.total == amounts.net + amounts.tax
    gross = round_money(Decimal(quantity) * price)
    assert Decimal(0) <= amounts.net <= gross
    assert amounts.tax <= amounts.net


@given(quantity=quantities, price=prices, rate=percents)
def test_full_discount_makes_a_line_free(quantity, price, rate):
    amounts = line_amounts(quantity=quantity, unit_price=price, discount_percent=Decimal(100), tax_rate=rate)
    assert amounts == LineAmounts(net=Decimal("0.00"), tax=Decimal("0.00"))


@given(quantity=quantities, price=prices, low=percents, high=percents)
def test_a_bigger_discount_never_costs_more(quantity, price, low, high):
    low, high = sorted([low, high])
    assert (
        line_amounts(quantity=quantity, unit_price=price, discount_percent=high).net
        <= line_amounts(quantity=quantity, unit_price=price, discount_percent=low).net
    )


@given(
    lines=st.lists(st.tuples(quantities, prices, percents, percents), max_size=20),
    order_discount=percents,
    shipping=money,
)
def test_order_totals_add_up_for_any_lines(lines, order_discount, shipping):
    amounts = [
        line_amounts(quantity=q, unit_price=p, discount_percent=d, order_discount_percent=order_discount, tax_rate=r)
        for q, p, d, r in lines
    ]
    totals = order_totals(amounts, shipping_charge=shipping)
    assert totals.subtotal == sum((a.net for a in amounts), Decimal("0.00"))
    assert totals.tax_total == sum((a.tax for a in amounts), Decimal("0.00"))
    assert totals.total == sum((a.total for a in amounts), Decimal("0.00")) + shipping
    assert totals.total.as_tuple().exponent == -2


@given(quantity=quantities, cost=prices)
def test_purchase_line_total_is_rounded_once(quantity, cost):
    assert purchase_line_total(quantity=quantity, unit_cost=cost) == (Decimal(quantity) * cost).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
