"""Schema-driven fuzzing (issue 9 §6): schemathesis generates requests for every operation of the
project's own OpenAPI document and sends them through the WSGI application as a superuser with an API
token. No answer may be a 5xx, and every answer must match the schema (body of documented statuses).

Bounded by a few derandomized examples per operation (FUZZ_EXAMPLES), never by a clock: every operation is
fuzzed on every run however busy the machine is (a time budget once left operations untried under load).
"""

from __future__ import annotations

import contextlib
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.api.token_helpers import bearer, make_token
from tests.factories import CustomerFactory

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))


@contextlib.contextmanager
def keep_connection():
    """As Django's test client does: the WSGI handler must not close the test's connection (its transaction).

    (Django's test client reconnects these signals after each of its own requests, so this wraps only the run.)
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_data(warehouse, stocked_product, admin_user):
    """A few real rows, so that ids 1, 2 … often hit something."""
    from orders.services import sales_order_create, sales_order_line_add

    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=admin_user)
    sales_order_line_add(order=order, product=stocked_product, quantity=1, user=admin_user)
    return order


def test_no_operation_answers_a_5xx_or_outside_its_schema(client, admin_user, api_data):
    raw = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    headers = {"Authorization": bearer(make_token(admin_user, "fuzz"))["HTTP_AUTHORIZATION"]}
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30, "the schema lists the API's operations"
    failures: list[str] = []

    with keep_connection():
        fuzz_all(operations, headers, checks, failures)

    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)


def fuzz_all(operations, headers, checks, failures) -> None:
    for operation in operations:

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case):
            case.call_and_validate(headers=headers, checks=checks)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collected: one report for all operations
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:600]}")
