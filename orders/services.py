"""Every write that matters for customers, sales orders, purchase orders, receipts and shipments.

Conventions (DESIGN.md section 6): keyword-only typed functions named
``<entity>_<action>``, atomic, ``full_clean()`` before a single save, history
rows naming the user. A refused operation raises a ``BusinessError`` subclass
and writes nothing.

Locking order, held by every function here so that no two transactions wait
on each other in a cycle: document row (sales order / purchase order) →
shipment → customer → stock levels (``inventory.services`` locks those by pk).
Nothing locks a document after a stock level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from backoffice.errors import CreditLimitExceeded, InvalidTransition, ValidationFailed
from backoffice.history import save_with_user
from backoffice.numbering import next_document_number
from inventory.models import MovementKind, Product, SupplierProduct
from inventory.services import StockLine, stock_allocate, stock_issue, stock_receive, stock_release
from orders import pricing
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

ZERO = Decimal("0")
HUNDRED = Decimal("100")
OVERRIDE_CREDIT_PERM = "orders.override_credit_salesorder"

SALES_LINE_AMOUNT_FIELDS = ["tax_rate", "net_amount", "tax_amount", "total_amount"]


# Helpers ----------------------------------------------------------------------------------------


def _user_or_none(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _clean(instance, **kwargs) -> None:
    """``full_clean`` turning Django's ValidationError into our domain error."""
    try:
        instance.full_clean(**kwargs)
    except ValidationError as error:
        details = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        text = "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in details.items()
        )
        raise ValidationFailed(text, fields=details) from error


def _set_fields(instance, fields: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValidationFailed(f"These fields cannot be set here: {', '.join(unknown)}.")
    for name, value in fields.items():
        setattr(instance, name, value)


def _check_quantity(quantity, what: str = "Quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationFailed(f"{what} must be a whole number greater than zero (got {quantity!r}).")
    return quantity


def _check_price(value, what: str) -> Decimal:
    value = Decimal(value)
    if value < 0:
        raise ValidationFailed(f"{what} cannot be negative.")
    return value


def _check_percent(value, what: str) -> Decimal:
    value = Decimal(value)
    if not ZERO <= value <= HUNDRED:
        raise ValidationFailed(f"{what} must be between 0 and 100.")
    return value


def _locked(model, pk, *related: str):
    queryset = model.objects.select_for_update(of=("self",))
    if related:
        queryset = queryset.select_related(*related)
    return queryset.get(pk=pk)


def _pk(value) -> int:
    return value if isinstance(value, int) else value.pk


# Customers --------------------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "code",
    "name",
    "contact_name",
    "email",
    "phone",
    "billing_address",
    "shipping_address",
    "country",
    "credit_limit",
    "tax_exempt",
    "is_active",
}


def _normalise_customer(customer: Customer) -> None:
    customer.code = (customer.code or "").strip().upper()
    customer.name = (customer.name or "").strip()
    if customer.credit_limit is not None and customer.credit_limit < 0:
        raise ValidationFailed("A credit limit cannot be negative (leave it empty for no limit).")


@transaction.atomic
def customer_create(*, user, **fields) -> Customer:
    """A new customer; the code is stored upper-case and must be unique."""
    customer = Customer()
    _set_fields(customer, fields, CUSTOMER_FIELDS)
    _normalise_customer(customer)
    _clean(customer)
    save_with_user(customer, user)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, user, **fields) -> Customer:
    """Change a customer's details. Orders already confirmed keep their prices and tax."""
    customer = _locked(Customer, customer.pk)
    _set_fields(customer, fields, CUSTOMER_FIELDS)
    _normalise_customer(customer)
    _clean(customer)
    save_with_user(customer, user)
    return customer


def customer_open_order_value(*, customer: Customer, exclude_order_id: int | None = None) -> Decimal:
    """Total value of the customer's confirmed and partially shipped orders."""
    queryset = SalesOrder.objects.filter(customer=customer, status__in=SalesOrderStatus.OPEN)
    if exclude_order_id is not None:
        queryset = queryset.exclude(pk=exclude_order_id)
    return queryset.aggregate(total=Sum("total"))["total"] or ZERO


# Sales orders -----------------------------------------------------------------------------------

SALES_ORDER_FIELDS = {
    "order_date",
    "required_date",
    "customer_reference",
    "shipping_address",
    "discount_percent",
    "shipping_charge",
    "notes",
}


def _tax_rate_for(customer: Customer, product: Product) -> Decimal:
    return ZERO if customer.tax_exempt else product.tax_rate


def _require_editable(order: SalesOrder) -> None:
    if order.status not in SalesOrderStatus.EDITABLE:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}: lines can only be changed on a draft order."
        )


def _price_lines(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> None:
    """Compute each line's amounts and the order's totals in memory (no query)."""
    amounts = []
    for line in lines:
        if order.status in SalesOrderStatus.EDITABLE:
            line.tax_rate = _tax_rate_for(order.customer, line.product)
        result = pricing.line_amounts(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            order_discount_percent=order.discount_percent,
            tax_rate=line.tax_rate,
        )
        line.net_amount, line.tax_amount, line.total_amount = result.net, result.tax, result.total
        amounts.append(result)
    totals = pricing.order_totals(amounts, shipping_charge=order.shipping_charge)
    order.subtotal, order.tax_total, order.total = totals.subtotal, totals.tax_total, totals.total


def _line_amounts(line: SalesOrderLine) -> tuple[Decimal, ...]:
    return tuple(Decimal(getattr(line, name)) for name in SALES_LINE_AMOUNT_FIELDS)


def _order_lines(order: SalesOrder) -> list[SalesOrderLine]:
    return list(SalesOrderLine.objects.filter(order=order).select_related("product").order_by("id"))


@transaction.atomic
def sales_order_create(*, customer: Customer, warehouse, user, **fields) -> SalesOrder:
    """A new draft order with its number; the shipping address defaults from the customer."""
    if not customer.is_active:
        raise ValidationFailed(f"Customer {customer.code} is inactive: new orders cannot be taken for it.")
    if not warehouse.is_active:
        raise ValidationFailed(f"Warehouse {warehouse.code} is inactive.")
    order = SalesOrder(customer=customer, warehouse=warehouse, created_by=_user_or_none(user))
    _set_fields(order, fields, SALES_ORDER_FIELDS)
    if not order.shipping_address:
        order.shipping_address = customer.shipping_address or customer.billing_address
    _check_percent(order.discount_percent, "The order discount")
    _check_price(order.shipping_charge, "The shipping charge")
    order.number = next_document_number("SO")
    _price_lines(order, [])
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def sales_order_update(*, order: SalesOrder, user, **fields) -> SalesOrder:
    """Change a draft order's header (dates, discount, shipping charge...) and reprice it."""
    order = _locked(SalesOrder, order.pk, "customer")
    _require_editable(order)
    _set_fields(order, fields, SALES_ORDER_FIELDS)
    _check_percent(order.discount_percent, "The order discount")
    _check_price(order.shipping_charge, "The shipping charge")
    return _recalculate(order, user)


def _recalculate(order: SalesOrder, user) -> SalesOrder:
    lines = _order_lines(order)
    _price_lines(order, lines)
    if lines:
        bulk_update_with_history(lines, SalesOrderLine, SALES_LINE_AMOUNT_FIELDS, default_user=_user_or_none(user))
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def sales_order_recalculate(*, order: SalesOrder, user=None) -> SalesOrder:
    """Reprice every line and the order totals (call whenever lines or the header change).

    On a draft the tax rate of each line is refreshed from its product (0 for a
    tax-exempt customer); after confirmation the rates are frozen.
    """
    order = _locked(SalesOrder, order.pk, "customer")
    return _recalculate(order, user)


@transaction.atomic
def sales_order_line_add(
    *,
    order: SalesOrder,
    product: Product,
    quantity: int,
    unit_price: Decimal | None = None,
    discount_percent: Decimal = ZERO,
    user,
) -> SalesOrderLine:
    """Add a line to a draft order; the price defaults to the product's sale price."""
    order = _locked(SalesOrder, order.pk, "customer")
    _require_editable(order)
    if not product.is_active:
        raise ValidationFailed(f"{product.sku} is inactive and cannot be put on an order.")
    line = SalesOrderLine(
        order=order,
        product=product,
        quantity=_check_quantity(quantity),
        unit_price=_check_price(product.sale_price if unit_price is None else unit_price, "The unit price"),
        discount_percent=_check_percent(discount_percent, "The line discount"),
        tax_rate=_tax_rate_for(order.customer, product),
    )
    _clean(line)
    save_with_user(line, user)
    _recalculate(order, user)
    line.refresh_from_db()
    return line


@transaction.atomic
def sales_order_line_update(
    *,
    line: SalesOrderLine,
    user,
    product: Product | None = None,
    quantity: int | None = None,
    unit_price: Decimal | None = None,
    discount_percent: Decimal | None = None,
) -> SalesOrderLine:
    """Change a line of a draft order; only the arguments given change."""
    order = _locked(SalesOrder, line.order_id, "customer")
    _require_editable(order)
    line = SalesOrderLine.objects.select_related("product").get(pk=line.pk)
    if product is not None and product.pk != line.product_id:
        if not product.is_active:
            raise ValidationFailed(f"{product.sku} is inactive and cannot be put on an order.")
        line.product = product
        if unit_price is None:
            unit_price = product.sale_price
    if quantity is not None:
        line.quantity = _check_quantity(quantity)
    if unit_price is not None:
        line.unit_price = _check_price(unit_price, "The unit price")
    if discount_percent is not None:
        line.discount_percent = _check_percent(discount_percent, "The line discount")
    _clean(line)
    save_with_user(line, user)
    _recalculate(order, user)
    line.refresh_from_db()
    return line


@transaction.atomic
def sales_order_line_remove(*, line: SalesOrderLine, user) -> None:
    """Remove a line from a draft order."""
    order = _locked(SalesOrder, line.order_id, "customer")
    _require_editable(order)
    line = SalesOrderLine.objects.get(pk=line.pk)
    line._history_user = _user_or_none(user)
    line.delete()
    _recalculate(order, user)


def _confirmation_problems(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> list[str]:
    problems = []
    if not lines:
        problems.append("it has no lines")
    if not order.customer.is_active:
        problems.append(f"customer {order.customer.code} is inactive")
    if not order.warehouse.is_active:
        problems.append(f"warehouse {order.warehouse.code} is inactive")
    inactive = sorted({line.product.sku for line in lines if not line.product.is_active})
    if inactive:
        problems.append(f"inactive products: {', '.join(inactive)}")
    if any(line.quantity <= 0 for line in lines):
        problems.append("every quantity must be greater than zero")
    if any(line.unit_price < 0 for line in lines):
        problems.append("prices cannot be negative")
    return problems


def _check_credit(order: SalesOrder, user, reason: str) -> None:
    """Open orders + this one must stay within the limit, unless a Manager overrides it."""
    customer = order.customer
    if customer.credit_limit is None:
        return
    customer = _locked(Customer, customer.pk)  # serialise confirmations of one customer
    open_value = customer_open_order_value(customer=customer, exclude_order_id=order.pk)
    exposure = open_value + order.total
    if exposure <= customer.credit_limit:
        return
    data = {
        "customer": customer.code,
        "credit_limit": str(customer.credit_limit),
        "open_orders": str(open_value),
        "order_total": str(order.total),
        "excess": str(exposure - customer.credit_limit),
    }
    summary = (
        f"{order.number} ({order.total}) would take {customer.code}'s open orders to {exposure}, "
        f"over the credit limit of {customer.credit_limit} by {exposure - customer.credit_limit}"
    )
    if not reason.strip():
        raise CreditLimitExceeded(f"{summary}. A Manager can confirm it with a reason.", **data)
    if user is None or not user.has_perm(OVERRIDE_CREDIT_PERM):
        raise CreditLimitExceeded(f"{summary}. Only a Manager may override a credit limit.", **data)
    order.credit_override_reason = reason.strip()
    order.credit_override_by = user


def _reserve(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> list[SalesOrderLine]:
    """Reserve what is available for each line's open quantity; the rest stays backordered.

    One ``stock_allocate`` call for the whole order; returns the lines whose
    reservation changed (caller saves them).
    """
    waiting = [line for line in lines if line.quantity_backordered > 0]
    if not waiting:
        return []
    reserved = stock_allocate(
        lines=[StockLine(line.product_id, order.warehouse_id, line.quantity_backordered) for line in waiting],
        allow_partial=True,
    )
    changed = []
    for line, quantity in zip(waiting, reserved, strict=True):
        if quantity:
            line.quantity_reserved += quantity
            changed.append(line)
    return changed


@transaction.atomic
def sales_order_confirm(*, order: SalesOrder, user, credit_override_reason: str = "") -> SalesOrder:
    """Confirm a draft: validate it, check credit, reserve stock (what is short is backordered).

    A bounded number of queries whatever the number of lines: lock the order,
    load its lines, one allocation for all lines, one bulk update.
    """
    order = _locked(SalesOrder, order.pk, "customer", "warehouse")
    if order.status != SalesOrderStatus.DRAFT:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only a draft can be confirmed."
        )
    lines = _order_lines(order)
    problems = _confirmation_problems(order, lines)
    if problems:
        raise ValidationFailed(f"{order.number} cannot be confirmed: {'; '.join(problems)}.", problems=problems)
    before = {line.pk: _line_amounts(line) for line in lines}
    _price_lines(order, lines)
    _check_credit(order, user, credit_override_reason)
    order.status = SalesOrderStatus.CONFIRMED
    order.confirmed_at = timezone.now()
    # The related rows were just loaded (and locked): skip re-querying them; the number is already unique.
    _clean(
        order,
        exclude=["customer", "warehouse", "created_by", "credit_override_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    save_with_user(
        order,
        user,
        update_fields=[
            "status",
            "confirmed_at",
            "subtotal",
            "tax_total",
            "total",
            "credit_override_reason",
            "credit_override_by",
            "updated_at",
        ],
    )
    reserved = _reserve(order, lines)
    # Only what changed is written (usually the reserved quantity alone), keeping the stock locks short.
    repriced = [line for line in lines if _line_amounts(line) != before[line.pk]]
    if repriced:
        SalesOrderLine.objects.bulk_update(repriced, SALES_LINE_AMOUNT_FIELDS)
    _write_reserved(reserved)
    changed = {line.pk: line for line in [*repriced, *reserved]}
    if changed:
        SalesOrderLine.history.bulk_history_create(
            list(changed.values()), update=True, default_user=_user_or_none(user)
        )
    return order


def _write_reserved(lines: Sequence[SalesOrderLine]) -> None:
    """Save reserved quantities with one plain UPDATE per distinct value (cheaper than a CASE per line)."""
    by_value: dict[int, list[int]] = defaultdict(list)
    for line in lines:
        by_value[line.quantity_reserved].append(line.pk)
    for value, pks in by_value.items():
        SalesOrderLine.objects.filter(pk__in=pks).update(quantity_reserved=value)


def _release_all(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> list[SalesOrderLine]:
    held = [line for line in lines if line.quantity_reserved > 0]
    if held:
        stock_release(lines=[StockLine(line.product_id, order.warehouse_id, line.quantity_reserved) for line in held])
        for line in held:
            line.quantity_reserved = 0
    return held


@transaction.atomic
def sales_order_cancel(*, order: SalesOrder, user, reason: str = "") -> SalesOrder:
    """Cancel a draft or confirmed order: every reservation goes back to stock.

    Refused once anything has shipped. Shipments not yet shipped are removed.
    """
    order = _locked(SalesOrder, order.pk)
    if order.status not in SalesOrderStatus.CANCELLABLE:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; "
            "only draft or confirmed orders with nothing shipped can be cancelled."
        )
    lines = list(order.lines.order_by("id"))
    if any(line.quantity_shipped for line in lines):
        raise InvalidTransition(f"{order.number} has shipped goods and can no longer be cancelled.")
    for shipment in order.shipments.filter(status__in=ShipmentStatus.EDITABLE):
        shipment._history_user = _user_or_none(user)
        shipment.delete()
    released = _release_all(order, lines)
    if released:
        bulk_update_with_history(released, SalesOrderLine, ["quantity_reserved"], default_user=_user_or_none(user))
    order.status = SalesOrderStatus.CANCELLED
    order.cancelled_at = timezone.now()
    if reason.strip():
        order.notes = f"{order.notes}\nCancelled: {reason.strip()}".strip()
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def sales_order_mark_delivered(*, order: SalesOrder, user) -> SalesOrder:
    """A fully shipped order arrived: the order and its shipped shipments become delivered."""
    order = _locked(SalesOrder, order.pk)
    if order.status != SalesOrderStatus.SHIPPED:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only a fully shipped order can be delivered."
        )
    now = timezone.now()
    for shipment in order.shipments.filter(status=ShipmentStatus.SHIPPED):
        shipment.status = ShipmentStatus.DELIVERED
        shipment.delivered_at = now
        save_with_user(shipment, user, update_fields=["status", "delivered_at", "updated_at"])
    order.status = SalesOrderStatus.DELIVERED
    save_with_user(order, user, update_fields=["status", "updated_at"])
    return order


# Backorders -------------------------------------------------------------------------------------


@transaction.atomic
def backorders_reserve(*, keys: Iterable[tuple[int, int]], user=None) -> int:
    """Reserve newly arrived stock for waiting backorders, oldest order first.

    ``keys`` are ``(product_id, warehouse_id)`` pairs whose stock went up.
    Orders are locked (by pk) before their lines are re-read, then one
    allocation serves every waiting line in ``(order_date, order id, line id)``
    order. Returns the quantity reserved.
    """
    keys = set(keys)
    if not keys:
        return 0
    waiting = SalesOrderLine.objects.filter(
        order__status__in=SalesOrderStatus.OPEN,
        product_id__in={product_id for product_id, _ in keys},
        order__warehouse_id__in={warehouse_id for _, warehouse_id in keys},
        quantity__gt=F("quantity_shipped") + F("quantity_reserved"),
    )
    candidates = waiting.values_list("order_id", "product_id", "order__warehouse_id")
    order_ids = sorted({order_id for order_id, *key in candidates if tuple(key) in keys})
    if not order_ids:
        return 0
    locked = list(
        SalesOrder.objects.select_for_update()
        .filter(pk__in=order_ids, status__in=SalesOrderStatus.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    lines = [
        line
        for line in waiting.filter(order_id__in=locked)
        .select_related("order")
        .order_by("order__order_date", "order_id", "id")
        if (line.product_id, line.order.warehouse_id) in keys
    ]
    if not lines:
        return 0
    before = sum(line.quantity_reserved for line in lines)
    changed = _reserve_many(lines)
    if changed:
        bulk_update_with_history(changed, SalesOrderLine, ["quantity_reserved"], default_user=_user_or_none(user))
    return sum(line.quantity_reserved for line in lines) - before


def _reserve_many(lines: Sequence[SalesOrderLine]) -> list[SalesOrderLine]:
    reserved = stock_allocate(
        lines=[StockLine(line.product_id, line.order.warehouse_id, line.quantity_backordered) for line in lines],
        allow_partial=True,
    )
    changed = []
    for line, quantity in zip(lines, reserved, strict=True):
        if quantity:
            line.quantity_reserved += quantity
            changed.append(line)
    return changed


# Purchase orders --------------------------------------------------------------------------------

PURCHASE_ORDER_FIELDS = {"order_date", "expected_date", "supplier_reference", "notes"}


def _require_po_editable(order: PurchaseOrder) -> None:
    if order.status not in PurchaseOrderStatus.EDITABLE:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}: lines can only be changed on a draft."
        )


def _po_recalculate(order: PurchaseOrder, user) -> PurchaseOrder:
    lines = list(order.lines.order_by("id"))
    for line in lines:
        line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
    if lines:
        bulk_update_with_history(lines, PurchaseOrderLine, ["line_total"], default_user=_user_or_none(user))
    order.total = sum((line.line_total for line in lines), pricing.ZERO_AMOUNT)
    save_with_user(order, user, update_fields=["total", "updated_at"])
    return order


def default_unit_cost(*, supplier, product: Product) -> Decimal:
    """The supplier's cost for the product, else the product's standard cost."""
    cost = (
        SupplierProduct.objects.filter(supplier=supplier, product=product).values_list("unit_cost", flat=True).first()
    )
    return product.cost if cost is None else cost


@transaction.atomic
def purchase_order_create(*, supplier, warehouse, user, **fields) -> PurchaseOrder:
    """A new draft purchase order; the expected date defaults from the supplier's lead time."""
    if not supplier.is_active:
        raise ValidationFailed(f"Supplier {supplier.code} is inactive.")
    if not warehouse.is_active:
        raise ValidationFailed(f"Warehouse {warehouse.code} is inactive.")
    order = PurchaseOrder(supplier=supplier, warehouse=warehouse, created_by=_user_or_none(user))
    _set_fields(order, fields, PURCHASE_ORDER_FIELDS)
    if order.expected_date is None:
        order.expected_date = order.order_date + timedelta(days=supplier.lead_time_days)
    order.number = next_document_number("PO")
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_update(*, order: PurchaseOrder, user, **fields) -> PurchaseOrder:
    """Change a draft's header (dates, references, notes)."""
    order = _locked(PurchaseOrder, order.pk)
    _require_po_editable(order)
    _set_fields(order, fields, PURCHASE_ORDER_FIELDS)
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_line_add(
    *, order: PurchaseOrder, product: Product, quantity: int, unit_cost: Decimal | None = None, user
) -> PurchaseOrderLine:
    """Add a line to a draft; the cost defaults from the supplier's price for the product."""
    order = _locked(PurchaseOrder, order.pk, "supplier")
    _require_po_editable(order)
    if not product.is_active:
        raise ValidationFailed(f"{product.sku} is inactive and cannot be ordered.")
    if unit_cost is None:
        unit_cost = default_unit_cost(supplier=order.supplier, product=product)
    line = PurchaseOrderLine(
        order=order,
        product=product,
        quantity=_check_quantity(quantity),
        unit_cost=_check_price(unit_cost, "The unit cost"),
    )
    line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
    _clean(line)
    save_with_user(line, user)
    _po_recalculate(order, user)
    return line


@transaction.atomic
def purchase_order_line_update(
    *, line: PurchaseOrderLine, user, quantity: int | None = None, unit_cost: Decimal | None = None
) -> PurchaseOrderLine:
    """Change the quantity or cost of a draft's line."""
    order = _locked(PurchaseOrder, line.order_id)
    _require_po_editable(order)
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    if quantity is not None:
        line.quantity = _check_quantity(quantity)
    if unit_cost is not None:
        line.unit_cost = _check_price(unit_cost, "The unit cost")
    line.line_total = pricing.purchase_line_total(quantity=line.quantity, unit_cost=line.unit_cost)
    _clean(line)
    save_with_user(line, user)
    _po_recalculate(order, user)
    return line


@transaction.atomic
def purchase_order_line_remove(*, line: PurchaseOrderLine, user) -> None:
    """Remove a line from a draft."""
    order = _locked(PurchaseOrder, line.order_id)
    _require_po_editable(order)
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    line._history_user = _user_or_none(user)
    line.delete()
    _po_recalculate(order, user)


@transaction.atomic
def purchase_order_recalculate(*, order: PurchaseOrder, user=None) -> PurchaseOrder:
    """Line totals and the order total from quantities and costs (admin calls it after inlines)."""
    order = _locked(PurchaseOrder, order.pk)
    return _po_recalculate(order, user)


@transaction.atomic
def purchase_order_send(*, order: PurchaseOrder, user) -> PurchaseOrder:
    """Draft → sent: the goods now count as incoming."""
    order = _locked(PurchaseOrder, order.pk, "supplier")
    if order.status != PurchaseOrderStatus.DRAFT:
        raise InvalidTransition(f"{order.number} is {order.get_status_display().lower()}; only a draft can be sent.")
    lines = list(order.lines.select_related("product"))
    if not lines:
        raise ValidationFailed(f"{order.number} has no lines to send.")
    if not order.supplier.is_active:
        raise ValidationFailed(f"Supplier {order.supplier.code} is inactive.")
    _po_recalculate(order, user)
    order.status = PurchaseOrderStatus.SENT
    order.sent_at = timezone.now()
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_cancel(*, order: PurchaseOrder, user, reason: str = "") -> PurchaseOrder:
    """Cancel a draft or sent order; refused once anything has been received."""
    order = _locked(PurchaseOrder, order.pk)
    if order.status not in {PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT} or order.receipts.exists():
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; "
            "only an order with nothing received can be cancelled (close it short instead)."
        )
    order.status = PurchaseOrderStatus.CANCELLED
    order.closed_at = timezone.now()
    if reason.strip():
        order.close_reason = reason.strip()
    _clean(order)
    save_with_user(order, user)
    return order


@transaction.atomic
def purchase_order_close(*, order: PurchaseOrder, user, reason: str = "") -> PurchaseOrder:
    """Close an order: fully received, or short (the rest will not come) with a reason."""
    order = _locked(PurchaseOrder, order.pk)
    if order.status not in {*PurchaseOrderStatus.OPEN, PurchaseOrderStatus.RECEIVED}:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only a sent or received order can be closed."
        )
    outstanding = order.lines.filter(quantity_received__lt=F("quantity")).exists()
    if outstanding and not reason.strip():
        raise ValidationFailed(f"{order.number} is not fully received: give a reason to close it short.")
    order.status = PurchaseOrderStatus.CLOSED
    order.closed_at = timezone.now()
    order.close_reason = reason.strip()
    _clean(order)
    save_with_user(order, user)
    return order


# Receipts ---------------------------------------------------------------------------------------


@transaction.atomic
def receipt_create(
    *,
    purchase_order: PurchaseOrder,
    lines: Sequence[tuple[PurchaseOrderLine | int, int]],
    user,
    delivery_note: str = "",
    received_at=None,
) -> Receipt:
    """Receive a delivery: any subset of lines and quantities, never more than is outstanding.

    Writes receipt movements at the PO's unit costs (updating moving-average
    costs) and moves the PO to partially received / received. Waiting
    backorders are served after commit (``stock_increased``).
    """
    order = _locked(PurchaseOrder, purchase_order.pk)
    if order.status not in PurchaseOrderStatus.RECEIVABLE:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; goods can only be received on a sent order."
        )
    requested: dict[int, int] = defaultdict(int)
    for line, quantity in lines:
        requested[_pk(line)] += _check_quantity(quantity, "A received quantity")
    if not requested:
        raise ValidationFailed("Nothing to receive: give at least one line and quantity.")
    po_lines = {line.pk: line for line in order.lines.select_related("product").filter(pk__in=requested)}
    foreign = sorted(set(requested) - set(po_lines))
    if foreign:
        raise ValidationFailed(f"Lines {foreign} are not on {order.number}.")
    over = [
        f"{po_lines[pk].product.sku}: {quantity} received but only {po_lines[pk].quantity_outstanding} outstanding"
        for pk, quantity in requested.items()
        if quantity > po_lines[pk].quantity_outstanding
    ]
    if over:
        raise ValidationFailed(f"Over-receipt refused on {order.number}: {'; '.join(over)}.", lines=over)
    receipt = Receipt(
        number=next_document_number("RC"),
        purchase_order=order,
        received_by=_user_or_none(user),
        delivery_note=delivery_note,
        received_at=received_at or timezone.now(),
    )
    _clean(receipt)
    save_with_user(receipt, user)
    bulk_create_with_history(
        [ReceiptLine(receipt=receipt, purchase_order_line_id=pk, quantity=q) for pk, q in requested.items()],
        ReceiptLine,
        default_user=_user_or_none(user),
    )
    stock_receive(
        lines=[
            StockLine(po_lines[pk].product_id, order.warehouse_id, quantity, po_lines[pk].unit_cost)
            for pk, quantity in requested.items()
        ],
        kind=MovementKind.RECEIPT,
        reference=receipt.number,
        note=order.number,
        user=user,
    )
    for pk, quantity in requested.items():
        po_lines[pk].quantity_received += quantity
    bulk_update_with_history(
        list(po_lines.values()), PurchaseOrderLine, ["quantity_received"], default_user=_user_or_none(user)
    )
    complete = not order.lines.filter(quantity_received__lt=F("quantity")).exists()
    order.status = PurchaseOrderStatus.RECEIVED if complete else PurchaseOrderStatus.PARTIALLY_RECEIVED
    save_with_user(order, user, update_fields=["status", "updated_at"])
    return receipt


# Shipments --------------------------------------------------------------------------------------


def _in_pending_shipments(order: SalesOrder, exclude_shipment_id: int | None = None) -> dict[int, int]:
    """Quantity per sales line already put on shipments that have not left yet."""
    queryset = ShipmentLine.objects.filter(
        shipment__sales_order=order, shipment__status__in=ShipmentStatus.EDITABLE
    ).exclude(shipment_id=exclude_shipment_id)
    return dict(
        queryset.values("sales_order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("sales_order_line_id", "total")
    )


@transaction.atomic
def shipment_create(
    *,
    sales_order: SalesOrder,
    lines: Sequence[tuple[SalesOrderLine | int, int]] | None = None,
    user,
    carrier: Carrier | None = None,
    tracking_number: str = "",
) -> Shipment:
    """A pending shipment for reserved quantities (``lines=None``: everything reserved and not yet on a shipment)."""
    order = _locked(SalesOrder, sales_order.pk)
    if order.status not in SalesOrderStatus.OPEN:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only confirmed orders can be shipped."
        )
    order_lines = {line.pk: line for line in order.lines.select_related("product")}
    pending = _in_pending_shipments(order)
    free = {pk: line.quantity_reserved - pending.get(pk, 0) for pk, line in order_lines.items()}
    if lines is None:
        requested = {pk: quantity for pk, quantity in free.items() if quantity > 0}
        if not requested:
            raise ValidationFailed(f"{order.number} has no reserved quantity left to ship.")
    else:
        requested = defaultdict(int)
        for line, quantity in lines:
            requested[_pk(line)] += _check_quantity(quantity, "A shipped quantity")
        if not requested:
            raise ValidationFailed("Nothing to ship: give at least one line and quantity.")
        foreign = sorted(set(requested) - set(order_lines))
        if foreign:
            raise ValidationFailed(f"Lines {foreign} are not on {order.number}.")
        over = [
            f"{order_lines[pk].product.sku}: {quantity} asked, {max(free[pk], 0)} reserved and not yet on a shipment"
            for pk, quantity in requested.items()
            if quantity > free[pk]
        ]
        if over:
            raise ValidationFailed(f"Only reserved stock can be shipped: {'; '.join(over)}.", lines=over)
    if carrier is not None and not carrier.is_active:
        raise ValidationFailed(f"Carrier {carrier.name} is inactive.")
    shipment = Shipment(
        number=next_document_number("SH"),
        sales_order=order,
        carrier=carrier,
        tracking_number=tracking_number,
        shipping_address=order.shipping_address,
        created_by=_user_or_none(user),
    )
    _clean(shipment)
    save_with_user(shipment, user)
    bulk_create_with_history(
        [ShipmentLine(shipment=shipment, sales_order_line_id=pk, quantity=q) for pk, q in requested.items()],
        ShipmentLine,
        default_user=_user_or_none(user),
    )
    return shipment


def _locked_shipment(shipment: Shipment) -> tuple[SalesOrder, Shipment]:
    order = _locked(SalesOrder, Shipment.objects.values_list("sales_order_id", flat=True).get(pk=shipment.pk))
    return order, _locked(Shipment, shipment.pk)


def _refuse(shipment: Shipment, action: str, allowed: Iterable[str]) -> None:
    if shipment.status not in allowed:
        raise InvalidTransition(f"{shipment.number} is {shipment.get_status_display().lower()}; it cannot be {action}.")


@transaction.atomic
def shipment_pack(*, shipment: Shipment, user) -> Shipment:
    """Pending → packed."""
    _order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "packed", {ShipmentStatus.PENDING})
    shipment.status = ShipmentStatus.PACKED
    save_with_user(shipment, user, update_fields=["status", "updated_at"])
    return shipment


def _follow_shipping(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> None:
    """The order's status from its lines' shipped quantities."""
    if all(line.quantity_shipped >= line.quantity for line in lines):
        if order.status != SalesOrderStatus.DELIVERED:
            order.status = SalesOrderStatus.SHIPPED
    elif any(line.quantity_shipped for line in lines):
        order.status = SalesOrderStatus.PARTIALLY_SHIPPED
    else:
        order.status = SalesOrderStatus.CONFIRMED


@transaction.atomic
def shipment_ship(
    *, shipment: Shipment, user, tracking_number: str | None = None, carrier: Carrier | None = None
) -> Shipment:
    """Pending/packed → shipped: issues the reserved stock and moves the order to (partially) shipped."""
    order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "shipped", ShipmentStatus.EDITABLE)
    if order.status not in SalesOrderStatus.OPEN:
        raise InvalidTransition(f"{order.number} is {order.get_status_display().lower()}; it cannot be shipped.")
    if carrier is not None:
        if not carrier.is_active:
            raise ValidationFailed(f"Carrier {carrier.name} is inactive.")
        shipment.carrier = carrier
    if tracking_number is not None:
        shipment.tracking_number = tracking_number.strip()
    shipment_lines = list(shipment.lines.all())
    order_lines = {line.pk: line for line in order.lines.select_related("product")}
    short = [
        f"{order_lines[s.sales_order_line_id].product.sku}: {s.quantity} on the shipment, "
        f"{order_lines[s.sales_order_line_id].quantity_reserved} reserved"
        for s in shipment_lines
        if s.quantity > order_lines[s.sales_order_line_id].quantity_reserved
    ]
    if short:
        raise ValidationFailed(f"{shipment.number} holds more than is reserved: {'; '.join(short)}.", lines=short)
    if not shipment_lines:
        raise ValidationFailed(f"{shipment.number} has no lines.")
    stock_issue(
        lines=[
            StockLine(order_lines[s.sales_order_line_id].product_id, order.warehouse_id, s.quantity)
            for s in shipment_lines
        ],
        kind=MovementKind.SHIPMENT,
        reference=shipment.number,
        note=order.number,
        user=user,
        from_allocation=True,
    )
    changed = []
    for s in shipment_lines:
        line = order_lines[s.sales_order_line_id]
        line.quantity_reserved -= s.quantity
        line.quantity_shipped += s.quantity
        changed.append(line)
    bulk_update_with_history(
        changed, SalesOrderLine, ["quantity_reserved", "quantity_shipped"], default_user=_user_or_none(user)
    )
    shipment.status = ShipmentStatus.SHIPPED
    shipment.shipped_at = timezone.now()
    _clean(shipment)
    save_with_user(shipment, user)
    _follow_shipping(order, list(order_lines.values()))
    save_with_user(order, user, update_fields=["status", "updated_at"])
    return shipment


@transaction.atomic
def shipment_deliver(*, shipment: Shipment, user) -> Shipment:
    """Shipped → delivered; when every shipment of a fully shipped order arrived, the order is delivered."""
    order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "delivered", {ShipmentStatus.SHIPPED})
    shipment.status = ShipmentStatus.DELIVERED
    shipment.delivered_at = timezone.now()
    save_with_user(shipment, user, update_fields=["status", "delivered_at", "updated_at"])
    still_travelling = order.shipments.filter(status=ShipmentStatus.SHIPPED).exists()
    if order.status == SalesOrderStatus.SHIPPED and not still_travelling:
        order.status = SalesOrderStatus.DELIVERED
        save_with_user(order, user, update_fields=["status", "updated_at"])
    return shipment


@transaction.atomic
def shipment_return(*, shipment: Shipment, user) -> Shipment:
    """Shipped/delivered → returned: the goods go back on hand with a return movement.

    The returned quantities count as not shipped again, so the order reopens
    (confirmed / partially shipped) and they are either reserved again as a
    backorder or cancelled by the user.
    """
    order, shipment = _locked_shipment(shipment)
    _refuse(shipment, "returned", {ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED})
    shipment_lines = list(shipment.lines.all())
    order_lines = {line.pk: line for line in order.lines.all()}
    stock_receive(
        lines=[
            StockLine(order_lines[s.sales_order_line_id].product_id, order.warehouse_id, s.quantity)
            for s in shipment_lines
        ],
        kind=MovementKind.RETURN,
        reference=shipment.number,
        note=f"Return of {shipment.number} ({order.number})",
        user=user,
        update_average_cost=False,
    )
    for s in shipment_lines:
        order_lines[s.sales_order_line_id].quantity_shipped -= s.quantity
    bulk_update_with_history(
        [order_lines[s.sales_order_line_id] for s in shipment_lines],
        SalesOrderLine,
        ["quantity_shipped"],
        default_user=_user_or_none(user),
    )
    shipment.status = ShipmentStatus.RETURNED
    shipment.returned_at = timezone.now()
    save_with_user(shipment, user, update_fields=["status", "returned_at", "updated_at"])
    if order.status != SalesOrderStatus.CANCELLED:
        if order.status == SalesOrderStatus.DELIVERED:
            order.status = SalesOrderStatus.SHIPPED
        _follow_shipping(order, list(order_lines.values()))
        save_with_user(order, user, update_fields=["status", "updated_at"])
    return shipment
