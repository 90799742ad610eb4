"""The reorder report's page action: *Create draft purchase orders* (selected lines, or all of them).

Mounted under ``/admin/report/`` in the ``reports`` namespace (``ReorderReport.urls()``; ``reports/urls.py``
puts every view behind ``admin.site.admin_view``: signed-in staff, CSRF-checked):

* ``POST reorder/create-drafts/`` (``reports:reorder-create-drafts``) — the report's parameters
  (``warehouse``, ``supplier``) and the selected rows' keys (``selected``; none = every line);
  needs ``orders.add_purchaseorder`` and the right to run the report, else 403. Calls
  ``reports.reorder.create_reorder_drafts`` and redirects to
* ``GET reorder/drafts-created/`` (``reports:reorder-drafts-created``) — what was created, what was
  skipped and the products without a preferred supplier (kept in the session, so reloading it
  changes nothing).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import urlencode

from backoffice.errors import BusinessError
from backoffice.scoping import scope_queryset
from orders.models import PurchaseOrder
from reports.reorder import ADD_PURCHASE_ORDER, create_reorder_drafts

SESSION_KEY = "reports.reorder_drafts"
PARAMS = ("warehouse", "supplier")


def _report_class():
    from reports.registry import get_report

    return get_report("reorder")


def _report_url(params: dict) -> str:
    try:
        url = reverse("reports:detail", args=["reorder"])
    except NoReverseMatch:
        url = "/admin/report/reorder/"
    params = {key: value for key, value in params.items() if value}
    return f"{url}?{urlencode(params)}" if params else url


def _may_create(user) -> bool:
    return user.has_perm(ADD_PURCHASE_ORDER) and _report_class().allowed(user)


def create_drafts(request):
    """POST: draft purchase orders for the selected reorder lines (or all), then the outcome page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not _may_create(request.user):
        raise PermissionDenied
    raw = {key: request.POST.get(key, "").strip() for key in PARAMS}
    back = _report_url(raw)
    report = _report_class()
    filterset = report.filterset_class(data={k: v for k, v in raw.items() if v}, queryset=report.model.objects.none())
    if not filterset.is_valid():
        problems = "; ".join(f"{key}: {' '.join(errors)}" for key, errors in filterset.errors.items())
        messages.error(request, f"No purchase order was drafted — invalid parameters: {problems}")
        return HttpResponseRedirect(back)
    selected = [value.strip() for value in request.POST.getlist("selected") if value.strip()]
    if any(not (value.isascii() and value.isdigit()) for value in selected):
        messages.error(request, "No purchase order was drafted — the selection is not a list of report lines.")
        return HttpResponseRedirect(back)
    try:
        result = create_reorder_drafts(
            user=request.user,
            warehouse=filterset.form.cleaned_data.get("warehouse"),
            supplier=filterset.form.cleaned_data.get("supplier"),
            keys=[int(value) for value in selected] if selected else None,
        )
    except BusinessError as error:
        messages.error(request, f"No purchase order was drafted: {error}")
        return HttpResponseRedirect(back)
    request.session[SESSION_KEY] = {
        "created": [order.pk for order in result.created],
        "extended": [order.pk for order in result.extended],
        "line_count": len(result.lines),
        "already_on_order": [_line(line) for line in result.already_on_order],
        "without_supplier": [_line(line) for line in result.without_supplier],
        "not_needed": len(result.not_needed),
        "back": back,
    }
    level = messages.SUCCESS if result.orders else messages.WARNING
    messages.add_message(request, level, result.summary())
    return HttpResponseRedirect(reverse("reports:reorder-drafts-created"))


def _line(line) -> dict:
    return {
        "sku": line.sku,
        "product": line.product,
        "warehouse": line.warehouse,
        "suggested_quantity": line.suggested_quantity,
        "incoming": line.incoming,
    }


def drafts_created(request):
    """GET: the outcome of the last *Create draft purchase orders* of this session."""
    if not _may_create(request.user):
        raise PermissionDenied
    outcome = request.session.get(SESSION_KEY)
    if outcome is None:
        return HttpResponseRedirect(_report_url({}))
    orders = (
        scope_queryset(request.user, PurchaseOrder.objects.all())
        .filter(pk__in=[*outcome["created"], *outcome["extended"]])
        .select_related("supplier", "warehouse")
        .prefetch_related("lines")
        .order_by("warehouse__code", "supplier__code")
    )
    created = set(outcome["created"])
    context = {
        **admin.site.each_context(request),
        "title": "Draft purchase orders",
        "orders": [
            {
                "order": order,
                "new": order.pk in created,
                "line_count": len(order.lines.all()),
                "url": reverse("admin:orders_purchaseorder_change", args=[order.pk]),
            }
            for order in orders
        ],
        "outcome": outcome,
        "changelist_url": reverse("admin:orders_purchaseorder_changelist") + "?status__exact=draft",
    }
    return TemplateResponse(request, "admin/reports/reorder_drafts_created.html", context)


urlpatterns = [
    path("reorder/create-drafts/", create_drafts, name="reorder-create-drafts"),
    path("reorder/drafts-created/", drafts_created, name="reorder-drafts-created"),
]
