"""/metrics: Prometheus text for the token holder or an allowed address; our counters move."""

from __future__ import annotations

import pytest
from django.urls import reverse
from prometheus_client import REGISTRY

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef"
OUTSIDE = "203.0.113.7"


@pytest.fixture
def protected(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1"]
    return settings


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_token_opens_metrics(client, protected):
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR=OUTSIDE)

    assert response.status_code == 200
    body = response.content.decode()
    assert "django_http_requests_latency_seconds_by_view_method" in body
    assert 'django_db_execute_total{alias="default"' in body  # query counts from the database wrapper
    assert "backoffice_orders_confirmed_total" in body


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer ", "Bearer tökén", "Bearer \U0001f511"]
)
def test_without_the_token_an_outside_address_is_refused(client, protected, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.get(reverse("metrics"), REMOTE_ADDR=OUTSIDE, **extra)

    assert response.status_code == 403
    assert b"backoffice_" not in response.content


def test_loopback_is_allowed_without_token(client, protected):
    assert client.get(reverse("metrics"), REMOTE_ADDR="127.0.0.1").status_code == 200


def test_a_request_proxied_from_outside_is_not_taken_for_loopback(client, protected):
    """Behind nginx on the same host REMOTE_ADDR is 127.0.0.1 for everyone."""
    response = client.get(reverse("metrics"), REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)

    assert response.status_code == 403


def test_no_token_configured_means_no_token_accepted(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR=OUTSIDE).status_code == 403
    assert client.get(reverse("metrics"), REMOTE_ADDR="10.1.2.3").status_code == 200


def test_confirming_an_order_moves_the_counter(
    stocked_product, warehouse, make_user, client, protected, django_capture_on_commit_callbacks
):
    from orders.services import sales_order_confirm, sales_order_create, sales_order_line_add
    from tests.factories import CustomerFactory

    user = make_user("Sales")
    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
    sales_order_line_add(order=order, product=stocked_product, quantity=2, user=user)
    before = sample("backoffice_orders_confirmed_total")

    with django_capture_on_commit_callbacks(execute=True):
        sales_order_confirm(order=order, user=user)

    assert sample("backoffice_orders_confirmed_total") == before + 1
    body = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert f"backoffice_orders_confirmed_total {before + 1}" in body


def test_check_stock_counts_discrepancies(stocked_product, warehouse):
    from django.core.management import call_command

    from inventory.models import StockLevel

    StockLevel.objects.filter(product=stocked_product).update(on_hand=7)  # ledger says 10
    before = sample("backoffice_stock_discrepancies_found_total")

    with pytest.raises(SystemExit):
        call_command("check_stock", stdout=None, stderr=None)

    assert sample("backoffice_stock_discrepancies_found_total") == before + 1


def test_a_failed_task_is_counted(settings):
    from backoffice.alerts import task_finished

    settings.ADMINS = []
    before = sample("backoffice_task_failures_total", func="inventory.tasks.check_stock_task")

    task_finished(sender="django_q", task={"func": "inventory.tasks.check_stock_task", "success": False, "result": "x"})
    task_finished(sender="django_q", task={"func": "inventory.tasks.check_stock_task", "success": True, "result": 0})

    assert sample("backoffice_task_failures_total", func="inventory.tasks.check_stock_task") == before + 1
