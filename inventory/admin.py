"""Inventory admin (Unfold): catalogue, suppliers, stock levels, the ledger, adjustments and transfers.

Catalogue, supplier and reorder-setting models import/export spreadsheets
(``inventory.resources``). Stock quantities are never edited here: they move
only through ``inventory.services`` — the ledger is read-only, and adjustments
and transfers are drafts until *Apply* runs the service.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    BooleanRadioFilter,
    ChoicesDropdownFilter,
    RangeDateFilter,
    RangeNumericFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from backoffice.admin_tools import (
    BusinessErrorAdminMixin,
    ImportExportAdminMixin,
    IndexFriendlyChangeList,
    KeyedSearchMixin,
    LargeListAdminMixin,
    SafeHistoryAdminMixin,
    WarehouseScopedAdminMixin,
    WarehouseScopedInlineMixin,
    change_url,
    confirm_dialog,
    count_of,
    saved_fields,
    status_badge,
    workflow_redirect,
)
from backoffice.autocomplete import ChooserAutocompleteMixin, LoadedAutocompleteInlineMixin
from backoffice.errors import BusinessError
from backoffice.export_admin import StreamedExportMixin
from backoffice.field_rights_admin import ProtectedFieldsAdminMixin, masked_display
from backoffice.money import money_column
from backoffice.record_search import document_links
from backoffice.scoping import scope_queryset
from inventory import count_views, services
from inventory.models import (
    Category,
    Product,
    StockAdjustment,
    StockAdjustmentLine,
    StockLevel,
    StockMovement,
    StockTransfer,
    StockTransferLine,
    Supplier,
    SupplierProduct,
    Warehouse,
)
from inventory.resources import (
    CategoryResource,
    ProductResource,
    StockLevelResource,
    StockMovementResource,
    SupplierProductResource,
    SupplierResource,
    WarehouseResource,
)
from orders.line_entry import LINE_PICKERS, LineEntryAdminMixin, product_picker_details, stock_figures_view

ACTIVE_COLORS = {True: "success", False: "danger"}


class HistoryAdmin(LargeListAdminMixin, BusinessErrorAdminMixin, SafeHistoryAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    """Unfold admin with simple-history (history, diff, revert) and business errors as messages."""

    list_filter_submit = True
    warn_unsaved_form = True


class ImportableAdmin(
    LargeListAdminMixin,
    KeyedSearchMixin,
    BusinessErrorAdminMixin,
    SafeHistoryAdminMixin,
    SimpleHistoryAdmin,
    ImportExportAdminMixin,
    ModelAdmin,
):
    """``HistoryAdmin`` plus spreadsheet import/export and import templates."""

    list_filter_submit = True
    warn_unsaved_form = True


def active_badge():
    @display(description=_("active"), ordering="is_active", label=ACTIVE_COLORS)
    def badge(self, obj):
        return obj.is_active, _("Active") if obj.is_active else _("Inactive")

    return badge


# ---------------------------------------------------------------------------
# Catalogue


@admin.register(Category)
class CategoryAdmin(ImportableAdmin):
    """Product categories, optionally nested; imported and exported by name."""

    resource_classes = [CategoryResource]
    list_display = ("name", "parent", "product_count")
    list_select_related = ("parent",)
    search_fields = ("name", "description")
    list_filter = (("parent", RelatedDropdownFilter),)
    autocomplete_fields = ("parent",)
    fields = ("name", "parent", "description")

    def get_queryset(self, request):
        # Counted per category from the product table's category index (no join and GROUP BY over every
        # product: 50 -> 12 ms with 100,000 products, and the list's count needs no join at all).
        products = Product.objects.filter(category=OuterRef("pk")).values("category")
        return super().get_queryset(request).annotate(product_total=count_of(products))

    @display(description=_("products"), ordering="product_total")
    def product_count(self, obj):
        return obj.product_total


class SupplierProductInline(LoadedAutocompleteInlineMixin, TabularInline):
    """A product's suppliers, or a supplier's products (costs and minimum order quantities)."""

    model = SupplierProduct
    extra = 0
    tab = True
    show_title = False
    fields = ("supplier", "product", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred")
    autocomplete_fields = ("supplier", "product")
    per_page = 25  # a supplier's price list may have thousands of rows: paged, not one huge form

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier", "product").order_by("pk")


class ProductSupplierInline(SupplierProductInline):
    """Suppliers of one product."""

    fields = ("supplier", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred")
    autocomplete_fields = ("supplier",)
    verbose_name_plural = _("suppliers")


class SupplierCatalogueInline(SupplierProductInline):
    """Products one supplier sells us."""

    fields = ("product", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred")
    autocomplete_fields = ("product",)
    verbose_name_plural = _("products supplied")


@admin.register(Product)
class ProductAdmin(ChooserAutocompleteMixin, ImportableAdmin):
    """Products (SKUs): prices, cost, tax; stock per warehouse and suppliers on tabs.

    The moving-average cost is maintained by receipts and never saved from here. The product pickers
    of document lines offer active products only, with price, tax and stock (``orders.admin.line_entry``).
    """

    autocomplete_limits = {source: Q(is_active=True) for source in LINE_PICKERS}

    resource_classes = [ProductResource]
    list_display = (
        "sku",
        "name",
        "category",
        "sale_price_display",
        "cost_display",
        "average_cost_display",
        "on_hand_total",
        "active",
    )
    list_display_links = ("sku", "name")
    list_select_related = ("category",)
    # Indexed sorts (``(column, sku)``); the category sorts through a join no index serves: filter it.
    sortable_by = ("sku", "name", "sale_price_display", "cost_display", "average_cost_display", "active")
    search_fields = ("sku", "name", "barcode")
    list_filter = (
        ("category", RelatedDropdownFilter),
        ("is_active", BooleanRadioFilter),
        ("sale_price", RangeNumericFilter),
    )
    autocomplete_fields = ("category",)
    readonly_fields = ("average_cost_display", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("sku", "name", "category", "unit", "barcode", "is_active")}),
        (_("Prices"), {"fields": ("sale_price", "cost", "average_cost_display", "tax_rate")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ["collapse"]}),
    )
    # Stock per warehouse is on the hub panel above the form (with its total and ledger links).
    inlines = [ProductSupplierInline]
    change_form_outer_before_template = "admin/record_hub_panel.html"
    show_full_result_count = False
    list_per_page = 50
    active = active_badge()
    # Prices with the decimals they need and the currency (backoffice.money); the forms keep raw numbers.
    sale_price_display = money_column("sale_price", _("sale price"), price=True)
    cost_display = money_column("cost", _("cost"), price=True)
    average_cost_display = money_column("average_cost", _("average cost"), price=True)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        from orders.admin.hub import product_hub_panel

        context["record_hub"] = product_hub_panel(request, obj)
        context["record_hub_title"] = _("Stock and orders")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_queryset(self, request):
        # On hand in the warehouses this user may see: a subquery computed for the listed rows only (a far
        # page reads its keys first, see EstimatedCountPaginator). Not sortable: sorting 100,000 products by
        # a sum over their stock levels reads every level; the stock levels list sorts by on hand (indexed).
        levels = scope_queryset(request.user, StockLevel.objects.filter(product=OuterRef("pk")))
        on_hand = levels.order_by().values("product").annotate(total=Sum("on_hand")).values("total")
        queryset = super().get_queryset(request).annotate(on_hand_sum=Coalesce(Subquery(on_hand), 0))
        return queryset.order_by(*self.get_ordering(request) or ("sku",))

    @display(description=_("on hand"))
    def on_hand_total(self, obj):
        return obj.on_hand_sum

    def autocomplete_result_details(self, request, products):
        return product_picker_details(request, products)

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        if not change:
            obj.save()
            return
        # Receipts update the average cost concurrently; keep the stored one (also on a history revert).
        obj.average_cost = Product.objects.values_list("average_cost", flat=True).get(pk=obj.pk)
        obj.save(update_fields=saved_fields(obj, exclude=("average_cost", "created_at")))


@admin.register(Warehouse)
class WarehouseAdmin(WarehouseScopedAdminMixin, ImportableAdmin):
    """Warehouses and the Warehouse-role staff who work in each one (Warehouse staff see their own)."""

    warehouse_choice_fields = ()

    resource_classes = [WarehouseResource]
    list_display = ("code", "name", "staff_count", "active")
    search_fields = ("code", "name")
    list_filter = (("is_active", BooleanRadioFilter),)
    filter_horizontal = ("staff",)
    fields = ("code", "name", "address", "is_active", "staff")
    active = active_badge()

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(staff_total=Count("staff")).order_by("code")

    @display(description=_("staff"), ordering="staff_total")
    def staff_count(self, obj):
        return obj.staff_total


@admin.register(Supplier)
class SupplierAdmin(ProtectedFieldsAdminMixin, ImportableAdmin):
    """Suppliers with contact details, lead time and their catalogue (tab).

    The bank account is masked in the list; on the form it is full and editable only with
    ``services.SUPPLIER_BANK_ACCOUNT_PERM`` (Manager, Admin), masked and read-only otherwise.
    """

    protected_fields = sensitive_fields = services.SUPPLIER_PROTECTED_FIELDS
    resource_classes = [SupplierResource]
    list_display = (
        "code",
        "name",
        "contact_name",
        "email",
        "country",
        "lead_time_days",
        "bank_account_masked",
        "active",
    )
    list_display_links = ("code", "name")
    search_fields = ("code", "name", "contact_name", "email")
    list_filter = (("is_active", BooleanRadioFilter), ("lead_time_days", RangeNumericFilter))
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active", "lead_time_days")}),
        (_("Contact"), {"fields": ("contact_name", "email", "phone", "address", "country")}),
        (_("Payment"), {"fields": ("bank_account",)}),
    )
    inlines = [SupplierCatalogueInline]
    change_form_outer_before_template = "admin/record_hub_panel.html"
    show_full_result_count = False
    # Unfold renders ~4.5 KB of markup per row of 8 columns: Django's default 100 rows made a 0.46 MB page.
    list_per_page = 50
    active = active_badge()
    bank_account_masked = masked_display("bank_account", _("bank account"))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        from orders.admin.hub import supplier_orders_panel

        context["record_hub"] = supplier_orders_panel(request, obj)
        context["record_hub_title"] = _("Purchase orders and price list")
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(SupplierProduct)
class SupplierProductAdmin(ImportableAdmin):
    """Supplier price lists: supplier SKU, unit cost, minimum order, preferred supplier."""

    resource_classes = [SupplierProductResource]
    list_display = ("supplier", "product", "supplier_sku", "unit_cost_display", "minimum_order_quantity", "preferred")
    list_select_related = ("supplier", "product")
    search_fields = ("supplier__code", "supplier__name", "product__sku", "product__name", "supplier_sku")
    list_filter = (("supplier", RelatedDropdownFilter), ("preferred", BooleanRadioFilter))
    autocomplete_fields = ("supplier", "product")
    fields = ("supplier", "product", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred")
    show_full_result_count = False
    # Grouped by supplier on the (supplier, product) unique index: the model's order (supplier name, SKU)
    # joins two tables and sorted all 100,000 rows for every page. Product sorts through its SKU index.
    ordering = ("supplier_id", "product_id")
    sortable_by = ("product",)
    list_per_page = 50
    unit_cost_display = money_column("unit_cost", _("unit cost"), price=True)


# ---------------------------------------------------------------------------
# Stock


class ReorderFilter(admin.SimpleListFilter):
    """Stock levels whose available quantity is at or below the reorder point."""

    title = _("reorder")
    parameter_name = "reorder"

    def lookups(self, request, model_admin):
        return [("yes", _("At or below reorder point")), ("no", _("Above reorder point"))]

    def queryset(self, request, queryset):
        below = {"reorder_point__gt": 0, "available_qty__lte": F("reorder_point")}
        if self.value() == "yes":  # inactive products are not reordered (the dashboard's "To reorder" count)
            return queryset.filter(**below, product__is_active=True)
        if self.value() == "no":
            return queryset.exclude(**below)
        return queryset


@admin.register(StockLevel)
class StockLevelAdmin(WarehouseScopedAdminMixin, ImportableAdmin):
    """Stock per product and warehouse with its reorder settings.

    On hand and allocated move only through documents and orders: they are
    never editable here (nor imported); only the reorder settings are.
    """

    resource_classes = [StockLevelResource]
    list_display = (
        "product",
        "warehouse",
        "on_hand",
        "allocated",
        "available",
        "reorder_point",
        "reorder_quantity",
        "reorder_badge",
    )
    #: at phone width the list shows one card per level with these (templates/admin/phone_cards_results.html)
    phone_card_fields = ("product", "warehouse", "on_hand", "allocated", "available", "reorder_badge")
    list_select_related = ("product", "warehouse")
    # Every column but the warehouse (a handful of values: use the filter) sorts on an index.
    sortable_by = ("product", "on_hand", "allocated", "available", "reorder_point", "reorder_quantity")
    search_fields = ("product__sku", "product__name")
    list_filter = (ReorderFilter, ("warehouse", RelatedDropdownFilter))
    autocomplete_fields = ("product",)
    fields = ("product", "warehouse", "on_hand", "allocated", "available", "reorder_point", "reorder_quantity")
    readonly_fields = ("on_hand", "allocated", "available")
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).with_available()

    def get_urls(self):
        figures = path(
            "figures/",
            self.admin_site.admin_view(lambda request: stock_figures_view(self, request)),
            name="inventory_stocklevel_figures",
        )
        return [figures, *super().get_urls()]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("product", "warehouse", *self.readonly_fields)
        return self.readonly_fields

    @display(description=_("available"), ordering="available_qty")
    def available(self, obj):
        return getattr(obj, "available_qty", obj.available)

    @display(description=_("reorder"), label={"reorder": "danger"})
    def reorder_badge(self, obj):
        if obj.needs_reorder:
            return "reorder", _("Reorder")
        return None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        if change:
            # Never write the counters back: services change them concurrently.
            obj.save(update_fields=["reorder_point", "reorder_quantity"])
        else:
            obj.save()


class LedgerChangeList(IndexFriendlyChangeList):
    """The ledger page's rows carry the page of the document each reference names (one query per kind)."""

    def get_results(self, request):
        super().get_results(request)
        links = document_links(request.user, {row.reference for row in self.result_list if row.reference})
        for row in self.result_list:
            row.document_url = links.get(row.reference, "")


@admin.register(StockMovement)
class StockMovementAdmin(
    LargeListAdminMixin, KeyedSearchMixin, WarehouseScopedAdminMixin, StreamedExportMixin, ModelAdmin
):
    """The stock ledger: append-only, read-only for everyone (it is its own audit trail); exports CSV/XLSX."""

    resource_classes = [StockMovementResource]

    warehouse_choice_fields = ()

    list_display = (
        "created_at",
        "kind_badge",
        "product",
        "warehouse",
        "quantity_display",
        "balance_after",
        "unit_cost_display",
        "reference_link",
        "user",
    )
    list_select_related = ("product", "warehouse", "user")
    # Sorting a million-row ledger needs an index per column, kept on every stock move: time, kind and
    # product only (warehouse: the filter).
    sortable_by = ("created_at", "kind_badge", "product")
    # Product SKU and name are searched on the products table through keys (KeyedSearchMixin, trigram indexes).
    search_fields = ("reference", "product__sku", "product__name")
    search_help_text = _("Document number (reference), product SKU or name")
    list_filter = (
        ("product", AutocompleteSelectFilter),
        ("warehouse", AutocompleteSelectFilter),
        ("kind", ChoicesDropdownFilter),
        ("created_at", RangeDateFilter),
    )
    list_filter_submit = True
    show_full_result_count = False
    list_per_page = 100
    unit_cost_display = money_column("unit_cost", _("unit cost"), price=True)

    @display(
        description=_("kind"),
        ordering="kind",
        label={
            "opening": "info",
            "receipt": "success",
            "return": "success",
            "transfer_in": "success",
            "shipment": "warning",
            "transfer_out": "warning",
            "adjustment": "primary",
        },
    )
    def kind_badge(self, obj):
        return obj.kind, obj.get_kind_display()

    @display(description=_("quantity"), ordering="quantity")
    def quantity_display(self, obj):
        return f"{obj.quantity:+d}"

    def get_changelist(self, request, **kwargs):
        return LedgerChangeList

    @display(description=_("reference"))
    def reference_link(self, obj):
        url = getattr(obj, "document_url", "")
        return (
            format_html('<a href="{}" class="text-primary-600 dark:text-primary-500">{}</a>', url, obj.reference)
            if url
            else obj.reference
        )

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": _("Stock ledger"), **(extra_context or {})})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------
# Documents: adjustments and transfers


class DocumentLineInline(LoadedAutocompleteInlineMixin, WarehouseScopedInlineMixin, TabularInline):
    """Lines of a stock document; editable only while the document is a draft."""

    extra = 1
    show_title = False
    autocomplete_fields = ("product",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def _editable(self, obj) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class StockAdjustmentLineInline(DocumentLineInline):
    """Counted quantities with a reason per line; expected (on hand now, hidden on a blind count while in draft),
    then once applied the on-hand it replaced, the difference, its value at average cost and any reservations
    released from orders."""

    model = StockAdjustmentLine
    fields = ("product", "counted_quantity", "reason", "expected", "difference", "difference_value", "released")
    readonly_fields = ("expected", "difference", "difference_value", "released")

    def get_queryset(self, request):
        on_hand = StockLevel.objects.filter(
            product_id=OuterRef("product_id"), warehouse_id=OuterRef("adjustment__warehouse_id")
        ).values("on_hand")[:1]
        return super().get_queryset(request).select_related("adjustment").annotate(on_hand_now=Subquery(on_hand))

    @display(description=_("expected"))
    def expected(self, obj):
        if obj.pk is None:
            return "—"
        if obj.previous_quantity is not None:
            return obj.previous_quantity
        if obj.adjustment.blind_count:
            return _("hidden (blind count)")
        return getattr(obj, "on_hand_now", None) or 0

    @display(description=_("difference"))
    def difference(self, obj):
        value = obj.difference
        return "" if value is None else f"{value:+d}"

    @display(description=_("value"))
    def difference_value(self, obj):
        value = obj.difference_value
        return "" if value is None else f"{value:+,.2f}"

    @display(description=_("released from orders"))
    def released(self, obj):
        return obj.released_quantity or ""


class StockTransferLineInline(DocumentLineInline):
    """Products and quantities to move, with what is available in the source warehouse while a draft."""

    model = StockTransferLine
    fields = ("product", "quantity", "stock")
    readonly_fields = ("stock",)

    def get_fields(self, request, obj=None):
        return self.fields if obj is None or obj.is_editable else ("product", "quantity")

    @display(description=_("available in source"))
    def stock(self, line):
        return "—"


class StockDocumentAdmin(WarehouseScopedAdminMixin, HistoryAdmin):
    """Draft → applied / cancelled documents, created and applied through the services.

    Subclasses set ``apply_permission`` and define ``create_document(obj, user)``
    and ``apply_document_service(document, user)``, which call the services.
    Applied and cancelled documents are read-only, and their
    history cannot be reverted (the status must follow the workflow).
    """

    apply_permission = ""
    actions = ["apply_selected"]
    actions_detail = ["apply_document", "cancel_document"]
    history_revert_allowed = False
    show_full_result_count = False
    list_per_page = 50
    status_display = status_badge()
    record_fields = ("status", "created_by", "created_at", "applied_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(line_count=Count("lines")).order_by("-created_at", "-pk")

    @display(description=_("lines"), ordering="line_count")
    def lines(self, obj):
        return obj.line_count

    def get_readonly_fields(self, request, obj=None):
        return ("number", *self.record_fields)

    def _document(self, request, obj):
        if obj is None or isinstance(obj, self.model):
            return obj
        return self.get_object(request, unquote(str(obj)))

    def has_change_permission(self, request, obj=None):
        if obj is not None and not (obj.is_editable and self.may_act_on(request, obj)):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not (obj.is_editable and self.may_act_on(request, obj)):
            return False
        return super().has_delete_permission(request, obj)

    def has_apply_permission(self, request, obj=None):
        if not request.user.has_perm(self.apply_permission):
            return False
        document = self._document(request, obj)
        if obj is not None and document is None:
            return False
        return document is None or (document.is_editable and self.may_act_on(request, document))

    def has_cancel_permission(self, request, obj=None):
        document = self._document(request, obj)
        if obj is not None and document is None:
            return False
        return self.has_change_permission(request, document)

    def save_model(self, request, obj, form, change):
        if change:
            obj._history_user = request.user
            obj.save(
                update_fields=saved_fields(obj, exclude=("number", "status", "created_by", "created_at", "applied_at"))
            )
            return
        created = self.create_document(obj, request.user)
        # The inline formsets hold ``obj``: give it the created row's identity and number.
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db

    @action(
        description=_("Apply"),
        icon="check_circle",
        variant=ActionVariant.PRIMARY,
        permissions=["apply"],
        url_path="apply",
        dialog=confirm_dialog(
            _("Apply this document?"),
            _("Stock moves now, one ledger entry per line; the document then becomes read-only."),
            _("Apply"),
        ),
    )
    def apply_document(self, request, form, object_id):
        document = self.get_object(request, unquote(object_id))
        self.run_service(
            request,
            lambda: self.apply_document_service(document, request.user),
            success=_("%(number)s was applied.") % {"number": document.number},
        )
        return workflow_redirect(request, change_url(document))

    @action(
        description=_("Cancel"),
        icon="block",
        variant=ActionVariant.DANGER,
        permissions=["cancel"],
        url_path="cancel",
        dialog=confirm_dialog(
            _("Cancel this document?"),
            _("A cancelled document is kept for the record and can no longer be applied."),
            _("Cancel document"),
        ),
    )
    def cancel_document(self, request, form, object_id):
        document = self.get_object(request, unquote(object_id))
        self.run_service(
            request,
            lambda: services.stock_document_cancel(document=document, user=request.user),
            success=_("%(number)s was cancelled.") % {"number": document.number},
        )
        return workflow_redirect(request, change_url(document))

    @action(description=_("Apply selected drafts"), permissions=["apply"])
    def apply_selected(self, request, queryset):
        applied = []
        for document in queryset.order_by("pk"):
            if not self.may_act_on(request, document):
                self.message_user(
                    request, _("%(number)s: not your warehouse.") % {"number": document.number}, messages.ERROR
                )
                continue
            try:
                self.apply_document_service(document, request.user)
            except BusinessError as error:
                self.message_user(request, f"{document.number}: {error.message}", messages.ERROR)
            else:
                applied.append(document.number)
        if applied:
            self.message_user(
                request,
                ngettext("Applied %(numbers)s.", "Applied %(count)d documents: %(numbers)s.", len(applied))
                % {"count": len(applied), "numbers": ", ".join(applied)},
                messages.SUCCESS,
            )


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(StockDocumentAdmin):
    """Stock counts and write-offs in one warehouse; *Apply* sets on-hand to the counted quantities."""

    apply_permission = "inventory.apply_stockadjustment"
    inlines = [StockAdjustmentLineInline]
    list_display = (
        "number",
        "warehouse",
        "reason",
        "status_display",
        "lines",
        "created_by",
        "created_at",
        "applied_at",
    )
    list_select_related = ("warehouse", "created_by")
    search_fields = ("number", "note")
    list_filter = (
        ("status", ChoicesDropdownFilter),
        ("warehouse", RelatedDropdownFilter),
        ("reason", ChoicesDropdownFilter),
        ("created_at", RangeDateFilter),
    )
    warehouse_choice_fields = ("warehouse",)
    # Counts are reviewed (expected vs counted, value, reservations released) before they are applied.
    actions_detail = ["review_count", "apply_document", "print_count_sheet", "cancel_document"]
    actions_list = ["count_sheet"]

    def get_actions_detail(self, request, object_id):
        # "Apply" is posted from the review page (expected vs counted first), not offered as a bare button.
        return [
            item
            for item in super().get_actions_detail(request, object_id)
            if not item.action_name.endswith("_apply_document")
        ]

    def get_fieldsets(self, request, obj=None):
        header = (None, {"fields": ("warehouse", "reason", "blind_count", "note")})
        if obj is None:
            return (header,)
        return (
            (None, {"fields": ("number", "warehouse", "reason", "blind_count", "note")}),
            (_("Status"), {"fields": self.record_fields}),
        )

    def create_document(self, obj, user):
        return services.stock_adjustment_create(
            warehouse=obj.warehouse, reason=obj.reason, note=obj.note, blind_count=obj.blind_count, user=user
        )

    def has_count_sheet_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    @action(description=_("Review and apply"), icon="fact_check", permissions=["apply"], url_path="review")
    def review_count(self, request, object_id):
        return count_views.review_view(self, request, object_id)

    @action(description=_("Count sheet"), icon="print", permissions=["count_sheet"], url_path="sheet")
    def print_count_sheet(self, request, object_id):
        return count_views.adjustment_sheet_view(self, request, object_id)

    @action(description=_("Count sheet"), icon="print", permissions=["count_sheet"], url_path="count-sheet")
    def count_sheet(self, request):
        return count_views.count_sheet_view(self, request)

    def apply_document_service(self, document, user):
        return services.stock_adjustment_apply(adjustment=document, user=user)


@admin.register(StockTransfer)
class StockTransferAdmin(LineEntryAdminMixin, StockDocumentAdmin):
    """Goods moved between warehouses; *Apply* moves every line in one transaction."""

    apply_permission = "inventory.apply_stocktransfer"
    inlines = [StockTransferLineInline]
    list_display = (
        "number",
        "from_warehouse",
        "to_warehouse",
        "status_display",
        "lines",
        "created_by",
        "created_at",
        "applied_at",
    )
    list_select_related = ("from_warehouse", "to_warehouse", "created_by")
    search_fields = ("number", "note")
    list_filter = (
        ("status", ChoicesDropdownFilter),
        ("from_warehouse", RelatedDropdownFilter),
        ("to_warehouse", RelatedDropdownFilter),
        ("created_at", RangeDateFilter),
    )
    # Warehouse staff see transfers into and out of their warehouses (backoffice.scoping); they send
    # from their own, to any warehouse.
    warehouse_choice_fields = ("from_warehouse",)

    line_entry_mode = "transfer"
    line_entry_warehouse_field = "from_warehouse"

    def get_fieldsets(self, request, obj=None):
        header = ("from_warehouse", "to_warehouse", "note")
        if obj is None:
            return ((None, {"fields": header}),)
        return ((None, {"fields": ("number", *header)}), (_("Status"), {"fields": self.record_fields}))

    def create_document(self, obj, user):
        return services.stock_transfer_create(
            from_warehouse=obj.from_warehouse, to_warehouse=obj.to_warehouse, note=obj.note, user=user
        )

    def apply_document_service(self, document, user):
        return services.stock_transfer_apply(transfer=document, user=user)
