"""``stock-valuation``: stock value by category × warehouse, a subtotal per category and a grand total.

Value = Σ on hand × the product's average cost. Each figure is the exact sum
rounded once to cents, so the grand total equals Σ on_hand × average cost over
every stock level shown (a subtotal may differ from the sum of its rounded
rows by a cent, never the grand total from the exact value).
"""

from __future__ import annotations

from django.db.models import Count, F, Q, Sum

from backoffice.exports import INTEGER, MONEY, TEXT, Column
from inventory.models import StockLevel
from reports.definitions._stock import STOCK_VALUE, UNCATEGORISED, StockParams, money
from reports.registry import Chart, Report, register

SUBTOTAL = "Subtotal"


@register
class StockValuation(Report):
    name = "stock-valuation"
    title = "Stock valuation"
    description = "Stock value at average cost by category and warehouse, with subtotals and a grand total."
    model = StockLevel
    required_permissions = ("inventory.view_stocklevel", "inventory.view_product")
    filterset_class = StockParams
    columns = [
        Column("category", "Category", TEXT),
        Column("warehouse", "Warehouse", TEXT),
        Column("products", "Products in stock", INTEGER),
        Column("on_hand", "On hand", INTEGER),
        Column("value", "Value", MONEY),
    ]
    total_columns = ("products", "on_hand", "value")
    chart = Chart("bar", "category", ("value",), title="Stock value by category", max_points=40)
    order = 40

    def rows(self, queryset, params):
        groups = (
            queryset.filter(on_hand__gt=0)
            .values(category_name=F("product__category__name"), warehouse_code=F("warehouse__code"))
            .annotate(products=Count("id"), units=Sum("on_hand"), exact=Sum(STOCK_VALUE))
            .order_by(F("product__category__name").asc(nulls_last=True), "warehouse__code")
        )
        self._selection = queryset
        rows: list[dict] = []
        current, members = object(), []
        for group in list(groups) + [None]:
            category = None if group is None else (group["category_name"] or UNCATEGORISED)
            if members and category != current:
                rows.append(self._subtotal(current, members))
                members = []
            if group is None:
                break
            current = category
            members.append(group)
            rows.append(
                {
                    "category": category,
                    "warehouse": group["warehouse_code"],
                    "products": group["products"],
                    "on_hand": group["units"],
                    "value": money(group["exact"]),
                }
            )
        return rows

    @staticmethod
    def _subtotal(category: str, members: list[dict]) -> dict:
        return {
            "category": category,
            "warehouse": SUBTOTAL,
            "products": sum(member["products"] for member in members),
            "on_hand": sum(member["units"] for member in members),
            "value": money(sum(member["exact"] for member in members)),
            "subtotal": True,
        }

    def totals(self, rows, params):
        sums = self._selection.aggregate(
            products=Count("id", filter=Q(on_hand__gt=0)), units=Sum("on_hand"), exact=Sum(STOCK_VALUE)
        )
        return {"products": sums["products"] or 0, "on_hand": sums["units"] or 0, "value": money(sums["exact"])}

    def chart_rows(self, result, rows):
        """One bar per category: the subtotal rows (over the whole result, not a page)."""
        return [row for row in result.rows if row.get("subtotal")]
