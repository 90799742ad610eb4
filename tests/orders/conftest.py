"""Fixtures for order tests: customers, users per role, and a stock-invariant check."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from tests.factories import CustomerFactory, ProductFactory
from tests.orders.documents_fixtures import doc_company, doc_shipped, docs  # noqa: F401 - document tests' fixtures


@pytest.fixture
def stock_checked(db):
    """Run ``check_stock`` after the test: ledger = on hand, allocated = open reservations."""
    yield
    output = io.StringIO()
    try:
        call_command("check_stock", stdout=output, stderr=output)
    except SystemExit:
        pytest.fail(f"check_stock found discrepancies:\n{output.getvalue()}")


@pytest.fixture
def customer(db):
    return CustomerFactory(code="ALFKI", name="Alfreds Futterkiste", shipping_address="Obere Str. 57, Berlin")


@pytest.fixture
def sales_user(make_user):
    return make_user("Sales")


@pytest.fixture
def manager(make_user):
    return make_user("Manager")


@pytest.fixture
def warehouse_user(make_user):
    return make_user("Warehouse")


@pytest.fixture
def stock(warehouse):
    """stock(product, 5) puts 5 more on hand in MAIN (an opening-balance movement)."""

    def add(product, quantity: int, unit_cost: Decimal = Decimal("5.00")):
        stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, quantity, unit_cost)],
            kind=MovementKind.OPENING,
            reference="TEST-OPENING",
        )
        return product

    return add


@pytest.fixture
def product_with_stock(stock):
    """product_with_stock(10) -> a new active product with 10 on hand in MAIN."""

    def make(quantity: int, **fields):
        product = ProductFactory(**fields)
        if quantity:
            stock(product, quantity)
        return product

    return make
