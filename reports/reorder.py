"""Reorder suggestions, draft purchase orders from them, and the daily reorder alert (docs/reports.md).

* ``reorder_lines(levels, today=…)`` — the one computation behind the ``reorder`` report (read lazily
  there: ``ReorderRows`` completes only the rows a page shows), the draft
  purchase orders and the alert e-mail: stock levels of active products in active warehouses with a
  reorder point above zero where ``available + incoming ≤ reorder_point``. *Incoming* is what open
  purchase orders (draft, sent, partially received) still have to deliver, so a need already drafted
  is not suggested twice. Four queries whatever the number of levels: the levels, the incoming
  quantities, the units shipped in the last 90 days and the preferred suppliers.
* ``create_reorder_drafts(user=…, warehouse=…, keys=…)`` — one draft purchase order per (preferred
  supplier, warehouse) through ``orders.services``; a product already on an open PO line for the
  warehouse gets no second line; products without a (usable) preferred supplier are listed.
* ``send_reorder_alerts(warehouse=…, create_drafts=…)`` — the daily task: per warehouse, one e-mail to
  the Purchasing role with the report attached, at most once a day (``ReorderAlert``).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Func, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from backoffice.events import business_event
from backoffice.exports import CONTENT_TYPES, XLSX
from backoffice.roles import PURCHASING
from backoffice.scoping import scope_queryset
from inventory.models import MovementKind, Product, StockLevel, StockMovement, Supplier, SupplierProduct, Warehouse
from orders.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus

logger = logging.getLogger(__name__)

ADD_PURCHASE_ORDER = "orders.add_purchaseorder"
SHIPPED_DAYS = 90
#: Purchase orders whose outstanding quantities count as incoming (drafts included).
OPEN_PO_STATUSES = (PurchaseOrderStatus.DRAFT, *sorted(PurchaseOrderStatus.OPEN))
#: Drafts created here say so in their notes; a later run adds its lines to such a draft.
DRAFT_NOTE = "Drafted from the reorder report."
ALERT_TOP_LINES = 10
ONE_TENTH = Decimal("0.1")


# ---------------------------------------------------------------- the reorder lines


@dataclass(frozen=True)
class ReorderLine:
    """One stock level that needs reordering, with what to order and from whom."""

    key: int  # the stock level's id (the report's row_key)
    product_id: int
    warehouse_id: int
    sku: str
    product: str
    warehouse: str
    on_hand: int
    allocated: int
    incoming: int
    reorder_point: int
    reorder_quantity: int
    suggested_quantity: int
    days_of_cover: Decimal | None
    supplier_id: int | None = None
    supplier: str = ""  # the preferred supplier's code
    supplier_active: bool = False
    unit_cost: Decimal | None = None  # the preferred supplier's price
    minimum_order_quantity: int | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated

    def row(self) -> dict:
        """The report row (the columns of ``reports/definitions/reorder.py``, plus ``key``)."""
        return {
            "key": self.key,
            "sku": self.sku,
            "product": self.product,
            "warehouse": self.warehouse,
            "on_hand": self.on_hand,
            "allocated": self.allocated,
            "available": self.available,
            "incoming": self.incoming,
            "reorder_point": self.reorder_point,
            "reorder_quantity": self.reorder_quantity,
            "suggested_quantity": self.suggested_quantity,
            "supplier": self.supplier,
            "days_of_cover": self.days_of_cover,
        }


def suggested_quantity(
    *, available: int, incoming: int, reorder_point: int, reorder_quantity: int, minimum_order_quantity: int | None
) -> int:
    """Enough to bring available + incoming above the reorder point, at least the reorder quantity,
    rounded up to a whole number of the supplier's minimum order quantity (MOQ 12 → 12, 24, 36 …)."""
    quantity = max(reorder_point - (available + incoming) + 1, reorder_quantity, 1)
    if minimum_order_quantity and minimum_order_quantity > 1:
        quantity = math.ceil(quantity / minimum_order_quantity) * minimum_order_quantity
    return quantity


def days_of_cover(available: int, shipped: int, days: int = SHIPPED_DAYS) -> Decimal | None:
    """Available ÷ average daily units shipped (one decimal); ``None`` when nothing was shipped."""
    if shipped <= 0:
        return None
    return (Decimal(available) * days / shipped).quantize(ONE_TENTH, rounding=ROUND_HALF_UP)


class _NotIndexed(Func):
    """A column whose index the query should not use: on SQLite ``+column`` (SQLite's documented way to keep
    the planner off an index; same value). Without statistics SQLite picks the movements' ``(kind, id)`` index
    for ``kind = 'shipment'`` and reads every shipment; the ``(product, warehouse, created_at)`` index reads a
    page's products' last 90 days only. Elsewhere the plain column (the planner has statistics)."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra_context)


def _identity(queryset: QuerySet) -> QuerySet:
    return queryset


def _shipped_window(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The last ``SHIPPED_DAYS`` local days, today included."""
    first = today - dt.timedelta(days=SHIPPED_DAYS - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))
    return start, end


def reorder_candidates(levels: QuerySet) -> QuerySet:
    """Levels that may need reordering before incoming is counted (incoming only lowers the need)."""
    return (
        levels.filter(product__is_active=True, warehouse__is_active=True, reorder_point__gt=0)
        .annotate(available_qty=F("on_hand") - F("allocated"))
        .filter(available_qty__lte=F("reorder_point"))
    )


def reorder_lines(
    levels: QuerySet, *, today: dt.date | None = None, scope: Callable[[QuerySet], QuerySet] = _identity
) -> list[ReorderLine]:
    """The levels of ``levels`` (already scoped and filtered) that need reordering, by warehouse and SKU.

    ``scope`` narrows the other querysets read (purchase-order lines, movements) to what the user may see.
    """
    today = today or timezone.localdate()
    candidates, needed = _needed_levels(levels, scope)
    return _complete(needed, candidates.values("product_id"), today=today, scope=scope)


def _needed_levels(levels: QuerySet, scope: Callable[[QuerySet], QuerySet]) -> tuple[QuerySet, list[tuple]]:
    """Which levels need reordering (two queries: the candidate levels and their incoming quantities), as
    ``(level row, incoming)`` pairs by warehouse and SKU; the candidates' queryset comes back too."""
    candidates = reorder_candidates(levels)
    rows = list(
        candidates.order_by("warehouse__code", "product__sku").values_list(
            "pk",
            "product_id",
            "warehouse_id",
            "product__sku",
            "product__name",
            "warehouse__code",
            "on_hand",
            "allocated",
            "reorder_point",
            "reorder_quantity",
        )
    )
    if not rows:
        return candidates, []
    warehouse_ids = {row[2] for row in rows}
    # Every open line of these warehouses, not only the candidates' products: a filter on the candidates
    # (a subquery) would scan the stock levels a second time, and open lines are few next to the levels.
    incoming = dict(
        (
            (product_id, warehouse_id),
            total,
        )
        for product_id, warehouse_id, total in scope(PurchaseOrderLine.objects.all())
        .filter(
            order__status__in=OPEN_PO_STATUSES,
            order__warehouse_id__in=warehouse_ids,
            quantity__gt=F("quantity_received"),
        )
        .order_by()
        .values("product_id", "order__warehouse_id")
        .annotate(total=Sum(F("quantity") - F("quantity_received")))
        .values_list("product_id", "order__warehouse_id", "total")
    )
    needed = []
    for row in rows:
        coming = incoming.get((row[1], row[2])) or 0
        if row[6] - row[7] + coming <= row[8]:  # available + incoming ≤ reorder point
            needed.append((row, coming))
    return candidates, needed


def _complete(
    needed: list[tuple], product_ids, *, today: dt.date, scope: Callable[[QuerySet], QuerySet]
) -> list[ReorderLine]:
    """``ReorderLine``s of ``needed`` levels: units shipped in the last 90 days and the preferred suppliers
    (two queries, narrowed to ``product_ids``: a subquery for all lines, a list for a page)."""
    if not needed:
        return []
    warehouse_ids = {row[2] for row, _coming in needed}
    start, end = _shipped_window(today)
    shipped = dict(
        ((product_id, warehouse_id), -total)
        for product_id, warehouse_id, total in scope(StockMovement.objects.all())
        .alias(movement_kind=_NotIndexed("kind"))
        .filter(
            movement_kind=MovementKind.SHIPMENT,
            created_at__gte=start,
            created_at__lt=end,
            warehouse_id__in=warehouse_ids,
            product_id__in=product_ids,
        )
        .order_by()
        .values("product_id", "warehouse_id")
        .annotate(total=Sum("quantity"))
        .values_list("product_id", "warehouse_id", "total")
    )
    preferred = {
        product_id: (supplier_id, code, active, cost, moq)
        for product_id, supplier_id, code, active, cost, moq in SupplierProduct.objects.filter(
            preferred=True, product_id__in=product_ids
        ).values_list(
            "product_id",
            "supplier_id",
            "supplier__code",
            "supplier__is_active",
            "unit_cost",
            "minimum_order_quantity",
        )
    }
    lines = []
    for (pk, product_id, warehouse_id, sku, name, code, on_hand, allocated, point, quantity), coming in needed:
        key = (product_id, warehouse_id)
        available = on_hand - allocated
        supplier_id, supplier_code, supplier_active, unit_cost, moq = preferred.get(
            product_id, (None, "", False, None, None)
        )
        lines.append(
            ReorderLine(
                key=pk,
                product_id=product_id,
                warehouse_id=warehouse_id,
                sku=sku,
                product=name,
                warehouse=code,
                on_hand=on_hand,
                allocated=allocated,
                incoming=coming,
                reorder_point=point,
                reorder_quantity=quantity,
                suggested_quantity=suggested_quantity(
                    available=available,
                    incoming=coming,
                    reorder_point=point,
                    reorder_quantity=quantity,
                    minimum_order_quantity=moq,
                ),
                days_of_cover=days_of_cover(available, shipped.get(key) or 0),
                supplier_id=supplier_id,
                supplier=supplier_code,
                supplier_active=bool(supplier_active),
                unit_cost=unit_cost,
                minimum_order_quantity=moq,
            )
        )
    return lines


class ReorderRows:
    """The ``reorder`` report's rows, read lazily: which levels need reordering is decided for all of them
    (so the page can count them), the rest — units shipped, preferred supplier — only for the rows read:
    a page of 50 rows does not compute 30,000 lines. Iterating gives every row (exports, e-mails)."""

    def __init__(self, levels: QuerySet, *, today: dt.date, scope: Callable[[QuerySet], QuerySet] = _identity):
        self.today, self.scope = today, scope
        self.candidates, self.needed = _needed_levels(levels, scope)

    def __len__(self) -> int:
        return len(self.needed)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            position = range(len(self.needed))[index]  # IndexError when out of range
            return self[position : position + 1][0]
        part = self.needed[index]
        # A page's products as a list; a long slice as the candidates' subquery (SQLite's parameter limit).
        ids = sorted({row[1] for row, _coming in part}) if len(part) <= 1000 else self.candidates.values("product_id")
        return [line.row() for line in _complete(part, ids, today=self.today, scope=self.scope)]

    def __iter__(self):
        lines = _complete(self.needed, self.candidates.values("product_id"), today=self.today, scope=self.scope)
        return (line.row() for line in lines)


def reorder_levels_for(user, *, warehouse: Warehouse | None = None, supplier: Supplier | None = None) -> QuerySet:
    """The stock levels ``user`` may see (all for ``None``, the system), narrowed like the report's parameters."""
    levels = StockLevel.objects.all()
    if user is not None:
        levels = scope_queryset(user, levels)
    if warehouse is not None:
        levels = levels.filter(warehouse=warehouse)
    if supplier is not None:
        levels = filter_by_preferred_supplier(levels, supplier)
    return levels


def filter_by_preferred_supplier(levels: QuerySet, supplier: Supplier) -> QuerySet:
    return levels.filter(
        product__in=SupplierProduct.objects.filter(supplier=supplier, preferred=True).values("product_id")
    )


def _scope_for(user) -> Callable[[QuerySet], QuerySet]:
    return _identity if user is None else (lambda queryset: scope_queryset(user, queryset))


# ---------------------------------------------------------------- draft purchase orders


@dataclass
class ReorderDrafts:
    """What ``create_reorder_drafts`` did."""

    created: list[PurchaseOrder] = field(default_factory=list)  # new drafts
    extended: list[PurchaseOrder] = field(default_factory=list)  # earlier reorder drafts that got lines
    lines: list[PurchaseOrderLine] = field(default_factory=list)
    already_on_order: list[ReorderLine] = field(default_factory=list)  # on an open PO line: no second line
    without_supplier: list[ReorderLine] = field(default_factory=list)  # no (active) preferred supplier
    not_needed: list[int] = field(default_factory=list)  # selected keys that need no reordering now

    @property
    def orders(self) -> list[PurchaseOrder]:
        return [*self.created, *self.extended]

    def summary(self) -> str:
        """One paragraph for a person (messages, command output, e-mail)."""
        if self.orders:
            numbers = ", ".join(order.number for order in self.orders)
            parts = [
                f"{len(self.lines)} line(s) on {len(self.orders)} draft purchase order(s): {numbers}"
                + (f" ({len(self.created)} new)" if self.extended else "")
                + "."
            ]
        else:
            parts = ["No draft purchase order was needed."]
        if self.already_on_order:
            parts.append(f"{len(self.already_on_order)} product(s) already on an open purchase order: skipped.")
        if self.without_supplier:
            listed = ", ".join(f"{line.sku} @ {line.warehouse}" for line in self.without_supplier)
            parts.append(f"No preferred supplier for {len(self.without_supplier)} product(s): {listed}.")
        if self.not_needed:
            parts.append(f"{len(self.not_needed)} selected line(s) no longer need reordering.")
        return " ".join(parts)


def _lock_warehouses(warehouse_ids: Iterable[int]) -> None:
    """Serialise draft creation per warehouse: a second request waits, then sees the first one's drafts.

    ``FOR NO KEY UPDATE`` does not block the foreign-key checks of stock movements and orders
    being written for the warehouse meanwhile (those take ``FOR KEY SHARE``).
    """
    list(
        Warehouse.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(set(warehouse_ids)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def create_reorder_drafts(
    *,
    user,
    warehouse: Warehouse | None = None,
    keys: Iterable[int | str] | None = None,
    supplier: Supplier | None = None,
    today: dt.date | None = None,
) -> ReorderDrafts:
    """Draft purchase orders for what needs reordering (the ``keys``, stock-level ids, or every line).

    One draft per (preferred supplier, warehouse): lines at the suggested quantity and the supplier's
    unit cost. A product already on an open (draft or sent) purchase-order line of the warehouse gets
    no second line, so running it twice changes nothing. ``user=None`` is the system (the daily task);
    a person needs ``orders.add_purchaseorder`` and sees only their warehouses' lines.
    """
    from orders.services import purchase_order_create, purchase_order_lines_add

    if user is not None and not user.has_perm(ADD_PURCHASE_ORDER):
        raise PermissionDenied("You may not create purchase orders.")
    levels = reorder_levels_for(user, warehouse=warehouse, supplier=supplier)
    selected: set[int] | None = None
    if keys is not None:
        selected = {int(key) for key in keys}
        levels = levels.filter(pk__in=selected)
    _lock_warehouses(reorder_candidates(levels).order_by().values_list("warehouse_id", flat=True))
    lines = reorder_lines(levels, today=today, scope=_scope_for(user))
    result = ReorderDrafts()
    if selected is not None:
        result.not_needed = sorted(selected - {line.key for line in lines})
    groups: dict[tuple[int, int], list[ReorderLine]] = defaultdict(list)
    for line in lines:
        if line.incoming > 0:
            result.already_on_order.append(line)
        elif line.supplier_id is None or not line.supplier_active:
            result.without_supplier.append(line)
        else:
            groups[(line.supplier_id, line.warehouse_id)].append(line)
    if not groups:
        return result
    products = Product.objects.in_bulk([line.product_id for group in groups.values() for line in group])
    suppliers = Supplier.objects.in_bulk({supplier_id for supplier_id, _ in groups})
    warehouses = Warehouse.objects.in_bulk({warehouse_id for _, warehouse_id in groups})
    ordered = sorted(groups, key=lambda k: (warehouses[k[1]].code, suppliers[k[0]].code))
    for supplier_id, warehouse_id in ordered:
        order = (
            PurchaseOrder.objects.filter(
                status=PurchaseOrderStatus.DRAFT,
                supplier_id=supplier_id,
                warehouse_id=warehouse_id,
                notes__startswith=DRAFT_NOTE,
            )
            .order_by("-pk")
            .first()
        )
        if order is None:
            order = purchase_order_create(
                supplier=suppliers[supplier_id], warehouse=warehouses[warehouse_id], user=user, notes=DRAFT_NOTE
            )
            result.created.append(order)
        else:
            result.extended.append(order)
        group = groups[(supplier_id, warehouse_id)]
        result.lines += purchase_order_lines_add(
            order=order,
            lines=[(products[line.product_id], line.suggested_quantity, line.unit_cost) for line in group],
            user=user,
        )
    for order in result.orders:
        order.refresh_from_db()
    return result


# ---------------------------------------------------------------- the daily alert


SENT, NOTHING, ALREADY_SENT, NO_RECIPIENTS, FAILED = "sent", "nothing", "already_sent", "no_recipients", "failed"


@dataclass
class AlertOutcome:
    """What the daily alert did for one warehouse."""

    warehouse: Warehouse
    date: dt.date
    status: str
    line_count: int = 0
    recipients: list[str] = field(default_factory=list)
    drafts: ReorderDrafts | None = None
    error: str = ""

    def message(self) -> str:
        code = self.warehouse.code
        if self.status == NOTHING:
            return f"{code}: nothing to reorder."
        head = f"{code}: {self.line_count} line(s) to reorder"
        text = {
            SENT: f"{head}; alert e-mailed to {len(self.recipients)} recipient(s): {', '.join(self.recipients)}.",
            ALREADY_SENT: f"{head}; the alert for {self.date.isoformat()} was already sent, nothing sent now.",
            NO_RECIPIENTS: f"{head}; no active Purchasing user has an e-mail address, nothing sent.",
            FAILED: f"{head}; sending the alert failed: {self.error}",
        }[self.status]
        if self.drafts is not None:
            text += " " + self.drafts.summary()
        return text


def purchasing_recipients() -> list[str]:
    """E-mail addresses of the active users of the Purchasing role."""
    users = get_user_model().objects.filter(is_active=True, groups__name=PURCHASING).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _report_link(warehouse: Warehouse) -> str:
    try:
        path = reverse("reports:detail", args=["reorder"])
    except NoReverseMatch:
        path = "/admin/report/reorder/"
    return f"{settings.SITE_URL}{path}?warehouse={warehouse.code}"


def _top_lines(rows: list[dict], count: int = ALERT_TOP_LINES) -> list[dict]:
    """The most urgent rows: fewest days of cover first (nothing shipped last), then least available."""
    return sorted(
        rows,
        key=lambda row: (row["days_of_cover"] is None, row["days_of_cover"] or 0, row["available"], row["sku"]),
    )[:count]


def reorder_alert_email(
    warehouse: Warehouse, rows: list[dict], *, today: dt.date, drafts: ReorderDrafts | None = None
) -> tuple[str, str, str]:
    """(subject, text, html) of one warehouse's alert: its most urgent ``rows`` (report rows) in the body."""
    context = {
        "warehouse": warehouse,
        "date": today,
        "line_count": len(rows),
        "top_lines": _top_lines(rows),
        "more": max(len(rows) - ALERT_TOP_LINES, 0),
        "link": _report_link(warehouse),
        "drafts": drafts,
    }
    subject = f"Reorder alert {warehouse.code} {today.isoformat()}: {len(rows)} product(s) to reorder"
    text = render_to_string("reports/email/reorder_alert.txt", context)
    html = render_to_string("reports/email/reorder_alert.html", context)
    return subject, text, html


def send_reorder_alerts(
    *, warehouse: Warehouse | None = None, create_drafts: bool = False, today: dt.date | None = None
) -> list[AlertOutcome]:
    """The daily reorder alert, per active warehouse (or ``warehouse``); returns what happened to each.

    A warehouse with lines to reorder gets one e-mail to the Purchasing role with the ``reorder``
    report attached (XLSX) and its most urgent lines in the body, at most once a day: the day's
    ``ReorderAlert`` row is claimed first (unique per warehouse and date), so a second run — or a
    second worker at the same moment — sends nothing. A failed send releases the claim (a later run
    retries) and is reported as ``failed``; the other warehouses are still handled. With
    ``create_drafts`` the draft purchase orders are created too (after the report is written, so the
    attachment shows what needed ordering).
    """
    from reports.registry import run_report

    today = today or timezone.localdate()
    warehouses = [warehouse] if warehouse is not None else list(Warehouse.objects.filter(is_active=True))
    recipients = purchasing_recipients()
    outcomes = []
    for current in warehouses:
        result = run_report("reorder", {"warehouse": current.code}, user=None, today=today)
        rows = list(result.iter_rows())
        if not rows:
            outcomes.append(AlertOutcome(current, today, NOTHING))
            continue
        attachment = io.BytesIO()
        result.write(XLSX, attachment)
        drafts = create_reorder_drafts(user=None, warehouse=current, today=today) if create_drafts else None
        outcome = AlertOutcome(
            current, today, NO_RECIPIENTS, line_count=len(rows), recipients=recipients, drafts=drafts
        )
        outcomes.append(outcome)
        business_event(  # webhooks (integrations): once per warehouse and daily run with lines to reorder
            "stock.below_reorder_point",
            warehouse=current.code,
            date=today.isoformat(),
            line_count=len(rows),
            skus=[str(row.get("sku", "")) for row in rows[:200]],
        )
        if recipients:
            try:
                outcome.status = _claim_and_send(current, rows, today, recipients, attachment.getvalue(), drafts)
            except Exception as error:  # noqa: BLE001 - reported per warehouse; the caller fails the run
                logger.exception("reorder alert for %s failed", current.code)
                outcome.status, outcome.error = FAILED, str(error) or error.__class__.__name__
    return outcomes


def _claim_and_send(
    warehouse: Warehouse, rows: list[dict], today: dt.date, recipients: list[str], attachment: bytes, drafts
) -> str:
    from backoffice.mail import send_email
    from reports.models import ReorderAlert

    try:
        with transaction.atomic():
            alert = ReorderAlert.objects.create(
                warehouse=warehouse, date=today, line_count=len(rows), recipients=", ".join(recipients)
            )
    except IntegrityError:
        return ALREADY_SENT
    subject, text, html = reorder_alert_email(warehouse, rows, today=today, drafts=drafts)
    filename = f"reorder_{warehouse.code}_{today.isoformat()}.xlsx"
    try:
        send_email(subject, recipients, text, html, attachments=[(filename, attachment, CONTENT_TYPES[XLSX])])
    except Exception:
        alert.delete()  # released: a later run sends it
        raise
    return SENT
