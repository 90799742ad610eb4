"""Settings from the environment: production refuses unsafe starts and passes check --deploy.

Each case runs Django in a subprocess, because settings are read once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

REPO = Path(settings.BASE_DIR)
PRODUCTION_KEY = "x7Qm2v9LpR4tZ8wK1nB6cF3hJ5sD0gY2uA7eV9iO4rT6yP1qW8zX3kN5mL0bC2d"


def django_env(tmp_path, **overrides) -> dict[str, str]:
    """A clean environment: SQLite file in tmp_path, no inherited Django settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "SQLITE_PATH": str(tmp_path / "settings-test.sqlite3"),
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(overrides)
    return env


def run_python(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = run_python(django_env(tmp_path, DJANGO_DEBUG="false"), "-c", "import django; django.setup()")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false." in result.stderr


def test_development_starts_without_a_secret_key(tmp_path):
    result = run_python(
        django_env(tmp_path),
        "-c",
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_passes_check_deploy_without_warnings(tmp_path):
    env = django_env(
        tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=PRODUCTION_KEY, DJANGO_ALLOWED_HOSTS="backoffice.example.com"
    )

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_check_deploy_flags_a_weak_secret_key(tmp_path):
    """The check above must be able to fail: a short key is a deploy warning."""
    env = django_env(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY="short", DJANGO_ALLOWED_HOSTS="example.com")

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_sqlite_file_database_uses_wal(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
        "    c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0])\n"
    )

    result = run_python(django_env(tmp_path), "-c", code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000"]
