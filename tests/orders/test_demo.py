"""`manage.py load_demo`: Northwind customers, carriers, orders and on-order POs."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import F, Sum
from django.utils import timezone

from inventory.models import MovementKind, StockLevel, StockMovement
from orders.models import (
    Carrier,
    Customer,
    PurchaseOrder,
    PurchaseOrderStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentStatus,
)
from orders.selectors import reserved_by_open_orders
from orders.services import sales_order_create

pytestmark = pytest.mark.usefixtures("stock_checked")


def load(*args):
    call_command("load_demo", *args, stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def demo(db):
    load()


def test_demo_loads_northwind_orders(demo):
    assert Customer.objects.count() == 91
    assert set(Carrier.objects.values_list("name", flat=True)) == {
        "Speedy Express",
        "United Package",
        "Federal Shipping",
    }
    assert SalesOrder.objects.count() == 830
    assert SalesOrderLine.objects.count() == 2155

    # Order 10248: 12 × 14.00 + 10 × 9.80 + 5 × 34.80 = 440.00, freight 32.38, shipped by Federal Shipping.
    order = SalesOrder.objects.get(number="SO-010248")
    assert (order.customer.code, order.subtotal, order.shipping_charge, order.total) == (
        "VINET",
        Decimal("440.00"),
        Decimal("32.38"),
        Decimal("472.38"),
    )
    shipment = order.shipments.get()
    assert (shipment.status, shipment.carrier.name) == (ShipmentStatus.DELIVERED, "Federal Shipping")
    assert shipment.shipped_at.date() - order.order_date == timedelta(days=12)  # 1996-07-04 → 1996-07-16

    # A discount fraction becomes a percentage: order 10250 line of product 51 has 0.15.
    line = SalesOrderLine.objects.get(order__number="SO-010250", product__sku="NW-051")
    assert line.discount_percent == Decimal("15.00")


def test_history_is_delivered_with_a_shipment_and_no_movement(demo):
    delivered = SalesOrder.objects.filter(status=SalesOrderStatus.DELIVERED)
    assert delivered.count() == 809
    assert Shipment.objects.filter(sales_order__in=delivered, status=ShipmentStatus.DELIVERED).count() == 809
    assert not SalesOrderLine.objects.filter(order__in=delivered, quantity_shipped__lt=F("quantity")).exists()
    assert set(StockMovement.objects.values_list("kind", flat=True)) == {MovementKind.OPENING}


def test_open_orders_reserve_opening_stock_oldest_first(demo):
    open_orders = SalesOrder.objects.filter(status=SalesOrderStatus.CONFIRMED)
    assert open_orders.count() == 21
    lines = list(
        SalesOrderLine.objects.filter(order__in=open_orders).order_by("order__order_date", "order__number", "id")
    )
    assert sum(line.quantity_reserved for line in lines) > 0
    assert sum(line.quantity_backordered for line in lines) > 0
    short_seen: dict[int, bool] = defaultdict(bool)
    for line in lines:
        # Once an older order of a product is short, no newer order of it holds stock.
        assert not (short_seen[line.product_id] and line.quantity_reserved), line.order.number
        short_seen[line.product_id] |= line.quantity_backordered > 0
    # A discontinued product stays on the open orders that hold it.
    assert any(not line.product.is_active for line in lines)
    allocated = StockLevel.objects.aggregate(total=Sum("allocated"))["total"]
    assert allocated == sum(reserved_by_open_orders().values()) == sum(line.quantity_reserved for line in lines)


def test_units_on_order_become_sent_purchase_orders(demo):
    orders = PurchaseOrder.objects.all()
    assert orders and all(order.status == PurchaseOrderStatus.SENT for order in orders)
    chang = orders.get(supplier__code="NW01").lines.get(product__sku="NW-002")
    assert (chang.quantity, chang.unit_cost) == (40, Decimal("12.3500"))  # 40 on order at the supplier's cost
    assert len(set(orders.values_list("supplier_id", flat=True))) == orders.count()


def test_dates_shift_so_the_newest_order_is_yesterday(demo):
    newest = SalesOrder.objects.order_by("-order_date").first()
    assert newest.order_date == timezone.localdate() - timedelta(days=1)
    assert SalesOrder.objects.order_by("order_date").first().number == "SO-010248"


def test_second_run_adds_nothing(demo):
    before = (SalesOrder.objects.count(), Shipment.objects.count(), PurchaseOrder.objects.count())
    history = SalesOrder.history.count()
    load()
    assert (SalesOrder.objects.count(), Shipment.objects.count(), PurchaseOrder.objects.count()) == before
    assert SalesOrder.history.count() == history


def test_no_shift_keeps_the_original_dates(db):
    load("--no-shift")
    assert SalesOrder.objects.get(number="SO-010248").order_date == date(1996, 7, 4)
    assert SalesOrder.objects.order_by("-order_date").first().order_date == date(1998, 5, 6)


def test_new_orders_are_numbered_after_the_demo(demo, warehouse, sales_user):
    customer = Customer.objects.get(code="ALFKI")
    assert sales_order_create(customer=customer, warehouse=warehouse, user=sales_user).number == "SO-011078"
