"""Admin for orders: customers, carriers, sales and purchase orders, receipts, shipments.

The admin is a thin caller of ``orders.services``: every workflow step (confirm,
ship, receive...) is a button on the change page that opens a small
intermediate page and, on POST, calls the service. A ``BusinessError`` becomes
an error message, never a 500. Documents are read-only once they leave draft.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX
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
from unfold.utils import display_for_label
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from backoffice.admin_tools import (
    BusinessErrorAdminMixin,
    ImportExportAdminMixin,
    SafeHistoryAdminMixin,
    WarehouseScopedAdminMixin,
    change_url,
)
from backoffice.errors import BusinessError, CreditLimitExceeded
from inventory.models import StockLevel
from orders import resources, services, views
from orders.models import (
    Carrier,
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)

# Format classes (settings.EXPORT_FORMATS holds dotted strings, which import-export cannot call).
SPREADSHEET_FORMATS = [CSV, XLSX]

SALES_ORDER_COLORS = {
    SalesOrderStatus.DRAFT: "info",
    SalesOrderStatus.CONFIRMED: "primary",
    SalesOrderStatus.PARTIALLY_SHIPPED: "warning",
    SalesOrderStatus.SHIPPED: "success",
    SalesOrderStatus.DELIVERED: "success",
    SalesOrderStatus.CANCELLED: "danger",
}
PURCHASE_ORDER_COLORS = {
    PurchaseOrderStatus.DRAFT: "info",
    PurchaseOrderStatus.SENT: "primary",
    PurchaseOrderStatus.PARTIALLY_RECEIVED: "warning",
    PurchaseOrderStatus.RECEIVED: "success",
    PurchaseOrderStatus.CLOSED: "success",
    PurchaseOrderStatus.CANCELLED: "danger",
}
SHIPMENT_COLORS = {
    ShipmentStatus.PENDING: "info",
    ShipmentStatus.PACKED: "primary",
    ShipmentStatus.SHIPPED: "warning",
    ShipmentStatus.DELIVERED: "success",
    ShipmentStatus.RETURNED: "danger",
}


def status_label(colors: dict[str, str]):
    """The status as a coloured badge on change forms and inlines (``label=`` only styles list columns)."""

    @display(description=_("status"))
    def label(self, obj):
        return display_for_label((obj.status, obj.get_status_display()), "—", colors)

    return label


def posted(request: HttpRequest):
    """Form data on POST (even an empty POST binds the form), None on GET."""
    return request.POST if request.method == "POST" else None


def link_to(obj) -> str:
    return format_html('<a href="{}" class="text-primary-600 dark:text-primary-500">{}</a>', change_url(obj), obj)


# Shared admin plumbing ----------------------------------------------------------------------


class WorkflowAdminMixin:
    """Workflow buttons for a document admin: service calls, messages and intermediate pages.

    ``workflow_steps`` maps an ``actions_detail`` name to a predicate on the
    document; a button is shown only when its step applies to the current
    status (the role check is the action's ``permissions``). A stale button
    still reaches the service, whose refusal is shown as a message.
    """

    workflow_steps: dict[str, Callable[[Any], bool]] = {}
    workflow_template = "admin/orders/workflow_form.html"

    def get_actions_detail(self, request: HttpRequest, object_id):
        actions = super().get_actions_detail(request, object_id)
        document = self.workflow_object(request, object_id)
        if document is None:
            return actions
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_"
        return [
            item
            for item in actions
            if (applies := self.workflow_steps.get(item.action_name.removeprefix(prefix))) is None or applies(document)
        ]

    def workflow_object(self, request: HttpRequest, object_id):
        """The document of this request, loaded once (buttons and views both need it)."""
        cache = request.__dict__.setdefault("_workflow_objects", {})
        key = (self.opts.label, str(object_id))
        if key not in cache:
            cache[key] = self.get_object(request, unquote(str(object_id)))
        return cache[key]

    def workflow_document_or_404(self, request: HttpRequest, object_id):
        document = self.workflow_object(request, object_id)
        if document is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))
        if not self.has_view_or_change_permission(request, document) or not self.may_act_on(request, document):
            raise PermissionDenied
        return document

    def call_service(self, request: HttpRequest, service: Callable, /, *, success: str = "", **kwargs):
        """Run ``service(**kwargs)``; report success or the business refusal. Returns (ok, result)."""
        try:
            result = service(**kwargs)
        except BusinessError as exc:
            self.message_business_error(request, exc)
            return False, exc
        if success:
            self.message_user(request, success, messages.SUCCESS)
        return True, result

    def call_service_for_each(self, request: HttpRequest, queryset, service: Callable, *, done: str, **kwargs) -> None:
        """Bulk action body: one service call per document; successes summarised, each refusal listed."""
        succeeded = []
        for document in queryset:
            try:
                service(document=document, user=request.user, **kwargs)
            except BusinessError as exc:
                self.message_user(request, f"{document}: {exc.message}", messages.ERROR)
            else:
                succeeded.append(str(document))
        if succeeded:
            self.message_user(request, f"{done}: {', '.join(succeeded)}.", messages.SUCCESS)

    def redirect_to_document(self, document) -> HttpResponseRedirect:
        return HttpResponseRedirect(change_url(document))

    def reason_workflow(
        self,
        request: HttpRequest,
        object_id,
        *,
        service: Callable,
        form_class: type[forms.Form],
        success: Callable[[Any], str],
        title: str,
        submit_label: str,
        intro: str,
        summary: Callable[[Any], Any],
    ) -> HttpResponse:
        """A transition that asks for a reason (cancel, close short): form page, then ``service(order=…, reason=…)``."""
        document = self.workflow_document_or_404(request, object_id)
        if isinstance(document, HttpResponse):
            return document
        form = form_class(posted(request))
        if request.method == "POST" and form.is_valid():
            self.call_service(
                request,
                service,
                order=document,
                user=request.user,
                reason=form.cleaned_data["reason"],
                success=success(document),
            )
            return self.redirect_to_document(document)
        return self.render_workflow(
            request,
            document,
            title=title,
            form=form,
            submit_label=submit_label,
            submit_variant="danger",
            intro=intro,
            summary=summary(document),
        )

    def render_workflow(
        self,
        request: HttpRequest,
        document,
        *,
        title: str,
        form: forms.Form,
        submit_label: str,
        intro: str = "",
        refusal: str = "",
        summary=(),
        line_columns=(),
        line_rows=(),
        line_input_label: str = "",
        empty_lines_text: str = "",
        submit_variant: str = "primary",
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "object": document,
            "title": f"{document} · {title}",
            "form": form,
            "header_fields": [form[name] for name in form.fields if not name.startswith(LINE_PREFIX)],
            "submit_label": submit_label,
            "submit_variant": submit_variant,
            "intro": intro,
            "refusal": refusal,
            "summary": summary,
            "line_columns": line_columns,
            "line_rows": line_rows,
            "line_input_label": line_input_label,
            "empty_lines_text": empty_lines_text,
        }
        return TemplateResponse(request, self.workflow_template, context)


class DocumentAdmin(
    WorkflowAdminMixin,
    WarehouseScopedAdminMixin,
    BusinessErrorAdminMixin,
    SafeHistoryAdminMixin,
    SimpleHistoryAdmin,
    ModelAdmin,
):
    """Base for order documents: history, warehouse scope, business errors as messages, no full count.

    A service refusal while saving (inactive customer, line rules...) rolls the
    whole save back and is shown on the page the user came from.
    """

    list_filter_submit = True
    show_full_result_count = False
    list_per_page = 50
    warn_unsaved_form = True

    #: header fields fixed once the document exists (the services do not move them)
    fixed_after_create: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + list(self.fixed_after_create) if obj is not None else fields

    def has_change_permission(self, request, obj=None):
        # Once a document leaves draft its page is read-only and a POST is refused.
        if obj is not None and not (obj.is_editable and self.may_act_on(request, obj)):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not (obj.is_editable and self.may_act_on(request, obj)):
            return False
        return super().has_delete_permission(request, obj)

    def save_lines(self, request, formset, *, add: Callable, update: Callable, remove: Callable) -> None:
        """Save an inline of document lines through the line services (they price and total the document)."""
        for line_form in formset.deleted_forms:
            if line_form.instance.pk:
                remove(line=line_form.instance, user=request.user)
        for line_form in formset.forms:
            if line_form in formset.deleted_forms or not line_form.has_changed() or not line_form.cleaned_data:
                continue
            values = {name: line_form.cleaned_data.get(name) for name in line_form.changed_data}
            if line_form.instance.pk:
                update(line=line_form.instance, user=request.user, **values)
            else:
                add(user=request.user, **{**line_form.cleaned_data, **values})
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


LINE_PREFIX = "line_"


class LineQuantitiesForm(forms.Form):
    """A form with one integer input per document line (``line_<pk>``) plus header fields."""

    def __init__(
        self,
        *args,
        lines=(),
        initial_quantity: Callable = lambda line: None,
        maximum: Callable = lambda line: None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            self.fields[f"{LINE_PREFIX}{line.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=maximum(line),
                initial=initial_quantity(line),
                required=False,
                widget=UnfoldAdminIntegerFieldWidget(attrs={"class": "max-w-32"}),
            )

    def line_quantities(self) -> list[tuple[Any, int]]:
        return [
            (line, quantity)
            for line in self.lines
            if (quantity := self.cleaned_data.get(f"{LINE_PREFIX}{line.pk}") or 0) > 0
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.line_quantities():
            raise ValidationError(_("Enter a quantity for at least one line."))
        return cleaned


# Customers and carriers ---------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(
    BusinessErrorAdminMixin, SafeHistoryAdminMixin, SimpleHistoryAdmin, ImportExportAdminMixin, ModelAdmin
):
    """Customers: credit limit, tax exemption, addresses; import/export as spreadsheets."""

    resource_classes = [resources.CustomerResource]
    import_formats = export_formats = SPREADSHEET_FORMATS
    list_display = [
        "code",
        "name",
        "contact_name",
        "email",
        "country",
        "credit_limit",
        "open_orders",
        "tax_exempt",
        "is_active",
    ]
    list_display_links = ["code", "name"]
    search_fields = ["code", "name", "contact_name", "email"]
    list_filter = ["is_active", "tax_exempt", "country"]
    list_filter_submit = True
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["code", "name", "is_active"]}),
        (_("Contact"), {"fields": ["contact_name", "email", "phone", "country"]}),
        (_("Addresses"), {"fields": ["billing_address", "shipping_address"]}),
        (_("Credit"), {"fields": ["credit_limit", "tax_exempt"]}),
    ]

    def get_queryset(self, request):
        open_orders = (
            SalesOrder.objects.filter(customer=OuterRef("pk"), status__in=SalesOrderStatus.OPEN)
            .order_by()
            .values("customer")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(open_order_count=Coalesce(Subquery(open_orders, output_field=IntegerField()), Value(0)))
        )

    @display(description=_("open orders"), ordering="open_order_count")
    def open_orders(self, obj):
        return obj.open_order_count

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.cleaned_data if name in services.CUSTOMER_FIELDS}
        if change:
            saved = services.customer_update(customer=obj, user=request.user, **values)
        else:
            saved = services.customer_create(user=request.user, **values)
        copy_saved_state(saved, obj)


@admin.register(Carrier)
class CarrierAdmin(BusinessErrorAdminMixin, SafeHistoryAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    """Shipping companies and the URL template that turns a tracking number into a link."""

    list_display = ["name", "phone", "tracking_url_template", "shipment_count", "is_active"]
    search_fields = ["name"]
    list_filter = ["is_active"]

    def get_queryset(self, request):
        # Meta.ordering is dropped from GROUP BY queries: keep autocomplete pages stable.
        return super().get_queryset(request).annotate(n_shipments=Count("shipments")).order_by("name")

    @display(description=_("shipments"), ordering="n_shipments")
    def shipment_count(self, obj):
        return obj.n_shipments


# Sales orders -------------------------------------------------------------------------------


class ActiveProductLineForm(forms.ModelForm):
    """An inactive product cannot go on a new line (lines that already hold it keep it)."""

    def clean_product(self):
        product = self.cleaned_data.get("product")
        if product is not None and not product.is_active and product.pk != self.instance.product_id:
            raise forms.ValidationError(_("%(sku)s is inactive and cannot be put on an order.") % {"sku": product.sku})
        return product


class DraftLinesInline(TabularInline):
    """Lines of a document: added, changed and deleted only while the document is a draft."""

    extra = 0
    show_title = False
    autocomplete_fields = ["product"]

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None or obj.is_editable else 0

    def _order_editable(self, obj) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._order_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._order_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._order_editable(obj) and super().has_delete_permission(request, obj)


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


class ShipmentOfOrderInline(TabularInline):
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


def tracking_link(shipment: Shipment) -> str:
    if not shipment.tracking_number:
        return "—"
    if url := shipment.tracking_url:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer" class="text-primary-600 dark:text-primary-500">'
            "{}</a>",
            url,
            shipment.tracking_number,
        )
    return shipment.tracking_number


class BackorderedFilter(admin.SimpleListFilter):
    """Open orders with at least one line waiting for stock."""

    title = _("backordered")
    parameter_name = "backordered"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        waiting = SalesOrderLine.objects.filter(
            order=OuterRef("pk"), quantity__gt=F("quantity_shipped") + F("quantity_reserved")
        )
        backordered = Q(status__in=SalesOrderStatus.OPEN) & Exists(waiting)
        if self.value() == "yes":
            return queryset.filter(backordered)
        if self.value() == "no":
            return queryset.exclude(backordered)
        return queryset


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}), max_length=500
    )


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


class ShipForm(forms.Form):
    carrier = forms.ModelChoiceField(queryset=Carrier.objects.filter(is_active=True), widget=UnfoldAdminSelectWidget)
    tracking_number = forms.CharField(max_length=60, required=False, widget=UnfoldAdminTextInputWidget)


@admin.register(SalesOrder)
class SalesOrderAdmin(ExportMixin, DocumentAdmin):
    """Sales orders: lines with live totals, confirm / cancel / ship / deliver, export one row per line."""

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

    def get_queryset(self, request):
        backordered = (
            SalesOrderLine.objects.filter(order=OuterRef("pk"))
            .order_by()
            .values("order")
            .annotate(n=Sum(F("quantity") - F("quantity_shipped") - F("quantity_reserved")))
            .values("n")
        )
        return (
            super().get_queryset(request).annotate(backordered_qty=Subquery(backordered, output_field=IntegerField()))
        )

    # Columns and read-only fields -------------------------------------------------------------

    @display(description=_("status"), ordering="status", label=SALES_ORDER_COLORS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    status_label = status_label(SALES_ORDER_COLORS)

    @display(description=_("backordered"), ordering="backordered_qty")
    def backordered(self, obj):
        if obj.status not in SalesOrderStatus.OPEN:
            return "—"
        return getattr(obj, "backordered_qty", None) or 0

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


def copy_saved_state(source, target) -> None:
    """Make the admin's unsaved ``target`` the row a service just created."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


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


# Purchase orders ----------------------------------------------------------------------------


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
    fields = ["product", "quantity", "unit_cost", "line_total", "quantity_received", "outstanding"]
    readonly_fields = ["line_total", "quantity_received", "outstanding"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    @display(description=_("outstanding"))
    def outstanding(self, line):
        return line.quantity_outstanding if line.pk else "—"


class ReceiptOfOrderInline(TabularInline):
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
class PurchaseOrderAdmin(ExportMixin, DocumentAdmin):
    """Purchase orders: lines, send / receive / close short / cancel, export one row per line."""

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
        "expected_date",
        "status_badge",
        "total",
        "received",
    ]
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
    ]
    readonly_fields = ["number", "status_label", "total", "created_by", "sent_at", "closed_at", "close_reason"]
    fieldsets = [
        (None, {"fields": ["number", "status_label", "supplier", "warehouse", "supplier_reference"]}),
        (_("Dates"), {"fields": ["order_date", "expected_date", "sent_at", "closed_at"]}),
        (_("Totals"), {"fields": ["total"]}),
        (_("Notes"), {"fields": ["notes", "close_reason", "created_by"]}),
    ]
    actions = ["send_selected", "cancel_selected"]
    actions_list = ["import_orders"]
    actions_detail = ["send", "receive", "close_short", "cancel"]
    workflow_steps = {
        "send": lambda po: po.status == PurchaseOrderStatus.DRAFT,
        "receive": lambda po: po.status in PurchaseOrderStatus.RECEIVABLE,
        "close_short": lambda po: po.status in PurchaseOrderStatus.OPEN,
        "cancel": lambda po: po.status in {PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT},
    }

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

    @display(description=_("received"))
    def received(self, obj):
        return f"{obj.received_qty or 0} / {obj.ordered_qty or 0}"

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
            self.call_service(
                request,
                services.purchase_order_send,
                order=po,
                user=request.user,
                success=_("%(po)s sent to %(supplier)s.") % {"po": po, "supplier": po.supplier.name},
            )
            return self.redirect_to_document(po)
        return self.render_workflow(
            request,
            po,
            title=_("Send"),
            form=forms.Form(),
            submit_label=_("Send purchase order"),
            intro=_("Once sent, the order's quantities count as incoming stock and its lines can no longer change."),
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
        self.call_service_for_each(
            request,
            queryset,
            lambda document, user: services.purchase_order_send(order=document, user=user),
            done=_("Sent"),
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
        (_("Total"), po.total),
        (_("Order date"), po.order_date),
        (_("Expected"), po.expected_date),
        (_("Supplier reference"), po.supplier_reference),
    ]


# Receipts -----------------------------------------------------------------------------------


class ProductLinesInline(TabularInline):
    """Read-only lines of a receipt or shipment: SKU, product and quantity of the order line they serve."""

    order_line_field = ""
    extra = 0
    show_title = False
    fields = ["sku", "product_name", "quantity"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(f"{self.order_line_field}__product")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("SKU"))
    def sku(self, line):
        return getattr(line, self.order_line_field).product.sku

    @display(description=_("product"))
    def product_name(self, line):
        return getattr(line, self.order_line_field).product.name


class ReceiptLineInline(ProductLinesInline):
    """What a receipt brought in, per purchase-order line (read-only)."""

    model = ReceiptLine
    order_line_field = "purchase_order_line"


class PurchaseOrderChoiceForm(forms.Form):
    purchase_order = forms.ModelChoiceField(
        queryset=PurchaseOrder.objects.filter(status__in=PurchaseOrderStatus.RECEIVABLE).select_related("supplier"),
        label=_("Purchase order"),
        widget=UnfoldAdminSelectWidget,
    )


@admin.register(Receipt)
class ReceiptAdmin(WarehouseScopedAdminMixin, SafeHistoryAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    """Deliveries received against purchase orders; recorded by the PO's *Receive…* form, never edited."""

    inlines = [ReceiptLineInline]
    warehouse_scope_fields = ("purchase_order__warehouse",)
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
        form = PurchaseOrderChoiceForm(posted(request))
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


# Shipments ----------------------------------------------------------------------------------


class ShipmentLineInline(ProductLinesInline):
    """Products in the shipment (read-only: quantities are chosen when the shipment is created)."""

    model = ShipmentLine
    order_line_field = "sales_order_line"


class SalesOrderChoiceForm(forms.Form):
    sales_order = forms.ModelChoiceField(
        queryset=SalesOrder.objects.filter(status__in=SalesOrderStatus.OPEN).select_related("customer"),
        label=_("Sales order"),
        widget=UnfoldAdminSelectWidget,
    )


@admin.register(Shipment)
class ShipmentAdmin(DocumentAdmin):
    """Shipments: pack, ship (carrier + tracking), deliver, return; printable packing slip."""

    inlines = [ShipmentLineInline]
    warehouse_scope_fields = ("sales_order__warehouse",)
    warehouse_choice_fields = ()
    autocomplete_fields = ["carrier"]
    list_display = [
        "number",
        "sales_order",
        "customer",
        "status_badge",
        "carrier",
        "tracking",
        "shipped_at",
        "delivered_at",
    ]
    list_select_related = ["sales_order__customer", "carrier"]
    search_fields = [
        "number",
        "tracking_number",
        "sales_order__number",
        "sales_order__customer__name",
        "sales_order__customer__code",
        "lines__sales_order_line__product__sku",
    ]
    search_help_text = _("Shipment or order number, tracking number, customer name or code, product SKU")
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("shipped_at", RangeDateTimeFilter),
        ("carrier", RelatedDropdownFilter),
        ("sales_order__warehouse", RelatedDropdownFilter),
        ("sales_order__customer", AutocompleteSelectFilter),
    ]
    readonly_fields = [
        "number",
        "status_label",
        "sales_order_link",
        "customer",
        "tracking",
        "shipped_at",
        "delivered_at",
        "returned_at",
        "created_by",
    ]
    fieldsets = [
        (None, {"fields": ["number", "status_label", "sales_order_link", "customer"]}),
        (_("Carrier"), {"fields": ["carrier", "tracking_number", "tracking", "cost"]}),
        (_("Ship to"), {"fields": ["shipping_address"]}),
        (_("Dates"), {"fields": ["shipped_at", "delivered_at", "returned_at", "created_by"]}),
    ]
    actions_detail = ["pack", "ship", "deliver", "return_shipment", "print_packing_slip"]
    workflow_steps = {
        "pack": lambda shipment: shipment.status == ShipmentStatus.PENDING,
        "ship": lambda shipment: shipment.status in ShipmentStatus.EDITABLE,
        "deliver": lambda shipment: shipment.status == ShipmentStatus.SHIPPED,
        "return_shipment": lambda shipment: shipment.status in {ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED},
    }

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sales_order__customer", "carrier")

    def get_urls(self):
        slip = path(
            "<path:object_id>/packing-slip/",
            self.admin_site.admin_view(views.packing_slip),
            name="orders_shipment_packing_slip",
        )
        return [slip, *super().get_urls()]

    @display(description=_("status"), ordering="status", label=SHIPMENT_COLORS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    status_label = status_label(SHIPMENT_COLORS)

    @display(description=_("customer"), ordering="sales_order__customer__name")
    def customer(self, obj):
        return obj.sales_order.customer

    @display(description=_("sales order"))
    def sales_order_link(self, obj):
        return link_to(obj.sales_order)

    @display(description=_("tracking"))
    def tracking(self, obj):
        return tracking_link(obj)

    def has_ship_permission(self, request, obj=None):
        return request.user.has_perm("orders.ship_shipment")

    def add_view(self, request, form_url="", extra_context=None):
        # A shipment is always for a sales order: pick it, then use its Create shipment form.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SalesOrderChoiceForm(posted(request))
        if request.method == "POST" and form.is_valid():
            order = form.cleaned_data["sales_order"]
            return HttpResponseRedirect(reverse("admin:orders_salesorder_create_shipment", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("New shipment"),
            "form": form,
            "intro": _("Choose the confirmed sales order to ship."),
            "submit_label": _("Continue"),
        }
        return TemplateResponse(request, "admin/orders/choose_document.html", context)

    def _simple_step(self, request, object_id, *, service, title, submit_label, intro, success, variant="primary"):
        shipment = self.workflow_document_or_404(request, object_id)
        if isinstance(shipment, HttpResponse):
            return shipment
        if request.method == "POST":
            self.call_service(
                request, service, shipment=shipment, user=request.user, success=success % {"shipment": shipment}
            )
            return self.redirect_to_document(shipment)
        return self.render_workflow(
            request,
            shipment,
            title=title,
            form=forms.Form(),
            submit_label=submit_label,
            submit_variant=variant,
            intro=intro,
            summary=shipment_summary(shipment),
        )

    @action(description=_("Mark packed"), url_path="pack", permissions=["ship"], icon="inventory")
    def pack(self, request, object_id):
        return self._simple_step(
            request,
            object_id,
            service=services.shipment_pack,
            title=_("Pack"),
            submit_label=_("Mark packed"),
            intro=_("The goods are picked and packed, ready for the carrier."),
            success=_("%(shipment)s packed."),
        )

    @action(description=_("Mark shipped"), url_path="ship", permissions=["ship"], icon="local_shipping")
    def ship(self, request, object_id):
        shipment = self.workflow_document_or_404(request, object_id)
        if isinstance(shipment, HttpResponse):
            return shipment
        form = ShipForm(
            posted(request),
            initial={"carrier": shipment.carrier_id, "tracking_number": shipment.tracking_number},
        )
        if request.method == "POST" and form.is_valid():
            self.call_service(
                request,
                services.shipment_ship,
                shipment=shipment,
                user=request.user,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                success=_("%(shipment)s shipped; the stock left %(warehouse)s.")
                % {"shipment": shipment, "warehouse": shipment.sales_order.warehouse},
            )
            return self.redirect_to_document(shipment)
        return self.render_workflow(
            request,
            shipment,
            title=_("Ship"),
            form=form,
            submit_label=_("Mark shipped"),
            intro=_("Shipping issues the reserved stock from the warehouse."),
            summary=shipment_summary(shipment),
        )

    @action(description=_("Mark delivered"), url_path="deliver", permissions=["ship"], icon="done_all")
    def deliver(self, request, object_id):
        return self._simple_step(
            request,
            object_id,
            service=services.shipment_deliver,
            title=_("Deliver"),
            submit_label=_("Mark delivered"),
            intro=_("The customer received this shipment."),
            success=_("%(shipment)s delivered."),
        )

    @action(description=_("Return shipment"), url_path="return", permissions=["ship"], icon="undo")
    def return_shipment(self, request, object_id):
        return self._simple_step(
            request,
            object_id,
            service=services.shipment_return,
            title=_("Return"),
            submit_label=_("Record return"),
            intro=_("The goods came back: they are put back into stock."),
            success=_("%(shipment)s returned; the goods are back in stock."),
            variant="danger",
        )

    @action(
        description=_("Print packing slip"),
        url_path="print",
        permissions=["view"],
        icon="print",
        attrs={"target": "_blank"},
    )
    def print_packing_slip(self, request, object_id):
        return HttpResponseRedirect(reverse("admin:orders_shipment_packing_slip", args=[object_id]))


def shipment_summary(shipment: Shipment):
    return [
        (_("Sales order"), shipment.sales_order),
        (_("Customer"), shipment.sales_order.customer),
        (_("Status"), shipment.get_status_display()),
        (_("Carrier"), shipment.carrier),
        (_("Tracking"), shipment.tracking_number),
        (_("Shipped"), shipment.shipped_at),
    ]
