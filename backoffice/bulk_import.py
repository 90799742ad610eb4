"""The bulk path of the import engine: a resource's file validated into a plan, and the plan written in bulk.

``backoffice.imports.ResourceTarget`` runs a resource through here when the
resource class sets ``bulk_import = True`` (products, supplier products,
reorder settings, customers, suppliers). It gives the answers of
django-import-export's row-by-row ``import_data`` (row kinds, invalid rows by
number and column, totals) with a constant number of queries per batch of
``ROW_BATCH`` rows and without import-export's per-row objects:

**Validation** (``BulkImport.validate`` → ``ImportPlan``; writes nothing: the preview)

* the rows are read once, column by column. Each cell goes through the
  resource's own field and widget (``Field.clean``) and the model field's
  rules (``Field.clean`` of the model field as ``clean_fields`` runs it:
  validators, ``max_length``, choices, decimal places, required, the bounds of
  ``backoffice.limits``). A value repeated in a column (prices, categories,
  flags) is parsed and checked once; a plain text column (no widget, no
  choices, only length rules) is checked inline, and only a cell failing the
  inline test goes through the full ``clean`` (for its exact message);
* referenced records (``LookupWidget`` columns, e.g. a product's category by
  name) are loaded once per kind; the stored records a batch updates (by the
  import key: a SKU, or supplier + SKU) with one query per batch, only the
  columns compared;
* keys repeated in the file, unique fields (``unique`` and single-field
  ``UniqueConstraint`` s with their condition) within the file and against the
  database (one query per field and chunk), the model's own ``clean()``, the
  resource's ``before_import_row`` (when it has its own) and its protected
  fields (``ProtectedFieldsResourceMixin``) are checked as the row-by-row
  import checks them — ``full_clean()`` is not run per row (its unique checks
  query per row; the check constraints mirror the field validators and the
  database still enforces them);
* a row equal to its stored record is *unchanged* and never written.

The plan holds what validation found: the typed values of the new rows, the
primary key, new values and (as a guard) the ``updated_at`` or the compared
values of each changed row, the counts, the kinds of the first rows and every
error. It is small enough to store (``backoffice.import_plans``): **Confirm
writes the stored plan** without validating the file again.

**Writing** (``backoffice.bulk_writes.write_plan``; inside the caller's transaction: all or nothing)

* first, in bulk, that the plan still holds: no record with a new row's key
  appeared, every updated record still has the ``updated_at`` (or values) it
  had when validated, no other record took a unique value, every referenced
  record still exists. Anything else raises ``PlanOutdated`` and nothing is
  written (the user uploads the file again to see a fresh preview);
* new rows are inserted with one statement per batch (PostgreSQL: keys drawn
  from the table's sequence, then ``COPY`` of the rows and of their history
  rows, the next batch formatted on a helper thread meanwhile; SQLite:
  multi-row ``VALUES … RETURNING``), changed rows updated with one statement
  per batch (only the columns that changed in some row, plus ``updated_at``:
  counters maintained elsewhere are never overwritten);
* their history rows (django-simple-history) are inserted the same way,
  directly: what ``bulk_create_with_history`` / ``bulk_update_with_history``
  write (every tracked field, ``history_type`` ``+`` or ``~``, the importing
  user, one ``history_date``, the change reason), without building model
  instances.

``progress(rows_done, rows_total)`` is called once per batch in each pass.

A resource qualifies if its import key columns name plain fields or
``LookupWidget`` s of other models and its model's other unique rules are
single-field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import tablib
from django.core import validators as core_validators
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, models
from django.db.models import Q
from django.db.models.fields import NOT_PROVIDED
from django.utils.encoding import force_str
from import_export import widgets
from import_export.results import Error, InvalidRow, Result, RowResult

from backoffice.errors import BusinessError
from backoffice.field_rights import FieldChangeRefused, _shown

ROW_BATCH = 5000
LOOKUP_CHUNK = 5000
MEMO_SIZE = 20_000
PREVIEW_ROWS = 100
PLAN_VERSION = 2

NEW, UPDATE, SKIP_KIND, INVALID = (
    RowResult.IMPORT_TYPE_NEW,
    RowResult.IMPORT_TYPE_UPDATE,
    RowResult.IMPORT_TYPE_SKIP,
    RowResult.IMPORT_TYPE_INVALID,
)

Progress = Callable[[int, int], None]


def supports_bulk(resource_class) -> bool:
    return bool(getattr(resource_class, "bulk_import", False))


def _chunks(values: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _no_progress(done: int, total: int) -> None:
    return None


_RAW_IN_TYPES = (models.CharField, models.TextField, models.IntegerField, models.ForeignKey, models.AutoField)


def filter_in(queryset, name: str, values: list):
    """``queryset.filter(name__in=values)`` for validated values of a plain column, without Django preparing
    each value (what makes a 5,000-value ``__in`` slow); other columns through the ORM."""
    f = queryset.model._meta.get_field(name)
    text = type(f) in (models.CharField, models.TextField)
    plain = text or (isinstance(f, _RAW_IN_TYPES) and not isinstance(f, (models.CharField, models.TextField)))
    if not plain or not values or any(not isinstance(v, (str, int)) or isinstance(v, bool) for v in values[:1]):
        return queryset.filter(**{f"{name}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(queryset.model._meta.db_table)}.{quote(f.column)}"
    if connection.vendor == "postgresql":
        # One JSON parameter instead of thousands of placeholders (psycopg parses a query's placeholders and
        # quotes array items in Python: both cost more than the query itself for 5,000 values).
        kind = str if text else int
        if all(v.__class__ is kind for v in values):
            cast = "text" if text else "bigint"
            where = f"{column} IN (SELECT jsonb_array_elements_text(%s::jsonb)::{cast})"
            return queryset.extra(where=[where], params=[json.dumps(list(values))])
        return queryset.filter(**{f"{name}__in": values})
    return queryset.extra(where=[f"{column} IN ({', '.join(['%s'] * len(values))})"], params=list(values))


class PlanOutdated(BusinessError):
    """The records a validated import would write changed since it was validated: nothing was written."""

    code = "import_plan_outdated"
    http_status = 409


# Cells ------------------------------------------------------------------------------------------


class _Bad:
    """A cell that failed: its messages."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages


# The column leaves the field as it is (import-export: ``saves_null_values=False`` and an empty cell).
KEEP = object()


class PreloadedLookup:
    """A ``LookupWidget`` answered from one query: natural key → primary key of the referenced record."""

    def __init__(self, widget, keys: Iterable[str]) -> None:
        self.widget = widget
        self.model = widget.model
        self.found: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(keys))):
            for key, pk in (
                filter_in(self.model._default_manager.all(), widget.field, chunk)
                .values_list(widget.field, "pk")
                .order_by()
            ):
                self.found[force_str(key)] = pk
        name = self.model._meta.verbose_name
        self.missing = f"No {name} with {self.model._meta.get_field(widget.field).verbose_name} '{{}}'."

    def clean(self, value):
        if value is None:
            return None
        key = force_str(value).strip()
        if key == "":
            return None
        try:
            return self.found[key]
        except KeyError:
            raise ValueError(self.missing.format(key)) from None


_PLAIN_TEXT_VALIDATORS = (core_validators.MaxLengthValidator, core_validators.ProhibitNullCharactersValidator)


class Column:
    """One import column: how a cell becomes the model field's value (or a ``_Bad``)."""

    def __init__(self, resource_field, model_field, index: int, lookup: PreloadedLookup | None) -> None:
        self.field = resource_field
        self.model_field = model_field
        self.name = resource_field.column_name
        self.attname = model_field.attname
        self.index = index
        self.lookup = lookup
        self.cache: dict[Any, Any] = {}
        mf = model_field
        self.plain_text = (
            lookup is None
            and type(mf) in (models.CharField, models.TextField)
            and not mf.choices
            and type(resource_field.widget) is widgets.Widget  # its clean() returns the cell as it is
            and resource_field.default is NOT_PROVIDED
            and all(isinstance(v, _PLAIN_TEXT_VALIDATORS) for v in mf.validators)
        )
        self.max_length = mf.max_length if isinstance(mf, models.CharField) else None

    def convert(self, raw):
        """The value for the model, ``KEEP``, or a ``_Bad``."""
        if (
            self.plain_text
            and raw.__class__ is str
            and (raw or self.model_field.blank)
            and (self.max_length is None or len(raw) <= self.max_length)
            and "\x00" not in raw
        ):
            return raw
        key = raw if raw.__class__ is str else (raw.__class__, raw)
        try:
            return self.cache[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable cell: not remembered
            return self._convert(raw)
        value = self._convert(raw)
        if len(self.cache) < MEMO_SIZE:
            self.cache[key] = value
        return value

    def _convert(self, raw):
        field, model_field = self.field, self.model_field
        try:
            value = self.lookup.clean(raw) if self.lookup is not None else field.clean({field.column_name: raw})
        except ValueError as error:
            return _Bad([force_str(error)])
        if value is None and not field.saves_null_values:
            return KEEP
        if self.lookup is not None:
            if value is None:
                if not model_field.null:
                    return _Bad([str(model_field.error_messages["null"])])
                if not model_field.blank:
                    return _Bad([str(model_field.error_messages["blank"])])
            return value
        if model_field.blank and value in model_field.empty_values:
            return value
        try:
            return model_field.clean(value, None)
        except ValidationError as error:
            return _Bad(list(error.messages))


# Uniqueness -------------------------------------------------------------------------------------


def _simple_condition(condition) -> Callable[[dict], bool] | None:
    """``Q(field=value)`` / ``~Q(…)`` / ANDs of them as a test of a row's values; None if more complex."""
    if condition is None:
        return lambda values: True
    if not isinstance(condition, Q) or condition.connector != Q.AND:
        return None
    tests = []
    for child in condition.children:
        if isinstance(child, Q):
            test = _simple_condition(child)
        elif isinstance(child, tuple) and len(child) == 2:
            name, expected = child
            name = name.removesuffix("__exact")
            if "__" in name:
                return None
            test = lambda values, name=name, expected=expected: values.get(name) == expected  # noqa: E731
        else:
            return None
        if test is None:
            return None
        tests.append(test)
    if condition.negated:
        return lambda values: not all(test(values) for test in tests)
    return lambda values: all(test(values) for test in tests)


@dataclass
class UniqueRule:
    attribute: str
    condition: Any  # a Q or None
    test: Callable[[dict], bool]
    message: str  # for a value another stored record holds
    blank_exempt: bool


def unique_rules(model) -> list[UniqueRule]:
    """Every single-field uniqueness rule of ``model`` that can be checked from the values (others: the database)."""
    label = model._meta.verbose_name.capitalize()
    rules = []
    for f in model._meta.concrete_fields:
        if f.unique and not f.primary_key:
            message = f"{label} with this {f.verbose_name} already exists."
            rules.append(UniqueRule(f.name, None, lambda values: True, message, False))
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or len(constraint.fields) != 1:
            continue
        test = _simple_condition(constraint.condition)
        if test is None:
            continue
        name = constraint.fields[0]
        f = model._meta.get_field(name)
        # ``~Q(barcode="")``: the rule only exempts blank values; reported as the field's own uniqueness.
        blank_exempt = constraint.condition is not None and constraint.condition == ~Q(**{name: ""})
        if constraint.condition is None or blank_exempt:
            message = f"{label} with this {f.verbose_name} already exists."
        else:
            message = str(constraint.get_violation_error_message())
        rules.append(UniqueRule(name, constraint.condition, test, message, blank_exempt))
    return rules


def unique_attributes(model) -> list[tuple[str, bool]]:
    """(field name, blank values exempt) of every single-field uniqueness rule of ``model``."""
    return [(rule.attribute, rule.blank_exempt) for rule in unique_rules(model)]


# The plan ---------------------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What a validation found and what the import writes: typed values, guards, counts, errors."""

    resource: str
    model: str
    user_id: Any
    row_count: int
    fields: list[str]  # attnames, the order of the values in new_rows / update_rows
    columns: list[str]  # their column names
    key_fields: list[str]  # attnames of the import key
    new_rows: list[tuple] = field(default_factory=list)
    new_numbers: list[int] = field(default_factory=list)
    update_pks: list[Any] = field(default_factory=list)
    update_rows: list[tuple] = field(default_factory=list)
    update_numbers: list[int] = field(default_factory=list)
    update_fields: list[str] = field(default_factory=list)  # attnames changed in at least one updated row
    guard: str = ""  # "updated_at" when the model has it (then also checked, in ``guard_times``)
    guards: list[Any] = field(default_factory=list)  # per updated row: the stored values of ``fields`` compared
    guard_times: list[Any] = field(default_factory=list)
    unchanged: int = 0
    preview_kinds: dict[int, str] = field(default_factory=dict)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason); row 0: the file
    # What the preview shows without the file: its header, first rows (as text) and reading notes.
    headers: list[str] = field(default_factory=list)
    first_rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    version: int = PLAN_VERSION
    # Set once written (not stored): primary keys of the new rows, in ``new_rows`` order.
    created_pks: list[Any] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_rows(self) -> int:
        return len({row for row, _column, _reason in self.errors})

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.resource}:{self.model}:{self.row_count}".encode()).hexdigest()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["created_pks"] = []
        return state


# Validation -------------------------------------------------------------------------------------


class BulkImport:
    """One bulk run of ``resource`` over ``sheet`` by ``user``."""

    def __init__(self, resource, sheet, user, progress: Progress | None = None) -> None:
        self.resource = resource
        self.sheet = sheet
        self.user = user
        self.model = resource._meta.model
        self.progress = progress or _no_progress
        self.resource_path = f"{type(resource).__module__}.{type(resource).__qualname__}"

    def run(self, *, dry_run: bool) -> Result:
        """Validate, and (unless ``dry_run`` or any error) write: an import-export ``Result`` (compatibility)."""
        plan = self.validate()
        if not dry_run and plan.ok:
            from backoffice.bulk_writes import write_plan  # the writer builds on this module

            write_plan(plan, self.resource, self.user, progress=self.progress, fresh=True)
        return plan_result(plan, self.sheet)

    # ---------------------------------------------------------------------------------------------

    def validate(self) -> ImportPlan:
        resource, model, sheet = self.resource, self.model, self.sheet
        headers = [force_str(h).strip() if h is not None else "" for h in sheet.headers]
        total = len(sheet.rows)
        opts = model._meta
        plan = ImportPlan(
            resource=self.resource_path,
            model=opts.label,
            user_id=getattr(self.user, "pk", None),
            row_count=total,
            fields=[],
            columns=[],
            key_fields=[],
            headers=list(sheet.headers),
            first_rows=[["" if v is None else str(v) for v in row] for row in sheet.rows[:PREVIEW_ROWS]],
            notes=list(getattr(sheet, "notes", []) or []),
        )
        try:
            resource.before_import(tablib.Dataset(headers=headers), user=self.user)
        except ValueError as error:
            plan.errors.append((0, "", force_str(error)))
            return plan
        rows = sheet.rows
        errors: dict[int, dict[str, list[str]]] = {}
        if self._own_row_hook():
            rows = self._hooked_rows(headers, errors)

        # The columns, in the resource's order; the key columns first among them.
        names = {f.name for f in opts.concrete_fields}
        key_names = list(resource.get_import_id_fields())
        key_columns = [resource.fields[name] for name in key_names]
        candidates = [
            f
            for f in resource.get_import_fields()
            if f.attribute and not f.readonly and f.column_name in headers and f.attribute in names
        ]
        missing_keys = [f.column_name for f in key_columns if f.column_name not in headers]
        if missing_keys:
            plan.errors.append((0, "", f"Missing column(s): {', '.join(missing_keys)}."))
            return plan
        ordered = key_columns + [f for f in candidates if f not in key_columns]
        blank_text = resource.blank_text_columns() if hasattr(resource, "blank_text_columns") else set()
        columns: list[Column] = []
        for resource_field in ordered:
            index = headers.index(resource_field.column_name)
            lookup = None
            widget = resource_field.widget
            if getattr(widget, "model", None) is not None and hasattr(widget, "field"):
                keys = {force_str(row[index]).strip() for row in rows if row[index] not in (None, "")}
                lookup = PreloadedLookup(widget, keys)
            columns.append(Column(resource_field, opts.get_field(resource_field.attribute), index, lookup))
        # Fields a new record's rules may set though the file lacks their column (a customer's credit limit).
        present = {c.field.attribute for c in columns}
        for name in getattr(resource, "new_record_fields", ()):
            if name not in present:
                resource_field = next(f for f in resource.fields.values() if f.attribute == name)
                columns.append(Column(resource_field, opts.get_field(name), -1, None))
        plan.fields = [c.attname for c in columns]
        plan.columns = [c.name for c in columns]
        key_count = len(key_columns)
        plan.key_fields = plan.fields[:key_count]
        blank_text_indexes = {c.index for c in columns if c.name in blank_text}
        guard = "updated_at" if any(f.name == "updated_at" for f in opts.concrete_fields) else ""
        plan.guard = guard

        first_by_key: dict[tuple, int] = {}
        key_labels = [c.name for c in columns[:key_count]]
        key_indexes = [c.index for c in columns[:key_count]]
        defaults = self._defaults(columns)
        own_clean = model.clean is not models.Model.clean
        protected = dict(getattr(resource, "protected_fields", {}) or {})
        protected = {name: perm for name, perm in protected.items() if name in {c.field.attribute for c in columns}}
        new_values_hook = getattr(resource, "new_record_values", None)
        changed_fields: set[int] = set()
        existing_attnames = ["pk", *plan.fields]
        width = len(columns)
        may_keep = any(not c.field.saves_null_values or c.index < 0 for c in columns)
        guards_done = 0

        for start in range(0, total, ROW_BATCH):
            batch = rows[start : start + ROW_BATCH]
            # Duplicate keys in the file (as StrictImportMixin words them), by the text of the key cells.
            for offset, row in enumerate(batch):
                number = start + offset + 1
                if key_count == 1:
                    cell = row[key_indexes[0]]
                    text = "" if cell is None else (cell if cell.__class__ is str else force_str(cell))
                    folded = (text.strip().lower(),)
                else:
                    folded = tuple(force_str(row[i]).strip().lower() if row[i] is not None else "" for i in key_indexes)
                if not any(folded):
                    continue
                first = first_by_key.get(folded)
                if first is None:
                    first_by_key[folded] = number
                else:
                    shown = " + ".join(f"{label} '{row[i]}'" for label, i in zip(key_labels, key_indexes, strict=True))
                    errors.setdefault(number, {}).setdefault(key_labels[-1], []).append(
                        f"{shown} appears more than once in the file (first in row {self._line(first)})."
                    )
            # Every cell of the batch, column by column.
            values_by_column = []
            for column in columns:
                i = column.index
                convert = column.convert
                if i < 0:
                    cells = [KEEP] * len(batch)
                elif i in blank_text_indexes:
                    cells = [
                        convert("" if (v := row[i]) is None else (v.strip() if v.__class__ is str else v))
                        for row in batch
                    ]
                else:
                    cells = [convert(v.strip() if (v := row[i]).__class__ is str else v) for row in batch]
                for offset, value in enumerate(cells):
                    if value.__class__ is _Bad:
                        errors.setdefault(start + offset + 1, {}).setdefault(column.name, []).extend(value.messages)
                values_by_column.append(cells)
            batch_rows = list(zip(*values_by_column, strict=True)) if values_by_column else [() for _ in batch]
            del values_by_column
            # The stored records of the batch, by key (one query per batch).
            keys = {
                row[:key_count]
                for offset, row in enumerate(batch_rows)
                if start + offset + 1 not in errors or not self._key_bad(errors[start + offset + 1], key_labels)
            }
            existing = self._existing(keys, key_count, existing_attnames)
            for offset, values in enumerate(batch_rows):
                number = start + offset + 1
                row_errors = errors.get(number)
                if row_errors is not None and self._key_bad(row_errors, key_labels):
                    continue
                stored = existing.get(values[:key_count])
                if stored is None:
                    kind = NEW
                    if may_keep and KEEP in values:
                        values = tuple(defaults[i] if v is KEEP else v for i, v in enumerate(values))
                    changed = None
                else:
                    old = stored[1 : width + 1]
                    if values == old:
                        kind = SKIP_KIND
                        changed = ()
                    else:
                        changed = [
                            i
                            for i, (v, o) in enumerate(zip(values, old, strict=True))
                            if v is not KEEP and v.__class__ is not _Bad and v != o
                        ]
                        if may_keep and KEEP in values:
                            values = tuple(old[i] if v is KEEP else v for i, v in enumerate(values))
                        kind = UPDATE if changed else SKIP_KIND
                if row_errors is None and kind != SKIP_KIND and (own_clean or protected or new_values_hook):
                    values = self._row_checks(
                        number, values, stored, columns, own_clean, protected, new_values_hook, errors
                    )
                    if stored is not None and number not in errors:
                        old = stored[1 : width + 1]
                        changed = [i for i, (v, o) in enumerate(zip(values, old, strict=True)) if v != o]
                        kind = UPDATE if changed else SKIP_KIND
                if number in errors:
                    continue
                if kind == NEW:
                    plan.new_rows.append(values)
                    plan.new_numbers.append(number)
                elif kind == UPDATE:
                    plan.update_rows.append(values)
                    plan.update_numbers.append(number)
                    plan.update_pks.append(stored[0])
                    plan.guards.append(stored[1 : width + 1])
                    changed_fields.update(changed)
                else:
                    plan.unchanged += 1
                if number <= PREVIEW_ROWS:
                    plan.preview_kinds[number] = kind
            del batch_rows, existing
            if guard and len(plan.guards) > guards_done:  # the changed rows' updated_at: one query per batch
                pks = plan.update_pks[guards_done:]
                found = dict(
                    filter_in(model._default_manager.all(), opts.pk.name, pks).values_list("pk", guard).order_by()
                )
                plan.guard_times.extend(found.get(pk) for pk in pks)
            guards_done = len(plan.guards)
            self.progress(min(start + ROW_BATCH, total), total)

        plan.update_fields = [plan.fields[i] for i in sorted(changed_fields)]
        self._check_unique(plan, columns, errors)
        if errors:
            for number, row_errors in sorted(errors.items()):
                for column, messages in row_errors.items():
                    label = "" if column == NON_FIELD_ERRORS else column
                    plan.errors.extend((number, label, str(message)) for message in messages)
                if number <= PREVIEW_ROWS:
                    plan.preview_kinds[number] = INVALID
            plan.errors.sort(key=lambda e: (e[0], e[1]))
            bad = set(errors)
            if bad:
                self._drop_rows(plan, bad)
        return plan

    # Helpers of the validation ---------------------------------------------------------------------

    def _line(self, number: int) -> int:
        """Data row ``number`` (from 1) as a message names it: the spreadsheet's row (header = 1)."""
        return number + self.sheet.first_row - 1

    @staticmethod
    def _key_bad(row_errors: dict, key_labels: list[str]) -> bool:
        return any(label in row_errors for label in key_labels)

    def _own_row_hook(self) -> bool:
        """Whether the resource changes rows itself before they are read (a ``before_import_row`` of its own)."""
        from inventory.resources import StrictImportMixin

        for klass in type(self.resource).__mro__:
            if klass is StrictImportMixin or klass.__module__.startswith("import_export"):
                return False
            if "before_import_row" in vars(klass):
                return True
        return False

    def _hooked_rows(self, headers: list[str], errors: dict) -> list[list]:
        """The rows after the resource's ``before_import_row`` (upper-cased codes, empty → NULL …)."""
        hooked = []
        for number, values in enumerate(self.sheet.rows, 1):
            row = dict(zip(headers, values, strict=False))
            try:
                self.resource.before_import_row(row, row_number=None)
            except ValidationError as error:
                for column, messages in error.update_error_dict({}).items():
                    errors.setdefault(number, {}).setdefault(column, []).extend(str(m) for m in messages)
            hooked.append([row.get(h) for h in headers])
        return hooked

    def _defaults(self, columns: list[Column]) -> list[Any]:
        defaults = []
        for column in columns:
            f = column.model_field
            defaults.append(f.get_default() if f.has_default() or f.null else ("" if f.empty_strings_allowed else None))
        return defaults

    def _existing(self, keys: set[tuple], key_count: int, attnames: list[str]) -> dict[tuple, tuple]:
        """Stored records with one of ``keys``: key → (pk, values of the plan's fields…, guard)."""
        if not keys:
            return {}
        queryset = self.model._default_manager.all()
        key_attnames = attnames[1 : key_count + 1]
        distinct = [sorted({key[i] for key in keys}, key=str) for i in range(key_count)]
        widest = max(range(key_count), key=lambda i: len(distinct[i]))
        found = {}
        for chunk in _chunks(distinct[widest]):
            chosen = filter_in(queryset, key_attnames[widest], chunk)
            for i in range(key_count):
                if i != widest:
                    chosen = filter_in(chosen, key_attnames[i], distinct[i])
            for stored in chosen.values_list(*attnames).order_by():
                key = stored[1 : key_count + 1]
                if key in keys:
                    found[key] = stored
        return found

    def _row_checks(self, number, values, stored, columns, own_clean, protected, new_values_hook, errors):
        """The checks that need the whole row: new-record rules, protected fields, the model's ``clean()``."""
        model = self.model
        by_attname = dict(zip((c.attname for c in columns), values, strict=True))
        by_name = {c.field.attribute: by_attname[c.attname] for c in columns}
        row_errors: dict[str, list[str]] = {}
        if stored is None and new_values_hook is not None:
            updated = new_values_hook({name: by_name[name] for name in protected if name in by_name} or {})
            for name, value in updated.items():
                if name in by_name:
                    by_name[name] = value
                    by_attname[model._meta.get_field(name).attname] = value
        if protected:
            current = None
            if stored is not None:
                current = model(**dict(zip((c.attname for c in columns), stored[1 : len(columns) + 1], strict=True)))
            check = {name: by_name[name] for name in protected}
            try:
                self.resource.check_field_rights(current=current, values=check)
            except FieldChangeRefused as refused:
                columns_by_name = {c.field.attribute: c.name for c in columns}
                for name in refused.fields:
                    column = columns_by_name[name]
                    if current is None:
                        reason = f"Only a Manager or Admin may set {column}: leave it empty for a new record."
                    else:
                        shown = _shown(self.resource, name, current)
                        reason = f"Only a Manager or Admin may change {column} (it is {shown})."
                    row_errors.setdefault(column, []).append(reason)
        if own_clean:
            instance = model(**by_attname)
            if stored is not None:
                instance.pk = stored[0]
                instance._state.adding = False
            try:
                instance.clean()
            except ValidationError as error:
                names = {c.field.attribute: c.name for c in columns}
                for attribute, messages in error.update_error_dict({}).items():
                    key = attribute if attribute == NON_FIELD_ERRORS else names.get(attribute, attribute)
                    row_errors.setdefault(key, []).extend(str(m) for m in messages)
            for column in columns:
                by_attname[column.attname] = getattr(instance, column.attname)
        if row_errors:
            target = errors.setdefault(number, {})
            for key, messages in row_errors.items():
                target.setdefault(key, []).extend(messages)
        return tuple(by_attname[c.attname] for c in columns)

    def _check_unique(self, plan: ImportPlan, columns: list[Column], errors) -> None:
        """Unique fields: no two rows of the file, nor a row and another stored record, share a value."""
        by_attribute = {c.field.attribute: i for i, c in enumerate(columns)}
        names = [c.field.attribute for c in columns]
        entries = [(n, None, row, True) for n, row in zip(plan.new_numbers, plan.new_rows, strict=True)]
        entries += [
            (n, pk, row, True)
            for n, pk, row in zip(plan.update_numbers, plan.update_pks, plan.update_rows, strict=True)
        ]
        for rule in unique_rules(self.model):
            index = by_attribute.get(rule.attribute)
            if index is None or index < len(plan.key_fields) and len(plan.key_fields) == 1:
                continue  # not in the file, or the key itself (checked as duplicate keys)
            column = columns[index].name
            label = self.model._meta.get_field(rule.attribute).verbose_name
            needs_test = rule.condition is not None and not rule.blank_exempt
            first: dict[Any, int] = {}
            values: dict[Any, list[tuple[int, Any]]] = {}
            for number, pk, row, _changing in sorted(entries, key=lambda e: e[0]):
                value = row[index]
                if value is None or (rule.blank_exempt and value == ""):
                    continue
                if needs_test and not rule.test(dict(zip(names, row, strict=True))):
                    continue
                if value in first:
                    message = (
                        f"{label} '{value}' appears more than once in the file "
                        f"(first in row {self._line(first[value])})."
                        if rule.condition is None or rule.blank_exempt
                        else f"{rule.message} (row {self._line(first[value])} of the file)"
                    )
                    errors.setdefault(number, {}).setdefault(column, []).append(message)
                    continue
                first[value] = number
                values.setdefault(value, []).append((number, pk))
            for number, _pk in stored_conflicts(self.model, rule, columns[index].attname, values):
                errors.setdefault(number, {}).setdefault(column, []).append(rule.message)

    @staticmethod
    def _drop_rows(plan: ImportPlan, bad: set[int]) -> None:
        keep = [i for i, n in enumerate(plan.new_numbers) if n not in bad]
        plan.new_rows = [plan.new_rows[i] for i in keep]
        plan.new_numbers = [plan.new_numbers[i] for i in keep]
        keep = [i for i, n in enumerate(plan.update_numbers) if n not in bad]
        for name in ("update_rows", "update_numbers", "update_pks", "guards", "guard_times"):
            values = getattr(plan, name)
            if values:
                setattr(plan, name, [values[i] for i in keep])


def stored_conflicts(model, rule: UniqueRule, attname: str, values: dict[Any, list[tuple[int, Any]]]):
    """(row number, pk) of the rows whose value another stored record holds (one query per chunk of values)."""
    manager = model._default_manager
    for chunk in _chunks(list(values)):
        queryset = filter_in(manager.all(), attname, chunk)
        if rule.condition is not None and not rule.blank_exempt:
            queryset = queryset.filter(rule.condition)
        for pk, value in queryset.values_list("pk", attname).order_by():
            for number, own_pk in values.get(value, []):
                if own_pk != pk:
                    yield number, own_pk


# The Result the admin and the commands read ----------------------------------------------------------


class PlanResult(Result):
    """An import-export ``Result`` of a plan: totals and invalid rows now, the row results only when asked."""

    def __init__(self, plan: ImportPlan, sheet=None) -> None:
        super().__init__()
        self.plan = plan
        self._rows = None
        self._model = None

    def row_errors(self):
        return []  # the bulk path reports every problem as an invalid row or a base error

    @property
    def rows(self):
        if self._rows is None:
            self._rows = list(self._row_results())
        return self._rows

    @rows.setter
    def rows(self, value):
        self._rows = value if value else None

    def _row_results(self):
        from django.apps import apps

        plan = self.plan
        model = apps.get_model(plan.model)
        kinds: dict[int, tuple[str, int]] = {}
        for i, number in enumerate(plan.new_numbers):
            kinds[number] = (NEW, i)
        for i, number in enumerate(plan.update_numbers):
            kinds[number] = (UPDATE, i)
        invalid = {row.number for row in self.invalid_rows}
        for number in range(1, plan.row_count + 1):
            if number in invalid:
                continue
            row = RowResult()
            row.number = number
            kind, index = kinds.get(number, (SKIP_KIND, -1))
            row.import_type = kind
            if kind == NEW:
                row.instance = model(**dict(zip(plan.fields, plan.new_rows[index], strict=True)))
                if index < len(plan.created_pks):
                    row.instance.pk = plan.created_pks[index]
            elif kind == UPDATE:
                row.instance = model(
                    pk=plan.update_pks[index], **dict(zip(plan.fields, plan.update_rows[index], strict=True))
                )
            if row.instance is not None and row.instance.pk is not None:
                row.object_id = row.instance.pk
                row.object_repr = force_str(row.instance)
            yield row


def plan_result(plan: ImportPlan, sheet) -> PlanResult:
    result = PlanResult(plan, sheet)
    # The plan keeps the file's header: a plan written without reading the file again has the same result.
    headers = [force_str(h).strip() if h is not None else "" for h in plan.headers]
    result.diff_headers = list(headers)
    by_row: dict[int, dict[str, list[str]]] = {}
    for number, column, reason in plan.errors:
        if number == 0:
            result.append_base_error(Error(reason))
            continue
        by_row.setdefault(number, {}).setdefault(column or NON_FIELD_ERRORS, []).append(reason)
    for number, row_errors in sorted(by_row.items()):
        values = ()
        if sheet is not None and 0 < number <= len(sheet.rows):
            values = tuple(sheet.rows[number - 1])
        result.invalid_rows.append(
            InvalidRow(number=number, validation_error=ValidationError(row_errors), values=values)
        )
    result.totals[NEW] = len(plan.new_rows)
    result.totals[UPDATE] = len(plan.update_rows)
    result.totals[SKIP_KIND] = plan.unchanged
    result.totals[INVALID] = len(by_row)
    result.total_rows = plan.row_count
    return result
