"""``manage.py preflight`` (``make check``): one line per check, exit 1 when any fails."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backoffice.management.commands import preflight

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("preflight", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


@pytest.fixture(autouse=True)
def _deployment_environment(monkeypatch):
    """The environment of a server: not the test suite's async override (a deploy error, rightly)."""
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)


@pytest.fixture
def backups(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


def test_a_ready_system_passes_every_check(stocked_product, backups):
    output, error = run()

    assert error is None, output
    for name, _ in preflight.CHECKS:
        assert f"OK    {name}" in output
    assert "All pre-deployment checks passed." in output


def test_a_stock_discrepancy_fails_the_check(stocked_product, backups):
    from inventory.models import StockLevel

    StockLevel.objects.filter(product=stocked_product).update(on_hand=4)

    output, error = run("--skip", "deploy settings", "--skip", "API schema")

    assert error is not None and "stock invariants" in str(error)
    assert "FAIL  stock invariants: 1 stock discrepancies" in output
    assert "OK    backups" in output


def test_an_unwritable_backup_folder_fails_the_check(settings, tmp_path, db):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.BACKUP_DIR = blocker / "backups"

    output, error = run("--skip", "deploy settings", "--skip", "API schema")

    assert error is not None
    assert "FAIL  backups: BACKUP_DIR" in output


def test_a_weak_production_key_fails_the_deploy_check(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "short")

    ok, detail = preflight.deploy_check()

    assert not ok
    assert "DJANGO_SECRET_KEY is too weak" in detail or "security.W009" in detail


def test_deploy_check_runs_in_production_mode_with_a_throwaway_key(monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "backoffice.example.com")

    ok, detail = preflight.deploy_check()

    assert ok, detail
    assert "throwaway DJANGO_SECRET_KEY" in detail
