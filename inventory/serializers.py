"""API representations of inventory models."""

from rest_framework import serializers

from backoffice.api_base import IdOrCodeField
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
