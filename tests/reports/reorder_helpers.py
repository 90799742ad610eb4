"""Building blocks for the reorder tests: stock levels with reorder settings, suppliers, POs, shipments."""

from __future__ import annotations

from decimal import Decimal

from inventory.models import MovementKind, StockLevel
from inventory.services import StockLine, stock_allocate, stock_issue, stock_receive
from orders.models import PurchaseOrderStatus
from orders.services import purchase_order_cancel, purchase_order_create, purchase_order_line_add, purchase_order_send
from tests.factories import ProductFactory, SupplierFactory, SupplierProductFactory, WarehouseFactory


def stock_level(
    product,
    warehouse,
    *,
    on_hand: int,
    reorder_point: int,
    reorder_quantity: int = 0,
    allocated: int = 0,
) -> StockLevel:
    """A level with ``on_hand`` (an opening balance), ``allocated`` reserved and the reorder settings."""
    if on_hand:
        stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, on_hand, Decimal("5.00"))],
            kind=MovementKind.OPENING,
            reference="OPENING",
        )
    if allocated:
        stock_allocate(lines=[StockLine(product.pk, warehouse.pk, allocated)])
    level, _ = StockLevel.objects.get_or_create(product=product, warehouse=warehouse)
    StockLevel.objects.filter(pk=level.pk).update(reorder_point=reorder_point, reorder_quantity=reorder_quantity)
    level.refresh_from_db()
    return level


def prefer(product, supplier=None, *, unit_cost: str = "5.00", moq: int = 1):
    """Make ``supplier`` (a new one by default) the product's preferred supplier."""
    return SupplierProductFactory(
        product=product,
        supplier=supplier or SupplierFactory(),
        unit_cost=Decimal(unit_cost),
        minimum_order_quantity=moq,
        preferred=True,
    )


def purchase_order(supplier, warehouse, lines, *, status: str = PurchaseOrderStatus.DRAFT, user=None):
    """A PO with ``lines`` = [(product, quantity)], left as a draft, sent or cancelled."""
    order = purchase_order_create(supplier=supplier, warehouse=warehouse, user=user)
    for product, quantity in lines:
        purchase_order_line_add(order=order, product=product, quantity=quantity, user=user)
    if status in (PurchaseOrderStatus.SENT, PurchaseOrderStatus.CANCELLED):
        purchase_order_send(order=order, user=user)
    if status == PurchaseOrderStatus.CANCELLED:
        purchase_order_cancel(order=order, user=user)
    order.refresh_from_db()
    return order


def ship(product, warehouse, quantity: int):
    """``quantity`` units leave ``warehouse`` as a shipment (a ledger movement dated now)."""
    stock_issue(lines=[StockLine(product.pk, warehouse.pk, quantity)], kind=MovementKind.SHIPMENT, reference="SH-TEST")


def product(sku: str, **fields):
    return ProductFactory(sku=sku, name=fields.pop("name", f"Product {sku}"), **fields)


def warehouse(code: str, **fields):
    return WarehouseFactory(code=code, name=f"Warehouse {code}", **fields)
