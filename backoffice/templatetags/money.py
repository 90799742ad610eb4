"""``{{ order.total|money }}`` → ``USD 1,234.50``; ``{{ line.unit_price|price }}`` → ``USD 2.125`` (backoffice.money).

``|money:"bare"`` / ``|price:"bare"`` leave the currency code out (a column whose header names it).
"""

from __future__ import annotations

from django import template

from backoffice.money import currency_code, format_money, format_price

register = template.Library()


@register.filter
def money(value, arg=""):
    return format_money(value, currency=arg != "bare")


@register.filter
def price(value, arg=""):
    return format_price(value, currency=arg != "bare")


@register.simple_tag
def currency():
    return currency_code()
