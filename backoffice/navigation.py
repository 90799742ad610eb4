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
        {"title": _("Sales"), "collapsible": True, "items": []},
        {
            "title": _("Purchasing"),
            "collapsible": True,
            "items": [
                _item(_("Suppliers"), "local_shipping", "inventory", "supplier"),
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
    return [group for group in groups if group["items"]]
