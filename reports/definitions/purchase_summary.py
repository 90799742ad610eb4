"""``purchase-summary``: what was ordered from each supplier per month, what arrived and what is still due.

Rows are supplier × month of the purchase order's date, over purchase orders
that were placed (sent, partially received, received or closed — not drafts,
not cancelled). Quantities and values are summed over the order lines in the
database (one grouped query):

* ``ordered_quantity`` / ``ordered_value`` — line quantities / line totals;
* ``received_quantity`` / ``received_value`` — quantities received so far, at the line's unit cost;
* ``outstanding_quantity`` / ``outstanding_value`` — still due on open orders (sent or partially
  received); a received or closed order has nothing outstanding.

The chart shows ordered and received value per month over all suppliers; it
and the totals row are the grouped rows added up (one query in all).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import django_filters
from django import forms
from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, IntegerField, Sum, Value, When
from django.db.models.functions import Coalesce

from backoffice.exports import INTEGER, MONEY, Column
from inventory.models import Supplier, Warehouse
from orders.models import PurchaseOrderLine, PurchaseOrderStatus
from reports.local_dates import LocalMonth
from reports.registry import Chart, Report, ReportFilterSet, register

CENT = Decimal("0.01")
PLACED = (
    PurchaseOrderStatus.SENT,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
    PurchaseOrderStatus.RECEIVED,
    PurchaseOrderStatus.CLOSED,
)
_AMOUNT = DecimalField(max_digits=24, decimal_places=4)


class PurchaseSummaryParams(ReportFilterSet):
    date_field = "order__order_date"

    supplier = django_filters.ModelChoiceFilter(
        field_name="order__supplier",
        queryset=Supplier.objects.all(),
        to_field_name="code",
        label="Supplier (code)",
        widget=forms.TextInput,  # typed, not picked: a select of every supplier does not scale
    )
    warehouse = django_filters.ModelChoiceFilter(
        field_name="order__warehouse", queryset=Warehouse.objects.all(), to_field_name="code", label="Warehouse"
    )


def _figures() -> dict:
    """The aggregates of a group of purchase-order lines."""
    outstanding = ExpressionWrapper(F("quantity") - F("quantity_received"), output_field=IntegerField())
    is_open = {"order__status__in": PurchaseOrderStatus.OPEN}
    return {
        "orders": Count("order", distinct=True),
        "ordered_quantity": Coalesce(Sum("quantity"), 0),
        "received_quantity": Coalesce(Sum("quantity_received"), 0),
        "outstanding_quantity": Coalesce(
            Sum(Case(When(**is_open, then=outstanding), default=Value(0), output_field=IntegerField())), 0
        ),
        "ordered_value": Sum("line_total", output_field=_AMOUNT),
        "received_value": Sum(
            ExpressionWrapper(F("quantity_received") * F("unit_cost"), output_field=_AMOUNT), output_field=_AMOUNT
        ),
        "outstanding_value": Sum(
            Case(
                When(**is_open, then=ExpressionWrapper(outstanding * F("unit_cost"), output_field=_AMOUNT)),
                default=Value(Decimal("0")),
                output_field=_AMOUNT,
            ),
            output_field=_AMOUNT,
        ),
    }


VALUE_FIELDS = ("ordered_value", "received_value", "outstanding_value")


def _money(value) -> Decimal:
    return (value or Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)


def _month_row(group: dict) -> dict:
    row = dict(group)
    row["month"] = f"{group['month']:%Y-%m}"
    for name in VALUE_FIELDS:
        row[name] = _money(group[name])
    return row


@register
class PurchaseSummaryReport(Report):
    name = "purchase-summary"
    title = "Purchase summary"
    description = "Ordered, received and outstanding quantity and value by supplier and month."
    model = PurchaseOrderLine
    required_permissions = (
        "orders.view_purchaseorder",
        "orders.view_purchaseorderline",
        "inventory.view_supplier",
    )
    filterset_class = PurchaseSummaryParams
    order = 70
    columns = [
        Column("supplier", "Supplier"),
        Column("supplier_name", "Supplier name"),
        Column("month", "Month"),
        Column("orders", "Orders", INTEGER),
        Column("ordered_quantity", "Ordered qty", INTEGER),
        Column("received_quantity", "Received qty", INTEGER),
        Column("outstanding_quantity", "Outstanding qty", INTEGER),
        Column("ordered_value", "Ordered value", MONEY),
        Column("received_value", "Received value", MONEY),
        Column("outstanding_value", "Outstanding value", MONEY),
    ]
    total_columns = (
        "orders",
        "ordered_quantity",
        "received_quantity",
        "outstanding_quantity",
        *VALUE_FIELDS,
    )
    chart = Chart(
        type="bar",
        label="month",
        series=("ordered_value", "received_value", "outstanding_value"),
        title="Purchases by month",
    )

    def rows(self, queryset, params):
        self.lines = queryset.filter(order__status__in=PLACED)
        groups = (
            self.lines.order_by()
            .values(
                supplier=F("order__supplier__code"),
                supplier_name=F("order__supplier__name"),
                month=LocalMonth("order__order_date"),  # on SQLite a text operation, no Python call per line
            )
            .annotate(**_figures())
            .order_by("supplier", "month")
        )
        # Bounded (suppliers × months) and read once: the page needs no second grouped query to count, and
        # the totals and the chart (by month over all suppliers) add these groups up exactly — an order is
        # in one group (one supplier, one date), so its distinct count adds up too.
        self._groups = list(groups)
        return [_month_row(group) for group in self._groups]

    def totals(self, rows, params):
        [figures] = _added_up(self._groups, lambda group: None) or [dict.fromkeys(_figures(), None)]
        return {name: (_money(figures[name]) if name in VALUE_FIELDS else figures[name] or 0) for name in _figures()}

    def chart_rows(self, result, rows):
        by_month = sorted(_added_up(self._groups, lambda group: group["month"]), key=lambda group: group["month"])
        return [_month_row(group) for group in by_month[: self.chart.max_points]]


def _added_up(groups: list[dict], key) -> list[dict]:
    """``groups`` added up by ``key(group)`` (exact values; rounded where shown)."""
    names = list(_figures())
    combined: dict = {}
    for group in groups:
        into = combined.setdefault(key(group), {"month": group["month"], **dict.fromkeys(names, 0)})
        for name in names:
            into[name] += group[name] or 0
    return list(combined.values())
