"""Spreadsheet import/export for orders.

* Customers import and export by code (strict columns, all-or-nothing, like the
  inventory resources).
* Sales and purchase orders export one row per line, the order's header
  repeated on each row, so a spreadsheet can pivot on any column.
* Historical orders are imported by ``orders.importing`` (rows grouped by order
  number); the admin upload view is ``orders.views.OrderImportView``.
"""

from __future__ import annotations

from import_export import fields, resources

from backoffice.field_rights import ProtectedFieldsResourceMixin
from inventory.resources import NumberWidget, ReadableHeadersMixin, StrictImportMixin, YesNoWidget
from orders.models import Customer, PurchaseOrderLine, SalesOrderLine
from orders.services.customers import (
    CHANGE_TAX_ID_PERM,
    CUSTOMER_PROTECTED_FIELDS,
    customer_check_field_rights,
    customer_check_new_field_rights,
    customer_new_credit_fields,
)


class CustomerResource(ProtectedFieldsResourceMixin, StrictImportMixin, resources.ModelResource):
    """Customers keyed by code (stored upper-case); an empty credit limit means no limit (a new customer imported
    by a user who may not set credit limits gets 0: ``orders.services.customer_new_credit_fields``).

    Credit limit, tax exemption and VAT number follow ``orders.services.customer_check_field_rights``: a user without
    the permission gets a row error naming the column when a row changes one (a new row may leave them empty), and
    exports without the ``tax_id`` column (docs/security.md).
    """

    protected_fields = CUSTOMER_PROTECTED_FIELDS
    sensitive_fields = {"tax_id": CHANGE_TAX_ID_PERM}
    # Imported through the bulk path (backoffice.bulk_import); a new row's credit limit follows
    # ``new_record_values`` even when the file has no credit_limit column.
    bulk_import = True
    new_record_fields = ("credit_limit",)

    code = fields.Field(attribute="code", column_name="code")
    name = fields.Field(attribute="name", column_name="name")
    contact_name = fields.Field(attribute="contact_name", column_name="contact_name")
    email = fields.Field(attribute="email", column_name="email")
    phone = fields.Field(attribute="phone", column_name="phone")
    billing_address = fields.Field(attribute="billing_address", column_name="billing_address")
    shipping_address = fields.Field(attribute="shipping_address", column_name="shipping_address")
    country = fields.Field(attribute="country", column_name="country")
    credit_limit = fields.Field(attribute="credit_limit", column_name="credit_limit", widget=NumberWidget())
    tax_exempt = fields.Field(attribute="tax_exempt", column_name="tax_exempt", widget=YesNoWidget())
    tax_id = fields.Field(attribute="tax_id", column_name="tax_id")
    is_active = fields.Field(attribute="is_active", column_name="is_active", widget=YesNoWidget())

    required_columns = ("code", "name")
    import_example = {
        "code": "EXAMPLE-CUST",
        "name": "Example customer (made up)",
        "contact_name": "Sam Example",
        "email": "orders@customer.example",
        "phone": "000-000-0000",
        "billing_address": "1 Example Road",
        "shipping_address": "1 Example Road",
        "country": "Germany",
        "credit_limit": "5000.00",
        "tax_exempt": "no",
        "tax_id": "DE123456789",
        "is_active": "yes",
    }

    class Meta:
        model = Customer
        fields = (
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
            "tax_id",
            "is_active",
        )
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def check_field_rights(self, *, current, values) -> None:
        if current is None:
            customer_check_new_field_rights(user=self.user, fields=values)
        else:
            customer_check_field_rights(user=self.user, customer=current, fields=values)

    def new_record_values(self, values: dict) -> dict:
        """A new customer's protected values as the bulk engine writes them (see ``validate_instance``)."""
        return customer_new_credit_fields(user=self.user, fields=values)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        if not instance.pk:  # a new customer: no credit (0) unless the user may set a limit
            values = customer_new_credit_fields(user=self.user, fields={"credit_limit": instance.credit_limit})
            instance.credit_limit = values["credit_limit"]
        super().validate_instance(instance, import_validation_errors, validate_unique)

    def before_import_row(self, row, row_number=None, **kwargs):
        if isinstance(row.get("code"), str):
            row["code"] = row["code"].strip().upper()
        if isinstance(row.get("tax_id"), str) and not row["tax_id"].strip():
            row["tax_id"] = None  # no VAT number is NULL (as an empty XLSX cell reads), not ""
        super().before_import_row(row, row_number=row_number, **kwargs)


def header_field(attribute: str, column: str, **kwargs) -> fields.Field:
    return fields.Field(attribute=attribute, column_name=column, readonly=True, **kwargs)


class SalesOrderLineResource(ReadableHeadersMixin, resources.ModelResource):
    """Export only: one row per sales-order line with its order's header (readable column headers)."""

    order_number = header_field("order__number", "order_number")
    order_date = header_field("order__order_date", "order_date")
    required_date = header_field("order__required_date", "required_date")
    status = header_field("order__status", "status")
    customer_code = header_field("order__customer__code", "customer_code")
    customer_name = header_field("order__customer__name", "customer_name")
    customer_reference = header_field("order__customer_reference", "customer_reference")
    warehouse = header_field("order__warehouse__code", "warehouse")
    sku = header_field("product__sku", "sku")
    product_name = header_field("product__name", "product_name")
    quantity = header_field("quantity", "quantity")
    unit_price = header_field("unit_price", "unit_price")
    discount_percent = header_field("discount_percent", "discount_percent")
    tax_rate = header_field("tax_rate", "tax_rate")
    net_amount = header_field("net_amount", "net_amount")
    tax_amount = header_field("tax_amount", "tax_amount")
    total_amount = header_field("total_amount", "total_amount")
    quantity_reserved = header_field("quantity_reserved", "quantity_reserved")
    quantity_shipped = header_field("quantity_shipped", "quantity_shipped")
    order_total = header_field("order__total", "order_total")

    class Meta:
        model = SalesOrderLine
        fields = export_order = (
            "order_number",
            "order_date",
            "required_date",
            "status",
            "customer_code",
            "customer_name",
            "customer_reference",
            "warehouse",
            "sku",
            "product_name",
            "quantity",
            "unit_price",
            "discount_percent",
            "tax_rate",
            "net_amount",
            "tax_amount",
            "total_amount",
            "quantity_reserved",
            "quantity_shipped",
            "order_total",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("order__customer", "order__warehouse", "product").order_by("order__number", "id")


class PurchaseOrderLineResource(ReadableHeadersMixin, resources.ModelResource):
    """Export only: one row per purchase-order line with its order's header (readable column headers)."""

    order_number = header_field("order__number", "order_number")
    order_date = header_field("order__order_date", "order_date")
    expected_date = header_field("order__expected_date", "expected_date")
    status = header_field("order__status", "status")
    supplier_code = header_field("order__supplier__code", "supplier_code")
    supplier_name = header_field("order__supplier__name", "supplier_name")
    supplier_reference = header_field("order__supplier_reference", "supplier_reference")
    warehouse = header_field("order__warehouse__code", "warehouse")
    sku = header_field("product__sku", "sku")
    product_name = header_field("product__name", "product_name")
    quantity = header_field("quantity", "quantity")
    unit_cost = header_field("unit_cost", "unit_cost")
    line_total = header_field("line_total", "line_total")
    quantity_received = header_field("quantity_received", "quantity_received")
    order_total = header_field("order__total", "order_total")

    class Meta:
        model = PurchaseOrderLine
        fields = export_order = (
            "order_number",
            "order_date",
            "expected_date",
            "status",
            "supplier_code",
            "supplier_name",
            "supplier_reference",
            "warehouse",
            "sku",
            "product_name",
            "quantity",
            "unit_cost",
            "line_total",
            "quantity_received",
            "order_total",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("order__supplier", "order__warehouse", "product").order_by("order__number", "id")
