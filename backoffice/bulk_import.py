"""The bulk path of the import engine: a resource's file validated and written with a constant number of queries.

``backoffice.imports.ResourceTarget`` runs a resource through here when the
resource class sets ``bulk_import = True`` (``inventory.resources.ProductResource``);
it gives the same answers as django-import-export's row-by-row ``import_data``
(the same ``Result``: row kinds, invalid rows by number and column, totals)
without a query per row:

* the rows are read once; referenced records (``LookupWidget`` columns, e.g. a
  product's category by name) and the existing records (by the import key, e.g.
  sku) are loaded with one query per kind (per 5,000 distinct values);
* each row is parsed by the resource's own fields and widgets and validated
  with the model's field rules (each field's ``clean`` as ``clean_fields`` runs
  it: validators, ``max_length``, decimal places, the bounds of
  ``backoffice.limits``) and the model's ``clean()`` if it has one — not
  ``full_clean()``, whose unique and constraint checks query per row (the check
  constraints mirror the field validators, and the database still enforces
  them); a value repeated in a column (prices, categories, flags) is parsed and
  validated once;
* uniqueness (``unique`` fields, and single-field ``UniqueConstraint`` s, which
  skip blank values like the barcode's) is checked for the whole file: within
  the file, and against the database with one query per field;
* a row whose values equal the stored record is *unchanged* and not written;
* the import writes new rows with ``bulk_create_with_history`` and changed rows
  with ``bulk_update_with_history`` (only the columns that changed in some row,
  plus ``updated_at``: counters maintained elsewhere are never overwritten),
  up to ``BATCH_SIZE`` rows per statement, every history row with the importing
  user — inside the caller's transaction (all or nothing).

A resource qualifies if it has one import key column naming a plain field,
its lookups are ``LookupWidget`` s of other models, and its model's unique
constraints are single-field (blank values exempt).
"""

from __future__ import annotations

from typing import Any

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.encoding import force_str
from import_export.results import Error, Result, RowResult
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

BATCH_SIZE = 1000
LOOKUP_CHUNK = 5000
CHANGE_REASON = "Imported from a spreadsheet"
MEMO_SIZE = 20_000
WRITE_GROUP = 10_000


def supports_bulk(resource_class) -> bool:
    return bool(getattr(resource_class, "bulk_import", False))


def _chunks(values: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


class PreloadedLookup:
    """Stands in for a ``LookupWidget`` during a bulk run: same answers, from a dict loaded at once."""

    def __init__(self, widget, keys: set[str]) -> None:
        self.widget = widget
        self.model = widget.model
        self.found: dict[str, Any] = {}
        for chunk in _chunks(sorted(keys)):
            for obj in self.model._default_manager.filter(**{f"{widget.field}__in": chunk}):
                self.found[getattr(obj, widget.field)] = obj

    def clean(self, value, row=None, **kwargs):
        if value is None or force_str(value).strip() == "":
            return None
        key = force_str(value).strip()
        try:
            return self.found[key]
        except KeyError:
            name = self.model._meta.verbose_name
            field = self.model._meta.get_field(self.widget.field).verbose_name
            raise ValueError(f"No {name} with {field} '{key}'.") from None

    def render(self, value, obj=None, **kwargs):
        return self.widget.render(value, obj, **kwargs)


def unique_attributes(model) -> list[tuple[str, bool]]:
    """(field name, blank values exempt) of every single-field uniqueness rule of ``model``."""
    rules = [(f.name, False) for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and len(constraint.fields) == 1:
            rules.append((constraint.fields[0], constraint.condition is not None))
    return rules


class _Memo:
    """``function(owner, value)`` remembered per owner and value (up to ``MEMO_SIZE`` values per owner)."""

    def __init__(self, function) -> None:
        self.function = function
        self.seen: dict[Any, dict[Any, Any]] = {}

    def __call__(self, owner, value):
        seen = self.seen.setdefault(id(owner), {})
        try:
            key = (value.__class__, value if isinstance(value, str) else str(value))
            return seen[key]
        except KeyError:
            answer = self.function(owner, value)
            if len(seen) < MEMO_SIZE:
                seen[key] = answer
            return answer


class BulkImport:
    """One bulk run of ``resource`` over ``sheet``; ``run()`` returns an import-export ``Result``."""

    def __init__(self, resource, sheet, user) -> None:
        self.resource = resource
        self.sheet = sheet
        self.user = user
        self.model = resource._meta.model
        # Columns that differ from the stored record in at least one updated row: all an update writes.
        self.changed_fields: set[str] = set()

    # Reading -------------------------------------------------------------------------------------

    def _check_columns(self, headers: list[str]) -> None:
        self.resource.before_import(tablib.Dataset(headers=headers))

    def _rows(self, headers: list[str]) -> list[dict[str, Any]]:
        blank_text = self.resource.blank_text_columns()
        rows = []
        for values in self.sheet.rows:
            row = {}
            for column, value in zip(headers, values, strict=False):
                if isinstance(value, str):
                    value = value.strip()
                elif value is None and column in blank_text:
                    value = ""
                row[column] = value
            rows.append(row)
        return rows

    # Running -------------------------------------------------------------------------------------

    def run(self, *, dry_run: bool) -> Result:
        result = Result()
        headers = [force_str(h).strip() if h is not None else "" for h in self.sheet.headers]
        result.diff_headers = list(headers)
        try:
            self._check_columns(headers)
        except ValueError as error:
            result.append_base_error(Error(error))
            return result
        rows = self._rows(headers)
        resource = self.resource
        [key_name] = resource.get_import_id_fields()
        key_field = resource.fields[key_name]
        key_column, key_attr = key_field.column_name, key_field.attribute
        fields = [
            field
            for field in resource.get_import_fields()
            if field.attribute and not field.readonly and field.column_name in headers
        ]
        for field in fields:
            if hasattr(field.widget, "model") and field.widget.model is not None:
                keys = {force_str(row[field.column_name]).strip() for row in rows if row.get(field.column_name)}
                field.widget = PreloadedLookup(field.widget, keys)
        lookups = [field for field in fields if isinstance(field.widget, PreloadedLookup)]
        columns = {field.attribute: field.column_name for field in resource.fields.values() if field.attribute}

        # Keys, duplicates within the file, and the stored records (one query per chunk of keys).
        errors: dict[int, dict[str, list[str]]] = {}
        keys: dict[int, Any] = {}
        first_by_key: dict[str, int] = {}
        for number, row in enumerate(rows, 1):
            folded = force_str(row.get(key_column, "")).strip().lower()
            if folded:
                if folded in first_by_key:
                    errors[number] = {
                        key_column: [
                            f"{key_column} '{row.get(key_column)}' appears more than once in the file "
                            f"(first in row {first_by_key[folded]})."
                        ]
                    }
                    continue
                first_by_key[folded] = number
            try:
                keys[number] = key_field.clean(row)
            except ValueError as error:
                errors[number] = {key_column: [str(error)]}
        existing: dict[Any, models.Model] = {}
        for chunk in _chunks(sorted({k for k in keys.values() if k is not None}, key=str)):
            for obj in resource.get_queryset().filter(**{f"{key_attr}__in": chunk}):
                existing[force_str(getattr(obj, key_attr))] = obj

        # Each row: parse, compare, validate with the model's field rules (no queries).
        # A value seen before in a column is parsed and validated once (prices, categories, flags repeat).
        parse = _Memo(self._parse_value)
        check = _Memo(self._check_value)
        names = {f.name for f in self.model._meta.concrete_fields}
        plan = [
            (field, field.column_name, field.attribute, self.model._meta.get_field(field.attribute).attname)
            for field in fields
            if field.attribute in names
        ]
        lookup_names = {field.attribute for field in lookups}
        checked = [
            f for f in self.model._meta.fields if not f.generated and not f.primary_key and f.name not in lookup_names
        ]
        own_clean = self.model.clean is not models.Model.clean
        kinds: dict[int, str] = {}
        instances: dict[int, models.Model] = {}
        for number, row in enumerate(rows, 1):
            if number in errors:
                continue
            # By text, as the database compares: an XLSX cell may hold the SKU 1001 as a number.
            instance = existing.get(force_str(keys[number])) if keys[number] is not None else None
            new = instance is None
            if new:
                instance = resource.init_instance(row)
            row_errors: dict[str, list[str]] = {}
            changed: set[str] = set()
            for field, column, attribute, attname in plan:
                ok, value = parse(field, row[column])
                if not ok:
                    row_errors[column] = [value]
                    continue
                if value is None and not field.saves_null_values:
                    continue
                if attname != attribute:  # a relation: compare and set the key
                    if new or (value.pk if value is not None else None) != getattr(instance, attname):
                        changed.add(attribute)
                    setattr(instance, attribute, value)
                else:
                    if new or value != getattr(instance, attname):
                        changed.add(attribute)
                    setattr(instance, attname, value)
            if not row_errors and not changed and not new:
                kinds[number] = RowResult.IMPORT_TYPE_SKIP
                instances[number] = instance
                continue
            for field in lookups:  # found in the preloaded records: exists, no query needed
                model_field = self.model._meta.get_field(field.attribute)
                if field.column_name not in row_errors and getattr(instance, model_field.attname) is None:
                    if not model_field.null:
                        row_errors[field.column_name] = [str(model_field.error_messages["null"])]
                    elif not model_field.blank:
                        row_errors[field.column_name] = [str(model_field.error_messages["blank"])]
            for model_field in checked:
                column = columns.get(model_field.name, model_field.name)
                if column in row_errors:
                    continue
                raw = getattr(instance, model_field.attname)
                if model_field.blank and raw in model_field.empty_values:
                    continue
                ok, value = check(model_field, raw)
                if ok:
                    setattr(instance, model_field.attname, value)
                else:
                    row_errors.setdefault(column, []).extend(value)
            if own_clean:
                try:
                    instance.clean()
                except ValidationError as error:
                    for attribute, messages in error.update_error_dict({}).items():
                        key = attribute if attribute == NON_FIELD_ERRORS else columns.get(attribute, attribute)
                        row_errors.setdefault(key, []).extend(str(m) for m in messages)
            if row_errors:
                errors[number] = row_errors
            else:
                kinds[number] = RowResult.IMPORT_TYPE_NEW if new else RowResult.IMPORT_TYPE_UPDATE
                instances[number] = instance
                if not new:
                    self.changed_fields |= changed

        self._check_unique(instances, kinds, errors, columns)

        for number, row in enumerate(rows, 1):
            row_result = RowResult()
            if number in errors:
                row_result.import_type = RowResult.IMPORT_TYPE_INVALID
                row_result.validation_error = ValidationError(errors[number])
                result.append_invalid_row(number, row, row_result.validation_error)
            else:
                row_result.import_type = kinds[number]
                row_result.instance = instances[number]
            result.increment_row_result_total(row_result)
            result.append_row_result(row_result)

        del rows, keys, first_by_key, existing, parse, check  # memory for the history records built next
        if not dry_run and not errors:
            self._write(instances, kinds, fields)
        for row_result in result.rows:
            row_result.add_instance_info(row_result.instance)
        return result

    @staticmethod
    def _parse_value(field, value):
        """(True, the field's value) or (False, why not): the resource's widget, as import-export calls it."""
        try:
            return True, field.clean({field.column_name: value})
        except ValueError as error:
            return False, force_str(error)

    def _check_value(self, model_field, value):
        """(True, the cleaned value) or (False, messages): the model field's own ``clean`` (what full_clean runs)."""
        try:
            return True, model_field.clean(value, None)
        except ValidationError as error:
            return False, list(error.messages)

    def _check_unique(self, instances, kinds, errors, columns) -> None:
        """Unique fields: no two rows of the file, nor a row and another stored record, share a value."""
        changing = {number: obj for number, obj in instances.items() if kinds[number] != RowResult.IMPORT_TYPE_SKIP}
        for attribute, blank_exempt in unique_attributes(self.model):
            column = columns.get(attribute)
            if column is None:
                continue
            label = self.model._meta.get_field(attribute).verbose_name
            first: dict[Any, int] = {}
            values: dict[Any, list[int]] = {}
            for number, obj in instances.items():
                value = getattr(obj, attribute)
                if value is None or (blank_exempt and value == ""):
                    continue
                if value in first:
                    if number in changing:
                        errors.setdefault(number, {}).setdefault(column, []).append(
                            f"{label} '{value}' appears more than once in the file (first in row {first[value]})."
                        )
                    continue
                first[value] = number
                if number in changing:
                    values.setdefault(value, []).append(number)
            # Another stored record holding the value is a conflict, even if the file gives that record
            # another value: the database checks each row as it is written (as the row-by-row import did).
            for chunk in _chunks(list(values)):
                stored = self.model._default_manager.filter(**{f"{attribute}__in": chunk}).values_list("pk", attribute)
                for pk, value in stored:
                    for number in values.get(value, []):
                        obj = instances[number]
                        if pk == obj.pk:
                            continue
                        errors.setdefault(number, {}).setdefault(column, []).append(
                            f"{self.model._meta.verbose_name.capitalize()} with this {label} already exists."
                        )
        for number in errors:
            instances.pop(number, None)

    def _write(self, instances, kinds, fields) -> None:
        created = [obj for n, obj in instances.items() if kinds[n] == RowResult.IMPORT_TYPE_NEW]
        updated = [obj for n, obj in instances.items() if kinds[n] == RowResult.IMPORT_TYPE_UPDATE]
        # In groups of WRITE_GROUP rows: the history records of a group are built, written and freed together.
        for group in _chunks(created, WRITE_GROUP):
            bulk_create_with_history(
                group,
                self.model,
                batch_size=BATCH_SIZE,
                default_user=self.user,
                default_change_reason=CHANGE_REASON,
            )
        if updated:
            names = [field.attribute for field in fields if field.attribute in self.changed_fields]
            if any(f.name == "updated_at" for f in self.model._meta.concrete_fields):
                now = timezone.now()
                for obj in updated:
                    obj.updated_at = now
                names.append("updated_at")
            for group in _chunks(updated, WRITE_GROUP):
                bulk_update_with_history(
                    group,
                    self.model,
                    names,
                    batch_size=BATCH_SIZE,
                    default_user=self.user,
                    default_change_reason=CHANGE_REASON,
                )
