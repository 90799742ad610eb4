"""Purchase orders and receipts: workflow, partial deliveries, over-receipt, costs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from backoffice.errors import InvalidTransition, ValidationFailed
from inventory.models import MovementKind, StockLevel, StockMovement
from orders.models import PurchaseOrderStatus, Receipt
from orders.services import (
    purchase_order_cancel,
    purchase_order_close,
    purchase_order_create,
    purchase_order_line_add,
    purchase_order_line_remove,
    purchase_order_line_update,
    purchase_order_recalculate,
    purchase_order_send,
    purchase_order_update,
    receipt_create,
)
from tests.factories import ProductFactory, SupplierFactory, SupplierProductFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


@pytest.fixture
def buyer(make_user):
    return make_user("Purchasing")


@pytest.fixture
def supplier(db):
    return SupplierFactory(code="EXOT", name="Exotic Liquids", lead_time_days=10)


@pytest.fixture
def product(supplier):
    product = ProductFactory(sku="CHANG", cost=Decimal("9.00"))
    SupplierProductFactory(supplier=supplier, product=product, unit_cost=Decimal("8.5000"))
    return product


@pytest.fixture
def po(supplier, warehouse, buyer):
    return purchase_order_create(supplier=supplier, warehouse=warehouse, user=buyer, order_date=date(2025, 3, 1))


@pytest.fixture
def sent_po(po, product, buyer):
    purchase_order_line_add(order=po, product=product, quantity=10, user=buyer)
    purchase_order_line_add(
        order=po, product=ProductFactory(sku="TOFU"), quantity=4, unit_cost=Decimal("3"), user=buyer
    )
    return purchase_order_send(order=po, user=buyer)


def test_create_numbers_and_expects_goods_after_the_lead_time(po):
    assert po.number == "PO-000001"
    assert po.status == PurchaseOrderStatus.DRAFT
    assert po.expected_date == date(2025, 3, 11)


def test_create_refuses_an_inactive_supplier(warehouse, buyer):
    with pytest.raises(ValidationFailed, match="inactive"):
        purchase_order_create(supplier=SupplierFactory(is_active=False), warehouse=warehouse, user=buyer)


def test_unit_cost_defaults_from_the_supplier_then_the_product(po, product, buyer):
    from_supplier = purchase_order_line_add(order=po, product=product, quantity=3, user=buyer)
    other = purchase_order_line_add(order=po, product=ProductFactory(cost=Decimal("2.25")), quantity=2, user=buyer)
    assert from_supplier.unit_cost == Decimal("8.5000") and from_supplier.line_total == Decimal("25.50")
    assert other.unit_cost == Decimal("2.25")
    po.refresh_from_db()
    assert po.total == Decimal("30.00")


def test_line_update_remove_and_recalculate_keep_the_total(po, product, buyer):
    line = purchase_order_line_add(order=po, product=product, quantity=3, user=buyer)
    extra = purchase_order_line_add(order=po, product=ProductFactory(), quantity=1, unit_cost=Decimal("1"), user=buyer)
    purchase_order_line_update(line=line, quantity=4, unit_cost=Decimal("2.5"), user=buyer)
    purchase_order_line_remove(line=extra, user=buyer)
    po = purchase_order_recalculate(order=po)
    assert po.total == Decimal("10.00")


def test_line_add_refuses_zero_quantity_and_inactive_products(po, buyer):
    with pytest.raises(ValidationFailed, match="greater than zero"):
        purchase_order_line_add(order=po, product=ProductFactory(), quantity=0, user=buyer)
    with pytest.raises(ValidationFailed, match="inactive"):
        purchase_order_line_add(order=po, product=ProductFactory(is_active=False), quantity=1, user=buyer)
    assert not po.lines.exists()


def test_send_needs_lines_and_freezes_the_draft(po, product, buyer):
    with pytest.raises(ValidationFailed, match="no lines"):
        purchase_order_send(order=po, user=buyer)
    purchase_order_line_add(order=po, product=product, quantity=1, user=buyer)
    po = purchase_order_send(order=po, user=buyer)
    assert po.status == PurchaseOrderStatus.SENT and po.sent_at is not None
    with pytest.raises(InvalidTransition):
        purchase_order_send(order=po, user=buyer)
    with pytest.raises(InvalidTransition):
        purchase_order_line_add(order=po, product=product, quantity=1, user=buyer)
    with pytest.raises(InvalidTransition):
        purchase_order_update(order=po, user=buyer, notes="late change")


def test_receiving_a_draft_is_refused(po, product, buyer):
    line = purchase_order_line_add(order=po, product=product, quantity=1, user=buyer)
    with pytest.raises(InvalidTransition, match="sent order"):
        receipt_create(purchase_order=po, lines=[(line, 1)], user=buyer)


def test_partial_then_full_receipt(sent_po, product, warehouse, buyer):
    chang, tofu = sent_po.lines.order_by("id")
    first = receipt_create(purchase_order=sent_po, lines=[(chang, 4)], user=buyer, delivery_note="DN-1")
    sent_po.refresh_from_db()
    assert sent_po.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert first.number == "RC-000001" and first.received_by == buyer
    movement = StockMovement.objects.get(reference=first.number)
    assert (movement.kind, movement.quantity, movement.unit_cost) == (MovementKind.RECEIPT, 4, Decimal("8.5000"))
    receipt_create(purchase_order=sent_po, lines=[(chang.pk, 6), (tofu, 4)], user=buyer)
    sent_po.refresh_from_db()
    assert sent_po.status == PurchaseOrderStatus.RECEIVED
    assert StockLevel.objects.get(product=product, warehouse=warehouse).on_hand == 10
    assert list(sent_po.lines.order_by("id").values_list("quantity_received", flat=True)) == [10, 4]


def test_receipt_updates_the_moving_average_cost(sent_po, product, stock, buyer):
    stock(product, 10, Decimal("10.00"))  # 10 on hand at an average of 10.00 before the receipt
    receipt_create(purchase_order=sent_po, lines=[(sent_po.lines.get(product=product), 10)], user=buyer)
    product.refresh_from_db()
    assert product.average_cost == Decimal("9.2500")  # (10 × 10.00 + 10 × 8.50) / 20


def test_over_receipt_is_refused_and_nothing_is_written(sent_po, buyer):
    chang, tofu = sent_po.lines.order_by("id")
    with pytest.raises(ValidationFailed, match="Over-receipt") as refused:
        receipt_create(purchase_order=sent_po, lines=[(tofu, 2), (chang, 6), (chang, 5)], user=buyer)
    assert "11 received but only 10 outstanding" in refused.value.message
    assert not Receipt.objects.exists() and not StockMovement.objects.exists()


def test_receipt_refuses_lines_of_another_order_and_zero_quantities(sent_po, supplier, warehouse, buyer):
    other = purchase_order_create(supplier=supplier, warehouse=warehouse, user=buyer)
    foreign = purchase_order_line_add(order=other, product=ProductFactory(), quantity=1, user=buyer)
    with pytest.raises(ValidationFailed, match="not on"):
        receipt_create(purchase_order=sent_po, lines=[(foreign, 1)], user=buyer)
    with pytest.raises(ValidationFailed, match="greater than zero"):
        receipt_create(purchase_order=sent_po, lines=[(sent_po.lines.first(), 0)], user=buyer)
    with pytest.raises(ValidationFailed, match="Nothing to receive"):
        receipt_create(purchase_order=sent_po, lines=[], user=buyer)


def test_receipt_keeps_the_given_date(sent_po, buyer):
    from django.utils import timezone

    when = timezone.now() - timedelta(days=2)
    receipt = receipt_create(purchase_order=sent_po, lines=[(sent_po.lines.first(), 1)], user=buyer, received_at=when)
    assert receipt.received_at == when


def test_cancel_before_any_receipt(sent_po, buyer):
    po = purchase_order_cancel(order=sent_po, user=buyer)
    assert po.status == PurchaseOrderStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        receipt_create(purchase_order=po, lines=[(po.lines.first(), 1)], user=buyer)


def test_cancel_refused_after_a_receipt(sent_po, buyer):
    receipt_create(purchase_order=sent_po, lines=[(sent_po.lines.first(), 1)], user=buyer)
    with pytest.raises(InvalidTransition, match="close it short"):
        purchase_order_cancel(order=sent_po, user=buyer)


def test_close_short_needs_a_reason(sent_po, buyer):
    receipt_create(purchase_order=sent_po, lines=[(sent_po.lines.first(), 1)], user=buyer)
    with pytest.raises(ValidationFailed, match="reason"):
        purchase_order_close(order=sent_po, user=buyer, reason="  ")
    po = purchase_order_close(order=sent_po, user=buyer, reason="Supplier out of stock")
    assert (po.status, po.close_reason) == (PurchaseOrderStatus.CLOSED, "Supplier out of stock")
    with pytest.raises(InvalidTransition):
        receipt_create(purchase_order=po, lines=[(po.lines.first(), 1)], user=buyer)


def test_close_a_fully_received_order_without_reason(sent_po, buyer):
    receipt_create(purchase_order=sent_po, lines=[(line, line.quantity) for line in sent_po.lines.all()], user=buyer)
    po = purchase_order_close(order=sent_po, user=buyer)
    assert po.status == PurchaseOrderStatus.CLOSED


def test_close_a_draft_is_refused(po, buyer):
    with pytest.raises(InvalidTransition, match="sent or received"):
        purchase_order_close(order=po, user=buyer, reason="no")
