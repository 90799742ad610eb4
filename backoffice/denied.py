"""The 403 page (``handler403``): inside the admin's frame, saying which role may open the page, with a way back.

The roles come from ``backoffice.roles`` (the permission the refused admin page needs, looked up from its URL
name: list/change → view, add → add, delete → delete, anything else → change). Pages that are not admin model
pages say only what was refused.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from backoffice.roles import ADMIN, ROLE_EXTRA_PERMISSIONS, ROLE_PERMISSIONS

ACTION_OF_VIEW = {"changelist": "view", "change": "view", "history": "view", "add": "add", "delete": "delete"}
ROLE_ORDER = ("Sales", "Purchasing", "Warehouse", "Manager", "Viewer", ADMIN)


def roles_with(permission: str) -> list[str]:
    """The roles whose group holds ``permission`` ("app.codename"); Admin holds every one."""
    app_label, codename = permission.split(".", 1)
    action, _sep, model = codename.partition("_")
    holders = {ADMIN}
    for role, models in ROLE_PERMISSIONS.items():
        if action in models.get(f"{app_label}.{model}", ()):
            holders.add(role)
    for role, extras in ROLE_EXTRA_PERMISSIONS.items():
        if permission in extras:
            holders.add(role)
    return [role for role in ROLE_ORDER if role in holders]


def needed_permission(path: str, method: str) -> tuple[str, str] | None:
    """(permission, what the page is) for an admin model URL, else None."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.namespace != "admin" or not match.url_name:
        return None
    for model in apps.get_models():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if match.url_name.startswith(prefix):
            view = match.url_name.removeprefix(prefix)
            action = ACTION_OF_VIEW.get(view, "change")
            if view == "change" and method == "POST":
                action = "change"
            return f"{model._meta.app_label}.{action}_{model._meta.model_name}", str(model._meta.verbose_name_plural)
    return None


def _back_url(request) -> str:
    referer = request.headers.get("Referer", "")
    if (
        referer
        and referer != request.build_absolute_uri()
        and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return referer
    return ""


def permission_denied(request, exception=None) -> TemplateResponse:
    """``handler403``: what was refused, which role may do it, and a way back."""
    message = str(exception or "").strip()
    needed = needed_permission(request.path, request.method)
    roles = roles_with(needed[0]) if needed else []
    if not message:
        message = (
            _("You may not open this page of %(what)s with your role.") % {"what": needed[1]}
            if needed
            else _("You may not open this page with your role.")
        )
    context = {
        **admin.site.each_context(request),
        "title": _("Not allowed"),
        "message": message,
        "roles": roles,
        "back_url": _back_url(request),
    }
    return TemplateResponse(request, "admin/denied.html", context, status=403)
