"""Unfold dashboard and environment badge callbacks."""

from __future__ import annotations

from django.conf import settings

from inventory.selectors import dashboard_figures, recent_movements, reorder_levels

# What the dashboard shows, and the permission (role) each part needs.
DASHBOARD_PERMISSIONS = ("inventory.view_product", "inventory.view_stocklevel", "inventory.view_stockmovement")


def dashboard_callback(request, context):
    """Live figures for the admin index page (templates/admin/index.html).

    Figures and lists cover what the user may see (``backoffice.scoping``: a
    Warehouse user's own warehouses); a user without a role sees none of them.
    """
    user = request.user
    if not all(user.has_perm(permission) for permission in DASHBOARD_PERMISSIONS):
        context.update({"figures": {}, "reorder_levels": [], "recent_movements": []})
        return context
    context.update(
        {
            "figures": dashboard_figures(user=user),
            "reorder_levels": reorder_levels(user=user, limit=8),
            "recent_movements": recent_movements(user=user, limit=8),
        }
    )
    return context


def environment_callback(request):
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
