"""Shared bases of the order document admins: document admin, line inlines and forms, small helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.formats.base_formats import CSV, XLSX
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display
from unfold.utils import display_for_label
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminTextareaWidget,
)

from backoffice.admin_tools import (
    BusinessErrorAdminMixin,
    KeyedSearchMixin,
    LargeListAdminMixin,
    SafeHistoryAdminMixin,
    WarehouseScopedAdminMixin,
    WarehouseScopedInlineMixin,
    change_url,
)
from backoffice.autocomplete import LoadedAutocompleteInlineMixin
from backoffice.workflow import LINE_PREFIX, WorkflowAdminMixin
from orders.models import (
    PurchaseOrderStatus,
    SalesOrderStatus,
    ShipmentStatus,
)

# Format classes (settings.EXPORT_FORMATS holds dotted strings, which import-export cannot call).
SPREADSHEET_FORMATS = [CSV, XLSX]

SALES_ORDER_COLORS = {
    SalesOrderStatus.DRAFT: "info",
    SalesOrderStatus.AWAITING_APPROVAL: "warning",
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


def link_to(obj) -> str:
    return format_html('<a href="{}" class="text-primary-600 dark:text-primary-500">{}</a>', change_url(obj), obj)


class DocumentAdmin(
    LargeListAdminMixin,
    KeyedSearchMixin,
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


class ActiveProductLineForm(forms.ModelForm):
    """An inactive product cannot go on a new line (lines that already hold it keep it)."""

    def clean_product(self):
        product = self.cleaned_data.get("product")
        if product is not None and not product.is_active and product.pk != self.instance.product_id:
            raise forms.ValidationError(_("%(sku)s is inactive and cannot be put on an order.") % {"sku": product.sku})
        return product


class DraftLinesInline(LoadedAutocompleteInlineMixin, WarehouseScopedInlineMixin, TabularInline):
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


class ProductLinesInline(WarehouseScopedInlineMixin, TabularInline):
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


def copy_saved_state(source, target) -> None:
    """Make the admin's unsaved ``target`` the row a service just created."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}), max_length=500
    )
