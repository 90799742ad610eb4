"""Unfold dashboard and environment badge callbacks."""

from __future__ import annotations

from django.conf import settings

from backoffice.start_pages import start_page


def dashboard_callback(request, context):
    """The start page (templates/admin/index.html): ``backoffice.start_pages.start_page``.

    Figures and lists cover what the user may see (``backoffice.scoping``: a Warehouse user's own
    warehouses); a user without a role, or a Warehouse user without a warehouse, gets a message instead.
    """
    context.update(start_page(request.user))
    context["currency"] = getattr(settings, "CURRENCY", "")
    return context


def environment_callback(request):
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
