"""The start page per role (backoffice/start_pages.py): figures, scoping, links, messages, cache, queries.

One small world, hand-counted (``today`` is the site's local date):

MAIN: P1 10 on hand at 2.00 (reorder point 5), P2 level with nothing on hand (reorder point 5).
OTHER: P1 20 on hand at 2.00 (reorder point 25).

sales orders (P1 at 10.00 net per unit)
  A  MAIN  draft                   1 unit                      (unlimited credit)
  E  MAIN  awaiting approval       15 units, customer limit 100 → over the limit (180.00 with tax), sent for approval
  B  MAIN  confirmed, today        3 units, required today      shipment pending
  C  MAIN  confirmed, today-5      20 units, required today-2   7 reserved, 13 backordered, shipment of 7
  D  OTHER confirmed, today        2 units, required yesterday
  F  OTHER confirmed, today        1 unit, confirmed over a 5.00 limit with a Manager's override
purchase orders
  PO1 MAIN  sent, expected today-3 (late)   P2 × 10
  PO2 MAIN  sent, expected today            P1 × 2
  PO3 OTHER sent, expected today+2          P2 × 1
  PO4 MAIN  draft                           P2 × 1
stock adjustments in draft: one in MAIN, one in OTHER.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.start_pages import NO_ROLE, NO_WAREHOUSE, start_page
from inventory import services as stock
from inventory.models import AdjustmentReason, MovementKind, StockLevel
from inventory.services import StockLine
from orders import services as orders
from tests.factories import CustomerFactory, ProductFactory, SupplierFactory, WarehouseFactory

TEN = Decimal("10.0000")


def _order(boss, customer, warehouse, lines, *, confirm=True, override="", **fields):
    order = orders.sales_order_create(customer=customer, warehouse=warehouse, user=boss, **fields)
    for product, quantity in lines:
        orders.sales_order_line_add(order=order, product=product, quantity=quantity, unit_price=TEN, user=boss)
    if confirm:
        orders.sales_order_confirm(order=order, user=boss, credit_override_reason=override)
    order.refresh_from_db()
    return order


def _po(boss, supplier, warehouse, product, quantity, expected, *, send=True):
    po = orders.purchase_order_create(supplier=supplier, warehouse=warehouse, user=boss, expected_date=expected)
    orders.purchase_order_line_add(order=po, product=product, quantity=quantity, unit_cost=Decimal("2"), user=boss)
    if send:
        orders.purchase_order_send(order=po, user=boss)
    return po


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def boss(make_user):
    return make_user(superuser=True, username="boss")


@pytest.fixture
def other(db):
    return WarehouseFactory(code="OTHER", name="Other warehouse")


@pytest.fixture
def world(warehouse, other, boss, today):
    return build_world(warehouse, other, boss, today)


def build_world(warehouse, other, boss, today) -> dict:
    """The world of the module docstring (also used by tests/e2e/test_start_pages.py)."""
    p1 = ProductFactory(sku="P1", name="Tea", cost=Decimal("2.00"))
    p2 = ProductFactory(sku="P2", name="Coffee", cost=Decimal("2.00"))
    stock.stock_receive(
        lines=[StockLine(p1.pk, warehouse.pk, 10, Decimal("2.00")), StockLine(p1.pk, other.pk, 20, Decimal("2.00"))],
        kind=MovementKind.OPENING,
        reference="OPEN",
    )
    StockLevel.objects.create(product=p2, warehouse=warehouse, reorder_point=5, reorder_quantity=10)
    StockLevel.objects.filter(product=p1, warehouse=warehouse).update(reorder_point=5)
    StockLevel.objects.filter(product=p1, warehouse=other).update(reorder_point=25)

    anyone = CustomerFactory(name="Anyone")
    world = {"p1": p1, "p2": p2}
    world["A"] = _order(boss, anyone, warehouse, [(p1, 1)], confirm=False)
    limited = CustomerFactory(name="Limited", credit_limit=Decimal("100.00"))
    world["E"] = _order(boss, limited, warehouse, [(p1, 15)], confirm=False)
    orders.sales_order_request_approval(order=world["E"], user=boss)
    world["B"] = _order(boss, anyone, warehouse, [(p1, 3)], required_date=today)
    world["C"] = _order(
        boss,
        anyone,
        warehouse,
        [(p1, 20)],
        order_date=today - dt.timedelta(days=5),
        required_date=today - dt.timedelta(days=2),
    )
    world["D"] = _order(boss, anyone, other, [(p1, 2)], required_date=today - dt.timedelta(days=1))
    tight = CustomerFactory(name="Tight", credit_limit=Decimal("5.00"))
    world["F"] = _order(boss, tight, other, [(p1, 1)], override="Good customer, paying this week")
    world["ship_B"] = orders.shipment_create(sales_order=world["B"], user=boss)
    world["ship_C"] = orders.shipment_create(sales_order=world["C"], user=boss)

    supplier = SupplierFactory()
    world["PO1"] = _po(boss, supplier, warehouse, p2, 10, today - dt.timedelta(days=3))
    world["PO2"] = _po(boss, supplier, warehouse, p1, 2, today)
    world["PO3"] = _po(boss, supplier, other, p2, 1, today + dt.timedelta(days=2))
    world["PO4"] = _po(boss, supplier, warehouse, p2, 1, today, send=False)
    stock.stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.CYCLE_COUNT, user=boss)
    stock.stock_adjustment_create(warehouse=other, reason=AdjustmentReason.CYCLE_COUNT, user=boss)
    return world


@pytest.fixture
def main_user(make_user, warehouse):
    user = make_user("Warehouse", username="floor")
    warehouse.staff.add(user)
    return user


def with_roles(make_user, *roles, username):
    user = make_user(roles[0], username=username)
    for role in roles[1:]:
        user.groups.add(Group.objects.get(name=role))
    return user


def section(context, key):
    found = [s for s in context["sections"] if s.key == key]
    assert found, f"no {key} section in {[s.key for s in context['sections']]}"
    return {figure.label: figure for figure in found[0].figures}


def values(figures):
    return {label: figure.value for label, figure in figures.items()}


def overview(context):
    return {figure.label: figure for figure in context["overview"]["figures"]}


# Figures per role ---------------------------------------------------------------------------------


def test_sales_sees_drafts_credit_approvals_due_backorders_and_late_orders(make_user, world):
    context = start_page(make_user("Sales"))
    assert values(section(context, "sales")) == {
        "Drafts": 1,  # A
        "Awaiting credit approval": 1,  # E: 180.00 against a limit of 100.00, sent for approval
        "To ship today": 1,  # B
        "Backorders": 1,  # C
        "Late orders": 2,  # C (MAIN) and D (OTHER)
    }
    assert [s.key for s in context["sections"]] == ["sales"]
    assert context["overview"] is None  # Sales gets its own section and the stock cards


def test_purchasing_sees_reorders_net_of_incoming_late_pos_and_receipts_due(make_user, world):
    figures = section(start_page(make_user("Purchasing")), "purchasing")
    # P1@MAIN: 0 available + 2 incoming ≤ 5; P1@OTHER: 17 ≤ 25; P2@MAIN: 0 + 11 incoming (draft PO4 too) > 5.
    assert figures["To reorder"].value == 2
    assert figures["Late purchase orders"].value == 1  # PO1
    assert figures["Receipts due"].value == 2  # PO2 today, PO3 in two days


def test_warehouse_user_sees_only_their_warehouse(client, main_user, world):
    client.force_login(main_user)
    response = client.get(reverse("admin:index"))
    context = response.context
    figures = section(context, "warehouse")
    assert values(figures) == {
        "To pack and ship": 2,  # B's and C's shipments; nothing of OTHER
        "Receipts expected today": 1,  # PO2 (PO4 is a draft)
        "Counts in progress": 1,  # MAIN's draft adjustment only
    }
    assert figures["To pack and ship"].secondary == "1 late"  # C was required two days ago
    assert context["figures"]["stock_value"] == Decimal("20.00")  # MAIN's 10 at 2.00, not OTHER's 20
    assert context["figures"]["reorder_count"] == 2  # P1 and P2 in MAIN
    assert context["overview"] is None
    page = response.content.decode()
    assert "P1 @ MAIN" in page and "P1 @ OTHER" not in page


def test_a_second_warehouse_user_of_other_sees_other_figures_only(client, make_user, other, world):
    user = make_user("Warehouse", username="other-floor")
    other.staff.add(user)
    figures = section(start_page(user), "warehouse")
    assert values(figures) == {"To pack and ship": 0, "Receipts expected today": 0, "Counts in progress": 1}


def test_manager_sees_sales_months_credit_and_no_failed_tasks_without_permission(make_user, world, today):
    figures = section(start_page(make_user("Manager")), "management")
    this_month = Decimal("60.00")  # B 30 + D 20 + F 10, ordered today
    if (today - dt.timedelta(days=5)).month == today.month:
        this_month += Decimal("200.00")  # C
    assert figures["Sales this month"].value == this_month
    assert figures["Sales this month"].money
    assert figures["Over credit limit"].value == 1  # E
    assert figures["Credit overrides"].value == 1  # F
    assert "Failed tasks" not in figures  # Managers may not open the task admin


def test_admin_sees_failed_tasks_linking_to_their_list(client, make_user, world):
    from django_q.models import Task

    now = timezone.now()
    Task.objects.create(
        id="f1", name="nightly", func="inventory.tasks.check_stock_task", started=now, stopped=now, success=False
    )
    Task.objects.create(id="s1", name="ok", func="x", started=now, stopped=now, success=True)
    admin = make_user("Admin", username="admin-role")
    figure = section(start_page(admin), "management")["Failed tasks"]
    assert figure.value == 1
    assert figure.tone == "danger"
    client.force_login(admin)
    listing = client.get(figure.url)
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1


def test_overview_for_viewer_is_read_only_with_chart_and_top_products(client, make_user, world, today):
    viewer = make_user("Viewer")
    client.force_login(viewer)
    response = client.get(reverse("admin:index"))
    context = response.context
    assert context["sections"] == []  # a Viewer acts on nothing
    assert context["read_only"]
    figures = overview(context)
    assert values(figures) == {
        "Sales today": Decimal("60.00"),
        "Sales, last 30 days": Decimal("260.00"),
        "Open orders": 4,  # B, C, D, F
        "Backordered lines": 1,  # C's line
        "POs awaiting receipt": 3,  # PO1-3
        "Late shipments": 1,  # C's shipment: C was required two days ago
    }
    chart = json.loads(context["overview"]["chart"])
    assert len(chart["labels"]) == 30 and chart["datasets"][0]["data"][-1] == 60.0
    assert chart["datasets"][0]["data"][-6] == 200.0  # C, five days ago
    top = context["overview"]["top_products"]
    assert [(row["product__sku"], row["units"], row["net"]) for row in top] == [("P1", 26, Decimal("260.00"))]
    page = response.content.decode()
    assert "read-only access" in page
    assert 'class="chart"' in page and "data-value=" in page  # Unfold's Chart.js component, data as JSON


def test_a_user_with_several_roles_sees_each_section(make_user, world):
    user = with_roles(make_user, "Sales", "Purchasing", username="both")
    assert [s.key for s in start_page(user)["sections"]] == ["sales", "purchasing"]


def test_manager_also_warehouse_is_not_scoped(make_user, world):
    user = with_roles(make_user, "Warehouse", "Manager", username="lead")  # no warehouse, but Manager
    context = start_page(user)
    assert section(context, "warehouse")["To pack and ship"].value == 2
    assert section(context, "warehouse")["Counts in progress"].value == 2


# Messages instead of empty lists ------------------------------------------------------------------


def test_user_without_role_gets_a_message_and_no_figures(client, make_user, world):
    client.force_login(make_user(None, username="nobody"))
    response = client.get(reverse("admin:index"))
    page = response.content.decode()
    assert response.status_code == 200
    assert NO_ROLE.replace("—", "&mdash;") in page or NO_ROLE in page
    assert "Stock value" not in page and "Drafts" not in page and not _shows_product_p1(page)
    assert not response.context["figures"] and response.context["sections"] == []


def test_warehouse_user_without_a_warehouse_is_told_so(client, make_user, world):
    client.force_login(make_user("Warehouse", username="unassigned"))
    response = client.get(reverse("admin:index"))
    page = response.content.decode()
    assert NO_WAREHOUSE in page
    assert "To pack and ship" not in page and "Stock value" not in page and not _shows_product_p1(page)


def _shows_product_p1(page: str) -> bool:
    """Whether the SKU P1 appears as a word (not inside a random CSRF token or nonce)."""
    return re.search(r"(?<![A-Za-z0-9])P1(?![A-Za-z0-9])", page) is not None


# Links --------------------------------------------------------------------------------------------


def _figures_with_lists(context):
    figures = [f for s in context["sections"] for f in s.figures]
    figures += context["overview"]["figures"] if context["overview"] else []
    figures += context["stock_cards"]
    return [f for f in figures if f.url and not f.money and "/admin/report/" not in f.url]


@pytest.mark.parametrize("role", ["Admin", "Sales", "Purchasing", "Warehouse", "Viewer"])
def test_every_list_link_opens_and_shows_the_same_count(client, make_user, warehouse, world, role):
    user = make_user(role)
    if role == "Warehouse":
        warehouse.staff.add(user)
    client.force_login(user)
    context = client.get(reverse("admin:index")).context
    figures = _figures_with_lists(context)
    assert len(figures) >= 4
    for figure in figures:
        response = client.get(figure.url)
        assert response.status_code == 200, (figure.label, figure.url)
        assert "e=1" not in response.request.get("QUERY_STRING", ""), (figure.label, figure.url)
        expected = figure.value
        if figure.label == "Backordered lines":  # the list shows the orders the lines are on
            expected = int(figure.hint.split()[1])
        assert response.context["cl"].result_count == expected, (figure.label, figure.url)


def test_sales_figures_link_to_the_sales_summary_report(client, boss, world, today):
    client.force_login(boss)
    context = client.get(reverse("admin:index")).context
    report = reverse("reports:detail", args=["sales-summary"])
    figures = overview(context)
    assert figures["Sales today"].url.startswith(report)
    assert figures["Sales, last 30 days"].url.startswith(report)
    assert context["overview"]["top_url"].startswith(report)
    assert section(context, "management")["Sales this month"].url.startswith(report)
    for url in (figures["Sales today"].url, figures["Sales, last 30 days"].url, context["overview"]["top_url"]):
        assert client.get(url).status_code == 200


def test_reorder_figure_links_to_the_reorder_report(client, make_user, world):
    user = make_user("Purchasing")
    client.force_login(user)
    figure = section(client.get(reverse("admin:index")).context, "purchasing")["To reorder"]
    assert figure.url.startswith(reverse("reports:detail", args=["reorder"]))
    assert client.get(figure.url).status_code == 200


# Cache --------------------------------------------------------------------------------------------


@pytest.fixture
def cache_on(settings):
    settings.DASHBOARD_CACHE_SECONDS = 60
    cache.clear()
    yield
    cache.clear()


def test_figures_are_cached_per_scope_and_change_at_once_after_a_shipment(
    cache_on, make_user, main_user, boss, world, django_capture_on_commit_callbacks
):
    first = start_page(main_user)
    assert section(first, "warehouse")["To pack and ship"].value == 2
    assert first["figures"]["stock_value"] == Decimal("20.00")

    colleague = make_user("Warehouse", username="colleague")
    world["ship_B"].sales_order.warehouse.staff.add(colleague)
    with CaptureQueriesContext(connection) as cached_run:
        again = start_page(colleague)  # same warehouses: the same cached figures
    assert section(again, "warehouse")["To pack and ship"].value == 2
    # Only who the user is and which warehouses they staff are read; no figure is computed again.
    tables = ("orders_", "inventory_stock", "inventory_product", "django_q")
    figure_queries = [q["sql"] for q in cached_run.captured_queries if any(t in q["sql"] for t in tables)]
    assert figure_queries == []

    with django_capture_on_commit_callbacks(execute=True):
        orders.shipment_ship(shipment=world["ship_B"], user=boss)

    after = start_page(main_user)
    assert section(after, "warehouse")["To pack and ship"].value == 1
    assert after["figures"]["stock_value"] == Decimal("14.00")  # 3 units at 2.00 left MAIN


def test_a_receipt_and_a_status_change_drop_the_cache_too(
    cache_on, make_user, boss, world, django_capture_on_commit_callbacks
):
    buyer = make_user("Purchasing")
    assert section(start_page(buyer), "purchasing")["Late purchase orders"].value == 1
    line = world["PO1"].lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        orders.receipt_create(purchase_order=world["PO1"], lines=[(line, 10)], user=boss)
    assert section(start_page(buyer), "purchasing")["Late purchase orders"].value == 0

    seller = make_user("Sales")
    assert section(start_page(seller), "sales")["Drafts"].value == 1
    with django_capture_on_commit_callbacks(execute=True):
        orders.sales_order_cancel(order=world["A"], user=boss, reason="Customer changed their mind")
    assert section(start_page(seller), "sales")["Drafts"].value == 0


def test_other_scopes_never_get_a_cached_figure(cache_on, make_user, main_user, other, world):
    assert start_page(main_user)["figures"]["stock_value"] == Decimal("20.00")
    elsewhere = make_user("Warehouse", username="elsewhere")
    other.staff.add(elsewhere)
    assert start_page(elsewhere)["figures"]["stock_value"] == Decimal("40.00")  # OTHER: 20 at 2.00
    assert start_page(make_user("Manager"))["figures"]["stock_value"] == Decimal("60.00")


# Queries ------------------------------------------------------------------------------------------


def _figure_queries(user) -> int:
    with CaptureQueriesContext(connection) as run:
        start_page(user)
    return len(run.captured_queries)


def test_query_count_is_bounded_and_independent_of_the_data(make_user, boss, warehouse, world, today):
    admin = make_user("Admin", username="admin-role")
    before = _figure_queries(admin)
    assert before <= 25
    # Ten times more orders, lines, products and POs.
    customer = CustomerFactory()
    supplier = SupplierFactory()
    for _ in range(10):
        product = ProductFactory()
        stock.stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, 5, Decimal("1.00"))], kind=MovementKind.OPENING, reference="M"
        )
        _order(boss, customer, warehouse, [(product, 2), (world["p1"], 1)], required_date=today)
        _po(boss, supplier, warehouse, product, 3, today)
    admin = type(admin).objects.get(pk=admin.pk)  # a fresh request's user (no cached permissions)
    assert _figure_queries(admin) == before
