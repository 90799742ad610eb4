"""Reads that matter for orders: reservations (invariant 2), backorders, incoming stock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Sum

from orders.models import PurchaseOrderLine, PurchaseOrderStatus, SalesOrderLine, SalesOrderStatus

Key = tuple[int, int]


def reserved_by_open_orders() -> dict[Key, int]:
    """{(product_id, warehouse_id): quantity reserved by lines of open sales orders}."""
    rows = (
        SalesOrderLine.objects.filter(order__status__in=SalesOrderStatus.OPEN, quantity_reserved__gt=0)
        .values("product_id", "order__warehouse_id")
        .annotate(total=Sum("quantity_reserved"))
        .values_list("product_id", "order__warehouse_id", "total")
    )
    return {(product_id, warehouse_id): total for product_id, warehouse_id, total in rows}


def backordered_lines():
    """Lines of open orders still waiting for stock, oldest order first."""
    return (
        SalesOrderLine.objects.filter(
            order__status__in=SalesOrderStatus.OPEN,
            quantity__gt=F("quantity_shipped") + F("quantity_reserved"),
        )
        .select_related("order", "order__customer", "order__warehouse", "product")
        .order_by("order__order_date", "order_id", "id")
    )


def incoming_quantities() -> dict[Key, int]:
    """{(product_id, warehouse_id): quantity on sent purchase orders not yet received}."""
    rows = (
        PurchaseOrderLine.objects.filter(order__status__in=PurchaseOrderStatus.OPEN)
        .values("product_id", "order__warehouse_id")
        .annotate(total=Sum(F("quantity") - F("quantity_received")))
        .values_list("product_id", "order__warehouse_id", "total")
    )
    return {(product_id, warehouse_id): total for product_id, warehouse_id, total in rows if total}


def over_credit_limit(orders):
    """Draft orders of ``orders`` that would take their customer over its credit limit if confirmed.

    The credit rule of ``orders.services.credit_exposure`` in one query: the customer's confirmed and
    partially shipped orders plus the draft's total above the customer's limit (no limit: never over).
    Drafts cannot be confirmed that way without a Manager's override: they await approval.
    """
    from django.db.models import DecimalField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from orders.models import SalesOrder

    open_value = (
        SalesOrder.objects.filter(customer=OuterRef("customer"), status__in=SalesOrderStatus.OPEN)
        .order_by()
        .values("customer")
        .annotate(total=Sum("total"))
        .values("total")
    )
    money = DecimalField(max_digits=16, decimal_places=2)
    return (
        orders.filter(status=SalesOrderStatus.DRAFT, customer__credit_limit__isnull=False)
        .annotate(open_value=Coalesce(Subquery(open_value, output_field=money), Value(0), output_field=money))
        .filter(customer__credit_limit__lt=F("open_value") + F("total"))
    )


@dataclass(frozen=True)
class StockFigures:
    """One product's stock in one warehouse, as order entry shows it next to a line."""

    on_hand: int = 0
    allocated: int = 0
    incoming: int = 0
    reorder_point: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated

    def as_json(self) -> dict[str, int]:
        return {
            "on_hand": self.on_hand,
            "allocated": self.allocated,
            "available": self.available,
            "incoming": self.incoming,
            "reorder_point": self.reorder_point,
        }


#: most products one request may ask stock figures for (an order form's lines, an autocomplete page)
MAX_FIGURES_PRODUCTS = 500


def stock_figures(*, user, warehouse_id: int, product_ids: Iterable[int]) -> dict[int, StockFigures]:
    """{product_id: figures in ``warehouse_id``} for the products asked, in two queries.

    The stock level rows go through ``scope_queryset`` (the user's role and warehouses): a user who may
    not see the warehouse's stock gets an empty dict. Incoming is what open (sent, partially received)
    purchase orders of the warehouse still bring; it is part of the stock picture, shown with it.
    A product without a stock level there has zeros.
    """
    from backoffice.scoping import scope_queryset, user_warehouse_ids
    from inventory.models import StockLevel

    ids = sorted({int(pk) for pk in product_ids})[:MAX_FIGURES_PRODUCTS]
    scope = user_warehouse_ids(user)
    if not ids or not user.has_perm("inventory.view_stocklevel") or (scope is not None and warehouse_id not in scope):
        return {}
    visible = scope_queryset(user, StockLevel.objects.filter(warehouse_id=warehouse_id))
    levels = {
        product_id: (on_hand, allocated, reorder_point)
        for product_id, on_hand, allocated, reorder_point in visible.filter(product_id__in=ids)
        .order_by()
        .values_list("product_id", "on_hand", "allocated", "reorder_point")
    }
    incoming = dict(
        PurchaseOrderLine.objects.filter(
            order__warehouse_id=warehouse_id, order__status__in=PurchaseOrderStatus.OPEN, product_id__in=ids
        )
        .order_by()
        .values("product_id")
        .annotate(total=Sum(F("quantity") - F("quantity_received")))
        .values_list("product_id", "total")
    )
    figures = {}
    for product_id in ids:
        on_hand, allocated, reorder_point = levels.get(product_id, (0, 0, 0))
        figures[product_id] = StockFigures(on_hand, allocated, incoming.get(product_id) or 0, reorder_point)
    return figures
