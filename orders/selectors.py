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
