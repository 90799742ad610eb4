"""Order pages outside the model admin's own views: the packing slip and the historical order import.

The import is an admin upload view rather than an import-export resource
because one order spans several rows (one per line): rows are grouped by
``order_number`` in ``orders.importing``. Upload → preview (a dry run inside a
rolled-back transaction, listing every bad row with its row number, column and
reason) → confirm (the same rows, signed into the page, imported for real).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import tablib
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminFileFieldWidget

from backoffice.admin_tools import is_valid_pk, user_warehouse_ids
from backoffice.errors import ImportRejected
from orders import importing
from orders.models import PurchaseOrder, SalesOrder, Shipment


@staff_member_required
def packing_slip(request, object_id):
    """A printable packing slip for one shipment (staff who may view shipments, in their warehouses)."""
    if not request.user.has_perm("orders.view_shipment"):
        raise PermissionDenied
    if not is_valid_pk(Shipment, object_id):
        raise Http404("No such shipment.")
    shipment = get_object_or_404(
        Shipment.objects.select_related("sales_order__customer", "sales_order__warehouse", "carrier"), pk=object_id
    )
    allowed = user_warehouse_ids(request.user)
    if allowed is not None and shipment.sales_order.warehouse_id not in allowed:
        raise PermissionDenied
    lines = shipment.lines.select_related("sales_order_line__product").order_by("sales_order_line_id")
    order = shipment.sales_order
    context = {
        "company_name": getattr(settings, "COMPANY_NAME", "") or admin.site.site_header,
        "shipment": shipment,
        "order": order,
        "customer": order.customer,
        "warehouse": order.warehouse,
        "ship_to": shipment.shipping_address or order.shipping_address or order.customer.shipping_address,
        "lines": lines,
        "total_units": sum(line.quantity for line in lines),
    }
    return render(request, "orders/packing_slip.html", context)


# Historical order import -----------------------------------------------------------------------

IMPORT_SALT = "orders.import"
IMPORT_MAX_AGE = 60 * 60  # an upload's preview can be confirmed within the hour
IMPORT_EXTENSIONS = {".csv": "csv", ".xlsx": "xlsx"}


class OrderImport:
    """What differs between importing sales and purchase orders."""

    def __init__(self, model, run, columns: str, party: str):
        self.model, self.run, self.columns, self.party = model, run, columns, party

    def preview_rows(self, numbers):
        return (
            self.model.objects.filter(number__in=numbers)
            .select_related(self.party)
            .annotate(line_count=Count("lines"))
            .order_by("number")
        )


ORDER_IMPORTS = {
    SalesOrder: OrderImport(
        SalesOrder,
        importing.sales_orders_import,
        "order_number, customer, warehouse, status, order_date, required_date, shipped_date, carrier, "
        "tracking_number, shipping_charge, order_discount_percent, customer_reference, sku, quantity, "
        "unit_price, discount_percent, tax_rate",
        "customer",
    ),
    PurchaseOrder: OrderImport(
        PurchaseOrder,
        importing.purchase_orders_import,
        "order_number, supplier, warehouse, status, order_date, expected_date, supplier_reference, sku, "
        "quantity, unit_cost, quantity_received",
        "supplier",
    ),
}


class OrderFileForm(forms.Form):
    file = forms.FileField(
        label=_("File (.csv or .xlsx)"),
        widget=UnfoldAdminFileFieldWidget(attrs={"accept": ".csv,.xlsx"}),
        help_text=_("One row per order line; the first row holds the column names."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        extension = Path(upload.name).suffix.lower()
        if extension not in IMPORT_EXTENSIONS:
            raise forms.ValidationError(
                _("“%(name)s” is not a CSV or Excel (.xlsx) file. Save the sheet as .csv or .xlsx and upload it again.")
                % {"name": upload.name}
            )
        content = upload.read()
        try:
            if IMPORT_EXTENSIONS[extension] == "csv":
                dataset = tablib.Dataset().load(content.decode("utf-8-sig"), format="csv")
            else:
                dataset = tablib.Dataset().load(content, format="xlsx")
        except Exception as error:  # noqa: BLE001 - any parser failure means the same to the user
            raise forms.ValidationError(
                _("“%(name)s” could not be read as %(kind)s (%(error)s).")
                % {"name": upload.name, "kind": extension[1:].upper(), "error": error.__class__.__name__}
            ) from error
        if not dataset.headers or not len(dataset):
            raise forms.ValidationError(_("The file has no rows under its header row."))
        return [rows_cell_to_json(dict(zip(dataset.headers, row, strict=False))) for row in dataset]


def rows_cell_to_json(row: dict) -> dict:
    """A row that survives signing as JSON: dates as ISO text, decimals as text, header names trimmed."""

    def plain(value):
        if isinstance(value, datetime.date | datetime.datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return {str(key).strip(): plain(value) for key, value in row.items() if key is not None}


class _DryRun(Exception):
    def __init__(self, preview):
        self.preview = preview


def dry_run(spec: OrderImport, rows, user):
    """Run the import and roll it back: what it would create, or the ``ImportRejected`` it raises."""
    try:
        with transaction.atomic():
            result = spec.run(rows=rows, user=user)
            raise _DryRun(list(spec.preview_rows(result.numbers)))
    except _DryRun as done:
        return done.preview


def order_import_view(request, model_admin):
    """Upload, preview and confirm a historical order import for ``model_admin``'s model."""
    spec = ORDER_IMPORTS[model_admin.model]
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": _("Import %(models)s") % {"models": opts.verbose_name_plural},
        "columns": spec.columns,
        "party": spec.party,
    }
    form = OrderFileForm()
    if request.method == "POST" and "payload" in request.POST:
        try:
            rows = signing.loads(request.POST["payload"], salt=IMPORT_SALT, max_age=IMPORT_MAX_AGE)
        except signing.BadSignature:
            messages.error(request, _("The preview expired or was altered: upload the file again."))
            return HttpResponseRedirect(request.path)
        try:
            result = spec.run(rows=rows, user=request.user)
        except ImportRejected as rejected:
            context["errors"] = rejected.errors
        else:
            messages.success(
                request,
                _("Imported %(orders)s orders with %(lines)s lines: %(first)s … %(last)s.")
                % {
                    "orders": result.created,
                    "lines": result.lines,
                    "first": result.numbers[0] if result.numbers else "",
                    "last": result.numbers[-1] if result.numbers else "",
                },
            )
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    elif request.method == "POST":
        form = OrderFileForm(request.POST, request.FILES)
        if form.is_valid():
            rows = form.cleaned_data["file"]
            context["file_name"] = request.FILES["file"].name
            try:
                context["preview"] = dry_run(spec, rows, request.user)
            except ImportRejected as rejected:
                context["errors"] = rejected.errors
            else:
                context["payload"] = signing.dumps(rows, salt=IMPORT_SALT, compress=True)
                context["row_count"] = len(rows)
    context["form"] = form
    return TemplateResponse(request, "admin/orders/import_orders.html", context)
