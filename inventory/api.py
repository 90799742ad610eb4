"""REST endpoints for the catalogue and stock (read/write through Django model permissions).

Every viewset narrows its rows with ``ScopedQuerysetMixin`` (``backoffice.scoping``): Warehouse
staff see only their warehouses' stock, ledger, transfers and warehouse records. Writes go through
``inventory.services``; ``DELETE`` on the catalogue deactivates what is still referenced
(``DeactivateOnDeleteMixin``).
"""

from __future__ import annotations

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from simple_history.utils import bulk_create_with_history

from backoffice.api_base import ApiViewSet, CatalogueViewSet, ETagMixin, LedgerCursorPages, ListMixin
from backoffice.api_filters import UpdatedSinceFilterSet
from backoffice.api_schema import crud_schema
from inventory import services
from inventory.filters import ProductFilter, StockLevelFilter, StockMovementFilter, visible_warehouses
from inventory.models import (
    Category,
    Product,
    StockLevel,
    StockMovement,
    StockTransfer,
    StockTransferLine,
    Supplier,
    SupplierProduct,
    Warehouse,
)
from inventory.serializers import (
    CategorySerializer,
    ProductSerializer,
    StockCountSerializer,
    StockLevelSerializer,
    StockMovementSerializer,
    StockTransferSerializer,
    SupplierProductSerializer,
    SupplierSerializer,
    WarehouseSerializer,
)


class ApiProductFilter(UpdatedSinceFilterSet, ProductFilter):
    class Meta(ProductFilter.Meta):
        fields = {**ProductFilter.Meta.fields, "sku": ["exact", "icontains"]}


class NamedFilter(UpdatedSinceFilterSet):
    is_active = django_filters.BooleanFilter()
    code = django_filters.CharFilter(lookup_expr="iexact")


class CategoryFilter(UpdatedSinceFilterSet):
    class Meta:
        model = Category
        fields = {"parent": ["exact"], "name": ["exact", "icontains"]}


class WarehouseFilter(NamedFilter):
    class Meta:
        model = Warehouse
        fields = ["is_active", "code"]


class SupplierFilter(NamedFilter):
    class Meta:
        model = Supplier
        fields = {"is_active": ["exact"], "code": ["exact"], "country": ["exact"]}


class SupplierProductFilter(UpdatedSinceFilterSet):
    sku = django_filters.CharFilter(field_name="product__sku", lookup_expr="iexact")

    class Meta:
        model = SupplierProduct
        fields = {"supplier": ["exact"], "product": ["exact"], "preferred": ["exact"]}


@extend_schema_view(**crud_schema("category", "categories", CategorySerializer))
class CategoryViewSet(CatalogueViewSet):
    """Categories. ``DELETE`` of a category still holding products or sub-categories is a 409 ``protected``
    (categories have no active flag)."""

    queryset = Category.objects.order_by("name")
    serializer_class = CategorySerializer
    filterset_class = CategoryFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "updated_at", "id"]


@extend_schema_view(**crud_schema("product", "products", ProductSerializer))
class ProductViewSet(CatalogueViewSet):
    queryset = Product.objects.order_by("sku")
    serializer_class = ProductSerializer
    filterset_class = ApiProductFilter
    search_fields = ["sku", "name", "barcode"]
    ordering_fields = ["sku", "name", "sale_price", "updated_at", "created_at", "id"]


@extend_schema_view(**crud_schema("warehouse", "warehouses", WarehouseSerializer))
class WarehouseViewSet(CatalogueViewSet):
    queryset = Warehouse.objects.order_by("code")
    serializer_class = WarehouseSerializer
    filterset_class = WarehouseFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "updated_at", "id"]


@extend_schema_view(**crud_schema("supplier", "suppliers", SupplierSerializer))
class SupplierViewSet(CatalogueViewSet):
    queryset = Supplier.objects.order_by("code")
    serializer_class = SupplierSerializer
    filterset_class = SupplierFilter
    search_fields = ["code", "name", "email", "contact_name"]
    ordering_fields = ["code", "name", "updated_at", "id"]


@extend_schema_view(**crud_schema("supplier product", "supplier products", SupplierProductSerializer))
class SupplierProductViewSet(CatalogueViewSet):
    """What each supplier sells us (unreferenced by documents: ``DELETE`` removes it, 204)."""

    queryset = SupplierProduct.objects.select_related("supplier", "product").order_by("supplier__code", "product__sku")
    serializer_class = SupplierProductSerializer
    filterset_class = SupplierProductFilter
    search_fields = ["supplier_sku", "product__sku", "product__name", "supplier__code"]
    ordering_fields = ["unit_cost", "updated_at", "id"]


class ApiStockLevelFilter(StockLevelFilter):
    sku = django_filters.CharFilter(field_name="product__sku", lookup_expr="iexact")

    class Meta(StockLevelFilter.Meta):
        pass


@extend_schema_view(
    list=extend_schema(summary="List stock levels", responses={200: StockLevelSerializer}),
    retrieve=extend_schema(summary="Read a stock level", responses={200: StockLevelSerializer}),
    update=extend_schema(summary="Change reorder point and quantity", responses={200: StockLevelSerializer}),
    partial_update=extend_schema(summary="Change reorder point or quantity", responses={200: StockLevelSerializer}),
)
class StockLevelViewSet(ListMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, ApiViewSet):
    """Stock per product and warehouse; only reorder settings may be changed here."""

    queryset = StockLevel.objects.select_related("product", "warehouse").order_by("pk")
    serializer_class = StockLevelSerializer
    filterset_class = ApiStockLevelFilter
    search_fields = ["product__sku", "product__name"]
    ordering_fields = ["on_hand", "allocated", "reorder_point", "id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    action_permissions = {"count": ["inventory.add_stockadjustment", "inventory.apply_stockadjustment"]}

    @extend_schema(
        summary="Count a stock level",
        description="Sets on-hand to the counted quantity; the difference is booked as an adjustment "
        "movement with the reason (see docs/user-guide.md for a count below what is reserved).",
        request=StockCountSerializer,
        responses={200: StockLevelSerializer},
    )
    @action(detail=True, methods=["post"])
    def count(self, request, pk=None):
        level = self.get_object()
        data = StockCountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.stock_count_apply(
            counts=[services.Count(level.product_id, level.warehouse_id, data.validated_data["counted"])],
            reason=data.validated_data["reason"],
            reference="API count",
            note=data.validated_data["note"],
            user=request.user,
        )
        return self.respond_with(level)


class ApiStockMovementFilter(StockMovementFilter):
    sku = django_filters.CharFilter(field_name="product__sku", lookup_expr="iexact")

    class Meta(StockMovementFilter.Meta):
        pass


@extend_schema_view(
    list=extend_schema(
        summary="Read the stock ledger (cursor pages)",
        responses={200: StockMovementSerializer},
    ),
    retrieve=extend_schema(summary="Read one stock movement", responses={200: StockMovementSerializer}),
)
class StockMovementViewSet(ListMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The stock ledger, read-only; cursor pagination (no ``COUNT(*)``: the ledger grows without bound)."""

    queryset = StockMovement.objects.select_related("product", "warehouse").order_by("-created_at", "-id")
    serializer_class = StockMovementSerializer
    filterset_class = ApiStockMovementFilter
    pagination_class = LedgerCursorPages
    filter_backends = [ApiViewSet.filter_backends[0]]


class StockTransferFilter(UpdatedSinceFilterSet):
    status = django_filters.CharFilter()
    from_warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses)
    to_warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses)
    warehouse = django_filters.NumberFilter(method="filter_warehouse", help_text="From or to this warehouse id.")

    class Meta:
        model = StockTransfer
        fields = ["status", "from_warehouse", "to_warehouse"]

    def filter_warehouse(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(from_warehouse_id=value) | Q(to_warehouse_id=value))


@extend_schema_view(
    list=extend_schema(summary="List stock transfers", responses={200: StockTransferSerializer}),
    retrieve=extend_schema(summary="Read a stock transfer", responses={200: StockTransferSerializer}),
    create=extend_schema(
        summary="Create a draft stock transfer with its lines",
        responses={201: StockTransferSerializer},
    ),
)
class StockTransferViewSet(ETagMixin, ListMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ApiViewSet):
    """Transfers between warehouses: create a draft with lines, then ``apply/`` moves the stock."""

    queryset = (
        StockTransfer.objects.select_related("from_warehouse", "to_warehouse")
        .prefetch_related("lines__product")
        .order_by("-created_at", "-id")
    )
    serializer_class = StockTransferSerializer
    filterset_class = StockTransferFilter
    search_fields = ["number", "note"]
    ordering_fields = ["created_at", "updated_at", "id"]
    action_permissions = {"apply": ["inventory.apply_stocktransfer"]}

    def perform_create(self, serializer):
        data = serializer.validated_data
        with transaction.atomic():
            transfer = services.stock_transfer_create(
                from_warehouse=data["from_warehouse"],
                to_warehouse=data["to_warehouse"],
                note=data.get("note", ""),
                user=self.request.user,
            )
            bulk_create_with_history(
                [
                    StockTransferLine(transfer=transfer, product=line["product"], quantity=line["quantity"])
                    for line in data["lines"]
                ],
                StockTransferLine,
                default_user=self.request.user,
            )
        serializer.instance = self.get_queryset().get(pk=transfer.pk)

    @extend_schema(
        summary="Apply a draft stock transfer",
        description="Moves every line out of the source into the destination in one transaction; "
        "409 insufficient_stock lists every short line, 409 invalid_transition when not a draft.",
        request=None,
        responses={200: StockTransferSerializer},
    )
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        transfer = self.get_object()
        services.stock_transfer_apply(transfer=transfer, user=request.user)
        return self.respond_with(transfer)


def register(router) -> None:
    router.register("categories", CategoryViewSet)
    router.register("products", ProductViewSet)
    router.register("warehouses", WarehouseViewSet)
    router.register("suppliers", SupplierViewSet)
    router.register("supplier-products", SupplierProductViewSet)
    router.register("stock-levels", StockLevelViewSet)
    router.register("stock-movements", StockMovementViewSet)
    router.register("stock-transfers", StockTransferViewSet)
