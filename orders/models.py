"""Orders: customers, sales orders, purchase orders, receipts, carriers and shipments.

Statuses move only through ``orders.services``; stock moves only through
``inventory.services``. Money: prices 4 places, amounts 2 places, rounded
half-up once per line; document totals are sums of rounded lines.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from backoffice.encryption import EncryptedCharField
from backoffice.limits import MAX_AMOUNT, MAX_PRICE, MAX_QUANTITY, max_amount, max_price, max_quantity
from inventory.models import Product, Supplier, TimeStamped, Warehouse

ZERO = Decimal("0")
PERCENT = [MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))]
NON_NEGATIVE = [MinValueValidator(ZERO)]
AMOUNT = [*NON_NEGATIVE, max_amount]
QUANTITY = [MinValueValidator(1), max_quantity]


def price_field(verbose_name=None, **kwargs):
    return models.DecimalField(
        verbose_name, max_digits=14, decimal_places=4, default=ZERO, validators=[*NON_NEGATIVE, max_price], **kwargs
    )


def amount_field(verbose_name=None, **kwargs):
    """Money in cents: at most ``MAX_AMOUNT`` (computed totals are checked by ``full_clean`` too)."""
    kwargs.setdefault("default", ZERO)
    kwargs.setdefault("validators", [max_amount])
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, **kwargs)


def amounts_within_max(name: str, *fields: str) -> models.CheckConstraint:
    """One check constraint: every named amount at most ``MAX_AMOUNT``."""
    return models.CheckConstraint(condition=Q(**{f"{field}__lte": MAX_AMOUNT for field in fields}), name=name)


def percent_field(verbose_name=None, **kwargs):
    return models.DecimalField(verbose_name, max_digits=5, decimal_places=2, default=ZERO, validators=PERCENT, **kwargs)


def user_field(**kwargs):
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", **kwargs
    )


class Customer(TimeStamped):
    """A company we sell to."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    billing_address = models.TextField(blank=True)
    shipping_address = models.TextField(blank=True)
    country = models.CharField(max_length=60, blank=True)
    credit_limit = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=AMOUNT,
        help_text="Open orders may not exceed this value. Empty = no limit.",
    )
    tax_exempt = models.BooleanField(default=False)
    # Encrypted at rest (backoffice.encryption); only Manager/Admin see it in full (docs/security.md).
    tax_id = EncryptedCharField(
        "VAT number",
        max_length=30,
        null=True,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9 .\-/]{2,29}$", "Enter a VAT number: letters and digits.")],
        help_text="Tax identification (VAT) number, e.g. DE123456789. Stored encrypted.",
    )
    is_active = models.BooleanField("active", default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [amounts_within_max("customer_credit_limit_lte_max", "credit_limit")]
        permissions = [
            ("change_customer_credit", "Can change a customer's credit limit and tax exemption"),
            ("change_customer_tax_id", "Can see and change a customer's VAT number"),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def clean(self) -> None:
        super().clean()
        if self.tax_id:
            self.tax_id = "".join(str(self.tax_id).split()).upper()


TRACKING_PLACEHOLDER = "{tracking}"
_validate_http_url = URLValidator(schemes=["http", "https"])


def validate_tracking_url_template(value: str) -> None:
    """An http(s) address containing ``{tracking}``: a ``javascript:`` link once ran script on the packing slip."""
    if not value:
        return
    if TRACKING_PLACEHOLDER not in value:
        raise ValidationError("Put {tracking} where the tracking number goes.", code="no_placeholder")
    try:
        _validate_http_url(value.replace(TRACKING_PLACEHOLDER, "TRACKING123"))
    except ValidationError:
        raise ValidationError(
            "Enter an http:// or https:// address, e.g. https://track.example.com/?n={tracking}.", code="not_http"
        ) from None


def http_url_or_empty(url: str) -> str:
    """``url`` when it is an http(s) address with a host, else "" (the caller shows plain text, not a link)."""
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


class Carrier(TimeStamped):
    """A shipping company; ``tracking_url_template`` is an http(s) address containing ``{tracking}``."""

    name = models.CharField(max_length=100, unique=True)
    phone = models.CharField(max_length=40, blank=True)
    tracking_url_template = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_tracking_url_template],
        help_text="An http(s) address with {tracking} where the number goes, e.g. https://track.example.com/?n={tracking}",
    )
    is_active = models.BooleanField("active", default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # Also for code paths that skip full_clean (imports, scripts).
        validate_tracking_url_template(self.tracking_url_template)
        super().save(*args, **kwargs)

    def tracking_url(self, tracking_number: str) -> str:
        """The carrier's link for a tracking number (URL-encoded), or "" when there is no safe link."""
        if not self.tracking_url_template or not tracking_number:
            return ""
        url = self.tracking_url_template.replace(TRACKING_PLACEHOLDER, quote(tracking_number, safe=""))
        return http_url_or_empty(url)


# Sales orders -------------------------------------------------------------------------------


class SalesOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    CONFIRMED = "confirmed", "Confirmed"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


SalesOrderStatus.EDITABLE = frozenset({SalesOrderStatus.DRAFT})
#: not sold yet (or never): left out of sales figures
SalesOrderStatus.NOT_SOLD = frozenset(
    {SalesOrderStatus.DRAFT, SalesOrderStatus.AWAITING_APPROVAL, SalesOrderStatus.CANCELLED}
)
SalesOrderStatus.OPEN = frozenset({SalesOrderStatus.CONFIRMED, SalesOrderStatus.PARTIALLY_SHIPPED})
SalesOrderStatus.CANCELLABLE = frozenset(
    {SalesOrderStatus.DRAFT, SalesOrderStatus.AWAITING_APPROVAL, SalesOrderStatus.CONFIRMED}
)


class SalesOrder(TimeStamped):
    """An order from a customer, served from one warehouse."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="sales_orders")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="sales_orders")
    status = models.CharField(
        max_length=20, choices=SalesOrderStatus.choices, default=SalesOrderStatus.DRAFT, editable=False, db_index=True
    )
    order_date = models.DateField(default=timezone.localdate, db_index=True)
    required_date = models.DateField(null=True, blank=True)
    customer_reference = models.CharField(max_length=60, blank=True)
    shipping_address = models.TextField(blank=True)
    discount_percent = percent_field("order discount %")
    shipping_charge = amount_field(validators=AMOUNT)
    subtotal = amount_field(editable=False)
    tax_total = amount_field(editable=False)
    total = amount_field(editable=False)
    notes = models.TextField(blank=True)
    credit_override_reason = models.TextField(blank=True, editable=False)
    credit_override_by = user_field(editable=False)
    # Credit approval (orders.services.approvals): Sales sends an over-limit draft to a Manager, who approves
    # (credit_override_reason/by, the order is confirmed) or rejects it with a reason (back to draft).
    approval_requested_by = user_field(editable=False)
    approval_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    approval_request_note = models.TextField(blank=True, editable=False)
    approval_decided_by = user_field(editable=False)
    approval_decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    approval_rejection_reason = models.TextField(blank=True, editable=False)
    created_by = user_field(editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last order confirmation / quote e-mailed to the customer (orders.services.documents).
    confirmation_emailed_at = models.DateTimeField("confirmation e-mailed at", null=True, blank=True, editable=False)
    confirmation_emailed_to = models.CharField("confirmation e-mailed to", max_length=254, blank=True, editable=False)
    confirmation_emailed_by = user_field(verbose_name="confirmation e-mailed by", editable=False)
    # Stored counters (the order lists sort and filter on them): kept by ``orders.services`` inside the
    # transaction that changes the lines or the status (``sales_order_counters``). Derived, so not historised.
    line_count = models.PositiveIntegerField("lines", default=0, editable=False)
    backordered_quantity = models.PositiveIntegerField(
        "backordered",
        default=0,
        editable=False,
        help_text="Ordered, not shipped and not reserved, on an open order (0 otherwise).",
    )
    total_quantity = models.PositiveIntegerField(
        "units", default=0, editable=False, help_text="Units ordered: the lines' quantities added up."
    )
    history = HistoricalRecords(excluded_fields=["line_count", "backordered_quantity", "total_quantity"])

    class Meta:
        ordering = ["-order_date", "-id"]
        # The sales orders list sorts on these (ties broken by id, in the same direction).
        indexes = [
            models.Index(fields=[name, "id"], name=f"salesorder_{short}_idx")
            for name, short in (
                ("backordered_quantity", "backordered"),
                ("status", "status"),
                ("required_date", "required"),
                ("total", "total"),
                ("order_date", "order_date"),
            )
        ] + [
            # Open orders per customer (the customers list's column, counted over what a user may see).
            models.Index(fields=["customer", "status"], name="salesorder_customer_status_idx"),
        ]
        permissions = [
            ("confirm_salesorder", "Can confirm and cancel sales orders"),
            ("override_credit_salesorder", "Can override a customer's credit limit"),
            ("approve_credit", "Can approve or reject orders awaiting credit approval"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(shipping_charge__gte=0), name="sales_order_shipping_gte_0"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100), name="sales_order_discount_0_100"
            ),
            amounts_within_max("sales_order_amounts_lte_max", "shipping_charge", "subtotal", "tax_total", "total"),
        ]

    def __str__(self) -> str:
        return self.number or "New sales order"

    @property
    def is_editable(self) -> bool:
        return self.status in SalesOrderStatus.EDITABLE


class SalesOrderLine(models.Model):
    """A product on a sales order, with its reservation and shipping progress."""

    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=QUANTITY)
    unit_price = price_field(help_text="Defaults to the product's sale price.")
    discount_percent = percent_field("discount %")
    tax_rate = percent_field("tax %", help_text="Defaults to the product's rate; 0 for tax-exempt customers.")
    net_amount = amount_field(editable=False)
    tax_amount = amount_field(editable=False)
    total_amount = amount_field(editable=False)
    quantity_reserved = models.PositiveIntegerField(default=0, editable=False)
    quantity_shipped = models.PositiveIntegerField(default=0, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="sales_line_quantity_gte_1"),
            models.CheckConstraint(
                condition=Q(quantity_reserved__lte=F("quantity") - F("quantity_shipped")),
                name="sales_line_reserved_lte_open",
            ),
            models.CheckConstraint(condition=Q(quantity_shipped__lte=F("quantity")), name="sales_line_shipped_lte_qty"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="sales_line_price_gte_0"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100), name="sales_line_discount_0_100"
            ),
            models.CheckConstraint(
                condition=Q(quantity__lte=MAX_QUANTITY, unit_price__lte=MAX_PRICE), name="sales_line_lte_max"
            ),
            amounts_within_max("sales_line_amounts_lte_max", "net_amount", "tax_amount", "total_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"

    @property
    def quantity_backordered(self) -> int:
        """Ordered, not shipped and not reserved: waiting for stock (only on open orders)."""
        return max(self.quantity - self.quantity_shipped - self.quantity_reserved, 0)


# Purchase orders ---------------------------------------------------------------------------


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


PurchaseOrderStatus.EDITABLE = frozenset({PurchaseOrderStatus.DRAFT})
PurchaseOrderStatus.OPEN = frozenset({PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED})
PurchaseOrderStatus.RECEIVABLE = PurchaseOrderStatus.OPEN


class PurchaseOrder(TimeStamped):
    """An order to a supplier, delivered to one warehouse."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(
        max_length=20,
        choices=PurchaseOrderStatus.choices,
        default=PurchaseOrderStatus.DRAFT,
        editable=False,
        db_index=True,
    )
    order_date = models.DateField(default=timezone.localdate, db_index=True)
    expected_date = models.DateField(null=True, blank=True)
    supplier_reference = models.CharField(max_length=60, blank=True)
    total = amount_field(editable=False)
    notes = models.TextField(blank=True)
    close_reason = models.TextField(blank=True, editable=False)
    created_by = user_field(editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last time the PO's PDF was e-mailed to the supplier (orders.services.documents); sending it
    # to a supplier without an e-mail address leaves these empty.
    emailed_at = models.DateTimeField("e-mailed at", null=True, blank=True, editable=False)
    emailed_to = models.CharField("e-mailed to", max_length=254, blank=True, editable=False)
    emailed_by = user_field(verbose_name="e-mailed by", editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-order_date", "-id"]
        permissions = [
            ("send_purchaseorder", "Can send, close and cancel purchase orders"),
            ("receive_purchaseorder", "Can receive goods against purchase orders"),
        ]
        constraints = [amounts_within_max("purchase_order_total_lte_max", "total")]

    def __str__(self) -> str:
        return self.number or "New purchase order"

    @property
    def is_editable(self) -> bool:
        return self.status in PurchaseOrderStatus.EDITABLE


class PurchaseOrderLine(models.Model):
    """A product on a purchase order and how much of it has arrived."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=QUANTITY)
    unit_cost = price_field(help_text="Defaults to the supplier's cost for the product.")
    line_total = amount_field(editable=False)
    quantity_received = models.PositiveIntegerField(default=0, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="purchase_line_quantity_gte_1"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")), name="purchase_line_no_over_receipt"
            ),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="purchase_line_cost_gte_0"),
            models.CheckConstraint(
                condition=Q(quantity__lte=MAX_QUANTITY, unit_cost__lte=MAX_PRICE), name="purchase_line_lte_max"
            ),
            amounts_within_max("purchase_line_total_lte_max", "line_total"),
        ]

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"

    @property
    def quantity_outstanding(self) -> int:
        return self.quantity - self.quantity_received


class Receipt(TimeStamped):
    """One delivery received against a purchase order."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    received_at = models.DateTimeField(default=timezone.now)
    received_by = user_field(editable=False)
    delivery_note = models.CharField(max_length=60, blank=True, help_text="Supplier's delivery note number.")
    note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_at", "-id"]
        # The list's default order and its other sortable columns, read from an index instead of
        # joining and sorting every receipt.
        indexes = [
            models.Index(fields=["received_at", "id"], name="receipt_received_at_idx"),
            models.Index(fields=["received_by", "id"], name="receipt_received_by_idx"),
            models.Index(fields=["delivery_note", "id"], name="receipt_delivery_note_idx"),
        ]

    def __str__(self) -> str:
        return self.number or "New receipt"


class ReceiptLine(models.Model):
    """A quantity received for one purchase-order line."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    purchase_order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.PositiveIntegerField(validators=QUANTITY)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="receipt_line_quantity_gte_1"),
            models.CheckConstraint(condition=Q(quantity__lte=MAX_QUANTITY), name="receipt_line_quantity_lte_max"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase_order_line_id}: {self.quantity}"


# Shipments ----------------------------------------------------------------------------------


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned"


ShipmentStatus.EDITABLE = frozenset({ShipmentStatus.PENDING, ShipmentStatus.PACKED})


class Shipment(TimeStamped):
    """Goods leaving for one sales order; shipping it issues the reserved stock."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    sales_order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING, editable=False, db_index=True
    )
    carrier = models.ForeignKey(Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments")
    tracking_number = models.CharField(max_length=60, blank=True, db_index=True)
    shipping_address = models.TextField(blank=True)
    cost = amount_field(validators=AMOUNT, help_text="What the carrier charges us.")
    shipped_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    returned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = user_field(editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        # The shipments list's order and sorts (ties broken by id, in the same direction).
        indexes = [
            models.Index(fields=[name, "id"], name=f"shipment_{name}_idx")
            for name in ("created_at", "status", "shipped_at", "delivered_at")
        ]
        permissions = [("ship_shipment", "Can pack, ship, deliver and return shipments")]
        constraints = [amounts_within_max("shipment_cost_lte_max", "cost")]

    def __str__(self) -> str:
        return self.number or "New shipment"

    @property
    def tracking_url(self) -> str:
        return self.carrier.tracking_url(self.tracking_number) if self.carrier_id else ""

    @property
    def is_editable(self) -> bool:
        return self.status in ShipmentStatus.EDITABLE


class ShipmentLine(models.Model):
    """A quantity of one sales-order line in a shipment."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    sales_order_line = models.ForeignKey(SalesOrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField(validators=QUANTITY)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipment_line_quantity_gte_1"),
            models.CheckConstraint(condition=Q(quantity__lte=MAX_QUANTITY), name="shipment_line_quantity_lte_max"),
            models.UniqueConstraint(fields=["shipment", "sales_order_line"], name="shipment_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sales_order_line_id}: {self.quantity}"
