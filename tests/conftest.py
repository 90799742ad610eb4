"""Shared fixtures: users per role, a warehouse, products with stock."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

# Playwright's sync API runs an event loop in the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import ProductFactory, WarehouseFactory  # noqa: E402


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def roles(db):
    from backoffice.roles import roles_setup

    roles_setup()


@pytest.fixture
def make_user(db, roles, django_user_model):
    """make_user("Warehouse") -> a staff user in that role group."""
    from django.contrib.auth.models import Group

    def make(role: str | None = None, *, username: str | None = None, superuser: bool = False):
        name = username or (role or "super").lower()
        if superuser:
            return django_user_model.objects.create_superuser(name, f"{name}@example.com", "pw-Secret-123")
        user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-Secret-123", is_staff=True)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user(superuser=True, username="boss")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def warehouse(db):
    return WarehouseFactory(code="MAIN", name="Main warehouse")


@pytest.fixture
def stocked_product(warehouse):
    """A product with 10 on hand in MAIN (opening balance movement)."""
    from inventory.models import MovementKind
    from inventory.services import StockLine, stock_receive

    product = ProductFactory(sku="CHAI", name="Chai", sale_price=Decimal("18.00"), cost=Decimal("9.00"))
    stock_receive(
        lines=[StockLine(product.pk, warehouse.pk, 10, Decimal("9.00"))], kind=MovementKind.OPENING, reference="OPENING"
    )
    return product
