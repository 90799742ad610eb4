"""Synthetic orders at scale on top of ``inventory.scale`` (benchmarks, reports and big-list checks).

``seed_orders`` adds customers, suppliers with price lists (one preferred supplier per seeded
product), sales orders with lines spread over the last two years in realistic statuses (old
orders delivered or cancelled, recent ones draft, confirmed, partially shipped...), their
shipments, purchase orders with lines and the receipts of those received. Everything is written
with ``bulk_create`` in chunks inside one transaction: no history rows, no signals, no stock
movement (like the historical order import: the seeded ledger already holds the stock's past).

Stock invariants stay true (``manage.py check_stock`` passes): open orders reserve what is
available now, oldest order first, and each stock level's ``allocated`` grows by exactly what its
lines reserve; the rest is backordered. Order totals are priced by the order services' pricing
function and the stored counters (lines, backordered quantity) are filled in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction

from backoffice.dashboard_cache import dashboard_changed
from backoffice.numbering import next_document_numbers
from inventory.models import Product, StockLevel, Supplier, SupplierProduct, Warehouse
from inventory.scale import SKU_PREFIX, WAREHOUSE_PREFIX
from orders import pricing
from orders.models import (
    Carrier,
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orders.services.sales import sales_order_amounts, sales_order_counters

CUSTOMER_PREFIX = "SCALE-C"
SUPPLIER_PREFIX = "SCALE-S"
CARRIERS = ("Scale Express", "Scale Freight", "Scale Post")
HISTORY_DAYS = 730
CHUNK = 2_000  # orders built, reserved and written per step (memory stays flat for any number of orders)

S = SalesOrderStatus
P = PurchaseOrderStatus
#: (maximum age in days, [(status, weight), ...]): recent orders are still moving, old ones are done
SALES_MIX = [
    (
        7,
        [
            (S.DRAFT, 15),
            (S.CONFIRMED, 45),
            (S.PARTIALLY_SHIPPED, 15),
            (S.SHIPPED, 15),
            (S.DELIVERED, 5),
            (S.CANCELLED, 5),
        ],
    ),
    (
        30,
        [
            (S.DRAFT, 3),
            (S.CONFIRMED, 12),
            (S.PARTIALLY_SHIPPED, 10),
            (S.SHIPPED, 25),
            (S.DELIVERED, 45),
            (S.CANCELLED, 5),
        ],
    ),
    (None, [(S.DELIVERED, 90), (S.CANCELLED, 6), (S.SHIPPED, 2), (S.PARTIALLY_SHIPPED, 1), (S.CONFIRMED, 1)]),
]
PURCHASE_MIX = [
    (14, [(P.DRAFT, 25), (P.SENT, 40), (P.PARTIALLY_RECEIVED, 20), (P.RECEIVED, 10), (P.CANCELLED, 5)]),
    (None, [(P.RECEIVED, 85), (P.CLOSED, 7), (P.CANCELLED, 5), (P.PARTIALLY_RECEIVED, 2), (P.SENT, 1)]),
]


@dataclass(frozen=True)
class OrdersSeedResult:
    customers: int
    suppliers: int
    supplier_products: int
    sales_orders: int
    sales_lines: int
    shipments: int
    purchase_orders: int
    purchase_lines: int
    receipts: int
    units_reserved: int
    units_backordered: int


def _pick(mix, age: int, rng: random.Random):
    for limit, weights in mix:
        if limit is None or age < limit:
            statuses, chances = zip(*weights, strict=True)
            return rng.choices(statuses, chances)[0]
    raise AssertionError("the last bucket has no limit")


def _noon(day: date) -> datetime:
    from django.utils import timezone

    return timezone.make_aware(datetime.combine(day, time(12, 0)))


def _ensure_customers(count: int) -> list[int]:
    existing = Customer.objects.filter(code__startswith=CUSTOMER_PREFIX).count()
    if existing < count:
        Customer.objects.bulk_create(
            [
                Customer(
                    code=f"{CUSTOMER_PREFIX}{i:06d}",
                    name=f"Scale customer {i} Ltd",
                    contact_name=f"Buyer {i}",
                    email=f"buyer{i}@customer{i}.example.com",
                    country=("DE", "FR", "NL", "GB", "US")[i % 5],
                )
                for i in range(existing + 1, count + 1)
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
    return list(Customer.objects.filter(code__startswith=CUSTOMER_PREFIX).order_by("pk").values_list("pk", flat=True))


def _ensure_suppliers(count: int) -> list[int]:
    existing = Supplier.objects.filter(code__startswith=SUPPLIER_PREFIX).count()
    if existing < count:
        Supplier.objects.bulk_create(
            [
                Supplier(
                    code=f"{SUPPLIER_PREFIX}{i:04d}",
                    name=f"Scale supplier {i}",
                    email=f"sales@supplier{i}.example.com",
                    lead_time_days=7 + i % 21,
                )
                for i in range(existing + 1, count + 1)
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
    return list(Supplier.objects.filter(code__startswith=SUPPLIER_PREFIX).order_by("pk").values_list("pk", flat=True))


def _ensure_price_lists(products: list[tuple], suppliers: list[int], rng: random.Random, batch_size: int) -> int:
    """One preferred supplier for every seeded product that has none (product n → supplier n mod S)."""
    covered = set(
        SupplierProduct.objects.filter(product__sku__startswith=SKU_PREFIX).values_list("product_id", flat=True)
    )
    rows = [
        SupplierProduct(
            supplier_id=suppliers[index % len(suppliers)],
            product_id=pk,
            supplier_sku=f"S-{sku}",
            unit_cost=cost,
            minimum_order_quantity=rng.choice((1, 1, 1, 6, 12, 24)),
            preferred=True,
        )
        for index, (pk, sku, _price, cost, _tax) in enumerate(products)
        if pk not in covered
    ]
    SupplierProduct.objects.bulk_create(rows, batch_size=batch_size)
    return len(rows)


class _Stock:
    """What is still available per (product, warehouse), loaded on first use; reservations to write."""

    def __init__(self, warehouses: list[int]):
        self.warehouses = warehouses
        self.available: dict[tuple[int, int], int] = {}
        self.level_ids: dict[tuple[int, int], int] = {}
        self.added: dict[int, int] = {}

    def load(self, product_ids: set[int]) -> None:
        wanted = sorted(pid for pid in product_ids if (pid, self.warehouses[0]) not in self.available)
        for start in range(0, len(wanted), 5000):
            rows = StockLevel.objects.filter(
                product_id__in=wanted[start : start + 5000], warehouse_id__in=self.warehouses
            ).values_list("pk", "product_id", "warehouse_id", "on_hand", "allocated")
            for pk, product_id, warehouse_id, on_hand, allocated in rows:
                self.available[(product_id, warehouse_id)] = on_hand - allocated
                self.level_ids[(product_id, warehouse_id)] = pk
        for pid in wanted:
            for warehouse in self.warehouses:
                self.available.setdefault((pid, warehouse), 0)

    def reserve(self, product_id: int, warehouse_id: int, quantity: int) -> int:
        key = (product_id, warehouse_id)
        if key not in self.level_ids:
            return 0
        taken = min(quantity, self.available[key])
        if taken > 0:
            self.available[key] -= taken
            level = self.level_ids[key]
            self.added[level] = self.added.get(level, 0) + taken
        return max(taken, 0)

    def write(self, batch_size: int) -> int:
        levels = list(StockLevel.objects.filter(pk__in=list(self.added)).only("pk", "allocated"))
        for level in levels:
            level.allocated += self.added[level.pk]
        StockLevel.objects.bulk_update(levels, ["allocated"], batch_size=min(batch_size, 1000))
        return sum(self.added.values())


def _chunks(count: int) -> list[range]:
    return [range(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]


def _seed_sales(
    *,
    count: int,
    lines_per_order: int,
    products: list[tuple],
    customers: list[int],
    warehouses: list[int],
    carriers: list[Carrier],
    stock: _Stock,
    rng: random.Random,
    today: date,
    batch_size: int,
    progress: Callable[[str], None],
) -> tuple[int, int, int, int]:
    ages = sorted((rng.randrange(HISTORY_DAYS) for _ in range(count)), reverse=True)  # oldest first
    numbers = next_document_numbers("SO", count)
    ship_numbers = iter(next_document_numbers("SH", count))  # at most one per order; unused ones are just skipped
    lines_written = shipments_written = backordered = 0
    for chunk in _chunks(count):
        orders: list[SalesOrder] = []
        order_lines: list[list[SalesOrderLine]] = []
        for index in chunk:
            age = ages[index]
            day = today - timedelta(days=age)
            status = _pick(SALES_MIX, age, rng)
            order = SalesOrder(
                number=numbers[index],
                customer_id=rng.choice(customers),
                warehouse_id=rng.choice(warehouses),
                status=status,
                order_date=day,
                required_date=day + timedelta(days=rng.randint(5, 21)),
                customer_reference=f"PO{rng.randint(10_000, 99_999)}" if rng.random() < 0.5 else "",
                shipping_charge=rng.choice((Decimal("0"), Decimal("0"), Decimal("9.95"), Decimal("19.50"))),
                confirmed_at=_noon(day) if status != S.DRAFT else None,
                cancelled_at=_noon(day + timedelta(days=1)) if status == S.CANCELLED else None,
            )
            lines = []
            for pk, _sku, price, _cost, tax in rng.sample(products, lines_per_order):
                quantity = rng.randint(1, 12)
                line = SalesOrderLine(
                    product_id=pk,
                    quantity=quantity,
                    unit_price=price,
                    discount_percent=rng.choice((Decimal("0"), Decimal("0"), Decimal("0"), Decimal("5"))),
                    tax_rate=tax,
                )
                if status in (S.SHIPPED, S.DELIVERED):
                    line.quantity_shipped = quantity
                lines.append(line)
            if status == S.PARTIALLY_SHIPPED:
                shipped = lines[: math.ceil(len(lines) / 2)]
                if len(shipped) == len(lines):  # one line: ship part of it
                    lines[0].quantity = max(lines[0].quantity, 2)
                    lines[0].quantity_shipped = lines[0].quantity - 1
                else:
                    for line in shipped:
                        line.quantity_shipped = line.quantity
            sales_order_amounts(order=order, lines=lines)
            orders.append(order)
            order_lines.append(lines)
        # Open orders reserve what is available now, oldest first (the chunk is in date order).
        pairs = zip(orders, order_lines, strict=True)
        open_orders = [(order, lines) for order, lines in pairs if order.status in S.OPEN]
        stock.load({line.product_id for _order, lines in open_orders for line in lines})
        for order, lines in open_orders:
            for line in lines:
                line.quantity_reserved = stock.reserve(line.product_id, order.warehouse_id, line.quantity_backordered)
        for order, lines in zip(orders, order_lines, strict=True):
            counters = sales_order_counters(status=order.status, lines=lines)
            for name, value in counters.items():
                setattr(order, name, value)
            backordered += order.backordered_quantity
        SalesOrder.objects.bulk_create(orders, batch_size=batch_size)
        for order, lines in zip(orders, order_lines, strict=True):
            for line in lines:
                line.order_id = order.pk
        SalesOrderLine.objects.bulk_create([line for lines in order_lines for line in lines], batch_size=batch_size)
        lines_written += sum(len(lines) for lines in order_lines)
        shipments, shipment_lines = [], []
        for order, lines in zip(orders, order_lines, strict=True):
            if order.status in (S.SHIPPED, S.DELIVERED, S.PARTIALLY_SHIPPED):
                sent = [(line, line.quantity_shipped) for line in lines if line.quantity_shipped]
                when = _noon(order.order_date + timedelta(days=rng.randint(1, 3)))
                delivered = order.status == S.DELIVERED or (order.status != S.SHIPPED and rng.random() < 0.5)
                status = ShipmentStatus.DELIVERED if delivered else ShipmentStatus.SHIPPED
                carrier = rng.choice(carriers)
                extra = {"shipped_at": when, "delivered_at": when + timedelta(days=2) if delivered else None}
                tracking = f"1Z{rng.randint(10**9, 10**10 - 1)}"
            elif order.status == S.CONFIRMED and rng.random() < 0.3:
                sent = [(line, line.quantity_reserved) for line in lines if line.quantity_reserved]
                status = rng.choice((ShipmentStatus.PENDING, ShipmentStatus.PACKED))
                carrier, extra, tracking = None, {}, ""
            else:
                continue
            if not sent:
                continue
            shipments.append(
                Shipment(
                    number=next(ship_numbers),
                    sales_order_id=order.pk,
                    status=status,
                    carrier=carrier,
                    tracking_number=tracking,
                    **extra,
                )
            )
            shipment_lines.append(sent)
        Shipment.objects.bulk_create(shipments, batch_size=batch_size)
        ShipmentLine.objects.bulk_create(
            [
                ShipmentLine(shipment_id=shipment.pk, sales_order_line_id=line.pk, quantity=quantity)
                for shipment, sent in zip(shipments, shipment_lines, strict=True)
                for line, quantity in sent
            ],
            batch_size=batch_size,
        )
        shipments_written += len(shipments)
        progress(f"sales orders {chunk.stop:,}/{count:,}")
    return lines_written, shipments_written, backordered, count


def _seed_purchases(
    *,
    count: int,
    lines_per_order: int,
    catalogues: dict[int, list[tuple]],
    warehouses: list[int],
    rng: random.Random,
    today: date,
    batch_size: int,
    progress: Callable[[str], None],
) -> tuple[int, int]:
    suppliers = [pk for pk, catalogue in catalogues.items() if catalogue]
    ages = sorted((rng.randrange(HISTORY_DAYS) for _ in range(count)), reverse=True)
    numbers = next_document_numbers("PO", count)
    receipt_numbers = iter(next_document_numbers("RC", count))
    lines_written = receipts_written = 0
    for chunk in _chunks(count):
        orders, order_lines = [], []
        for index in chunk:
            age = ages[index]
            day = today - timedelta(days=age)
            status = _pick(PURCHASE_MIX, age, rng)
            supplier = rng.choice(suppliers)
            catalogue = catalogues[supplier]
            lines = []
            for pk, unit_cost in rng.sample(catalogue, min(lines_per_order, len(catalogue))):
                quantity = rng.randint(1, 20) * 10
                line = PurchaseOrderLine(product_id=pk, quantity=quantity, unit_cost=unit_cost)
                line.line_total = pricing.purchase_line_total(quantity=quantity, unit_cost=unit_cost)
                if status == P.RECEIVED:
                    line.quantity_received = quantity
                elif status == P.CLOSED:
                    line.quantity_received = quantity - rng.randint(0, quantity // 2)
                lines.append(line)
            if status == P.PARTIALLY_RECEIVED:
                if len(lines) == 1:
                    lines[0].quantity_received = lines[0].quantity // 2
                else:
                    for line in lines[: len(lines) // 2]:
                        line.quantity_received = line.quantity
            orders.append(
                PurchaseOrder(
                    number=numbers[index],
                    supplier_id=supplier,
                    warehouse_id=rng.choice(warehouses),
                    status=status,
                    order_date=day,
                    expected_date=day + timedelta(days=rng.randint(7, 21)),
                    total=sum((line.line_total for line in lines), pricing.ZERO_AMOUNT),
                    sent_at=_noon(day) if status != P.DRAFT else None,
                    closed_at=_noon(day + timedelta(days=30)) if status in (P.CLOSED, P.CANCELLED) else None,
                )
            )
            order_lines.append(lines)
        PurchaseOrder.objects.bulk_create(orders, batch_size=batch_size)
        for order, lines in zip(orders, order_lines, strict=True):
            for line in lines:
                line.order_id = order.pk
        PurchaseOrderLine.objects.bulk_create([line for lines in order_lines for line in lines], batch_size=batch_size)
        lines_written += sum(len(lines) for lines in order_lines)
        receipts, receipt_lines = [], []
        for order, lines in zip(orders, order_lines, strict=True):
            received = [line for line in lines if line.quantity_received]
            if not received:
                continue
            receipts.append(
                Receipt(
                    number=next(receipt_numbers),
                    purchase_order_id=order.pk,
                    received_at=_noon(order.expected_date),
                    delivery_note=f"DN{rng.randint(100_000, 999_999)}",
                )
            )
            receipt_lines.append(received)
        Receipt.objects.bulk_create(receipts, batch_size=batch_size)
        ReceiptLine.objects.bulk_create(
            [
                ReceiptLine(receipt_id=receipt.pk, purchase_order_line_id=line.pk, quantity=line.quantity_received)
                for receipt, lines in zip(receipts, receipt_lines, strict=True)
                for line in lines
            ],
            batch_size=batch_size,
        )
        receipts_written += len(receipts)
        progress(f"purchase orders {chunk.stop:,}/{count:,}")
    return lines_written, receipts_written


@transaction.atomic
def seed_orders(
    *,
    orders: int,
    lines_per_order: int = 5,
    purchase_orders: int | None = None,
    customers: int | None = None,
    suppliers: int = 200,
    seed: int | None = 0,
    batch_size: int = 5000,
    today: date | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> OrdersSeedResult:
    """Add ``orders`` sales orders of ``lines_per_order`` lines and ``purchase_orders`` purchase orders
    (default ``orders // 5``) over the products and warehouses ``inventory.scale.seed_scale`` made.

    Customers (default ``orders // 10``, at least 10) and suppliers are created once and reused by
    later runs; numbers continue the document sequences (``SO-``, ``PO-``, ``SH-``, ``RC-``).
    """
    from django.utils import timezone

    if orders < 0 or (purchase_orders is not None and purchase_orders < 0):
        raise ValueError("order counts cannot be negative")
    if lines_per_order < 1:
        raise ValueError("lines per order must be at least 1")
    if suppliers < 1:
        raise ValueError("suppliers must be at least 1")
    purchase_orders = orders // 5 if purchase_orders is None else purchase_orders
    rng = random.Random(seed)
    today = today or timezone.localdate()
    products = list(
        Product.objects.filter(sku__startswith=SKU_PREFIX, is_active=True)
        .order_by("pk")
        .values_list("pk", "sku", "sale_price", "cost", "tax_rate")
    )
    warehouses = list(
        Warehouse.objects.filter(code__startswith=WAREHOUSE_PREFIX).order_by("pk").values_list("pk", flat=True)
    )
    if not products or not warehouses:
        raise ValueError("no seeded products or warehouses: run seed_scale with --products first")
    if lines_per_order > len(products):
        raise ValueError(f"lines per order cannot exceed the {len(products):,} seeded products")
    customer_ids = _ensure_customers(customers if customers is not None else max(orders // 10, 10))
    supplier_ids = _ensure_suppliers(suppliers)
    price_list_rows = _ensure_price_lists(products, supplier_ids, rng, batch_size)
    progress(f"{len(customer_ids):,} customers, {len(supplier_ids):,} suppliers, {price_list_rows:,} price-list rows")
    Carrier.objects.bulk_create(
        [Carrier(name=name, tracking_url_template="https://track.example.com/?n={tracking}") for name in CARRIERS],
        ignore_conflicts=True,
    )
    carriers = list(Carrier.objects.filter(name__in=CARRIERS))
    stock = _Stock(warehouses)
    sales_lines, shipments, backordered, _ = _seed_sales(
        count=orders,
        lines_per_order=lines_per_order,
        products=products,
        customers=customer_ids,
        warehouses=warehouses,
        carriers=carriers,
        stock=stock,
        rng=rng,
        today=today,
        batch_size=batch_size,
        progress=progress,
    )
    reserved = stock.write(batch_size)
    catalogues: dict[int, list[tuple]] = {pk: [] for pk in supplier_ids}
    for supplier_id, product_id, unit_cost in SupplierProduct.objects.filter(
        supplier_id__in=supplier_ids, product__sku__startswith=SKU_PREFIX
    ).values_list("supplier_id", "product_id", "unit_cost"):
        catalogues[supplier_id].append((product_id, unit_cost))
    purchase_lines, receipts = _seed_purchases(
        count=purchase_orders,
        lines_per_order=lines_per_order,
        catalogues=catalogues,
        warehouses=warehouses,
        rng=rng,
        today=today,
        batch_size=batch_size,
        progress=progress,
    )
    dashboard_changed()  # bulk inserts send no signals: drop the start page's cached figures
    return OrdersSeedResult(
        customers=len(customer_ids),
        suppliers=len(supplier_ids),
        supplier_products=price_list_rows,
        sales_orders=orders,
        sales_lines=sales_lines,
        shipments=shipments,
        purchase_orders=purchase_orders,
        purchase_lines=purchase_lines,
        receipts=receipts,
        units_reserved=reserved,
        units_backordered=backordered,
    )
