"""The Unfold sidebar: Inventory / Sales / Purchasing / Reports / Administration.

Items are shown only to users who may view the model behind them; apps add
their entries here as they are built.
"""

from __future__ import annotations

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


def _can_view(perm: str):
    return lambda request: request.user.has_perm(perm)


def _item(title, icon, app, model):
    return {
        "title": title,
        "icon": icon,
        "link": reverse_lazy(f"admin:{app}_{model}_changelist"),
        "permission": _can_view(f"{app}.view_{model}"),
    }


def _item_if_registered(title, icon, app, model):
    """An item for a model whose admin may not be registered yet (apps are built in parallel)."""
    from django.apps import apps
    from django.contrib import admin

    return _item(title, icon, app, model) if admin.site.is_registered(apps.get_model(app, model)) else None


def sidebar_navigation(request):
    groups = [
        {
            "title": _("Overview"),
            "items": [{"title": _("Dashboard"), "icon": "dashboard", "link": reverse_lazy("admin:index")}],
        },
        {
            "title": _("Inventory"),
            "collapsible": True,
            "items": [
                _item(_("Products"), "inventory_2", "inventory", "product"),
                _item(_("Categories"), "category", "inventory", "category"),
                _item(_("Stock levels"), "stacks", "inventory", "stocklevel"),
                _item(_("Stock ledger"), "receipt_long", "inventory", "stockmovement"),
                _item(_("Adjustments"), "rule", "inventory", "stockadjustment"),
                _item(_("Transfers"), "swap_horiz", "inventory", "stocktransfer"),
                _item(_("Warehouses"), "warehouse", "inventory", "warehouse"),
            ],
        },
        {
            "title": _("Sales"),
            "collapsible": True,
            "items": [
                _item_if_registered(_("Sales orders"), "shopping_cart", "orders", "salesorder"),
                _item_if_registered(_("Customers"), "groups", "orders", "customer"),
                _item_if_registered(_("Shipments"), "local_shipping", "orders", "shipment"),
                _item_if_registered(_("Carriers"), "airport_shuttle", "orders", "carrier"),
            ],
        },
        {
            "title": _("Purchasing"),
            "collapsible": True,
            "items": [
                _item_if_registered(_("Purchase orders"), "shopping_bag", "orders", "purchaseorder"),
                _item_if_registered(_("Receipts"), "inventory", "orders", "receipt"),
                _item(_("Suppliers"), "factory", "inventory", "supplier"),
                _item(_("Supplier products"), "sell", "inventory", "supplierproduct"),
            ],
        },
        {"title": _("Reports"), "collapsible": True, "items": []},
        {
            "title": _("Administration"),
            "collapsible": True,
            "items": [
                _item(_("Users"), "person", "auth", "user"),
                _item(_("Roles"), "group", "auth", "group"),
                _item(_("Scheduled tasks"), "schedule", "django_q", "schedule"),
            ],
        },
    ]
    for group in groups:
        group["items"] = [item for item in group["items"] if item is not None]
    return [group for group in groups if group["items"]]
