"""Every ``/api/v1/`` list runs a bounded number of queries whatever the number of rows (issue 9 §3, §6): the same
count for 3 rows and for 30 (no N+1), and at most ``MAX_QUERIES``, through token authentication as an integration
would call it, for a user who sees every warehouse and for warehouse staff (scoped)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import MovementKind, StockTransferLine
from inventory.services import StockLine, stock_receive, stock_transfer_apply, stock_transfer_create
from orders.services import (
    purchase_order_create,
    purchase_order_line_add,
    purchase_order_send,
    receipt_create,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
    shipment_create,
)
from tests.api.token_helpers import bearer, make_token
from tests.factories import (
    CarrierFactory,
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    SupplierFactory,
    SupplierProductFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

MAX_QUERIES = 15
TOKEN_USE = 'UPDATE "integrations_apitoken" SET "last_used_at"'
#: Every list of the router, plus the report list.
LISTS = [
    "products",
    "categories",
    "warehouses",
    "suppliers",
    "supplier-products",
    "stock-levels",
    "stock-movements",
    "stock-transfers",
    "customers",
    "carriers",
    "sales-orders",
    "purchase-orders",
    "receipts",
    "shipments",
    "reports",
]


def build(count: int, warehouse, north, user) -> None:
    """``count`` more rows of every kind, documents with two lines each, all in ``warehouse``."""
    carrier = CarrierFactory()
    for _ in range(count):
        category = CategoryFactory()
        first, second = ProductFactory(category=category), ProductFactory(category=category)
        WarehouseFactory()
        supplier = SupplierFactory()
        SupplierProductFactory(supplier=supplier, product=first)
        CarrierFactory()
        stock_receive(
            lines=[StockLine(p.pk, warehouse.pk, 10, Decimal("2.00")) for p in (first, second)],
            kind=MovementKind.OPENING,
        )
        transfer = stock_transfer_create(from_warehouse=warehouse, to_warehouse=north, user=user)
        StockTransferLine.objects.bulk_create(
            [StockTransferLine(transfer=transfer, product=p, quantity=1) for p in (first, second)]
        )
        stock_transfer_apply(transfer=transfer, user=user)

        order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
        for product in (first, second):
            sales_order_line_add(order=order, product=product, quantity=2, user=user)
        sales_order_confirm(order=order, user=user)
        shipment_create(sales_order=order, user=user, carrier=carrier, tracking_number="T")

        purchase = purchase_order_create(supplier=supplier, warehouse=warehouse, user=user)
        for product in (first, second):
            purchase_order_line_add(order=purchase, product=product, quantity=5, user=user)
        purchase_order_send(order=purchase, user=user)
        receipt_create(purchase_order=purchase, lines=[(line, 2) for line in purchase.lines.all()], user=user)


def count_queries(client, auth, prefix: str) -> tuple[int, int, list[str]]:
    """(queries, rows on the page, the SQL) of one list page of 200."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/{prefix}/", {"page_size": 200}, **auth)
    assert response.status_code == 200, (prefix, response.content[:300])
    body = response.json()
    rows = len(body) if isinstance(body, list) else len(body["results"])
    # The token's last use is recorded at most once a minute, whatever is asked: not the list's cost.
    sql = [query["sql"] for query in captured.captured_queries if not query["sql"].startswith(TOKEN_USE)]
    return len(sql), rows, sql


def test_every_list_endpoint_is_measured():
    from backoffice.api_urls import router

    assert {prefix for prefix, _viewset, _basename in router.registry} | {"reports"} == set(LISTS)


@pytest.mark.parametrize("role", ["Manager", "Warehouse"])
def test_lists_run_the_same_bounded_number_of_queries_for_3_and_30_rows(client, make_user, warehouse, role):
    north = WarehouseFactory(code="NORTH")
    builder = make_user(superuser=True, username="builder")
    user = make_user(role)
    warehouse.staff.add(user)
    auth = bearer(make_token(user))

    build(3, warehouse, north, builder)
    small = {prefix: count_queries(client, auth, prefix) for prefix in LISTS}
    build(27, warehouse, north, builder)
    large = {prefix: count_queries(client, auth, prefix) for prefix in LISTS}

    for prefix in LISTS:
        if prefix != "reports" and not (role == "Warehouse" and prefix == "warehouses"):  # staff see their own
            assert large[prefix][1] > small[prefix][1] >= 3, (prefix, small[prefix][1], large[prefix][1])
    grows = {prefix: (small[prefix][0], large[prefix][0]) for prefix in LISTS if small[prefix][0] != large[prefix][0]}
    assert not grows, f"queries grow with the rows (3 rows, 30 rows): {grows}\n" + "\n".join(
        large[next(iter(grows))][2]
    )
    too_many = {prefix: large[prefix][0] for prefix in LISTS if large[prefix][0] > MAX_QUERIES}
    assert not too_many, f"more than {MAX_QUERIES} queries: {too_many}\n" + "\n".join(large[next(iter(too_many))][2])


def test_the_ledger_is_never_counted(client, make_user, warehouse):
    north = WarehouseFactory(code="NORTH")
    user = make_user("Manager")
    build(3, warehouse, north, user)

    _queries, _rows, sql = count_queries(client, bearer(make_token(user)), "stock-movements")

    assert not [query for query in sql if "COUNT(" in query.upper() and "stock" in query.lower()]
