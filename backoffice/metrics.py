"""Prometheus metrics: django-prometheus's request/DB metrics plus the business counters.

``/metrics`` is open to loopback in development; in production it answers only
a ``Authorization: Bearer <METRICS_TOKEN>`` header or a client address listed
in ``METRICS_ALLOWED_IPS`` (default loopback). A proxied request (with
``X-Forwarded-For``) counts as local only through ``DJANGO_TRUSTED_PROXY_COUNT``.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Counter

ORDERS_CONFIRMED = Counter("backoffice_orders_confirmed_total", "Sales orders confirmed.")
IMPORTS_FINISHED = Counter("backoffice_imports_finished_total", "Imports written to the database.", ["resource"])
TASK_FAILURES = Counter("backoffice_task_failures_total", "django-q2 tasks that failed.", ["func"])
STOCK_DISCREPANCIES = Counter(
    "backoffice_stock_discrepancies_found_total", "Stock invariant discrepancies found by check_stock."
)


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def _token_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest takes str only when both are ASCII: a non-ASCII header would raise (a 500). Bytes never do.
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))
    )


def _client_address(request: HttpRequest) -> str:
    """The socket address; for a proxied request the trusted proxy's view of the client, or nothing.

    Behind nginx on the same host every request comes from 127.0.0.1: a request
    that carries ``X-Forwarded-For`` is never taken for a local one unless
    ``DJANGO_TRUSTED_PROXY_COUNT`` says which forwarded address to believe.
    """
    if not request.META.get("HTTP_X_FORWARDED_FOR"):
        return request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "TRUSTED_PROXY_COUNT", 0) <= 0:
        return ""
    from backoffice.signin import client_ip

    return client_ip(request) or ""


def metrics_allowed(request: HttpRequest) -> bool:
    return _token_ok(request) or _address_allowed(_client_address(request))


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, for the token holder or an allowed address only."""
    if not metrics_allowed(request):
        return HttpResponseForbidden("Metrics need the bearer token or an allowed address.", content_type="text/plain")
    return ExportToDjangoView(request)
