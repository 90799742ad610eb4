"""The stored units of a sales order (``total_quantity`` = Σ its lines' quantity) stay right on every path.

The ``sales-summary`` report adds this counter up instead of a million order lines, so its units must
equal the lines' own through line entry (one line, several at once, changed, removed), confirm, ship,
cancel, the historical import, the bulk recount, the migration that fills it and the seeded data.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db.models import Sum

from inventory.scale import seed_scale
from orders import services
from orders.importing import sales_orders_import
from orders.models import SalesOrder, SalesOrderLine, SalesOrderStatus
from orders.scale import seed_orders
from reports.registry import run_report
from tests.factories import CarrierFactory, ProductFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


def stored_units(order: SalesOrder) -> int:
    order.refresh_from_db()
    return order.total_quantity


def line_units(order: SalesOrder) -> int:
    return SalesOrderLine.objects.filter(order=order).aggregate(units=Sum("quantity"))["units"] or 0


@pytest.fixture
def draft(customer, warehouse, stock, admin_user):
    tea, coffee = stock(ProductFactory(sku="TEA"), 4), stock(ProductFactory(sku="COFFEE"), 20)
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
    services.sales_order_line_add(order=order, product=tea, quantity=10, user=admin_user)
    services.sales_order_line_add(order=order, product=coffee, quantity=3, user=admin_user)
    return order


def test_units_follow_line_entry_on_a_draft(draft, admin_user):
    assert stored_units(draft) == line_units(draft) == 13
    tea, coffee = draft.lines.order_by("pk")
    services.sales_order_line_update(line=coffee, quantity=7, user=admin_user)
    assert stored_units(draft) == line_units(draft) == 17
    services.sales_order_lines_add(
        order=draft,
        lines=[{"product": coffee.product, "quantity": 2}, {"product": tea.product, "quantity": 1}],
        user=admin_user,
    )
    assert stored_units(draft) == line_units(draft) == 20
    services.sales_order_line_remove(line=tea, user=admin_user)
    assert stored_units(draft) == line_units(draft) == 10
    services.sales_order_update(order=draft, user=admin_user, shipping_charge=Decimal("4.00"))
    assert stored_units(draft) == 10


def test_units_stay_through_confirm_ship_and_cancel(draft, customer, warehouse, stock, admin_user):
    services.sales_order_confirm(order=draft, user=admin_user)
    assert stored_units(draft) == line_units(draft) == 13
    shipment = services.shipment_create(sales_order=draft, user=admin_user)
    services.shipment_ship(shipment=shipment, user=admin_user)
    draft.refresh_from_db()
    assert draft.status == SalesOrderStatus.PARTIALLY_SHIPPED  # 4 TEA of 10 in stock
    assert stored_units(draft) == 13  # units ordered, not shipped

    jam = stock(ProductFactory(sku="JAM"), 5)
    other = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
    services.sales_order_line_add(order=other, product=jam, quantity=5, user=admin_user)
    services.sales_order_confirm(order=other, user=admin_user)
    services.sales_order_cancel(order=other, user=admin_user)
    other.refresh_from_db()
    assert (other.status, stored_units(other)) == (SalesOrderStatus.CANCELLED, 5)


def test_the_sales_summary_counts_the_stored_units_of_counted_orders_only(draft, customer, warehouse, admin_user):
    services.sales_order_confirm(order=draft, user=admin_user)
    still_draft = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
    services.sales_order_line_add(order=still_draft, product=ProductFactory(sku="MUG"), quantity=9, user=admin_user)
    for group_by in ("month", "customer", "warehouse", "product"):
        result = run_report("sales-summary", {"group_by": group_by})
        assert result.totals["units"] == 13, group_by
        assert sum(row["units"] for row in result.rows) == 13, group_by


def test_the_historical_import_stores_the_units(warehouse, customer, product_with_stock, sales_user):
    CarrierFactory(name="Speedy Express")
    product_with_stock(5, sku="CHAI", sale_price=Decimal("18.00"))
    row = {
        "order_number": "A-1",
        "customer": "alfki",
        "warehouse": "MAIN",
        "status": "delivered",
        "order_date": "1997-01-02",
        "shipped_date": "1997-01-05",
        "carrier": "Speedy Express",
        "sku": "CHAI",
        "quantity": "2",
    }
    sales_orders_import(
        rows=[row, {**row, "quantity": "3"}, {**row, "order_number": "A-2", "status": "confirmed", "quantity": "4"}],
        user=sales_user,
    )
    first, second = SalesOrder.objects.get(number="A-1"), SalesOrder.objects.get(number="A-2")
    assert (stored_units(first), stored_units(second)) == (5, 4)
    assert (line_units(first), line_units(second)) == (5, 4)


def test_the_bulk_recount_and_the_migration_fill_the_units_from_the_lines(draft, admin_user):
    services.sales_order_confirm(order=draft, user=admin_user)
    SalesOrder.objects.update(total_quantity=0)
    assert services.sales_orders_refresh_counters(order_ids=[draft.pk]) == 1
    assert stored_units(draft) == 13

    SalesOrder.objects.update(total_quantity=0)
    migration = importlib.import_module("orders.migrations.0009_salesorder_units_total")
    migration.fill_units(apps, None)
    assert stored_units(draft) == 13


def test_seeded_orders_store_their_units():
    seed_scale(products=10, movements=40, warehouses=2, seed=3)
    seed_orders(orders=12, lines_per_order=3, purchase_orders=2, customers=4, suppliers=2, seed=3)
    orders = SalesOrder.objects.all()
    assert orders.count() == 12
    for order in orders:
        assert stored_units(order) == line_units(order) > 0, order.number
