"""What the stock reports share: stock value, incoming quantity and the parameters."""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django.db.models import DecimalField, ExpressionWrapper, F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory.models import Category, Warehouse
from orders.models import PurchaseOrderLine, PurchaseOrderStatus
from orders.pricing import round_money
from reports.registry import ReportFilterSet

UNCATEGORISED = "(no category)"

#: on hand × average cost, exact (rounded to cents only where it is shown)
STOCK_VALUE = ExpressionWrapper(
    F("on_hand") * F("product__average_cost"), output_field=DecimalField(max_digits=28, decimal_places=4)
)


def incoming_quantity() -> Coalesce:
    """Per stock level: quantity on sent or partly received purchase orders for its warehouse, not yet received
    (``orders.selectors.incoming_quantities``, as a subquery of the level)."""
    open_lines = (
        PurchaseOrderLine.objects.filter(
            order__status__in=PurchaseOrderStatus.OPEN,
            order__warehouse=OuterRef("warehouse"),
            product=OuterRef("product"),
        )
        .order_by()
        .values("product")
        .annotate(outstanding=Sum(F("quantity") - F("quantity_received")))
        .values("outstanding")
    )
    return Coalesce(Subquery(open_lines, output_field=IntegerField()), Value(0))


def money(value) -> Decimal:
    """A stock value as shown: cents, half-up (SQLite sums decimals as floating point, hence ``str``)."""
    return round_money(Decimal(str(value if value is not None else 0)))


class StockParams(ReportFilterSet):
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.order_by("code"), to_field_name="code", label="Warehouse"
    )
    category = django_filters.ModelChoiceFilter(
        field_name="product__category",
        queryset=Category.objects.order_by("name"),
        to_field_name="name",
        label="Category",
    )
