"""The start page per role: time and queries, cold (cache off) and warm (cached per scope).

On the Northwind demo (``load_demo``) and, with ``--products N``, on ``seed_scale`` data added to it
(``--orders`` sales orders too). For each role (a Warehouse user staffs the first warehouse) it prints:

* ``figures``: ``backoffice.start_pages.start_page`` alone — queries and p50 / max ms with the cache
  off (``DASHBOARD_CACHE_SECONDS=0``, every figure computed: the "before"), and warm (cached);
* ``page``: the whole admin index through the test client (middleware, template) — cold and warm.

Target (issue 6 §6): ≤ 150 ms on the demo data. Prints figures; asserts nothing.

    python benchmarks/dashboard.py [--requests N] [--products N] [--movements N] [--orders N] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _django import database_label, run_per_database, setup_django

TARGET_MS = 150
ROLES = ["Admin", "Manager", "Sales", "Purchasing", "Warehouse", "Viewer"]


def _users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from inventory.models import Warehouse

    users = {}
    for role in ROLES:
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{role.lower()}", defaults={"is_staff": True})
        user.groups.set([Group.objects.get(name=role)])
        users[role] = user
    Warehouse.objects.order_by("code").first().staff.add(users["Warehouse"])
    return users


def _fresh(user):
    """The user as a new request sees it (no cached permissions or warehouses)."""
    return type(user).objects.get(pk=user.pk)


def _measure(call, requests: int) -> tuple[int, float, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as run:
        call()
    queries = len(run.captured_queries)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return queries, statistics.median(times), max(times)


def child(requests: int, products: int, movements: int, orders: int) -> None:
    setup_django()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client, override_settings
    from pages import login_verified

    from backoffice.start_pages import start_page

    call_command("setup_roles", verbosity=0)
    started = time.perf_counter()
    call_command("load_demo", verbosity=0)
    label = "Northwind demo"
    if products or orders:
        call_command("seed_scale", products=products, movements=movements, orders=orders, verbosity=0)
        label += f" + seed_scale ({products:,} products, {movements:,} movements, {orders:,} orders)"
    print(f"== start page on {database_label()}: {label}; loaded in {time.perf_counter() - started:.1f} s")
    users = _users()
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": static}
    print(
        f"  {'role':<11} {'what':<8} {'cold q':>6} {'cold p50':>9} {'cold max':>9} "
        f"{'warm q':>6} {'warm p50':>9} {'warm max':>9}  target {TARGET_MS} ms"
    )
    with override_settings(ALLOWED_HOSTS=["testserver"], STORAGES=storages):
        client = Client()
        login_verified(client, users["Admin"])
        base = _measure(lambda: client.get("/admin/password_change/", secure=True), requests)
        print(f"  {'(baseline: a plain admin form page, Admin)':<34} {base[0]:>6} {base[1]:>9.1f} {base[2]:>9.1f}")
        for role, user in users.items():
            client = Client()
            login_verified(client, user)
            for what, call in (
                ("figures", lambda user=user: start_page(_fresh(user))),
                ("page", lambda client=client: client.get("/admin/", secure=True)),
            ):
                with override_settings(DASHBOARD_CACHE_SECONDS=0):
                    cold = _measure(call, requests)
                cache.clear()
                call()  # fills the cache
                warm = _measure(call, requests)
                miss = " MISS" if cold[1] > TARGET_MS else ""
                print(
                    f"  {role:<11} {what:<8} {cold[0]:>6} {cold[1]:>9.1f} {cold[2]:>9.1f} "
                    f"{warm[0]:>6} {warm[1]:>9.1f} {warm[2]:>9.1f}{miss}",
                    flush=True,
                )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--products", type=int, default=0)
    parser.add_argument("--movements", type=int, default=0)
    parser.add_argument("--orders", type=int, default=0)
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
