"""Every admin page on a large database: queries, p50 and p95 server time, ratio to a plain list, targets.

Seeds with ``manage.py seed_scale`` (products, stock levels, ledger movements, and with ``--orders``
customers, suppliers with price lists, sales orders with lines and shipments, purchase orders with
receipts), once per database when ``--keep NAME`` is given (the database is reused by later runs).
Then, as a superuser through the Django test client (the whole middleware stack, no network), it
requests every page of issue 7 section 4 ``--requests`` times and prints, per page: status, queries
(counted on one extra request), p50 and p95 server time, the p50 of a plain one-column admin list of
the same table (Unfold's own ``ModelAdmin`` with ``list_display = ("pk",)`` on a separate admin
site, measured in the same run) and the ratio of the two p50s; ``MISS`` marks a page over a target
(p95 > 300 ms, ratio > 3, queries > 15). Pages: for each list the first page, page 500 (or the last),
each filter, each sortable column (both directions), searches by number, SKU and name; each change,
add and history page; the choosers and autocompletes; the dashboard; every REST API list (``--match API``: first
page, page 500 or the last, a search), as the same user through its session. Prints figures; asserts nothing.

    python benchmarks/pages.py [--products N] [--movements N] [--orders N] [--lines-per-order K]
                               [--requests N] [--keep NAME] [--only sqlite|postgresql] [--match TEXT]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from datetime import timedelta

from _django import database_label, run_per_database, setup_django

TARGET_P95_MS = 300
TARGET_RATIO = 3
TARGET_QUERIES = 15

#: the big lists: every filter, sort and search is measured on these
BIG_LISTS = [
    "inventory.product",
    "inventory.stocklevel",
    "inventory.stockmovement",
    "inventory.supplier",
    "inventory.supplierproduct",
    "orders.customer",
    "orders.salesorder",
    "orders.purchaseorder",
    "orders.shipment",
    "orders.receipt",
]


def seed(products: int, movements: int, orders: int, lines_per_order: int) -> float:
    """Seed unless a previous run already did (``--keep``); seconds spent seeding."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from inventory.models import Product
    from orders.models import SalesOrder

    started = time.perf_counter()
    have_products = Product.objects.filter(sku__startswith="SCALE-").count()
    if have_products < products:
        call_command("seed_scale", products=products - have_products, movements=movements, warehouses=5, verbosity=0)
    have_orders = SalesOrder.objects.count()
    if have_orders < orders:
        call_command(
            "seed_scale", products=0, orders=orders - have_orders, lines_per_order=lines_per_order, verbosity=0
        )
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-123")
    return time.perf_counter() - started


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


def _middle(model):
    count = model._default_manager.count()
    return model._default_manager.order_by("pk")[count // 2] if count else None


def _filter_params(spec, today) -> list[tuple[str, dict]]:
    """(label, GET parameters) choosing a representative value for one list filter."""
    from django.contrib.admin import filters as django_filters
    from unfold.contrib.filters.admin import RangeDateFilter, RangeDateTimeFilter, RangeNumericFilter

    start = today - timedelta(days=30)
    if isinstance(spec, RangeDateTimeFilter):
        name = spec.parameter_name
        return [
            (
                f"{name} last 30 days",
                {f"{name}_from_0": start.isoformat(), f"{name}_from_1": "00:00", f"{name}_to_0": today.isoformat()},
            )
        ]
    if isinstance(spec, RangeDateFilter):
        name = spec.parameter_name
        return [(f"{name} last 30 days", {f"{name}_from": start.isoformat(), f"{name}_to": today.isoformat()})]
    if isinstance(spec, RangeNumericFilter):
        name = spec.parameter_name
        return [(f"{name} 10..20", {f"{name}_from": "10", f"{name}_to": "20"})]
    if isinstance(spec, django_filters.SimpleListFilter):
        return [(f"{spec.parameter_name}={value}", {spec.parameter_name: value}) for value, _ in spec.lookup_choices]
    if isinstance(spec, django_filters.BooleanFieldListFilter):
        return [(f"{spec.field_path} yes", {spec.lookup_kwarg: "1"})]
    if isinstance(spec, django_filters.RelatedFieldListFilter):
        choices = list(spec.lookup_choices)
        if not choices:
            return []
        pk = choices[len(choices) // 2][0]
        return [(f"{spec.field_path} one", {spec.lookup_kwarg: str(pk)})]
    if isinstance(spec, django_filters.ChoicesFieldListFilter):
        choices = [value for value, _label in spec.field.flatchoices]
        return [(f"{spec.field_path}={value}", {spec.lookup_kwarg: value}) for value in choices[:3]]
    if isinstance(spec, django_filters.AllValuesFieldListFilter):
        values = [value for value in spec.lookup_choices if value][:1]
        return [(f"{spec.field_path}={value}", {spec.lookup_kwarg: value}) for value in values]
    return []


def far_page(rows: int, per_page: int) -> int:
    """Page 500 of a list, or its last page when it has fewer."""
    return max(1, min(500, (rows + per_page - 1) // per_page))


def list_pages(model_label: str, user, samples: dict) -> list[tuple[str, str, str]]:
    """First page, page 500, each filter, each sortable column both ways, searches, for one list."""
    from urllib.parse import urlencode

    from django.apps import apps
    from django.contrib import admin
    from django.test import RequestFactory
    from django.utils import timezone

    model = apps.get_model(model_label)
    model_admin = admin.site._registry[model]
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    plain = f"{model._meta.app_label}/{model._meta.model_name}"
    name = model._meta.verbose_name_plural
    request = RequestFactory().get(base)
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    pages = [(f"{name}: list", base, plain)]
    rows = model._default_manager.count()
    far = far_page(rows, changelist.list_per_page)
    pages.append((f"{name}: page {far}", f"{base}?p={far}", plain))
    for spec in changelist.filter_specs:
        for label, params in _filter_params(spec, timezone.localdate()):
            pages.append((f"{name}: filter {label}", f"{base}?{urlencode(params)}", plain))
    sortable = model_admin.get_sortable_by(request)
    for index, field in enumerate(changelist.list_display):
        if field == "action_checkbox" or field not in sortable or not changelist.get_ordering_field(field):
            continue
        pages.append((f"{name}: sort {field}", f"{base}?o={index}", plain))
        pages.append((f"{name}: sort -{field}", f"{base}?o=-{index}", plain))
    if changelist.search_fields:
        for kind, term in samples.get(model_label, {}).items():
            pages.append((f"{name}: search {kind} {term!r}", f"{base}?{urlencode({'q': term})}", plain))
    return pages


def all_pages(user) -> list[tuple[str, str, str]]:
    """(label, url, model of the plain baseline list) for every page measured."""
    from django.contrib import admin
    from django.test import RequestFactory

    from inventory.models import Product, Supplier
    from orders.models import Customer, PurchaseOrder, Receipt, SalesOrder, Shipment

    product, supplier = _middle(Product), _middle(Supplier)
    order, po, shipment, receipt = _middle(SalesOrder), _middle(PurchaseOrder), _middle(Shipment), _middle(Receipt)
    customer = _middle(Customer)
    samples = {
        "inventory.product": {"sku": product.sku, "name": "product 12"},
        "inventory.stocklevel": {"sku": product.sku, "name": "product 12"},
        "inventory.stockmovement": {"sku": product.sku},
        "inventory.supplier": {"number": supplier.code, "name": "supplier 12"},
        "inventory.supplierproduct": {"sku": product.sku, "name": "supplier 12"},
        "orders.customer": {"number": customer.code, "name": "customer 12"},
        "orders.salesorder": {"number": order.number, "sku": product.sku, "name": "customer 12"},
        "orders.purchaseorder": {"number": po.number, "sku": product.sku, "name": "supplier 12"},
        "orders.shipment": {"number": shipment.number, "sku": product.sku, "name": "customer 12"},
        "orders.receipt": {"number": receipt.number, "name": "supplier 12"},
    }
    pages = [("dashboard", "/admin/", "inventory/product")]
    for label in BIG_LISTS:
        pages.extend(list_pages(label, user, samples))
    for model, model_admin in admin.site._registry.items():
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        if model._meta.app_label not in ("inventory", "orders"):
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        plain = f"{model._meta.app_label}/{model._meta.model_name}"
        name = model._meta.verbose_name_plural
        if label not in BIG_LISTS:
            pages.append((f"{name}: list", base, plain))
        row = _middle(model)
        if row is not None:
            pages.append((f"{name}: change", f"{base}{row.pk}/change/", plain))
            if hasattr(model_admin, "history_view"):
                pages.append((f"{name}: history", f"{base}{row.pk}/history/", plain))
        request = RequestFactory().get(f"{base}add/")
        request.user = user
        if model_admin.has_add_permission(request):  # the ledger has no add page (403 by design)
            pages.append((f"{name}: add", f"{base}add/", plain))
    ac = "/admin/autocomplete/?app_label={}&model_name={}&field_name={}&term={}"
    pages += [
        ("autocomplete product ''", ac.format("inventory", "stocklevel", "product", ""), "inventory/product"),
        (
            "autocomplete product 'product 12'",
            ac.format("inventory", "stocklevel", "product", "product+12"),
            "inventory/product",
        ),
        (
            "autocomplete product by sku",
            ac.format("inventory", "stocklevel", "product", product.sku),
            "inventory/product",
        ),
        ("autocomplete customer ''", ac.format("orders", "salesorder", "customer", ""), "orders/customer"),
        ("autocomplete supplier ''", ac.format("orders", "purchaseorder", "supplier", ""), "inventory/supplier"),
        ("chooser: open sales orders ''", ac.format("orders", "shipment", "sales_order", ""), "orders/salesorder"),
        (
            "chooser: open sales orders by number",
            ac.format("orders", "shipment", "sales_order", order.number[:7]),
            "orders/salesorder",
        ),
        ("chooser: receivable POs ''", ac.format("orders", "receipt", "purchase_order", ""), "orders/purchaseorder"),
    ]
    pages += api_pages(samples)
    return pages


#: the API search measured for each list with ``search_fields`` (the admin's sample of that kind)
API_SEARCH_KINDS = ("name", "number", "sku")


def api_pages(samples: dict) -> list[tuple[str, str, str]]:
    """Every REST API list (``/api/v1/``, the router's): first page, page 500 (or the last) of the lists
    paged by number (the ledger's cursor pages never count), and a search where the list offers one."""
    from urllib.parse import urlencode

    from rest_framework.pagination import PageNumberPagination

    from backoffice.api_urls import router

    pages = []
    for prefix, viewset, _basename in router.registry:
        model = viewset.queryset.model
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        plain = f"{model._meta.app_label}/{model._meta.model_name}"
        base = f"/api/v1/{prefix}/"
        pages.append((f"API {prefix}: list", base, plain))
        paginator = viewset.pagination_class
        if paginator and issubclass(paginator, PageNumberPagination):
            rows = model._default_manager.count()
            far = far_page(rows, paginator.page_size)
            pages.append((f"API {prefix}: page {far}", f"{base}?page={far}", plain))
        if getattr(viewset, "search_fields", None):
            kinds = samples.get(label, {})
            kind = next((kind for kind in API_SEARCH_KINDS if kind in kinds), None)
            if kind:
                term = kinds[kind]
                pages.append((f"API {prefix}: search {kind} {term!r}", f"{base}?{urlencode({'search': term})}", plain))
    return pages


def timed(client, url: str, requests: int) -> tuple[int, list[float], int, float, str]:
    """Status, server times, queries, the slowest query's time (ms) and its SQL (from one extra request)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    status = client.get(url, secure=True).status_code  # warm caches
    with CaptureQueriesContext(connection) as captured:
        client.get(url, secure=True)
        queries = len(captured)
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default={"time": 0, "sql": ""})
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url, secure=True)
        times.append((time.perf_counter() - started) * 1000)
    return status, times, queries, float(slowest["time"]) * 1000, slowest["sql"]


def login_verified(client, user):
    """Sign ``user`` in with a session that has done its two-factor step (as after a token)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    device, _ = StaticDevice.objects.get_or_create(user=user, name="bench")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def child(
    products: int, movements: int, orders: int, lines_per_order: int, requests: int, match: str, show_sql: float
) -> None:
    # The API's per-user throttle (1,200 a minute) would answer 429 to a benchmark's burst; it still runs.
    os.environ["DJANGO_API_THROTTLE_USER"] = "1000000/minute"
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    seeded = seed(products, movements, orders, lines_per_order)
    # A worker as gunicorn starts one (backoffice.wsgi): URLs loaded, startup objects frozen for the GC.
    import backoffice.wsgi  # noqa: F401

    print(
        f"== pages on {database_label()}: {products:,} products, {movements:,} movements, {orders:,} sales orders "
        f"(x{lines_per_order} lines), {orders // 5:,} purchase orders; seeding {seeded:.1f} s; "
        f"{requests} requests per page",
        flush=True,
    )
    user = get_user_model().objects.get(username="bench")
    client = Client()
    login_verified(client, user)
    # Plain static storage: production's manifest storage needs ``collectstatic``, which a benchmark skips.
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": static}
    results = []
    with override_settings(ROOT_URLCONF=plain_urlconf(), ALLOWED_HOSTS=["testserver"], STORAGES=storages):
        baseline: dict[str, float] = {}
        print(
            f"  {'page':<58} {'status':>6} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'plain p50':>9} {'ratio':>6} "
            f"{'max q ms':>8}"
        )
        for label, url, model in all_pages(user):
            if match and not any(part.strip().lower() in label.lower() for part in match.split(",")):
                continue
            if model not in baseline:
                _status, times, _queries, _ms, _sql = timed(client, f"/plain/{model}/", requests)
                baseline[model] = statistics.median(times)
            status, times, queries, slowest_ms, slowest_sql = timed(client, url, requests)
            p50, top = statistics.median(times), p95(times)
            ratio = p50 / baseline[model]
            miss = top > TARGET_P95_MS or ratio > TARGET_RATIO or queries > TARGET_QUERIES or status >= 400
            results.append((label, status, queries, p50, top, ratio, miss))
            print(
                f"  {label[:58]:<58} {status:>6} {queries:>7} {p50:>8.1f} {top:>8.1f} "
                f"{baseline[model]:>9.1f} {ratio:>5.1f}x {slowest_ms:>8.1f}{'  MISS' if miss else ''}",
                flush=True,
            )
            if show_sql and slowest_ms >= show_sql:
                print(f"      slowest query: {slowest_sql[:1500]}", flush=True)
    misses = [row for row in results if row[6]]
    print(
        f"\n  {len(results)} pages; {len(misses)} over a target (p95 <= {TARGET_P95_MS} ms, <= {TARGET_RATIO}x plain, "
        f"<= {TARGET_QUERIES} queries); worst p95 {max((r[4] for r in results), default=0):.0f} ms, "
        f"worst ratio {max((r[5] for r in results), default=0):.1f}x, "
        f"most queries {max((r[2] for r in results), default=0)}"
    )
    for label, status, queries, p50, top, ratio, _miss in sorted(results, key=lambda r: -r[4])[:10]:
        print(f"  slowest: {label:<58} {status:>4} {queries:>3} q  p50 {p50:7.1f}  p95 {top:7.1f}  {ratio:4.1f}x")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=int(os.environ.get("BENCH_PAGES_PRODUCTS", 20_000)))
    parser.add_argument("--movements", type=int, default=int(os.environ.get("BENCH_PAGES_MOVEMENTS", 200_000)))
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_PAGES_ORDERS", 10_000)))
    parser.add_argument("--lines-per-order", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument(
        "--keep",
        default="",
        help="seed a kept database once (/tmp/backoffice-bench-NAME.sqlite3, "
        "<DATABASE_URL name>_NAME) and reuse it in later runs",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="", help="run on one database")
    parser.add_argument(
        "--match", default="", help="only pages whose label contains one of these texts (comma-separated)"
    )
    parser.add_argument(
        "--show-sql", type=float, default=0, help="print the slowest query of pages where it took at least MS"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(
            args.products, args.movements, args.orders, args.lines_per_order, args.requests, args.match, args.show_sql
        )
        return 0
    values = {
        "--products": args.products,
        "--movements": args.movements,
        "--orders": args.orders,
        "--lines-per-order": args.lines_per_order,
        "--requests": args.requests,
        "--match": args.match,
        "--show-sql": args.show_sql,
    }
    return run_per_database(
        __file__, [item for pair in values.items() for item in map(str, pair)], keep=args.keep, only=args.only
    )


if __name__ == "__main__":
    sys.exit(main())
