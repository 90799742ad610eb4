"""Reads that matter: dashboard figures, invariant checks, reorder lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.scoping import scope_queryset
from inventory.models import Product, StockLevel, StockMovement

Key = tuple[int, int]

# Apps that reserve stock register a callable returning {(product_id, warehouse_id): reserved}.
_allocation_sources: list[Callable[[], dict[Key, int]]] = []


def register_allocation_source(source: Callable[[], dict[Key, int]]) -> None:
    """Let an app (orders) declare what it has reserved, for invariant 2."""
    if source not in _allocation_sources:
        _allocation_sources.append(source)


def expected_allocations() -> dict[Key, int]:
    totals: dict[Key, int] = defaultdict(int)
    for source in _allocation_sources:
        for key, quantity in source().items():
            totals[key] += quantity
    return dict(totals)


@dataclass(frozen=True)
class Discrepancy:
    level_id: int
    sku: str
    warehouse: str
    problem: str

    def __str__(self) -> str:
        return f"{self.sku} @ {self.warehouse}: {self.problem}"


def stock_discrepancies() -> list[Discrepancy]:
    """Every stock level that breaks invariant 1 or 2 of DESIGN.md section 5."""
    ledger = {
        (row["product_id"], row["warehouse_id"]): row["total"]
        for row in StockMovement.objects.values("product_id", "warehouse_id").annotate(total=Sum("quantity"))
    }
    reserved = expected_allocations()
    problems = []
    seen: set[Key] = set()
    levels = StockLevel.objects.values_list(
        "pk", "product_id", "warehouse_id", "product__sku", "warehouse__code", "on_hand", "allocated"
    )
    for pk, product_id, warehouse_id, sku, code, on_hand, allocated in levels.iterator(chunk_size=5000):
        key = (product_id, warehouse_id)
        seen.add(key)
        movements = ledger.get(key, 0)
        if on_hand != movements:
            problems.append(Discrepancy(pk, sku, code, f"on hand {on_hand} but movements sum to {movements}"))
        if not 0 <= allocated <= on_hand:
            problems.append(Discrepancy(pk, sku, code, f"allocated {allocated} outside 0..on hand {on_hand}"))
        expected = reserved.get(key, 0)
        if allocated != expected:
            problems.append(Discrepancy(pk, sku, code, f"allocated {allocated} but open orders reserve {expected}"))
    for key in set(ledger) - seen:
        problems.append(Discrepancy(0, f"product #{key[0]}", f"warehouse #{key[1]}", "movements without a stock level"))
    for key in set(reserved) - seen:
        if reserved[key]:
            problems.append(
                Discrepancy(0, f"product #{key[0]}", f"warehouse #{key[1]}", "reservations without a stock level")
            )
    return problems


def _visible(user, queryset):
    """Rows ``user`` may see (``backoffice.scoping``); ``user=None`` is the system itself (commands, benchmarks)."""
    return queryset if user is None else scope_queryset(user, queryset)


def dashboard_figures(*, user) -> dict:
    """Live figures for the admin dashboard (a handful of aggregate queries), over what ``user`` may see."""
    value_expr = ExpressionWrapper(
        F("on_hand") * F("product__average_cost"), output_field=DecimalField(max_digits=20, decimal_places=4)
    )
    levels = _visible(user, StockLevel.objects.all())
    stock_value = levels.aggregate(total=Coalesce(Sum(value_expr), Decimal("0")))["total"]
    today = timezone.localdate()
    start = timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time()))
    return {
        "active_products": Product.objects.filter(is_active=True).count(),
        "stock_value": Decimal(stock_value).quantize(Decimal("0.01")),
        "reorder_count": levels.at_or_below_reorder_point().filter(product__is_active=True).count(),
        "movements_today": _visible(user, StockMovement.objects.filter(created_at__gte=start)).count(),
    }


def reorder_levels(*, user, limit: int = 10):
    """Active products at or below their reorder point, the emptiest first (in ``user``'s warehouses)."""
    return (
        _visible(user, StockLevel.objects.at_or_below_reorder_point())
        .filter(product__is_active=True)
        .select_related("product", "warehouse")
        .order_by("available_qty", "product__sku")[:limit]
    )


def recent_movements(*, user, limit: int = 10):
    movements = _visible(user, StockMovement.objects.all())
    return movements.select_related("product", "warehouse", "user").order_by("-created_at", "-id")[:limit]
