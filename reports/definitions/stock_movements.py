"""``stock-movements``: the stock ledger for a period, with the running balance of each stock level.

One row per ledger movement, oldest first (by time, then by id — the order the
ledger was written in). ``balance`` is the level's on-hand right after the
movement, as the ledger stores it (``StockMovement.balance_after``), so it
reads as a running balance per product × warehouse and always matches the
ledger. Rows are read lazily in chunks (``MappedRows``): a full export of a
million movements runs in constant memory. Files read the ledger as tuples in
column order (``values_list``; the kind's label and the blank user computed by
the database), so the export does no per-row Python besides writing the cells.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db import connections
from django.db.models import Case, CharField, F, Sum, Value, When
from django.db.models.functions import Coalesce
from django.db.models.sql.constants import MULTI

from backoffice.exports import DATETIME, INTEGER, MONEY, TEXT, Column
from inventory.models import MovementKind, Product, StockMovement, Warehouse
from reports.registry import MappedRows, Report, ReportFilterSet, register

KIND_LABELS = dict(MovementKind.choices)


class StockMovementParams(ReportFilterSet):
    date_field = "created_at"  # local days: a movement at 23:30 on the 31st is in that month

    # Typed, not picked: a select of every product would not scale (100,000 SKUs); an unknown SKU is refused.
    product = django_filters.ModelChoiceFilter(
        queryset=Product.objects.all(), to_field_name="sku", label="Product (SKU)", widget=forms.TextInput
    )
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.all(), to_field_name="code", label="Warehouse"
    )
    kind = django_filters.ChoiceFilter(choices=MovementKind.choices, label="Kind", empty_label="All kinds")


@register
class StockMovementsReport(Report):
    name = "stock-movements"
    title = "Stock ledger"
    description = "The stock ledger for a period: every entry with the level's running balance."
    model = StockMovement
    required_permissions = ("inventory.view_stockmovement", "inventory.view_product")
    filterset_class = StockMovementParams
    order = 50
    columns = [
        Column("date", "Date", DATETIME),
        Column("sku", "SKU"),
        Column("product", "Product"),
        Column("warehouse", "Warehouse"),
        Column("kind", "Kind"),
        Column("reference", "Reference"),
        Column("quantity", "Quantity", INTEGER),
        Column("balance", "Balance", INTEGER),
        Column("unit_cost", "Unit cost", MONEY, number_format="#,##0.00##"),
        Column("note", "Note", TEXT),
        Column("user", "User"),
    ]
    total_columns = ("quantity",)  # the net change of stock over the filtered movements

    def rows(self, queryset, params):
        ledger = queryset.order_by("created_at", "id").values(
            "id",
            "kind",
            "reference",
            "quantity",
            "unit_cost",
            "note",
            date=F("created_at"),
            sku=F("product__sku"),
            product_name=F("product__name"),
            warehouse_code=F("warehouse__code"),
            balance=F("balance_after"),
            username=F("user__username"),
        )
        return LedgerRows(ledger, _row, plain=queryset, in_order=queryset.order_by("created_at", "id"))

    def totals(self, rows, params):
        # The net change of stock over the filtered movements: one aggregate, without the display joins.
        total = rows.plain.order_by().aggregate(quantity=Sum("quantity"))["quantity"]
        return {"quantity": total or 0}


class LedgerRows(MappedRows):
    """The ledger's rows; counted on the plain filtered ledger (no joins to products, warehouses, users)."""

    def __init__(self, queryset, function, *, plain, in_order):
        super().__init__(queryset, function)
        self.plain = plain
        # (Not ``ordered``: ``Paginator`` reads an ``ordered`` attribute as a flag and would evaluate a queryset.)
        self.in_order = in_order
        self._count = None

    def iter_export(self, columns):
        names = [column.name for column in columns]
        if names != list(TUPLE_FIELDS):
            return super().iter_export(columns)
        kind_label = Case(
            *(When(kind=value, then=Value(str(label))) for value, label in MovementKind.choices),
            default=F("kind"),
            output_field=CharField(),
        )
        tuples = self.in_order.annotate(
            kind_label=kind_label, username_or_blank=Coalesce(F("user__username"), Value(""), output_field=CharField())
        ).values_list(*TUPLE_FIELDS.values())
        if connections[tuples.db].vendor == "sqlite":
            return _sqlite_tuples(tuples)
        return tuples.iterator(chunk_size=EXPORT_CHUNK_SIZE)

    def count(self) -> int:
        if self._count is None:
            self._count = self.plain.order_by().count()
        return self._count


#: column name → the ``values_list`` path of its value, in column order (``iter_export``)
TUPLE_FIELDS = {
    "date": "created_at",
    "sku": "product__sku",
    "product": "product__name",
    "warehouse": "warehouse__code",
    "kind": "kind_label",
    "reference": "reference",
    "quantity": "quantity",
    "balance": "balance_after",
    "unit_cost": "unit_cost",
    "note": "note",
    "user": "username_or_blank",
}
EXPORT_CHUNK_SIZE = 5000
_DATE_AT = list(TUPLE_FIELDS).index("date")
_COST_AT = list(TUPLE_FIELDS).index("unit_cost")


def _sqlite_tuples(tuples):
    """The export's tuples on SQLite, converted here rather than by Django's per-value converters.

    Django runs a generic converter loop per row and, for the date-time, a second parse and ``make_aware``
    (about 40 % of a 1,000,000-row export); here the two typed columns are converted directly: the
    date-time (naive UTC from the backend's decoder) made aware in UTC as Django does, and the cost with
    Django's own decimal converter for the column. The other columns need no conversion.
    ``test_the_ledger_csv_fast_path_writes_what_the_rows_say`` holds the file byte for byte to the rows'.
    """
    compiler = tuples.query.get_compiler(using=tuples.db)
    connection = compiler.connection
    cost = StockMovement._meta.get_field("unit_cost").get_col(StockMovement._meta.db_table)
    to_decimal = connection.ops.get_decimalfield_converter(cost)
    from_text, utc = dt.datetime.fromisoformat, dt.UTC
    date_at, cost_at = _DATE_AT, _COST_AT
    for chunk in compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=EXPORT_CHUNK_SIZE):
        for row in chunk:
            row = list(row)
            when = row[date_at]  # naive UTC: the backend's registered decoder parsed the stored text already
            row[date_at] = (from_text(when) if type(when) is str else when).replace(tzinfo=utc)
            row[cost_at] = to_decimal(row[cost_at], cost, connection)
            yield tuple(row)


def _row(movement: dict) -> dict:
    return {
        "date": movement["date"],
        "sku": movement["sku"],
        "product": movement["product_name"],
        "warehouse": movement["warehouse_code"],
        "kind": KIND_LABELS.get(movement["kind"], movement["kind"]),
        "reference": movement["reference"],
        "quantity": movement["quantity"],
        "balance": movement["balance"],
        "unit_cost": movement["unit_cost"],
        "note": movement["note"],
        "user": movement["username"] or "",
    }
