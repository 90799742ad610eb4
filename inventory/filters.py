"""django-filter FilterSets shared by the API and reports."""

import django_filters

from backoffice.api_filters import IsoDateTimeFilter
from backoffice.scoping import scope_queryset
from inventory.models import Product, StockLevel, StockMovement, Warehouse


def visible_warehouses(request):
    """Warehouse choices: those the requesting user may see (``backoffice.scoping``); all of them
    without a request (commands and scheduled reports act as the system)."""
    if request is None:
        return Warehouse.objects.all()
    return scope_queryset(request.user, Warehouse.objects.all())


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="SKU, name or barcode contains")

    class Meta:
        model = Product
        fields = {"sku": ["exact"], "category": ["exact"], "is_active": ["exact"], "barcode": ["exact"]}

    def search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(sku__icontains=value) | Q(name__icontains=value) | Q(barcode=value))


class StockLevelFilter(django_filters.FilterSet):
    warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses)
    below_reorder_point = django_filters.BooleanFilter(method="filter_below", label="At or below reorder point")

    class Meta:
        model = StockLevel
        fields = {"product": ["exact"], "product__sku": ["exact"], "warehouse": ["exact"], "warehouse__code": ["exact"]}

    def filter_below(self, queryset, name, value):
        below = StockLevel.objects.at_or_below_reorder_point().values("pk")
        return queryset.filter(pk__in=below) if value else queryset.exclude(pk__in=below)


class StockMovementFilter(django_filters.FilterSet):
    warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = StockMovement
        fields = {"product": ["exact"], "warehouse": ["exact"], "kind": ["exact"], "reference": ["exact"]}
