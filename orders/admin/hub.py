"""The product page as the hub, and the customer and supplier pages' orders (read-only panels).

The figures come from ``orders.record_pages`` (selectors); here they are rendered as read-only fields
of the change pages, and the two list filters the product page's links use are defined:
``HoldingProductFilter`` (sales orders holding a reservation of a product) and
``IncomingProductFilter`` (purchase orders still bringing it).
"""

from __future__ import annotations

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from backoffice.admin_tools import is_valid_pk
from inventory.models import Product
from orders import record_pages


class _ProductParamFilter(admin.SimpleListFilter):
    """A filter set by a link from a product page: shown only while it is set (one choice: that product).

    Subclasses define ``narrow(queryset, product_id)``.
    """

    def _product(self):
        value = self.value()
        if value and is_valid_pk(Product, value):
            return Product.objects.filter(pk=value).first()
        return None

    def lookups(self, request, model_admin):
        product = self._product()
        return [(str(product.pk), str(product))] if product else []

    def queryset(self, request, queryset):
        product = self._product()
        if product is None:
            return queryset if not self.value() else queryset.none()
        return self.narrow(queryset, product.pk)


class HoldingProductFilter(_ProductParamFilter):
    title = _("holding a reservation of")
    parameter_name = record_pages.HOLDING_PARAM

    def narrow(self, queryset, product_id):
        return record_pages.orders_holding(queryset, product_id)


class IncomingProductFilter(_ProductParamFilter):
    title = _("still bringing")
    parameter_name = record_pages.INCOMING_PARAM

    def narrow(self, queryset, product_id):
        return record_pages.orders_bringing(queryset, product_id)


def overdue_date(value, *, late: bool):
    """A date column: in red (``bo-overdue``) when it has passed and the document is still waiting."""
    if value is None:
        return "—"
    text = date_format(value)
    if late and value < timezone.localdate():
        return format_html('<span class="bo-overdue" title="{}">{}</span>', _("Overdue"), text)
    return text


def highlight_backordered(quantity: int):
    """A backordered quantity: highlighted (``bo-backordered``) when something waits for stock."""
    if not quantity:
        return quantity
    return format_html('<span class="bo-backordered">{}</span>', quantity)


def product_hub_panel(request, product) -> str:
    if product is None or product.pk is None:
        return ""
    hub = record_pages.product_hub(request.user, product)
    return render_to_string("admin/inventory/product/hub.html", {"hub": hub, "product": product}, request=request)


def customer_orders_panel(request, customer) -> str:
    if customer is None or customer.pk is None:
        return ""
    summary = record_pages.customer_orders(request.user, customer)
    return render_to_string(
        "admin/orders/party_orders.html",
        {"summary": summary, "party": customer, "kind": "customer"},
        request=request,
    )


def supplier_orders_panel(request, supplier) -> str:
    if supplier is None or supplier.pk is None:
        return ""
    page = record_pages.supplier_orders(request.user, supplier)
    return render_to_string(
        "admin/orders/party_orders.html",
        {"summary": page.orders, "party": supplier, "kind": "supplier", "price_list": page},
        request=request,
    )
