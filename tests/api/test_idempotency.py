"""Idempotency-Key on every POST under /api/v1/ (issue 9 §3): a repeat returns the first response and does
nothing more; the same key with another body is 422; keys are per user, kept 24 hours, safe under concurrency."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from backoffice.schedules import SCHEDULES
from backoffice.task_registry import is_registered
from integrations.idempotency import request_fingerprint
from integrations.models import IdempotencyKey
from integrations.tasks import idempotency_keys_cleanup_task
from inventory.models import Product
from tests.api.token_helpers import bearer, make_token
from tests.factories import CategoryFactory, CustomerFactory

PRODUCTS = "/api/v1/products/"


def product_body(sku="IDEM-1", name="Idempotent tea"):
    return {"sku": sku, "name": name, "category": CategoryFactory().pk, "sale_price": "5.00", "cost": "2.00"}


def post(client, token, path, body, key=None):
    extra = bearer(token)
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def boss_token(make_user):
    return make_token(make_user(superuser=True, username="root"))


def test_a_repeat_with_the_same_key_returns_the_first_response_and_creates_nothing_more(client, boss_token):
    body = product_body()

    first = post(client, boss_token, PRODUCTS, body, key="order-42")
    second = post(client, boss_token, PRODUCTS, body, key="order-42")

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Product.objects.filter(sku="IDEM-1").count() == 1


def test_the_same_key_with_a_different_body_is_422_and_writes_nothing(client, boss_token):
    post(client, boss_token, PRODUCTS, product_body(), key="k-1")

    reused = post(client, boss_token, PRODUCTS, product_body(sku="IDEM-2"), key="k-1")

    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert not Product.objects.filter(sku="IDEM-2").exists()


def test_without_a_key_every_post_runs(client, boss_token):
    assert post(client, boss_token, PRODUCTS, product_body(sku="A-1")).status_code == 201
    assert post(client, boss_token, PRODUCTS, product_body(sku="A-1")).status_code == 400  # the sku is taken
    assert not IdempotencyKey.objects.exists()


def test_keys_are_per_user(client, make_user, boss_token):
    other = make_token(make_user(superuser=True, username="other"))

    post(client, boss_token, PRODUCTS, product_body(sku="U-1"), key="same-key")
    theirs = post(client, other, PRODUCTS, product_body(sku="U-2"), key="same-key")

    assert theirs.status_code == 201
    assert set(Product.objects.filter(sku__startswith="U-").values_list("sku", flat=True)) == {"U-1", "U-2"}


def test_a_validation_error_is_replayed_too(client, boss_token):
    bad = {"sku": "", "name": "No sku"}

    first = post(client, boss_token, PRODUCTS, bad, key="bad-1")
    second = post(client, boss_token, PRODUCTS, bad, key="bad-1")

    assert first.status_code == 400
    assert second.status_code == 400 and second.json() == first.json()


def test_a_refused_request_does_not_use_up_the_key(client, make_user):
    user = make_user("Viewer")
    token = make_token(user)
    body = product_body(sku="P-1")

    refused = post(client, token, PRODUCTS, body, key="perm-1")
    user.user_permissions.add(Permission.objects.get(codename="add_product"))
    allowed = post(client, token, PRODUCTS, body, key="perm-1")

    assert refused.status_code == 403
    assert allowed.status_code == 201
    assert Product.objects.filter(sku="P-1").exists()


def test_a_repeat_while_the_first_is_still_running_gets_409_in_progress(client, admin_user, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2
    token = make_token(admin_user)
    body = json.dumps(product_body(sku="R-1")).encode()
    IdempotencyKey.objects.create(
        user=admin_user, key="running", fingerprint=request_fingerprint("POST", PRODUCTS, "application/json", body)
    )

    response = client.post(
        PRODUCTS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="running", **bearer(token)
    )

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert not Product.objects.filter(sku="R-1").exists()


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there"])
def test_an_unusable_key_is_400(client, boss_token, key):
    response = post(client, boss_token, PRODUCTS, product_body(sku="K-1"), key=key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not Product.objects.filter(sku="K-1").exists()


def test_keys_older_than_24_hours_are_deleted_by_the_scheduled_task(admin_user):
    old = IdempotencyKey.objects.create(user=admin_user, key="old", fingerprint="x")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    fresh = IdempotencyKey.objects.create(user=admin_user, key="fresh", fingerprint="x")

    assert idempotency_keys_cleanup_task() == "1 idempotency keys deleted"

    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]
    func = "integrations.tasks.idempotency_keys_cleanup_task"
    assert func in [spec["func"] for spec in SCHEDULES] and is_registered(func)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_repeats_of_one_confirm_have_one_effect(
    live_server, django_user_model, warehouse, stocked_product
):
    from inventory.models import StockLevel
    from orders.models import SalesOrder, SalesOrderStatus
    from orders.services import sales_order_create, sales_order_line_add

    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-Secret-123")
    token = make_token(user)
    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
    sales_order_line_add(order=order, product=stocked_product, quantity=3, user=user)
    url = f"{live_server.url}/api/v1/sales-orders/{order.pk}/confirm/"
    barrier = threading.Barrier(20)
    answers: list[tuple[int, bytes, str | None]] = []
    lock = threading.Lock()

    def confirm():
        request = urllib.request.Request(
            url,
            data=b"{}",
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": "confirm-once",
            },
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = (response.status, response.read(), response.headers.get("Idempotent-Replayed"))
        except urllib.error.HTTPError as error:
            answer = (error.code, error.read(), error.headers.get("Idempotent-Replayed"))
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=confirm) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == 20
    assert {status for status, _, _ in answers} == {200}, [a[:2] for a in answers if a[0] != 200][:3]
    assert len({body for _, body, _ in answers}) == 1  # everyone got the first response
    assert sum(1 for _, _, replayed in answers if replayed != "true") == 1  # the view ran once
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.CONFIRMED
    assert StockLevel.objects.get(product=stocked_product, warehouse=warehouse).allocated == 3
    assert SalesOrder.history.filter(id=order.pk, status=SalesOrderStatus.CONFIRMED).count() == 1
    assert IdempotencyKey.objects.filter(key="confirm-once").count() == 1
