"""Stock counts and opening balances from a sheet, on the import engine (``backoffice.imports``).

Both read one row per product and warehouse (``sku``, ``warehouse`` code and a
quantity), look every SKU and warehouse code up in one query per kind, report
every bad row with its row number (as the spreadsheet numbers it: the header is row 1), column
and reason, and write nothing unless every row is good. Stock moves only
through ``inventory.services``; ``on_hand`` is never written directly:

* **stock counts** (``counted``): the rows whose count differs from on-hand
  become one stock adjustment per warehouse (reason *cycle count*), applied by
  ``stock_adjustment_apply`` (one adjustment movement per changed level). Rows
  equal to on-hand are unchanged; a count below what is reserved is refused.
* **opening balances** (``quantity``, optional ``unit_cost``): one ``OPENING``
  movement per row through ``stock_receive``. A product and warehouse that
  already has an opening balance is refused (importing the file twice would
  double the stock); a quantity of 0 is nothing to open (unchanged).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from decimal import Decimal

from simple_history.utils import bulk_create_with_history

from backoffice.errors import BusinessError, RowError, ValidationFailed
from backoffice.imports import ImportTarget, Outcome, first_rows
from backoffice.limits import MAX_PRICE, check_quantity
from backoffice.uploads import Sheet
from inventory.models import (
    AdjustmentReason,
    MovementKind,
    Product,
    StockAdjustmentLine,
    StockLevel,
    StockMovement,
    Warehouse,
)
from inventory.resources import NumberWidget, WholeNumberWidget
from inventory.services import StockLine, stock_adjustment_apply, stock_adjustment_create, stock_receive

OPENING_REFERENCE = "OPENING"


@dataclass
class StockRow:
    number: int
    product: Product
    warehouse: Warehouse
    quantity: int
    unit_cost: Decimal | None = None


def _text(value) -> str:
    return "" if value is None else str(value).strip()


class StockRowsImport(ImportTarget):
    """Rows of sku + warehouse + a quantity column, checked in bulk; subclasses write them."""

    quantity_column = "quantity"
    optional_columns: tuple[str, ...] = ()
    allow_zero = True

    @property
    def columns(self) -> list[str]:
        return ["sku", "warehouse", self.quantity_column, *self.optional_columns]

    def check(self, sheet: Sheet) -> tuple[list[StockRow], list[RowError]]:
        """Every row parsed, or the errors of every bad row."""
        headers = list(sheet.headers)
        required = self.columns[:3]
        missing = [c for c in required if c not in headers]
        if missing:
            return [], [
                RowError(0, "", f"Missing column(s): {', '.join(missing)}. The columns are: {', '.join(self.columns)}.")
            ]
        unknown = [h for h in headers if h and h not in self.columns]
        if unknown:
            return [], [
                RowError(0, "", f"Unknown column(s): {', '.join(unknown)}. The columns are: {', '.join(self.columns)}.")
            ]
        records = sheet.records()
        skus = {_text(r.get("sku")) for r in records} - {""}
        codes = {_text(r.get("warehouse")) for r in records} - {""}
        products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        warehouses = {w.code: w for w in Warehouse.objects.filter(code__in=codes)}
        rows, errors, first = [], [], {}
        for number, record in enumerate(records, sheet.first_row):
            row_errors = []
            sku, code = _text(record.get("sku")), _text(record.get("warehouse"))
            product, warehouse = products.get(sku), warehouses.get(code)
            if not sku:
                row_errors.append(RowError(number, "sku", "A SKU is required."))
            elif product is None:
                row_errors.append(RowError(number, "sku", f"No product with SKU '{sku}'."))
            if not code:
                row_errors.append(RowError(number, "warehouse", "A warehouse code is required."))
            elif warehouse is None:
                row_errors.append(RowError(number, "warehouse", f"No warehouse with code '{code}'."))
            quantity = self._quantity(number, record.get(self.quantity_column), row_errors)
            unit_cost = self._unit_cost(number, record.get("unit_cost"), row_errors)
            if product and warehouse:
                key = (product.pk, warehouse.pk)
                if key in first:
                    row_errors.append(
                        RowError(
                            number,
                            "warehouse",
                            f"sku '{sku}' + warehouse '{code}' appears more than once in the file "
                            f"(first in row {first[key]}).",
                        )
                    )
                first.setdefault(key, number)
            if row_errors:
                errors.extend(row_errors)
            else:
                rows.append(StockRow(number, product, warehouse, quantity, unit_cost))
        return rows, errors

    def _quantity(self, number: int, value, errors: list[RowError]) -> int | None:
        column = self.quantity_column
        try:
            quantity = WholeNumberWidget().clean(value)
        except ValueError as error:
            errors.append(RowError(number, column, str(error)))
            return None
        if quantity is None:
            errors.append(RowError(number, column, f"A {column.replace('_', ' ')} is required."))
            return None
        try:
            return check_quantity(quantity, column.capitalize(), allow_zero=self.allow_zero)
        except ValidationFailed as error:
            errors.append(RowError(number, column, error.message))
            return None

    def _unit_cost(self, number: int, value, errors: list[RowError]) -> Decimal | None:
        if "unit_cost" not in self.optional_columns:
            return None
        try:
            cost = NumberWidget().clean(value)
        except ValueError as error:
            errors.append(RowError(number, "unit_cost", str(error)))
            return None
        if cost is not None and not Decimal(0) <= cost <= MAX_PRICE:
            errors.append(RowError(number, "unit_cost", f"A unit cost must be from 0 to {MAX_PRICE:,} (got {cost})."))
            return None
        return cost

    # What each import adds to the checks and writes --------------------------------------------

    @abc.abstractmethod
    def plan(self, rows: list[StockRow]) -> tuple[list[StockRow], int, list[RowError]]:
        """(rows to write, count of unchanged rows, errors against the database)."""

    @abc.abstractmethod
    def write(self, rows: list[StockRow], user) -> None:
        """Write the planned rows through the stock services."""

    def _run(self, sheet: Sheet, user, *, apply: bool) -> Outcome:
        outcome = Outcome(columns=list(sheet.headers), row_count=len(sheet), notes=list(sheet.notes))
        rows, errors = self.check(sheet)
        changes, unchanged = [], 0
        if rows:
            changes, unchanged, more = self.plan(rows)
            errors = sorted(errors + more, key=lambda e: (e.row, e.column))
        outcome.add_errors(errors)
        kinds: dict[int, str] = {number: "invalid" for number in {e.row for e in errors}}
        if not errors:
            kinds = {row.number: "new" for row in changes}
            kinds.update({row.number: "skip" for row in rows if row.number not in kinds})
            outcome.new, outcome.unchanged = len(changes), unchanged
            if apply and changes:
                try:
                    self.write(changes, user)
                except BusinessError as error:
                    outcome.message, outcome.error_count = error.message, 1
        outcome.rows = first_rows(sheet, kinds)
        return outcome

    def validate(self, sheet: Sheet, user) -> Outcome:
        return self._run(sheet, user, apply=False)

    def apply(self, sheet: Sheet, user) -> Outcome:
        return self._run(sheet, user, apply=True)


def _levels(rows: list[StockRow]) -> dict[tuple[int, int], StockLevel]:
    products = {row.product.pk for row in rows}
    warehouses = {row.warehouse.pk for row in rows}
    levels = StockLevel.objects.filter(product_id__in=products, warehouse_id__in=warehouses)
    return {(level.product_id, level.warehouse_id): level for level in levels}


class StockCountImport(StockRowsImport):
    """Counted quantities per product and warehouse, applied as one adjustment per warehouse."""

    name = "inventory.stock_imports.STOCK_COUNT_IMPORT"
    quantity_column = "counted"

    def plan(self, rows):
        levels = _levels(rows)
        changes, unchanged, errors = [], 0, []
        for row in rows:
            level = levels.get((row.product.pk, row.warehouse.pk))
            on_hand, allocated = (level.on_hand, level.allocated) if level else (0, 0)
            if row.quantity < allocated:
                errors.append(
                    RowError(
                        row.number,
                        "counted",
                        f"Counted {row.quantity} but {allocated} are reserved for orders (ship or release them first).",
                    )
                )
            elif row.quantity == on_hand:
                unchanged += 1
            else:
                changes.append(row)
        return changes, unchanged, errors

    def write(self, rows, user) -> None:
        by_warehouse: dict[int, list[StockRow]] = {}
        for row in rows:
            by_warehouse.setdefault(row.warehouse.pk, []).append(row)
        for warehouse_rows in by_warehouse.values():
            adjustment = stock_adjustment_create(
                warehouse=warehouse_rows[0].warehouse,
                reason=AdjustmentReason.CYCLE_COUNT,
                note="Imported stock count",
                user=user,
            )
            bulk_create_with_history(
                [
                    StockAdjustmentLine(adjustment=adjustment, product=row.product, counted_quantity=row.quantity)
                    for row in warehouse_rows
                ],
                StockAdjustmentLine,
                default_user=user,
            )
            stock_adjustment_apply(adjustment=adjustment, user=user)


class OpeningBalanceImport(StockRowsImport):
    """Opening stock per product and warehouse: ``OPENING`` movements through ``stock_receive``."""

    name = "inventory.stock_imports.OPENING_BALANCE_IMPORT"
    quantity_column = "quantity"
    optional_columns = ("unit_cost",)

    def plan(self, rows):
        products = {row.product.pk for row in rows}
        opened = set(
            StockMovement.objects.filter(kind=MovementKind.OPENING, product_id__in=products).values_list(
                "product_id", "warehouse_id"
            )
        )
        changes, unchanged, errors = [], 0, []
        for row in rows:
            if (row.product.pk, row.warehouse.pk) in opened:
                errors.append(
                    RowError(
                        row.number,
                        "sku",
                        f"'{row.product.sku}' already has an opening balance in {row.warehouse.code}.",
                    )
                )
            elif row.quantity == 0:
                unchanged += 1
            else:
                changes.append(row)
        return changes, unchanged, errors

    def write(self, rows, user) -> None:
        stock_receive(
            lines=[StockLine(row.product.pk, row.warehouse.pk, row.quantity, row.unit_cost) for row in rows],
            kind=MovementKind.OPENING,
            reference=OPENING_REFERENCE,
            note="Imported opening balance",
            user=user,
        )


STOCK_COUNT_IMPORT = StockCountImport()
OPENING_BALANCE_IMPORT = OpeningBalanceImport()
