"""Purchase orders (send / receive / close short / cancel) and the receipts recorded against them."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import IntegerField, OuterRef, Q, Subquery, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    RangeDateFilter,
    RangeDateTimeFilter,
    RelatedDropdownFilter,
)
from unfold.contrib.import_export.forms import ExportForm
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from backoffice.admin_tools import (
    KeyedSearchMixin,
    LargeListAdminMixin,
    SafeHistoryAdminMixin,
    WarehouseScopedAdminMixin,
    WarehouseScopedInlineMixin,
)
from backoffice.autocomplete import ChooserAutocompleteMixin, chooser_widget
from backoffice.export_admin import StreamedExportMixin
from backoffice.money import format_money, money_column
from backoffice.scoping import scope_queryset
from backoffice.workflow import LINE_PREFIX, posted
from orders import resources, services, views
from orders.admin.document_pdfs import PurchaseOrderDocumentsMixin, send_po_message
from orders.admin.documents import (
    PURCHASE_ORDER_COLORS,
    SPREADSHEET_FORMATS,
    ActiveProductLineForm,
    CancelForm,
    DocumentAdmin,
    DraftLinesInline,
    LineQuantitiesForm,
    ProductLinesInline,
    copy_saved_state,
    link_to,
    status_label,
)
from orders.admin.hub import IncomingProductFilter, overdue_date
from orders.line_entry import LineEntryAdminMixin
from orders.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Receipt,
    ReceiptLine,
)


class PurchaseOrderLineForm(ActiveProductLineForm):
    """Unit cost may be left empty: the services use the supplier's cost for the product."""

    class Meta:
        model = PurchaseOrderLine
        fields = ["product", "quantity", "unit_cost"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "unit_cost" in self.fields:
            self.fields["unit_cost"].required = False
            self.fields["unit_cost"].initial = None
            self.fields["unit_cost"].widget.attrs["placeholder"] = _("supplier cost")


class PurchaseOrderLineInline(DraftLinesInline):
    """Purchase lines: editable while draft; afterwards ordered / received / outstanding."""

    model = PurchaseOrderLine
    form = PurchaseOrderLineForm
    fields = ["product", "quantity", "unit_cost", "line_total_display", "stock", "quantity_received", "outstanding"]
    readonly_fields = ["line_total_display", "unit_cost_display", "stock", "quantity_received", "outstanding"]
    line_total_display = money_column("line_total", _("line total"))
    unit_cost_display = money_column("unit_cost", _("unit cost"), price=True)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def get_fields(self, request, obj=None):
        # While a draft: stock in the PO's warehouse (filled by line_entry.js); afterwards the receiving progress.
        editable = obj is None or obj.is_editable
        hidden = {"quantity_received", "outstanding"} if editable else {"stock"}
        names = [name for name in super().get_fields(request, obj) if name not in hidden]
        # A sent order's lines are read-only: its cost shown as a price (the draft's input keeps the number).
        return names if editable else ["unit_cost_display" if name == "unit_cost" else name for name in names]

    @display(description=_("stock"))
    def stock(self, line):
        return "—"

    @display(description=_("outstanding"))
    def outstanding(self, line):
        return line.quantity_outstanding if line.pk else "—"


class ReceiptOfOrderInline(WarehouseScopedInlineMixin, TabularInline):
    """Deliveries received against the order, read-only."""

    model = Receipt
    extra = 0
    show_title = False
    fields = ["receipt", "received_at", "received_by", "delivery_note"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("received_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("receipt"))
    def receipt(self, obj):
        return link_to(obj)


class ReceiveForm(LineQuantitiesForm):
    delivery_note = forms.CharField(
        label=_("Supplier's delivery note"), max_length=60, required=False, widget=UnfoldAdminTextInputWidget
    )
    received_at = forms.SplitDateTimeField(
        label=_("Received at"), required=False, widget=UnfoldAdminSplitDateTimeWidget
    )


class CloseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        max_length=500,
        help_text=_("Why the outstanding quantities will not arrive (recorded on the order)."),
    )


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(
    LineEntryAdminMixin, PurchaseOrderDocumentsMixin, ChooserAutocompleteMixin, StreamedExportMixin, DocumentAdmin
):
    """Purchase orders: lines, send / receive / close short / cancel, export one row per line."""

    #: the *add receipt* chooser (``PurchaseOrderChoiceForm``) finds only receivable orders
    autocomplete_limits = {"orders.receipt.purchase_order": Q(status__in=PurchaseOrderStatus.RECEIVABLE)}

    resource_classes = [resources.PurchaseOrderLineResource]
    export_formats = SPREADSHEET_FORMATS
    export_form_class = ExportForm
    inlines = [PurchaseOrderLineInline, ReceiptOfOrderInline]
    autocomplete_fields = ["supplier", "warehouse"]
    list_display = [
        "number",
        "supplier",
        "warehouse",
        "order_date",
        "expected",
        "status_badge",
        "total_display",
        "received",
    ]
    #: at phone width the list shows one card per order with these (templates/admin/phone_cards_results.html)
    phone_card_fields = ("number", "supplier", "status_badge", "total_display", "expected")
    list_select_related = ["supplier", "warehouse"]
    search_fields = ["number", "supplier__name", "supplier__code", "supplier_reference", "lines__product__sku"]
    search_help_text = _("Order number, supplier name or code, supplier reference, product SKU")
    fixed_after_create = ("supplier", "warehouse")
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("order_date", RangeDateFilter),
        ("expected_date", RangeDateFilter),
        ("supplier", AutocompleteSelectFilter),
        ("warehouse", RelatedDropdownFilter),
        IncomingProductFilter,  # set by the product page's "Incoming on n POs"
    ]
    readonly_fields = [
        "number",
        "status_label",
        "total_display",
        "created_by",
        "sent_at",
        "closed_at",
        "close_reason",
        "emailed",
    ]
    fieldsets = [
        (None, {"fields": ["number", "status_label", "supplier", "warehouse", "supplier_reference"]}),
        (_("Dates"), {"fields": ["order_date", "expected_date", "sent_at", "emailed", "closed_at"]}),
        (_("Totals"), {"fields": ["total_display"]}),
        (_("Notes"), {"fields": ["notes", "close_reason", "created_by"]}),
    ]
    actions = ["send_selected", "cancel_selected"]
    actions_list = ["import_orders"]
    actions_detail = ["send", "receive", "close_short", "cancel", "purchase_order_pdf"]
    total_display = money_column("total", _("total"))
    workflow_steps = {
        "send": lambda po: po.status == PurchaseOrderStatus.DRAFT,
        "receive": lambda po: po.status in PurchaseOrderStatus.RECEIVABLE,
        "close_short": lambda po: po.status in PurchaseOrderStatus.OPEN,
        "cancel": lambda po: po.status in {PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT},
    }

    line_entry_mode = "purchase"

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else [PurchaseOrderLineInline]

    def get_queryset(self, request):
        progress = PurchaseOrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
        return (
            super()
            .get_queryset(request)
            .annotate(
                ordered_qty=Subquery(progress.annotate(n=Sum("quantity")).values("n"), output_field=IntegerField()),
                received_qty=Subquery(
                    progress.annotate(n=Sum("quantity_received")).values("n"), output_field=IntegerField()
                ),
            )
        )

    @display(description=_("status"), ordering="status", label=PURCHASE_ORDER_COLORS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    status_label = status_label(PURCHASE_ORDER_COLORS)

    @display(description=_("e-mailed to supplier"))
    def emailed(self, obj):
        if obj.emailed_at:
            return _("%(to)s on %(when)s by %(who)s") % {
                "to": obj.emailed_to,
                "when": timezone.localtime(obj.emailed_at).strftime("%Y-%m-%d %H:%M"),
                "who": obj.emailed_by or "?",
            }
        return _("Sent without e-mail (no supplier address)") if obj.sent_at else "—"

    @display(description=_("received"))
    def received(self, obj):
        return f"{obj.received_qty or 0} / {obj.ordered_qty or 0}"

    @display(description=_("expected date"), ordering="expected_date")
    def expected(self, obj):
        # Overdue: the date has passed and goods are still to come (draft, sent or partly received).
        late = obj.status in PurchaseOrderStatus.EDITABLE | PurchaseOrderStatus.OPEN
        return overdue_date(obj.expected_date, late=late)

    def save_model(self, request, obj, form, change):
        header = {name: form.cleaned_data[name] for name in form.cleaned_data if name in services.PURCHASE_ORDER_FIELDS}
        if change:
            saved = services.purchase_order_update(order=obj, user=request.user, **header)
        else:
            saved = services.purchase_order_create(
                supplier=form.cleaned_data["supplier"],
                warehouse=form.cleaned_data["warehouse"],
                user=request.user,
                **header,
            )
        copy_saved_state(saved, obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not PurchaseOrderLine:
            super().save_formset(request, form, formset, change)
            return
        order = form.instance

        def update(line, user, product=None, **values):
            if product is not None and product.pk != line.product_id:
                # The line services keep a line's product: a new product is a new line.
                services.purchase_order_line_remove(line=line, user=user)
                quantity = values.get("quantity") or line.quantity
                services.purchase_order_line_add(
                    order=order, product=product, quantity=quantity, unit_cost=values.get("unit_cost"), user=user
                )
            elif values:
                services.purchase_order_line_update(line=line, user=user, **values)

        self.save_lines(
            request,
            formset,
            add=lambda user, product, quantity, unit_cost=None, **_ignored: services.purchase_order_line_add(
                order=order, product=product, quantity=quantity, unit_cost=unit_cost, user=user
            ),
            update=update,
            remove=services.purchase_order_line_remove,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.is_editable:
            services.purchase_order_recalculate(order=form.instance, user=request.user)

    def has_send_permission(self, request, obj=None):
        return request.user.has_perm("orders.send_purchaseorder")

    def has_import_permission(self, request, obj=None):
        return request.user.has_perm("orders.add_purchaseorder")

    @action(description=_("Import orders"), url_path="import-orders", permissions=["import"], icon="upload")
    def import_orders(self, request):
        return views.order_import_view(request, self)

    def has_receive_permission(self, request, obj=None):
        return request.user.has_perm("orders.receive_purchaseorder")

    @action(description=_("Send PO"), url_path="send", permissions=["send"], icon="send")
    def send(self, request, object_id):
        po = self.workflow_document_or_404(request, object_id)
        if isinstance(po, HttpResponse):
            return po
        if request.method == "POST":
            ok, sent = self.call_service(request, services.purchase_order_send, order=po, user=request.user)
            if ok:
                self.message_user(
                    request, send_po_message(sent), messages.SUCCESS if sent.emailed_to else messages.WARNING
                )
            return self.redirect_to_document(po)
        if po.supplier.email:
            mailing = _("The purchase order PDF will be e-mailed to %(to)s.") % {"to": po.supplier.email}
        else:
            mailing = _("%(supplier)s has no e-mail address: the order is marked sent and nothing is e-mailed.") % {
                "supplier": po.supplier.name
            }
        return self.render_workflow(
            request,
            po,
            title=_("Send"),
            form=forms.Form(),
            submit_label=_("Send purchase order"),
            intro=_("Once sent, the order's quantities count as incoming stock and its lines can no longer change.")
            + f" {mailing}",
            summary=po_summary(po),
        )

    @action(description=_("Receive…"), url_path="receive", permissions=["receive"], icon="move_to_inbox")
    def receive(self, request, object_id):
        po = self.workflow_document_or_404(request, object_id)
        if isinstance(po, HttpResponse):
            return po
        lines = list(po.lines.select_related("product").order_by("id"))
        form = ReceiveForm(posted(request), lines=lines, maximum=lambda line: line.quantity_outstanding)
        if request.method == "POST" and form.is_valid():
            ok, receipt = self.call_service(
                request,
                services.receipt_create,
                purchase_order=po,
                lines=form.line_quantities(),
                user=request.user,
                delivery_note=form.cleaned_data["delivery_note"],
                received_at=form.cleaned_data["received_at"],
            )
            if ok:
                units = sum(quantity for _line, quantity in form.line_quantities())
                self.message_user(
                    request,
                    _("Receipt %(receipt)s recorded: %(units)s units into %(warehouse)s.")
                    % {"receipt": receipt, "units": units, "warehouse": po.warehouse},
                    messages.SUCCESS,
                )
            return self.redirect_to_document(po)
        return self.render_workflow(
            request,
            po,
            title=_("Receive"),
            form=form,
            submit_label=_("Record receipt"),
            intro=_("Enter what arrived in this delivery. Leave a line empty if nothing of it came."),
            summary=po_summary(po),
            line_columns=[_("SKU"), _("Product"), _("Ordered"), _("Received so far"), _("Outstanding")],
            line_rows=[
                {
                    "cells": [
                        line.product.sku,
                        line.product.name,
                        line.quantity,
                        line.quantity_received,
                        line.quantity_outstanding,
                    ],
                    "field": form[f"{LINE_PREFIX}{line.pk}"],
                }
                for line in lines
            ],
            line_input_label=_("Received now"),
        )

    @action(description=_("Close short"), url_path="close-short", permissions=["send"], icon="block")
    def close_short(self, request, object_id):
        return self.reason_workflow(
            request,
            object_id,
            service=services.purchase_order_close,
            form_class=CloseForm,
            success=lambda po: _("%(po)s closed; outstanding quantities are no longer expected.") % {"po": po},
            title=_("Close short"),
            submit_label=_("Close purchase order"),
            intro=_("Closing stops waiting for the outstanding quantities."),
            summary=po_summary,
        )

    @action(
        description=_("Cancel"), url_path="cancel", permissions=["send"], icon="cancel", variant=ActionVariant.DANGER
    )
    def cancel(self, request, object_id):
        return self.reason_workflow(
            request,
            object_id,
            service=services.purchase_order_cancel,
            form_class=CancelForm,
            success=lambda po: _("%(po)s cancelled.") % {"po": po},
            title=_("Cancel"),
            submit_label=_("Cancel purchase order"),
            intro=_("A purchase order can be cancelled only before anything was received."),
            summary=po_summary,
        )

    @admin.action(description=_("Send selected purchase orders"), permissions=["send"])
    def send_selected(self, request, queryset):
        emailed, not_emailed = [], []

        def send(document, user):
            sent = services.purchase_order_send(order=document, user=user)
            if sent.emailed_to:
                emailed.append(f"{sent} → {sent.emailed_to}")
            else:
                not_emailed.append(f"{sent} ({sent.supplier.name})")

        self.call_service_for_each(request, queryset, send, done=_("Sent"))
        if emailed:
            self.message_user(
                request, _("PDF being e-mailed: %(orders)s.") % {"orders": "; ".join(emailed)}, messages.SUCCESS
            )
        if not_emailed:
            self.message_user(
                request,
                _("Marked sent but not e-mailed, the supplier has no e-mail address: %(orders)s.")
                % {"orders": ", ".join(not_emailed)},
                messages.WARNING,
            )

    @admin.action(description=_("Cancel selected purchase orders"), permissions=["send"])
    def cancel_selected(self, request, queryset):
        self.call_service_for_each(
            request,
            queryset,
            lambda document, user: services.purchase_order_cancel(order=document, user=user),
            done=_("Cancelled"),
        )

    def get_data_for_export(self, request, queryset, **kwargs):
        lines = PurchaseOrderLine.objects.filter(order__in=queryset.order_by().values("pk"))
        return super().get_data_for_export(request, lines, **kwargs)


def po_summary(po: PurchaseOrder):
    return [
        (_("Supplier"), po.supplier),
        (_("Warehouse"), po.warehouse),
        (_("Status"), po.get_status_display()),
        (_("Total"), format_money(po.total)),
        (_("Order date"), po.order_date),
        (_("Expected"), po.expected_date),
        (_("Supplier reference"), po.supplier_reference),
    ]


class ReceiptLineInline(ProductLinesInline):
    """What a receipt brought in, per purchase-order line (read-only)."""

    model = ReceiptLine
    order_line_field = "purchase_order_line"


class PurchaseOrderChoiceForm(forms.Form):
    """Pick a receivable purchase order of a warehouse the user may see.

    The field searches the purchase-order autocomplete (``PurchaseOrderAdmin``: warehouse scope,
    search; narrowed to receivable orders by its ``autocomplete_limits``) instead of listing every
    receivable order; the posted choice is checked against the same scoped receivable orders.
    """

    purchase_order = forms.ModelChoiceField(
        queryset=PurchaseOrder.objects.none(),
        label=_("Purchase order"),
        widget=chooser_widget(Receipt, "purchase_order"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        receivable = PurchaseOrder.objects.filter(status__in=PurchaseOrderStatus.RECEIVABLE).select_related("supplier")
        self.fields["purchase_order"].queryset = scope_queryset(user, receivable)


@admin.register(Receipt)
class ReceiptAdmin(
    LargeListAdminMixin,
    KeyedSearchMixin,
    WarehouseScopedAdminMixin,
    SafeHistoryAdminMixin,
    SimpleHistoryAdmin,
    ModelAdmin,
):
    """Deliveries received against purchase orders; recorded by the PO's *Receive…* form, never edited."""

    inlines = [ReceiptLineInline]
    warehouse_choice_fields = ()
    history_revert_allowed = False
    list_display = ["number", "purchase_order", "supplier", "warehouse", "received_at", "received_by", "delivery_note"]
    list_select_related = ["purchase_order__supplier", "purchase_order__warehouse", "received_by"]
    search_fields = ["number", "purchase_order__number", "delivery_note", "purchase_order__supplier__name"]
    list_filter = [("received_at", RangeDateTimeFilter), ("purchase_order__warehouse", RelatedDropdownFilter)]
    list_filter_submit = True
    show_full_result_count = False
    readonly_fields = ["number", "purchase_order", "received_at", "received_by", "delivery_note", "note"]
    fields = readonly_fields

    @display(description=_("supplier"), ordering="purchase_order__supplier__name")
    def supplier(self, obj):
        return obj.purchase_order.supplier

    @display(description=_("warehouse"))
    def warehouse(self, obj):
        return obj.purchase_order.warehouse

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return request.user.has_perm("orders.receive_purchaseorder")

    def add_view(self, request, form_url="", extra_context=None):
        # A receipt is always against a purchase order: pick it, then use its Receive form.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PurchaseOrderChoiceForm(posted(request), user=request.user)
        if request.method == "POST" and form.is_valid():
            po = form.cleaned_data["purchase_order"]
            return HttpResponseRedirect(reverse("admin:orders_purchaseorder_receive", args=[po.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Receive goods"),
            "form": form,
            "intro": _("Choose the sent purchase order the delivery belongs to."),
            "submit_label": _("Continue"),
        }
        return TemplateResponse(request, "admin/orders/choose_document.html", context)
