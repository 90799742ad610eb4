"""factory_boy factories for the domain models."""

from decimal import Decimal

import factory

from inventory.models import Category, Product, Supplier, SupplierProduct, Warehouse


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    sale_price = Decimal("10.0000")
    cost = Decimal("6.0000")
    tax_rate = Decimal("20.00")


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.LazyAttribute(lambda o: f"Warehouse {o.code}")


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    code = factory.Sequence(lambda n: f"SUP{n:03d}")
    name = factory.Sequence(lambda n: f"Supplier {n}")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@example.com")


class SupplierProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupplierProduct

    supplier = factory.SubFactory(SupplierFactory)
    product = factory.SubFactory(ProductFactory)
    unit_cost = Decimal("5.0000")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.Customer"

    code = factory.Sequence(lambda n: f"CUST{n:04d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@example.com")
    billing_address = "1 Main Street, Springfield"


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.Carrier"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Carrier {n}")
    tracking_url_template = "https://track.example.com/?n={tracking}"
