"""Order entry while typing: live sales-order totals, stock figures next to lines, richer product pickers.

Two small JSON endpoints behind the admin (``orders/static/orders/line_entry.js`` calls them):

* ``POST /admin/orders/salesorder/live-totals/`` — the order form's state in, every line priced and the
  totals out, computed by ``services.sales_order_preview`` (the very pricing saving uses), plus each line's
  stock in the order's warehouse and how much of it cannot be reserved.
* ``GET /admin/inventory/stocklevel/figures/?warehouse=<id>&product=<id>…`` — on hand, allocated,
  available, incoming and reorder point per product in one warehouse (purchase-order and transfer lines).

Both are permission- and warehouse-scoped (a warehouse the user may not see answers 404), answer bad
input with a 400 JSON ``{"error": …}`` and run a fixed number of queries whatever the number of lines.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from backoffice.admin_tools import is_valid_pk
from backoffice.autocomplete import autocomplete_source
from backoffice.errors import BusinessError
from backoffice.money import format_money
from backoffice.scoping import scope_queryset
from inventory.models import Product, Warehouse
from orders import services
from orders.models import Customer, SalesOrder, SalesOrderLine
from orders.selectors import MAX_FIGURES_PRODUCTS, StockFigures, stock_figures

#: autocompletes of document lines: only active products are offered there, with price, tax and stock
LINE_PICKERS = {
    "orders.salesorderline.product",
    "orders.purchaseorderline.product",
    "inventory.stocktransferline.product",
    "inventory.stockadjustmentline.product",
}
MAX_LINES = MAX_FIGURES_PRODUCTS
MAX_BODY_BYTES = 256 * 1024


class LineEntryAdminMixin:
    """A document admin whose lines are typed live: the context and script ``line_entry.js`` reads.

    ``line_entry_mode`` names the document ("sales", "purchase", "transfer"), ``line_entry_url`` the
    endpoint the script calls (stock figures unless the admin has its own), ``line_entry_warehouse_field``
    the form field whose warehouse the figures are for. Lines are editable while the document is and the
    user may change it.
    """

    change_form_after_template = "admin/orders/line_entry_script.html"
    line_entry_mode = ""
    line_entry_url = "admin:inventory_stocklevel_figures"
    line_entry_warehouse_field = "warehouse"

    def line_entry_context(self, request, obj) -> dict[str, Any]:
        field = self.line_entry_warehouse_field
        return {
            "mode": self.line_entry_mode,
            "url": reverse(self.line_entry_url),
            "warehouse": getattr(obj, f"{field}_id") if obj else None,
            "warehouse_field": field,
            "editable": (obj is None or obj.is_editable) and self.has_change_permission(request, obj),
        }

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["line_entry"] = self.line_entry_context(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


class BadInput(Exception):
    """The request cannot be answered as sent (400)."""


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": str(message)}, status=status)


def _id(value, model, what: str) -> int:
    if isinstance(value, bool) or not is_valid_pk(model, value):
        raise BadInput(_("%(what)s must be an id (got %(value)r).") % {"what": what, "value": value})
    return int(value)


def _clean(model, field: str, value):
    """``value`` cleaned by the model field's form field and validators (what the admin form and save check)."""
    model_field = model._meta.get_field(field)
    try:
        cleaned = model_field.formfield().clean(value)
        model_field.run_validators(cleaned)  # the model's bounds (0–100 %, maxima), as saving checks them
        return cleaned
    except ValidationError as error:
        raise BadInput(" ".join(error.messages)) from None


def _text(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise BadInput(_("Values must be text or numbers."))
    return str(value).strip()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _price(value: Decimal) -> str:
    """A price with the decimals it needs: 12.50, 0.1234."""
    text = f"{value:.4f}".rstrip("0")
    whole, _dot, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _stock_json(figures: StockFigures | None) -> dict[str, int] | None:
    return figures.as_json() if figures is not None else None


def visible_warehouse(user, warehouse_id: int) -> Warehouse:
    """The warehouse if the user may see it (its stock), else 404: another warehouse is not shown."""
    warehouse = scope_queryset(user, Warehouse.objects.filter(pk=warehouse_id)).first()
    if warehouse is None:
        raise Http404(_("No such warehouse."))
    return warehouse


# ---------------------------------------------------------------------------
# Live totals of a sales order


def _read_body(request) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise BadInput(_("The request is too large."))
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadInput(_("The request is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise BadInput(_("The request must be a JSON object."))
    lines = data.get("lines", [])
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise BadInput(_("lines must be a list of objects."))
    if len(lines) > MAX_LINES:
        raise BadInput(_("At most %(n)d lines can be priced at once.") % {"n": MAX_LINES})
    return data


def _header(data: dict, order: SalesOrder | None) -> tuple[Decimal, Decimal]:
    discount = _text(data.get("discount_percent"))
    shipping = _text(data.get("shipping_charge"))
    discount = _clean(SalesOrder, "discount_percent", discount or "0") if discount or order is None else None
    shipping = _clean(SalesOrder, "shipping_charge", shipping or "0") if shipping or order is None else None
    if order is not None:
        discount = order.discount_percent if discount is None else discount
        shipping = order.shipping_charge if shipping is None else shipping
    return discount, shipping


class _Line:
    """One posted line: its key (the inline prefix), what it resolves to, or why it cannot be priced."""

    def __init__(self, key: str):
        self.key = key
        self.product: Product | None = None
        self.preview: services.PreviewLine | None = None
        self.error = ""


def _resolve_lines(raw_lines: list[dict], saved: dict[int, SalesOrderLine]) -> list[_Line]:
    product_ids = set()
    for raw in raw_lines:
        value = raw.get("product")
        if value not in (None, "") and is_valid_pk(Product, value) and not isinstance(value, bool):
            product_ids.add(int(value))
    products = Product.objects.in_bulk(sorted(product_ids))
    resolved = []
    for index, raw in enumerate(raw_lines):
        line = _Line(_text(raw.get("key")) or str(index))
        resolved.append(line)
        if raw.get("delete"):
            continue
        try:
            line.product, line.preview = _resolve_line(raw, saved, products)
        except BadInput as error:
            line.error = str(error)
    return resolved


def _resolve_line(raw: dict, saved: dict[int, SalesOrderLine], products: dict[int, Product]):
    """The product and the values saving this row would use (``DocumentAdmin.save_lines`` semantics)."""
    existing = saved.get(raw.get("id")) if isinstance(raw.get("id"), int) else None
    product_value = raw.get("product")
    if product_value in (None, ""):
        return None, None
    product = products.get(_id(product_value, Product, _("product")))
    if product is None:
        raise BadInput(_("Unknown product."))
    changed_product = existing is None or existing.product_id != product.pk
    if changed_product and not product.is_active:
        raise BadInput(_("%(sku)s is inactive and cannot be put on an order.") % {"sku": product.sku})
    quantity = _text(raw.get("quantity"))
    if not quantity:
        return product, None
    quantity = _clean(SalesOrderLine, "quantity", quantity)
    price = _text(raw.get("unit_price"))
    price = _clean(SalesOrderLine, "unit_price", price) if price else None
    if existing is not None:
        if not changed_product and price is None:
            price = existing.unit_price  # an emptied price keeps the saved one
        elif changed_product and price == existing.unit_price:
            price = None  # a new product with an untouched price takes the new product's list price
    discount = _text(raw.get("discount_percent"))
    discount = _clean(SalesOrderLine, "discount_percent", discount) if discount else Decimal("0")
    return product, services.PreviewLine(product, quantity, price, discount)


def _shortfalls(lines: list[_Line], figures: dict[int, StockFigures]) -> dict[str, int]:
    """Per line key, what confirming now could not reserve (lines take the available stock in order)."""
    left = {product_id: max(f.available, 0) for product_id, f in figures.items()}
    short = {}
    for line in lines:
        if line.preview is None or line.product.pk not in left:
            continue
        reserved = min(line.preview.quantity, left[line.product.pk])
        left[line.product.pk] -= reserved
        short[line.key] = line.preview.quantity - reserved
    return short


def live_totals_view(model_admin, request):
    """The ``live-totals`` endpoint of ``SalesOrderAdmin`` (see the module docstring)."""
    if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
        return _error(_("You may not enter sales orders."), 403)
    if request.method != "POST":
        return _error(_("Use POST."), 405)
    try:
        return JsonResponse(_live_totals(model_admin, request))
    except BadInput as error:
        return _error(str(error))
    except Http404 as error:
        return _error(str(error) or _("Not found."), 404)


def _live_totals(model_admin, request) -> dict[str, Any]:
    data = _read_body(request)
    user = request.user
    order = None
    saved: dict[int, SalesOrderLine] = {}
    if data.get("order") not in (None, ""):
        order = model_admin.get_queryset(request).filter(pk=_id(data["order"], SalesOrder, _("order"))).first()
        if order is None:
            raise Http404(_("No such order."))
        if not order.is_editable:
            raise BadInput(_("%(order)s is no longer a draft: its totals are final.") % {"order": order})
        customer, warehouse = order.customer, order.warehouse
        saved = {line.pk: line for line in order.lines.all()}
    else:
        customer = warehouse = None
        if data.get("customer") not in (None, ""):
            if not user.has_perm("orders.view_customer"):
                raise Http404(_("No such customer."))
            customer = Customer.objects.filter(pk=_id(data["customer"], Customer, _("customer"))).first()
            if customer is None:
                raise BadInput(_("Unknown customer."))
        if data.get("warehouse") not in (None, ""):
            warehouse = visible_warehouse(user, _id(data["warehouse"], Warehouse, _("warehouse")))
    discount, shipping = _header(data, order)
    lines = _resolve_lines(data.get("lines", []), saved)
    products = [line.product.pk for line in lines if line.product is not None]
    figures = stock_figures(user=user, warehouse_id=warehouse.pk, product_ids=products) if warehouse else {}
    short = _shortfalls(lines, figures)
    priced: dict[str, SalesOrderLine] = {}
    totals = totals_display = None
    error = ""
    if customer is not None:
        pricing_lines = [line for line in lines if line.preview is not None]
        try:
            preview, priced_lines = services.sales_order_preview(
                customer=customer,
                warehouse=warehouse,
                lines=[line.preview for line in pricing_lines],
                discount_percent=discount,
                shipping_charge=shipping,
            )
        except BusinessError as refusal:
            error = refusal.message
        else:
            priced = {line.key: priced_line for line, priced_line in zip(pricing_lines, priced_lines, strict=True)}
            amounts = {
                "subtotal": preview.subtotal,
                "tax_total": preview.tax_total,
                "shipping": preview.shipping_charge,
                "total": preview.total,
            }
            totals = {name: _money(amount) for name, amount in amounts.items()}
            # As the saved order's page shows them (backoffice.money: currency, thousands separators).
            totals_display = {name: format_money(amount) for name, amount in amounts.items()}
    else:
        error = _("Choose the customer to see prices with its tax.")
    return {
        "lines": [_line_json(line, priced.get(line.key), figures, short, customer) for line in lines],
        "totals": totals,
        "totals_display": totals_display,
        "error": error,
        "incomplete": any(line.error for line in lines),
        "shipping_address": (customer.shipping_address or customer.billing_address) if customer else "",
        "warehouse": warehouse.code if warehouse else "",
    }


def _line_json(line: _Line, priced: SalesOrderLine | None, figures, short, customer) -> dict[str, Any]:
    product = line.product
    result: dict[str, Any] = {"key": line.key, "error": line.error, "product": product.pk if product else None}
    if product is None:
        return result
    tax_rate = Decimal("0") if customer is not None and customer.tax_exempt else product.tax_rate
    result.update(
        sku=product.sku,
        list_price=_price(product.sale_price),
        tax_rate=f"{tax_rate:.2f}",
        stock=_stock_json(figures.get(product.pk)),
        short=short.get(line.key, 0),
    )
    if priced is not None:
        result.update(
            unit_price=_price(priced.unit_price),
            tax_rate=f"{priced.tax_rate:.2f}",
            net=_money(priced.net_amount),
            tax=_money(priced.tax_amount),
            total=_money(priced.total_amount),
            # as the page shows money (backoffice.money); the raw figures above stay for machines
            net_display=format_money(priced.net_amount),
            tax_display=format_money(priced.tax_amount),
            total_display=format_money(priced.total_amount),
        )
    return result


# ---------------------------------------------------------------------------
# Stock figures for purchase-order and transfer lines


def stock_figures_view(model_admin, request):
    """The ``figures`` endpoint of ``StockLevelAdmin`` (see the module docstring)."""
    if not model_admin.has_view_permission(request):
        return _error(_("You may not see stock levels."), 403)
    if request.method != "GET":
        return _error(_("Use GET."), 405)
    try:
        warehouse_id = _id(request.GET.get("warehouse"), Warehouse, _("warehouse"))
        values = request.GET.getlist("product")
        if len(values) > MAX_FIGURES_PRODUCTS:
            raise BadInput(_("At most %(n)d products at once.") % {"n": MAX_FIGURES_PRODUCTS})
        product_ids = [_id(value, Product, _("product")) for value in values]
    except BadInput as error:
        return _error(str(error))
    try:
        warehouse = visible_warehouse(request.user, warehouse_id)
    except Http404 as error:
        return _error(str(error), 404)
    figures = stock_figures(user=request.user, warehouse_id=warehouse.pk, product_ids=product_ids)
    return JsonResponse(
        {"warehouse": warehouse.code, "products": {str(pk): value.as_json() for pk, value in figures.items()}}
    )


# ---------------------------------------------------------------------------
# The product picker of document lines


def product_picker_details(request, products) -> dict[int, dict[str, Any]]:
    """Extra keys of each product in a line picker's autocomplete page: price, tax rate, stock.

    The page's stock comes from one ``stock_figures`` call for the warehouse the form sent
    (``warehouse=``; ignored unless the user may see it); ``customer=`` makes the tax rate 0 for a
    tax-exempt customer, as the order will.
    """
    if autocomplete_source(request) not in LINE_PICKERS or not products:
        return {}
    user = request.user
    figures: dict[int, StockFigures] = {}
    warehouse = request.GET.get("warehouse", "")
    if is_valid_pk(Warehouse, warehouse):
        figures = stock_figures(user=user, warehouse_id=int(warehouse), product_ids=[p.pk for p in products])
    customer = request.GET.get("customer", "")
    exempt = (
        is_valid_pk(Customer, customer)
        and user.has_perm("orders.view_customer")
        and Customer.objects.filter(pk=customer, tax_exempt=True).exists()
    )
    return {
        product.pk: {
            "sku": product.sku,
            "name": product.name,
            "price": _price(product.sale_price),
            "cost": _price(product.cost),
            "tax_rate": "0.00" if exempt else f"{product.tax_rate:.2f}",
            "stock": _stock_json(figures.get(product.pk)),
        }
        for product in products
    }
