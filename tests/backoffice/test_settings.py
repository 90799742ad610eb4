"""Settings from the environment: production refuses unsafe starts and passes check --deploy.

Each case runs Django in a subprocess, because settings are read once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(settings.BASE_DIR)
PRODUCTION_KEY = "x7Qm2v9LpR4tZ8wK1nB6cF3hJ5sD0gY2uA7eV9iO4rT6yP1qW8zX3kN5mL0bC2d"
PRODUCTION_FIELD_KEY = "Fk3nR8wQ2mZ7vL1pT6yB9cX4hJ0sD5gA"


def django_env(tmp_path, **overrides) -> dict[str, str]:
    """A clean environment: SQLite file in tmp_path, no inherited Django settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "SQLITE_PATH": str(tmp_path / "settings-test.sqlite3"),
            "PYTHONPATH": str(REPO),
            # Production refuses to start without it (tests/backoffice/test_encryption.py); "" to test that.
            "FIELD_ENCRYPTION_KEYS": PRODUCTION_FIELD_KEY,
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
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false" in result.stderr


def test_makemigrations_check_runs_on_a_bare_checkout_but_nothing_else_does(tmp_path):
    """No DJANGO_DEBUG, no secret key, no encryption keys: the migration check still answers; a real start refuses."""
    env = django_env(tmp_path, FIELD_ENCRYPTION_KEYS="")

    checked = run_python(env, "manage.py", "makemigrations", "--check", "--dry-run")
    started = run_python(env, "manage.py", "check")

    assert checked.returncode == 0, checked.stderr
    assert "No changes detected" in checked.stdout
    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false" in started.stderr


def test_development_is_opted_into_and_starts_without_a_secret_key(tmp_path):
    result = run_python(
        django_env(tmp_path, DJANGO_DEBUG="true"),
        "-c",
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


PRINT_MODE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.ALLOWED_HOSTS, settings.SECURE_SSL_REDIRECT, settings.OTP_REQUIRED_ROLES)"
)


def test_debug_unset_means_production(tmp_path):
    result = run_python(django_env(tmp_path, DJANGO_SECRET_KEY=PRODUCTION_KEY), "-c", PRINT_MODE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1)[0] == "False"
    assert "['localhost', '127.0.0.1', '[::1]'] True ['Admin', 'Manager']" in result.stdout


def test_debug_unset_without_a_secret_key_refuses_to_start(tmp_path):
    """The old default (debug, any host, a public key) must not come back when the variable is forgotten."""
    result = run_python(django_env(tmp_path), "-c", PRINT_MODE)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false" in result.stderr
    assert "DJANGO_DEBUG=true" in result.stderr  # says how to get development mode


@pytest.mark.parametrize(
    "weak_key",
    [
        "short",
        PRODUCTION_KEY[:49],  # one character short
        "ab" * 30,  # long enough, but two different characters
        "django-insecure-" + PRODUCTION_KEY,  # Django's generated development key
    ],
    ids=["5-characters", "49-characters", "2-distinct-characters", "django-insecure-prefix"],
)
def test_production_refuses_a_weak_secret_key(tmp_path, weak_key):
    result = run_python(django_env(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=weak_key), "-c", PRINT_MODE)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is too weak for production" in result.stderr
    assert "at least 50 characters" in result.stderr
    assert weak_key not in result.stderr  # the key itself is never echoed


def test_production_accepts_a_50_character_key_and_passes_check_deploy(tmp_path):
    key = PRODUCTION_KEY[:50]
    env = django_env(tmp_path, DJANGO_SECRET_KEY=key, DJANGO_ALLOWED_HOSTS="backoffice.example.com")

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert len(key) == 50
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_passes_check_deploy_without_warnings(tmp_path):
    env = django_env(
        tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=PRODUCTION_KEY, DJANGO_ALLOWED_HOSTS="backoffice.example.com"
    )

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_check_deploy_can_fail(tmp_path):
    """The check above must be able to fail: a weak fallback key is a deploy warning."""
    env = django_env(
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=PRODUCTION_KEY,
        DJANGO_SECRET_KEY_FALLBACKS="short",
        DJANGO_ALLOWED_HOSTS="example.com",
    )

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "security.W025" in result.stdout + result.stderr


def test_the_test_suite_runs_the_development_configuration(settings):
    """tests/settings.py opts in before backoffice.settings is read (pytest-django sets DEBUG off per test)."""
    assert os.environ["DJANGO_DEBUG"] == "true"
    assert "*" in settings.ALLOWED_HOSTS
    assert settings.OTP_REQUIRED_ROLES == []
    assert not getattr(settings, "SECURE_SSL_REDIRECT", False)


def test_sqlite_file_database_uses_wal(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
        "    c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0])\n"
    )

    result = run_python(django_env(tmp_path, DJANGO_DEBUG="true"), "-c", code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000"]


def test_tls_urls_reach_postgresql_redis_and_smtp(tmp_path):
    """docs/operations.md: ?sslmode=require, rediss:// and smtp+tls:// are passed through as given."""
    code = (
        "import django, json; django.setup()\n"
        "from django.conf import settings as s\n"
        "print(json.dumps([s.DATABASES['default']['OPTIONS'].get('sslmode'), s.CACHES['default']['LOCATION'],\n"
        "    s.Q_CLUSTER.get('redis'), s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL]))\n"
    )
    env = django_env(
        tmp_path,
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://bo:pw@db.example.com:5432/bo?sslmode=require",
        REDIS_URL="rediss://:pw@redis.example.com:6380/0",
        EMAIL_URL="smtp+tls://mailer:pw@smtp.example.com:587",
    )

    result = run_python(env, "-c", code)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "require",
        "rediss://:pw@redis.example.com:6380/0",
        "rediss://:pw@redis.example.com:6380/0",
        "smtp.example.com",
        587,
        True,
        False,
    ]


def test_smtp_with_implicit_tls(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings as s\n"
        "print(s.EMAIL_PORT, s.EMAIL_USE_SSL, s.EMAIL_USE_TLS)"
    )
    env = django_env(tmp_path, DJANGO_DEBUG="true", EMAIL_URL="smtp+ssl://mailer:pw@smtp.example.com:465")

    result = run_python(env, "-c", code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["465", "True", "False"]
