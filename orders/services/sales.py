"""Sales order services: header, lines, confirm (credit check, reservation), cancel, deliver; backorders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from backoffice.errors import CreditLimitExceeded, InvalidTransition, ValidationFailed
from backoffice.events import business_event
from backoffice.history import save_with_user
from backoffice.metrics import ORDERS_CONFIRMED
from backoffice.money import format_money
from backoffice.numbering import next_document_number
from inventory.models import Product
from inventory.services import StockLine, stock_allocate, stock_release
from orders import pricing
from orders.models import (
    Customer,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    ShipmentStatus,
)
from orders.services._common import (
    ZERO,
    _check_amount,
    _check_percent,
    _check_price,
    _check_quantity,
    _clean,
    _locked,
    _set_fields,
    _user_or_none,
)
from orders.services.customers import customer_open_order_value

OVERRIDE_CREDIT_PERM = "orders.override_credit_salesorder"
#: approve or reject an order a Sales user sent for credit approval (orders.services.approvals)
APPROVE_CREDIT_PERM = "orders.approve_credit"

SALES_LINE_AMOUNT_FIELDS = ["tax_rate", "net_amount", "tax_amount", "total_amount"]
#: an order's relations: loaded rows when the services validate it (``full_clean`` need not query them)
SALES_ORDER_RELATIONS = [
    "customer",
    "warehouse",
    "created_by",
    "credit_override_by",
    "approval_requested_by",
    "approval_decided_by",
    "confirmation_emailed_by",
]


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


def sales_order_amounts(*, order: SalesOrder, lines: Sequence[SalesOrderLine]) -> None:
    """Each line's net/tax/total and the order's totals, in memory (no query, nothing saved).

    Rounded once per line, totals summed from the rounded lines (DESIGN invariant 4). The order
    services and the historical order import both price through here."""
    amounts = []
    for line in lines:
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


def _price_lines(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> None:
    """Refresh the tax rates of an editable order's lines, then price it (no query)."""
    if order.status in SalesOrderStatus.EDITABLE:
        for line in lines:
            line.tax_rate = _tax_rate_for(order.customer, line.product)
    sales_order_amounts(order=order, lines=lines)
    # The total bounds every line amount too; refuse before any line is written.
    _check_amount(order.total, "The order total")
    # With the checks of the header fields, these mirror the order's check constraints exactly, so saving
    # a priced order can skip their per-constraint queries (``_save_priced``).
    _check_amount(order.subtotal, "The order subtotal")
    _check_amount(order.tax_total, "The order tax total")


@dataclass(frozen=True)
class PreviewLine:
    """One line as order entry will save it: product, quantity, price (``None``: the list price), discount."""

    product: Product
    quantity: int
    unit_price: Decimal | None = None
    discount_percent: Decimal = ZERO


def sales_order_preview(
    *,
    customer: Customer,
    warehouse,
    lines: Sequence[PreviewLine],
    discount_percent: Decimal = ZERO,
    shipping_charge: Decimal = ZERO,
) -> tuple[SalesOrder, list[SalesOrderLine]]:
    """A draft order and its lines priced in memory exactly as saving them would (nothing is written).

    The same defaults (list price, the customer's tax treatment) and the same pricing
    (``_price_lines`` → ``sales_order_amounts``) as ``sales_order_create`` / ``sales_order_line_add`` /
    ``sales_order_recalculate``, so the live totals of the order form are the totals the saved order gets.
    Refuses out-of-range values with the services' own ``ValidationFailed``.
    """
    order = SalesOrder(
        customer=customer,
        warehouse=warehouse,
        discount_percent=_check_percent(discount_percent, "The order discount"),
        shipping_charge=_check_amount(shipping_charge, "The shipping charge"),
    )
    priced = [
        SalesOrderLine(
            order=order,
            product=line.product,
            quantity=_check_quantity(line.quantity),
            unit_price=_check_price(
                line.product.sale_price if line.unit_price is None else line.unit_price, "The unit price"
            ),
            discount_percent=_check_percent(line.discount_percent, "The line discount"),
        )
        for line in lines
    ]
    _price_lines(order, priced)
    return order, priced


def _line_amounts(line: SalesOrderLine) -> tuple[Decimal, ...]:
    return tuple(Decimal(getattr(line, name)) for name in SALES_LINE_AMOUNT_FIELDS)


def _order_lines(order: SalesOrder) -> list[SalesOrderLine]:
    return list(SalesOrderLine.objects.filter(order=order).select_related("product").order_by("id"))


# Stored counters --------------------------------------------------------------------------------


def sales_order_counters(*, status: str, lines: Sequence[SalesOrderLine]) -> dict[str, int]:
    """The stored counters of an order from its lines in memory (no query).

    ``line_count``: its lines; ``backordered_quantity``: ordered, not shipped and not reserved, on an
    open order (0 on drafts, shipped, delivered and cancelled orders: nothing waits for stock there);
    ``total_quantity``: the units ordered (Σ line quantity, whatever the status: reports add it up).
    """
    backordered = sum(line.quantity_backordered for line in lines) if status in SalesOrderStatus.OPEN else 0
    return {
        "line_count": len(lines),
        "backordered_quantity": backordered,
        "total_quantity": sum(line.quantity for line in lines),
    }


def _store_counters(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> None:
    """Write the order's counters when they changed (the caller holds the order's row lock)."""
    values = sales_order_counters(status=order.status, lines=lines)
    if any(getattr(order, name) != value for name, value in values.items()):
        SalesOrder.objects.filter(pk=order.pk).update(**values)
        for name, value in values.items():
            setattr(order, name, value)


def sales_orders_refresh_counters(*, order_ids: Iterable[int]) -> int:
    """Recompute the stored counters of many orders from their lines in one UPDATE; returns the rows updated.

    For writers that change lines of many orders at once (backorder reservation, the historical import);
    same rule as ``sales_order_counters``.
    """
    ids = sorted(set(order_ids))
    if not ids:
        return 0
    lines = SalesOrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    count = lines.annotate(n=Count("pk")).values("n")
    units = lines.annotate(n=Sum("quantity")).values("n")
    waiting = lines.annotate(n=Sum(F("quantity") - F("quantity_shipped") - F("quantity_reserved"))).values("n")
    return SalesOrder.objects.filter(pk__in=ids).update(
        line_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        total_quantity=Coalesce(Subquery(units, output_field=IntegerField()), Value(0)),
        backordered_quantity=Case(
            When(
                status__in=SalesOrderStatus.OPEN,
                then=Coalesce(Subquery(waiting, output_field=IntegerField()), Value(0)),
            ),
            default=Value(0),
        ),
    )


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
    _check_amount(order.shipping_charge, "The shipping charge")
    order.number = next_document_number("SO")
    _price_lines(order, [])
    # Customer and warehouse are loaded rows checked above, the user is the caller; the check constraints
    # are mirrored by the checks above (no query for them); the number's uniqueness is still checked.
    _clean(order, exclude=SALES_ORDER_RELATIONS, validate_constraints=False)
    save_with_user(order, user)
    return order


@transaction.atomic
def sales_order_update(*, order: SalesOrder, user, **fields) -> SalesOrder:
    """Change a draft order's header (dates, discount, shipping charge...) and reprice it."""
    order = _locked(SalesOrder, order.pk, "customer")
    _require_editable(order)
    _set_fields(order, fields, SALES_ORDER_FIELDS)
    _check_percent(order.discount_percent, "The order discount")
    _check_amount(order.shipping_charge, "The shipping charge")
    return _recalculate(order, user)


def _recalculate(order: SalesOrder, user) -> SalesOrder:
    lines = _order_lines(order)
    _price_lines(order, lines)
    if lines:
        bulk_update_with_history(lines, SalesOrderLine, SALES_LINE_AMOUNT_FIELDS, default_user=_user_or_none(user))
    _save_priced(order, user, lines)
    return order


def _save_priced(order: SalesOrder, user, lines: Sequence[SalesOrderLine]) -> None:
    """Validate and save an order ``_price_lines`` just priced, with its counters, in one UPDATE.

    The order is the caller's locked row: its relations and number cannot be changed by the header
    services (``SALES_ORDER_FIELDS``) and were checked when it was created, and the check constraints are
    mirrored by ``_check_percent``/``_check_amount`` (header) and ``_price_lines`` (totals); the fields'
    own validation and ``clean`` still run. The counters are not historised, so saving them with the row
    writes the same history as before.
    """
    _clean(order, exclude=SALES_ORDER_RELATIONS, validate_unique=False, validate_constraints=False)
    for name, value in sales_order_counters(status=order.status, lines=lines).items():
        setattr(order, name, value)
    save_with_user(order, user)


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
def sales_order_lines_add(*, order: SalesOrder, lines: Sequence[dict], user) -> list[SalesOrderLine]:
    """Add several lines to a draft at once, repriced once (the API's order create): each a dict of
    ``sales_order_line_add``'s arguments (``product``, ``quantity``, optional ``unit_price`` and
    ``discount_percent``). The same checks and messages as adding them one by one; all or nothing."""
    order = _locked(SalesOrder, order.pk, "customer")
    _require_editable(order)
    if not lines:
        raise ValidationFailed("No lines were given.")
    new_lines = []
    for spec in lines:
        product, unit_price = spec["product"], spec.get("unit_price")
        if not product.is_active:
            raise ValidationFailed(f"{product.sku} is inactive and cannot be put on an order.")
        line = SalesOrderLine(
            order=order,
            product=product,
            quantity=_check_quantity(spec["quantity"]),
            unit_price=_check_price(product.sale_price if unit_price is None else unit_price, "The unit price"),
            discount_percent=_check_percent(spec.get("discount_percent", ZERO), "The line discount"),
            tax_rate=_tax_rate_for(order.customer, product),
        )
        # The order is locked and the products are loaded rows; the check constraints are the database's
        # (mirrored by the checks above): skipping their per-line queries (as purchase_order_lines_add does).
        _clean(line, exclude=["order", "product"], validate_constraints=False)
        new_lines.append(line)
    # Priced before they are written (one INSERT and one history row per new line, already with their
    # amounts); the order's other lines are repriced as ``_recalculate`` does.
    existing = _order_lines(order)
    _price_lines(order, [*existing, *new_lines])
    created = bulk_create_with_history(new_lines, SalesOrderLine, default_user=_user_or_none(user))
    if existing:
        bulk_update_with_history(existing, SalesOrderLine, SALES_LINE_AMOUNT_FIELDS, default_user=_user_or_none(user))
    _save_priced(order, user, [*existing, *created])
    return created


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


@dataclass(frozen=True)
class CreditExposure:
    """A customer's open orders plus ``amount``, against its credit limit (``over``: above it)."""

    customer: Customer
    credit_limit: Decimal
    open_value: Decimal
    amount: Decimal

    @property
    def exposure(self) -> Decimal:
        return self.open_value + self.amount

    @property
    def excess(self) -> Decimal:
        return self.exposure - self.credit_limit

    @property
    def over(self) -> bool:
        return self.exposure > self.credit_limit


def credit_exposure(
    *, customer: Customer, amount: Decimal, exclude_order_id: int | None = None
) -> CreditExposure | None:
    """The credit rule (one place for confirmation and the historical import): the customer's open orders
    (``customer_open_order_value``, minus ``exclude_order_id``) plus ``amount`` must stay within its credit limit;
    over it, only a user with ``OVERRIDE_CREDIT_PERM`` may go ahead. ``None``: no limit (unlimited credit).

    Locks the customer row, serialising the checks of one customer, inside the caller's transaction.
    """
    if customer.credit_limit is None:
        return None
    customer = _locked(Customer, customer.pk)
    if customer.credit_limit is None:
        return None
    open_value = customer_open_order_value(customer=customer, exclude_order_id=exclude_order_id)
    return CreditExposure(customer=customer, credit_limit=customer.credit_limit, open_value=open_value, amount=amount)


def may_override_credit(user) -> bool:
    return user is not None and (user.has_perm(OVERRIDE_CREDIT_PERM) or user.has_perm(APPROVE_CREDIT_PERM))


def _check_credit(order: SalesOrder, user, reason: str) -> None:
    """Open orders + this one must stay within the limit, unless a Manager overrides it."""
    check = credit_exposure(customer=order.customer, amount=order.total, exclude_order_id=order.pk)
    if check is None or not check.over:
        return
    customer, exposure = check.customer, check.exposure
    data = {
        "customer": customer.code,
        "credit_limit": str(check.credit_limit),
        "open_orders": str(check.open_value),
        "order_total": str(order.total),
        "excess": str(check.excess),
    }
    summary = (
        f"{order.number} ({format_money(order.total)}) would take {customer.code}'s open orders to "
        f"{format_money(exposure)}, over the credit limit of {format_money(check.credit_limit)} "
        f"by {format_money(check.excess)}"
    )
    if not reason.strip():
        raise CreditLimitExceeded(
            f"{summary}. A Manager can confirm it with a reason, or send it for credit approval.", **data
        )
    if not may_override_credit(user):
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
    return confirm_locked(
        _locked(SalesOrder, order.pk, "customer", "warehouse"),
        user=user,
        credit_override_reason=credit_override_reason,
        from_status=SalesOrderStatus.DRAFT,
    )


def confirm_locked(order: SalesOrder, *, user, credit_override_reason: str, from_status: str) -> SalesOrder:
    """``sales_order_confirm`` on an order the caller locked, coming from ``from_status`` (a draft, or an
    order awaiting credit approval: ``orders.services.approvals``)."""
    if order.status != from_status:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only a draft can be confirmed."
            if from_status == SalesOrderStatus.DRAFT
            else f"{order.number} is {order.get_status_display().lower()}, not awaiting credit approval."
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
    _clean(order, exclude=SALES_ORDER_RELATIONS, validate_unique=False, validate_constraints=False)
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
            "approval_decided_by",
            "approval_decided_at",
            "updated_at",
        ],
    )
    reserved = _reserve(order, lines)
    # Only what changed is written (usually the reserved quantity alone), keeping the stock locks short.
    repriced = [line for line in lines if _line_amounts(line) != before[line.pk]]
    if repriced:
        SalesOrderLine.objects.bulk_update(repriced, SALES_LINE_AMOUNT_FIELDS)
    _write_reserved(reserved)
    _store_counters(order, lines)
    changed = {line.pk: line for line in [*repriced, *reserved]}
    if changed:
        SalesOrderLine.history.bulk_history_create(
            list(changed.values()), update=True, default_user=_user_or_none(user)
        )
    business_event(
        "sales_order.confirmed",
        metric=ORDERS_CONFIRMED,
        order=order.number,
        order_id=order.pk,
        customer_id=order.customer_id,
        warehouse=order.warehouse.code,
        total=str(order.total),
        lines=len(lines),
        backordered_lines=sum(1 for line in lines if line.quantity_reserved < line.quantity),
        by_user_id=getattr(user, "pk", None),
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
    _store_counters(order, lines)
    business_event(
        "sales_order.cancelled",
        order=order.number,
        order_id=order.pk,
        customer_id=order.customer_id,
        reason=reason.strip(),
        by_user_id=getattr(user, "pk", None),
    )
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
        business_event(
            "shipment.delivered",
            shipment=shipment.number,
            shipment_id=shipment.pk,
            order=order.number,
            order_id=order.pk,
            by_user_id=getattr(user, "pk", None),
        )
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
        sales_orders_refresh_counters(order_ids={line.order_id for line in changed})
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
