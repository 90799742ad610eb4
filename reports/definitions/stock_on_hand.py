"""``stock-on-hand``: per product and warehouse — on hand, allocated, available, incoming, average cost, value.

``available`` = on hand − allocated; ``incoming`` = sent purchase orders' quantity
not yet received; ``value`` = on hand × the product's average cost (the totals
row adds the exact values and rounds once, as ``stock-valuation`` does).

At scale (500,000 levels) the page reads 50 rows by the unique SKU index and
counts the plain selection (no joins); the totals are one aggregate over the
levels and one over the open purchase-order lines of the selected levels —
never the per-level ``incoming`` subquery 500,000 times.
"""

from __future__ import annotations

import django_filters
from django.db.models import Exists, F, OuterRef, Sum

from backoffice.exports import INTEGER, MONEY, TEXT, Column
from inventory.models import StockLevel
from orders.models import PurchaseOrderLine, PurchaseOrderStatus
from reports.definitions._stock import STOCK_VALUE, UNCATEGORISED, StockParams, incoming_quantity, money
from reports.registry import MappedRows, Report, register


class StockOnHandParams(StockParams):
    sku = django_filters.CharFilter(field_name="product__sku", lookup_expr="icontains", label="SKU contains")
    in_stock = django_filters.BooleanFilter(method="_in_stock", label="Only levels with stock on hand")

    def _in_stock(self, queryset, name, value):
        if value is True:
            return queryset.filter(on_hand__gt=0)
        if value is False:
            return queryset.filter(on_hand=0)
        return queryset


@register
class StockOnHand(Report):
    name = "stock-on-hand"
    title = "Stock on hand"
    description = "On hand, allocated, available and incoming stock with its value, per product and warehouse."
    model = StockLevel
    required_permissions = ("inventory.view_stocklevel", "inventory.view_product")
    filterset_class = StockOnHandParams
    columns = [
        Column("sku", "SKU", TEXT),
        Column("product", "Product", TEXT),
        Column("category", "Category", TEXT),
        Column("warehouse", "Warehouse", TEXT),
        Column("on_hand", "On hand", INTEGER),
        Column("allocated", "Allocated", INTEGER),
        Column("available", "Available", INTEGER),
        Column("incoming", "Incoming", INTEGER),
        Column("average_cost", "Average cost", MONEY, number_format="#,##0.00##"),
        Column("value", "Value", MONEY),
    ]
    total_columns = ("on_hand", "allocated", "available", "incoming", "value")
    order = 30

    def _levels(self, queryset):
        return queryset.annotate(
            stock_available=F("on_hand") - F("allocated"),
            stock_incoming=incoming_quantity(),
            stock_value=STOCK_VALUE,
        )

    def rows(self, queryset, params):
        levels = (
            self._levels(queryset)
            .values(
                "on_hand",
                "allocated",
                sku=F("product__sku"),
                product_name=F("product__name"),
                category=F("product__category__name"),
                warehouse_code=F("warehouse__code"),
                available=F("stock_available"),
                incoming=F("stock_incoming"),
                average_cost=F("product__average_cost"),
                value=F("stock_value"),
            )
            .order_by("product__sku", "warehouse__code")
        )
        self._selection = queryset

        def finish(row):
            row["product"] = row.pop("product_name")
            row["warehouse"] = row.pop("warehouse_code")
            row["category"] = row["category"] or UNCATEGORISED
            row["value"] = money(row["value"])
            return row

        return MappedRows(levels, finish, count_queryset=queryset)

    def totals(self, rows, params):
        selection = self._selection.order_by()
        sums = selection.aggregate(
            total_on_hand=Sum("on_hand"),
            total_allocated=Sum("allocated"),
            total_available=Sum(F("on_hand") - F("allocated")),
            total_value=Sum(STOCK_VALUE),
        )
        # Σ incoming over the levels = what open purchase-order lines still have to deliver to a selected level
        # (the same lines ``incoming_quantity`` adds per level), in one aggregate.
        incoming = PurchaseOrderLine.objects.filter(
            Exists(selection.filter(product=OuterRef("product"), warehouse=OuterRef("order__warehouse"))),
            order__status__in=PurchaseOrderStatus.OPEN,
        ).aggregate(incoming=Sum(F("quantity") - F("quantity_received")))["incoming"]
        totals = {name: sums[f"total_{name}"] or 0 for name in ("on_hand", "allocated", "available")}
        totals["incoming"] = incoming or 0
        totals["value"] = money(sums["total_value"])
        return totals
