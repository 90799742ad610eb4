"""REST endpoints for the catalogue and stock (read/write through Django model permissions).

Every viewset narrows its rows with ``ScopedQuerysetMixin`` (``backoffice.scoping``): Warehouse
staff see only their warehouses' stock, ledger and warehouse records.
"""

from rest_framework import mixins, viewsets

from backoffice.api import ScopedQuerysetMixin
from inventory.filters import ProductFilter, StockLevelFilter, StockMovementFilter
from inventory.models import Category, Product, StockLevel, StockMovement, Supplier, Warehouse
from inventory.serializers import (
    CategorySerializer,
    ProductSerializer,
    StockLevelSerializer,
    StockMovementSerializer,
    SupplierSerializer,
    WarehouseSerializer,
)


class CategoryViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    queryset = Category.objects.order_by("name")
    serializer_class = CategorySerializer


class ProductViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    queryset = Product.objects.order_by("sku")
    serializer_class = ProductSerializer
    filterset_class = ProductFilter


class WarehouseViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    queryset = Warehouse.objects.order_by("code")
    serializer_class = WarehouseSerializer


class SupplierViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    queryset = Supplier.objects.order_by("code")
    serializer_class = SupplierSerializer


class StockLevelViewSet(ScopedQuerysetMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Stock per product and warehouse; only reorder settings may be changed here."""

    queryset = StockLevel.objects.select_related("product", "warehouse").order_by("pk")
    serializer_class = StockLevelSerializer
    filterset_class = StockLevelFilter


class StockMovementViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The stock ledger, read-only."""

    queryset = StockMovement.objects.select_related("product", "warehouse").order_by("-created_at", "-id")
    serializer_class = StockMovementSerializer
    filterset_class = StockMovementFilter


def register(router) -> None:
    router.register("categories", CategoryViewSet)
    router.register("products", ProductViewSet)
    router.register("warehouses", WarehouseViewSet)
    router.register("suppliers", SupplierViewSet)
    router.register("stock-levels", StockLevelViewSet)
    router.register("stock-movements", StockMovementViewSet)
