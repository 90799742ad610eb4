"""Unfold dashboard and environment badge callbacks."""

from __future__ import annotations

from django.conf import settings

from inventory.selectors import dashboard_figures, recent_movements, reorder_levels


def dashboard_callback(request, context):
    """Live figures for the admin index page (templates/admin/index.html)."""
    context.update(
        {
            "figures": dashboard_figures(),
            "reorder_levels": reorder_levels(limit=8),
            "recent_movements": recent_movements(limit=8),
        }
    )
    return context


def environment_callback(request):
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
