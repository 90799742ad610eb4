"""PostgreSQL trigram indexes serve the admin's ``icontains`` searches (migrations *_search_indexes)."""

from __future__ import annotations

import pytest
from django.db import connection

from inventory.models import Product
from orders.models import SalesOrder

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only"),
]


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: Product.objects.filter(name__icontains="tea").order_by(), "inventory_product_name_trgm"),
        (lambda: Product.objects.filter(sku__icontains="0250").order_by(), "inventory_product_sku_trgm"),
        (lambda: SalesOrder.objects.filter(number__icontains="SO-0250").order_by(), "orders_salesorder_number_trgm"),
    ],
)
def test_an_admin_search_can_use_its_trigram_index(queryset, index):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: make the planner show its options
    assert index in queryset().explain()  # unordered: an ordered query may walk the ordering index instead
