"""``reorder``: what to reorder this morning, and how much, from whom.

A stock level needs reordering when its product is active, its reorder point is
above zero and ``available + incoming ≤ reorder_point``; *incoming* counts what
open purchase orders — drafts included — have still to deliver, so a need
already drafted is not suggested twice. ``suggested_quantity`` brings available
+ incoming above the reorder point, is at least the reorder quantity and is
rounded up to a whole number of the preferred supplier's minimum order
quantity. ``days_of_cover`` = available ÷ average daily units shipped over the
last 90 days (empty when nothing was shipped). The computation lives in
``reports.reorder.reorder_lines`` (shared with the draft purchase orders and the
daily alert; the report reads it through ``ReorderRows``, completed page by page);
the page's *Create draft purchase orders* button posts to ``reports.reorder_views``.
"""

from __future__ import annotations

import django_filters
from django import forms

from backoffice.exports import DECIMAL, INTEGER, TEXT, Column
from inventory.models import StockLevel, Supplier, Warehouse
from reports.registry import Report, ReportAction, ReportFilterSet, register
from reports.reorder import ADD_PURCHASE_ORDER, ReorderRows, filter_by_preferred_supplier


class ReorderParams(ReportFilterSet):
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.filter(is_active=True), to_field_name="code", label="Warehouse"
    )
    supplier = django_filters.ModelChoiceFilter(
        queryset=Supplier.objects.all(),
        to_field_name="code",
        method="filter_supplier",
        label="Preferred supplier (code)",
        # Typed, not picked: a select of every supplier does not scale; an unknown code is refused.
        widget=forms.TextInput,
    )

    def filter_supplier(self, queryset, name, value):
        return filter_by_preferred_supplier(queryset, value) if value else queryset


@register
class ReorderReport(Report):
    name = "reorder"
    title = "Reorder"
    description = "Stock at or below its reorder point after what is on order, with suggested quantities."
    model = StockLevel
    required_permissions = (
        "inventory.view_stocklevel",
        "inventory.view_stockmovement",
        "orders.view_purchaseorder",
    )
    filterset_class = ReorderParams
    order = 30
    columns = [
        Column("sku", "SKU"),
        Column("product", "Product", TEXT),
        Column("warehouse", "Warehouse"),
        Column("on_hand", "On hand", INTEGER),
        Column("allocated", "Allocated", INTEGER),
        Column("available", "Available", INTEGER),
        Column("incoming", "Incoming", INTEGER),
        Column("reorder_point", "Reorder point", INTEGER),
        Column("reorder_quantity", "Reorder qty", INTEGER),
        Column("suggested_quantity", "Suggested", INTEGER),
        Column("supplier", "Supplier"),
        Column("days_of_cover", "Days of cover", DECIMAL, number_format="0.0"),
    ]
    row_key = "key"  # the stock level's id
    actions = (
        ReportAction(
            label="Create draft purchase orders",
            url_name="reports:reorder-create-drafts",
            permission=ADD_PURCHASE_ORDER,
        ),
    )

    @classmethod
    def urls(cls) -> list:
        from reports.reorder_views import urlpatterns

        return urlpatterns

    def rows(self, queryset, params):
        # Lazy: a page of 50 completes 50 lines (units shipped, supplier), not every level that needs reordering.
        return ReorderRows(queryset, today=self.today, scope=self.scope)
