"""Outbound webhooks: signed JSON deliveries of business events, retried with backoff.

``backoffice.events.business_event`` sends ``event_committed`` after the
transaction commits; ``on_business_event`` creates one ``WebhookDelivery`` per
active subscription to that event and queues ``integrations.tasks.deliver_webhook_task``.

Each attempt POSTs ``{"id", "event", "created_at", "data"}`` with
``X-Backoffice-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
A connection error, a timeout or a non-2xx answer is retried after
``RETRY_DELAYS`` (30 s, 2 min, 5 min, 15 min, 40 min: six attempts over about
an hour), each attempt logged (``WebhookAttempt``). Redirects are not followed.

Targets: unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS`` (on with ``DEBUG``), only
``https`` URLs whose host resolves to public addresses only; checked when the
subscription is saved and again at each send, where the connection goes to the
address that was checked (no second DNS lookup, so DNS rebinding cannot slip
in a private address).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from integrations.models import WEBHOOK_EVENT_NAMES, WebhookAttempt, WebhookDelivery, WebhookSubscription

logger = structlog.get_logger(__name__)

DELIVER_TASK = "integrations.tasks.deliver_webhook_task"
# Seconds before attempt 2, 3, …: 6 attempts over ~62 minutes.
RETRY_DELAYS = (30, 120, 300, 900, 2400)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Backoffice-Signature"


class UnsafeTarget(ValueError):
    pass


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", settings.DEBUG))


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def resolve_target(url: str) -> tuple[str, str, int, str, list[str]]:
    """(scheme, host, port, path, addresses) of a target, or UnsafeTarget saying why it is refused."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget("The target URL must start with https://.")
    if scheme != "https" and not _allow_private():
        raise UnsafeTarget("Only https:// targets are allowed in production.")
    if not parts.hostname:
        raise UnsafeTarget("The target URL has no host.")
    if parts.username or parts.password:
        raise UnsafeTarget("The target URL must not contain a user name or password.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget("The target URL has an invalid port.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"The host {parts.hostname!r} cannot be resolved.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeTarget(f"The host {parts.hostname!r} cannot be resolved.")
    if not _allow_private():
        for text in addresses:
            if _refused(ipaddress.ip_address(text.split("%")[0])):
                raise UnsafeTarget(
                    f"The host {parts.hostname!r} resolves to {text}, a loopback, private or reserved address."
                )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port, path, addresses


def validate_target_url(url: str) -> None:
    """ValidationError when the URL may not receive webhooks (admin form)."""
    try:
        resolve_target(url)
    except UnsafeTarget as exc:
        raise ValidationError(str(exc), code="unsafe_target") from exc


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for ``body``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (docs/api.md): recompute the HMAC and refuse replays older than ``tolerance`` s."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def event_payload(event: str, data: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "created_at": timezone.now().isoformat(),
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }


def subscriptions_for(event: str) -> list[WebhookSubscription]:
    return [sub for sub in WebhookSubscription.objects.filter(is_active=True) if event in (sub.events or [])]


def on_business_event(sender, *, event: str, fields: dict, **kwargs) -> None:
    """``event_committed`` receiver (after commit): one delivery per subscription, queued."""
    if event not in WEBHOOK_EVENT_NAMES:
        return
    subscriptions = subscriptions_for(event)
    if not subscriptions:
        return
    payload = event_payload(event, fields)
    for subscription in subscriptions:
        delivery = WebhookDelivery.objects.create(
            subscription=subscription, event=event, event_id=payload["id"], payload=payload
        )
        queue_delivery(delivery, attempt=1)


def queue_delivery(delivery: WebhookDelivery, *, attempt: int) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(DELIVER_TASK, delivery.pk, attempt=attempt, task_name=f"webhook {delivery.event}"[:100]),
        robust=True,
    )


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever DNS says now."""

    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post_signed(url: str, secret: str, payload: dict) -> int:
    """POST the payload once; the HTTP status, or an exception (UnsafeTarget, OSError, timeout)."""
    scheme, host, port, path, addresses = resolve_target(url)
    body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address=addresses[0], timeout=TIMEOUT_SECONDS)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Backoffice-Webhooks/1",
                "X-Backoffice-Event": payload["event"],
                "X-Backoffice-Delivery": payload["id"],
                SIGNATURE_HEADER: sign(secret, body),
            },
        )
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1-based) of a series."""
    return RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]


def deliver(delivery_id: int, *, attempt: int = 1) -> str:
    """One attempt (what the task runs): send, log, then done, retry later, or give up."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None:
        return f"delivery {delivery_id} no longer exists"
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return "already delivered"
    subscription = delivery.subscription
    started = time.monotonic()
    status_code, error = None, ""
    if not subscription.is_active:
        error = "Subscription is inactive."
    else:
        try:
            status_code = post_signed(subscription.target_url, subscription.secret or "", delivery.payload)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except Exception as exc:  # noqa: BLE001 - refused target, DNS, connection, TLS, timeout: all retried
            error = f"{type(exc).__name__}: {exc}"[:1000]
    duration_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    delivery.attempts += 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        at=now,
        status_code=status_code,
        duration_ms=duration_ms,
        error=error,
    )
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = WebhookDelivery.Status.DELIVERED, now, None
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "attempts"])
        return f"delivered (attempt {attempt}, HTTP {status_code})"
    logger.warning("webhook.failed", delivery=delivery.pk, webhook_event=delivery.event, attempt=attempt, error=error)
    if attempt < MAX_ATTEMPTS and subscription.is_active:
        delay = retry_delay(attempt)
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.PENDING, now + timedelta(seconds=delay)
        delivery.save(update_fields=["status", "next_attempt_at", "attempts"])
        _schedule_retry(delivery, attempt=attempt + 1, delay=delay)
        return f"attempt {attempt} failed ({error}); retrying in {delay} s"
    delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
    delivery.save(update_fields=["status", "next_attempt_at", "attempts"])
    return f"failed after {attempt} attempts: {error}"


def _schedule_retry(delivery: WebhookDelivery, *, attempt: int, delay: int) -> None:
    from django_q.models import Schedule
    from django_q.tasks import schedule

    schedule(
        DELIVER_TASK,
        delivery.pk,
        attempt=attempt,
        name=f"webhook retry {delivery.pk}#{attempt}-{uuid.uuid4().hex[:8]}",
        schedule_type=Schedule.ONCE,
        next_run=timezone.now() + timedelta(seconds=delay),
    )


def redeliver(deliveries) -> int:
    """Queue a fresh series of attempts for each delivery (admin's Redeliver action)."""
    count = 0
    for delivery in deliveries:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.PENDING)
        queue_delivery(delivery, attempt=1)
        count += 1
    return count
