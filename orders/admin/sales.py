"""Sales orders: lines with live totals, confirm / cancel / create shipment / deliver, export."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.urls import path
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    RangeDateFilter,
    RelatedDropdownFilter,
)
from unfold.contrib.import_export.forms import ExportForm
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from backoffice.admin_tools import WarehouseScopedInlineMixin
from backoffice.autocomplete import ChooserAutocompleteMixin
from backoffice.errors import BusinessError, CreditLimitExceeded
from backoffice.export_admin import StreamedExportMixin
from backoffice.money import format_money, money_column
from backoffice.scoping import scope_queryset
from backoffice.workflow import LINE_PREFIX, posted
from inventory.models import StockLevel, Warehouse
from orders import line_entry, resources, services, views
from orders.admin.document_pdfs import SalesOrderDocumentsMixin
from orders.admin.documents import (
    SALES_ORDER_COLORS,
    SHIPMENT_COLORS,
    SPREADSHEET_FORMATS,
    ActiveProductLineForm,
    CancelForm,
    DocumentAdmin,
    DraftLinesInline,
    LineQuantitiesForm,
    copy_saved_state,
    link_to,
    status_label,
)
from orders.admin.hub import HoldingProductFilter, highlight_backordered, overdue_date
from orders.admin.shipping import ONE_CLICK, tracking_link
from orders.models import (
    Carrier,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orders.selectors import over_credit_limit


class SalesOrderLineForm(ActiveProductLineForm):
    """The unit price may be left empty: the services use the product's sale price."""

    class Meta:
        model = SalesOrderLine
        fields = ["product", "quantity", "unit_price", "discount_percent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "unit_price" in self.fields:
            self.fields["unit_price"].required = False
            self.fields["unit_price"].initial = None
            self.fields["unit_price"].widget.attrs["placeholder"] = _("list price")


#: sales line fields -> their formatted read-only columns (a confirmed order's lines)
LINE_MONEY = {name: f"{name}_display" for name in ("unit_price", "net_amount", "tax_amount", "total_amount")}


class SalesOrderLineInline(DraftLinesInline):
    """Order lines: editable while draft; afterwards ordered / reserved / shipped / backordered."""

    model = SalesOrderLine
    form = SalesOrderLineForm
    fields = [
        "product",
        "quantity",
        "unit_price",
        "discount_percent",
        "tax_rate",
        "net_amount",
        "tax_amount",
        "total_amount",
        "stock",
        "quantity_reserved",
        "quantity_shipped",
        "backordered",
    ]
    readonly_fields = [
        "tax_rate",
        "net_amount",
        "tax_amount",
        "total_amount",
        "stock",
        "quantity_reserved",
        "quantity_shipped",
        "backordered",
        *LINE_MONEY.values(),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "order")

    def get_fields(self, request, obj=None):
        # While typing a draft: the stock in the order's warehouse (filled by line_entry.js); afterwards the
        # reservation columns say what happened.
        editable = obj is None or obj.is_editable
        hidden = {"quantity_reserved", "quantity_shipped", "backordered"} if editable else {"stock"}
        names = [name for name in super().get_fields(request, obj) if name not in hidden]
        # A draft's cells are filled live by line_entry.js (by field name); a read-only order's lines show
        # their money formatted (backoffice.money).
        return names if editable else [LINE_MONEY.get(name, name) for name in names]

    unit_price_display = money_column("unit_price", _("unit price"), price=True)
    net_amount_display = money_column("net_amount", _("net amount"))
    tax_amount_display = money_column("tax_amount", _("tax amount"))
    total_amount_display = money_column("total_amount", _("total amount"))

    @display(description=_("stock"))
    def stock(self, line):
        return "—"

    @display(description=_("backordered"))
    def backordered(self, line):
        if line.pk is None or line.order.status not in SalesOrderStatus.OPEN:
            return "—"
        return highlight_backordered(line.quantity_backordered)


class ShipmentOfOrderInline(WarehouseScopedInlineMixin, TabularInline):
    """The order's shipments, read-only, linking to each shipment page."""

    model = Shipment
    extra = 0
    show_title = False
    fields = ["shipment", "status_label", "carrier", "tracking", "shipped_at", "delivered_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("shipments")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("carrier")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("shipment"))
    def shipment(self, obj):
        return link_to(obj)

    status_label = status_label(SHIPMENT_COLORS)

    @display(description=_("tracking"))
    def tracking(self, obj):
        return tracking_link(obj)


class BackorderedFilter(admin.SimpleListFilter):
    """Open orders with at least one line waiting for stock."""

    title = _("backordered")
    parameter_name = "backordered"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        # The stored counter (orders.services keeps it): non-zero only on open orders with waiting lines.
        if self.value() == "yes":
            return queryset.filter(backordered_quantity__gt=0)
        if self.value() == "no":
            return queryset.filter(backordered_quantity=0)
        return queryset


class CreditFilter(admin.SimpleListFilter):
    """Orders awaiting credit approval, drafts over their customer's credit limit, open orders confirmed over it."""

    title = _("credit limit")
    parameter_name = "credit"

    def lookups(self, request, model_admin):
        return [
            ("awaiting", _("Awaiting credit approval")),
            ("over", _("Draft over the limit")),
            ("override", _("Open, confirmed with an override")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "awaiting":
            return queryset.filter(status=SalesOrderStatus.AWAITING_APPROVAL)
        if self.value() == "over":
            return over_credit_limit(queryset)
        if self.value() == "override":
            return queryset.filter(status__in=SalesOrderStatus.OPEN).exclude(credit_override_reason="")
        return queryset


class CreditOverrideForm(forms.Form):
    credit_override_reason = forms.CharField(
        label=_("Reason for overriding the credit limit"),
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text=_("Recorded on the order with your name."),
    )


class CreditApprovalRequestForm(forms.Form):
    approval_request_note = forms.CharField(
        label=_("Note for the Manager (optional)"),
        required=False,
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text=_("Why this customer should get the credit; the Managers get it by e-mail with the order."),
    )


class CreditDecisionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_("Recorded on the order with your name and sent to the Sales user who asked."),
    )


def credit_over(order: SalesOrder) -> bool:
    check = services.sales_order_credit_check(order=order)
    return check is not None and check.over


def credit_refusal(order: SalesOrder, over: bool, can_override: bool) -> str:
    check = services.sales_order_credit_check(order=order)
    summary = _(
        "%(order)s (%(total)s) would take %(customer)s's open orders to %(exposure)s, over the credit limit of "
        "%(limit)s by %(excess)s."
    ) % {
        "order": order.number,
        "total": format_money(order.total),
        "customer": order.customer.code,
        "exposure": format_money(check.exposure),
        "limit": format_money(check.credit_limit),
        "excess": format_money(check.excess),
    }
    if can_override:
        return summary + " " + _("Give a reason to confirm it over the limit.")
    return summary + " " + _("Send it to a Manager for credit approval.")


class CarrierChoiceForm(LineQuantitiesForm):
    carrier = forms.ModelChoiceField(
        queryset=Carrier.objects.filter(is_active=True), required=False, widget=UnfoldAdminSelectWidget
    )
    tracking_number = forms.CharField(max_length=60, required=False, widget=UnfoldAdminTextInputWidget)


@admin.register(SalesOrder)
class SalesOrderAdmin(
    line_entry.LineEntryAdminMixin,
    SalesOrderDocumentsMixin,
    ChooserAutocompleteMixin,
    StreamedExportMixin,
    DocumentAdmin,
):
    """Sales orders: lines with live totals, confirm / cancel / ship / deliver, export one row per line."""

    #: the *add shipment* chooser (``SalesOrderChoiceForm``) finds only open orders
    autocomplete_limits = {"orders.shipment.sales_order": Q(status__in=SalesOrderStatus.OPEN)}

    resource_classes = [resources.SalesOrderLineResource]
    export_formats = SPREADSHEET_FORMATS
    export_form_class = ExportForm
    inlines = [SalesOrderLineInline, ShipmentOfOrderInline]
    autocomplete_fields = ["customer", "warehouse"]
    list_display = [
        "number",
        "customer",
        "warehouse",
        "order_date",
        "required",
        "status_badge",
        "total_display",
        "backordered",
    ]
    #: at phone width the list shows one card per order with these (templates/admin/phone_cards_results.html)
    phone_card_fields = ("number", "customer", "status_badge", "total_display", "required", "backordered")
    list_select_related = ["customer", "warehouse"]
    # Customer sorts through a join no index serves (all orders sorted per page): filter by customer instead.
    sortable_by = ["number", "warehouse", "order_date", "required", "status_badge", "total_display", "backordered"]
    total_display = money_column("total", _("total"))
    search_fields = ["number", "customer__name", "customer__code", "customer_reference", "lines__product__sku"]
    search_help_text = _("Order number, customer name or code, customer reference, product SKU")
    fixed_after_create = ("customer", "warehouse")
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("order_date", RangeDateFilter),
        ("required_date", RangeDateFilter),
        ("customer", AutocompleteSelectFilter),
        ("warehouse", RelatedDropdownFilter),
        BackorderedFilter,
        CreditFilter,
        HoldingProductFilter,  # set by the product page's "Reserved for n orders"
    ]
    readonly_fields = [
        "number",
        "status_label",
        "subtotal_live",
        "tax_total_live",
        "shipping",
        "total_live",
        "credit_override",
        "credit_approval",
        "created_by",
        "confirmed_at",
        "cancelled_at",
        "confirmation_emailed",
    ]
    fieldsets = [
        (None, {"fields": ["number", "status_label", "customer", "warehouse", "customer_reference"]}),
        # The lines follow the first fieldset (change_form.html), then the totals they add up to.
        (
            _("Totals"),
            {
                "fields": [
                    "subtotal_live",
                    "tax_total_live",
                    "shipping",
                    "total_live",
                    "credit_override",
                    "credit_approval",
                ]
            },
        ),
        (_("Delivery"), {"fields": ["shipping_address", "shipping_charge", "discount_percent"]}),
        (
            _("Dates"),
            {"fields": ["order_date", "required_date", "confirmed_at", "cancelled_at", "confirmation_emailed"]},
        ),
        (_("Notes"), {"fields": ["notes", "created_by"]}),
    ]
    actions = ["confirm_selected", "cancel_selected"]
    actions_list = ["import_orders"]
    actions_detail = ["confirm", "approve_credit", "reject_credit", "create_shipment", "mark_delivered", "cancel"]
    actions_detail += ["confirmation_pdf", "email_confirmation"]
    workflow_steps = {
        "email_confirmation": lambda order: order.status != SalesOrderStatus.CANCELLED,
        "confirm": lambda order: order.status == SalesOrderStatus.DRAFT,
        "approve_credit": lambda order: order.status == SalesOrderStatus.AWAITING_APPROVAL,
        "reject_credit": lambda order: order.status == SalesOrderStatus.AWAITING_APPROVAL,
        "cancel": lambda order: order.status in SalesOrderStatus.CANCELLABLE,
        "create_shipment": lambda order: order.status in SalesOrderStatus.OPEN,
        "mark_delivered": lambda order: order.status == SalesOrderStatus.SHIPPED,
    }
    change_form_template = "admin/orders/salesorder/change_form.html"
    line_entry_mode = "sales"
    line_entry_url = "admin:orders_salesorder_live_totals"

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else [SalesOrderLineInline]

    def get_urls(self):
        live_totals = path(
            "live-totals/",
            self.admin_site.admin_view(lambda request: line_entry.live_totals_view(self, request)),
            name="orders_salesorder_live_totals",
        )
        return [live_totals, *super().get_urls()]

    def line_entry_context(self, request, obj):
        return {**super().line_entry_context(request, obj), "customer": obj.customer_id if obj else None}

    def get_changeform_initial_data(self, request):
        # The warehouse defaults to the only active one the user may take orders for, else to the one they staff.
        initial = super().get_changeform_initial_data(request)
        if "warehouse" not in initial:
            active = Warehouse.objects.filter(is_active=True)
            visible = scope_queryset(request.user, active).values_list("pk", flat=True)
            warehouses = list(visible[:2])
            if len(warehouses) != 1:
                warehouses = list(request.user.warehouses.filter(pk__in=visible).values_list("pk", flat=True)[:2])
            if len(warehouses) == 1:
                initial["warehouse"] = warehouses[0]
        return initial

    # Columns and read-only fields -------------------------------------------------------------

    @display(description=_("status"), ordering="status", label=SALES_ORDER_COLORS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    status_label = status_label(SALES_ORDER_COLORS)

    @display(description=_("backordered"), ordering="backordered_quantity")
    def backordered(self, obj):
        if obj.status not in SalesOrderStatus.OPEN:
            return "—"
        return highlight_backordered(obj.backordered_quantity)

    @display(description=_("required date"), ordering="required_date")
    def required(self, obj):
        # Overdue: the date has passed and the order is not fully shipped yet (draft or open).
        late = obj.status in SalesOrderStatus.EDITABLE | SalesOrderStatus.OPEN
        return overdue_date(obj.required_date, late=late)

    # The totals, each marked for line_entry.js, which shows them live while a draft is typed.
    @display(description=_("subtotal"))
    def subtotal_live(self, obj):
        return live_amount("subtotal", obj.subtotal)

    @display(description=_("tax total"))
    def tax_total_live(self, obj):
        return live_amount("tax_total", obj.tax_total)

    @display(description=_("shipping"))
    def shipping(self, obj):
        return live_amount("shipping", obj.shipping_charge)

    @display(description=_("total"))
    def total_live(self, obj):
        return live_amount("total", obj.total)

    @display(description=_("confirmation e-mailed"))
    def confirmation_emailed(self, obj):
        if not obj.confirmation_emailed_at:
            return "—"
        return _("%(to)s on %(when)s by %(who)s") % {
            "to": obj.confirmation_emailed_to,
            "when": localtime(obj.confirmation_emailed_at).strftime("%Y-%m-%d %H:%M"),
            "who": obj.confirmation_emailed_by or "?",
        }

    @display(description=_("credit override"))
    def credit_override(self, obj):
        if not obj.credit_override_reason:
            return "—"
        return f"{obj.credit_override_reason} ({obj.credit_override_by or '?'})"

    @display(description=_("credit approval"))
    def credit_approval(self, obj):
        """Who asked for credit approval and what was decided (the history keeps every step)."""
        if obj.approval_requested_at is None:
            return "—"
        parts = [
            _("Asked by %(user)s on %(when)s")
            % {"user": obj.approval_requested_by or "?", "when": date_format(localtime(obj.approval_requested_at))}
        ]
        if obj.approval_request_note:
            parts.append(_("note: %(note)s") % {"note": obj.approval_request_note})
        if obj.status == SalesOrderStatus.AWAITING_APPROVAL:
            parts.append(_("awaiting a Manager"))
        elif obj.approval_rejection_reason:
            parts.append(
                _("rejected by %(user)s: %(reason)s")
                % {"user": obj.approval_decided_by or "?", "reason": obj.approval_rejection_reason}
            )
        elif obj.approval_decided_at:
            parts.append(
                _("approved by %(user)s: %(reason)s")
                % {"user": obj.approval_decided_by or "?", "reason": obj.credit_override_reason}
            )
        return "; ".join(str(part) for part in parts)

    # Saving through the services ----------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        header = {name: form.cleaned_data[name] for name in form.cleaned_data if name in services.SALES_ORDER_FIELDS}
        if change:
            saved = services.sales_order_update(order=obj, user=request.user, **header)
        else:
            saved = services.sales_order_create(
                customer=form.cleaned_data["customer"],
                warehouse=form.cleaned_data["warehouse"],
                user=request.user,
                **header,
            )
        copy_saved_state(saved, obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not SalesOrderLine:
            super().save_formset(request, form, formset, change)
            return
        order = form.instance
        self.save_lines(
            request,
            formset,
            add=lambda user, product, quantity, unit_price=None, discount_percent=None, **_ignored: (
                services.sales_order_line_add(
                    order=order,
                    product=product,
                    quantity=quantity,
                    unit_price=unit_price,
                    discount_percent=discount_percent or 0,
                    user=user,
                )
            ),
            update=services.sales_order_line_update,
            remove=services.sales_order_line_remove,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.is_editable:
            services.sales_order_recalculate(order=form.instance, user=request.user)

    # Workflow buttons -----------------------------------------------------------------------

    def has_confirm_permission(self, request, obj=None):
        return request.user.has_perm("orders.confirm_salesorder")

    def has_approve_credit_permission(self, request, obj=None):
        return request.user.has_perm(services.APPROVE_CREDIT_PERM)

    def has_ship_permission(self, request, obj=None):
        return request.user.has_perm("orders.add_shipment")

    def has_deliver_permission(self, request, obj=None):
        return request.user.has_perm("orders.ship_shipment")

    def has_import_permission(self, request, obj=None):
        return request.user.has_perm("orders.add_salesorder")

    @action(description=_("Confirm"), url_path="confirm", permissions=["confirm"], icon="check_circle")
    def confirm(self, request, object_id):
        """Confirm a draft. Over the credit limit the page asks at once for what it needs: a Manager's reason
        (override), or, for Sales, a note to send the order for credit approval."""
        order = self.workflow_document_or_404(request, object_id)
        if isinstance(order, HttpResponse):
            return order
        can_override = services.may_override_credit(request.user)
        over = order.status == SalesOrderStatus.DRAFT and credit_over(order)
        override_form = None
        approval_form = None
        refusal = credit_refusal(order, over, can_override) if over else ""
        if request.method == "POST" and "approval_request_note" in request.POST:
            approval_form = CreditApprovalRequestForm(request.POST)
            if approval_form.is_valid():
                ok, _result = self.call_service(
                    request,
                    services.sales_order_request_approval,
                    order=order,
                    user=request.user,
                    note=approval_form.cleaned_data["approval_request_note"],
                    success=_("%(order)s was sent to the Managers for credit approval.") % {"order": order},
                )
                return self.redirect_to_document(order)
        elif request.method == "POST":
            overriding = "credit_override_reason" in request.POST
            if overriding and not can_override:
                raise PermissionDenied
            override_form = CreditOverrideForm(request.POST) if overriding else None
            if override_form is None or override_form.is_valid():
                reason = override_form.cleaned_data["credit_override_reason"] if override_form else ""
                try:
                    services.sales_order_confirm(order=order, user=request.user, credit_override_reason=reason)
                except CreditLimitExceeded as exc:
                    if not can_override:
                        refusal = exc.message
                        approval_form = CreditApprovalRequestForm()
                    else:
                        refusal = exc.message
                        override_form = override_form or CreditOverrideForm()
                except BusinessError as exc:
                    self.message_business_error(request, exc)
                    return self.redirect_to_document(order)
                else:
                    order.refresh_from_db()
                    self.message_user(request, confirm_message(order), messages.SUCCESS)
                    return self.redirect_to_document(order)
        elif over:
            override_form = CreditOverrideForm() if can_override else None
            approval_form = None if can_override else CreditApprovalRequestForm()
        if approval_form is not None:
            form, submit_label, variant = approval_form, _("Send for approval"), "primary"
        elif override_form is not None:
            form, submit_label, variant = override_form, _("Override and confirm"), "danger"
        else:
            form, submit_label, variant = forms.Form(), _("Confirm order"), "primary"
        lines = list(order.lines.select_related("product"))
        available = stock_available(order.warehouse_id, [line.product_id for line in lines])
        return self.render_workflow(
            request,
            order,
            title=_("Confirm"),
            form=form,
            submit_label=submit_label,
            submit_variant=variant,
            intro=_("Confirming reserves the stock available now; the rest stays on backorder."),
            refusal=refusal,
            summary=order_summary(order),
            line_columns=[_("SKU"), _("Product"), _("Ordered"), _("Available now"), _("Line total")],
            line_rows=[
                {
                    "cells": [
                        line.product.sku,
                        line.product.name,
                        line.quantity,
                        available.get(line.product_id, 0),
                        format_money(line.total_amount),
                    ]
                }
                for line in lines
            ],
            empty_lines_text=_("This order has no lines."),
        )

    @action(description=_("Approve credit"), url_path="approve-credit", permissions=["approve_credit"], icon="verified")
    def approve_credit(self, request, object_id):
        return self._credit_decision(request, object_id, approve=True)

    @action(
        description=_("Reject credit"),
        url_path="reject-credit",
        permissions=["approve_credit"],
        icon="undo",
        variant=ActionVariant.DANGER,
    )
    def reject_credit(self, request, object_id):
        return self._credit_decision(request, object_id, approve=False)

    def _credit_decision(self, request, object_id, *, approve: bool):
        order = self.workflow_document_or_404(request, object_id)
        if isinstance(order, HttpResponse):
            return order
        form = CreditDecisionForm(posted(request))
        if request.method == "POST" and form.is_valid():
            service = services.sales_order_approve_credit if approve else services.sales_order_reject_credit
            ok, result = self.call_service(
                request, service, order=order, user=request.user, reason=form.cleaned_data["reason"]
            )
            if ok:
                message = (
                    confirm_message(result) + " " + _("Credit approved; Sales was told.")
                    if approve
                    else _("%(order)s was sent back to draft; Sales was told why.") % {"order": order}
                )
                self.message_user(request, message, messages.SUCCESS)
            return self.redirect_to_document(order)
        check = services.sales_order_credit_check(order=order)
        summary = [
            *order_summary(order),
            (_("Open orders"), format_money(check.open_value) if check else None),
            (_("Over the limit by"), format_money(check.excess) if check else None),
            (_("Asked by"), order.approval_requested_by),
            (_("Note from Sales"), order.approval_request_note),
        ]
        return self.render_workflow(
            request,
            order,
            title=_("Approve credit") if approve else _("Reject credit"),
            form=form,
            submit_label=_("Approve and confirm") if approve else _("Reject and send back"),
            submit_variant="primary" if approve else "danger",
            intro=_("Approving confirms the order (stock is reserved) over the customer's credit limit.")
            if approve
            else _("Rejecting sends the order back to draft; the Sales user who asked gets your reason by e-mail."),
            summary=summary,
        )

    @action(
        description=_("Cancel"), url_path="cancel", permissions=["confirm"], icon="cancel", variant=ActionVariant.DANGER
    )
    def cancel(self, request, object_id):
        return self.reason_workflow(
            request,
            object_id,
            service=services.sales_order_cancel,
            form_class=CancelForm,
            success=lambda order: _("%(order)s cancelled; its reservations were released.") % {"order": order},
            title=_("Cancel"),
            submit_label=_("Cancel order"),
            intro=_("Cancelling releases every reservation of this order. It cannot be undone."),
            summary=order_summary,
        )

    @action(description=_("Create shipment"), url_path="create-shipment", permissions=["ship"], icon="local_shipping")
    def create_shipment(self, request, object_id):
        order = self.workflow_document_or_404(request, object_id)
        if isinstance(order, HttpResponse):
            return order
        lines = list(order.lines.select_related("product").order_by("id"))
        in_open_shipments = dict(
            ShipmentLine.objects.filter(sales_order_line__order=order, shipment__status__in=ShipmentStatus.EDITABLE)
            .values_list("sales_order_line")
            .annotate(n=Sum("quantity"))
        )

        def shippable(line):
            return max(line.quantity_reserved - in_open_shipments.get(line.pk, 0), 0)

        # No maximum: asking for more than is reserved gets the service's explanation instead.
        form = CarrierChoiceForm(posted(request), lines=lines, initial_quantity=shippable)
        if request.method == "POST" and form.is_valid():
            ok, shipment = self.call_service(
                request,
                services.shipment_create,
                sales_order=order,
                lines=[(line, quantity) for line, quantity in form.line_quantities()],
                user=request.user,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
            )
            if not ok:
                return self.redirect_to_document(order)
            self.message_user(request, _("Shipment %(shipment)s created.") % {"shipment": shipment}, messages.SUCCESS)
            return self.redirect_to_document(shipment)
        return self.render_workflow(
            request,
            order,
            title=_("Create shipment"),
            form=form,
            submit_label=_("Create shipment"),
            intro=_("Ship what is reserved now; backordered quantities can ship later in another shipment."),
            summary=order_summary(order),
            line_columns=[_("SKU"), _("Product"), _("Ordered"), _("Shipped"), _("Reserved"), _("In open shipments")],
            line_rows=[
                {
                    "cells": [
                        line.product.sku,
                        line.product.name,
                        line.quantity,
                        line.quantity_shipped,
                        line.quantity_reserved,
                        in_open_shipments.get(line.pk, 0),
                    ],
                    "field": form[f"{LINE_PREFIX}{line.pk}"],
                }
                for line in lines
            ],
            line_input_label=_("Ship now"),
        )

    @action(
        description=_("Mark delivered"),
        url_path="mark-delivered",
        permissions=["deliver"],
        icon="done_all",
        attrs=ONE_CLICK,  # nothing destroyed, no money moved: no confirmation page (one_click_steps.js)
    )
    def mark_delivered(self, request, object_id):
        order = self.workflow_document_or_404(request, object_id)
        if isinstance(order, HttpResponse):
            return order
        if request.method == "POST":
            self.call_service(
                request,
                services.sales_order_mark_delivered,
                order=order,
                user=request.user,
                success=_("%(order)s marked delivered.") % {"order": order},
            )
            return self.redirect_to_document(order)
        return self.render_workflow(
            request,
            order,
            title=_("Mark delivered"),
            form=forms.Form(),
            submit_label=_("Mark delivered"),
            intro=_("Records that the customer received every shipment of this order."),
            summary=order_summary(order),
        )

    @action(description=_("Import orders"), url_path="import-orders", permissions=["import"], icon="upload")
    def import_orders(self, request):
        return views.order_import_view(request, self)

    # Bulk actions -------------------------------------------------------------------------------

    @admin.action(description=_("Confirm selected orders"), permissions=["confirm"])
    def confirm_selected(self, request, queryset):
        self.call_service_for_each(
            request,
            queryset.select_related("customer", "warehouse"),
            lambda document, user: services.sales_order_confirm(order=document, user=user),
            done=_("Confirmed"),
        )

    @admin.action(description=_("Cancel selected orders"), permissions=["confirm"])
    def cancel_selected(self, request, queryset):
        self.call_service_for_each(
            request,
            queryset,
            lambda document, user: services.sales_order_cancel(order=document, user=user),
            done=_("Cancelled"),
        )

    def get_data_for_export(self, request, queryset, **kwargs):
        lines = SalesOrderLine.objects.filter(order__in=queryset.order_by().values("pk"))
        return super().get_data_for_export(request, lines, **kwargs)


def live_amount(name: str, amount) -> str:
    return format_html('<span data-live-total="{}">{}</span>', name, format_money(amount))


def stock_available(warehouse_id, product_ids) -> dict[int, int]:
    levels = StockLevel.objects.filter(warehouse_id=warehouse_id, product_id__in=product_ids)
    return {level.product_id: level.available for level in levels}


def order_summary(order: SalesOrder):
    return [
        (_("Customer"), order.customer),
        (_("Warehouse"), order.warehouse),
        (_("Status"), order.get_status_display()),
        (_("Total"), format_money(order.total)),
        (_("Order date"), order.order_date),
        (_("Required"), order.required_date),
        (_("Credit limit"), format_money(order.customer.credit_limit)),
        (_("Reference"), order.customer_reference),
    ]


def confirm_message(order: SalesOrder) -> str:
    totals = order.lines.aggregate(
        ordered=Coalesce(Sum("quantity"), 0),
        reserved=Coalesce(Sum("quantity_reserved"), 0),
        shipped=Coalesce(Sum("quantity_shipped"), 0),
    )
    backordered = totals["ordered"] - totals["reserved"] - totals["shipped"]
    message = _("%(order)s confirmed: %(reserved)s reserved") % {"order": order, "reserved": totals["reserved"]}
    if backordered:
        message += _(", %(n)s on backorder") % {"n": backordered}
    return message + "."
