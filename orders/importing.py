"""Migrating from a previous system: customers, and historical sales / purchase orders.

Each import takes parsed rows (mappings of column → value, one row per order
line, grouped by ``order_number``), checks **every** row first and raises one
``ImportRejected`` listing each bad row with its row number, column and
reason; nothing is written unless every row is good (invariant 8).

Historical orders keep their number, status and dates and never move stock:
shipped and delivered orders get a shipment record but no movement (the goods
left before today's opening balance), received purchase orders get their
received quantities but no receipt movement. Only *confirmed* sales orders
touch stock, by reserving what is available now (oldest order first; the
rest is backordered), so that they can be shipped from here on, and are held to
the customer's credit limit like a confirmation (``credit_exposure``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from backoffice.dashboard_cache import dashboard_changed
from backoffice.errors import ImportRejected, RowError
from backoffice.field_rights import FieldChangeRefused
from backoffice.limits import MAX_AMOUNT, MAX_PRICE, MAX_QUANTITY
from backoffice.models import DocumentSequence
from backoffice.numbering import next_document_numbers
from inventory.models import Product, Supplier, SupplierProduct, Warehouse
from orders import pricing
from orders.models import (
    Carrier,
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orders.services._common import _user_or_none
from orders.services.customers import customer_check_field_rights, customer_check_new_field_rights
from orders.services.sales import (
    _reserve_many,
    credit_exposure,
    may_override_credit,
    sales_order_amounts,
    sales_orders_refresh_counters,
)

Row = Mapping[str, Any]
ZERO = Decimal("0")
HUNDRED = Decimal("100")
TRUE_WORDS = {"1", "true", "yes", "y", "x"}
FALSE_WORDS = {"0", "false", "no", "n", ""}


@dataclass
class ImportResult:
    """What an import wrote."""

    created: int = 0
    updated: int = 0
    lines: int = 0
    numbers: list[str] = field(default_factory=list)


class _Rows:
    """Collects row errors while values are parsed."""

    def __init__(self, first_row: int) -> None:
        self.first_row = first_row
        self.errors: list[RowError] = []

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.append(RowError(row=row, column=column, reason=reason))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ImportRejected(sorted(self.errors, key=lambda e: (e.row, e.column)))


# Value parsing: each returns (value, error reason or "") ------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _parse_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"'{text}' is not a date (use YYYY-MM-DD)") from None


def _parse_decimal(value) -> Decimal:
    text = _text(value).replace(",", ".") if isinstance(value, str) else value
    try:
        number = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise ValueError(f"'{_text(value)}' is not a number") from None
    if not number.is_finite():
        raise ValueError(f"'{_text(value)}' is not a number")
    return number


def _parse_int(value) -> int:
    number = _parse_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"'{_text(value)}' is not a whole number")
    return int(number)


def _parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"'{_text(value)}' is not yes/no")


class _Reader:
    """Typed access to one row's cells; problems are recorded against the row."""

    def __init__(self, rows: _Rows, number: int, row: Row) -> None:
        self.rows, self.number, self.row = rows, number, row

    def _get(self, column: str, parse, *, required: bool, default=None):
        raw = self.row.get(column)
        if _text(raw) == "":
            if required:
                self.rows.error(self.number, column, "is required")
            return default
        try:
            return parse(raw)
        except ValueError as error:
            self.rows.error(self.number, column, str(error))
            return default

    def text(self, column, *, required=False, max_length=None) -> str:
        value = self._get(column, _text, required=required, default="")
        if max_length and len(value) > max_length:
            self.rows.error(self.number, column, f"is longer than {max_length} characters")
        return value

    def date(self, column, *, required=False):
        return self._get(column, _parse_date, required=required)

    def reference(self, column: str, known: dict, what: str):
        """The record whose code (case-insensitive) is in the cell; a required column."""
        code = self.text(column, required=True)
        found = known.get(code.upper())
        if found is None and code:
            self.rows.error(self.number, column, f"no {what} with code '{code}'")
        return found

    def decimal(self, column, *, required=False, default=None, minimum=None, maximum=None):
        value = self._get(column, _parse_decimal, required=required, default=default)
        if value is not None and value != default:
            if minimum is not None and value < minimum:
                self.rows.error(self.number, column, f"must be at least {minimum}")
            if maximum is not None and value > maximum:
                self.rows.error(self.number, column, f"must be at most {maximum:,}")
                return default
        return value

    def integer(self, column, *, required=False, default=None, minimum=None, maximum=MAX_QUANTITY):
        value = self._get(column, _parse_int, required=required, default=default)
        if value is not None and minimum is not None and value < minimum:
            self.rows.error(self.number, column, f"must be at least {minimum}")
        if value is not None and value > maximum:
            self.rows.error(self.number, column, f"must be at most {maximum:,}")
            return default
        return value

    def boolean(self, column, *, default=False):
        return self._get(column, _parse_bool, required=False, default=default)

    def choice(self, column, choices, *, required=True, default=None):
        text = self.text(column, required=required)
        if not text:
            return default
        by_word = {str(value).lower(): value for value, _label in choices}
        by_word.update({str(label).lower(): value for value, label in choices})
        value = by_word.get(text.lower().replace("_", " ")) or by_word.get(text.lower())
        if value is None:
            allowed = ", ".join(str(v) for v, _ in choices)
            self.rows.error(self.number, column, f"'{text}' is not one of: {allowed}")
        return value


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12, 0)))


def _keep_sequence_ahead(prefix: str, numbers: Sequence[str]) -> None:
    """Imported numbers in our own format (``SO-001234``) must never be handed out again."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    values = [int(match.group(1)) for number in numbers if (match := pattern.match(number))]
    if values:
        DocumentSequence.objects.get_or_create(prefix=prefix)
        DocumentSequence.objects.filter(prefix=prefix, last_value__lt=max(values)).update(last_value=max(values))


def _group(rows: Sequence[Row], first_row: int, checker: _Rows) -> dict[str, list[tuple[int, Row]]]:
    groups: dict[str, list[tuple[int, Row]]] = defaultdict(list)
    for offset, row in enumerate(rows):
        number = first_row + offset
        order_number = _text(row.get("order_number"))
        if not order_number:
            checker.error(number, "order_number", "is required")
            continue
        if len(order_number) > 20:
            checker.error(number, "order_number", "is longer than 20 characters")
            continue
        groups[order_number].append((number, row))
    return groups


def _same_on_every_row(checker: _Rows, group: list[tuple[int, Row]], columns: Sequence[str]) -> None:
    first_number, first = group[0]
    for number, row in group[1:]:
        for column in columns:
            value = _text(row.get(column))
            if value and value != _text(first.get(column)):
                checker.error(
                    number,
                    column,
                    f"'{value}' differs from row {first_number} of the same order ('{_text(first.get(column))}')",
                )


def _lookup(model, field_name: str, values: set[str]) -> dict[str, Any]:
    if not values:
        return {}
    return {getattr(obj, field_name).upper(): obj for obj in model.objects.filter(**{f"{field_name}__in": values})}


def _existing_numbers(model, numbers) -> set[str]:
    return set(model.objects.filter(number__in=list(numbers)).values_list("number", flat=True))


# Customers -------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = {
    "code": "code",
    "name": "name",
    "contact_name": "contact_name",
    "email": "email",
    "phone": "phone",
    "billing_address": "billing_address",
    "shipping_address": "shipping_address",
    "country": "country",
}


@transaction.atomic
def customers_import(*, rows: Sequence[Row], user, first_row: int = 2) -> ImportResult:
    """Create or update customers by code (columns: code, name, contact_name, email, phone,
    billing_address, shipping_address, country, credit_limit, tax_exempt, active)."""
    checker = _Rows(first_row)
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for offset, row in enumerate(rows):
        number = first_row + offset
        cells = _Reader(checker, number, row)
        values = {attribute: cells.text(column) for column, attribute in CUSTOMER_COLUMNS.items()}
        values["code"] = values["code"].upper()
        if not values["code"]:
            checker.error(number, "code", "is required")
        elif values["code"] in seen:
            checker.error(number, "code", f"'{values['code']}' is also on row {seen[values['code']]}")
        else:
            seen[values["code"]] = number
        if not values["name"]:
            checker.error(number, "name", "is required")
        values["credit_limit"] = cells.decimal("credit_limit", minimum=ZERO, maximum=MAX_AMOUNT)
        values["tax_exempt"] = cells.boolean("tax_exempt")
        values["is_active"] = cells.boolean("active", default=True)
        parsed.append((number, values))
    existing = _lookup(Customer, "code", set(seen))
    instances = []
    for number, values in parsed:
        # The rule of orders.services.customer_check_field_rights (credit limit, tax exemption: Manager/Admin).
        try:
            if values["code"] in existing:
                customer_check_field_rights(user=user, customer=existing[values["code"]], fields=values)
            else:  # a new customer: no credit (0) unless the user may set a limit
                values = customer_check_new_field_rights(user=user, fields=values)
        except FieldChangeRefused as refused:
            for attribute in refused.fields:
                checker.error(number, attribute, "only a Manager or Admin may change it")
        customer = existing.get(values["code"]) or Customer()
        for attribute, value in values.items():
            setattr(customer, attribute, value)
        try:
            customer.full_clean(validate_unique=False)
        except ValidationError as error:
            for attribute, messages in error.message_dict.items():
                column = "active" if attribute == "is_active" else attribute
                checker.error(number, column, " ".join(messages))
        instances.append(customer)
    checker.raise_if_any()
    result = ImportResult()
    for customer in instances:
        if customer.pk:
            result.updated += 1
        else:
            result.created += 1
        if user is not None:
            customer._history_user = _user_or_none(user)
        customer.save()
    return result


# Sales orders ----------------------------------------------------------------------------------

SALES_HEADER_COLUMNS = (
    "customer",
    "warehouse",
    "status",
    "order_date",
    "required_date",
    "shipped_date",
    "carrier",
    "tracking_number",
    "shipping_charge",
    "order_discount_percent",
    "customer_reference",
)
IMPORTABLE_SALES_STATUSES = [
    (value, label)
    for value, label in SalesOrderStatus.choices
    # Awaiting credit approval is a live request to a Manager, not a state a previous system hands over.
    if value not in (SalesOrderStatus.PARTIALLY_SHIPPED, SalesOrderStatus.AWAITING_APPROVAL)
]


@dataclass
class _SalesOrderPlan:
    order: SalesOrder
    lines: list[SalesOrderLine]
    shipped_date: date | None = None
    carrier: Carrier | None = None
    tracking_number: str = ""
    row: int = 0  # the order's first row in the file
    priced: bool = False  # every row of the order was good: its totals are known


@transaction.atomic
def sales_orders_import(*, rows: Sequence[Row], user, first_row: int = 2) -> ImportResult:
    """Import historical sales orders, one row per line.

    Columns: order_number, customer (code), warehouse (code), status (draft,
    confirmed, shipped, delivered, cancelled), order_date, required_date,
    shipped_date, carrier (name), tracking_number, shipping_charge,
    order_discount_percent, customer_reference, sku, quantity, unit_price,
    discount_percent, tax_rate. Order columns repeat on each line row (or
    are left empty after the first).
    """
    checker = _Rows(first_row)
    groups = _group(rows, first_row, checker)
    all_rows = [row for group in groups.values() for _, row in group]
    customers = _lookup(Customer, "code", {_text(r.get("customer")).upper() for r in all_rows} - {""})
    warehouses = _lookup(Warehouse, "code", {_text(r.get("warehouse")).upper() for r in all_rows} - {""})
    products = _lookup(Product, "sku", {_text(r.get("sku")).upper() for r in all_rows} - {""})
    carriers = {carrier.name.upper(): carrier for carrier in Carrier.objects.all()}
    taken = _existing_numbers(SalesOrder, groups)

    plans: list[_SalesOrderPlan] = []
    for order_number, group in groups.items():
        errors_before = len(checker.errors)
        _same_on_every_row(checker, group, SALES_HEADER_COLUMNS)
        head_number, head = group[0]
        cells = _Reader(checker, head_number, head)
        if order_number in taken:
            checker.error(head_number, "order_number", f"{order_number} already exists")
        customer = cells.reference("customer", customers, "customer")
        warehouse = cells.reference("warehouse", warehouses, "warehouse")
        if _text(head.get("status")).lower().replace(" ", "_") == SalesOrderStatus.PARTIALLY_SHIPPED:
            status = None
            checker.error(
                head_number,
                "status",
                "partially shipped orders cannot be imported: import them as confirmed with what is left to ship",
            )
        else:
            status = cells.choice("status", IMPORTABLE_SALES_STATUSES)
        order_date = cells.date("order_date", required=True)
        shipped_date = cells.date("shipped_date")
        carrier_name = cells.text("carrier")
        carrier = carriers.get(carrier_name.upper()) if carrier_name else None
        if carrier_name and carrier is None:
            checker.error(head_number, "carrier", f"no carrier named '{carrier_name}'")
        order = SalesOrder(
            number=order_number,
            customer=customer,
            warehouse=warehouse,
            status=status or SalesOrderStatus.DRAFT,
            order_date=order_date,
            required_date=cells.date("required_date"),
            customer_reference=cells.text("customer_reference", max_length=60),
            shipping_address=(customer.shipping_address or customer.billing_address) if customer else "",
            shipping_charge=cells.decimal("shipping_charge", default=ZERO, minimum=ZERO, maximum=MAX_AMOUNT),
            discount_percent=cells.decimal("order_discount_percent", default=ZERO, minimum=ZERO, maximum=HUNDRED),
            created_by=_user_or_none(user),
        )
        if status == SalesOrderStatus.DRAFT and customer is not None and not customer.is_active:
            checker.error(head_number, "customer", f"{customer.code} is inactive: a draft cannot be taken for it")
        lines = []
        for number, row in group:
            line_cells = _Reader(checker, number, row)
            sku = line_cells.text("sku", required=True).upper()
            product = products.get(sku)
            if sku and product is None:
                checker.error(number, "sku", f"no product with SKU '{sku}'")
            elif product is not None and status == SalesOrderStatus.DRAFT and not product.is_active:
                checker.error(number, "sku", f"{sku} is inactive and cannot be put on a draft")
            quantity = line_cells.integer("quantity", required=True, minimum=1)
            unit_price = line_cells.decimal("unit_price", minimum=ZERO, maximum=MAX_PRICE)
            discount = line_cells.decimal("discount_percent", default=ZERO, minimum=ZERO, maximum=HUNDRED)
            tax_rate = line_cells.decimal("tax_rate", minimum=ZERO, maximum=HUNDRED)
            if product is None or quantity is None:
                continue
            if tax_rate is None:
                tax_rate = ZERO if customer is not None and customer.tax_exempt else product.tax_rate
            lines.append(
                SalesOrderLine(
                    product=product,
                    quantity=quantity,
                    unit_price=product.sale_price if unit_price is None else unit_price,
                    discount_percent=discount,
                    tax_rate=tax_rate,
                )
            )
        if len(checker.errors) == errors_before:
            sales_order_amounts(order=order, lines=lines)
            if order.total > MAX_AMOUNT:
                checker.error(
                    head_number, "order_number", f"the order total {order.total:,} must be at most {MAX_AMOUNT:,}"
                )
        plans.append(
            _SalesOrderPlan(
                order,
                lines,
                shipped_date or order_date,
                carrier,
                cells.text("tracking_number"),
                row=head_number,
                priced=len(checker.errors) == errors_before,
            )
        )
    _check_credit(checker, plans, user)
    checker.raise_if_any()
    return _write_sales_orders(plans, user)


def _check_credit(checker: _Rows, plans: list[_SalesOrderPlan], user) -> None:
    """Imported open orders (confirmed) count toward their customer's open value: the rule of confirmation
    (``orders.services.sales.credit_exposure``), per customer for the file's open orders together.

    Over the limit: a row error, unless the user may override credit limits (or is the system, ``None``); the
    orders then record the override like a confirmation does (reason "Imported by <user>", and who).
    """
    by_customer: dict[int, list[_SalesOrderPlan]] = defaultdict(list)
    for plan in plans:
        if plan.priced and plan.order.customer_id is not None and plan.order.status in SalesOrderStatus.OPEN:
            by_customer[plan.order.customer_id].append(plan)
    for customer_plans in by_customer.values():
        amount = sum((plan.order.total for plan in customer_plans), ZERO)
        check = credit_exposure(customer=customer_plans[0].order.customer, amount=amount)
        if check is None or not check.over:
            continue
        if user is None or may_override_credit(user):  # user=None: the system (demo data, commands)
            who = user.get_username() if user is not None else "the system"
            for plan in customer_plans:
                plan.order.credit_override_reason = f"Imported by {who}"
                plan.order.credit_override_by = _user_or_none(user)
            continue
        numbers = ", ".join(plan.order.number for plan in customer_plans)
        checker.error(
            customer_plans[0].row,
            "customer",
            f"{numbers} would take {check.customer.code}'s open orders to {check.exposure:,} "
            f"({check.open_value:,} already open + {amount:,} in this file), over the credit limit of "
            f"{check.credit_limit:,} by {check.excess:,}: only a Manager may import orders over a credit limit",
        )


def _write_sales_orders(plans: list[_SalesOrderPlan], user) -> ImportResult:
    history_user = _user_or_none(user)
    for plan in plans:
        order = plan.order
        if order.status in {SalesOrderStatus.SHIPPED, SalesOrderStatus.DELIVERED}:
            for line in plan.lines:
                line.quantity_shipped = line.quantity
        if order.status != SalesOrderStatus.DRAFT:
            order.confirmed_at = _aware(order.order_date)
        if order.status == SalesOrderStatus.CANCELLED:
            order.cancelled_at = _aware(order.order_date)
    orders = bulk_create_with_history([plan.order for plan in plans], SalesOrder, default_user=history_user)
    for plan, order in zip(plans, orders, strict=True):
        plan.order = order
        for line in plan.lines:
            line.order = order
    lines = bulk_create_with_history(
        [line for plan in plans for line in plan.lines], SalesOrderLine, default_user=history_user
    )
    _write_historical_shipments(plans, user)
    _reserve_confirmed(plans, user)
    sales_orders_refresh_counters(order_ids=[plan.order.pk for plan in plans])
    _keep_sequence_ahead("SO", [plan.order.number for plan in plans])
    dashboard_changed()  # bulk writes send no post_save: drop the start page's cached figures
    return ImportResult(created=len(orders), lines=len(lines), numbers=[plan.order.number for plan in plans])


def _write_historical_shipments(plans: list[_SalesOrderPlan], user) -> None:
    """Shipped/delivered orders get one shipment dated on the shipped date, and no stock movement."""
    shipped = [p for p in plans if p.order.status in {SalesOrderStatus.SHIPPED, SalesOrderStatus.DELIVERED}]
    numbers = next_document_numbers("SH", len(shipped))
    shipments = []
    for plan, number in zip(shipped, numbers, strict=True):
        when = _aware(plan.shipped_date)
        delivered = plan.order.status == SalesOrderStatus.DELIVERED
        shipments.append(
            Shipment(
                number=number,
                sales_order=plan.order,
                status=ShipmentStatus.DELIVERED if delivered else ShipmentStatus.SHIPPED,
                carrier=plan.carrier,
                tracking_number=plan.tracking_number,
                shipping_address=plan.order.shipping_address,
                shipped_at=when,
                delivered_at=when if delivered else None,
                created_by=_user_or_none(user),
            )
        )
    shipments = bulk_create_with_history(shipments, Shipment, default_user=_user_or_none(user))
    bulk_create_with_history(
        [
            ShipmentLine(shipment=shipment, sales_order_line=line, quantity=line.quantity)
            for plan, shipment in zip(shipped, shipments, strict=True)
            for line in plan.lines
        ],
        ShipmentLine,
        default_user=_user_or_none(user),
    )


def _reserve_confirmed(plans: list[_SalesOrderPlan], user) -> None:
    """Confirmed orders reserve what is available now, oldest order first; the rest is backordered."""
    confirmed = sorted(
        (p for p in plans if p.order.status == SalesOrderStatus.CONFIRMED),
        key=lambda p: (p.order.order_date, p.order.number),
    )
    lines = [line for plan in confirmed for line in plan.lines]
    if not lines:
        return
    changed = _reserve_many(lines)
    if changed:
        bulk_update_with_history(changed, SalesOrderLine, ["quantity_reserved"], default_user=_user_or_none(user))


# Purchase orders -------------------------------------------------------------------------------

PURCHASE_HEADER_COLUMNS = ("supplier", "warehouse", "status", "order_date", "expected_date", "supplier_reference")


@transaction.atomic
def purchase_orders_import(*, rows: Sequence[Row], user, first_row: int = 2) -> ImportResult:
    """Import historical purchase orders, one row per line.

    Columns: order_number, supplier (code), warehouse (code), status (draft,
    sent, partially_received, received, closed, cancelled), order_date,
    expected_date, supplier_reference, sku, quantity, unit_cost (default: the
    supplier's cost), quantity_received (default: all of it on received and
    closed orders, none otherwise). No receipt movement is written.
    """
    checker = _Rows(first_row)
    groups = _group(rows, first_row, checker)
    all_rows = [row for group in groups.values() for _, row in group]
    suppliers = _lookup(Supplier, "code", {_text(r.get("supplier")).upper() for r in all_rows} - {""})
    warehouses = _lookup(Warehouse, "code", {_text(r.get("warehouse")).upper() for r in all_rows} - {""})
    products = _lookup(Product, "sku", {_text(r.get("sku")).upper() for r in all_rows} - {""})
    costs = {
        (supplier_id, product_id): cost
        for supplier_id, product_id, cost in SupplierProduct.objects.filter(
            supplier__in=list(suppliers.values())
        ).values_list("supplier_id", "product_id", "unit_cost")
    }
    taken = _existing_numbers(PurchaseOrder, groups)
    full_statuses = {PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CLOSED}
    nothing_statuses = {PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT, PurchaseOrderStatus.CANCELLED}

    plans: list[tuple[PurchaseOrder, list[PurchaseOrderLine]]] = []
    for order_number, group in groups.items():
        _same_on_every_row(checker, group, PURCHASE_HEADER_COLUMNS)
        head_number, head = group[0]
        cells = _Reader(checker, head_number, head)
        if order_number in taken:
            checker.error(head_number, "order_number", f"{order_number} already exists")
        supplier = cells.reference("supplier", suppliers, "supplier")
        warehouse = cells.reference("warehouse", warehouses, "warehouse")
        status = cells.choice("status", PurchaseOrderStatus.choices)
        order = PurchaseOrder(
            number=order_number,
            supplier=supplier,
            warehouse=warehouse,
            status=status or PurchaseOrderStatus.DRAFT,
            order_date=cells.date("order_date", required=True),
            expected_date=cells.date("expected_date"),
            supplier_reference=cells.text("supplier_reference", max_length=60),
            created_by=_user_or_none(user),
        )
        lines = []
        for number, row in group:
            line_cells = _Reader(checker, number, row)
            sku = line_cells.text("sku", required=True).upper()
            product = products.get(sku)
            if sku and product is None:
                checker.error(number, "sku", f"no product with SKU '{sku}'")
            elif product is not None and status == PurchaseOrderStatus.DRAFT and not product.is_active:
                checker.error(number, "sku", f"{sku} is inactive and cannot be put on a draft")
            quantity = line_cells.integer("quantity", required=True, minimum=1)
            unit_cost = line_cells.decimal("unit_cost", minimum=ZERO, maximum=MAX_PRICE)
            received = line_cells.integer("quantity_received", minimum=0)
            if quantity is None or product is None:
                continue
            if received is None:
                received = quantity if status in full_statuses else 0
            if received > quantity:
                checker.error(number, "quantity_received", f"{received} is more than the {quantity} ordered")
            elif status in nothing_statuses and received:
                checker.error(number, "quantity_received", f"a {status} order cannot have received goods")
            elif status == PurchaseOrderStatus.RECEIVED and received != quantity:
                checker.error(number, "quantity_received", "a received order has every line fully received")
            if unit_cost is None:
                unit_cost = costs.get((supplier.pk, product.pk), product.cost) if supplier else product.cost
            line = PurchaseOrderLine(
                product=product, quantity=quantity, unit_cost=unit_cost, quantity_received=received
            )
            line.line_total = pricing.purchase_line_total(quantity=quantity, unit_cost=unit_cost)
            lines.append(line)
        if status == PurchaseOrderStatus.PARTIALLY_RECEIVED and lines:
            received_any = any(line.quantity_received for line in lines)
            all_in = all(line.quantity_received == line.quantity for line in lines)
            if not received_any or all_in:
                checker.error(
                    head_number, "quantity_received", "a partially received order has some, not all, received"
                )
        order.total = sum((line.line_total for line in lines), pricing.ZERO_AMOUNT)
        if order.total > MAX_AMOUNT:
            checker.error(
                head_number, "order_number", f"the order total {order.total:,} must be at most {MAX_AMOUNT:,}"
            )
        if order.order_date and order.status != PurchaseOrderStatus.DRAFT:
            order.sent_at = _aware(order.order_date)
        if order.order_date and order.status in {PurchaseOrderStatus.CLOSED, PurchaseOrderStatus.CANCELLED}:
            order.closed_at = _aware(order.expected_date or order.order_date)
        plans.append((order, lines))
    checker.raise_if_any()
    history_user = _user_or_none(user)
    orders = bulk_create_with_history([order for order, _ in plans], PurchaseOrder, default_user=history_user)
    for (_, lines), order in zip(plans, orders, strict=True):
        for line in lines:
            line.order = order
    lines = bulk_create_with_history(
        [line for _, lines in plans for line in lines], PurchaseOrderLine, default_user=history_user
    )
    _keep_sequence_ahead("PO", [order.number for order in orders])
    dashboard_changed()
    return ImportResult(created=len(orders), lines=len(lines), numbers=[order.number for order in orders])
