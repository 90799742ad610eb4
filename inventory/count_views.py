"""Admin pages of stock counts: the count sheet (choose, then print) and the review before applying a count.

Thin views over ``inventory.counts`` (reads); applying is the adjustment admin's *Apply* action, which calls
``inventory.services.stock_adjustment_apply``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.counts import CountSheetForm, adjustment_review, count_sheet_levels, review_totals


def _sheet(request, *, warehouse, category, blind: bool, adjustment=None):
    levels = count_sheet_levels(user=request.user, warehouse=warehouse, category=category)
    return render(
        request,
        "inventory/count_sheet.html",
        {
            "company_name": settings.COMPANY_NAME or admin.site.site_header,
            "warehouse": warehouse,
            "category": category,
            "blind": blind,
            "adjustment": adjustment,
            "levels": levels,
            "printed_at": timezone.localtime(),
            "back_url": reverse("admin:inventory_stockadjustment_change", args=[adjustment.pk])
            if adjustment
            else reverse("admin:inventory_stockadjustment_changelist"),
        },
    )


def count_sheet_view(model_admin, request):
    """Choose a warehouse (a category, blind or not), then the printable sheet."""
    form = CountSheetForm(request.GET or None, user=request.user)
    if request.GET and form.is_valid():
        data = form.cleaned_data
        return _sheet(request, warehouse=data["warehouse"], category=data["category"], blind=data["blind"])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Count sheet"),
        "form": form,
    }
    return TemplateResponse(request, "admin/inventory/count_sheet_form.html", context)


def _adjustment(model_admin, request, object_id):
    adjustment = model_admin.get_object(request, unquote(str(object_id)))
    if adjustment is None:
        raise Http404(_("No such adjustment."))
    return adjustment


def adjustment_sheet_view(model_admin, request, object_id):
    """The sheet of a count's warehouse (blind when the count is), to count on paper and type in after."""
    adjustment = _adjustment(model_admin, request, object_id)
    return _sheet(
        request, warehouse=adjustment.warehouse, category=None, blind=adjustment.blind_count, adjustment=adjustment
    )


def review_view(model_admin, request, object_id):
    """Expected vs counted per line, the difference and its value, and what goes back on backorder; the Apply
    button posts to the admin's *Apply* action."""
    adjustment = _adjustment(model_admin, request, object_id)
    if not model_admin.has_apply_permission(request, adjustment):
        raise PermissionDenied
    rows = adjustment_review(adjustment)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("%(number)s · Review and apply") % {"number": adjustment.number},
        "adjustment": adjustment,
        "rows": rows,
        "totals": review_totals(rows),
        "apply_url": reverse("admin:inventory_stockadjustment_apply_document", args=[adjustment.pk]),
        "back_url": reverse("admin:inventory_stockadjustment_change", args=[adjustment.pk]),
    }
    return TemplateResponse(request, "admin/inventory/count_review.html", context)
