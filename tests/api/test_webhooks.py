"""Outbound webhooks (issue 9 §4) against a real HTTP receiver on loopback: signed deliveries after commit,
retries with backoff on errors, every attempt logged, Redeliver, refused targets in production."""

from __future__ import annotations

import ast
import json
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from integrations import webhooks
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.tasks import deliver_webhook_task
from orders.services import sales_order_confirm, sales_order_create, sales_order_line_add
from tests.factories import CustomerFactory

SECRET = "whsec_test-secret"


class Receiver:
    """A webhook endpoint on 127.0.0.1 answering with the queued statuses (then 200), recording each request."""

    def __init__(self, statuses=(), delay=0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/backoffice"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(statuses=(), delay=0.0):
        made.append(Receiver(statuses, delay))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture(autouse=True)
def _tasks_run_inline(monkeypatch, settings):
    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 runs queued tasks in this process
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver is on loopback


def subscribe(url, events=("sales_order.confirmed",), active=True):
    return WebhookSubscription.objects.create(
        name="shop", target_url=url, events=list(events), is_active=active, secret=SECRET
    )


@pytest.fixture
def draft_order(warehouse, stocked_product, admin_user):
    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=admin_user)
    sales_order_line_add(order=order, product=stocked_product, quantity=2, user=admin_user)
    return order


def confirm(order, user, capture):
    with capture(execute=True):
        sales_order_confirm(order=order, user=user)


def test_a_confirmed_order_is_delivered_signed_to_the_subscriber(
    receiver, draft_order, admin_user, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscription = subscribe(hook.url)

    confirm(draft_order, admin_user, django_capture_on_commit_callbacks)

    assert len(hook.requests) == 1
    request = hook.requests[0]
    payload = json.loads(request["body"])
    assert set(payload) == {"id", "event", "created_at", "data"}
    assert payload["event"] == "sales_order.confirmed"
    assert payload["data"]["order"] == draft_order.number
    assert request["path"] == "/hooks/backoffice"
    assert request["headers"]["Content-Type"] == "application/json"
    signature = request["headers"]["X-Backoffice-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
    assert webhooks.verify_signature(SECRET, request["body"], signature)
    assert not webhooks.verify_signature("whsec_other", request["body"], signature)
    assert not webhooks.verify_signature(SECRET, request["body"] + b" ", signature)
    assert not webhooks.verify_signature(SECRET, request["body"], signature, now=time.time() + 301)  # a replay
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 1
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == 200 and attempt.error == ""


def test_a_500_is_retried_later_and_every_attempt_is_logged(
    receiver, draft_order, admin_user, django_capture_on_commit_callbacks
):
    hook = receiver(statuses=[500])
    subscribe(hook.url)

    confirm(draft_order, admin_user, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    retry = Schedule.objects.get(func="integrations.tasks.deliver_webhook_task")
    assert timedelta(seconds=25) < retry.next_run - timezone.now() < timedelta(seconds=35)
    # What the scheduler runs when the retry is due:
    deliver_webhook_task(*ast.literal_eval(retry.args), **ast.literal_eval(retry.kwargs))

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2
    assert [(a.number, a.status_code, a.error) for a in delivery.attempt_log.all()] == [
        (1, 500, "HTTP 500"),
        (2, 200, ""),
    ]
    assert len(hook.requests) == 2
    assert json.loads(hook.requests[0]["body"])["id"] == json.loads(hook.requests[1]["body"])["id"]


def test_nothing_is_delivered_when_the_transaction_rolls_back(
    receiver, draft_order, admin_user, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscribe(hook.url)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        sales_order_confirm(order=draft_order, user=admin_user)
        raise RuntimeError("something later in the same transaction failed")

    assert hook.requests == []
    assert not WebhookDelivery.objects.exists()


def test_only_active_subscriptions_to_the_event_receive_it(
    receiver, draft_order, admin_user, django_capture_on_commit_callbacks
):
    wanted, other_event, inactive = receiver(), receiver(), receiver()
    subscribe(wanted.url)
    subscribe(other_event.url, events=["shipment.shipped"])
    subscribe(inactive.url, active=False)

    confirm(draft_order, admin_user, django_capture_on_commit_callbacks)

    assert len(wanted.requests) == 1 and other_event.requests == [] and inactive.requests == []


def test_shipping_and_delivering_send_their_events(
    receiver, draft_order, admin_user, django_capture_on_commit_callbacks
):
    from orders.services import shipment_create, shipment_deliver, shipment_ship

    hook = receiver()
    subscribe(hook.url, events=["shipment.shipped", "shipment.delivered"])
    with django_capture_on_commit_callbacks(execute=True):
        sales_order_confirm(order=draft_order, user=admin_user)
        shipment = shipment_create(sales_order=draft_order, user=admin_user)
        shipment_ship(shipment=shipment, user=admin_user, tracking_number="TRACK-1")
        shipment_deliver(shipment=shipment, user=admin_user)

    events = [json.loads(r["body"]) for r in hook.requests]
    assert [e["event"] for e in events] == ["shipment.shipped", "shipment.delivered"]
    assert events[0]["data"]["tracking_number"] == "TRACK-1"
    assert events[1]["data"]["shipment"] == shipment.number


def test_a_timeout_is_an_error_that_is_retried(
    receiver, draft_order, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
    hook = receiver(delay=1.0)
    subscribe(hook.url)

    confirm(draft_order, admin_user, django_capture_on_commit_callbacks)

    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert attempt.status_code is None and "timed out" in attempt.error.lower()
    assert Schedule.objects.filter(func="integrations.tasks.deliver_webhook_task").exists()


def test_after_the_last_attempt_the_delivery_is_failed_and_not_retried(receiver, admin_user):
    hook = receiver(statuses=[503])
    subscription = subscribe(hook.url)
    payload = webhooks.event_payload("sales_order.confirmed", {"order": "SO-1"})
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event=payload["event"], event_id=payload["id"], payload=payload
    )

    outcome = deliver_webhook_task(delivery.pk, attempt=webhooks.MAX_ATTEMPTS)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "failed after 6 attempts" in outcome
    assert not Schedule.objects.exists()
    assert webhooks.MAX_ATTEMPTS >= 5 and 3000 <= sum(webhooks.RETRY_DELAYS) <= 4500  # ≥ 5 attempts over ~1 h


def test_backoff_grows():
    delays = [webhooks.retry_delay(n) for n in range(1, webhooks.MAX_ATTEMPTS)]
    assert delays == sorted(delays) and delays[0] < delays[-1]


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://example.com/hook", "Only https"),
        ("https://127.0.0.1/hook", "loopback, private or reserved"),
        ("https://localhost/hook", "loopback, private or reserved"),
        ("https://10.1.2.3/hook", "loopback, private or reserved"),
        ("https://192.168.0.10/hook", "loopback, private or reserved"),
        ("https://169.254.169.254/latest/meta-data", "loopback, private or reserved"),
        ("https://[::1]/hook", "loopback, private or reserved"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback, private or reserved"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("ftp://example.com/hook", "https://"),
    ],
)
def test_production_refuses_plain_http_loopback_and_private_targets(settings, url, reason):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(webhooks.UnsafeTarget, match=reason):
        webhooks.resolve_target(url)


def test_the_target_is_checked_again_at_send_time(receiver, admin_user, settings):
    """A host that resolved to a public address when saved may point at a private one later (DNS rebinding)."""
    hook = receiver()
    subscription = subscribe(hook.url)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    payload = webhooks.event_payload("sales_order.confirmed", {"order": "SO-1"})
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event=payload["event"], event_id=payload["id"], payload=payload
    )

    deliver_webhook_task(delivery.pk, attempt=1)

    assert hook.requests == []
    assert "UnsafeTarget" in delivery.attempt_log.get().error


def test_admin_creates_a_subscription_shows_the_secret_once_and_refuses_private_targets(
    admin_client, receiver, settings
):
    hook = receiver()
    page = admin_client.post(
        "/admin/integrations/webhooksubscription/add/",
        {"name": "shop", "target_url": hook.url, "events": ["sales_order.confirmed", "report.sent"], "is_active": "on"},
    )

    secret = re.search(r'id="secret-value"[^>]*>(whsec_[\w-]+)<', page.content.decode()).group(1)
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == secret and subscription.events == ["sales_order.confirmed", "report.sent"]
    change = admin_client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/")
    assert secret not in change.content.decode()

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    refused = admin_client.post(
        "/admin/integrations/webhooksubscription/add/",
        {"name": "evil", "target_url": "https://127.0.0.1/x", "events": ["report.sent"], "is_active": "on"},
    )
    assert refused.status_code == 200
    assert "loopback, private or reserved" in refused.content.decode()
    assert WebhookSubscription.objects.count() == 1


def test_redeliver_action_sends_a_delivery_again(
    admin_client, receiver, draft_order, admin_user, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscribe(hook.url)
    confirm(draft_order, admin_user, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/integrations/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.pk]}
        )

    assert len(hook.requests) == 2
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == WebhookDelivery.Status.DELIVERED
    page = admin_client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "Redeliver" in admin_client.get("/admin/integrations/webhookdelivery/").content.decode()
    assert page.count("200") >= 2
