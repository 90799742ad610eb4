"""Shipments: pack / ship / deliver / return, tracking links, the printable packing slip."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    RangeDateFilter,
    RangeDateTimeFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from backoffice.autocomplete import chooser_widget
from backoffice.scoping import scope_queryset
from backoffice.workflow import posted
from orders import services, views
from orders.admin.document_pdfs import ShipmentDocumentsMixin
from orders.admin.documents import (
    SHIPMENT_COLORS,
    DocumentAdmin,
    ProductLinesInline,
    link_to,
    status_label,
)
from orders.models import (
    Carrier,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)

#: attributes of a workflow button that acts in one click (a POST, orders/static/orders/one_click_steps.js)
#: instead of opening its confirmation page (still there without JavaScript)
ONE_CLICK = {"data-one-click": "true"}


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


class ShipForm(forms.Form):
    carrier = forms.ModelChoiceField(queryset=Carrier.objects.filter(is_active=True), widget=UnfoldAdminSelectWidget)
    tracking_number = forms.CharField(max_length=60, required=False, widget=UnfoldAdminTextInputWidget)


class ShipmentLineInline(ProductLinesInline):
    """Products in the shipment (read-only: quantities are chosen when the shipment is created)."""

    model = ShipmentLine
    order_line_field = "sales_order_line"


class SalesOrderChoiceForm(forms.Form):
    """Pick an open sales order of a warehouse the user may see.

    The field searches the sales-order autocomplete (``SalesOrderAdmin``: warehouse scope, search by
    number, customer, sku; narrowed to open orders by its ``autocomplete_limits``) instead of
    listing every open order; the posted choice is checked against the same scoped open orders.
    """

    sales_order = forms.ModelChoiceField(
        queryset=SalesOrder.objects.none(), label=_("Sales order"), widget=chooser_widget(Shipment, "sales_order")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        open_orders = SalesOrder.objects.filter(status__in=SalesOrderStatus.OPEN).select_related("customer")
        self.fields["sales_order"].queryset = scope_queryset(user, open_orders)


@admin.register(Shipment)
class ShipmentAdmin(ShipmentDocumentsMixin, DocumentAdmin):
    """Shipments: pack, ship (carrier + tracking), deliver, return; printable packing slip."""

    inlines = [ShipmentLineInline]
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
    #: at phone width the list shows one card per shipment with these (templates/admin/phone_cards_results.html)
    phone_card_fields = ("number", "customer", "status_badge", "sales_order", "tracking", "shipped_at")
    list_select_related = ["sales_order__customer", "carrier"]
    # Customer and carrier sort through joins no index serves (every shipment sorted per page): filter them.
    sortable_by = ["number", "sales_order", "status_badge", "shipped_at", "delivered_at"]
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
        ("sales_order__required_date", RangeDateFilter),
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
    actions = ["pack_selected", "ship_selected", "deliver_selected"]
    change_form_after_template = "admin/orders/one_click_script.html"
    actions_detail = ["pack_and_ship", "pack", "ship", "deliver", "return_shipment", "print_packing_slip"]
    actions_detail += ["packing_slip_pdf", "delivery_note_pdf"]
    workflow_steps = {
        "pack_and_ship": lambda shipment: shipment.status == ShipmentStatus.PENDING,
        "pack": lambda shipment: shipment.status == ShipmentStatus.PENDING,
        "ship": lambda shipment: shipment.status == ShipmentStatus.PACKED,
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
        form = SalesOrderChoiceForm(posted(request), user=request.user)
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

    @action(description=_("Pack & ship"), url_path="pack-and-ship", permissions=["ship"], icon="local_shipping")
    def pack_and_ship(self, request, object_id):
        return self._ship_step(
            request,
            object_id,
            service=services.shipment_pack_and_ship,
            title=_("Pack & ship"),
            submit_label=_("Pack & ship"),
            intro=_("Packs the shipment and ships it now: the reserved stock leaves the warehouse."),
            success=_("%(shipment)s packed and shipped; the stock left %(warehouse)s."),
        )

    # Packing and delivering destroy nothing and move no money: one click (a POST, one_click_steps.js); the
    # confirmation page stays as the fallback without JavaScript. Returning puts stock back: it asks.
    @action(description=_("Mark packed"), url_path="pack", permissions=["ship"], icon="inventory", attrs=ONE_CLICK)
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
        return self._ship_step(
            request,
            object_id,
            service=services.shipment_ship,
            title=_("Ship"),
            submit_label=_("Mark shipped"),
            intro=_("Shipping issues the reserved stock from the warehouse."),
            success=_("%(shipment)s shipped; the stock left %(warehouse)s."),
        )

    def _ship_step(self, request, object_id, *, service, title, submit_label, intro, success):
        """Carrier and tracking number asked once, prefilled from the shipment; then ``service``."""
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
                service,
                shipment=shipment,
                user=request.user,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                success=success % {"shipment": shipment, "warehouse": shipment.sales_order.warehouse},
            )
            return self.redirect_to_document(shipment)
        return self.render_workflow(
            request,
            shipment,
            title=title,
            form=form,
            submit_label=submit_label,
            intro=intro,
            summary=shipment_summary(shipment),
        )

    @action(description=_("Mark delivered"), url_path="deliver", permissions=["ship"], icon="done_all", attrs=ONE_CLICK)
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

    # Bulk steps: each shipment through its service; what is refused is listed per shipment -----------

    @admin.action(description=_("Mark packed"), permissions=["ship"])
    def pack_selected(self, request, queryset):
        self.call_service_for_each(
            request,
            queryset.order_by("pk"),
            lambda document, user: services.shipment_pack(shipment=document, user=user),
            done=_("Packed"),
        )

    @admin.action(description=_("Mark shipped (packs pending ones)"), permissions=["ship"])
    def ship_selected(self, request, queryset):
        self.call_service_for_each(
            request,
            queryset.order_by("pk"),
            lambda document, user: services.shipment_pack_and_ship(shipment=document, user=user),
            done=_("Shipped"),
        )

    @admin.action(description=_("Mark delivered"), permissions=["ship"])
    def deliver_selected(self, request, queryset):
        self.call_service_for_each(
            request,
            queryset.order_by("pk"),
            lambda document, user: services.shipment_deliver(shipment=document, user=user),
            done=_("Delivered"),
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
