"""API throttling (issue 9 §2): per user (whatever token it uses) and per anonymous address, counted in the
cache, answered with 429 and Retry-After."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from tests.api.token_helpers import bearer, make_token

API = "/api/v1/products/"


@pytest.fixture(autouse=True)
def low_rates(monkeypatch):
    cache.clear()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "4/minute"})
    yield
    cache.clear()


def test_a_burst_from_one_token_gets_429_with_retry_after(client, make_user):
    token = make_token(make_user("Sales"))

    statuses = [client.get(API, **bearer(token)) for _ in range(5)]

    assert [r.status_code for r in statuses] == [200, 200, 200, 200, 429]
    blocked = statuses[-1]
    assert 0 < int(blocked["Retry-After"]) <= 60
    assert "throttled" in blocked.json()["code"] or "throttled" in blocked.json()["detail"].lower()


def test_the_budget_is_per_user_whatever_token_or_session_is_used(client, make_user):
    user = make_user("Sales")
    first, second = make_token(user, "one"), make_token(user, "two")
    other = make_token(make_user("Warehouse"))

    answers = [client.get(API, **bearer(first)).status_code for _ in range(2)]
    answers += [client.get(API, **bearer(second)).status_code for _ in range(3)]

    assert answers == [200, 200, 200, 200, 429]
    assert client.get(API, **bearer(other)).status_code == 200  # someone else's budget is untouched


def test_anonymous_requests_are_limited_per_address(client, db):
    here = [client.get(API, REMOTE_ADDR="203.0.113.7") for _ in range(4)]
    elsewhere = client.get(API, REMOTE_ADDR="203.0.113.8")

    assert [r.status_code for r in here] == [401, 401, 401, 429]
    assert int(here[-1]["Retry-After"]) > 0
    assert elsewhere.status_code == 401


def test_rates_are_settings():
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) == {"anon", "user"}
