"""Journeys of issue 10 §6 in Chromium: a credit approval from Sales to a Manager; a stock count below what is
reserved, reviewed and applied, putting the newest order back on backorder. Screenshots of each step."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django_q.conf import Conf
from playwright.sync_api import expect

from inventory import services as stock
from inventory.models import AdjustmentReason, MovementKind
from inventory.services import StockLine
from orders import services
from orders.models import SalesOrder, SalesOrderStatus
from tests.e2e.conftest import PASSWORD
from tests.factories import CustomerFactory, ProductFactory


@pytest.fixture(autouse=True)
def dollars(settings):
    """Amounts are shown as the page shows money (backoffice.money), in a fixed currency here."""
    settings.CURRENCY = "USD"


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


def user(django_user_model, username, role):
    person = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    person.groups.add(Group.objects.get(name=role))
    return person


def sign_in(page, username):
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


@pytest.fixture
def tea(superuser, warehouse):
    product = ProductFactory(sku="TEA", name="Darjeeling tea", sale_price=Decimal("30.00"), tax_rate=Decimal("0"))
    stock.stock_receive(
        lines=[StockLine(product.pk, warehouse.pk, 10, Decimal("4.00"))], kind=MovementKind.OPENING, reference="OPEN"
    )
    return product


def test_sales_sends_an_over_limit_order_and_a_manager_approves_it(
    page, screenshot, django_user_model, superuser, warehouse, tea
):
    seller = user(django_user_model, "sally", "Sales")
    user(django_user_model, "maggie", "Manager")
    customer = CustomerFactory(code="TIGHT", name="Tight GmbH", credit_limit=Decimal("100.00"))
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=seller)
    services.sales_order_line_add(order=order, product=tea, quantity=5, user=seller)

    sign_in(page, "sally")
    page.goto(f"/admin/orders/salesorder/{order.pk}/change/")
    page.get_by_role("link", name=re.compile(r"\bConfirm$")).click()
    expect(page.locator("body")).to_contain_text("over the credit limit of USD 100.00 by USD 50.00")
    page.fill("textarea[name=approval_request_note]", "Customer since 2012, pays on time")
    screenshot("sales-sends-for-approval")
    page.get_by_role("button", name="Send for approval").click()
    expect(page.locator("body")).to_contain_text("was sent to the Managers for credit approval")
    expect(page.locator("body")).to_contain_text("Awaiting approval")
    screenshot("order-awaiting-approval")
    assert "maggie@example.com" in mail.outbox[0].to  # every Manager (and Admin) is told

    sign_in(page, "maggie")
    figure = page.locator("[data-figure='Over credit limit']")
    expect(figure.locator("[data-value]")).to_have_text("1")
    screenshot("manager-start-page")
    figure.click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    screenshot("manager-approval-list")
    page.get_by_role("link", name=order.number).first.click()
    page.get_by_role("link", name="Approve credit").first.click()
    expect(page.locator("body")).to_contain_text("Customer since 2012, pays on time")
    page.fill("textarea[name=reason]", "Bank guarantee received today")
    screenshot("manager-approves")
    page.get_by_role("button", name="Approve and confirm").click()
    expect(page.locator("body")).to_contain_text("confirmed: 5 reserved")
    expect(page.locator("body")).to_contain_text("approved by maggie: Bank guarantee received today")
    screenshot("order-approved")
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.CONFIRMED
    assert mail.outbox[-1].to == ["sally@example.com"]


def test_a_count_below_reservations_is_reviewed_applied_and_backorders_the_newest_order(
    page, screenshot, django_user_model, superuser, warehouse, tea
):
    seller = user(django_user_model, "sally", "Sales")
    floor = user(django_user_model, "wendy", "Warehouse")
    warehouse.staff.add(floor)
    today = dt.date.today()
    orders = []
    for days_ago, quantity in ((2, 4), (0, 5)):
        order = services.sales_order_create(
            customer=CustomerFactory(), warehouse=warehouse, user=seller, order_date=today - dt.timedelta(days=days_ago)
        )
        services.sales_order_line_add(order=order, product=tea, quantity=quantity, user=seller)
        orders.append(services.sales_order_confirm(order=order, user=seller))
    adjustment = stock.stock_adjustment_create(
        warehouse=warehouse, reason=AdjustmentReason.CYCLE_COUNT, blind_count=True, user=floor
    )
    adjustment.lines.create(product=tea, counted_quantity=6, reason=AdjustmentReason.DAMAGE)

    sign_in(page, "wendy")
    page.goto("/admin/inventory/stockadjustment/count-sheet/")
    page.select_option("select[name=warehouse]", str(warehouse.pk))
    page.get_by_role("button", name="Open count sheet").click()
    expect(page.locator("#count-sheet")).to_contain_text("TEA")
    screenshot("count-sheet")

    page.goto(f"/admin/inventory/stockadjustment/{adjustment.pk}/change/")
    expect(page.locator("body")).to_contain_text("hidden (blind count)")
    page.get_by_role("link", name="Review and apply").first.click()
    row = page.locator("#count_review tr[data-sku=TEA]")
    expect(row.locator("[data-col=expected]")).to_have_text("10")
    expect(row.locator("[data-col=difference]")).to_have_text("-4")
    expect(row.locator("[data-col=unit_cost]")).to_have_text("USD 4.00")
    expect(row.locator("[data-col=value]")).to_have_text("USD -16.00")
    expect(row.locator("[data-col=released]")).to_have_text("3")
    expect(page.locator("#release-warning")).to_contain_text("3 reserved units are more than was counted")
    screenshot("count-review")
    page.get_by_role("button", name="Apply count").click()
    expect(page.locator("body")).to_contain_text(f"{adjustment.number} was applied.")
    screenshot("count-applied")

    oldest, newest = (SalesOrder.objects.get(pk=o.pk) for o in orders)
    assert (oldest.lines.get().quantity_reserved, newest.lines.get().quantity_reserved) == (4, 2)
    assert newest.backordered_quantity == 3
    assert [m.to for m in mail.outbox] == [["sally@example.com"]]
    sign_in(page, "sally")
    page.goto(f"/admin/orders/salesorder/{newest.pk}/change/")
    expect(page.locator("body")).to_contain_text(newest.number)
    screenshot("newest-order-back-on-backorder")


def test_onboarding_page_and_a_refused_page_inside_the_admin(page, screenshot, django_user_model, superuser, warehouse):
    user(django_user_model, "ada", "Admin")
    user(django_user_model, "sally", "Sales")
    sign_in(page, "ada")
    page.goto("/admin/auth/user/add/")
    page.fill("input[name=username]", "wendy")
    page.fill("input[name=first_name]", "Wendy")
    page.fill("input[name=email]", "wendy@example.com")
    page.check("input[name=role][value=Warehouse]")
    page.check(f"input[name=warehouses][value='{warehouse.pk}']")
    screenshot("add-user")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("body")).to_contain_text("A welcome e-mail with a link to choose a password goes to")
    assert mail.outbox[-1].to == ["wendy@example.com"]

    sign_in(page, "sally")
    page.goto("/admin/")
    page.goto("/admin/orders/purchaseorder/")
    expect(page.locator("#denied-roles")).to_contain_text("Purchasing")
    expect(page.get_by_role("link", name="Back to the dashboard")).to_be_visible()
    screenshot("refused-page")
