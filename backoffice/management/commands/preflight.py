"""``manage.py preflight`` (``make check``): what must hold before a deploy, one line per check.

1. ``check --deploy --fail-level WARNING`` in production mode (a separate
   process with ``DJANGO_DEBUG=false``; a throwaway long key if
   ``DJANGO_SECRET_KEY`` is not set, so the check can run on a build machine);
2. every model change has its migration (``makemigrations --check``);
3. every migration is applied to this database;
4. the stock invariants hold (``check_stock``);
5. the API schema is valid with no warnings (``spectacular --validate --fail-on-warn``);
6. backups are configured (``BACKUP_DIR`` writable, nightly schedule declared);
7. every encrypted value can be decrypted with the configured keys (the count of
   ``rotate_encryption_keys``, nothing written).

Exits 1 if any check fails.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

Check = Callable[[], tuple[bool, str]]


def _last_lines(text: str, count: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


def deploy_check() -> tuple[bool, str]:
    env = dict(os.environ, DJANGO_DEBUG="false", DJANGO_SETTINGS_MODULE="backoffice.settings")
    note = ""
    if not env.get("DJANGO_SECRET_KEY"):
        env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
        note = " (with a throwaway DJANGO_SECRET_KEY: none is set here)"
    if not env.get("FIELD_ENCRYPTION_KEYS"):
        env["FIELD_ENCRYPTION_KEYS"] = secrets.token_urlsafe(32)
        note += " (with a throwaway FIELD_ENCRYPTION_KEYS: none is set here)"
    result = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        return False, _last_lines(result.stdout + result.stderr)
    return True, "check --deploy: no issues in production mode" + note


def migrations_complete() -> tuple[bool, str]:
    out = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out, verbosity=1)
    except SystemExit:
        return False, "model changes without a migration:\n" + _last_lines(out.getvalue())
    return True, "every model change has a migration"


def migrations_applied() -> tuple[bool, str]:
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001 - an unreachable database is a failed check, reported as such
        return False, f"database unreachable: {exc.__class__.__name__}: {exc}"
    if pending:
        return False, f"{len(pending)} migration(s) not applied: run `manage.py migrate`"
    return True, "every migration is applied"


def stock_consistent() -> tuple[bool, str]:
    from inventory.selectors import stock_discrepancies

    try:
        problems = stock_discrepancies()
    except DatabaseError as exc:
        return False, f"cannot read stock (is the database migrated?): {exc}"
    if problems:
        shown = "\n".join(str(p) for p in problems[:10])
        return False, f"{len(problems)} stock discrepancies (manage.py check_stock lists them):\n{shown}"
    return True, "stock levels match their ledger and reservations"


def api_schema_valid() -> tuple[bool, str]:
    out = io.StringIO()
    try:
        with redirect_stderr(out):
            call_command("spectacular", validate=True, fail_on_warn=True, file=os.devnull, stdout=out, stderr=out)
    except Exception as exc:  # noqa: BLE001 - drf-spectacular raises its own error types for warnings/invalid schema
        return False, f"{exc.__class__.__name__}: {exc}\n{_last_lines(out.getvalue())}"
    return True, "API schema is valid OpenAPI with no warnings"


def backups_ready() -> tuple[bool, str]:
    from backoffice.backup import backups_configured

    return backups_configured()


def encrypted_values_readable() -> tuple[bool, str]:
    from backoffice.encryption import undecryptable_values

    try:
        unreadable = undecryptable_values()
    except DatabaseError as exc:
        return False, f"cannot read the encrypted fields (is the database migrated?): {exc}"
    if unreadable:
        total = sum(len(count.unreadable) for count in unreadable)
        shown = "\n".join(
            f"{count.table}.{count.column}: {len(count.unreadable)} (primary keys "
            f"{', '.join(str(pk) for pk in count.unreadable[:10])})"
            for count in unreadable
        )
        return False, (
            f"{total} encrypted values cannot be decrypted with the configured keys (they read as empty): put the "
            f"missing old key back at the end of FIELD_ENCRYPTION_KEYS (or the old SECRET_KEY into "
            f"DJANGO_SECRET_KEY_FALLBACKS), then run manage.py rotate_encryption_keys\n{shown}"
        )
    return True, "every encrypted value can be decrypted"


CHECKS: list[tuple[str, Check]] = [
    ("deploy settings", deploy_check),
    ("migrations complete", migrations_complete),
    ("migrations applied", migrations_applied),
    ("stock invariants", stock_consistent),
    ("API schema", api_schema_valid),
    ("backups", backups_ready),
    ("encrypted values", encrypted_values_readable),
]


class Command(BaseCommand):
    help = (
        "Pre-deployment check: deploy settings, migrations, stock, API schema, backups, encrypted values. "
        "Exits 1 on any failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("--skip", action="append", default=[], help="Name of a check to skip (repeatable).")

    def handle(self, *args, **options):
        failed = []
        for name, check in CHECKS:
            if name in options["skip"]:
                self.stdout.write(f"SKIP  {name}")
                continue
            ok, detail = check()
            style = self.style.SUCCESS if ok else self.style.ERROR
            self.stdout.write(style(f"{'OK  ' if ok else 'FAIL'}  {name}: {detail}"))
            if not ok:
                failed.append(name)
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS("All pre-deployment checks passed."))
