"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


_migrations_applied = False


def _database_check() -> tuple[bool, str]:
    """SELECT 1, and (until seen once) that no migration is pending."""
    global _migrations_applied
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if _migrations_applied:
            return True, "ok"
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
        return False, f"unreachable: {exc.__class__.__name__}"
    if pending:
        return False, f"{len(pending)} migration(s) not applied"
    # A deploy migrates before it starts new processes: once applied, stays applied for this process.
    _migrations_applied = True
    return True, "ok"


def _broker_check() -> tuple[bool, str]:
    try:
        from django_q.brokers import get_broker

        broker = get_broker()
        if not broker.ping():
            return False, "no answer"
    except Exception as exc:  # noqa: BLE001 - any broker failure means "not ready"
        return False, f"unreachable: {exc.__class__.__name__}"
    return True, "ok"


@never_cache
@require_GET
def readyz(request):
    """Database reachable with every migration applied, and the task broker answering."""
    checks = {}
    for name, check in (("database", _database_check), ("broker", _broker_check)):
        ok, detail = check()
        checks[name] = {"ok": ok, "detail": detail}
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
