"""Liveness and readiness probes."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_needs_no_login_and_refuses_post(client):
    assert client.post("/healthz").status_code == 405


def test_readyz_reports_database_and_broker_ok(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "detail": "ok"}
    assert body["checks"]["broker"] == {"ok": True, "detail": "ok"}


def test_readyz_is_503_when_the_database_is_unreachable(client, monkeypatch):
    def no_database(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(connection, "cursor", no_database)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable: DatabaseError"}


def test_readyz_is_503_when_migrations_are_pending(client, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr("backoffice.health._migrations_applied", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("app", "0002_new")])

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "1 migration(s) not applied"}


def test_readyz_is_503_when_the_broker_does_not_answer(client, monkeypatch):
    from backoffice import health

    monkeypatch.setattr(health, "_broker_check", lambda: (False, "no answer"))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "detail": "no answer"}
    assert response.json()["checks"]["database"]["ok"] is True
