"""Ctrl+K record search (``backoffice.record_search``) at scale: queries and time per term and role.

On the Northwind demo plus ``seed_scale`` data (``--products`` 100,000 by default, ``--orders`` 2,000):
for a superuser, a Sales user and a Warehouse user (staffing the first warehouse) and a set of terms —
a rare product name, a name every scale product has, a whole SKU, a SKU prefix, a barcode, a customer
name, a document number typed loosely, a bare number, nothing matching — it prints hits, queries,
p50 and max milliseconds of ``search_records`` (the work behind one palette request, before Unfold's
per-user cache). Prints figures; asserts nothing.

    python benchmarks/record_search.py [--products N] [--movements N] [--orders N] [--requests N]
        [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _django import database_label, run_per_database, setup_django

TERMS = [
    ("rare name", "chai"),
    ("common name", "scale product"),
    ("name + number", "product 4242"),
    ("whole SKU", "{sku}"),
    ("SKU prefix", "{sku_prefix}"),
    ("barcode", "{barcode}"),
    ("customer name", "futterkiste"),
    ("order number", "so-{order}"),
    ("bare number", "{order}"),
    ("no match", "zzqx"),
]


def child(requests: int, products: int, movements: int, orders: int) -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.record_search import search_records
    from inventory.models import Product, Warehouse
    from orders.models import SalesOrder

    call_command("setup_roles", verbosity=0)
    started = time.perf_counter()
    call_command("load_demo", verbosity=0)
    call_command("seed_scale", products=products, movements=movements, orders=orders, verbosity=0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"== record search on {database_label()}: demo + {Product.objects.count():,} products, "
        f"{SalesOrder.objects.count():,} sales orders; loaded in {time.perf_counter() - started:.1f} s"
    )
    product = Product.objects.order_by("-pk").first()
    if not product.barcode:
        product.barcode = "4006381333931"
        product.save(update_fields=["barcode"])
    order = SalesOrder.objects.order_by("pk")[SalesOrder.objects.count() // 2]
    values = {
        "sku": product.sku.lower(),
        "sku_prefix": product.sku[:-2],
        "barcode": product.barcode,
        "order": str(int(order.number.split("-")[1])),
    }
    users = {}
    User = get_user_model()
    for role in ("Sales", "Warehouse"):
        user, _ = User.objects.get_or_create(username=f"bench-search-{role.lower()}", defaults={"is_staff": True})
        user.groups.set([Group.objects.get(name=role)])
        users[role] = user
    Warehouse.objects.order_by("code").first().staff.add(users["Warehouse"])
    users["superuser"] = User.objects.create_superuser("bench-search-admin", "a@example.com", "x")

    print(f"  {'user':<10} {'term':<15} {'typed':<16} {'hits':>4} {'queries':>7} {'p50 ms':>8} {'max ms':>8}")
    for name, user in users.items():
        for label, pattern in TERMS:
            term = pattern.format(**values)

            def run(user=user, term=term):
                fresh = User.objects.get(pk=user.pk)  # a new request: no cached permissions
                return search_records(fresh, term)

            with CaptureQueriesContext(connection) as captured:
                hits = run()
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                run()
                times.append((time.perf_counter() - began) * 1000)
            print(
                f"  {name:<10} {label:<15} {term[:16]:<16} {len(hits):>4} {len(captured):>7} "
                f"{statistics.median(times):>8.1f} {max(times):>8.1f}",
                flush=True,
            )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.requests, args.products, args.movements, args.orders)
        return 0
    forwarded = ["--requests", str(args.requests), "--products", str(args.products)]
    forwarded += ["--movements", str(args.movements), "--orders", str(args.orders)]
    return run_per_database(__file__, forwarded, only=args.only)


if __name__ == "__main__":
    sys.exit(main())
