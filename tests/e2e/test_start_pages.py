"""Journey: each role signs in and lands on its own start page (issue 10 §5); screenshots of each.

The world is the hand-counted one of tests/backoffice/test_dashboard.py.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from tests.backoffice.test_dashboard import build_world
from tests.e2e.conftest import PASSWORD
from tests.factories import WarehouseFactory


@pytest.fixture
def world(superuser, warehouse):
    other = WarehouseFactory(code="OTHER", name="Other warehouse")
    return build_world(warehouse, other, superuser, timezone.localdate())


def sign_in(page, django_user_model, username, *roles, warehouse=None):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    if warehouse is not None:
        warehouse.staff.add(user)
    page.goto("/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    return user


def figure(page, label):
    return page.locator(f"[data-figure='{label}'] [data-value]")


def test_sales_start_page(page, screenshot, django_user_model, world):
    sign_in(page, django_user_model, "sally", "Sales")
    sales = page.locator("[data-section=sales]")
    expect(sales).to_contain_text("Sales")
    expect(figure(page, "Drafts")).to_have_text("1")
    expect(figure(page, "Awaiting credit approval")).to_have_text("1")
    expect(figure(page, "Late orders")).to_have_text("2")
    screenshot("sales")
    page.locator("[data-figure='Late orders']").click()
    page.wait_for_url("**/admin/orders/salesorder/**")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    screenshot("sales-late-orders")


def test_purchasing_start_page(page, screenshot, django_user_model, world):
    sign_in(page, django_user_model, "percy", "Purchasing")
    expect(figure(page, "To reorder")).to_have_text("2")
    expect(figure(page, "Late purchase orders")).to_have_text("1")
    expect(figure(page, "Receipts due")).to_have_text("2")
    screenshot("purchasing")


def test_warehouse_start_page_shows_only_their_warehouse(page, screenshot, django_user_model, warehouse, world):
    sign_in(page, django_user_model, "wendy", "Warehouse", warehouse=warehouse)
    expect(figure(page, "To pack and ship")).to_have_text("2")
    expect(figure(page, "Receipts expected today")).to_have_text("1")
    expect(figure(page, "Counts in progress")).to_have_text("1")
    expect(page.locator("body")).not_to_contain_text("P1 @ OTHER")
    screenshot("warehouse")


def test_manager_start_page_with_overview_and_chart(page, screenshot, django_user_model, world):
    sign_in(page, django_user_model, "maggie", "Manager")
    expect(page.locator("[data-section=management]")).to_contain_text("Sales this month")
    expect(figure(page, "Over credit limit")).to_have_text("1")
    expect(figure(page, "Sales today")).to_contain_text("60.00")
    chart = page.locator("[data-section=overview] canvas.chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 100  # Unfold's Chart.js drew it (no inline script needed)
    expect(page.locator("[data-table=top-products]")).to_contain_text("P1")
    screenshot("manager")


def test_admin_start_page(page, screenshot, django_user_model, world):
    sign_in(page, django_user_model, "ada", "Admin")
    expect(figure(page, "Failed tasks")).to_have_text("0")
    screenshot("admin")


def test_viewer_start_page_is_read_only(page, screenshot, django_user_model, world):
    sign_in(page, django_user_model, "vera", "Viewer")
    expect(page.locator("[data-read-only]")).to_be_visible()
    expect(page.locator("[data-section=overview]")).to_be_visible()
    expect(page.locator("[data-section=management]")).to_have_count(0)
    screenshot("viewer")


def test_no_role_and_no_warehouse_messages(page, screenshot, django_user_model, world):
    sign_in(page, django_user_model, "newbie")
    expect(page.locator("[data-notice]")).to_have_text("You have no role yet — ask an administrator.")
    screenshot("no-role")
    page.context.clear_cookies()
    sign_in(page, django_user_model, "lost", "Warehouse")
    expect(page.locator("[data-notice]")).to_have_text("You are not assigned to a warehouse — ask a manager.")
    expect(page.locator("body")).not_to_contain_text("Stock value")
    screenshot("no-warehouse")
