"""Inventory: catalogue, warehouses, suppliers, stock levels and the stock ledger.

``StockLevel.on_hand`` and ``allocated`` are only changed by ``inventory.services``
(with row locks and ``F()`` updates); every change of ``on_hand`` is a
``StockMovement``, the append-only ledger.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from backoffice.encryption import EncryptedCharField
from backoffice.iban import compact_iban, validate_iban
from backoffice.limits import MAX_PRICE, MAX_QUANTITY, MAX_STOCK, max_price, max_quantity

ZERO = Decimal("0")


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Category(TimeStamped):
    """A product category, optionally nested under a parent."""

    name = models.CharField(max_length=100, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": "A category cannot be its own ancestor."})
            ancestor = ancestor.parent


class Product(TimeStamped):
    """A stock-keeping unit sold and bought in its own unit (integer quantities)."""

    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    unit = models.CharField(max_length=60, default="unit", help_text="What one quantity is, e.g. '24 x 12 oz bottles'.")
    barcode = models.CharField(max_length=64, blank=True)
    sale_price = models.DecimalField(
        max_digits=14, decimal_places=4, default=ZERO, validators=[MinValueValidator(ZERO), max_price]
    )
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        default=ZERO,
        validators=[MinValueValidator(ZERO), max_price],
        help_text="Standard (list) cost.",
    )
    average_cost = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        default=ZERO,
        validators=[MinValueValidator(ZERO), max_price],
        help_text="Moving-average cost, updated by receipts.",
    )
    tax_rate = models.DecimalField(
        "tax rate %",
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))],
    )
    is_active = models.BooleanField("active", default=True)
    # History is read by product (``id``) and date; an index on the historical SKU (two: plain and pattern)
    # and category served no query and cost every bulk import of new products their upkeep.
    history = HistoricalRecords(no_db_index=["sku", "category"])

    class Meta:
        ordering = ["sku"]
        # The products list sorts on these (ties broken by SKU, in the same direction): one index scan each.
        indexes = [
            models.Index(fields=[name, "sku"], name=f"product_{name}_sku_idx")
            for name in ("name", "category", "sale_price", "cost", "average_cost", "is_active")
        ]
        constraints = [
            models.UniqueConstraint(fields=["barcode"], condition=~Q(barcode=""), name="product_barcode_unique"),
            models.CheckConstraint(condition=Q(sale_price__gte=0), name="product_sale_price_gte_0"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="product_cost_gte_0"),
            models.CheckConstraint(condition=Q(average_cost__gte=0), name="product_average_cost_gte_0"),
            models.CheckConstraint(
                condition=Q(sale_price__lte=MAX_PRICE, cost__lte=MAX_PRICE, average_cost__lte=MAX_PRICE),
                name="product_prices_lte_max",
            ),
            models.CheckConstraint(condition=Q(tax_rate__gte=0, tax_rate__lte=100), name="product_tax_rate_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class Warehouse(TimeStamped):
    """A place that holds stock."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    address = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="warehouses",
        help_text="Warehouse-role users who may receive, count and transfer here.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Supplier(TimeStamped):
    """A company we buy from."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    country = models.CharField(max_length=60, blank=True)
    lead_time_days = models.PositiveSmallIntegerField(default=7)
    # Encrypted at rest (backoffice.encryption); only Manager/Admin see it in full (docs/security.md).
    bank_account = EncryptedCharField(
        "bank account (IBAN)",
        max_length=42,
        null=True,
        blank=True,
        validators=[validate_iban],
        help_text="IBAN, e.g. DE89 3704 0044 0532 0130 00. Stored encrypted.",
    )
    is_active = models.BooleanField("active", default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [("change_supplier_bank_account", "Can see and change a supplier's bank account")]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def clean(self) -> None:
        super().clean()
        if self.bank_account:
            self.bank_account = compact_iban(self.bank_account)


class SupplierProduct(TimeStamped):
    """What a supplier sells us: its own SKU, cost and minimum order quantity."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="supplier_products")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="supplier_products")
    supplier_sku = models.CharField("supplier SKU", max_length=64, blank=True)
    unit_cost = models.DecimalField(
        max_digits=14, decimal_places=4, default=ZERO, validators=[MinValueValidator(ZERO), max_price]
    )
    minimum_order_quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1), max_quantity])
    preferred = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["supplier__name", "product__sku"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "product"], name="supplier_product_unique"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(preferred=True), name="one_preferred_supplier_per_product"
            ),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="supplier_product_cost_gte_0"),
            models.CheckConstraint(condition=Q(minimum_order_quantity__gte=1), name="supplier_product_moq_gte_1"),
            models.CheckConstraint(
                condition=Q(unit_cost__lte=MAX_PRICE, minimum_order_quantity__lte=MAX_QUANTITY),
                name="supplier_product_lte_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code} / {self.product.sku}"


class StockLevelQuerySet(models.QuerySet):
    def with_available(self):
        return self.annotate(available_qty=F("on_hand") - F("allocated"))

    def at_or_below_reorder_point(self):
        return self.filter(reorder_point__gt=0).with_available().filter(available_qty__lte=F("reorder_point"))


class StockLevel(models.Model):
    """Stock of one product in one warehouse.

    ``on_hand`` equals the sum of the level's movements; ``allocated`` is what
    open sales orders have reserved. Both move only through ``inventory.services``.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.PositiveIntegerField(default=0, editable=False)
    allocated = models.PositiveIntegerField(default=0, editable=False)
    reorder_point = models.PositiveIntegerField(default=0, validators=[max_quantity])
    reorder_quantity = models.PositiveIntegerField(default=0, validators=[max_quantity])
    history = HistoricalRecords(excluded_fields=["on_hand", "allocated"])

    objects = StockLevelQuerySet.as_manager()

    class Meta:
        ordering = ["product__sku", "warehouse__code"]
        # The stock levels list sorts on these (ties broken by id, in the same direction).
        indexes = [
            *(
                models.Index(fields=[name, "id"], name=f"stocklevel_{short}_idx")
                for name, short in (
                    ("on_hand", "on_hand"),
                    ("allocated", "allocated"),
                    ("reorder_point", "reorder_pt"),
                    ("reorder_quantity", "reorder_qty"),
                )
            ),
            models.Index(F("on_hand") - F("allocated"), "id", name="stocklevel_available_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="stock_level_product_warehouse_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_level_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="stock_level_allocated_gte_0"),
            models.CheckConstraint(condition=Q(allocated__lte=F("on_hand")), name="stock_level_allocated_lte_on_hand"),
            models.CheckConstraint(condition=Q(on_hand__lte=MAX_STOCK), name="stock_level_on_hand_lte_max"),
            models.CheckConstraint(
                condition=Q(reorder_point__lte=MAX_QUANTITY, reorder_quantity__lte=MAX_QUANTITY),
                name="stock_level_reorder_lte_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.warehouse.code}"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated

    @property
    def needs_reorder(self) -> bool:
        return self.reorder_point > 0 and self.available <= self.reorder_point


class MovementKind(models.TextChoices):
    OPENING = "opening", "Opening balance"
    RECEIPT = "receipt", "Receipt"
    SHIPMENT = "shipment", "Shipment"
    ADJUSTMENT = "adjustment", "Adjustment"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"
    RETURN = "return", "Return"

    @classmethod
    def inbound(cls) -> set[str]:
        return {cls.OPENING, cls.RECEIPT, cls.TRANSFER_IN, cls.RETURN}


class ImmutableLedgerError(Exception):
    """Raised when code tries to edit or delete a ledger entry."""


class StockMovementQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableLedgerError("Stock movements are never edited.")

    def delete(self):
        raise ImmutableLedgerError("Stock movements are never deleted.")


class StockMovement(models.Model):
    """One signed change of ``on_hand``: the append-only stock ledger.

    Not tracked by simple-history: rows are never changed, so the ledger is
    its own audit trail (who, when, why, from which document).
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    quantity = models.IntegerField(help_text="Signed: positive in, negative out.")
    unit_cost = models.DecimalField(max_digits=14, decimal_places=4, default=ZERO)
    balance_after = models.PositiveIntegerField(help_text="On hand in this warehouse after the movement.")
    reference = models.CharField(max_length=40, blank=True, db_index=True, help_text="Source document number.")
    note = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = StockMovementQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # One name everywhere (sidebar, page titles, Ctrl+K, reports): the stock ledger and its entries.
        verbose_name = "ledger entry"
        verbose_name_plural = "stock ledger"
        indexes = [
            models.Index(fields=["product", "warehouse", "created_at"]),
            # The ledger's order (newest first) at any page, and its sort by kind.
            models.Index(fields=["created_at", "id"], name="stockmovement_created_id_idx"),
            models.Index(fields=["kind", "id"], name="stockmovement_kind_id_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="stock_movement_quantity_not_0"),
            models.CheckConstraint(
                condition=Q(quantity__gte=-MAX_STOCK, quantity__lte=MAX_STOCK, balance_after__lte=MAX_STOCK),
                name="stock_movement_within_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d} {self.product_id}@{self.warehouse_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableLedgerError("Stock movements are never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableLedgerError("Stock movements are never deleted.")


class AdjustmentReason(models.TextChoices):
    CYCLE_COUNT = "cycle_count", "Cycle count"
    DAMAGE = "damage", "Damaged"
    LOSS = "loss", "Lost / stolen"
    FOUND = "found", "Found"
    EXPIRED = "expired", "Expired"
    CORRECTION = "correction", "Data correction"


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Cancelled"


class StockAdjustment(TimeStamped):
    """A stock count (or write-off) in one warehouse: lines say what was counted.

    Entered as a draft; *Apply* sets each product's on-hand to the counted
    quantity through ``inventory.services.stock_adjustment_apply``.
    """

    number = models.CharField(max_length=20, unique=True, editable=False)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="adjustments")
    reason = models.CharField(max_length=20, choices=AdjustmentReason.choices, default=AdjustmentReason.CYCLE_COUNT)
    note = models.TextField(blank=True)
    blind_count = models.BooleanField(
        "blind count",
        default=False,
        help_text="Hide expected quantities on the count sheet and the lines until the count is reviewed.",
    )
    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "stock adjustment"
        permissions = [("apply_stockadjustment", "Can apply a stock adjustment")]

    def __str__(self) -> str:
        return self.number or "New adjustment"

    @property
    def is_editable(self) -> bool:
        return self.status == DocumentStatus.DRAFT


class StockAdjustmentLine(models.Model):
    """One counted product; ``previous_quantity``, ``unit_cost`` and ``released_quantity`` are filled in when applied.

    ``reason`` explains this line's difference (empty: the adjustment's reason); the value of the difference is
    ``difference × unit_cost`` (the product's average cost when applied).
    """

    adjustment = models.ForeignKey(StockAdjustment, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    counted_quantity = models.PositiveIntegerField(validators=[max_quantity])
    reason = models.CharField(
        max_length=20, choices=AdjustmentReason.choices, blank=True, help_text="Empty: the adjustment's reason."
    )
    previous_quantity = models.PositiveIntegerField(null=True, blank=True, editable=False)
    unit_cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True, editable=False)
    released_quantity = models.PositiveIntegerField(
        "released from orders",
        default=0,
        editable=False,
        help_text="Counted below the reservations: taken from the newest orders (back on backorder).",
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["adjustment", "product"], name="adjustment_line_product_unique"),
            models.CheckConstraint(
                condition=Q(counted_quantity__lte=MAX_QUANTITY), name="adjustment_line_counted_lte_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.counted_quantity}"

    @property
    def difference(self) -> int | None:
        if self.previous_quantity is None:
            return None
        return self.counted_quantity - self.previous_quantity

    @property
    def difference_value(self) -> Decimal | None:
        """The difference at the average cost when applied, to the cent."""
        if self.difference is None or self.unit_cost is None:
            return None
        return (self.difference * self.unit_cost).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class StockTransfer(TimeStamped):
    """Goods moved from one warehouse to another; applied in one transaction."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    from_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    to_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_in")
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("apply_stocktransfer", "Can apply a stock transfer")]
        constraints = [
            models.CheckConstraint(condition=~Q(from_warehouse=F("to_warehouse")), name="transfer_distinct_warehouses")
        ]

    def __str__(self) -> str:
        return self.number or "New transfer"

    @property
    def is_editable(self) -> bool:
        return self.status == DocumentStatus.DRAFT

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.from_warehouse_id and self.from_warehouse_id == self.to_warehouse_id:
            raise ValidationError({"to_warehouse": "Choose a warehouse other than the source."})


class StockTransferLine(models.Model):
    """A product and quantity moved by a transfer."""

    transfer = models.ForeignKey(StockTransfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1), max_quantity])
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transfer", "product"], name="transfer_line_product_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="transfer_line_quantity_gte_1"),
            models.CheckConstraint(condition=Q(quantity__lte=MAX_QUANTITY), name="transfer_line_quantity_lte_max"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity}"
