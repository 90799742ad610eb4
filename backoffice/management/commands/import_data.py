"""``manage.py import_data RESOURCE FILE [--dry-run] [--update] [--user USERNAME]``: the admin's import, from a shell.

Each run is recorded in the Imports list (``ImportJob``: who — ``--user`` —, what, the file's name, counts, bad
rows, duration and status), as an admin upload is.

Exit status: 0 imported (or, with ``--dry-run``, would import) cleanly; 1 bad
rows (nothing written; every one listed in ``FILE.errors.csv``); 2 usage errors
(unknown resource, missing or refused file, unknown or inactive user).
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backoffice.data_commands import (
    RESOURCES,
    DataCommandError,
    data_resource,
    errors_path,
    read_file,
    run_import,
    write_errors,
)


class Command(BaseCommand):
    help = "Import a CSV or XLSX file through the admin's import engine (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("resource", help=f"What the file holds: {', '.join(RESOURCES)}.")
        parser.add_argument("file", help="The .csv or .xlsx file (first row: the column names).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument("--update", action="store_true", help="Let rows change existing records.")
        parser.add_argument("--user", help="Username recorded in the history (default: none, the system).")

    def handle(self, *args, resource, file, dry_run, update, user, **options):
        try:
            target = data_resource(resource)
            history_user = self._user(user)
            path = Path(file)
            sheet = read_file(path)
        except DataCommandError as error:
            raise CommandError(error.message, returncode=2) from None
        progress = self._progress(len(sheet))
        try:
            report = run_import(
                target,
                sheet,
                user=history_user,
                dry_run=dry_run,
                update=update,
                stage=self._stage(progress),
                file_name=path.name,
                progress=self._advance(progress),
            )
        finally:
            if progress is not None:
                progress.update(len(sheet) - progress.n)
                progress.close()
        outcome = report.outcome
        verb = "would import" if dry_run else ("imported" if report.written else "nothing imported")
        self.stdout.write(
            f"{resource}: {verb} — new {outcome.new}, updated {outcome.updated}, "
            f"unchanged {outcome.unchanged}, errors {len(report.errors)}"
            + (" (dry run: nothing written)" if dry_run else "")
        )
        for note in outcome.notes:
            self.stdout.write(f"note: {note}")
        errors_file = errors_path(path)
        if report.ok:
            errors_file.unlink(missing_ok=True)
            return
        write_errors(errors_file, report.errors)
        for error in report.errors[:10]:
            where = f"row {error['row']}" + (f", {error['column']}" if error["column"] else "")
            self.stderr.write(f"{where}: {error['reason']}")
        if len(report.errors) > 10:
            self.stderr.write(f"… and {len(report.errors) - 10} more")
        raise CommandError(
            f"{len(report.errors)} error(s); nothing was written. Every error is in {errors_file}.", returncode=1
        )

    def _user(self, username):
        if not username:
            return None
        found = get_user_model()._default_manager.filter(username=username).first()
        if found is None:
            raise DataCommandError(f"No user '{username}'.")
        if not found.is_active:
            raise DataCommandError(f"User '{username}' is not active.")
        return found

    def _stage(self, progress):
        """The bar shows which pass of the engine runs; it fills when the engine returns."""

        def stage(name: str) -> None:
            if progress is not None:
                progress.set_description(name)

        return stage

    def _advance(self, progress):
        """The engine's ``progress(rows_done, rows_total)`` moves the bar (each pass fills it once)."""

        def advance(rows_done: int, rows_total: int) -> None:
            if progress is not None and rows_done != progress.n:
                progress.n = min(rows_done, progress.total)
                progress.refresh()

        return advance

    def _progress(self, total: int):
        """A tqdm bar on a terminal (stdout a TTY); nothing otherwise."""
        stream = getattr(self.stdout, "_out", None)
        if stream is None or stream is not sys.stdout or not stream.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit="row", desc="import", file=sys.stderr)
