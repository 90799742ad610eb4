"""``open-orders``: confirmed sales orders not fully shipped yet, oldest first.

One row per open order (``SalesOrderStatus.OPEN``: confirmed or partially
shipped) with its quantities summed over its lines: ``ordered``, ``reserved``
(stock set aside), ``backordered`` (ordered − shipped − reserved: waiting for
stock) and ``shipped``; ``days_open`` since the order date; ``late`` when the
required date has passed. The line sums are correlated subqueries, so a page
reads only its own orders' lines; the totals are one aggregate over the lines.
"""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django import forms
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from backoffice.exports import BOOL, DATE, INTEGER, MONEY, Column
from inventory.models import Warehouse
from orders.models import Customer, SalesOrder, SalesOrderLine, SalesOrderStatus
from reports.registry import MappedRows, Report, ReportFilterSet, register

STATUS_LABELS = dict(SalesOrderStatus.choices)
LATE_CHOICES = (("true", "Late only"), ("false", "Not late"))


class OpenOrderParams(ReportFilterSet):
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.all(), to_field_name="code", label="Warehouse"
    )
    # Typed, not picked: a select of every customer would not scale; an unknown code is refused.
    customer = django_filters.ModelChoiceFilter(
        queryset=Customer.objects.all(), to_field_name="code", label="Customer (code)", widget=forms.TextInput
    )
    late = django_filters.ChoiceFilter(
        choices=LATE_CHOICES, method="filter_late", label="Late", empty_label="Late or not"
    )

    def filter_late(self, queryset, name, value):
        today = self.today
        if value == "true":
            return queryset.filter(required_date__lt=today)
        return queryset.exclude(required_date__lt=today)  # no required date counts as not late


def _line_sum(field: str) -> Coalesce:
    lines = (
        SalesOrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(lines, output_field=IntegerField()), 0)


@register
class OpenOrdersReport(Report):
    name = "open-orders"
    title = "Open orders"
    description = "Sales orders not fully shipped: reserved, backordered and shipped quantities, days open, late."
    model = SalesOrder
    required_permissions = ("orders.view_salesorder", "orders.view_salesorderline", "orders.view_customer")
    filterset_class = OpenOrderParams
    order = 60
    columns = [
        Column("order", "Order"),
        Column("order_date", "Order date", DATE),
        Column("customer", "Customer"),
        Column("customer_name", "Customer name"),
        Column("warehouse", "Warehouse"),
        Column("status", "Status"),
        Column("required_date", "Required date", DATE),
        Column("days_open", "Days open", INTEGER),
        Column("late", "Late", BOOL),
        Column("ordered", "Ordered", INTEGER),
        Column("reserved", "Reserved", INTEGER),
        Column("backordered", "Backordered", INTEGER),
        Column("shipped", "Shipped", INTEGER),
        Column("total_amount", "Order total", MONEY),
    ]
    total_columns = ("ordered", "reserved", "backordered", "shipped", "total_amount")

    def rows(self, queryset, params):
        orders = (
            queryset.filter(status__in=SalesOrderStatus.OPEN)
            .order_by("order_date", "id")
            .values(
                "number",
                "order_date",
                "required_date",
                "status",
                "total",
                "customer__code",
                "customer__name",
                "warehouse__code",
            )
            .annotate(
                ordered=_line_sum("quantity"),
                reserved=_line_sum("quantity_reserved"),
                shipped=_line_sum("quantity_shipped"),
            )
        )
        today = self.today

        def row(order: dict) -> dict:
            required = order["required_date"]
            return {
                "order": order["number"],
                "order_date": order["order_date"],
                "customer": order["customer__code"],
                "customer_name": order["customer__name"],
                "warehouse": order["warehouse__code"],
                "status": STATUS_LABELS.get(order["status"], order["status"]),
                "required_date": required,
                "days_open": (today - order["order_date"]).days,
                "late": required is not None and required < today,
                "ordered": order["ordered"],
                "reserved": order["reserved"],
                "backordered": order["ordered"] - order["shipped"] - order["reserved"],
                "shipped": order["shipped"],
                "total_amount": order["total"],
            }

        return MappedRows(orders, row)

    def totals(self, rows, params):
        orders = rows.queryset.order_by().values("pk")
        lines = SalesOrderLine.objects.filter(order__in=orders).aggregate(
            ordered=Sum("quantity"), reserved=Sum("quantity_reserved"), shipped=Sum("quantity_shipped")
        )
        ordered, reserved, shipped = (lines[key] or 0 for key in ("ordered", "reserved", "shipped"))
        amount = SalesOrder.objects.filter(pk__in=orders).aggregate(total=Sum("total"))["total"]
        return {
            "ordered": ordered,
            "reserved": reserved,
            "backordered": ordered - shipped - reserved,
            "shipped": shipped,
            "total_amount": (amount or Decimal("0")).quantize(Decimal("0.01")),
        }
