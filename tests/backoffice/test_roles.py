"""Roles (DESIGN.md section 1) as groups: created idempotently, with sensible permissions."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from backoffice.roles import ADMIN, MANAGER, PURCHASING, SALES, VIEWER, WAREHOUSE

pytestmark = pytest.mark.django_db

ROLES = [ADMIN, MANAGER, SALES, PURCHASING, WAREHOUSE, VIEWER]


def permissions_by_role() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.all()
    }


def test_setup_roles_creates_every_role_and_is_idempotent():
    out = StringIO()
    call_command("setup_roles", stdout=out)
    first = permissions_by_role()
    call_command("setup_roles", stdout=StringIO())

    assert sorted(first) == sorted(ROLES)
    assert permissions_by_role() == first
    assert Group.objects.count() == len(ROLES)
    assert "Roles are up to date." in out.getvalue()


def test_setup_roles_puts_back_a_removed_permission():
    call_command("setup_roles", stdout=StringIO())
    viewer = Group.objects.get(name=VIEWER)
    viewer.permissions.clear()

    call_command("setup_roles", stdout=StringIO())

    assert viewer.permissions.filter(codename="view_product").exists()


def test_admin_role_has_every_permission(roles):
    assert Group.objects.get(name=ADMIN).permissions.count() == Permission.objects.count()


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            VIEWER,
            {"inventory.view_product", "inventory.view_stockmovement", "inventory.view_stocklevel"},
            {
                "inventory.add_product",
                "inventory.change_product",
                "inventory.change_stocklevel",
                "inventory.apply_stockadjustment",
                "inventory.add_stockadjustment",
            },
        ),
        (
            WAREHOUSE,
            {
                "inventory.add_stockadjustment",
                "inventory.apply_stockadjustment",
                "inventory.add_stocktransfer",
                "inventory.apply_stocktransfer",
                "inventory.view_product",
            },
            {"inventory.change_product", "inventory.add_supplier", "inventory.delete_stockadjustment", "auth.add_user"},
        ),
        (
            SALES,
            {"inventory.view_product", "inventory.view_stocklevel"},
            {"inventory.add_stockadjustment", "inventory.apply_stockadjustment", "inventory.change_product"},
        ),
        (
            PURCHASING,
            {"inventory.add_supplier", "inventory.change_supplierproduct", "inventory.change_stocklevel"},
            {"inventory.add_stockadjustment", "inventory.change_product"},
        ),
        (
            MANAGER,
            {"inventory.change_product", "inventory.apply_stockadjustment", "inventory.apply_stocktransfer"},
            {"auth.add_user", "auth.change_user", "inventory.change_stockmovement", "inventory.delete_stockmovement"},
        ),
    ],
)
def test_role_permissions(make_user, role, allowed, refused):
    user = make_user(role)

    assert {p for p in allowed if not user.has_perm(p)} == set()
    assert {p for p in refused if user.has_perm(p)} == set()


def test_no_role_may_edit_the_ledger(roles):
    editors = Group.objects.filter(
        permissions__content_type__model="stockmovement",
        permissions__codename__in=["add_stockmovement", "change_stockmovement", "delete_stockmovement"],
    ).exclude(name=ADMIN)

    assert list(editors.values_list("name", flat=True).distinct()) == []
