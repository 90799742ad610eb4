"""Shared plumbing for the benchmark scripts: throwaway databases and Django setup.

Each benchmark runs once per database in a child process (settings are read
once per process): a fresh SQLite file always, and a fresh PostgreSQL
database when ``DATABASE_URL`` is set. The database named in ``DATABASE_URL``
is never touched; a ``<name>_bench`` database next to it is created and
dropped.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
SQLITE_PATH = Path(os.environ.get("BENCH_SQLITE_PATH", "/tmp/backoffice-bench.sqlite3"))


def setup_django() -> None:
    """Configure Django from the environment the parent prepared, then migrate quietly."""
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def throwaway_postgres(url: str):
    """Yield a URL to a freshly created ``<name>_bench`` database; drop it afterwards."""
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "backoffice") + "_bench"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def kept_postgres(url: str, suffix: str):
    """Yield a URL to a ``<name>_<suffix>`` database, created when missing and kept afterwards (seed once)."""
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'backoffice'}_{suffix}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))


def run_per_database(script: str, args: list[str], *, keep: str = "", only: str = "") -> int:
    """Run ``script --child`` on a throwaway SQLite file, then on PostgreSQL if DATABASE_URL is set.

    ``keep``: use (and keep) ``/tmp/backoffice-bench-<keep>.sqlite3`` and a ``<name>_<keep>`` PostgreSQL
    database instead of throwaway ones, so a big dataset is seeded once and reused by later runs.
    ``only``: ``sqlite`` or ``postgresql`` to run on one database.
    """
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH"}}
    # Production mode: DEBUG would log every query and slow the figures down.
    base.update(
        DJANGO_SETTINGS_MODULE="backoffice.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=secrets.token_urlsafe(32),
    )
    command = [sys.executable, script, "--child", *args]
    status = 0
    if only in ("", "sqlite"):
        sqlite_path = Path(f"/tmp/backoffice-bench-{keep}.sqlite3") if keep else SQLITE_PATH
        if not keep:
            _remove_sqlite(sqlite_path)
        try:
            status = subprocess.run(command, env={**base, "SQLITE_PATH": str(sqlite_path)}, check=False).returncode
        finally:
            if not keep:
                _remove_sqlite(sqlite_path)
    if only not in ("", "postgresql"):
        return status
    postgres_url = os.environ.get("DATABASE_URL", "")
    if postgres_url.startswith(("postgres://", "postgresql://")):
        database = kept_postgres(postgres_url, keep) if keep else throwaway_postgres(postgres_url)
        with database as url:
            status |= subprocess.run(command, env={**base, "DATABASE_URL": url}, check=False).returncode
    else:
        print("(PostgreSQL skipped: set DATABASE_URL=postgres://... to include it)\n")
    return status


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version} (file {connection.settings_dict['NAME']})"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return f"PostgreSQL {version} (database {connection.settings_dict['NAME']})"
