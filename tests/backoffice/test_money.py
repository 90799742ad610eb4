"""backoffice.money: the one way amounts and prices are shown (pages, dashboard, documents, e-mails)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from backoffice.money import format_money, format_price


@pytest.fixture(autouse=True)
def currency(settings):
    settings.CURRENCY = "EUR"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234567.891"), "EUR 1,234,567.89"),
        (Decimal("0.005"), "EUR 0.01"),  # half-up, as the order totals are rounded
        (Decimal("-12.5"), "EUR -12.50"),
        (0, "EUR 0.00"),
        (7, "EUR 7.00"),
        (None, "—"),
        ("", "—"),
        ("not a number", "—"),
    ],
)
def test_amounts_have_two_decimals_separators_and_the_currency(value, shown):
    assert format_money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("18.0000"), "EUR 18.00"),
        (Decimal("2.1250"), "EUR 2.125"),
        (Decimal("0.1234"), "EUR 0.1234"),
        (Decimal("1234.12345"), "EUR 1,234.1235"),
    ],
)
def test_prices_keep_the_decimals_they_need(value, shown):
    assert format_price(value) == shown


def test_the_currency_can_be_left_out_or_named():
    assert format_money(Decimal("1500"), currency=False) == "1,500.00"
    assert format_money(Decimal("1500"), currency="GBP") == "GBP 1,500.00"


def test_template_filters():
    template = Template('{% load money %}{{ a|money }} | {{ a|money:"bare" }} | {{ p|price }} | {% currency %}')
    assert template.render(Context({"a": Decimal("9876.5"), "p": Decimal("0.5000")})) == (
        "EUR 9,876.50 | 9,876.50 | EUR 0.50 | EUR"
    )


@pytest.mark.parametrize(("environment", "currency"), [({}, "USD"), ({"CURRENCY": "chf"}, "CHF")])
def test_currency_defaults_from_the_language(tmp_path, environment, currency):
    from tests.backoffice.test_settings import django_env, run_python

    env = django_env(tmp_path, DJANGO_DEBUG="true", **environment)
    if not environment:
        env.pop("CURRENCY", None)  # the language's default
    code = "import django; django.setup(); from django.conf import settings; print(settings.CURRENCY)"
    result = run_python(env, "-c", code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == currency  # LANGUAGE_CODE en-us → USD unless CURRENCY is set
