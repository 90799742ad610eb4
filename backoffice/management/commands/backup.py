from django.core.management.base import BaseCommand, CommandError

from backoffice.backup import BackupError, backup_create, backup_prune, backup_target_lines


class Command(BaseCommand):
    help = "Back up the database and MEDIA_ROOT into one .tar.gz in BACKUP_DIR (SQLite online backup or pg_dump)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="Folder for the archive (default: BACKUP_DIR).")
        parser.add_argument(
            "--prune", action="store_true", help="Afterwards keep only the newest BACKUP_KEEP archives."
        )

    def handle(self, *args, **options):
        for line in backup_target_lines():
            self.stdout.write(line)
        try:
            archive = backup_create(directory=options["dir"])
            removed = backup_prune(directory=options["dir"]) if options["prune"] else []
        except BackupError as error:
            raise CommandError(error.message) from error
        self.stdout.write(self.style.SUCCESS(f"Backup written: {archive}"))
        for path in removed:
            self.stdout.write(f"Deleted old backup: {path.name}")
