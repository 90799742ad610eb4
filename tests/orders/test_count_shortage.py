"""Stock counts (issue 10 §6): a count below what is reserved is accepted and releases the newest reservations;
the count sheet (blind or not), the review before applying (expected vs counted, value, reason per line).

Every test ends with ``check_stock`` clean (ledger = on hand, allocated = open reservations).
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django_q.conf import Conf

from backoffice.errors import InsufficientStock
from inventory import services as stock
from inventory.models import AdjustmentReason, DocumentStatus, StockLevel, StockMovement
from inventory.services import Count, StockLine, stock_allocate, stock_count_apply
from orders import services
from orders.models import SalesOrderStatus
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, WarehouseFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


@pytest.fixture(autouse=True)
def dollars(settings):
    """Amounts are shown as the page shows money (backoffice.money), in a fixed currency here."""
    settings.CURRENCY = "USD"


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def tea(stock):
    """10 Tea in MAIN at an average cost of 4.00."""
    return stock(ProductFactory(sku="TEA", name="Tea", sale_price=Decimal("9.00")), 10, Decimal("4.00"))


@pytest.fixture
def seller(make_user):
    return make_user("Sales", username="sally")


@pytest.fixture
def other_seller(make_user):
    return make_user("Sales", username="sam")


def confirmed(product, quantity, warehouse, user, day):
    order = services.sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user, order_date=day)
    services.sales_order_line_add(order=order, product=product, quantity=quantity, user=user)
    return services.sales_order_confirm(order=order, user=user)


@pytest.fixture
def three_orders(tea, warehouse, seller, other_seller):
    """Oldest to newest: 4 (sally), 3 (sam), 2 (sally): 9 of the 10 reserved."""
    today = dt.date.today()
    return [
        confirmed(tea, 4, warehouse, seller, today - dt.timedelta(days=2)),
        confirmed(tea, 3, warehouse, other_seller, today - dt.timedelta(days=1)),
        confirmed(tea, 2, warehouse, seller, today),
    ]


def level(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def reserved(order) -> int:
    return order.lines.get().quantity_reserved


def count(warehouse, product, counted, user, *, reason=AdjustmentReason.CYCLE_COUNT, line_reason=""):
    adjustment = stock.stock_adjustment_create(warehouse=warehouse, reason=reason, user=user)
    adjustment.lines.create(product=product, counted_quantity=counted, reason=line_reason)
    return adjustment


def text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


# Services -----------------------------------------------------------------------------------------


def test_count_below_reserved_releases_the_newest_reservations_and_tells_their_owners(
    tea, warehouse, three_orders, manager, django_capture_on_commit_callbacks
):
    oldest, middle, newest = three_orders
    adjustment = count(warehouse, tea, 5, manager, line_reason=AdjustmentReason.DAMAGE)
    with django_capture_on_commit_callbacks(execute=True):
        stock.stock_adjustment_apply(adjustment=adjustment, user=manager)

    # 9 reserved, 5 counted: 4 released, newest first: the 2 of today, then 2 of yesterday's 3.
    assert [reserved(o) for o in (oldest, middle, newest)] == [4, 1, 0]
    assert (level(tea, warehouse).on_hand, level(tea, warehouse).allocated) == (5, 5)
    for order in (middle, newest):
        order.refresh_from_db()
        assert order.status == SalesOrderStatus.CONFIRMED
    assert (middle.backordered_quantity, newest.backordered_quantity) == (2, 2)
    line = adjustment.lines.get()
    assert (line.previous_quantity, line.difference, line.released_quantity) == (10, -5, 4)
    assert line.difference_value == Decimal("-20.00")  # 5 × 4.00 average cost
    movement = StockMovement.objects.get(reference=adjustment.number)
    assert (movement.quantity, movement.note, movement.user) == (-5, "Damaged", manager)
    # One e-mail per owner, naming their orders only.
    by_owner = {tuple(m.to): m for m in mail.outbox}
    assert set(by_owner) == {("sally@example.com",), ("sam@example.com",)}
    assert newest.number in by_owner[("sally@example.com",)].body
    assert oldest.number not in by_owner[("sally@example.com",)].body
    assert f"{middle.number}" in by_owner[("sam@example.com",)].body
    assert "2 no longer reserved" in by_owner[("sam@example.com",)].body
    history = newest.lines.get().history.order_by("history_id").last()
    assert (history.quantity_reserved, history.history_user) == (0, manager)


def test_released_stock_is_reserved_again_oldest_first_when_it_arrives(
    tea, warehouse, three_orders, manager, django_capture_on_commit_callbacks
):
    oldest, middle, newest = three_orders
    with django_capture_on_commit_callbacks(execute=True):
        stock.stock_adjustment_apply(adjustment=count(warehouse, tea, 5, manager), user=manager)
    with django_capture_on_commit_callbacks(execute=True):
        stock.stock_receive(lines=[StockLine(tea.pk, warehouse.pk, 3, Decimal("4.00"))], reference="PO")
    assert [reserved(o) for o in (oldest, middle, newest)] == [4, 3, 1]


def test_a_count_of_zero_releases_everything(tea, warehouse, three_orders, manager):
    stock.stock_adjustment_apply(adjustment=count(warehouse, tea, 0, manager), user=manager)
    assert [reserved(o) for o in three_orders] == [0, 0, 0]
    assert (level(tea, warehouse).on_hand, level(tea, warehouse).allocated) == (0, 0)


def test_a_count_at_or_above_reserved_releases_nothing(tea, warehouse, three_orders, manager):
    stock.stock_adjustment_apply(adjustment=count(warehouse, tea, 9, manager), user=manager)
    assert [reserved(o) for o in three_orders] == [4, 3, 2]
    assert mail.outbox == []


def test_other_warehouses_reservations_are_untouched(tea, warehouse, seller, manager):
    other = WarehouseFactory(code="OTHER")
    stock.stock_receive(lines=[StockLine(tea.pk, other.pk, 5, Decimal("4.00"))], reference="OPEN")
    there = confirmed(tea, 5, other, seller, dt.date.today())
    here = confirmed(tea, 6, warehouse, seller, dt.date.today())
    stock.stock_adjustment_apply(adjustment=count(warehouse, tea, 1, manager), user=manager)
    assert (reserved(here), reserved(there)) == (1, 5)


def test_reservations_no_order_holds_are_still_refused(tea, warehouse):
    """Raw reservations (no document to put on backorder) cannot be released: nothing is written."""
    stock_allocate(lines=[StockLine(tea.pk, warehouse.pk, 6)])
    with pytest.raises(InsufficientStock, match="could not be released"):
        stock_count_apply(counts=[Count(tea.pk, warehouse.pk, 5)], reason="loss")
    assert (level(tea, warehouse).on_hand, level(tea, warehouse).allocated) == (10, 6)
    stock.stock_release(lines=[StockLine(tea.pk, warehouse.pk, 6)])  # leave the invariants clean


# Count sheet --------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(tea, stock):
    drinks = CategoryFactory(name="Drinks")
    hot = CategoryFactory(name="Hot drinks", parent=drinks)
    food = CategoryFactory(name="Food")
    tea.category = hot
    tea.save()
    stock(ProductFactory(sku="COLA", name="Cola", category=drinks), 7)
    stock(ProductFactory(sku="BREAD", name="Bread", category=food), 3)
    return {"drinks": drinks, "food": food}


def test_count_sheet_lists_a_warehouse_by_category_with_expected_quantities(client, manager, warehouse, catalogue):
    client.force_login(manager)
    sheet_url = reverse("admin:inventory_stockadjustment_count_sheet")
    form = client.get(sheet_url)
    assert form.status_code == 200 and 'name="blind"' in form.content.decode()

    page = client.get(sheet_url, {"warehouse": warehouse.pk, "category": catalogue["drinks"].pk})
    body = text(page)
    assert "COLA" in body and "TEA" in body and "BREAD" not in body  # sub-categories included
    assert "Expected" in body and "Expected quantities shown" in body
    assert [level.product.sku for level in page.context["levels"]] == ["COLA", "TEA"]


def test_blind_count_sheet_hides_expected_quantities(client, manager, warehouse, catalogue):
    client.force_login(manager)
    page = client.get(
        reverse("admin:inventory_stockadjustment_count_sheet"), {"warehouse": warehouse.pk, "blind": "on"}
    )
    body = text(page)
    assert "Blind count: expected quantities hidden" in body
    assert "Expected</th>" not in page.content.decode()
    assert "BREAD" in body and "COLA" in body


def test_warehouse_staff_print_sheets_of_their_warehouses_only(client, make_user, warehouse, catalogue):
    other = WarehouseFactory(code="OTHER")
    user = make_user("Warehouse", username="wendy")
    warehouse.staff.add(user)
    client.force_login(user)
    sheet_url = reverse("admin:inventory_stockadjustment_count_sheet")
    assert client.get(sheet_url, {"warehouse": warehouse.pk}).context["levels"]
    refused = client.get(sheet_url, {"warehouse": other.pk})
    assert refused.status_code == 200 and "Select a valid choice" in text(refused)


def test_a_blind_count_hides_expected_on_its_page_and_sheet(client, manager, warehouse, tea):
    adjustment = stock.stock_adjustment_create(
        warehouse=warehouse, reason=AdjustmentReason.CYCLE_COUNT, blind_count=True, user=manager
    )
    adjustment.lines.create(product=tea, counted_quantity=8)
    client.force_login(manager)
    page = text(client.get(reverse("admin:inventory_stockadjustment_change", args=[adjustment.pk])))
    assert "hidden (blind count)" in page
    sheet = client.get(reverse("admin:inventory_stockadjustment_print_count_sheet", args=[adjustment.pk]))
    assert adjustment.number in text(sheet) and "Blind count" in text(sheet)


# Review before applying ---------------------------------------------------------------------------


def test_review_shows_expected_counted_value_reason_and_what_goes_back_on_backorder(
    client, manager, warehouse, tea, three_orders
):
    cola = ProductFactory(sku="COLA", average_cost=Decimal("1.50"))  # never stocked here: a found line
    adjustment = count(warehouse, tea, 6, manager, line_reason=AdjustmentReason.LOSS)
    adjustment.lines.create(product=cola, counted_quantity=4, reason=AdjustmentReason.FOUND)
    client.force_login(manager)
    review = client.get(reverse("admin:inventory_stockadjustment_review_count", args=[adjustment.pk]))
    assert review.status_code == 200
    rows = {row.sku: row for row in review.context["rows"]}
    assert (rows["TEA"].expected, rows["TEA"].counted, rows["TEA"].difference) == (10, 6, -4)
    assert rows["TEA"].value == Decimal("-16.00") and rows["TEA"].reason == "Lost / stolen"
    assert rows["TEA"].released == 3  # 9 reserved, 6 counted
    assert (rows["COLA"].difference, rows["COLA"].value, rows["COLA"].reason) == (4, Decimal("6.00"), "Found")
    body = text(review)
    assert "3 reserved units are more than was counted" in body
    assert "USD -10.00" in body  # -16.00 + 6.00, at average cost
    assert level(tea, warehouse).on_hand == 10  # nothing applied yet

    applied = client.post(
        reverse("admin:inventory_stockadjustment_apply_document", args=[adjustment.pk]), {"_form_submitted": "on"}
    )
    assert applied.status_code == 302
    adjustment.refresh_from_db()
    assert adjustment.status == DocumentStatus.APPLIED
    assert [reserved(o) for o in three_orders] == [4, 2, 0]
    notes = dict(StockMovement.objects.filter(reference=adjustment.number).values_list("product__sku", "note"))
    assert notes == {"TEA": "Lost / stolen", "COLA": "Found"}


def test_only_who_may_apply_opens_the_review(client, make_user, warehouse, tea):
    adjustment = count(warehouse, tea, 8, None)
    client.force_login(make_user("Viewer", username="vera"))
    assert client.get(reverse("admin:inventory_stockadjustment_review_count", args=[adjustment.pk])).status_code == 403
    outsider = make_user("Warehouse", username="outsider")
    WarehouseFactory(code="ELSE").staff.add(outsider)
    client.force_login(outsider)
    assert client.get(reverse("admin:inventory_stockadjustment_review_count", args=[adjustment.pk])).status_code in (
        403,
        404,
    )


# Concurrency (PostgreSQL) -------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_counts_racing_confirmations_and_cancellations_keep_the_invariants(django_user_model):
    """Counts below reservations, confirmations and cancellations of the same stock at once: no deadlock, no
    500, and afterwards allocated = open reservations ≤ on hand = ledger (``stock_checked``)."""
    from backoffice.errors import BusinessError
    from tests.inventory.test_concurrency import run_in_threads

    main = WarehouseFactory(code="MAIN")
    tea = ProductFactory(sku="TEA", sale_price=Decimal("1.00"))
    stock.stock_receive(lines=[StockLine(tea.pk, main.pk, 40, Decimal("1.00"))], reference="OPEN")
    user = django_user_model.objects.create_user("u", "u@example.com", "x")
    orders = []
    for _ in range(6):
        order = services.sales_order_create(customer=CustomerFactory(), warehouse=main, user=user)
        services.sales_order_line_add(order=order, product=tea, quantity=4, user=user)
        orders.append(order)
    for order in orders[:3]:
        services.sales_order_confirm(order=order, user=user)

    def work(index):
        try:
            if index < 3:
                adjustment = stock.stock_adjustment_create(warehouse=main, reason="loss", user=user)
                adjustment.lines.create(product=tea, counted_quantity=6 - index)
                stock.stock_adjustment_apply(adjustment=adjustment, user=user)
                return "counted"
            if index < 6:
                services.sales_order_confirm(order=orders[index], user=user)
                return "confirmed"
            services.sales_order_cancel(order=orders[index - 6], user=user)
            return "cancelled"
        except BusinessError as error:
            return f"refused: {error.message}"

    results, errors = run_in_threads(8, work)
    assert errors == []
    assert len(results) == 8
    level = StockLevel.objects.get(product=tea, warehouse=main)
    assert 0 <= level.allocated <= level.on_hand
