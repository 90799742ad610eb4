"""Stock counts (issue 10 §6): the printable count sheet and the review of a count before it is applied.

Reads only: the writes are ``inventory.services.stock_adjustment_apply`` (which releases reservations a count
falls below). Both pages are scoped by ``backoffice.scoping`` like every other outlet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldBooleanSwitchWidget

from backoffice.scoping import scope_queryset
from inventory.models import Category, StockAdjustment, StockLevel, Warehouse

CENT = Decimal("0.01")


def category_and_children(category: Category) -> list[int]:
    """The category and every category below it (categories are few: one query)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found, todo = [], [category.pk]
    while todo:
        pk = todo.pop()
        found.append(pk)
        todo += children.get(pk, [])
    return found


def count_sheet_levels(*, user, warehouse: Warehouse, category: Category | None = None):
    """The stock levels to count in ``warehouse`` (optionally one category and its sub-categories): active
    products, or any product with stock on hand; by category, then SKU. Scoped to what ``user`` may see."""
    levels = scope_queryset(user, StockLevel.objects.filter(warehouse=warehouse)).filter(
        Q(product__is_active=True) | Q(on_hand__gt=0)
    )
    if category is not None:
        levels = levels.filter(product__category_id__in=category_and_children(category))
    return levels.select_related("product", "product__category").order_by("product__category__name", "product__sku")


class CountSheetForm(forms.Form):
    """What to count: a warehouse the user may see, optionally a category, blind or not."""

    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), widget=UnfoldAdminSelectWidget)
    category = forms.ModelChoiceField(
        queryset=Category.objects.order_by("name"),
        required=False,
        empty_label=_("All categories"),
        widget=UnfoldAdminSelectWidget,
    )
    blind = forms.BooleanField(
        label=_("Blind count"),
        required=False,
        widget=UnfoldBooleanSwitchWidget,
        help_text=_("Leave the expected quantities off the sheet, so counters write what they see."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = scope_queryset(user, Warehouse.objects.filter(is_active=True))


@dataclass(frozen=True)
class ReviewRow:
    """One line of a count under review: expected (on hand now) vs counted, and what applying it does."""

    sku: str
    name: str
    expected: int
    reserved: int
    counted: int
    unit_cost: Decimal
    reason: str

    @property
    def difference(self) -> int:
        return self.counted - self.expected

    @property
    def value(self) -> Decimal:
        return (self.difference * self.unit_cost).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def released(self) -> int:
        """Reserved units the count takes back from the newest orders (they go back on backorder)."""
        return max(self.reserved - self.counted, 0)


def adjustment_review(adjustment: StockAdjustment) -> list[ReviewRow]:
    """Each line of a draft count against the stock now (two queries)."""
    lines = list(adjustment.lines.select_related("product").order_by("product__sku"))
    levels = {
        level.product_id: level
        for level in StockLevel.objects.filter(
            warehouse_id=adjustment.warehouse_id, product_id__in=[line.product_id for line in lines]
        )
    }
    rows = []
    for line in lines:
        level = levels.get(line.product_id)
        rows.append(
            ReviewRow(
                sku=line.product.sku,
                name=line.product.name,
                expected=level.on_hand if level else 0,
                reserved=level.allocated if level else 0,
                counted=line.counted_quantity,
                unit_cost=line.product.average_cost,
                reason=line.get_reason_display() if line.reason else adjustment.get_reason_display(),
            )
        )
    return rows


def review_totals(rows: list[ReviewRow]) -> dict:
    return {
        "difference": sum(row.difference for row in rows),
        "value": sum((row.value for row in rows), Decimal("0.00")),
        "released": sum(row.released for row in rows),
        "changed": sum(1 for row in rows if row.difference),
    }
