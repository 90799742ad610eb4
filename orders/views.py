"""Order pages outside the model admin's own views: the packing slip and the historical order import.

The import is an admin upload view rather than an import-export resource
because one order spans several rows (one per line): rows are grouped by
``order_number`` in ``orders.importing``. Upload → preview (a dry run inside a
rolled-back transaction, listing every bad row with its row number, column and
reason) → confirm (the file stored by the preview, found by its token only for
the same user and session, imported for real) — see ``backoffice.imports``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminFileFieldWidget

from backoffice.admin_tools import is_valid_pk
from backoffice.errors import ImportRejected, RowError
from backoffice.import_admin import outcome_job_context, preview_status_context
from backoffice.imports import (
    PREVIEW_ROWS,
    ImportTarget,
    Outcome,
    PreviewExpired,
    first_rows,
    import_confirm,
    import_preview_get,
    import_upload,
    outcome_of_rejection,
    request_session_key,
)
from backoffice.scoping import scope_queryset
from backoffice.uploads import Sheet, UploadRefused, file_format_for, read_upload
from orders import importing
from orders.models import PurchaseOrder, SalesOrder, Shipment


@staff_member_required
def packing_slip(request, object_id):
    """A printable packing slip for one shipment (staff who may view shipments, in their warehouses)."""
    if not request.user.has_perm("orders.view_shipment"):
        raise PermissionDenied
    if not is_valid_pk(Shipment, object_id):
        raise Http404("No such shipment.")
    # Another warehouse's shipment is "not found", like on every other page (backoffice.scoping).
    shipments = Shipment.objects.select_related("sales_order__customer", "sales_order__warehouse", "carrier")
    shipment = get_object_or_404(scope_queryset(request.user, shipments), pk=object_id)
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


class OrderImport(ImportTarget):
    """Sales or purchase orders from a sheet, through the import engine (``backoffice.imports``)."""

    def __init__(self, name: str, model, run, columns: str, party: str):
        self.name, self.model, self.run, self.columns, self.party = name, model, run, columns, party

    def preview_rows(self, numbers):
        return (
            self.model.objects.filter(number__in=numbers)
            .select_related(self.party)
            .annotate(lines_found=Count("lines"))
            .order_by("number")
        )

    def _outcome(self, sheet: Sheet, call) -> Outcome:
        try:
            numbers, orders = call()
        except ImportRejected as rejected:
            return outcome_of_rejection(rejected, sheet)
        outcome = Outcome(new=len(numbers), columns=list(sheet.headers), row_count=len(sheet), notes=list(sheet.notes))
        outcome.rows = first_rows(sheet)
        outcome.result = orders
        return outcome

    def validate(self, sheet: Sheet, user) -> Outcome:
        """A dry run (rolled back): the orders it would create, the first ``PREVIEW_ROWS`` of them listed."""
        return self._outcome(sheet, lambda: dry_run(self, sheet.records(), user))

    def apply(self, sheet: Sheet, user) -> Outcome:
        def run():
            result = self.run(rows=sheet.records(), user=user, first_row=sheet.first_row)
            return result.numbers, result

        return self._outcome(sheet, run)


SALES_ORDER_IMPORT = OrderImport(
    "orders.views.SALES_ORDER_IMPORT",
    SalesOrder,
    importing.sales_orders_import,
    "order_number, customer, warehouse, status, order_date, required_date, shipped_date, carrier, "
    "tracking_number, shipping_charge, order_discount_percent, customer_reference, sku, quantity, "
    "unit_price, discount_percent, tax_rate",
    "customer",
)
PURCHASE_ORDER_IMPORT = OrderImport(
    "orders.views.PURCHASE_ORDER_IMPORT",
    PurchaseOrder,
    importing.purchase_orders_import,
    "order_number, supplier, warehouse, status, order_date, expected_date, supplier_reference, sku, "
    "quantity, unit_cost, quantity_received",
    "supplier",
)
ORDER_IMPORTS = {SalesOrder: SALES_ORDER_IMPORT, PurchaseOrder: PURCHASE_ORDER_IMPORT}


class OrderFileForm(forms.Form):
    file = forms.FileField(
        label=_("File (.csv or .xlsx)"),
        widget=UnfoldAdminFileFieldWidget(attrs={"accept": ".csv,.xlsx"}),
        help_text=_("One row per order line; the first row holds the column names."),
    )

    def clean_file(self):
        """The upload read by the one safe reader (limits, encodings, XLSX checks): a ``Sheet``."""
        upload = self.cleaned_data["file"]
        file_format = file_format_for(upload.name)
        if file_format is None:
            raise forms.ValidationError(
                _("“%(name)s” is not a CSV or Excel (.xlsx) file. Save the sheet as .csv or .xlsx and upload it again.")
                % {"name": upload.name}
            )
        try:
            return read_upload(upload, file_format=file_format, name=upload.name)
        except UploadRefused as refused:
            raise forms.ValidationError(refused.message) from None


class _DryRun(Exception):
    def __init__(self, numbers, preview):
        self.numbers, self.preview = numbers, preview


def dry_run(spec: OrderImport, rows, user):
    """Run the import and roll it back: (every order number, the first orders) or the ``ImportRejected`` it raises."""
    try:
        with transaction.atomic():
            result = spec.run(rows=rows, user=user)
            raise _DryRun(result.numbers, list(spec.preview_rows(result.numbers[:PREVIEW_ROWS])))
    except _DryRun as done:
        return done.numbers, done.preview


def _expired(request, error: PreviewExpired):
    messages.error(request, error.message)
    return HttpResponseRedirect(request.path)


def _imported(request, opts, result) -> HttpResponseRedirect:
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


def order_import_view(request, model_admin):
    """Upload, preview and confirm a historical order import for ``model_admin``'s model.

    The preview stores the file as an ``ImportPreview`` bound to this user and
    session; confirm names only its token. Files above ``IMPORT_SYNC_MAX_ROWS``
    are validated and imported in the background: ``?preview=<token>`` is their
    status page.
    """
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
    confirming = request.method == "POST" and not request.FILES and {"token", "_confirm", "payload"} & set(request.POST)
    if request.method == "GET" and "preview" in request.GET:
        try:
            preview = import_preview_get(
                token=request.GET["preview"], user=request.user, session_key=request_session_key(request)
            )
            if preview.target != spec.name:
                raise PreviewExpired()
        except PreviewExpired as expired:
            return _expired(request, expired)
        context.update(preview_status_context(preview))
        context["status_page"] = True
    elif confirming:
        try:
            preview, outcome = import_confirm(
                token=request.POST.get("token"),
                user=request.user,
                session_key=request.session.session_key,
                targets={spec.name},
            )
        except PreviewExpired as expired:
            return _expired(request, expired)
        if outcome is None:
            return HttpResponseRedirect(f"{request.path}?preview={preview.token}")
        if outcome.ok:
            return _imported(request, opts, outcome.result)
        _show_errors(request, context, outcome)
    elif request.method == "POST":
        form = OrderFileForm(request.POST, request.FILES)
        if form.is_valid():
            sheet = form.cleaned_data["file"]
            upload = request.FILES["file"]
            context["file_name"] = upload.name
            context["notes"] = sheet.notes
            preview, outcome = import_upload(
                upload=upload, sheet=sheet, target=spec, user=request.user, session_key=request_session_key(request)
            )
            if outcome is None:
                return HttpResponseRedirect(f"{request.path}?preview={preview.token}")
            context.update(outcome_job_context(outcome))
            if preview is None:
                _show_errors(request, context, outcome)
            else:
                context["preview"] = outcome.result
                context["order_count"] = outcome.new
                context["token"] = preview.token
                context["row_count"] = len(sheet)
    context["form"] = form
    return TemplateResponse(request, "admin/orders/import_orders.html", context)


def _show_errors(request, context: dict, outcome: Outcome) -> None:
    """What the page shows when nothing was (or would be) imported: every problem, up to the cap."""
    context["errors"] = [RowError(**error) for error in outcome.errors]
    context["error_count"] = outcome.error_count
    context["errors_not_shown"] = outcome.errors_not_shown
    if outcome.message:
        messages.error(request, outcome.message)
