"""Spreadsheet import/export (CSV, XLSX) for the catalogue, suppliers and reorder settings.

Records are matched by natural keys (product SKU, category name, warehouse and
supplier codes), never by database ids. Imports are strict: a missing or
unknown column stops the whole file; a bad number, an unknown category or a key
repeated within the file marks the row invalid with its column and reason, and
the admin writes nothing while any row is invalid. Rows are saved one at a time
(no bulk mode) so simple-history records who imported what — except for a
resource with ``bulk_import = True`` (products), which the engine validates and
writes in bulk, with history, through ``backoffice.bulk_import``; an updated row
saves only the columns present in the file, so counters maintained elsewhere
(on-hand, allocated, average cost) are never overwritten.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import CharField, TextField
from django.utils.encoding import force_str
from import_export import fields, resources, widgets

from backoffice.field_rights import ProtectedFieldsResourceMixin
from inventory.models import Category, Product, StockLevel, StockMovement, Supplier, SupplierProduct, Warehouse
from inventory.services import SUPPLIER_PROTECTED_FIELDS


class NumberWidget(widgets.DecimalWidget):
    """A decimal number; anything else is a row error naming the bad value."""

    def clean(self, value, row=None, **kwargs):
        if self.is_empty(value):
            return None
        try:
            number = Decimal(force_str(value).strip().replace(",", ""))
        except (InvalidOperation, ValueError):
            raise ValueError(f"'{value}' is not a number.") from None
        if not number.is_finite():
            raise ValueError(f"'{value}' is not a number.")
        return number


class WholeNumberWidget(widgets.IntegerWidget):
    """A whole number (quantities are integers in the product's unit)."""

    def clean(self, value, row=None, **kwargs):
        number = NumberWidget().clean(value)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise ValueError(f"'{value}' is not a whole number.")
        return int(number)


class YesNoWidget(widgets.BooleanWidget):
    """yes/no, true/false or 1/0 (any case); anything else is an error."""

    TRUE = {"1", "true", "yes", "y"}
    FALSE = {"0", "false", "no", "n"}

    def clean(self, value, row=None, **kwargs):
        if value is None or force_str(value).strip() == "":
            return None
        text = force_str(value).strip().lower()
        if isinstance(value, bool):
            return value
        if text in self.TRUE or text == "1.0":
            return True
        if text in self.FALSE or text == "0.0":
            return False
        raise ValueError(f"'{value}' is not yes/no.")

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return "yes" if value else "no"


class LookupWidget(widgets.ForeignKeyWidget):
    """A related record found by a natural key; an unknown key is a row error (nothing is created)."""

    def clean(self, value, row=None, **kwargs):
        if value is None or force_str(value).strip() == "":
            return None
        key = force_str(value).strip()
        try:
            return self.get_queryset(key, row, **kwargs).get(**{self.field: key})
        except self.model.DoesNotExist:
            name = self.model._meta.verbose_name
            raise ValueError(f"No {name} with {self.model._meta.get_field(self.field).verbose_name} '{key}'.") from None


# Readable column headers (templates, exports) where "sale_price" → "Sale price" is not enough.
COLUMN_LABELS = {
    "sku": "SKU",
    "supplier_sku": "Supplier SKU",
    "is_active": "Active",
    "tax_id": "Tax ID",
    "tax_rate": "Tax rate (%)",
    "lead_time_days": "Lead time (days)",
    "bank_account": "Bank account (IBAN)",
}


def header_key(text) -> str:
    """A header as compared on import: case, spaces, ``_`` and ``-`` do not matter ("Sale price" = "sale_price")."""
    return " ".join(force_str(text).replace("_", " ").replace("-", " ").split()).casefold()


class ReadableHeadersMixin:
    """Readable column headers ("Sale price", ``COLUMN_LABELS``) for templates and exports (``column_label``)."""

    def column_label(self, column_name: str) -> str:
        """The readable header of a column ("Sale price"), as templates and exports write it."""
        return COLUMN_LABELS.get(column_name) or column_name.replace("_", " ").capitalize()


class StrictImportMixin(ReadableHeadersMixin):
    """Column checks, duplicate keys, errors reported by column, partial saves.

    ``required_columns`` must be in the file; a column the resource does not
    know is refused (a misspelled header would otherwise be silently ignored).
    ``import_example`` is the example row of the downloadable import template.
    """

    required_columns: tuple[str, ...] = ()
    import_example: dict[str, str] = {}
    # Until ``before_import`` accepts the headers: rows of a refused file are still read, and must not crash.
    _duplicates: dict[int, int] = {}

    def known_columns(self) -> set[str]:
        return {field.column_name for field in self.fields.values()}

    def canonical_headers(self, headers: list) -> list:
        """``headers`` as the resource's column names: a column's readable header or its name, in any case, is
        accepted ("Sale price", "SALE PRICE", "sale_price"); other headers are left as they are (reported)."""
        known: dict[str, str] = {}
        for field in self.fields.values():
            name = field.column_name
            for alias in (name, self.column_label(name)):
                known.setdefault(header_key(alias), name)
        return [known.get(header_key(h), h) if h is not None else h for h in headers]

    def key_columns(self) -> list[str]:
        return [self.fields[name].column_name for name in self.get_import_id_fields()]

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        headers = [force_str(h).strip() if h is not None else "" for h in (dataset.headers or [])]
        if dataset.headers:
            dataset.headers = headers
        expected = ", ".join(self.template_columns())
        missing = [c for c in self.required_columns if c not in headers]
        if missing:
            semicolons = any(";" in h for h in headers)
            hint = (
                " The columns seem to be separated by ';': save the file as comma-separated CSV." if semicolons else ""
            )
            raise ValueError(
                f"Missing column(s): {', '.join(missing)}. The file must have the columns: {expected}.{hint}"
            )
        unknown = [h for h in headers if h and h not in self.known_columns()]
        if unknown:
            raise ValueError(f"Unknown column(s): {', '.join(unknown)}. The columns are: {expected}.")
        self._columns = set(headers)
        self._duplicates = self._find_duplicates(dataset, headers)

    def get_user_visible_fields(self):
        """Columns listed on the import page: the importable ones (not export-only counters)."""
        return [field for field in super().get_user_visible_fields() if not field.readonly]

    def template_columns(self) -> list[str]:
        return [field.column_name for field in self.get_import_fields() if not field.readonly]

    def _find_duplicates(self, dataset, headers) -> dict[int, int]:
        """Row number -> number of the first row with the same key."""
        keys = self.key_columns()
        if not all(k in headers for k in keys):
            return {}
        positions = [headers.index(k) for k in keys]
        first: dict[tuple, int] = {}
        duplicates = {}
        for number, values in enumerate(dataset, 1):
            key = tuple(force_str(values[p]).strip().lower() for p in positions)
            if not any(key):
                continue
            if key in first:
                duplicates[number] = first[key]
            else:
                first[key] = number
        return duplicates

    def blank_text_columns(self) -> set[str]:
        """Columns of text fields that hold "" rather than NULL (an empty XLSX cell reads as None)."""
        model = self._meta.model
        names = {f.name for f in model._meta.concrete_fields if isinstance(f, CharField | TextField) and not f.null}
        return {field.column_name for field in self.fields.values() if field.attribute in names}

    def before_import_row(self, row, row_number=None, **kwargs):
        if not hasattr(self, "_blank_text"):
            self._blank_text = self.blank_text_columns()
        blank_text = self._blank_text
        for column, value in row.items():
            if isinstance(value, str):
                row[column] = value.strip()
            elif value is None and column in blank_text:
                row[column] = ""
        if row_number in self._duplicates:
            keys = self.key_columns()
            shown = " + ".join(f"{c} '{row.get(c)}'" for c in keys)
            raise ValidationError(
                {
                    keys[-1]: [
                        f"{shown} appears more than once in the file "
                        f"(first in row {self._duplicates[row_number] + 1})."  # the spreadsheet's row (header = 1)
                    ]
                }
            )
        super().before_import_row(row, row_number=row_number, **kwargs)

    def get_instance(self, instance_loader, row):
        errors = {}
        for name in self.get_import_id_fields():
            field = self.fields[name]
            try:
                field.clean(row)
            except ValueError as error:
                errors[field.column_name] = [str(error)]
        if errors:
            raise ValidationError(errors)
        return super().get_instance(instance_loader, row)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        try:
            super().validate_instance(instance, import_validation_errors, validate_unique)
        except ValidationError as error:
            raise ValidationError(self._errors_by_column(error.message_dict)) from None

    def _errors_by_column(self, errors: dict[str, list[str]]) -> dict[str, list[str]]:
        columns = {field.attribute: field.column_name for field in self.fields.values() if field.attribute}
        result: dict[str, list[str]] = defaultdict(list)
        for attribute, messages in errors.items():
            key = attribute if attribute == NON_FIELD_ERRORS else columns.get(attribute, attribute)
            result[key].extend(messages)
        return dict(result)

    def do_instance_save(self, instance, is_create):
        if is_create:
            return super().do_instance_save(instance, is_create)
        names = [
            field.attribute
            for field in self.get_import_fields()
            if field.attribute and not field.readonly and field.column_name in self._columns
        ]
        if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
            names.append("updated_at")
        instance.save(update_fields=names)


class CategoryResource(StrictImportMixin, resources.ModelResource):
    """Categories by name; the parent is another category's name (earlier in the file or existing)."""

    name = fields.Field(attribute="name", column_name="name")
    parent = fields.Field(attribute="parent", column_name="parent", widget=LookupWidget(Category, "name"))
    description = fields.Field(attribute="description", column_name="description")

    required_columns = ("name",)
    import_example = {"name": "Example category", "parent": "", "description": "Made-up example row: replace it"}

    class Meta:
        model = Category
        fields = ("name", "parent", "description")
        import_id_fields = ("name",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True


class ProductResource(StrictImportMixin, resources.ModelResource):
    """Products keyed by SKU; the category is given by name and must exist.

    Imported through the bulk path of the engine (``backoffice.bulk_import``): same checks and
    messages, a constant number of queries per batch, bulk writes with history.
    """

    bulk_import = True

    sku = fields.Field(attribute="sku", column_name="sku")
    name = fields.Field(attribute="name", column_name="name")
    category = fields.Field(attribute="category", column_name="category", widget=LookupWidget(Category, "name"))
    unit = fields.Field(attribute="unit", column_name="unit")
    barcode = fields.Field(attribute="barcode", column_name="barcode")
    sale_price = fields.Field(attribute="sale_price", column_name="sale_price", widget=NumberWidget())
    cost = fields.Field(attribute="cost", column_name="cost", widget=NumberWidget())
    tax_rate = fields.Field(attribute="tax_rate", column_name="tax_rate", widget=NumberWidget())
    is_active = fields.Field(attribute="is_active", column_name="is_active", widget=YesNoWidget())
    average_cost = fields.Field(
        attribute="average_cost", column_name="average_cost", widget=NumberWidget(), readonly=True
    )

    required_columns = ("sku", "name")
    import_example = {
        "sku": "EXAMPLE-001",
        "name": "Example product (made up: replace this row)",
        "category": "Example category",
        "unit": "box of 10",
        "barcode": "",
        "sale_price": "18.00",
        "cost": "11.70",
        "tax_rate": "20",
        "is_active": "yes",
    }

    class Meta:
        model = Product
        fields = (
            "sku",
            "name",
            "category",
            "unit",
            "barcode",
            "sale_price",
            "cost",
            "tax_rate",
            "is_active",
            "average_cost",
        )
        import_id_fields = ("sku",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return super().get_queryset().select_related("category")


class WarehouseResource(StrictImportMixin, resources.ModelResource):
    """Warehouses keyed by code (staff are assigned in the admin, not imported)."""

    code = fields.Field(attribute="code", column_name="code")
    name = fields.Field(attribute="name", column_name="name")
    address = fields.Field(attribute="address", column_name="address")
    is_active = fields.Field(attribute="is_active", column_name="is_active", widget=YesNoWidget())

    required_columns = ("code", "name")
    import_example = {
        "code": "EXAMPLE-WH",
        "name": "Example warehouse",
        "address": "1 Example Road",
        "is_active": "yes",
    }

    class Meta:
        model = Warehouse
        fields = ("code", "name", "address", "is_active")
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True


class SupplierResource(ProtectedFieldsResourceMixin, StrictImportMixin, resources.ModelResource):
    """Suppliers keyed by code. The bank account (IBAN) column is exported, and may be changed by an import,
    only for users with ``SUPPLIER_BANK_ACCOUNT_PERM`` (docs/security.md "Encryption at rest").
    Imported through the bulk path (``backoffice.bulk_import``)."""

    bulk_import = True

    protected_fields = sensitive_fields = SUPPLIER_PROTECTED_FIELDS

    code = fields.Field(attribute="code", column_name="code")
    name = fields.Field(attribute="name", column_name="name")
    contact_name = fields.Field(attribute="contact_name", column_name="contact_name")
    email = fields.Field(attribute="email", column_name="email")
    phone = fields.Field(attribute="phone", column_name="phone")
    address = fields.Field(attribute="address", column_name="address")
    country = fields.Field(attribute="country", column_name="country")
    lead_time_days = fields.Field(attribute="lead_time_days", column_name="lead_time_days", widget=WholeNumberWidget())
    bank_account = fields.Field(attribute="bank_account", column_name="bank_account")
    is_active = fields.Field(attribute="is_active", column_name="is_active", widget=YesNoWidget())

    required_columns = ("code", "name")
    import_example = {
        "code": "EXAMPLE-SUP",
        "name": "Example supplier (made up)",
        "contact_name": "Alex Example",
        "email": "orders@supplier.example",
        "phone": "000-000-0000",
        "address": "1 Example Road",
        "country": "UK",
        "lead_time_days": "7",
        "bank_account": "GB82 WEST 1234 5698 7654 32",
        "is_active": "yes",
    }

    class Meta:
        model = Supplier
        fields = (
            "code",
            "name",
            "contact_name",
            "email",
            "phone",
            "address",
            "country",
            "lead_time_days",
            "bank_account",
            "is_active",
        )
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def before_import_row(self, row, row_number=None, **kwargs):
        if isinstance(row.get("bank_account"), str) and not row["bank_account"].strip():
            row["bank_account"] = None  # no IBAN is NULL (as an empty XLSX cell reads), not ""
        super().before_import_row(row, row_number=row_number, **kwargs)


class SupplierProductResource(StrictImportMixin, resources.ModelResource):
    """A supplier's price list: keyed by supplier code + our product SKU (bulk path: ``backoffice.bulk_import``)."""

    bulk_import = True

    supplier = fields.Field(attribute="supplier", column_name="supplier", widget=LookupWidget(Supplier, "code"))
    product = fields.Field(attribute="product", column_name="sku", widget=LookupWidget(Product, "sku"))
    supplier_sku = fields.Field(attribute="supplier_sku", column_name="supplier_sku")
    unit_cost = fields.Field(attribute="unit_cost", column_name="unit_cost", widget=NumberWidget())
    minimum_order_quantity = fields.Field(
        attribute="minimum_order_quantity", column_name="minimum_order_quantity", widget=WholeNumberWidget()
    )
    preferred = fields.Field(attribute="preferred", column_name="preferred", widget=YesNoWidget())

    required_columns = ("supplier", "sku", "unit_cost")
    import_example = {
        "supplier": "EXAMPLE-SUP",
        "sku": "EXAMPLE-001",
        "supplier_sku": "EXAMPLE-SUP-001",
        "unit_cost": "11.70",
        "minimum_order_quantity": "10",
        "preferred": "yes",
    }

    class Meta:
        model = SupplierProduct
        fields = ("supplier", "product", "supplier_sku", "unit_cost", "minimum_order_quantity", "preferred")
        import_id_fields = ("supplier", "product")
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return super().get_queryset().select_related("supplier", "product")


class StockLevelResource(StrictImportMixin, resources.ModelResource):
    """Reorder settings per product SKU + warehouse code.

    On-hand and allocated are exported for reference but never imported: they
    change only through stock movements. Imported through the bulk path (``backoffice.bulk_import``).
    """

    bulk_import = True

    product = fields.Field(attribute="product", column_name="sku", widget=LookupWidget(Product, "sku"))
    warehouse = fields.Field(attribute="warehouse", column_name="warehouse", widget=LookupWidget(Warehouse, "code"))
    reorder_point = fields.Field(attribute="reorder_point", column_name="reorder_point", widget=WholeNumberWidget())
    reorder_quantity = fields.Field(
        attribute="reorder_quantity", column_name="reorder_quantity", widget=WholeNumberWidget()
    )
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand", widget=WholeNumberWidget(), readonly=True)
    allocated = fields.Field(attribute="allocated", column_name="allocated", widget=WholeNumberWidget(), readonly=True)

    required_columns = ("sku", "warehouse")
    import_example = {"sku": "EXAMPLE-001", "warehouse": "EXAMPLE-WH", "reorder_point": "20", "reorder_quantity": "60"}

    class Meta:
        model = StockLevel
        fields = ("product", "warehouse", "reorder_point", "reorder_quantity", "on_hand", "allocated")
        import_id_fields = ("product", "warehouse")
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return super().get_queryset().select_related("product", "warehouse")


class StockMovementResource(ReadableHeadersMixin, resources.ModelResource):
    """Export only: the stock ledger, one row per movement (quantities signed: negative out), readable headers."""

    created_at = fields.Field(attribute="created_at", column_name="created_at", readonly=True)
    kind = fields.Field(attribute="kind", column_name="kind", readonly=True)
    sku = fields.Field(attribute="product__sku", column_name="sku", readonly=True)
    product_name = fields.Field(attribute="product__name", column_name="product_name", readonly=True)
    warehouse = fields.Field(attribute="warehouse__code", column_name="warehouse", readonly=True)
    quantity = fields.Field(attribute="quantity", column_name="quantity", readonly=True)
    balance_after = fields.Field(attribute="balance_after", column_name="balance_after", readonly=True)
    unit_cost = fields.Field(attribute="unit_cost", column_name="unit_cost", readonly=True)
    reference = fields.Field(attribute="reference", column_name="reference", readonly=True)
    note = fields.Field(attribute="note", column_name="note", readonly=True)
    user = fields.Field(attribute="user__username", column_name="user", readonly=True)

    class Meta:
        model = StockMovement
        fields = export_order = (
            "created_at",
            "kind",
            "sku",
            "product_name",
            "warehouse",
            "quantity",
            "balance_after",
            "unit_cost",
            "reference",
            "note",
            "user",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("product", "warehouse", "user")
