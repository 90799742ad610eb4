"""Structured logs: every request has its fields, business events are logged, no secret is ever written."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from django.urls import reverse

from backoffice.logs import logging_config

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Wrong-Secret-987"


@pytest.fixture
def json_log():
    """The JSON lines production would write, captured from the root logger."""
    config = logging_config(log_format="json", level="INFO")["formatters"]["structured"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=config["processors"], foreign_pre_chain=config["foreign_pre_chain"]
        )
    )
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    lines.text = stream.getvalue
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


def finished(lines, path) -> dict:
    return next(line for line in lines() if line["event"] == "request_finished" and line["path"] == path)


def test_each_request_logs_id_user_method_path_status_and_duration(admin_client, admin_user, json_log):
    admin_client.get(reverse("admin:index") + "?q=secret-search")

    line = finished(json_log, "/admin/")
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["user_id"] == admin_user.pk
    assert len(line["request_id"]) == 36
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    assert "secret-search" not in json_log.text(), "query strings are not logged"


def test_a_failed_login_is_logged_without_the_password(client, make_user, json_log):
    make_user("Sales", username="sam")

    response = client.post(
        reverse("admin:login"), {"username": "sam", "password": PASSWORD, "next": "/admin/"}, REMOTE_ADDR="10.0.0.9"
    )

    assert response.status_code == 200  # the login form again, with its error
    line = finished(json_log, "/admin/login/")
    assert line["method"] == "POST"
    assert line["status"] == 200
    assert line["user_id"] is None
    assert line["ip"] == "10.0.0.9"
    assert PASSWORD not in json_log.text()
    assert client.cookies["csrftoken"].value not in json_log.text()


def test_sensitive_keys_are_redacted_at_any_depth(json_log):
    structlog.get_logger("test").info(
        "integration.called",
        password="hunter2",
        api_token="tok-123",
        headers={"Authorization": "Bearer abc", "Accept": "text/csv"},
        customer={"name": "ACME", "tax_id": "DE123456789", "bank_account": "DE89370400440532013000"},
        sessionid="s3ss10n",
    )

    line = next(line for line in json_log() if line["event"] == "integration.called")
    text = json_log.text()
    for secret in ("hunter2", "tok-123", "Bearer abc", "DE123456789", "DE89370400440532013000", "s3ss10n"):
        assert secret not in text
    assert line["headers"] == {"Authorization": "[redacted]", "Accept": "text/csv"}
    assert line["customer"]["name"] == "ACME"


def test_confirming_an_order_logs_a_business_event(
    stocked_product, warehouse, make_user, json_log, django_capture_on_commit_callbacks
):
    from orders.services import sales_order_confirm, sales_order_create, sales_order_line_add
    from tests.factories import CustomerFactory

    user = make_user("Sales")
    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
    sales_order_line_add(order=order, product=stocked_product, quantity=3, user=user)

    with django_capture_on_commit_callbacks(execute=True):
        sales_order_confirm(order=order, user=user)

    line = next(line for line in json_log() if line["event"] == "sales_order.confirmed")
    assert line["order"] == order.number
    assert line["level"] == "info"
    assert line["by_user_id"] == user.pk


def test_a_rolled_back_confirmation_logs_nothing(stocked_product, warehouse, make_user, json_log):
    from orders.services import sales_order_confirm, sales_order_create, sales_order_line_add
    from tests.factories import CustomerFactory

    user = make_user("Sales")
    order = sales_order_create(customer=CustomerFactory(), warehouse=warehouse, user=user)
    sales_order_line_add(order=order, product=stocked_product, quantity=3, user=user)

    sales_order_confirm(order=order, user=user)  # the test transaction never commits

    assert not [line for line in json_log() if line["event"] == "sales_order.confirmed"]


def test_production_writes_json_and_development_console(tmp_path):
    from tests.backoffice.test_settings import PRODUCTION_KEY, django_env, run_python

    code = "import django; django.setup(); import structlog; structlog.get_logger('t').info('hello', password='x1')"
    production = run_python(django_env(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=PRODUCTION_KEY), "-c", code)
    development = run_python(django_env(tmp_path, DJANGO_DEBUG="true"), "-c", code)

    assert production.returncode == 0, production.stderr
    line = json.loads(production.stderr.strip().splitlines()[-1])
    assert line["event"] == "hello" and line["password"] == "[redacted]"
    assert development.returncode == 0, development.stderr
    assert "hello" in development.stderr and not development.stderr.strip().startswith("{")
    assert "x1" not in production.stderr + development.stderr


def test_a_stock_count_logs_stock_adjusted(stocked_product, warehouse, json_log, django_capture_on_commit_callbacks):
    from inventory.services import Count, stock_count_apply

    with django_capture_on_commit_callbacks(execute=True):
        stock_count_apply(
            counts=[Count(stocked_product.pk, warehouse.pk, 7)], reason="cycle count", reference="ADJ-000001"
        )

    line = next(line for line in json_log() if line["event"] == "stock.adjusted")
    assert (line["reference"], line["levels_changed"], line["net_change"]) == ("ADJ-000001", 1, -3)


def test_a_finished_import_is_logged_and_counted(admin_user, json_log, django_capture_on_commit_callbacks):
    from prometheus_client import REGISTRY

    from backoffice.imports import ResourceTarget, import_apply
    from backoffice.uploads import read_upload
    from inventory.resources import CategoryResource

    sheet = read_upload(io.BytesIO(b"name,parent,description\nTeas,,Leaves\n"), file_format="csv", name="c.csv")
    before = REGISTRY.get_sample_value("backoffice_imports_finished_total", {"resource": "CategoryResource"}) or 0

    with django_capture_on_commit_callbacks(execute=True):
        outcome = import_apply(sheet=sheet, target=ResourceTarget(CategoryResource), user=admin_user)

    assert outcome.ok and outcome.new == 1
    line = next(line for line in json_log() if line["event"] == "import.finished")
    assert line["new"] == 1 and line["target"].endswith("CategoryResource")
    assert (
        REGISTRY.get_sample_value("backoffice_imports_finished_total", {"resource": "CategoryResource"}) == before + 1
    )


def _fail_with_secrets_in_locals():
    password = "hunter2"  # noqa: F841 - a local the traceback must not show
    tax_id = "DE123456789"  # noqa: F841
    raise ValueError("the charge was declined")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_an_exception_traceback_shows_no_local_variables(log_format):
    config = logging_config(log_format=log_format, level="INFO")["formatters"]["structured"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=config["processors"], foreign_pre_chain=config["foreign_pre_chain"]
        )
    )
    logger = logging.getLogger(f"test.tracebacks.{log_format}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            _fail_with_secrets_in_locals()
        except ValueError:
            logger.exception("payment.failed")
            structlog.get_logger(f"test.tracebacks.{log_format}").exception("payment.failed.structlog")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    text = stream.getvalue()
    assert "the charge was declined" in text and "_fail_with_secrets_in_locals" in text, "the traceback is logged"
    assert "hunter2" not in text
    assert "DE123456789" not in text
