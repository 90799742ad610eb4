"""``manage.py export_data RESOURCE [--format csv|xlsx] [--output FILE] [--filter key=value ...]``.

Writes the columns ``import_data RESOURCE`` reads (an export imported again
unchanged writes nothing) through ``backoffice.exports.write_export``; CSV goes
to stdout without ``--output``. Exit status 2 on a usage error (unknown or
unexportable resource, bad filter, XLSX without ``--output``).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backoffice.data_commands import (
    RESOURCES,
    DataCommandError,
    TextSink,
    data_resource,
    export_rows,
    export_title,
    parse_filters,
)
from backoffice.exports import CSV, XLSX, write_export


class Command(BaseCommand):
    help = "Export records as CSV or XLSX with the columns the import reads."

    def add_arguments(self, parser):
        parser.add_argument(
            "resource", help=f"What to export: {', '.join(n for n, r in RESOURCES.items() if r.exportable)}."
        )
        parser.add_argument("--format", choices=(CSV, XLSX), default=CSV, dest="file_format")
        parser.add_argument("--output", help="The file to write (default: CSV to standard output).")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            dest="filters",
            metavar="KEY=VALUE",
            help="A queryset lookup such as is_active=false or category__name=Beverages (repeatable).",
        )

    def handle(self, *args, resource, file_format, output, filters, **options):
        try:
            target = data_resource(resource, for_export=True)
            model = target.resource_class()._meta.model
            lookups = parse_filters(model, filters)
            if file_format == XLSX and not output:
                raise DataCommandError("XLSX is written to a file: give --output FILE.xlsx.")
        except DataCommandError as error:
            raise CommandError(error.message, returncode=2) from None
        columns, rows = export_rows(target, lookups)
        if not output:
            write_export(rows(), columns, file_format, TextSink(self.stdout), title=export_title(target))
            return
        path = Path(output)
        try:
            with path.open("wb") as handle:
                write_export(rows(), columns, file_format, handle, title=export_title(target))
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}", returncode=2) from None
        self.stderr.write(f"{resource}: written to {path}")
