"""API representations of customers, carriers and the order documents (``orders/api.py``).

Money is a string with its fixed decimals (amounts 2, prices 4), quantities are integers,
timestamps ISO 8601 with offset. Inputs of the documents are plain serializers: the services
(``orders.services``) do the writing.
"""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from backoffice.api_base import IdOrCodeField
from backoffice.api_schema import examples
from backoffice.limits import MAX_PRICE, MAX_QUANTITY
from inventory.filters import visible_warehouses
from inventory.models import Product, Supplier, Warehouse
from orders.models import (
    Carrier,
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    Shipment,
    ShipmentLine,
)
from orders.services import CHANGE_TAX_ID_PERM

PRICE = {"max_digits": 14, "decimal_places": 4, "min_value": Decimal("0"), "max_value": MAX_PRICE}
PERCENT = {"max_digits": 5, "decimal_places": 2, "min_value": Decimal("0"), "max_value": Decimal("100")}
QUANTITY = {"min_value": 1, "max_value": MAX_QUANTITY}


# Customers and carriers ---------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    """``tax_id`` (VAT number) is shown only to users allowed to see it; changing credit limit, tax exemption
    or VAT number needs the field rights (403 ``field_change_refused``)."""

    class Meta:
        model = Customer
        fields = [
            "id",
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.has_perm(CHANGE_TAX_ID_PERM):
            data.pop("tax_id", None)
        return data


class CarrierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Carrier
        fields = ["id", "name", "phone", "tracking_url_template", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


# Sales orders -------------------------------------------------------------------------------------


class SalesOrderLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    quantity_backordered = serializers.SerializerMethodField()

    class Meta:
        model = SalesOrderLine
        fields = [
            "id",
            "product",
            "sku",
            "quantity",
            "unit_price",
            "discount_percent",
            "tax_rate",
            "net_amount",
            "tax_amount",
            "total_amount",
            "quantity_reserved",
            "quantity_backordered",
            "quantity_shipped",
        ]
        read_only_fields = fields

    def get_quantity_backordered(self, line) -> int:
        """Waiting for stock: only on confirmed and partially shipped orders."""
        return line.quantity_backordered if line.order.status in ("confirmed", "partially_shipped") else 0


class SalesOrderSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    lines = SalesOrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = SalesOrder
        fields = [
            "id",
            "number",
            "status",
            "customer",
            "customer_code",
            "warehouse",
            "warehouse_code",
            "order_date",
            "required_date",
            "customer_reference",
            "shipping_address",
            "discount_percent",
            "shipping_charge",
            "subtotal",
            "tax_total",
            "total",
            "backordered_quantity",
            "notes",
            "confirmed_at",
            "cancelled_at",
            # Credit approval (orders.services.approvals): sent with a note, then approved (the reason is the
            # credit override) or rejected with a reason (back to draft).
            "credit_override_reason",
            "approval_requested_at",
            "approval_request_note",
            "approval_decided_at",
            "approval_rejection_reason",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# Document inputs (sales and purchase orders) -------------------------------------------------------


class LineInput(serializers.Serializer):
    """A document line in a create or change: a new line needs ``product`` and ``quantity``; one with the ``id``
    of an existing line (changes only) changes what is given."""

    id = serializers.IntegerField(required=False, min_value=1, help_text="An existing line (updates only).")
    product = IdOrCodeField(model=Product, code_field="sku", required=False)
    quantity = serializers.IntegerField(required=False, **QUANTITY)

    def validate(self, attrs):
        if "id" not in attrs:
            missing = {name: ["This field is required."] for name in ("product", "quantity") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class DocumentInput(serializers.Serializer):
    """Create (party, warehouse and lines required) or change a draft (every field optional; ``lines`` given =
    the document's new lines: with ``id`` changed, without added, absent removed).

    Subclasses declare the fields (in the order errors are reported), ``PARTY`` (the field naming the
    customer or supplier), ``HEADER`` (the header fields the services take) and ``FIXED``, the message
    for a change of party or warehouse.
    """

    PARTY = ""
    HEADER: tuple[str, ...] = ()
    FIXED = "Cannot be changed on an existing order."

    @classmethod
    def header(cls, values: dict) -> dict:
        """The header fields given, as keyword arguments of the services."""
        return {name: values[name] for name in cls.HEADER if name in values}

    def validate(self, attrs):
        if self.instance is None:
            if not attrs.get("lines"):
                raise serializers.ValidationError({"lines": ["Give at least one line."]})
            if any("id" in line for line in attrs["lines"]):
                raise serializers.ValidationError({"lines": ["A new order's lines have no id."]})
        else:
            for name in (self.PARTY, "warehouse"):
                if name in attrs and attrs[name].pk != getattr(self.instance, f"{name}_id"):
                    raise serializers.ValidationError({name: [self.FIXED]})
        return attrs


class SalesLineInput(LineInput):
    unit_price = serializers.DecimalField(required=False, **PRICE)
    discount_percent = serializers.DecimalField(required=False, **PERCENT)


class SalesOrderInput(DocumentInput):
    """Create (customer, warehouse and lines required) or change a draft sales order (``DocumentInput``)."""

    customer = IdOrCodeField(model=Customer, code_field="code")
    warehouse = IdOrCodeField(model=Warehouse, code_field="code", queryset=visible_warehouses)
    order_date = serializers.DateField(required=False)
    required_date = serializers.DateField(required=False, allow_null=True)
    customer_reference = serializers.CharField(required=False, allow_blank=True, max_length=60)
    shipping_address = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    discount_percent = serializers.DecimalField(required=False, **PERCENT)
    shipping_charge = serializers.DecimalField(
        required=False, max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MAX_PRICE
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    lines = SalesLineInput(many=True, required=False, max_length=1000)

    PARTY = "customer"
    HEADER = (
        "order_date",
        "required_date",
        "customer_reference",
        "shipping_address",
        "discount_percent",
        "shipping_charge",
        "notes",
    )
    FIXED = "Cannot be changed; cancel and create a new order."


class ShipLineInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="A sales order line id.")
    quantity = serializers.IntegerField(**QUANTITY)


class ShipInput(serializers.Serializer):
    lines = ShipLineInput(many=True, required=False, help_text="Omit to ship everything reserved.")
    carrier = IdOrCodeField(model=Carrier, code_field="name", required=False, allow_null=True)
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=60, default="")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ConfirmInput(serializers.Serializer):
    credit_override_reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ApprovalRequestInput(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default="", help_text="For the Managers (optional)."
    )


class CreditDecisionInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Required; recorded on the order and sent to Sales.")


# Purchase orders and receipts ---------------------------------------------------------------------


class PurchaseOrderLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    quantity_outstanding = serializers.IntegerField(read_only=True)

    class Meta:
        model = PurchaseOrderLine
        fields = [
            "id",
            "product",
            "sku",
            "quantity",
            "unit_cost",
            "line_total",
            "quantity_received",
            "quantity_outstanding",
        ]
        read_only_fields = fields


class PurchaseOrderSerializer(serializers.ModelSerializer):
    supplier_code = serializers.CharField(source="supplier.code", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    lines = PurchaseOrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "number",
            "status",
            "supplier",
            "supplier_code",
            "warehouse",
            "warehouse_code",
            "order_date",
            "expected_date",
            "supplier_reference",
            "total",
            "notes",
            "close_reason",
            "sent_at",
            "closed_at",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PurchaseLineInput(LineInput):
    unit_cost = serializers.DecimalField(required=False, **PRICE)

    def validate(self, attrs):
        # purchase_order_line_update changes quantity and cost only (a product with an id was a 500)
        if "id" in attrs and "product" in attrs:
            raise serializers.ValidationError(
                {"product": ["An existing line's product cannot be changed: leave the line out and add a new one."]}
            )
        return super().validate(attrs)


class PurchaseOrderInput(DocumentInput):
    """Create (supplier, warehouse and lines required) or change a draft, like ``SalesOrderInput``."""

    supplier = IdOrCodeField(model=Supplier, code_field="code")
    warehouse = IdOrCodeField(model=Warehouse, code_field="code", queryset=visible_warehouses)
    order_date = serializers.DateField(required=False)
    expected_date = serializers.DateField(required=False, allow_null=True)
    supplier_reference = serializers.CharField(required=False, allow_blank=True, max_length=60)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    lines = PurchaseLineInput(many=True, required=False, max_length=1000)

    PARTY = "supplier"
    HEADER = ("order_date", "expected_date", "supplier_reference", "notes")


class ReceiveInput(serializers.Serializer):
    lines = ShipLineInput(many=True, help_text="Purchase order line ids and quantities received.")
    delivery_note = serializers.CharField(required=False, allow_blank=True, max_length=60, default="")


class ReceiptLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="purchase_order_line.product.sku", read_only=True)

    class Meta:
        model = ReceiptLine
        fields = ["id", "purchase_order_line", "sku", "quantity"]
        read_only_fields = fields


class ReceiptSerializer(serializers.ModelSerializer):
    purchase_order_number = serializers.CharField(source="purchase_order.number", read_only=True)
    lines = ReceiptLineSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "number",
            "purchase_order",
            "purchase_order_number",
            "received_at",
            "delivery_note",
            "note",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# Shipments ----------------------------------------------------------------------------------------


class ShipmentLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sales_order_line.product.sku", read_only=True)

    class Meta:
        model = ShipmentLine
        fields = ["id", "sales_order_line", "sku", "quantity"]
        read_only_fields = fields


class ShipmentSerializer(serializers.ModelSerializer):
    sales_order_number = serializers.CharField(source="sales_order.number", read_only=True)
    carrier_name = serializers.CharField(source="carrier.name", read_only=True, default=None)
    lines = ShipmentLineSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "number",
            "status",
            "sales_order",
            "sales_order_number",
            "carrier",
            "carrier_name",
            "tracking_number",
            "shipping_address",
            "shipped_at",
            "delivered_at",
            "returned_at",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MarkShippedInput(serializers.Serializer):
    carrier = IdOrCodeField(model=Carrier, code_field="name", required=False, allow_null=True)
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=60)


# OpenAPI examples (backoffice.api_schema.examples) ----------------------------------------------------

_STAMPS = {"created_at": "2026-01-05T09:30:00Z", "updated_at": "2026-01-31T10:00:00+01:00"}
_CUSTOMER = {
    "code": "ALFKI",
    "name": "Alfreds Futterkiste",
    "contact_name": "Maria Anders",
    "email": "orders@alfki.example",
    "phone": "030-0074321",
    "billing_address": "Obere Str. 57, Berlin",
    "shipping_address": "",
    "country": "Germany",
    "credit_limit": "5000.00",
    "tax_exempt": False,
    "tax_id": "DE123456789",
    "is_active": True,
}
examples(CustomerSerializer, request=_CUSTOMER, response={"id": 3, **_CUSTOMER, **_STAMPS})
_CARRIER = {
    "name": "Speedy Express",
    "phone": "(503) 555-9831",
    "tracking_url_template": "https://speedy.example/track/{tracking}",
    "is_active": True,
}
examples(CarrierSerializer, request=_CARRIER, response={"id": 1, **_CARRIER, **_STAMPS})
examples(
    SalesOrderInput,
    request={
        "customer": "ALFKI",
        "warehouse": "MAIN",
        "customer_reference": "WEB-1001",
        "lines": [
            {"product": "CHAI", "quantity": 2},
            {"product": 12, "quantity": 1, "unit_price": "9.50", "discount_percent": "5"},
        ],
    },
)
#: A confirmed sales order (the credit-approval actions of ``orders/api.py`` show it at their other steps).
SALES_ORDER_EXAMPLE = {
    "id": 17,
    "number": "SO-000017",
    "status": "confirmed",
    "customer": 3,
    "customer_code": "ALFKI",
    "warehouse": 1,
    "warehouse_code": "MAIN",
    "order_date": "2026-01-31",
    "required_date": None,
    "customer_reference": "WEB-1001",
    "shipping_address": "Obere Str. 57, Berlin",
    "discount_percent": "0.00",
    "shipping_charge": "0.00",
    "subtotal": "36.00",
    "tax_total": "7.20",
    "total": "43.20",
    "backordered_quantity": 0,
    "notes": "",
    "confirmed_at": "2026-01-31T10:05:00+01:00",
    "cancelled_at": None,
    "credit_override_reason": "",
    "approval_requested_at": None,
    "approval_request_note": "",
    "approval_decided_at": None,
    "approval_rejection_reason": "",
    "lines": [
        {
            "id": 41,
            "product": 12,
            "sku": "CHAI",
            "quantity": 2,
            "unit_price": "18.0000",
            "discount_percent": "0.00",
            "tax_rate": "20.00",
            "net_amount": "36.00",
            "tax_amount": "7.20",
            "total_amount": "43.20",
            "quantity_reserved": 2,
            "quantity_backordered": 0,
            "quantity_shipped": 0,
        }
    ],
    **_STAMPS,
}
examples(SalesOrderSerializer, response=SALES_ORDER_EXAMPLE)
examples(ConfirmInput, request={"credit_override_reason": ""})
examples(ReasonInput, request={"reason": "Customer changed their mind"})
examples(
    ShipInput, request={"lines": [{"line": 41, "quantity": 2}], "carrier": "Speedy Express", "tracking_number": ""}
)
examples(
    PurchaseOrderInput,
    request={
        "supplier": "EXOTIC",
        "warehouse": "MAIN",
        "supplier_reference": "Q-2026-004",
        "expected_date": "2026-02-14",
        "lines": [{"product": "CHAI", "quantity": 40}, {"product": 14, "quantity": 10, "unit_cost": "7.2500"}],
    },
)
examples(
    PurchaseOrderSerializer,
    response={
        "id": 31,
        "number": "PO-000031",
        "status": "sent",
        "supplier": 3,
        "supplier_code": "EXOTIC",
        "warehouse": 1,
        "warehouse_code": "MAIN",
        "order_date": "2026-01-31",
        "expected_date": "2026-02-14",
        "supplier_reference": "Q-2026-004",
        "total": "360.00",
        "notes": "",
        "close_reason": "",
        "sent_at": "2026-01-31T11:00:00+01:00",
        "closed_at": None,
        "lines": [
            {
                "id": 77,
                "product": 12,
                "sku": "CHAI",
                "quantity": 40,
                "unit_cost": "9.0000",
                "line_total": "360.00",
                "quantity_received": 0,
                "quantity_outstanding": 40,
            }
        ],
        **_STAMPS,
    },
)
examples(ReceiveInput, request={"lines": [{"line": 77, "quantity": 40}], "delivery_note": "DN-5531"})
examples(
    ReceiptSerializer,
    response={
        "id": 9,
        "number": "GR-000009",
        "purchase_order": 31,
        "purchase_order_number": "PO-000031",
        "received_at": "2026-02-13T08:15:00+01:00",
        "delivery_note": "DN-5531",
        "note": "",
        "lines": [{"id": 12, "purchase_order_line": 77, "sku": "CHAI", "quantity": 40}],
        **_STAMPS,
    },
)
examples(
    ShipmentSerializer,
    response={
        "id": 9,
        "number": "SH-000009",
        "status": "shipped",
        "sales_order": 17,
        "sales_order_number": "SO-000017",
        "carrier": 1,
        "carrier_name": "Speedy Express",
        "tracking_number": "1Z999",
        "shipping_address": "Obere Str. 57, Berlin",
        "shipped_at": "2026-02-01T14:00:00+01:00",
        "delivered_at": None,
        "returned_at": None,
        "lines": [{"id": 21, "sales_order_line": 41, "sku": "CHAI", "quantity": 2}],
        **_STAMPS,
    },
)
examples(MarkShippedInput, request={"carrier": "Speedy Express", "tracking_number": "1Z999"})
