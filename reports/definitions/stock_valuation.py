"""``stock-valuation``: stock value by category × warehouse, a subtotal per category and a grand total.

Value = Σ on hand × the product's average cost. Each figure is the exact sum
rounded once to cents, so the grand total equals Σ on_hand × average cost over
every stock level shown (a subtotal may differ from the sum of its rounded
rows by a cent, never the grand total from the exact value).
"""

from __future__ import annotations

from django.db.models import Count, F, Q, Sum

from backoffice.exports import INTEGER, MONEY, TEXT, Column
from inventory.models import Category, StockLevel, Warehouse
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
        """One grouped query by the keys (category id × warehouse id; names looked up for the few groups),
        counting positive stock with a condition rather than a ``WHERE`` (SQLite would walk the on-hand index
        and fetch every level out of order). Levels hold no negative stock, so the sums over every level are
        those of the levels in stock; the totals row adds these groups up (no second scan)."""
        groups = [
            group
            for group in queryset.order_by()
            # Warehouse first: SQLite then reads the levels by their warehouse index and each product by its
            # key (product first, it walked products by category and looked their levels up one by one).
            .values(warehouse_key=F("warehouse_id"), category_key=F("product__category_id"))
            .annotate(products=Count("id", filter=Q(on_hand__gt=0)), units=Sum("on_hand"), exact=Sum(STOCK_VALUE))
            if group["products"]
        ]
        categories = dict(
            Category.objects.filter(pk__in={group["category_key"] for group in groups}).values_list("pk", "name")
        )
        warehouses = dict(
            Warehouse.objects.filter(pk__in={group["warehouse_key"] for group in groups}).values_list("pk", "code")
        )
        for group in groups:
            group["category_name"] = categories.get(group["category_key"])
            group["warehouse_code"] = warehouses[group["warehouse_key"]]
        # By category name (uncategorised last), then warehouse code.
        groups.sort(
            key=lambda group: (group["category_name"] is None, group["category_name"] or "", group["warehouse_code"])
        )
        self._groups = groups
        rows: list[dict] = []
        current, members = object(), []
        for group in [*groups, None]:
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
        """The whole selection: the groups added up (exact values, rounded once)."""
        groups = self._groups
        return {
            "products": sum(group["products"] for group in groups),
            "on_hand": sum(group["units"] for group in groups),
            "value": money(sum(group["exact"] for group in groups) if groups else None),
        }

    def chart_rows(self, result, rows):
        """One bar per category: the subtotal rows (over the whole result, not a page)."""
        return [row for row in result.rows if row.get("subtotal")]
