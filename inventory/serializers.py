"""API representations of inventory models."""

from rest_framework import serializers

from backoffice.api_base import IdOrCodeField
from backoffice.api_schema import examples
from backoffice.limits import MAX_QUANTITY
from inventory.filters import visible_warehouses
from inventory.models import (
    AdjustmentReason,
    Category,
    Product,
    StockLevel,
    StockMovement,
    StockTransfer,
    StockTransferLine,
    Supplier,
    SupplierProduct,
    Warehouse,
)


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "parent", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "category",
            "unit",
            "barcode",
            "sale_price",
            "cost",
            "average_cost",
            "tax_rate",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["average_cost", "created_at", "updated_at"]


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "address", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class SupplierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = [
            "id",
            "code",
            "name",
            "contact_name",
            "email",
            "phone",
            "address",
            "country",
            "lead_time_days",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class StockLevelSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockLevel
        fields = [
            "id",
            "product",
            "sku",
            "warehouse",
            "warehouse_code",
            "on_hand",
            "allocated",
            "available",
            "reorder_point",
            "reorder_quantity",
        ]
        read_only_fields = ["product", "warehouse", "on_hand", "allocated"]


class StockMovementSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "product",
            "sku",
            "warehouse",
            "warehouse_code",
            "kind",
            "quantity",
            "unit_cost",
            "balance_after",
            "reference",
            "note",
            "user",
            "created_at",
        ]


class SupplierProductSerializer(serializers.ModelSerializer):
    supplier = IdOrCodeField(model=Supplier, code_field="code")
    product = IdOrCodeField(model=Product, code_field="sku")
    supplier_code = serializers.CharField(source="supplier.code", read_only=True)
    sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = SupplierProduct
        fields = [
            "id",
            "supplier",
            "supplier_code",
            "product",
            "sku",
            "supplier_sku",
            "unit_cost",
            "minimum_order_quantity",
            "preferred",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class StockCountSerializer(serializers.Serializer):
    """``POST stock-levels/{id}/count/``: what was counted and why; the difference is booked as an adjustment."""

    counted = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY)
    reason = serializers.ChoiceField(choices=AdjustmentReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class StockTransferLineSerializer(serializers.ModelSerializer):
    product = IdOrCodeField(model=Product, code_field="sku")
    sku = serializers.CharField(source="product.sku", read_only=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    class Meta:
        model = StockTransferLine
        fields = ["id", "product", "sku", "quantity"]


class StockTransferSerializer(serializers.ModelSerializer):
    from_warehouse = IdOrCodeField(model=Warehouse, code_field="code", queryset=visible_warehouses)
    to_warehouse = IdOrCodeField(model=Warehouse, code_field="code")
    lines = StockTransferLineSerializer(many=True)

    class Meta:
        model = StockTransfer
        fields = [
            "id",
            "number",
            "status",
            "from_warehouse",
            "to_warehouse",
            "note",
            "lines",
            "applied_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["number", "status", "applied_at", "created_at", "updated_at"]

    def validate_lines(self, lines):
        if not lines:
            raise serializers.ValidationError("Give at least one line.")
        skus = [line["product"].pk for line in lines]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError("A product appears twice.")
        return lines


# OpenAPI examples (backoffice.api_schema.examples) ----------------------------------------------------

_STAMPS = {"created_at": "2026-01-05T09:30:00Z", "updated_at": "2026-01-31T10:00:00+01:00"}
_CATEGORY = {"name": "Beverages", "parent": None, "description": "Soft drinks, coffees, teas"}
examples(CategorySerializer, request=_CATEGORY, response={"id": 1, **_CATEGORY, **_STAMPS})
_PRODUCT = {
    "sku": "CHAI",
    "name": "Chai",
    "category": 1,
    "unit": "10 boxes x 20 bags",
    "barcode": "5012345678900",
    "sale_price": "18.0000",
    "cost": "9.0000",
    "tax_rate": "20.00",
    "is_active": True,
}
examples(ProductSerializer, request=_PRODUCT, response={"id": 12, **_PRODUCT, "average_cost": "9.1250", **_STAMPS})
_WAREHOUSE = {"code": "MAIN", "name": "Main warehouse", "address": "1 Dock Road, Leeds", "is_active": True}
examples(WarehouseSerializer, request=_WAREHOUSE, response={"id": 1, **_WAREHOUSE, **_STAMPS})
_SUPPLIER = {
    "code": "EXOTIC",
    "name": "Exotic Liquids",
    "contact_name": "Charlotte Cooper",
    "email": "orders@exotic.example",
    "phone": "+44 171 555 2222",
    "address": "49 Gilbert St., London",
    "country": "UK",
    "lead_time_days": 7,
    "is_active": True,
}
examples(SupplierSerializer, request=_SUPPLIER, response={"id": 3, **_SUPPLIER, **_STAMPS})
_SUPPLIER_PRODUCT = {
    "supplier": "EXOTIC",
    "product": "CHAI",
    "supplier_sku": "EX-CH-01",
    "unit_cost": "9.0000",
    "minimum_order_quantity": 10,
    "preferred": True,
}
examples(
    SupplierProductSerializer,
    request=_SUPPLIER_PRODUCT,
    response={
        "id": 5,
        **_SUPPLIER_PRODUCT,
        "supplier": 3,
        "supplier_code": "EXOTIC",
        "product": 12,
        "sku": "CHAI",
        **_STAMPS,
    },
)
examples(
    StockLevelSerializer,
    request={"reorder_point": 10, "reorder_quantity": 40},
    response={
        "id": 7,
        "product": 12,
        "sku": "CHAI",
        "warehouse": 1,
        "warehouse_code": "MAIN",
        "on_hand": 39,
        "allocated": 3,
        "available": 36,
        "reorder_point": 10,
        "reorder_quantity": 40,
    },
)
examples(
    StockMovementSerializer,
    response={
        "id": 1041,
        "product": 12,
        "sku": "CHAI",
        "warehouse": 1,
        "warehouse_code": "MAIN",
        "kind": "receipt",
        "quantity": 40,
        "unit_cost": "9.0000",
        "balance_after": 79,
        "reference": "PO-000031",
        "note": "",
        "user": 4,
        "created_at": "2026-01-31T10:00:00+01:00",
    },
)
examples(StockCountSerializer, request={"counted": 37, "reason": "cycle_count", "note": "Shelf B3"})
examples(
    StockTransferSerializer,
    request={
        "from_warehouse": "MAIN",
        "to_warehouse": "EAST",
        "note": "Rebalance",
        "lines": [{"product": "CHAI", "quantity": 5}],
    },
    response={
        "id": 8,
        "number": "TR-000008",
        "status": "draft",
        "from_warehouse": 1,
        "to_warehouse": 2,
        "note": "Rebalance",
        "lines": [{"id": 15, "product": 12, "sku": "CHAI", "quantity": 5}],
        "applied_at": None,
        **_STAMPS,
    },
)
