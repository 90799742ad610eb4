"""The start page (admin index): what each role acts on today, every figure linking to its list.

``start_page(user)`` returns the template context of ``templates/admin/index.html``:

* ``sections`` — one per role the user has (Sales, Purchasing, Warehouse, Management), each a list of
  ``Figure``s: a number, what it counts, and the filtered admin list (or report) behind it;
* ``overview`` — for Admin, Manager and Viewer: sales today and over the last 30 days with a daily
  chart, open orders, backordered lines, purchase orders awaiting receipt, late shipments and the
  top 10 products of the last 30 days;
* ``figures`` / ``reorder_levels`` / ``recent_movements`` — the stock figures and tables every role sees
  (``inventory.selectors``);
* ``notice`` — instead of all that, a clear message for a user with no role, or a Warehouse user who
  staffs no warehouse (never empty lists, never other people's figures).

Every figure is one bounded query (aggregates with conditional counts; most answer several figures
at once), narrowed by ``backoffice.scoping.scope_queryset``. Results are cached briefly per *scope*
(the warehouses the user sees), not per user, and dropped when stock or orders move
(``backoffice.dashboard_cache``). A group of figures is computed only for users holding every view
permission its queries need, so a cached value never depends on who computed it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from backoffice.dashboard_cache import cached
from backoffice.money import format_money
from backoffice.roles import ADMIN, MANAGER, PURCHASING, SALES, VIEWER, WAREHOUSE
from backoffice.scoping import scope_queryset, user_warehouse_ids

ZERO = Decimal("0")
MONEY = DecimalField(max_digits=20, decimal_places=2)
SALES_DAYS = 30
TOP_PRODUCTS = 10
RECEIPTS_DUE_DAYS = 7

#: What the stock part of the page needs (every role has these).
STOCK_PERMISSIONS = ("inventory.view_product", "inventory.view_stocklevel", "inventory.view_stockmovement")

NO_ROLE = "You have no role yet — ask an administrator."
NO_WAREHOUSE = "You are not assigned to a warehouse — ask a manager."


@dataclass
class Figure:
    """One number on the start page and the list behind it."""

    label: str
    value: int | Decimal
    hint: str = ""
    url: str = ""
    money: bool = False
    tone: str = ""  # "danger" / "warning" when the number asks for action, "" otherwise
    secondary: str = ""  # a smaller second line (e.g. last month's sales)


@dataclass
class Section:
    key: str
    title: str
    description: str
    figures: list[Figure] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Links


def changelist(model: str, **params) -> str:
    """The admin list of ``app.model`` filtered by ``params`` (lookups its list filters accept)."""
    app_label, model_name = model.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def report_link(user, name: str, **params) -> str:
    """The report page for ``user``, or "" when they may not open it (then the figure is plain text)."""
    from reports.registry import ReportError, get_report

    try:
        if not get_report(name).allowed(user):
            return ""
        url = reverse("reports:detail", args=[name])
    except (ReportError, NoReverseMatch):
        return ""
    return f"{url}?{urlencode(params)}" if params else url


def _iso(day: dt.date) -> str:
    return day.isoformat()


def _start_of_today() -> dt.datetime:
    """Midnight today in the site's time zone (how ``inventory.selectors.dashboard_figures`` counts)."""
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))


def _csv(values) -> str:
    return ",".join(sorted(str(value) for value in values))


# ---------------------------------------------------------------------------------------------
# The queries: each one statement, scoped; the caller checks the permissions first


def _scoped(user, queryset):
    return scope_queryset(user, queryset)


def _sold():
    from orders.models import SalesOrderStatus

    return ~Q(status__in=SalesOrderStatus.NOT_SOLD)


def order_counts(user, today: dt.date) -> dict:
    """Sales orders: drafts, open, due today, late, backordered, open with a credit override (one query)."""
    from orders.models import SalesOrder, SalesOrderStatus

    open_ = Q(status__in=SalesOrderStatus.OPEN)
    return _scoped(user, SalesOrder.objects.all()).aggregate(
        drafts=Count("pk", filter=Q(status=SalesOrderStatus.DRAFT)),
        open=Count("pk", filter=open_),
        due_today=Count("pk", filter=open_ & Q(required_date=today)),
        late=Count("pk", filter=open_ & Q(required_date__lt=today)),
        backordered=Count("pk", filter=Q(backordered_quantity__gt=0)),
        overrides=Count("pk", filter=open_ & ~Q(credit_override_reason="")),
    )


def over_credit_count(user) -> int:
    """Orders over their customer's credit limit that Sales sent for approval: they await a Manager (one query)."""
    from orders.models import SalesOrder, SalesOrderStatus

    return _scoped(user, SalesOrder.objects.filter(status=SalesOrderStatus.AWAITING_APPROVAL)).count()


def backordered_line_counts(user) -> dict:
    """Lines of open orders waiting for stock, and the orders they are on (one query)."""
    from orders.models import SalesOrderLine, SalesOrderStatus

    lines = _scoped(user, SalesOrderLine.objects.all()).filter(
        order__status__in=SalesOrderStatus.OPEN, quantity__gt=F("quantity_shipped") + F("quantity_reserved")
    )
    return lines.aggregate(lines=Count("pk"), orders=Count("order", distinct=True))


def purchase_counts(user, today: dt.date) -> dict:
    """Purchase orders awaiting receipt, late, due this week, expected today (one query)."""
    from orders.models import PurchaseOrder, PurchaseOrderStatus

    open_ = Q(status__in=PurchaseOrderStatus.OPEN)
    due_until = today + dt.timedelta(days=RECEIPTS_DUE_DAYS)
    return _scoped(user, PurchaseOrder.objects.all()).aggregate(
        awaiting=Count("pk", filter=open_),
        late=Count("pk", filter=open_ & Q(expected_date__lt=today)),
        due=Count("pk", filter=open_ & Q(expected_date__gte=today, expected_date__lte=due_until)),
        today=Count("pk", filter=open_ & Q(expected_date=today)),
    )


def shipment_counts(user, today: dt.date) -> dict:
    """Shipments to pack and ship, and those of them past their order's required date (one query)."""
    from orders.models import Shipment, ShipmentStatus

    waiting = Q(status__in=ShipmentStatus.EDITABLE)
    return _scoped(user, Shipment.objects.all()).aggregate(
        to_ship=Count("pk", filter=waiting),
        late=Count("pk", filter=waiting & Q(sales_order__required_date__lt=today)),
    )


def counts_in_progress(user) -> int:
    """Stock adjustments (counts) still in draft (one query)."""
    from inventory.models import DocumentStatus, StockAdjustment

    return _scoped(user, StockAdjustment.objects.filter(status=DocumentStatus.DRAFT)).count()


def reorder_needed_count(user) -> int:
    """Stock levels the ``reorder`` report lists: available + incoming (open POs, drafts included) at or
    below the reorder point, active products in active warehouses (one query)."""
    from inventory.models import StockLevel
    from orders.models import PurchaseOrderLine
    from reports.reorder import OPEN_PO_STATUSES, reorder_candidates

    incoming = (
        PurchaseOrderLine.objects.filter(
            order__status__in=OPEN_PO_STATUSES,
            product_id=OuterRef("product_id"),
            order__warehouse_id=OuterRef("warehouse_id"),
        )
        .order_by()
        .values("product_id")
        .annotate(total=Sum(F("quantity") - F("quantity_received")))
        .values("total")
    )
    return (
        reorder_candidates(_scoped(user, StockLevel.objects.all()))
        .annotate(incoming=Coalesce(Subquery(incoming), Value(0)))
        .filter(available_qty__lte=F("reorder_point") - F("incoming"))
        .count()
    )


def sales_by_day(user, today: dt.date, days: int = SALES_DAYS) -> dict:
    """Net sales (after discounts, before tax and shipping) and orders per order date over the last
    ``days`` days, every day present (one query)."""
    from orders.models import SalesOrder

    first = today - dt.timedelta(days=days - 1)
    rows = (
        _scoped(user, SalesOrder.objects.filter(_sold(), order_date__gte=first, order_date__lte=today))
        .order_by()
        .values("order_date")
        .annotate(net=Sum("subtotal"), orders=Count("pk"))
    )
    by_day = {row["order_date"]: (row["net"] or ZERO, row["orders"]) for row in rows}
    series = [(day, *by_day.get(day, (ZERO, 0))) for day in (first + dt.timedelta(days=n) for n in range(days))]
    return {
        "first": first,
        "series": series,
        "today_net": series[-1][1],
        "today_orders": series[-1][2],
        "period_net": sum((net for _day, net, _n in series), ZERO),
        "period_orders": sum(n for _day, _net, n in series),
    }


def month_sales(user, today: dt.date) -> dict:
    """Net sales this month to date and over the whole of last month (one query)."""
    from orders.models import SalesOrder

    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    totals = _scoped(user, SalesOrder.objects.filter(_sold(), order_date__gte=last_month, order_date__lte=today))
    totals = totals.aggregate(
        this=Coalesce(Sum("subtotal", filter=Q(order_date__gte=this_month)), ZERO, output_field=MONEY),
        last=Coalesce(Sum("subtotal", filter=Q(order_date__lt=this_month)), ZERO, output_field=MONEY),
    )
    return {**totals, "this_month": this_month, "last_month": last_month}


def top_products(user, today: dt.date, days: int = SALES_DAYS, limit: int = TOP_PRODUCTS) -> list[dict]:
    """The ``limit`` products with the highest net sales over the last ``days`` days (one query)."""
    from orders.models import SalesOrderLine, SalesOrderStatus

    first = today - dt.timedelta(days=days - 1)
    lines = _scoped(
        user,
        SalesOrderLine.objects.filter(order__order_date__gte=first, order__order_date__lte=today).exclude(
            order__status__in=SalesOrderStatus.NOT_SOLD
        ),
    )
    return list(
        lines.order_by()
        .values("product_id", "product__sku", "product__name")
        .annotate(units=Sum("quantity"), net=Sum("net_amount"), orders=Count("order", distinct=True))
        .order_by("-net", "product__sku")[:limit]
    )


def failed_task_count() -> int:
    from django_q.models import Failure

    return Failure.objects.count()


# ---------------------------------------------------------------------------------------------
# Assembling the page


class _Page:
    """One request's view of the start page: the user's roles, scope and a per-request memo."""

    def __init__(self, user, today: dt.date | None = None):
        self.user = user
        self.today = today or timezone.localdate()
        self.groups = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        if user.is_superuser:
            self.groups.add(ADMIN)
        ids = user_warehouse_ids(user)
        self.scope = "all" if ids is None else ("w" + "-".join(str(pk) for pk in sorted(ids)) or "none")
        self.no_warehouse = ids is not None and not ids
        self._memo: dict[str, object] = {}

    def get(self, name: str, perms: tuple[str, ...], compute):
        """The (cached) value of one group of figures, or None when the user lacks a permission it needs."""
        if not self.user.has_perms(perms):
            return None
        if name not in self._memo:
            self._memo[name] = cached(f"{name}:{self.today.isoformat()}", self.scope, compute)
        return self._memo[name]


def _figure_if(condition, *args, **kwargs) -> list[Figure]:
    return [Figure(*args, **kwargs)] if condition is not None else []


SO_PERMS = ("orders.view_salesorder",)
SOL_PERMS = ("orders.view_salesorder", "orders.view_salesorderline")
PO_PERMS = ("orders.view_purchaseorder",)
SHIP_PERMS = ("orders.view_shipment", "orders.view_salesorder")
LEVEL_PERMS = ("inventory.view_stocklevel", "orders.view_purchaseorderline")
ADJ_PERMS = ("inventory.view_stockadjustment",)


def _open_so_params() -> dict:
    from orders.models import SalesOrderStatus

    return {"status__in": _csv(SalesOrderStatus.OPEN)}


def _open_po_params() -> dict:
    from orders.models import PurchaseOrderStatus

    return {"status__in": _csv(PurchaseOrderStatus.OPEN)}


def _sales_section(page: _Page) -> Section:
    today, yesterday = page.today, page.today - dt.timedelta(days=1)
    counts = page.get("orders", SO_PERMS, lambda: order_counts(page.user, today))
    over = page.get("over_credit", SO_PERMS, lambda: over_credit_count(page.user))
    section = Section("sales", _("Sales"), _("Orders to move forward today"))
    if counts is None:
        return section
    section.figures = [
        Figure(
            _("Drafts"),
            counts["drafts"],
            _("Orders not confirmed yet"),
            changelist("orders.salesorder", status__exact="draft"),
        ),
        Figure(
            _("Awaiting credit approval"),
            over,
            _("Sent to a Manager: over the customer's credit limit"),
            changelist("orders.salesorder", credit="awaiting"),
            tone="warning" if over else "",
        ),
        Figure(
            _("To ship today"),
            counts["due_today"],
            _("Open orders required today"),
            changelist(
                "orders.salesorder", **_open_so_params(), required_date_from=_iso(today), required_date_to=_iso(today)
            ),
        ),
        Figure(
            _("Backorders"),
            counts["backordered"],
            _("Open orders waiting for stock"),
            changelist("orders.salesorder", backordered="yes"),
            tone="warning" if counts["backordered"] else "",
        ),
        Figure(
            _("Late orders"),
            counts["late"],
            _("Open orders past their required date"),
            changelist("orders.salesorder", **_open_so_params(), required_date_to=_iso(yesterday)),
            tone="danger" if counts["late"] else "",
        ),
    ]
    return section


def _purchasing_section(page: _Page) -> Section:
    today = page.today
    yesterday, due_until = today - dt.timedelta(days=1), today + dt.timedelta(days=RECEIPTS_DUE_DAYS)
    section = Section("purchasing", _("Purchasing"), _("What to order and what should arrive"))
    reorder = page.get("reorder_needed", LEVEL_PERMS, lambda: reorder_needed_count(page.user))
    purchases = page.get("purchases", PO_PERMS, lambda: purchase_counts(page.user, today))
    section.figures += _figure_if(
        reorder,
        _("To reorder"),
        reorder,
        _("Below the reorder point after what is already on order"),
        report_link(page.user, "reorder"),
        tone="warning" if reorder else "",
    )
    if purchases is not None:
        section.figures += [
            Figure(
                _("Late purchase orders"),
                purchases["late"],
                _("Sent, not fully received, past the expected date"),
                changelist("orders.purchaseorder", **_open_po_params(), expected_date_to=_iso(yesterday)),
                tone="danger" if purchases["late"] else "",
            ),
            Figure(
                _("Receipts due"),
                purchases["due"],
                _("Expected in the next %(days)d days") % {"days": RECEIPTS_DUE_DAYS},
                changelist(
                    "orders.purchaseorder",
                    **_open_po_params(),
                    expected_date_from=_iso(today),
                    expected_date_to=_iso(due_until),
                ),
            ),
        ]
    return section


def _warehouse_section(page: _Page) -> Section:
    from orders.models import ShipmentStatus

    today = page.today
    section = Section("warehouse", _("Warehouse"), _("Work on the floor in your warehouses"))
    shipments = page.get("shipments", SHIP_PERMS, lambda: shipment_counts(page.user, today))
    purchases = page.get("purchases", PO_PERMS, lambda: purchase_counts(page.user, today))
    counts = page.get("counts", ADJ_PERMS, lambda: counts_in_progress(page.user))
    if shipments is not None:
        section.figures.append(
            Figure(
                _("To pack and ship"),
                shipments["to_ship"],
                _("Shipments pending or packed"),
                changelist("orders.shipment", status__in=_csv(ShipmentStatus.EDITABLE)),
                tone="warning" if shipments["late"] else "",
                secondary=_("%(count)d late") % {"count": shipments["late"]} if shipments["late"] else "",
            )
        )
    if purchases is not None:
        section.figures.append(
            Figure(
                _("Receipts expected today"),
                purchases["today"],
                _("Open purchase orders due today"),
                changelist(
                    "orders.purchaseorder",
                    **_open_po_params(),
                    expected_date_from=_iso(today),
                    expected_date_to=_iso(today),
                ),
            )
        )
    section.figures += _figure_if(
        counts,
        _("Counts in progress"),
        counts,
        _("Stock adjustments still in draft"),
        changelist("inventory.stockadjustment", status__exact="draft"),
    )
    return section


def _management_section(page: _Page) -> Section:
    today = page.today
    section = Section("management", _("Management"), _("Sales, credit and the background work"))
    months = page.get("months", SO_PERMS, lambda: month_sales(page.user, today))
    counts = page.get("orders", SO_PERMS, lambda: order_counts(page.user, today))
    over = page.get("over_credit", SO_PERMS, lambda: over_credit_count(page.user))
    if months is not None:
        last = months["last"]
        change = ""
        if last:
            change = _("%(change)+.0f %% on last month") % {"change": (months["this"] - last) / last * 100}
        section.figures.append(
            Figure(
                _("Sales this month"),
                months["this"],
                change or _("Net, before tax and shipping"),
                report_link(page.user, "sales-summary", date_range="month_to_date", group_by="day"),
                money=True,
                secondary=_("Last month: %(amount)s") % {"amount": format_money(last)},
            )
        )
    if counts is not None:
        section.figures += [
            Figure(
                _("Over credit limit"),
                over,
                _("Orders awaiting your credit approval"),
                changelist("orders.salesorder", credit="awaiting"),
                tone="warning" if over else "",
            ),
            Figure(
                _("Credit overrides"),
                counts["overrides"],
                _("Open orders confirmed over the limit"),
                changelist("orders.salesorder", credit="override"),
            ),
        ]
    failed = page.get("failed_tasks", ("django_q.view_failure",), failed_task_count)
    section.figures += _figure_if(
        failed,
        _("Failed tasks"),
        failed,
        _("Background tasks that raised an error"),
        changelist("django_q.failure"),
        tone="danger" if failed else "",
    )
    return section


def _chart(series) -> str:
    """Unfold's bar chart data (JSON) for the daily net sales."""
    return json.dumps(
        {
            "labels": [day.strftime("%d %b") for day, _net, _orders in series],
            "datasets": [
                {
                    "label": _("Net sales"),
                    "data": [float(net) for _day, net, _orders in series],
                    "backgroundColor": "var(--color-primary-600)",
                    "displayYAxis": True,
                    "maxTicksXLimit": 10,
                    "maxBarThickness": 14,
                }
            ],
        }
    )


def _overview(page: _Page) -> dict | None:
    today = page.today
    perms = (*SOL_PERMS, *PO_PERMS, *SHIP_PERMS)
    if not page.user.has_perms(perms):
        return None
    sales = page.get("sales_by_day", SO_PERMS, lambda: sales_by_day(page.user, today))
    counts = page.get("orders", SO_PERMS, lambda: order_counts(page.user, today))
    backordered = page.get("backordered_lines", SOL_PERMS, lambda: backordered_line_counts(page.user))
    purchases = page.get("purchases", PO_PERMS, lambda: purchase_counts(page.user, today))
    shipments = page.get("shipments", SHIP_PERMS, lambda: shipment_counts(page.user, today))
    top = page.get("top_products", SOL_PERMS, lambda: top_products(page.user, today))
    from orders.models import ShipmentStatus

    first = sales["first"]
    period = {"date_from": _iso(first), "date_to": _iso(today)}
    figures = [
        Figure(
            _("Sales today"),
            sales["today_net"],
            _("%(count)d orders, net of discounts") % {"count": sales["today_orders"]},
            report_link(page.user, "sales-summary", date_range="today", group_by="day"),
            money=True,
        ),
        Figure(
            _("Sales, last %(days)d days") % {"days": SALES_DAYS},
            sales["period_net"],
            _("%(count)d orders since %(day)s") % {"count": sales["period_orders"], "day": first.strftime("%d %b")},
            report_link(page.user, "sales-summary", group_by="day", **period),
            money=True,
        ),
        Figure(
            _("Open orders"),
            counts["open"],
            _("Confirmed or partially shipped"),
            changelist("orders.salesorder", **_open_so_params()),
        ),
        Figure(
            _("Backordered lines"),
            backordered["lines"],
            _("On %(count)d open orders") % {"count": backordered["orders"]},
            changelist("orders.salesorder", backordered="yes"),
            tone="warning" if backordered["lines"] else "",
        ),
        Figure(
            _("POs awaiting receipt"),
            purchases["awaiting"],
            _("Sent or partially received"),
            changelist("orders.purchaseorder", **_open_po_params()),
        ),
        Figure(
            _("Late shipments"),
            shipments["late"],
            _("Not shipped, past the order's required date"),
            changelist(
                "orders.shipment",
                status__in=_csv(ShipmentStatus.EDITABLE),
                sales_order__required_date_to=_iso(today - dt.timedelta(days=1)),
            ),
            tone="danger" if shipments["late"] else "",
        ),
    ]
    return {
        "figures": figures,
        "chart": _chart(sales["series"]),
        "chart_url": report_link(page.user, "sales-summary", group_by="day", **period),
        "top_products": top,
        "top_url": report_link(page.user, "sales-summary", group_by="product", **period),
        "days": SALES_DAYS,
    }


def _stock_cards(figures: dict) -> list[Figure]:
    levels = changelist("inventory.stocklevel")
    return [
        Figure(
            _("Active products"),
            figures["active_products"],
            _("SKUs on sale"),
            changelist("inventory.product", is_active__exact="1"),
        ),
        Figure(_("Stock value"), figures["stock_value"], _("On hand at average cost"), levels, money=True),
        Figure(
            _("Below reorder point"),
            figures["reorder_count"],
            _("Stock levels at or below it, before incoming POs"),
            changelist("inventory.stocklevel", reorder="yes"),
            tone="warning" if figures["reorder_count"] else "",
        ),
        Figure(
            _("Movements today"),
            figures["movements_today"],
            _("Entries in the stock ledger"),
            changelist("inventory.stockmovement", created_at__gte=_start_of_today().isoformat()),
        ),
    ]


def _stock(page: _Page) -> dict:
    from inventory.selectors import dashboard_figures, recent_movements, reorder_levels

    user = page.user
    return {
        "figures": page.get("stock", STOCK_PERMISSIONS, lambda: dashboard_figures(user=user)),
        "reorder_levels": page.get(
            "reorder_levels", STOCK_PERMISSIONS, lambda: list(reorder_levels(user=user, limit=8))
        ),
        "recent_movements": page.get(
            "recent_movements", STOCK_PERMISSIONS, lambda: list(recent_movements(user=user, limit=8))
        ),
    }


def start_page(user, *, today: dt.date | None = None) -> dict:
    """The context of the start page for ``user`` (see the module docstring)."""
    empty = {"figures": {}, "reorder_levels": [], "recent_movements": [], "sections": [], "overview": None}
    page = _Page(user, today)
    roles = page.groups & {ADMIN, MANAGER, SALES, PURCHASING, WAREHOUSE, VIEWER}
    if not roles:
        return {**empty, "notice": _(NO_ROLE)}
    if page.no_warehouse:
        return {**empty, "notice": _(NO_WAREHOUSE)}
    sections = []
    if SALES in roles:
        sections.append(_sales_section(page))
    if PURCHASING in roles:
        sections.append(_purchasing_section(page))
    if WAREHOUSE in roles:
        sections.append(_warehouse_section(page))
    if roles & {ADMIN, MANAGER}:
        sections.append(_management_section(page))
    overview = _overview(page) if roles & {ADMIN, MANAGER, VIEWER} else None
    stock = _stock(page)
    if stock["figures"] is None:
        stock = {"figures": {}, "reorder_levels": [], "recent_movements": []}
    return {
        **stock,
        "stock_cards": _stock_cards(stock["figures"]) if stock["figures"] else [],
        "sections": [section for section in sections if section.figures],
        "overview": overview,
        "notice": "",
        "read_only": not roles - {VIEWER},
    }
