"""Backups: back up, wipe, restore, and the data (row counts, stock invariants, media) is back.

The commands run in a subprocess against their own database (a temporary
SQLite file; on PostgreSQL a scratch database next to the test database),
because the test database is in memory or inside the test transaction.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from backoffice.backup import ARCHIVE_PREFIX, ARCHIVE_SUFFIX, backup_prune
from tests.backoffice.test_settings import REPO, django_env, run_python

COUNTS = (
    "import django, json; django.setup()\nfrom backoffice.backup import table_counts\nprint(json.dumps(table_counts()))"
)


def manage(env, *args):
    result = run_python(env, "manage.py", *args)
    return result


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def counts(env) -> dict[str, int]:
    return json.loads(ok(run_python(env, "-c", COUNTS)).stdout.strip().splitlines()[-1])


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request, tmp_path):
    """An environment for manage.py with its own migrated database holding the demo data."""
    env = django_env(
        tmp_path,
        DJANGO_DEBUG="true",
        DJANGO_LOG_LEVEL="WARNING",
        MEDIA_ROOT=str(tmp_path / "media"),
        BACKUP_DIR=str(tmp_path / "backups"),
    )
    scratch = None
    if request.param == "postgresql":
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            pytest.skip("PostgreSQL backup test runs when DATABASE_URL is PostgreSQL")
        if not shutil.which("pg_dump"):
            pytest.fail("DATABASE_URL is PostgreSQL but pg_dump is not on PATH")
        import psycopg

        base, _, _ = url.rpartition("/")
        scratch = f"bo_backup_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{scratch}"')
        env["DATABASE_URL"] = f"{base}/{scratch}"
    ok(manage(env, "migrate", "--noinput", "-v0"))
    ok(manage(env, "load_demo"))
    media = tmp_path / "media" / "imports"
    media.mkdir(parents=True)
    (media / "prices.csv").write_text("sku,price\nCHAI,18.00\n")
    yield env
    if scratch:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def test_backup_wipe_restore_gives_the_same_data(site, tmp_path):
    before = counts(site)
    assert before["orders_salesorder"] > 0 and before["inventory_stockmovement"] > 0

    backed_up = ok(manage(site, "backup"))
    archives = list((tmp_path / "backups").glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"))
    assert len(archives) == 1 and str(archives[0]) in backed_up.stdout
    with tarfile.open(archives[0]) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))
    assert {"manifest.json", "media/imports/prices.csv"} <= names
    assert manifest["tables"] == before

    ok(manage(site, "flush", "--noinput"))
    shutil.rmtree(tmp_path / "media")
    assert counts(site)["orders_salesorder"] == 0

    restored = manage(site, "restore", "--noinput", str(archives[0]))

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "Every table has the row count recorded in the backup" in restored.stdout
    assert counts(site) == before
    assert (tmp_path / "media" / "imports" / "prices.csv").read_text() == "sku,price\nCHAI,18.00\n"
    stock = manage(site, "check_stock")
    assert stock.returncode == 0, stock.stdout + stock.stderr


def test_nightly_task_backs_up_and_keeps_the_newest(site, tmp_path):
    site = dict(site, BACKUP_KEEP="2")
    code = (
        "import django; django.setup()\nfrom backoffice.tasks import nightly_backup_task\nprint(nightly_backup_task())"
    )

    names = [ok(run_python(site, "-c", code)).stdout.strip().splitlines()[-1] for _ in range(3)]

    kept = sorted(p.name for p in (tmp_path / "backups").glob(f"{ARCHIVE_PREFIX}*"))
    assert kept == sorted(names[1:])


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    env = django_env(tmp_path, DJANGO_DEBUG="true", MEDIA_ROOT=str(tmp_path / "media"))
    bogus = tmp_path / "notes.tar.gz"
    bogus.write_text("not an archive")

    result = manage(env, "restore", "--noinput", str(bogus))

    assert result.returncode == 1
    assert "not a readable backup archive" in result.stderr
    assert "Traceback" not in result.stderr


def test_prune_keeps_the_newest_archives_only(tmp_path):
    names = [f"{ARCHIVE_PREFIX}2030010{day}-010000-000000{ARCHIVE_SUFFIX}" for day in range(1, 6)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "unrelated.txt").write_text("keep me")

    removed = backup_prune(keep=2, directory=tmp_path)

    assert sorted(p.name for p in removed) == names[:3]
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == sorted([*names[3:], "unrelated.txt"])


def test_nightly_backup_is_scheduled():
    from backoffice.schedules import SCHEDULES

    assert any(spec["func"] == "backoffice.tasks.nightly_backup_task" for spec in SCHEDULES)


def test_backups_are_readable_by_their_owner_only(tmp_path):
    """Archives hold password hashes, two-factor secrets and sessions: not for other users of the server.

    Run as ``manage.py backup`` on a SQLite file whatever the suite's database: the file modes are
    the same code on either engine."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "prices.csv").write_text("sku,price\n")
    directory = tmp_path / "new" / "backups"
    env = django_env(tmp_path, DJANGO_DEBUG="true", MEDIA_ROOT=str(tmp_path / "media"), BACKUP_DIR=str(directory))
    previous = os.umask(0o022)  # the usual default, inherited by the command: files 644, folders 755
    try:
        ok(manage(env, "backup"))
    finally:
        os.umask(previous)

    archives = list(directory.iterdir())
    assert len(archives) == 1, "one archive and no temporary file left behind"
    archive = archives[0]
    assert archive.stat().st_mode & 0o777 == 0o600
    assert directory.stat().st_mode & 0o777 == 0o700
    with tarfile.open(archive) as tar:
        assert {"manifest.json", "db.sqlite3"} <= set(tar.getnames())


def test_backup_and_restore_say_first_which_database_and_media_they_touch(tmp_path):
    env = django_env(
        tmp_path, DJANGO_DEBUG="true", MEDIA_ROOT=str(tmp_path / "media"), BACKUP_DIR=str(tmp_path / "backups")
    )

    backed_up = ok(manage(env, "backup"))

    lines = backed_up.stdout.splitlines()
    assert lines[0] == f"Database: sqlite3 {tmp_path / 'settings-test.sqlite3'}"
    assert lines[1] == f"Media folder: {tmp_path / 'media'}"
    assert "development" in lines[2]
    archive = next((tmp_path / "backups").glob(f"{ARCHIVE_PREFIX}*"))

    # Without a terminal to confirm on (cron, a pipe), restore refuses unless told --yes.
    refused = subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive)],
        cwd=REPO,
        env=env,
        input="yes\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert refused.stdout.startswith(f"Database: sqlite3 {tmp_path / 'settings-test.sqlite3'}\nMedia folder:")
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert "Restored" not in refused.stdout

    restored = ok(manage(env, "restore", "--yes", str(archive)))
    assert restored.stdout.startswith("Database: sqlite3 ") and "Restored" in restored.stdout


def test_the_database_shown_never_includes_the_password():
    from backoffice.backup import backup_target_lines

    database = {
        "ENGINE": "django_prometheus.db.backends.postgresql",
        "NAME": "backoffice",
        "USER": "bo",
        "PASSWORD": "s3cret-pw",
        "HOST": "db.internal",
        "PORT": 5432,
    }

    lines = backup_target_lines(database=database)

    assert lines[0] == "Database: postgresql backoffice on db.internal:5432 as bo"
    assert "s3cret-pw" not in "\n".join(lines)
