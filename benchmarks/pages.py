"""Admin pages on a large database: queries, p50 and p95 server time, ratio to a plain list.

Builds the dataset with ``seed_scale`` (products, stock levels, ledger movements) and adds, in
bulk, customers, suppliers with price lists (one supplier with ``--price-list`` rows), sales
orders with lines, shipments, purchase orders and receipts. Then, as a superuser through the
Django test client (the whole middleware stack, no network), requests each page ``--requests``
times and prints its queries (counted on one extra request), p50 and p95 of the server time, and
the ratio of its p50 to a plain one-column admin list of the same table (Unfold's own
``ModelAdmin`` with ``list_display = ("pk",)`` and nothing else, on a separate admin site)
measured in the same run. Prints figures; asserts nothing. Runs on a throwaway SQLite file, and on a throwaway
PostgreSQL database when DATABASE_URL is set.

    python benchmarks/pages.py [--products N] [--movements N] [--orders N] [--requests N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from decimal import Decimal

from _django import database_label, run_per_database, setup_django


def seed(products: int, movements: int, orders: int, price_list: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from inventory.models import Product, Supplier, SupplierProduct, Warehouse
    from orders.models import (
        Customer,
        PurchaseOrder,
        PurchaseOrderLine,
        PurchaseOrderStatus,
        Receipt,
        SalesOrder,
        SalesOrderLine,
        SalesOrderStatus,
        Shipment,
    )

    call_command("seed_scale", products=products, movements=movements, warehouses=5, verbosity=0)
    product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    warehouses = list(Warehouse.objects.order_by("pk"))
    customers = Customer.objects.bulk_create(
        [Customer(code=f"C{i:06d}", name=f"Customer {i} Ltd") for i in range(max(orders // 10, 10))]
    )
    suppliers = Supplier.objects.bulk_create([Supplier(code=f"S{i:05d}", name=f"Supplier {i}") for i in range(200)])
    SupplierProduct.objects.bulk_create(
        [
            SupplierProduct(supplier=suppliers[0], product_id=pid, unit_cost=Decimal("5"))
            for pid in product_ids[:price_list]
        ]
        + [
            SupplierProduct(supplier=suppliers[1 + i % 199], product_id=pid, unit_cost=Decimal("4"))
            for i, pid in enumerate(product_ids[price_list:])
        ],
        batch_size=5000,
    )
    statuses = [
        SalesOrderStatus.CONFIRMED,
        SalesOrderStatus.SHIPPED,
        SalesOrderStatus.DELIVERED,
        SalesOrderStatus.DRAFT,
    ]
    sales = SalesOrder.objects.bulk_create(
        [
            SalesOrder(
                number=f"SO-{i:06d}",
                customer=customers[i % len(customers)],
                warehouse=warehouses[i % len(warehouses)],
                status=statuses[i % len(statuses)],
            )
            for i in range(1, orders + 1)
        ],
        batch_size=5000,
    )
    SalesOrderLine.objects.bulk_create(
        [
            SalesOrderLine(order=order, product_id=product_ids[(n * 5 + k) % len(product_ids)], quantity=3)
            for n, order in enumerate(sales)
            for k in range(5)
        ],
        batch_size=5000,
    )
    Shipment.objects.bulk_create(
        [Shipment(number=f"SH-{n:06d}", sales_order=order) for n, order in enumerate(sales, 1) if n % 4 in (1, 2)],
        batch_size=5000,
    )
    pos = PurchaseOrder.objects.bulk_create(
        [
            PurchaseOrder(
                number=f"PO-{i:06d}",
                supplier=suppliers[i % len(suppliers)],
                warehouse=warehouses[i % len(warehouses)],
                status=PurchaseOrderStatus.SENT if i % 2 else PurchaseOrderStatus.DRAFT,
            )
            for i in range(1, orders // 5 + 1)
        ],
        batch_size=5000,
    )
    PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(order=po, product_id=product_ids[n % len(product_ids)], quantity=10)
            for n, po in enumerate(pos)
        ],
        batch_size=5000,
    )
    Receipt.objects.bulk_create([Receipt(number=f"RC-{n:06d}", purchase_order=po) for n, po in enumerate(pos, 1)][::2])
    get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-123")
    return {
        "product": Product.objects.order_by("pk").first(),
        "supplier": suppliers[0],
        "order": sales[len(sales) // 2],
        "shipment": Shipment.objects.order_by("pk")[Shipment.objects.count() // 2],
        "products": len(product_ids),
    }


def plain_urlconf():
    """The project's URLs plus ``/plain/``: an admin site whose lists show one column (the baseline)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib import admin
    from django.urls import path
    from unfold.admin import ModelAdmin
    from unfold.sites import UnfoldAdminSite

    site = UnfoldAdminSite(name="plain")
    for model in admin.site._registry:
        site.register(model, type("PlainAdmin", (ModelAdmin,), {"list_display": ("pk",)}))
    module = types.ModuleType("bench_pages_urls")
    module.urlpatterns = [path("plain/", site.urls), *import_module(settings.ROOT_URLCONF).urlpatterns]
    return module


def pages(data: dict) -> list[tuple[str, str, str]]:
    """(label, url, model of the plain baseline list)."""
    product, supplier, order, shipment = data["product"], data["supplier"], data["order"], data["shipment"]
    sku = product.sku
    last_page = max(1, min(500, data["products"] // 100))
    ac = "/admin/autocomplete/?app_label={}&model_name={}&field_name={}&term={}"
    term = "product+12"
    return [
        ("dashboard", "/admin/", "inventory/product"),
        ("products list", "/admin/inventory/product/", "inventory/product"),
        (f"products list page {last_page}", f"/admin/inventory/product/?p={last_page}", "inventory/product"),
        ("products search sku", f"/admin/inventory/product/?q={sku}", "inventory/product"),
        ("products search name", "/admin/inventory/product/?q=product+12", "inventory/product"),
        ("product change", f"/admin/inventory/product/{product.pk}/change/", "inventory/product"),
        ("supplier change (price list)", f"/admin/inventory/supplier/{supplier.pk}/change/", "inventory/supplier"),
        ("suppliers list", "/admin/inventory/supplier/", "inventory/supplier"),
        ("supplier products list", "/admin/inventory/supplierproduct/", "inventory/supplierproduct"),
        ("stock levels list", "/admin/inventory/stocklevel/", "inventory/stocklevel"),
        ("stock levels search sku", f"/admin/inventory/stocklevel/?q={sku}", "inventory/stocklevel"),
        ("ledger list", "/admin/inventory/stockmovement/", "inventory/stockmovement"),
        ("ledger search sku", f"/admin/inventory/stockmovement/?q={sku}", "inventory/stockmovement"),
        ("customers list", "/admin/orders/customer/", "orders/customer"),
        ("customers search name", "/admin/orders/customer/?q=customer+12", "orders/customer"),
        ("sales orders list", "/admin/orders/salesorder/", "orders/salesorder"),
        ("sales orders search number", f"/admin/orders/salesorder/?q={order.number}", "orders/salesorder"),
        ("sales orders search sku", f"/admin/orders/salesorder/?q={sku}", "orders/salesorder"),
        ("sales orders by backordered", "/admin/orders/salesorder/?o=8", "orders/salesorder"),
        ("sales order change", f"/admin/orders/salesorder/{order.pk}/change/", "orders/salesorder"),
        ("shipments list", "/admin/orders/shipment/", "orders/shipment"),
        ("shipments search number", f"/admin/orders/shipment/?q={shipment.number}", "orders/shipment"),
        ("add shipment (chooser)", "/admin/orders/shipment/add/", "orders/shipment"),
        ("purchase orders list", "/admin/orders/purchaseorder/", "orders/purchaseorder"),
        ("add receipt (chooser)", "/admin/orders/receipt/add/", "orders/receipt"),
        ("receipts list", "/admin/orders/receipt/", "orders/receipt"),
        ("product autocomplete ''", ac.format("inventory", "stocklevel", "product", ""), "inventory/product"),
        (
            "product autocomplete 'product 12'",
            ac.format("inventory", "stocklevel", "product", term),
            "inventory/product",
        ),
        ("shipment chooser autocomplete", ac.format("orders", "shipment", "sales_order", ""), "orders/salesorder"),
    ]


def timed(client, url: str, requests: int) -> tuple[int, list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    status = client.get(url, secure=True).status_code  # warm caches
    with CaptureQueriesContext(connection) as captured:
        client.get(url, secure=True)
        queries = len(captured)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url, secure=True)
        times.append((time.perf_counter() - started) * 1000)
    return status, times, queries


def login_verified(client, user):
    """Sign ``user`` in with a session that has done its two-factor step (as after a token)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    device = StaticDevice.objects.create(user=user, name="bench")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def child(products: int, movements: int, orders: int, price_list: int, requests: int) -> None:
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    started = time.perf_counter()
    data = seed(products, movements, orders, price_list)
    print(
        f"== pages on {database_label()}: {products:,} products, {movements:,} movements, {orders:,} sales orders "
        f"(x5 lines), supplier price list {price_list:,} rows; seeded in {time.perf_counter() - started:.1f} s; "
        f"{requests} requests per page",
        flush=True,
    )
    client = Client()
    login_verified(client, get_user_model().objects.get(username="bench"))
    # Plain static storage: production's manifest storage needs ``collectstatic``, which a benchmark skips.
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": static}
    with override_settings(ROOT_URLCONF=plain_urlconf(), ALLOWED_HOSTS=["testserver"], STORAGES=storages):
        baseline: dict[str, float] = {}
        print(f"  {'page':<36} {'status':>6} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'plain p50':>9} {'ratio':>6}")
        for label, url, model in pages(data):
            if model not in baseline:
                _status, times, _queries = timed(client, f"/plain/{model}/", requests)
                baseline[model] = statistics.median(times)
            status, times, queries = timed(client, url, requests)
            p50 = statistics.median(times)
            print(
                f"  {label:<36} {status:>6} {queries:>7} {p50:>8.1f} {p95(times):>8.1f} "
                f"{baseline[model]:>9.1f} {p50 / baseline[model]:>5.1f}x",
                flush=True,
            )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=int(os.environ.get("BENCH_PAGES_PRODUCTS", 20_000)))
    parser.add_argument("--movements", type=int, default=int(os.environ.get("BENCH_PAGES_MOVEMENTS", 200_000)))
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_PAGES_ORDERS", 10_000)))
    parser.add_argument("--price-list", type=int, default=200, help="rows in one supplier's price list")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    values = [args.products, args.movements, args.orders, args.price_list, args.requests]
    if args.child:
        child(*values)
        return 0
    names = ["--products", "--movements", "--orders", "--price-list", "--requests"]
    return run_per_database(__file__, [item for pair in zip(names, map(str, values), strict=True) for item in pair])


if __name__ == "__main__":
    sys.exit(main())
