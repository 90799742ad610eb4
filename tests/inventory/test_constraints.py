"""The database itself refuses rows that break the inventory invariants.

Services check first, but a bug, a raw query or a concurrent writer must hit
a wall in the database too: each test writes a bad row directly and expects
``IntegrityError``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from inventory.models import MovementKind, Product, StockLevel, StockMovement, StockTransfer, SupplierProduct
from tests.factories import ProductFactory, SupplierFactory, SupplierProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def refused(callable_, *args, **kwargs) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_(*args, **kwargs)


@pytest.fixture
def level(warehouse):
    return StockLevel.objects.create(product=ProductFactory(), warehouse=warehouse, on_hand=10, allocated=2)


class TestStockLevel:
    @pytest.mark.parametrize(
        "values",
        [{"on_hand": -1, "allocated": 0}, {"on_hand": 5, "allocated": -1}, {"on_hand": 5, "allocated": 6}],
        ids=["negative on hand", "negative allocated", "allocated above on hand"],
    )
    def test_bad_counters_are_refused_on_update(self, level, values):
        refused(StockLevel.objects.filter(pk=level.pk).update, **values)

        level.refresh_from_db()
        assert (level.on_hand, level.allocated) == (10, 2)

    def test_bad_counters_are_refused_on_insert(self, warehouse):
        refused(StockLevel.objects.create, product=ProductFactory(), warehouse=warehouse, on_hand=1, allocated=2)

        assert not StockLevel.objects.exists()

    def test_allocated_equal_to_on_hand_is_fine(self, level):
        StockLevel.objects.filter(pk=level.pk).update(allocated=10)

        level.refresh_from_db()
        assert level.available == 0

    def test_one_level_per_product_and_warehouse(self, level):
        refused(StockLevel.objects.create, product=level.product, warehouse=level.warehouse)

        assert StockLevel.objects.filter(product=level.product).count() == 1

    def test_same_product_in_another_warehouse_is_fine(self, level):
        StockLevel.objects.create(product=level.product, warehouse=WarehouseFactory(code="EAST"))

        assert StockLevel.objects.filter(product=level.product).count() == 2


class TestProduct:
    def test_sku_is_unique(self):
        ProductFactory(sku="CHAI")

        refused(ProductFactory, sku="CHAI")
        assert Product.objects.filter(sku="CHAI").count() == 1

    def test_barcode_is_unique_when_given(self):
        ProductFactory(barcode="5012345678900")

        refused(ProductFactory, barcode="5012345678900")
        assert Product.objects.filter(barcode="5012345678900").count() == 1

    def test_many_products_may_have_no_barcode(self):
        ProductFactory(barcode="")
        ProductFactory(barcode="")

        assert Product.objects.filter(barcode="").count() == 2

    @pytest.mark.parametrize(
        "values",
        [
            {"sale_price": Decimal("-0.01")},
            {"cost": Decimal("-1")},
            {"average_cost": Decimal("-1")},
            {"tax_rate": Decimal("-1")},
            {"tax_rate": Decimal("100.01")},
        ],
        ids=["sale price", "cost", "average cost", "tax below 0", "tax above 100"],
    )
    def test_money_out_of_range_is_refused(self, values):
        product = ProductFactory()

        refused(Product.objects.filter(pk=product.pk).update, **values)

        product.refresh_from_db()
        assert product.sale_price == Decimal("10.0000")
        assert product.tax_rate == Decimal("20.00")


class TestSupplierProduct:
    def test_only_one_preferred_supplier_per_product(self):
        product = ProductFactory()
        SupplierProductFactory(product=product, preferred=True)

        refused(SupplierProductFactory, product=product, preferred=True)
        assert SupplierProduct.objects.filter(product=product, preferred=True).count() == 1

    def test_several_non_preferred_suppliers_are_fine(self):
        product = ProductFactory()
        SupplierProductFactory(product=product, preferred=True)
        SupplierProductFactory(product=product, preferred=False)
        SupplierProductFactory(product=product, preferred=False)

        assert SupplierProduct.objects.filter(product=product).count() == 3

    def test_one_link_per_supplier_and_product(self):
        link = SupplierProductFactory()

        refused(SupplierProductFactory, supplier=link.supplier, product=link.product)

    def test_minimum_order_quantity_is_at_least_one(self):
        refused(
            SupplierProduct.objects.create,
            supplier=SupplierFactory(),
            product=ProductFactory(),
            minimum_order_quantity=0,
        )


class TestDocuments:
    def test_transfer_to_the_same_warehouse_is_refused(self, warehouse):
        refused(StockTransfer.objects.create, number="TR-X", from_warehouse=warehouse, to_warehouse=warehouse)

        assert not StockTransfer.objects.exists()

    def test_transfer_between_two_warehouses_is_fine(self, warehouse):
        StockTransfer.objects.create(number="TR-Y", from_warehouse=warehouse, to_warehouse=WarehouseFactory(code="B"))

        assert StockTransfer.objects.count() == 1

    def test_a_movement_of_zero_is_refused(self, warehouse):
        refused(
            StockMovement.objects.create,
            product=ProductFactory(),
            warehouse=warehouse,
            kind=MovementKind.ADJUSTMENT,
            quantity=0,
            balance_after=0,
        )
