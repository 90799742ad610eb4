"""Many integrations at once, through real HTTP (issue 9 §6): the live server on loopback, token authentication,
one thread per client, PostgreSQL row locks. No timing is asserted; timeouts are generous for a loaded machine.

Every client sends an Idempotency-Key and retries on a connection error, as docs/api.md tells integrators to: the
live server's listen queue is short, so some of 50 simultaneous connections are reset before the request is read.

The 20 parallel repeats of one ``confirm`` with the same Idempotency-Key are in ``test_idempotency.py``; here the
same is done for a web shop retrying the whole create-and-confirm exchange."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from inventory.models import StockLevel
from orders.models import SalesOrder, SalesOrderLine, SalesOrderStatus
from tests.api.token_helpers import make_token
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs concurrent connections and row locks (PostgreSQL)"
    ),
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 120  # seconds per request: 50 requests queue on a 2-core machine
ATTEMPTS = 20


def post(url: str, body: dict, headers: dict[str, str], key: str) -> requests.Response:
    """POST with an Idempotency-Key, retried on connection errors and timeouts (safe: the key makes it one effect)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return requests.post(url, json=body, headers={**headers, "Idempotency-Key": key}, timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout):
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Start every job at the same moment in its own thread; returns their results (an exception is a result)."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = []
    lock = threading.Lock()

    def worker(job):
        try:
            barrier.wait(timeout=TIMEOUT)
            value = job()
        except BaseException as error:  # noqa: BLE001 - asserted on by the test
            value = error
        with lock:
            results.append(value)

    threads = [threading.Thread(target=worker, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=4 * TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a client is stuck (deadlock?)"
    return results


def check_stock_is_clean() -> None:
    output = io.StringIO()
    try:
        call_command("check_stock", stdout=output, stderr=output)
    except SystemExit:
        pytest.fail(f"check_stock found discrepancies:\n{output.getvalue()}")


@pytest.fixture
def shop(live_server, make_user, stocked_product):
    """(base URL, headers) of a Sales integration with a token; CHAI has 10 available in MAIN."""
    CustomerFactory(code="ALFKI", credit_limit=None)
    token = make_token(make_user("Sales"), name="web shop")
    return f"{live_server.url}/api/v1", {"Authorization": f"Bearer {token}"}


def test_fifty_shops_ordering_the_last_ten_units(shop, stocked_product, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = TIMEOUT  # a retry of a request still running waits for its answer
    base, auth = shop

    def order_one(number: int):
        body = {
            "customer": "ALFKI",
            "warehouse": "MAIN",
            "customer_reference": f"WEB-{number}",
            "lines": [{"product": "CHAI", "quantity": 1}],
        }
        created = post(f"{base}/sales-orders/", body, auth, key=f"web-{number}")
        if created.status_code != 201:
            return ("create", created.status_code, created.text[:300])
        order_id = created.json()["id"]
        confirmed = post(f"{base}/sales-orders/{order_id}/confirm/", {}, auth, key=f"web-{number}-confirm")
        if confirmed.status_code != 200:
            return ("confirm", confirmed.status_code, confirmed.text[:300])
        line = confirmed.json()["lines"][0]
        return (confirmed.json()["status"], line["quantity_reserved"], line["quantity_backordered"])

    results = run_together([lambda n=n: order_one(n) for n in range(50)])

    failures = [result for result in results if not isinstance(result, tuple) or result[0] != "confirmed"]
    assert not failures, failures[:5]
    assert sorted(results) == [("confirmed", 0, 1)] * 40 + [("confirmed", 1, 0)] * 10
    assert SalesOrder.objects.filter(status=SalesOrderStatus.CONFIRMED).count() == 50
    lines = SalesOrderLine.objects.filter(product=stocked_product)
    assert sum(line.quantity_reserved for line in lines) == 10
    assert sum(line.quantity_backordered for line in lines) == 40
    assert SalesOrder.objects.filter(backordered_quantity=1).count() == 40
    level = StockLevel.objects.get(product=stocked_product)
    assert (level.on_hand, level.allocated) == (10, 10)
    check_stock_is_clean()


def test_twenty_retries_of_one_create_and_confirm_make_one_order_confirmed_once(shop, stocked_product, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = TIMEOUT  # a repeat waits for the first rather than answering 409 in progress
    base, auth = shop
    body = {
        "customer": "ALFKI",
        "warehouse": "MAIN",
        "customer_reference": "WEB-42",
        "lines": [{"product": "CHAI", "quantity": 3}],
    }

    def exchange():
        created = post(f"{base}/sales-orders/", body, auth, key="web-42")
        if created.status_code != 201:
            return ("create", created.status_code, created.text[:300])
        confirmed = post(f"{base}/sales-orders/{created.json()['id']}/confirm/", {}, auth, key="web-42-confirm")
        return (
            created.content,
            created.headers.get("Idempotent-Replayed"),
            confirmed.status_code,
            confirmed.content,
            confirmed.headers.get("Idempotent-Replayed"),
        )

    results = run_together([exchange for _ in range(20)])

    failures = [result for result in results if not isinstance(result, tuple) or len(result) != 5]
    assert not failures, failures[:5]
    assert len({created for created, *_ in results}) == 1  # every retry got the first order
    assert {status for _, _, status, _, _ in results} == {200}
    assert len({confirmed for _, _, _, confirmed, _ in results}) == 1
    assert sum(1 for _, replayed, *_ in results if replayed != "true") == 1  # created once
    assert sum(1 for *_, replayed in results if replayed != "true") == 1  # confirmed once
    order = SalesOrder.objects.get()
    assert order.status == SalesOrderStatus.CONFIRMED and order.customer_reference == "WEB-42"
    assert SalesOrder.history.filter(id=order.pk, status=SalesOrderStatus.CONFIRMED).count() == 1
    assert StockLevel.objects.get(product=stocked_product).allocated == 3
    check_stock_is_clean()
