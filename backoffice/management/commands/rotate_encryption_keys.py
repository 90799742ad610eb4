from django.core.management.base import BaseCommand, CommandError

from backoffice.encryption import rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (main and history tables) with the newest key of FIELD_ENCRYPTION_KEYS "
        "(and the current SECRET_KEY). Safe to run again: values already under the newest key are left alone. "
        "Fails if a value cannot be decrypted with any configured key (nothing is written for it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        counts = rotate_all(batch_size=options["batch_size"])
        unreadable = 0
        for count in counts:
            line = f"{count.table}.{count.column}: {count.rotated} re-encrypted, {count.current} already current" + (
                f", {len(count.unreadable)} UNREADABLE" if count.unreadable else ""
            )
            self.stdout.write(line)
            if count.unreadable:
                shown = ", ".join(str(pk) for pk in count.unreadable[:20])
                self.stderr.write(f"  cannot decrypt with any configured key (primary keys): {shown}")
            unreadable += len(count.unreadable)
        rotated = sum(count.rotated for count in counts)
        current = sum(count.current for count in counts)
        summary = f"Total: {rotated} re-encrypted, {current} already current, {unreadable} unreadable."
        if unreadable:
            raise CommandError(
                summary + " Put the missing old key back at the end of FIELD_ENCRYPTION_KEYS (or the old "
                "SECRET_KEY into DJANGO_SECRET_KEY_FALLBACKS) and run the command again."
            )
        self.stdout.write(self.style.SUCCESS(summary))
