"""What the product, customer and supplier pages show about their stock and orders (selectors).

* product: its ledger ("Ledger (n)"), open sales orders holding a reservation of it, open purchase
  orders still bringing it, and its stock per warehouse with a total; each warehouse row opens the
  product's ledger in that warehouse;
* customer: its latest orders and open balance (the value of its confirmed, not fully shipped orders);
* supplier: its latest purchase orders and its price list.

Everything is counted over what the user may see (``backoffice.scoping``) and only for the models
the user may view; each summary runs a fixed number of queries (counts of the ledger stop at
``COUNT_CAP``), whatever the size of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.urls import reverse

from backoffice.admin_tools import count_of
from backoffice.scoping import scope_queryset
from inventory.models import Product, StockLevel, StockMovement, Supplier, SupplierProduct
from orders.models import (
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
)

#: a ledger count stops here ("10,000+"): a product's whole history is not counted for a link label
COUNT_CAP = 10_000
#: latest documents listed on a customer or supplier page
LATEST = 10

#: list filters the links below use (see ``orders.admin.documents.HoldingProductFilter`` and the ledger)
HOLDING_PARAM = "holding"
INCOMING_PARAM = "incoming"


def _may_view(user, model) -> bool:
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.view_{opts.model_name}")


def changelist_url(model, **params) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(obj.pk,))


def ledger_url(*, product_id: int | None = None, warehouse_id: int | None = None) -> str:
    """The stock ledger filtered by product and/or warehouse (its autocomplete filters' parameters)."""
    params = {}
    if product_id is not None:
        params["product__id__exact"] = product_id
    if warehouse_id is not None:
        params["warehouse__id__exact"] = warehouse_id
    return changelist_url(StockMovement, **params)


# ---------------------------------------------------------------------------
# Product


@dataclass(frozen=True)
class WarehouseStock:
    code: str
    name: str
    on_hand: int
    allocated: int
    available: int
    reorder_point: int
    ledger_url: str


@dataclass(frozen=True)
class ProductHub:
    ledger_count: int | None  # None: the user may not view the ledger
    ledger_capped: bool
    ledger_url: str
    reserved_orders: int | None  # open sales orders holding a reservation of the product
    reserved_url: str
    incoming_orders: int | None  # open purchase orders still bringing it
    incoming_quantity: int
    incoming_url: str
    stock: list[WarehouseStock] = field(default_factory=list)
    may_view_stock: bool = False

    @property
    def total(self) -> dict[str, int]:
        return {
            "on_hand": sum(row.on_hand for row in self.stock),
            "allocated": sum(row.allocated for row in self.stock),
            "available": sum(row.available for row in self.stock),
        }


def product_hub(user, product: Product) -> ProductHub:
    """The product page's links and stock table (at most four queries besides the user's rights)."""
    stock: list[WarehouseStock] = []
    may_view_stock = _may_view(user, StockLevel)
    may_view_ledger = _may_view(user, StockMovement)
    if may_view_stock:
        levels = scope_queryset(user, StockLevel.objects.filter(product=product)).select_related("warehouse")
        for level in levels.order_by("warehouse__code"):
            stock.append(
                WarehouseStock(
                    code=level.warehouse.code,
                    name=level.warehouse.name,
                    on_hand=level.on_hand,
                    allocated=level.allocated,
                    available=level.available,
                    reorder_point=level.reorder_point,
                    ledger_url=ledger_url(product_id=product.pk, warehouse_id=level.warehouse_id)
                    if may_view_ledger
                    else "",
                )
            )

    # The three figures in one query: a scalar subquery each, on the product's row.
    figures: dict[str, Subquery] = {}
    if may_view_ledger:
        # At most COUNT_CAP + 1 entries counted (index on product, warehouse, created_at).
        entries = scope_queryset(user, StockMovement.objects.filter(product=OuterRef("pk"))).order_by()
        figures["ledger"] = count_of(entries.values("pk")[: COUNT_CAP + 1])
    if _may_view(user, SalesOrder):
        holding = SalesOrderLine.objects.filter(product=OuterRef(OuterRef("pk")), quantity_reserved__gt=0)
        orders = SalesOrder.objects.filter(status__in=SalesOrderStatus.OPEN, pk__in=holding.values("order_id"))
        figures["reserved"] = count_of(scope_queryset(user, orders).order_by().values("pk"))
    if _may_view(user, PurchaseOrder):
        outstanding = PurchaseOrderLine.objects.filter(
            product=OuterRef("pk"),
            quantity_received__lt=F("quantity"),
            order__status__in=PurchaseOrderStatus.OPEN,
            order__in=scope_queryset(user, PurchaseOrder.objects.all()),
        ).order_by()
        figures["incoming"] = Subquery(
            outstanding.values("product").annotate(n=Count("order", distinct=True)).values("n"),
            output_field=IntegerField(),
        )
        figures["incoming_quantity"] = Subquery(
            outstanding.values("product").annotate(n=Sum(F("quantity") - F("quantity_received"))).values("n"),
            output_field=IntegerField(),
        )
    row = Product.objects.filter(pk=product.pk).annotate(**figures).values(*figures).first() if figures else {}
    row = row or {}
    ledger_count = row.get("ledger")
    capped = ledger_count is not None and ledger_count > COUNT_CAP
    if capped:
        ledger_count = COUNT_CAP
    reserved = row.get("reserved")
    incoming = (row.get("incoming") or 0) if "incoming" in figures else None
    incoming_quantity = row.get("incoming_quantity") or 0

    open_statuses = ",".join(SalesOrderStatus.OPEN)
    return ProductHub(
        ledger_count=ledger_count,
        ledger_capped=capped,
        ledger_url=ledger_url(product_id=product.pk),
        reserved_orders=reserved,
        reserved_url=changelist_url(SalesOrder, **{HOLDING_PARAM: product.pk, "status__in": open_statuses}),
        incoming_orders=incoming,
        incoming_quantity=incoming_quantity,
        incoming_url=changelist_url(
            PurchaseOrder, **{INCOMING_PARAM: product.pk, "status__in": ",".join(PurchaseOrderStatus.OPEN)}
        ),
        stock=stock,
        may_view_stock=may_view_stock,
    )


def orders_holding(queryset, product_id):
    """Sales orders (of ``queryset``) with a reservation of the product."""
    holding = SalesOrderLine.objects.filter(product_id=product_id, quantity_reserved__gt=0).values("order_id")
    return queryset.filter(pk__in=holding)


def orders_bringing(queryset, product_id):
    """Purchase orders (of ``queryset``) with an outstanding quantity of the product."""
    outstanding = PurchaseOrderLine.objects.filter(product_id=product_id, quantity_received__lt=F("quantity"))
    return queryset.filter(pk__in=outstanding.values("order_id"))


# ---------------------------------------------------------------------------
# Customer and supplier


@dataclass(frozen=True)
class PartyOrders:
    latest: list  # the latest documents, newest first
    count: int
    all_url: str
    open_count: int = 0
    open_balance: Decimal = Decimal("0")


def customer_orders(user, customer: Customer) -> PartyOrders | None:
    """The customer's latest sales orders and open balance (over the orders the user may see)."""
    if not _may_view(user, SalesOrder):
        return None
    orders = scope_queryset(user, SalesOrder.objects.filter(customer=customer))
    latest = list(orders.select_related("warehouse").order_by("-order_date", "-id")[:LATEST])
    figures = orders.order_by().aggregate(
        count=Count("pk"),
        open_count=Count("pk", filter=_open(SalesOrderStatus.OPEN)),
        open_balance=Sum("total", filter=_open(SalesOrderStatus.OPEN)),
    )
    return PartyOrders(
        latest=latest,
        count=figures["count"],
        all_url=changelist_url(SalesOrder, customer__id__exact=customer.pk),
        open_count=figures["open_count"],
        open_balance=figures["open_balance"] or Decimal("0"),
    )


def _open(statuses) -> Q:
    return Q(status__in=statuses)


@dataclass(frozen=True)
class SupplierPage:
    orders: PartyOrders | None
    price_list_count: int | None
    price_list_url: str


def supplier_orders(user, supplier: Supplier) -> SupplierPage:
    """The supplier's latest purchase orders (open ones valued) and the size of its price list.

    Two queries: the latest orders, and every figure as a subquery on the supplier's row."""
    figures: dict[str, Subquery] = {}
    queryset = scope_queryset(user, PurchaseOrder.objects.filter(supplier=supplier))
    may_view_orders = _may_view(user, PurchaseOrder)
    if may_view_orders:
        of_supplier = scope_queryset(user, PurchaseOrder.objects.filter(supplier=OuterRef("pk"))).order_by()
        grouped = of_supplier.values("supplier")
        is_open = _open(PurchaseOrderStatus.OPEN)
        figures["count"] = Subquery(grouped.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
        figures["open_count"] = Subquery(
            grouped.annotate(n=Count("pk", filter=is_open)).values("n"), output_field=IntegerField()
        )
        figures["open_balance"] = Subquery(
            grouped.annotate(n=Sum("total", filter=is_open)).values("n"),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
    if _may_view(user, SupplierProduct):
        price_rows = SupplierProduct.objects.filter(supplier=OuterRef("pk")).order_by().values("supplier")
        figures["price_list"] = Subquery(price_rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
    row = (
        (Supplier.objects.filter(pk=supplier.pk).annotate(**figures).values(*figures).first() or {}) if figures else {}
    )
    orders = None
    if may_view_orders:
        orders = PartyOrders(
            latest=list(queryset.select_related("warehouse").order_by("-order_date", "-id")[:LATEST]),
            count=row.get("count") or 0,
            all_url=changelist_url(PurchaseOrder, supplier__id__exact=supplier.pk),
            open_count=row.get("open_count") or 0,
            open_balance=row.get("open_balance") or Decimal("0"),
        )
    price_list = (row.get("price_list") or 0) if "price_list" in figures else None
    return SupplierPage(
        orders=orders,
        price_list_count=price_list,
        price_list_url=changelist_url(SupplierProduct, supplier__id__exact=supplier.pk),
    )
