"""``sales-summary``: sales by period (day … year) or by customer, product, category or warehouse.

Counts sales orders that are neither draft nor cancelled, by order date. The
amounts are the orders' own, priced once by ``orders.pricing`` through the
order services and stored on the orders and their lines, so the report adds up
exactly what the orders show:

* ``units`` — Σ line quantity = Σ order ``total_quantity`` (stored by the order services with the
  other counters, so a page over a year of orders reads no lines);
* ``net_amount`` — Σ line net (after the line and the order discount, before
  tax and shipping) = Σ order ``subtotal``;
* ``tax_amount`` — Σ line tax = Σ order ``tax_total``;
* ``shipping_amount`` — Σ order ``shipping_charge``;
* ``total_amount`` — Σ order ``total`` (net + tax + shipping).

Grouped by product or category, a row holds the lines of that product: the
shipping charge belongs to a whole order, so those rows leave it empty and
their total is net + tax; the totals row is always the whole selection (its
``orders`` counts each order once and its total includes shipping).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Count, F, Sum

from backoffice.exports import DATE, INTEGER, MONEY, TEXT, Column
from inventory.models import Warehouse
from orders.models import Customer, SalesOrder, SalesOrderLine, SalesOrderStatus
from orders.pricing import round_money
from reports.registry import Chart, MappedRows, Report, ReportFilterSet, register

ZERO = Decimal("0.00")
COUNTED_STATUSES = tuple(status for status in SalesOrderStatus.values if status not in SalesOrderStatus.NOT_SOLD)

TIME_GROUPS = ("day", "week", "month", "quarter", "year")
GROUP_CHOICES = [
    ("day", "Day"),
    ("week", "Week"),
    ("month", "Month"),
    ("quarter", "Quarter"),
    ("year", "Year"),
    ("customer", "Customer"),
    ("product", "Product"),
    ("category", "Category"),
    ("warehouse", "Warehouse"),
]
DEFAULT_GROUP = "month"

# group → (its column(s): name, header, lookup), for the groups that are not periods.
GROUP_COLUMNS = {
    "customer": [("customer", "Customer", "customer__code"), ("customer_name", "Customer name", "customer__name")],
    "warehouse": [
        ("warehouse", "Warehouse", "warehouse__code"),
        ("warehouse_name", "Warehouse name", "warehouse__name"),
    ],
    "product": [("product", "SKU", "product__sku"), ("product_name", "Product", "product__name")],
    "category": [("category", "Category", "product__category__name")],
}
LINE_GROUPS = ("product", "category")  # rows made of order lines, not whole orders
UNCATEGORISED = "(no category)"

AMOUNT_COLUMNS = [
    Column("orders", "Orders", INTEGER),
    Column("units", "Units", INTEGER),
    Column("net_amount", "Net amount", MONEY),
    Column("tax_amount", "Tax", MONEY),
    Column("shipping_amount", "Shipping", MONEY),
    Column("total_amount", "Total", MONEY),
]
TOTAL_COLUMNS = tuple(column.name for column in AMOUNT_COLUMNS)


def period_label(group_by: str, start: dt.date | dt.datetime | None):
    """What the ``period`` column shows: the day itself, ``2026-W41``, ``2026-10``, ``2026-Q4`` or ``2026``."""
    if start is None:
        return None
    if isinstance(start, dt.datetime):
        start = start.date()
    if group_by == "day":
        return start
    if group_by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{start:%Y-%m}"
    if group_by == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}"


def period_start(group_by: str, day: dt.date) -> dt.date:
    """The first day of the period (``day`` … ``year``) holding ``day``; weeks start on Monday (ISO)."""
    if group_by == "day":
        return day
    if group_by == "week":
        return day - dt.timedelta(days=day.weekday())
    if group_by == "month":
        return day.replace(day=1)
    if group_by == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _group_keys(group_by: str) -> dict[str, F]:
    """The group's columns as ``values()`` expressions (aliased: ``customer`` is also a field of the order)."""
    return {f"group_{name}": F(lookup) for name, _header, lookup in GROUP_COLUMNS[group_by]}


MONEY_COLUMNS = ("net_amount", "tax_amount", "shipping_amount", "total_amount")


def _cents(row: dict) -> dict:
    """Money sums as cents (SQLite sums decimals as floating point; PostgreSQL exactly)."""
    for name in MONEY_COLUMNS:
        value = row.get(name)
        if value is not None:
            row[name] = round_money(Decimal(value))
    return row


def _name_groups(row: dict, group_by: str) -> None:
    for name, _header, _lookup in GROUP_COLUMNS[group_by]:
        row[name] = row.pop(f"group_{name}")


class SalesSummaryParams(ReportFilterSet):
    date_field = "order_date"

    group_by = django_filters.ChoiceFilter(
        choices=GROUP_CHOICES, method="_no_filter", label="Group by", empty_label=None
    )
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.order_by("code"), to_field_name="code", label="Warehouse"
    )
    customer = django_filters.ModelChoiceFilter(
        queryset=Customer.objects.all(),
        to_field_name="code",
        label="Customer code",
        widget=forms.TextInput(attrs={"placeholder": "e.g. ALFKI"}),
    )


@register
class SalesSummary(Report):
    name = "sales-summary"
    title = "Sales summary"
    description = "Orders, units and amounts (net, tax, shipping, total) by period, customer, product or warehouse."
    model = SalesOrder
    required_permissions = ("orders.view_salesorder", "orders.view_salesorderline")
    filterset_class = SalesSummaryParams
    total_columns = TOTAL_COLUMNS
    order = 10

    @staticmethod
    def group_of(params) -> str:
        return params.get("group_by") or DEFAULT_GROUP

    def get_columns(self, params):
        group_by = self.group_of(params)
        if group_by in TIME_GROUPS:
            first = [Column("period", "Period", DATE if group_by == "day" else TEXT)]
        else:
            first = [Column(name, header, TEXT) for name, header, _lookup in GROUP_COLUMNS[group_by]]
        return first + list(AMOUNT_COLUMNS)

    def get_chart(self, params):
        group_by = self.group_of(params)
        if group_by in TIME_GROUPS:
            return Chart("line", "period", ("net_amount", "total_amount"), title="Sales over time", max_points=400)
        label = GROUP_COLUMNS[group_by][-1][0] if group_by in ("product", "customer") else GROUP_COLUMNS[group_by][0][0]
        return Chart("bar", label, ("net_amount",), title=f"Top {group_by}s by net amount", max_points=20)

    # -- rows
    def counted_orders(self, queryset):
        return queryset.filter(status__in=COUNTED_STATUSES)

    def rows(self, queryset, params):
        group_by = self.group_of(params)
        orders = self.counted_orders(queryset)
        self._selection = orders  # the totals are over the same orders
        self._period_totals = None
        if group_by in LINE_GROUPS:
            return self._line_rows(orders, group_by)
        if group_by in TIME_GROUPS:
            return self._period_rows(orders, group_by)
        keys = _group_keys(group_by)
        grouped = orders.values(**keys)
        ordering = ["-net_amount", *keys] if group_by == "customer" else list(keys)
        grouped = grouped.annotate(
            orders=Count("id"),
            units=Sum("total_quantity"),
            net_amount=Sum("subtotal"),
            tax_amount=Sum("tax_total"),
            shipping_amount=Sum("shipping_charge"),
            total_amount=Sum("total"),
        ).order_by(*ordering)

        def finish(row):
            _name_groups(row, group_by)
            return _cents(row)

        return MappedRows(grouped, finish)

    def _period_rows(self, orders, group_by: str) -> list[dict]:
        """By period: a few hundred rows at most, read once (the page, its count and the chart share them).

        One grouped query by order date (the stored date itself: no date function per order, which SQLite
        would call in Python), with the units each order stores (``total_quantity``: no join to a million
        lines); the days are added up into periods here, money as exact cents. The totals are the sums of
        these rows (each counted order is in exactly one period)."""
        by_day = (
            orders.order_by()
            .values("order_date")
            .annotate(
                orders=Count("id"),
                units=Sum("total_quantity"),
                net_amount=Sum("subtotal"),
                tax_amount=Sum("tax_total"),
                shipping_amount=Sum("shipping_charge"),
                total_amount=Sum("total"),
            )
            .order_by("order_date")
        )
        periods: dict[dt.date, dict] = {}
        for day in by_day:
            day = _cents(day)
            start = period_start(group_by, day.pop("order_date"))
            into = periods.setdefault(start, dict.fromkeys(TOTAL_COLUMNS, 0))
            for name in TOTAL_COLUMNS:
                into[name] += day[name] or 0
        rows = []
        totals = dict.fromkeys(TOTAL_COLUMNS, 0)
        for start, sums in sorted(periods.items()):
            row = _cents({"period": period_label(group_by, start), **sums})
            rows.append(row)
            for name in TOTAL_COLUMNS:
                totals[name] += row[name] or 0
        self._period_totals = _cents(totals) if rows else None
        return rows

    def _line_rows(self, orders, group_by: str) -> MappedRows:
        lines = SalesOrderLine.objects.filter(order__in=orders.values("pk"))
        keys = _group_keys(group_by)
        grouped = (
            lines.values(**keys)
            .annotate(
                orders=Count("order", distinct=True),
                units=Sum("quantity"),
                net_amount=Sum("net_amount"),
                tax_amount=Sum("tax_amount"),
                total_amount=Sum("total_amount"),
            )
            .order_by("-net_amount", *keys)
        )

        def finish(row):
            row["shipping_amount"] = None  # charged per order, not per product (module docstring)
            _name_groups(row, group_by)
            if group_by == "category" and row["category"] is None:
                row["category"] = UNCATEGORISED
            return _cents(row)

        return MappedRows(grouped, finish)

    def totals(self, rows, params):
        """The whole selection, counted once per order (not a sum of the rows: see the module docstring)."""
        if self._period_totals is not None:
            return self._period_totals
        selection = self._selection
        sums = selection.aggregate(
            orders=Count("id"),
            units=Sum("total_quantity"),
            net_amount=Sum("subtotal"),
            tax_amount=Sum("tax_total"),
            shipping_amount=Sum("shipping_charge"),
            total_amount=Sum("total"),
        )
        totals = _cents({name: value if value is not None else ZERO for name, value in sums.items()})
        totals["orders"] = sums["orders"] or 0
        totals["units"] = sums["units"] or 0
        return totals
