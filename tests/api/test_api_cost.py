"""What makes the API cheaper per request (benchmarks/api.py, issue 9 §7) changes nothing a client sees:
an order created over the API is priced before its lines are written (one history row per new line), the
order's validation skips only what the services already checked, idempotency claims outside a transaction
behave as inside one, and the Redis cache reuses its client."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import IdempotencyKey
from orders import services
from orders.models import SalesOrder, SalesOrderLine
from tests.api.token_helpers import bearer, make_token
from tests.factories import CustomerFactory, ProductFactory

ORDERS = "/api/v1/sales-orders/"


def order_body(**overrides):
    return {"customer": "ALFKI", "warehouse": "MAIN", "lines": [{"product": "CHAI", "quantity": 3}]} | overrides


def post(client, token, path, body, key=None):
    extra = bearer(token) | ({"HTTP_IDEMPOTENCY_KEY": key} if key else {})
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


@pytest.mark.django_db
def test_lines_added_to_a_new_order_are_written_priced_with_one_history_row_each(make_user, stocked_product):
    user = make_user(superuser=True)
    customer = CustomerFactory(code="ALFKI")
    other = ProductFactory(sku="TEA", sale_price=Decimal("4.50"), tax_rate=Decimal("10.00"))
    warehouse = stocked_product.stock_levels.get().warehouse
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=user)

    services.sales_order_lines_add(
        order=order,
        lines=[{"product": stocked_product, "quantity": 3}, {"product": other, "quantity": 2, "discount_percent": 10}],
        user=user,
    )

    order.refresh_from_db()
    lines = list(order.lines.order_by("id"))
    _, expected = services.sales_order_preview(
        customer=customer,
        warehouse=order.warehouse,
        lines=[
            services.PreviewLine(stocked_product, 3),
            services.PreviewLine(other, 2, discount_percent=Decimal("10")),
        ],
    )
    amounts = ("tax_rate", "net_amount", "tax_amount", "total_amount")
    assert [[getattr(line, name) for name in amounts] for line in lines] == [
        [getattr(line, name) for name in amounts] for line in expected
    ]
    assert (lines[1].net_amount, lines[1].tax_amount, lines[1].total_amount) == (
        Decimal("8.10"),
        Decimal("0.81"),
        Decimal("8.91"),
    )
    assert order.subtotal == sum(line.net_amount for line in lines)
    assert order.total == sum(line.total_amount for line in lines) + order.shipping_charge
    assert (order.line_count, order.total_quantity, order.backordered_quantity) == (2, 5, 0)
    for line in lines:
        history = list(line.history.all())
        assert len(history) == 1 and history[0].history_type == "+" and history[0].history_user == user
        assert history[0].total_amount == line.total_amount


@pytest.mark.django_db
def test_adding_lines_to_an_order_with_lines_reprices_the_others(make_user, stocked_product):
    user = make_user(superuser=True)
    customer = CustomerFactory(code="ALFKI")
    warehouse = stocked_product.stock_levels.get().warehouse
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=user, discount_percent=0)
    services.sales_order_lines_add(order=order, lines=[{"product": stocked_product, "quantity": 1}], user=user)
    services.sales_order_update(order=order, user=user, discount_percent=Decimal("50"))
    second = ProductFactory(sku="TEA", sale_price=Decimal("10.00"), tax_rate=Decimal("0"))

    services.sales_order_lines_add(order=order, lines=[{"product": second, "quantity": 1}], user=user)

    order.refresh_from_db()
    first, added = order.lines.order_by("id")
    assert first.net_amount == Decimal("9.00") and added.net_amount == Decimal("5.00")
    assert order.subtotal == Decimal("14.00") and (order.line_count, order.total_quantity) == (2, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [({"discount_percent": Decimal("100.01")}, "between 0 and 100"), ({"shipping_charge": Decimal("-1")}, "negative")],
)
def test_the_order_check_constraints_are_refused_with_the_services_message(
    make_user, stocked_product, changes, message
):
    from backoffice.errors import ValidationFailed

    user = make_user(superuser=True)
    order = services.sales_order_create(
        customer=CustomerFactory(code="ALFKI"), warehouse=stocked_product.stock_levels.get().warehouse, user=user
    )
    with pytest.raises(ValidationFailed, match=message):
        services.sales_order_update(order=order, user=user, **changes)
    with pytest.raises(ValidationFailed, match=message):
        services.sales_order_create(customer=order.customer, warehouse=order.warehouse, user=user, **changes)


@pytest.mark.django_db
def test_a_huge_order_total_is_refused_before_anything_is_written(make_user, stocked_product):
    from backoffice.errors import ValidationFailed

    user = make_user(superuser=True)
    order = services.sales_order_create(
        customer=CustomerFactory(code="ALFKI"), warehouse=stocked_product.stock_levels.get().warehouse, user=user
    )
    with pytest.raises(ValidationFailed, match="order total"):
        services.sales_order_lines_add(
            order=order,
            lines=[{"product": stocked_product, "quantity": 1_000_000, "unit_price": Decimal("999999999")}],
            user=user,
        )
    assert not SalesOrderLine.objects.filter(order=order).exists()


@pytest.mark.django_db
def test_an_api_order_create_and_confirm_run_a_bounded_number_of_queries(client, make_user, stocked_product):
    CustomerFactory(code="ALFKI")
    token = make_token(make_user(superuser=True))
    post(client, token, ORDERS, order_body(), key="warm-up")  # first use: permissions, content types

    with CaptureQueriesContext(connection) as created:
        response = post(client, token, ORDERS, order_body(), key="create-1")
    assert response.status_code == 201, response.json()
    with CaptureQueriesContext(connection) as confirmed:
        answer = post(client, token, f"{ORDERS}{response.json()['id']}/confirm/", {}, key="confirm-1")
    assert answer.status_code == 200, answer.json()

    # Was 54 + 27 (81) on PostgreSQL before the order was priced before its lines were written and the
    # services' own checks stood in for full_clean's queries; savepoints count here (tests run in a
    # transaction), so the figures are higher than benchmarks/api.py's.
    assert len(created) <= 32, [query["sql"][:120] for query in created]
    assert len(confirmed) <= 24, [query["sql"][:120] for query in confirmed]
    assert SalesOrder.objects.get(pk=response.json()["id"]).status == "confirmed"


@pytest.mark.django_db(transaction=True)
def test_idempotency_claims_in_autocommit_replay_and_refuse_a_different_body(client, make_user, stocked_product):
    """Requests outside a transaction (as under gunicorn): the claim is a single committed INSERT."""
    CustomerFactory(code="ALFKI")
    token = make_token(make_user(superuser=True))
    assert not connection.in_atomic_block

    first = post(client, token, ORDERS, order_body(), key="auto-1")
    again = post(client, token, ORDERS, order_body(), key="auto-1")
    other = post(client, token, ORDERS, order_body(customer_reference="X"), key="auto-1")

    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert SalesOrder.objects.count() == 1
    assert IdempotencyKey.objects.get(key="auto-1").completed_at is not None


def test_the_redis_cache_reuses_one_client_per_pool():
    from backoffice.redis_cache import RedisCache

    cache = RedisCache(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0", {})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client
    assert cache._cache._pools[0] is client.connection_pool


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_the_configured_redis_cache_stores_reads_and_counts():
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"] == "backoffice.redis_cache.RedisCache"
    cache.set("api-cost-test", {"n": 1}, 30)
    assert cache.get("api-cost-test") == {"n": 1}
    assert cache.incr("api-cost-test-n", 1) if cache.add("api-cost-test-n", 0, 30) else True
    cache.delete_many(["api-cost-test", "api-cost-test-n"])
    assert cache.get("api-cost-test") is None
