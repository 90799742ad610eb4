import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backoffice.backup import BackupError, backup_restore, backup_target_lines


class Command(BaseCommand):
    help = (
        "Replace the database and MEDIA_ROOT with a backup made by `manage.py backup`. "
        "Stop the web and worker processes first. Exits 1 if the restored row counts differ from the backup's."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The .tar.gz archive to restore.")
        parser.add_argument(
            "--yes",
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (needed when not run on a terminal).",
        )

    def handle(self, *args, **options):
        archive = Path(options["file"])
        for line in backup_target_lines():
            self.stdout.write(line)
        if options["interactive"]:
            if not sys.stdin.isatty():
                raise CommandError(
                    "Restore replaces all data and media and needs a confirmation: run it on a terminal, or pass --yes."
                )
            answer = input(f"This replaces ALL data and media with {archive.name}. Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled.")
        try:
            result = backup_restore(archive=archive)
        except BackupError as error:
            raise CommandError(error.message) from error
        manifest = result.manifest
        rows = sum(manifest["tables"].values())
        self.stdout.write(f"Restored {archive.name} (made {manifest['created_at']}, {rows} rows).")
        if result.mismatches:
            for table, (expected, found) in sorted(result.mismatches.items()):
                self.stderr.write(f"{table}: {expected} rows in the backup, {found} now")
            raise CommandError(f"{len(result.mismatches)} table(s) differ from the backup.")
        self.stdout.write(self.style.SUCCESS("Every table has the row count recorded in the backup."))
        self.stdout.write("If this code is newer than the backup, run `manage.py migrate` next.")
