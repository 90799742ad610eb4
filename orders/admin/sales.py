"""Sales orders: lines with live totals, confirm / cancel / create shipment / deliver, export."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse
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
from backoffice.workflow import LINE_PREFIX, posted
from inventory.models import StockLevel
from orders import resources, services, views
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
from orders.admin.shipping import tracking_link
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
        "quantity_reserved",
        "quantity_shipped",
        "backordered",
    ]
    readonly_fields = [
        "tax_rate",
        "net_amount",
        "tax_amount",
        "total_amount",
        "quantity_reserved",
        "quantity_shipped",
        "backordered",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "order")

    @display(description=_("backordered"))
    def backordered(self, line):
        if line.pk is None or line.order.status not in SalesOrderStatus.OPEN:
            return "—"
        return line.quantity_backordered


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
    """Drafts over their customer's credit limit (awaiting a Manager) and open orders confirmed over it."""

    title = _("credit limit")
    parameter_name = "credit"

    def lookups(self, request, model_admin):
        return [("over", _("Draft over the limit")), ("override", _("Open, confirmed with an override"))]

    def queryset(self, request, queryset):
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


class CarrierChoiceForm(LineQuantitiesForm):
    carrier = forms.ModelChoiceField(
        queryset=Carrier.objects.filter(is_active=True), required=False, widget=UnfoldAdminSelectWidget
    )
    tracking_number = forms.CharField(max_length=60, required=False, widget=UnfoldAdminTextInputWidget)


@admin.register(SalesOrder)
class SalesOrderAdmin(ChooserAutocompleteMixin, StreamedExportMixin, DocumentAdmin):
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
        "required_date",
        "status_badge",
        "total",
        "backordered",
    ]
    list_select_related = ["customer", "warehouse"]
    # Customer sorts through a join no index serves (all orders sorted per page): filter by customer instead.
    sortable_by = ["number", "warehouse", "order_date", "required_date", "status_badge", "total", "backordered"]
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
    ]
    readonly_fields = [
        "number",
        "status_label",
        "subtotal",
        "tax_total",
        "total",
        "credit_override",
        "created_by",
        "confirmed_at",
        "cancelled_at",
    ]
    fieldsets = [
        (None, {"fields": ["number", "status_label", "customer", "warehouse", "customer_reference"]}),
        (_("Dates"), {"fields": ["order_date", "required_date", "confirmed_at", "cancelled_at"]}),
        (_("Delivery"), {"fields": ["shipping_address", "shipping_charge", "discount_percent"]}),
        (_("Totals"), {"fields": ["subtotal", "tax_total", "total", "credit_override"]}),
        (_("Notes"), {"fields": ["notes", "created_by"]}),
    ]
    actions = ["confirm_selected", "cancel_selected"]
    actions_list = ["import_orders"]
    actions_detail = ["confirm", "create_shipment", "mark_delivered", "cancel"]
    workflow_steps = {
        "confirm": lambda order: order.status == SalesOrderStatus.DRAFT,
        "cancel": lambda order: order.status in SalesOrderStatus.CANCELLABLE,
        "create_shipment": lambda order: order.status in SalesOrderStatus.OPEN,
        "mark_delivered": lambda order: order.status == SalesOrderStatus.SHIPPED,
    }
    change_form_after_template = "admin/orders/salesorder/line_totals_script.html"

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else [SalesOrderLineInline]

    # Columns and read-only fields -------------------------------------------------------------

    @display(description=_("status"), ordering="status", label=SALES_ORDER_COLORS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    status_label = status_label(SALES_ORDER_COLORS)

    @display(description=_("backordered"), ordering="backordered_quantity")
    def backordered(self, obj):
        if obj.status not in SalesOrderStatus.OPEN:
            return "—"
        return obj.backordered_quantity

    @display(description=_("credit override"))
    def credit_override(self, obj):
        if not obj.credit_override_reason:
            return "—"
        return f"{obj.credit_override_reason} ({obj.credit_override_by or '?'})"

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

    def has_ship_permission(self, request, obj=None):
        return request.user.has_perm("orders.add_shipment")

    def has_deliver_permission(self, request, obj=None):
        return request.user.has_perm("orders.ship_shipment")

    def has_import_permission(self, request, obj=None):
        return request.user.has_perm("orders.add_salesorder")

    @action(description=_("Confirm"), url_path="confirm", permissions=["confirm"], icon="check_circle")
    def confirm(self, request, object_id):
        order = self.workflow_document_or_404(request, object_id)
        if isinstance(order, HttpResponse):
            return order
        can_override = request.user.has_perm("orders.override_credit_salesorder")
        override_form = None
        refusal = ""
        if request.method == "POST":
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
                        self.message_user(request, exc.message, messages.ERROR)
                        return self.redirect_to_document(order)
                    refusal = exc.message
                    override_form = override_form or CreditOverrideForm()
                except BusinessError as exc:
                    self.message_business_error(request, exc)
                    return self.redirect_to_document(order)
                else:
                    order.refresh_from_db()
                    self.message_user(request, confirm_message(order), messages.SUCCESS)
                    return self.redirect_to_document(order)
        lines = list(order.lines.select_related("product"))
        available = stock_available(order.warehouse_id, [line.product_id for line in lines])
        return self.render_workflow(
            request,
            order,
            title=_("Confirm"),
            form=override_form or forms.Form(),
            submit_label=_("Override and confirm") if override_form else _("Confirm order"),
            submit_variant="danger" if override_form else "primary",
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
                        line.total_amount,
                    ]
                }
                for line in lines
            ],
            empty_lines_text=_("This order has no lines."),
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

    @action(description=_("Mark delivered"), url_path="mark-delivered", permissions=["deliver"], icon="done_all")
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


def stock_available(warehouse_id, product_ids) -> dict[int, int]:
    levels = StockLevel.objects.filter(warehouse_id=warehouse_id, product_id__in=product_ids)
    return {level.product_id: level.available for level in levels}


def order_summary(order: SalesOrder):
    return [
        (_("Customer"), order.customer),
        (_("Warehouse"), order.warehouse),
        (_("Status"), order.get_status_display()),
        (_("Total"), order.total),
        (_("Order date"), order.order_date),
        (_("Required"), order.required_date),
        (_("Credit limit"), order.customer.credit_limit),
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
