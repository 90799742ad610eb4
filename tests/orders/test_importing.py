"""Migration imports: every bad row reported, nothing written unless all rows are good."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backoffice.errors import ImportRejected
from inventory.models import StockLevel, StockMovement
from orders.importing import customers_import, purchase_orders_import, sales_orders_import
from orders.models import (
    Customer,
    PurchaseOrder,
    PurchaseOrderStatus,
    SalesOrder,
    SalesOrderStatus,
    ShipmentStatus,
)
from orders.services import sales_order_create
from tests.factories import CarrierFactory, SupplierFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


def errors(refused) -> set[tuple[int, str]]:
    return {(error["row"], error["column"]) for error in refused.value.data["errors"]}


@pytest.fixture
def catalogue(warehouse, customer, product_with_stock):
    CarrierFactory(name="Speedy Express")
    return {
        "chai": product_with_stock(5, sku="CHAI", sale_price=Decimal("18.00"), tax_rate=Decimal("10")),
        "old": product_with_stock(0, sku="OLD", is_active=False),
    }


def sales_row(**overrides):
    row = {
        "order_number": "A-1",
        "customer": "alfki",
        "warehouse": "MAIN",
        "status": "delivered",
        "order_date": "1997-01-02 00:00:00.000",
        "shipped_date": "1997-01-05",
        "carrier": "Speedy Express",
        "shipping_charge": "3.50",
        "sku": "CHAI",
        "quantity": "2",
        "unit_price": "15.00",
        "discount_percent": "10",
    }
    row.update(overrides)
    return row


def test_historical_delivered_order_keeps_dates_has_a_shipment_and_moves_no_stock(catalogue, warehouse, sales_user):
    result = sales_orders_import(
        rows=[sales_row(), sales_row(sku="OLD", quantity=1.0, unit_price="", discount_percent="")], user=sales_user
    )
    assert (result.created, result.lines) == (1, 2)
    order = SalesOrder.objects.get(number="A-1")
    assert (order.status, order.order_date) == (SalesOrderStatus.DELIVERED, date(1997, 1, 2))
    # 2 × 15.00 − 10 % = 27.00 + 10 % tax 2.70; OLD at its list price 10.00 + 20 % tax 2.00; + 3.50 shipping.
    assert (order.subtotal, order.tax_total, order.total) == (Decimal("37.00"), Decimal("4.70"), Decimal("45.20"))
    shipment = order.shipments.get()
    assert (shipment.status, shipment.carrier.name, shipment.shipped_at.date()) == (
        ShipmentStatus.DELIVERED,
        "Speedy Express",
        date(1997, 1, 5),
    )
    assert all(line.quantity_shipped == line.quantity for line in order.lines.all())
    assert not StockMovement.objects.filter(reference__in=["A-1", shipment.number]).exists()
    assert StockLevel.objects.get(product=catalogue["chai"], warehouse=warehouse).on_hand == 5


def test_confirmed_orders_reserve_oldest_first_and_backorder_the_rest(catalogue, warehouse, sales_user):
    rows = [
        sales_row(order_number="NEW", status="Confirmed", order_date="1997-02-01", quantity="4", shipped_date=""),
        sales_row(order_number="OLDER", status="confirmed", order_date="1997-01-01", quantity="3", shipped_date=""),
    ]
    sales_orders_import(rows=rows, user=sales_user)
    older, new = (SalesOrder.objects.get(number=n).lines.get() for n in ("OLDER", "NEW"))
    assert (older.quantity_reserved, new.quantity_reserved, new.quantity_backordered) == (3, 2, 2)
    assert StockLevel.objects.get(product=catalogue["chai"], warehouse=warehouse).allocated == 5


def test_every_bad_row_is_reported_and_nothing_is_written(catalogue, sales_user):
    rows = [
        sales_row(order_number="GOOD"),
        sales_row(order_number="BAD", customer="NOPE", order_date="yesterday"),
        sales_row(order_number="BAD", customer="NOPE", order_date="yesterday", sku="MISSING", quantity="0"),
        sales_row(order_number="DRAFT", status="draft", sku="OLD"),
        sales_row(order_number="X", status="lost", carrier="Pigeon", discount_percent="120", quantity="1.5"),
        sales_row(order_number="", sku="CHAI"),
        sales_row(order_number="MIXED", customer="ALFKI"),
        sales_row(order_number="MIXED", customer="OTHER"),
        sales_row(order_number="PART", status="partially shipped"),
    ]
    with pytest.raises(ImportRejected) as refused:
        sales_orders_import(rows=rows, user=sales_user)
    assert errors(refused) == {
        (3, "customer"),
        (3, "order_date"),
        (4, "sku"),
        (4, "quantity"),
        (5, "sku"),
        (6, "status"),
        (6, "carrier"),
        (6, "discount_percent"),
        (6, "quantity"),
        (7, "order_number"),
        (9, "customer"),
        (10, "status"),
    }
    assert "no customer with code 'NOPE'" in refused.value.message
    assert not SalesOrder.objects.exists()


def test_an_existing_number_is_refused(catalogue, sales_user):
    sales_orders_import(rows=[sales_row()], user=sales_user)
    with pytest.raises(ImportRejected, match="A-1 already exists"):
        sales_orders_import(rows=[sales_row()], user=sales_user)
    assert SalesOrder.objects.count() == 1


def test_imported_numbers_in_our_format_are_never_handed_out_again(catalogue, customer, warehouse, sales_user):
    sales_orders_import(rows=[sales_row(order_number="SO-000041")], user=sales_user)
    assert sales_order_create(customer=customer, warehouse=warehouse, user=sales_user).number == "SO-000042"


def test_customers_import_creates_and_updates_by_code(customer, manager):
    # Credit limit and tax exemption need a Manager (tests/orders/test_credit_rights.py has the Sales case).
    result = customers_import(
        rows=[
            {"code": "alfki", "name": "Alfreds (new name)", "credit_limit": "5000", "tax_exempt": "yes"},
            {"code": "BERGS", "name": "Berglunds snabbköp", "active": "no"},
        ],
        user=manager,
    )
    assert (result.created, result.updated) == (1, 1)
    customer.refresh_from_db()
    assert (customer.name, customer.credit_limit, customer.tax_exempt) == ("Alfreds (new name)", 5000, True)
    assert Customer.objects.get(code="BERGS").is_active is False


def test_customers_import_reports_every_bad_row(db, sales_user):
    rows = [
        {"code": "A", "name": "Fine"},
        {"code": "a", "name": "Duplicate code"},
        {"code": "", "name": ""},
        {"code": "C", "name": "C", "email": "not-an-email", "credit_limit": "-5", "tax_exempt": "maybe"},
    ]
    with pytest.raises(ImportRejected) as refused:
        customers_import(rows=rows, user=sales_user)
    assert errors(refused) == {
        (3, "code"),
        (4, "code"),
        (4, "name"),
        (5, "email"),
        (5, "credit_limit"),
        (5, "tax_exempt"),
    }
    assert not Customer.objects.exists()


def po_row(**overrides):
    row = {
        "order_number": "P-1",
        "supplier": "EXOT",
        "warehouse": "MAIN",
        "status": "received",
        "order_date": "1997-03-01",
        "sku": "CHAI",
        "quantity": "10",
        "unit_cost": "7.5",
    }
    row.update(overrides)
    return row


def test_purchase_orders_import_with_received_quantities_and_no_movement(catalogue, warehouse, sales_user):
    SupplierFactory(code="EXOT")
    result = purchase_orders_import(
        rows=[
            po_row(),
            po_row(order_number="P-2", status="partially received", quantity_received="4"),
            po_row(order_number="P-2", status="", sku="OLD", quantity="2", quantity_received="0", unit_cost=""),
        ],
        user=sales_user,
    )
    assert (result.created, result.lines) == (2, 3)
    received, partial = PurchaseOrder.objects.get(number="P-1"), PurchaseOrder.objects.get(number="P-2")
    assert (received.status, received.total, received.lines.get().quantity_received) == (
        PurchaseOrderStatus.RECEIVED,
        Decimal("75.00"),
        10,
    )
    assert partial.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert sorted(partial.lines.values_list("quantity_received", flat=True)) == [0, 4]
    assert StockLevel.objects.get(product=catalogue["chai"], warehouse=warehouse).on_hand == 5


def test_purchase_orders_import_refuses_impossible_quantities(catalogue, sales_user):
    SupplierFactory(code="EXOT")
    rows = [
        po_row(quantity_received="11"),
        po_row(order_number="P-2", status="sent", quantity_received="1"),
        po_row(order_number="P-3", status="partially_received", quantity_received="0"),
        po_row(order_number="P-4", supplier="NOBODY", status="draft", sku="OLD"),
    ]
    with pytest.raises(ImportRejected) as refused:
        purchase_orders_import(rows=rows, user=sales_user)
    assert errors(refused) == {
        (2, "quantity_received"),
        (3, "quantity_received"),
        (4, "quantity_received"),
        (5, "supplier"),
        (5, "sku"),
    }
    assert not PurchaseOrder.objects.exists()
