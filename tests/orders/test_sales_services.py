"""Sales order services: every transition and every refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backoffice.errors import CreditLimitExceeded, InvalidTransition, ValidationFailed
from inventory.models import StockLevel
from orders.models import SalesOrder, SalesOrderLine, SalesOrderStatus
from orders.services import (
    customer_create,
    customer_update,
    sales_order_cancel,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
    sales_order_line_remove,
    sales_order_line_update,
    sales_order_mark_delivered,
    sales_order_recalculate,
    sales_order_update,
    shipment_create,
    shipment_ship,
)
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


def level(product, warehouse):
    return StockLevel.objects.get(product=product, warehouse=warehouse)


@pytest.fixture
def order(customer, warehouse, sales_user):
    return sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)


# Customers ------------------------------------------------------------------------------------


def test_customer_create_normalises_the_code_and_records_who(sales_user):
    customer = customer_create(user=sales_user, code=" bonap ", name="Bon app'")
    assert customer.code == "BONAP"
    assert customer.history.get().history_user == sales_user


def test_customer_code_must_be_unique(customer, sales_user):
    with pytest.raises(ValidationFailed, match="code"):
        customer_create(user=sales_user, code="alfki", name="Copy")


def test_customer_update_refuses_a_negative_credit_limit(customer, manager):
    with pytest.raises(ValidationFailed, match="credit limit"):
        customer_update(customer=customer, user=manager, credit_limit=Decimal("-1"))


def test_customer_update_refuses_unknown_fields(customer, sales_user):
    with pytest.raises(ValidationFailed, match="balance"):
        customer_update(customer=customer, user=sales_user, balance=5)


# Creating and editing a draft -------------------------------------------------------------------


def test_create_numbers_orders_in_sequence_and_copies_the_shipping_address(customer, warehouse, sales_user):
    first = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    second = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    assert (first.number, second.number) == ("SO-000001", "SO-000002")
    assert first.status == SalesOrderStatus.DRAFT
    assert first.shipping_address == "Obere Str. 57, Berlin"
    assert first.created_by == sales_user


def test_create_refuses_an_inactive_customer(warehouse, sales_user):
    customer = CustomerFactory(is_active=False)
    with pytest.raises(ValidationFailed, match="inactive"):
        sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    assert not SalesOrder.objects.exists()


def test_line_defaults_price_and_tax_from_the_product(order, sales_user):
    product = ProductFactory(sale_price=Decimal("18.00"), tax_rate=Decimal("20"))
    line = sales_order_line_add(
        order=order, product=product, quantity=3, discount_percent=Decimal("10"), user=sales_user
    )
    assert line.unit_price == Decimal("18.00")
    assert line.tax_rate == Decimal("20.00")
    assert (line.net_amount, line.tax_amount, line.total_amount) == (
        Decimal("48.60"),
        Decimal("9.72"),
        Decimal("58.32"),
    )
    order.refresh_from_db()
    assert (order.subtotal, order.tax_total, order.total) == (Decimal("48.60"), Decimal("9.72"), Decimal("58.32"))


def test_tax_exempt_customer_pays_no_tax(warehouse, sales_user):
    exempt = CustomerFactory(tax_exempt=True)
    order = sales_order_create(customer=exempt, warehouse=warehouse, user=sales_user)
    line = sales_order_line_add(
        order=order, product=ProductFactory(tax_rate=Decimal("20")), quantity=1, user=sales_user
    )
    assert line.tax_rate == 0 and line.tax_amount == 0


def test_order_discount_and_shipping_reprice_the_order(order, sales_user):
    sales_order_line_add(order=order, product=ProductFactory(), quantity=2, unit_price=Decimal("10"), user=sales_user)
    order = sales_order_update(
        order=order, user=sales_user, discount_percent=Decimal("50"), shipping_charge=Decimal("5.00")
    )
    # 2 × 10 − 50 % = 10.00 net, 20 % tax = 2.00, + 5.00 shipping.
    assert (order.subtotal, order.tax_total, order.total) == (Decimal("10.00"), Decimal("2.00"), Decimal("17.00"))


def test_line_update_and_remove_reprice_the_order(order, sales_user):
    first = sales_order_line_add(order=order, product=ProductFactory(), quantity=1, user=sales_user)
    second = sales_order_line_add(order=order, product=ProductFactory(), quantity=1, user=sales_user)
    sales_order_line_update(line=first, quantity=4, unit_price=Decimal("2.50"), user=sales_user)
    sales_order_line_remove(line=second, user=sales_user)
    order.refresh_from_db()
    assert list(order.lines.values_list("quantity", "net_amount")) == [(4, Decimal("10.00"))]
    assert order.total == Decimal("12.00")


def test_recalculate_prices_lines_saved_by_the_admin_inline(order):
    product = ProductFactory(tax_rate=Decimal("10"))
    SalesOrderLine.objects.create(order=order, product=product, quantity=3, unit_price=Decimal("1.00"))
    order = sales_order_recalculate(order=order)
    line = order.lines.get()
    assert (line.tax_rate, line.net_amount, line.tax_amount) == (Decimal("10.00"), Decimal("3.00"), Decimal("0.30"))
    assert order.total == Decimal("3.30")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": 0}, "greater than zero"),
        ({"quantity": 2.5}, "whole number"),
        ({"quantity": 1, "unit_price": Decimal("-1")}, "negative"),
        ({"quantity": 1, "discount_percent": Decimal("101")}, "between 0 and 100"),
    ],
)
def test_line_add_refuses_bad_values(order, sales_user, kwargs, message):
    with pytest.raises(ValidationFailed, match=message):
        sales_order_line_add(order=order, product=ProductFactory(), user=sales_user, **kwargs)
    assert not order.lines.exists()


def test_line_add_refuses_an_inactive_product(order, sales_user):
    with pytest.raises(ValidationFailed, match="inactive"):
        sales_order_line_add(order=order, product=ProductFactory(is_active=False), quantity=1, user=sales_user)


def test_lines_are_frozen_once_confirmed(order, sales_user, product_with_stock):
    line = sales_order_line_add(order=order, product=product_with_stock(5), quantity=1, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    with pytest.raises(InvalidTransition, match="draft"):
        sales_order_line_add(order=order, product=ProductFactory(), quantity=1, user=sales_user)
    with pytest.raises(InvalidTransition):
        sales_order_line_update(line=line, quantity=2, user=sales_user)
    with pytest.raises(InvalidTransition):
        sales_order_line_remove(line=line, user=sales_user)
    with pytest.raises(InvalidTransition):
        sales_order_update(order=order, user=sales_user, shipping_charge=Decimal("1"))
    assert order.lines.get().quantity == 1


# Confirming -------------------------------------------------------------------------------------


def test_confirm_reserves_what_is_available_and_backorders_the_rest(order, sales_user, warehouse, product_with_stock):
    plenty, scarce, none = product_with_stock(10), product_with_stock(3), product_with_stock(0)
    for product in (plenty, scarce, none):
        sales_order_line_add(order=order, product=product, quantity=5, user=sales_user)
    order = sales_order_confirm(order=order, user=sales_user)
    assert order.status == SalesOrderStatus.CONFIRMED and order.confirmed_at is not None
    lines = {line.product_id: line for line in order.lines.all()}
    assert [(lines[p.pk].quantity_reserved, lines[p.pk].quantity_backordered) for p in (plenty, scarce, none)] == [
        (5, 0),
        (3, 2),
        (0, 5),
    ]
    assert level(plenty, warehouse).allocated == 5
    assert level(scarce, warehouse).available == 0


def test_confirm_uses_a_bounded_number_of_queries(order, sales_user, product_with_stock, django_assert_max_num_queries):
    for _ in range(8):
        sales_order_line_add(order=order, product=product_with_stock(5), quantity=2, user=sales_user)
    with django_assert_max_num_queries(16):
        sales_order_confirm(order=order, user=sales_user)
    assert order.lines.filter(quantity_reserved=2).count() == 8


def test_confirm_refuses_an_empty_order(order, sales_user):
    with pytest.raises(ValidationFailed, match="no lines"):
        sales_order_confirm(order=order, user=sales_user)
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.DRAFT


def test_confirm_refuses_inactive_customer_and_products_listing_every_problem(
    order, customer, sales_user, product_with_stock
):
    product = product_with_stock(5, sku="GONE")
    sales_order_line_add(order=order, product=product, quantity=1, user=sales_user)
    product.is_active = False
    product.save()
    customer.is_active = False
    customer.save()
    with pytest.raises(ValidationFailed) as refused:
        sales_order_confirm(order=order, user=sales_user)
    assert "ALFKI is inactive" in refused.value.message and "GONE" in refused.value.message
    assert order.lines.get().quantity_reserved == 0


def test_confirm_accepts_a_free_line(order, sales_user):
    sales_order_line_add(order=order, product=ProductFactory(), quantity=1, unit_price=Decimal("0"), user=sales_user)
    order = sales_order_confirm(order=order, user=sales_user)
    assert order.status == SalesOrderStatus.CONFIRMED
    assert order.lines.get().quantity_backordered == 1


def test_confirm_twice_is_refused(order, sales_user, product_with_stock):
    sales_order_line_add(order=order, product=product_with_stock(5), quantity=1, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    with pytest.raises(InvalidTransition, match="only a draft"):
        sales_order_confirm(order=order, user=sales_user)
    assert order.lines.get().quantity_reserved == 1


@pytest.fixture
def limited(warehouse, sales_user, product_with_stock):
    """A customer with a 100.00 limit, an open order of 60.00 and a draft of 60.00."""
    customer = CustomerFactory(code="LIMIT", credit_limit=Decimal("100.00"))
    product = product_with_stock(20, sale_price=Decimal("10"), tax_rate=Decimal("0"))
    open_order = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=open_order, product=product, quantity=6, user=sales_user)
    sales_order_confirm(order=open_order, user=sales_user)
    draft = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=draft, product=product, quantity=6, user=sales_user)
    return draft


def test_credit_limit_refuses_confirmation_with_figures(limited, sales_user):
    with pytest.raises(CreditLimitExceeded) as refused:
        sales_order_confirm(order=limited, user=sales_user)
    assert refused.value.data["excess"] == "20.00"
    limited.refresh_from_db()
    assert limited.status == SalesOrderStatus.DRAFT
    assert limited.lines.get().quantity_reserved == 0


def test_credit_override_needs_the_manager_permission(limited, sales_user):
    with pytest.raises(CreditLimitExceeded, match="Only a Manager"):
        sales_order_confirm(order=limited, user=sales_user, credit_override_reason="Good payer")


def test_manager_overrides_the_credit_limit_with_a_recorded_reason(limited, manager):
    order = sales_order_confirm(order=limited, user=manager, credit_override_reason="Paid by wire today")
    assert order.status == SalesOrderStatus.CONFIRMED
    assert (order.credit_override_reason, order.credit_override_by) == ("Paid by wire today", manager)
    assert order.history.first().history_user == manager


def test_within_credit_limit_no_override_is_recorded(warehouse, sales_user, product_with_stock):
    customer = CustomerFactory(credit_limit=Decimal("1000"))
    order = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    sales_order_line_add(order=order, product=product_with_stock(1), quantity=1, user=sales_user)
    order = sales_order_confirm(order=order, user=sales_user, credit_override_reason="just in case")
    assert order.status == SalesOrderStatus.CONFIRMED and order.credit_override_reason == ""


# Cancelling and delivering ----------------------------------------------------------------------


def test_cancel_a_draft(order, sales_user):
    order = sales_order_cancel(order=order, user=sales_user, reason="Customer changed mind")
    assert order.status == SalesOrderStatus.CANCELLED
    assert "Customer changed mind" in order.notes


def test_cancel_releases_every_reservation_and_drops_pending_shipments(
    order, sales_user, warehouse, product_with_stock
):
    product = product_with_stock(4)
    sales_order_line_add(order=order, product=product, quantity=6, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    shipment_create(sales_order=order, user=sales_user)
    assert level(product, warehouse).allocated == 4
    sales_order_cancel(order=order, user=sales_user)
    assert level(product, warehouse).allocated == 0
    assert order.lines.get().quantity_reserved == 0
    assert not order.shipments.exists()


def test_cancel_refused_once_anything_shipped(order, sales_user, product_with_stock):
    sales_order_line_add(order=order, product=product_with_stock(5), quantity=5, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    shipment = shipment_create(sales_order=order, lines=[(order.lines.get(), 2)], user=sales_user)
    shipment_ship(shipment=shipment, user=sales_user)
    with pytest.raises(InvalidTransition, match="nothing shipped"):
        sales_order_cancel(order=order, user=sales_user)
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.PARTIALLY_SHIPPED
    assert order.lines.get().quantity_reserved == 3


def test_cancel_twice_is_refused(order, sales_user):
    sales_order_cancel(order=order, user=sales_user)
    with pytest.raises(InvalidTransition):
        sales_order_cancel(order=order, user=sales_user)


def test_mark_delivered_needs_a_fully_shipped_order(order, sales_user, product_with_stock):
    sales_order_line_add(order=order, product=product_with_stock(5), quantity=2, user=sales_user)
    sales_order_confirm(order=order, user=sales_user)
    with pytest.raises(InvalidTransition, match="fully shipped"):
        sales_order_mark_delivered(order=order, user=sales_user)
    shipment = shipment_create(sales_order=order, user=sales_user)
    shipment_ship(shipment=shipment, user=sales_user)
    order = sales_order_mark_delivered(order=order, user=sales_user)
    assert order.status == SalesOrderStatus.DELIVERED
    shipment.refresh_from_db()
    assert shipment.status == "delivered" and shipment.delivered_at is not None
