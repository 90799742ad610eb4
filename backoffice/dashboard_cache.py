"""A short-lived cache for the start page's figures, invalidated when stock or orders move.

The start page (``backoffice.start_pages``) computes each figure with one bounded query. The
results are kept in Django's cache (Redis when ``REDIS_URL`` is set, local memory otherwise) for
``DASHBOARD_CACHE_SECONDS`` (default 60), keyed by

* a *version* number, bumped after every transaction that moves stock or changes an order, and
* the *scope*: the set of warehouses the user sees (``backoffice.scoping.user_warehouse_ids``) —
  so every user with the same warehouses shares one entry, and nobody sees another scope's figures.

Who bumps the version:

* ``inventory.services._add_to_counters`` — the single statement every change of ``on_hand`` or
  ``allocated`` goes through (receipts, shipments, adjustments, transfers, reservations) — bumps it
  at once (``bump_version``);
* ``dashboard_changed()``, run on commit:
* ``post_save`` / ``post_delete`` of the documents the start page counts (sales and purchase orders,
  shipments, receipts, stock adjustments, stock levels, customers), connected in ``connect_signals``;
* bulk writers that skip signals (the historical order import, ``seed_scale``) call it themselves.

Only the start page is cached. Services always read the locked rows, so nobody acts on stale
stock: at worst a figure on the start page is ``DASHBOARD_CACHE_SECONDS`` old (local-memory caches
are per process, so with several web processes and no Redis another process may keep the old
figure that long).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

VERSION_KEY = "dashboard:version"
#: Models whose saves change a start-page figure (``app_label.ModelName``).
WATCHED_MODELS = (
    "orders.SalesOrder",
    "orders.PurchaseOrder",
    "orders.Shipment",
    "orders.Receipt",
    "orders.Customer",
    "inventory.StockAdjustment",
    "inventory.StockLevel",
    "inventory.Product",
)


def cache_seconds() -> int:
    return int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 60))


def figures_version() -> int:
    """The current version (1 when none is stored yet)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY, 1)
    return version


def bump_version() -> None:
    """Make every cached figure obsolete now."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not stored yet (or evicted): any new value differs from what was cached under
        cache.set(VERSION_KEY, figures_version() + 1, timeout=None)


def dashboard_changed() -> None:
    """Obsolete the cached figures once the current transaction commits (at once outside one).

    Consecutive writes in the same (save)point of a transaction schedule a single bump: a look at the
    last few callbacks only, so a transaction of many writes stays linear; an extra bump is harmless.
    A bump registered under other savepoints does not count (that savepoint may be rolled back)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        here = set(connection.savepoint_ids)
        if any(func is bump_version and ids == here for ids, func, _robust in connection.run_on_commit[-8:]):
            return
        transaction.on_commit(bump_version)
    else:
        bump_version()


def cached(name: str, scope: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, or its value cached for this version and scope."""
    seconds = cache_seconds()
    if seconds <= 0:
        return compute()
    key = f"dashboard:{figures_version()}:{name}:{scope}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=seconds)
    return value


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata
        return
    dashboard_changed()


def connect_signals() -> None:
    """Bump the version after saves and deletions of the watched models (idempotent)."""
    from django.apps import apps

    for label in WATCHED_MODELS:
        model = apps.get_model(label)
        uid = f"dashboard-cache:{label}"
        post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}:save", weak=False)
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}:delete", weak=False)
