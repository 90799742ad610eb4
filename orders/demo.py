"""Load Northwind's customers, shippers, orders and on-order quantities as demo data.

Runs after ``inventory.demo.load_inventory`` (products, warehouse MAIN, opening
stock). Idempotent: customers and carriers are matched by code and name,
orders by number (``SO-0`` + the Northwind order id), on-order purchase
orders by supplier and reference.

* Orders with a ``shippedDate`` are history: delivered, with a shipment dated
  on that day by the ``shipVia`` carrier and no stock movement (they precede
  the opening balance).
* Orders without one are confirmed open orders: they reserve the opening
  stock oldest first; what is short is backordered. Discontinued products
  stay on them (confirmed orders are honoured).
* Each supplier's ``unitsOnOrder`` become one sent purchase order.
* Dates shift so that the newest order was placed yesterday (``shift=False``
  keeps 1996–1998).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from inventory.demo import product_sku, read_rows, supplier_code
from inventory.models import Product, Supplier, Warehouse
from orders.importing import customers_import, sales_orders_import
from orders.models import Carrier, Customer, PurchaseOrder, SalesOrder
from orders.services import purchase_order_create, purchase_order_line_add, purchase_order_send

ON_ORDER_REFERENCE = "NW-ON-ORDER"
HUNDRED = Decimal("100")


def order_number(order_id: str | int) -> str:
    return f"SO-{int(order_id):06d}"


def _day(value: str) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _address(row: dict[str, str]) -> str:
    return ", ".join(filter(None, [row["address"], row["city"], row["region"], row["postalCode"], row["country"]]))


def _load_customers(data_dir: Path, user) -> int:
    existing = set(Customer.objects.values_list("code", flat=True))
    rows = [
        {
            "code": row["customerID"],
            "name": row["companyName"],
            "contact_name": row["contactName"],
            "phone": row["phone"],
            "billing_address": _address(row),
            "shipping_address": _address(row),
            "country": row["country"],
        }
        for row in read_rows(data_dir / "customers.csv")
        if row["customerID"].upper() not in existing
    ]
    return customers_import(rows=rows, user=user).created if rows else 0


def _load_carriers(data_dir: Path) -> dict[str, Carrier]:
    carriers = {}
    for row in read_rows(data_dir / "shippers.csv"):
        slug = row["companyName"].lower().replace(" ", "-")
        carrier, _ = Carrier.objects.get_or_create(
            name=row["companyName"],
            defaults={"phone": row["phone"], "tracking_url_template": f"https://track.example.com/{slug}/{{tracking}}"},
        )
        carriers[row["shipperID"]] = carrier
    return carriers


def _load_sales_orders(data_dir: Path, carriers: dict[str, Carrier], shift: timedelta, user) -> tuple[int, int]:
    orders = {row["orderID"]: row for row in read_rows(data_dir / "orders.csv")}
    existing = set(SalesOrder.objects.filter(number__startswith="SO-").values_list("number", flat=True))

    def moved(value: str) -> date | None:
        day = _day(value)
        return day + shift if day else None

    rows = []
    for detail in read_rows(data_dir / "order-details.csv"):
        order = orders[detail["orderID"]]
        number = order_number(order["orderID"])
        if number in existing:
            continue
        shipped = moved(order["shippedDate"])
        rows.append(
            {
                "order_number": number,
                "customer": order["customerID"],
                "warehouse": "MAIN",
                "status": "delivered" if shipped else "confirmed",
                "order_date": moved(order["orderDate"]),
                "required_date": moved(order["requiredDate"]),
                "shipped_date": shipped,
                "carrier": carriers[order["shipVia"]].name if shipped and order["shipVia"] in carriers else "",
                "shipping_charge": order["freight"] or "0",
                "sku": product_sku(detail["productID"]),
                "quantity": detail["quantity"],
                "unit_price": detail["unitPrice"],
                "discount_percent": Decimal(detail["discount"] or "0") * HUNDRED,
            }
        )
    if not rows:
        return 0, 0
    result = sales_orders_import(rows=rows, user=user)
    return result.created, result.lines


def _load_purchase_orders(data_dir: Path, order_date: date, user) -> int:
    """One sent PO per supplier for Northwind's unitsOnOrder (active products only)."""
    on_order: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in read_rows(data_dir / "products.csv"):
        quantity = int(row["unitsOnOrder"] or 0)
        if quantity > 0 and row["supplierID"]:
            on_order[supplier_code(row["supplierID"])].append((product_sku(row["productID"]), quantity))
    warehouse = Warehouse.objects.get(code="MAIN")
    done = set(
        PurchaseOrder.objects.filter(supplier_reference=ON_ORDER_REFERENCE).values_list("supplier__code", flat=True)
    )
    products = {
        p.sku: p for p in Product.objects.filter(sku__in=[sku for lines in on_order.values() for sku, _ in lines])
    }
    created = 0
    for supplier in Supplier.objects.filter(code__in=set(on_order) - done).order_by("code"):
        lines = [(products[sku], quantity) for sku, quantity in on_order[supplier.code] if products[sku].is_active]
        if not lines:
            continue
        order = purchase_order_create(
            supplier=supplier,
            warehouse=warehouse,
            user=user,
            order_date=order_date,
            supplier_reference=ON_ORDER_REFERENCE,
        )
        for product, quantity in lines:
            purchase_order_line_add(order=order, product=product, quantity=quantity, user=user)
        purchase_order_send(order=order, user=user)
        created += 1
    return created


@transaction.atomic
def load_orders(data_dir: Path, *, shift: bool = True, user=None, today: date | None = None) -> dict[str, int]:
    """Customers, carriers, sales orders (history + open) and on-order purchase orders."""
    newest = max(_day(row["orderDate"]) for row in read_rows(data_dir / "orders.csv"))
    today = today or timezone.localdate()
    offset = (today - timedelta(days=1)) - newest if shift else timedelta(0)
    customers = _load_customers(data_dir, user)
    carriers = _load_carriers(data_dir)
    orders, lines = _load_sales_orders(data_dir, carriers, offset, user)
    purchase_orders = _load_purchase_orders(data_dir, newest + offset + timedelta(days=1), user)
    return {
        "customers": customers,
        "carriers": len(carriers),
        "sales_orders": orders,
        "sales_lines": lines,
        "purchase_orders": purchase_orders,
    }
