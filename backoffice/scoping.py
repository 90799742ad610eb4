"""Warehouse scoping: the one rule deciding which rows of warehouse-bound models a user may see.

Every outlet that shows rows of a warehouse-bound model (admin lists, change,
history and version pages, inlines, choosers and autocomplete, exports, the
dashboard, the API) narrows its queryset with ``scope_queryset(user, queryset)``:

* the user needs the model's ``view`` permission (a role), else sees nothing;
* a Warehouse-role user who is neither Admin nor Manager sees only the rows of
  the warehouses they staff (``Warehouse.staff``); everyone else with the
  permission sees every warehouse (``user_warehouse_ids``).

``WAREHOUSE_LOOKUPS`` says how each model reaches its warehouse. A model with a
foreign key to ``Warehouse``, or to a model that has one (lines, history
models), is *warehouse-bound* and must be listed: ``scope_queryset`` refuses an
unlisted one, and the system check ``backoffice.E100`` (run by ``manage.py
check`` and ``tests/backoffice/test_scoping.py``) names any bound model without
a rule, any admin or inline of a bound model that does not scope its queryset,
and any API viewset that does not.
"""

from __future__ import annotations

import functools

from django.apps import apps
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Q, QuerySet
from simple_history.models import HistoricalChanges

from backoffice.roles import ADMIN, MANAGER, WAREHOUSE

WAREHOUSE_MODEL = "inventory.Warehouse"

#: Model label → lookups from the model to a warehouse (forward foreign keys only, so no row is
#: repeated). A row is visible when any lookup is one of the user's warehouses. The model's
#: simple-history model uses the same lookups (its foreign keys have the same names).
WAREHOUSE_LOOKUPS: dict[str, tuple[str, ...]] = {
    "inventory.Warehouse": ("id",),
    "inventory.StockLevel": ("warehouse",),
    "inventory.StockMovement": ("warehouse",),
    "inventory.StockAdjustment": ("warehouse",),
    "inventory.StockAdjustmentLine": ("adjustment__warehouse",),
    # Warehouse staff see transfers into and out of their warehouses.
    "inventory.StockTransfer": ("from_warehouse", "to_warehouse"),
    "inventory.StockTransferLine": ("transfer__from_warehouse", "transfer__to_warehouse"),
    "orders.SalesOrder": ("warehouse",),
    "orders.SalesOrderLine": ("order__warehouse",),
    "orders.PurchaseOrder": ("warehouse",),
    "orders.PurchaseOrderLine": ("order__warehouse",),
    "orders.Receipt": ("purchase_order__warehouse",),
    "orders.ReceiptLine": ("receipt__purchase_order__warehouse",),
    "orders.Shipment": ("sales_order__warehouse",),
    "orders.ShipmentLine": ("shipment__sales_order__warehouse",),
    "reports.ReorderAlert": ("warehouse",),
}


def user_warehouse_ids(user) -> set[int] | None:
    """Warehouses a user is limited to; ``None`` means all of them.

    A Warehouse-role user without the Admin or Manager role is limited to the
    warehouses they staff. Superusers, Admins, Managers and the other roles
    (they only read, or work across warehouses) are not limited. Anonymous and
    inactive users get no warehouse. Cached on the user for the request.
    """
    cached = getattr(user, "_backoffice_warehouse_ids", False)
    if cached is not False:
        return cached
    scope: set[int] | None = None
    if not (user.is_authenticated and user.is_active):
        scope = set()
    elif not user.is_superuser:
        groups = set(user.groups.values_list("name", flat=True))
        if WAREHOUSE in groups and not groups & {ADMIN, MANAGER}:
            scope = set(user.warehouses.values_list("pk", flat=True))
    user._backoffice_warehouse_ids = scope
    return scope


def _live_model(model):
    """The tracked model of a simple-history model, else the (concrete) model itself."""
    if issubclass(model, HistoricalChanges):
        model = model.instance_type
    return model._meta.concrete_model


def warehouse_lookups(model) -> tuple[str, ...] | None:
    """The registered lookups of ``model`` (or of the model its history tracks); ``None`` when unregistered."""
    return WAREHOUSE_LOOKUPS.get(_live_model(model)._meta.label)


def is_scoped_model(model) -> bool:
    return warehouse_lookups(model) is not None


@functools.cache
def warehouse_bound_models() -> frozenset:
    """Every installed model (history models included) with a relation to Warehouse, or to such a model."""
    bound = {apps.get_model(WAREHOUSE_MODEL)}
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            if model in bound:
                continue
            forward = (f for f in model._meta.get_fields() if f.is_relation and not f.auto_created)
            if any(field.related_model in bound for field in forward):
                bound.add(model)
                changed = True
    return frozenset(bound)


def _view_permission(model) -> str:
    opts = _live_model(model)._meta
    return f"{opts.app_label}.view_{opts.model_name}"


def scope_queryset(user, queryset: QuerySet) -> QuerySet:
    """``queryset`` narrowed to the rows ``user`` may see (the module docstring has the rule).

    Querysets of models that are not warehouse-bound (products, customers…)
    come back unchanged; an unregistered warehouse-bound model raises
    ``ImproperlyConfigured`` rather than leaking.
    """
    model = queryset.model
    lookups = warehouse_lookups(model)
    if lookups is None:
        if model in warehouse_bound_models():
            raise ImproperlyConfigured(
                f"{model._meta.label} is warehouse-bound but has no scope rule: add it to "
                "backoffice.scoping.WAREHOUSE_LOOKUPS."
            )
        return queryset
    if not user.has_perm(_view_permission(model)):
        return queryset.none()
    ids = user_warehouse_ids(user)
    if ids is None:
        return queryset
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{f"{lookup}__in": ids})
    return queryset.filter(condition)


# ---------------------------------------------------------------------------
# The check: no bound model, admin, inline or API endpoint without the rule


def _lookup_problem(label: str, lookup: str) -> str | None:
    """Why ``lookup`` does not lead from model ``label`` to a warehouse over forward foreign keys, or None."""
    warehouse = apps.get_model(WAREHOUSE_MODEL)
    model = apps.get_model(label)
    parts = lookup.split("__")
    for position, name in enumerate(parts):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return f"{label}: {lookup!r} has no field {name!r}"
        last = position == len(parts) - 1
        if last and model is warehouse and field.primary_key:
            return None
        if not (field.many_to_one or field.one_to_one) or field.auto_created:
            return f"{label}: {lookup!r} must follow forward foreign keys"
        model = field.related_model
    return None if model is warehouse else f"{label}: {lookup!r} does not end at a warehouse"


def _admin_problems(admin_site) -> list[str]:
    from simple_history.admin import SimpleHistoryAdmin

    from backoffice.admin_tools import SafeHistoryAdminMixin, WarehouseScopedAdminMixin, WarehouseScopedInlineMixin

    bound = warehouse_bound_models()
    problems = []
    for model, model_admin in admin_site._registry.items():
        if model in bound and not isinstance(model_admin, WarehouseScopedAdminMixin):
            problems.append(f"admin of {model._meta.label} does not use WarehouseScopedAdminMixin")
        history = isinstance(model_admin, SimpleHistoryAdmin)
        if model in bound and history and not isinstance(model_admin, SafeHistoryAdminMixin):
            problems.append(f"admin of {model._meta.label} has history without SafeHistoryAdminMixin")
        for inline in model_admin.inlines:
            if inline.model in bound and not issubclass(inline, WarehouseScopedInlineMixin):
                problems.append(
                    f"inline {inline.__qualname__} of {model._meta.label} ({inline.model._meta.label}) "
                    "does not use WarehouseScopedInlineMixin"
                )
    return problems


def _api_problems(router) -> list[str]:
    from backoffice.api import ScopedQuerysetMixin

    bound = warehouse_bound_models()
    problems = []
    for prefix, viewset, _basename in router.registry:
        queryset = getattr(viewset, "queryset", None)
        if queryset is not None and queryset.model in bound and not issubclass(viewset, ScopedQuerysetMixin):
            problems.append(f"API endpoint {prefix!r} ({viewset.__name__}) does not use ScopedQuerysetMixin")
    return problems


def scoping_problems(*, admin_site=None, router=None) -> list[str]:
    """Everything that would let warehouse-bound rows through unscoped (empty when all is well)."""
    if admin_site is None:
        from django.contrib import admin

        admin_site = admin.site
    if router is None:
        from backoffice.api_urls import router
    problems = [
        f"{model._meta.label} is warehouse-bound but has no entry in WAREHOUSE_LOOKUPS"
        for model in sorted(warehouse_bound_models(), key=lambda m: m._meta.label)
        if not is_scoped_model(model)
    ]
    for label, lookups in WAREHOUSE_LOOKUPS.items():
        try:
            apps.get_model(label)
        except LookupError:
            problems.append(f"WAREHOUSE_LOOKUPS names {label}, which is not an installed model")
            continue
        problems += [problem for lookup in lookups if (problem := _lookup_problem(label, lookup))]
    return problems + _admin_problems(admin_site) + _api_problems(router)


@checks.register(checks.Tags.security)
def check_warehouse_scoping(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(problem, hint="See backoffice/scoping.py and docs/security.md.", id="backoffice.E100")
        for problem in scoping_problems()
    ]
