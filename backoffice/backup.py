"""Backups: the database and ``MEDIA_ROOT`` in one ``.tar.gz`` under ``BACKUP_DIR``.

An archive holds ``manifest.json`` (when, which engine, the row count of every
table), the database (``db.sqlite3`` made with SQLite's online backup API, or
``db.dump`` from ``pg_dump -Fc``) and ``media/``. ``backup_restore`` puts both
back (SQLite: online backup API into the live file; PostgreSQL:
``pg_restore --clean --if-exists``) and compares the row counts with the
manifest. The web and worker processes should be stopped while restoring.
Archives, their folder (when created here) and every temporary file are
readable by the owner only (0600/0700): they hold password hashes, two-factor
secrets and sessions. ``backup_target_lines`` is what the commands print first.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from backoffice.errors import BusinessError

logger = structlog.get_logger(__name__)

ARCHIVE_PREFIX = "backoffice-"
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST_VERSION = 1


class BackupError(BusinessError):
    code = "backup_error"

    def default_message(self) -> str:
        return "The backup or restore failed."


@dataclass
class RestoreResult:
    manifest: dict
    mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (in backup, now)


def _database() -> dict:
    return settings.DATABASES[DEFAULT_DB_ALIAS]


def backup_target_lines(*, database: dict | None = None) -> list[str]:
    """What a backup or restore touches, for the operator to see first: database, media folder, settings mode.

    ``make backup``/``restore`` fall back to development settings (the local SQLite file) when no
    ``DJANGO_SECRET_KEY`` is set; these lines make that visible. Never the password.
    """
    db = database or _database()
    engine = str(db.get("ENGINE", "")).rsplit(".", 1)[-1]
    name = db.get("NAME") or "?"
    if engine.startswith("sqlite"):
        where = str(name)
    else:
        host = db.get("HOST") or "local socket"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        user = f" as {db['USER']}" if db.get("USER") else ""
        where = f"{name} on {host}{port}{user}"
    mode = "development (DJANGO_DEBUG=true)" if settings.DEBUG else "production"
    return [f"Database: {engine} {where}", f"Media folder: {settings.MEDIA_ROOT}", f"Settings: {mode}"]


def _engine() -> str:
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return vendor


def _pg_env() -> dict[str, str]:
    """libpq environment for pg_dump/pg_restore from DATABASES (password never on the command line)."""
    db = _database()
    env = dict(os.environ)
    values = {
        "PGDATABASE": db.get("NAME"),
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGHOST": db.get("HOST"),
        "PGPORT": str(db.get("PORT") or ""),
    }
    options = db.get("OPTIONS") or {}
    for option, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
    ):
        values[variable] = options.get(option)
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools, same major version as the server).")
    result = subprocess.run(command, env=_pg_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:2000]}")


def table_counts() -> dict[str, int]:
    """Row count of every table of the default database."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}


def _sqlite_path() -> Path:
    return Path(_database()["NAME"])


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while others read and write."""
    with sqlite3.connect(source, timeout=20) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 (whatever the umask): backups hold password hashes and secrets."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def _archive_name() -> str:
    return f"{ARCHIVE_PREFIX}{datetime.now(UTC):%Y%m%d-%H%M%S-%f}{ARCHIVE_SUFFIX}"


def backup_create(*, directory: Path | None = None) -> Path:
    """Write a new archive of the database and media; returns its path."""
    engine = _engine()
    directory = Path(directory or settings.BACKUP_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # the folder we create: owner only
    target = directory / _archive_name()
    # mkdtemp makes the work folder 0700; every file in it is created 0600 before it is written.
    with tempfile.TemporaryDirectory(dir=directory, prefix=".backup-") as work:
        work = Path(work)
        if engine == "sqlite":
            db_file = _private_file(work / "db.sqlite3")
            _sqlite_copy(_sqlite_path(), db_file)
            counts = _sqlite_counts(db_file)
        else:
            db_file = _private_file(work / "db.dump")
            counts = table_counts()
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-acl", f"--file={db_file}"])
        manifest = {
            "version": MANIFEST_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "engine": engine,
            "database_file": db_file.name,
            "tables": counts,
            "media_files": sum(1 for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
            if Path(settings.MEDIA_ROOT).is_dir()
            else 0,
        }
        _private_file(work / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        partial = _private_file(work / "archive.partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / "manifest.json", arcname="manifest.json")
            tar.add(db_file, arcname=db_file.name)
            if Path(settings.MEDIA_ROOT).is_dir():
                tar.add(settings.MEDIA_ROOT, arcname="media")
        partial.replace(target)
    logger.info("backup.created", file=str(target), engine=engine, tables=len(counts), rows=sum(counts.values()))
    return target


def backup_prune(*, keep: int | None = None, directory: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` archives (``BACKUP_KEEP``); returns what was deleted."""
    keep = settings.BACKUP_KEEP if keep is None else keep
    directory = Path(directory or settings.BACKUP_DIR)
    archives = sorted(directory.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"), key=lambda p: p.name, reverse=True)
    removed = archives[max(keep, 1) :]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        logger.info("backup.pruned", removed=[p.name for p in removed], kept=keep)
    return removed


def _read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember("manifest.json")
        manifest = json.load(tar.extractfile(member))
    except (KeyError, ValueError, AttributeError) as exc:
        raise BackupError("This file is not a backoffice backup (no readable manifest.json).") from exc
    if manifest.get("version") != MANIFEST_VERSION or manifest.get("engine") not in {"sqlite", "postgresql"}:
        raise BackupError("This backup was written by an unknown version of the backup command.")
    return manifest


def _unpack(archive: Path, work: Path) -> dict:
    """Check the manifest and the engine, then unpack into ``work``; returns the manifest."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = _read_manifest(tar)
            if manifest["engine"] != _engine():
                raise BackupError(
                    f"This backup is of a {manifest['engine']} database; this system uses {_engine()}. "
                    "Restore it into the same kind of database."
                )
            tar.extractall(work, filter="data")  # refuses absolute paths, '..', links outside, devices
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive.name} is not a readable backup archive: {exc}") from exc
    if not (work / manifest["database_file"]).is_file():
        raise BackupError("The archive holds no database file.")
    return manifest


def backup_restore(*, archive: Path) -> RestoreResult:
    """Replace the database and media with the archive's; compares row counts afterwards."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"No backup file at {archive}.")
    engine = _engine()
    with tempfile.TemporaryDirectory(prefix="restore-") as work:
        work = Path(work)
        manifest = _unpack(archive, work)
        db_file = work / manifest["database_file"]
        for connection in connections.all():
            connection.close()
        if engine == "sqlite":
            _sqlite_copy(db_file, _sqlite_path())
        else:
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-acl",
                    "--single-transaction",
                    f"--dbname={_database()['NAME']}",
                    str(db_file),
                ]
            )
        _restore_media(work / "media")
    now = table_counts()
    mismatches = {
        table: (count, now.get(table, -1)) for table, count in manifest["tables"].items() if now.get(table) != count
    }
    logger.info("backup.restored", file=str(archive), engine=engine, mismatches=len(mismatches))
    return RestoreResult(manifest=manifest, mismatches=mismatches)


def _restore_media(source: Path) -> None:
    media = Path(settings.MEDIA_ROOT)
    if media.is_dir():
        for child in media.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    media.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, media, dirs_exist_ok=True)


def backups_configured() -> tuple[bool, str]:
    """For the pre-deployment check: BACKUP_DIR writable and the nightly schedule declared."""
    from backoffice.schedules import SCHEDULES

    directory = Path(settings.BACKUP_DIR)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as exc:
        return False, f"BACKUP_DIR {directory} is not writable: {exc.strerror or exc}"
    if not any(spec["func"] == "backoffice.tasks.nightly_backup_task" for spec in SCHEDULES):
        return False, "no nightly backup schedule in backoffice/schedules.py"
    if _engine() == "postgresql" and shutil.which("pg_dump") is None:
        return False, "pg_dump is not on PATH"
    return True, f"{directory} writable, nightly schedule keeps {settings.BACKUP_KEEP}"
