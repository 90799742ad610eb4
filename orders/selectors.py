"""Reads that matter for orders: reservations (invariant 2), backorders, incoming stock."""

from __future__ import annotations

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
