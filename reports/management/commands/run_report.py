"""``manage.py run_report NAME [--param key=value ...] [--format csv|xlsx|json] [--output FILE] [--email ADDRESS ...]``

Runs a report of the registry (``reports.registry.run_report``, strict: a
parameter the report does not have is an error) as the system — every
warehouse — and writes it to FILE, or to standard output when there is
neither a file nor an e-mail (XLSX as raw bytes). ``--email`` sends the very
e-mail a schedule sends (``reports.mailing.email_report``) to those addresses.

An unknown report, an unknown or malformed parameter or a bad address is one
line on standard error and exit status 2; a failure to write or send, exit
status 1.
"""

from __future__ import annotations

import io
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from backoffice.exports import FORMATS
from reports.registry import ReportError, run_report

USAGE_ERROR = 2


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``["group_by=month", "warehouse=MAIN"]`` → a dict; a pair without ``=`` or a name twice is an error."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise CommandError(f"Malformed --param {pair!r}: write it as key=value.", returncode=USAGE_ERROR)
        if key in params:
            raise CommandError(f"--param {key} is given twice.", returncode=USAGE_ERROR)
        params[key] = value.strip()
    return params


class Command(BaseCommand):
    help = "Run a report and write it to a file or standard output, or e-mail it."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The report's name, e.g. sales-summary (see /admin/report/).")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A report parameter, e.g. --param date_range=last_month --param group_by=customer (repeatable).",
        )
        parser.add_argument("--format", choices=FORMATS, default="csv", help="File format (default: csv).")
        parser.add_argument("--output", type=Path, help="Write the file here (default: standard output).")
        parser.add_argument(
            "--email",
            action="append",
            default=[],
            metavar="ADDRESS",
            help="E-mail the report (the scheduled report's e-mail) to this address (repeatable).",
        )

    def handle(self, *args, name, param, format, output, email, **options):
        params = parse_params(param)
        recipients = [address.strip() for address in email if address.strip()]
        for address in recipients:
            try:
                validate_email(address)
            except ValidationError:
                raise CommandError(f"Not an e-mail address: {address!r}.", returncode=USAGE_ERROR) from None
        try:
            result = run_report(name, params, strict=True)
        except ReportError as error:
            raise CommandError(str(error).replace("\n", " "), returncode=USAGE_ERROR) from None

        if output is not None:
            try:
                with output.open("wb") as file:
                    result.write(format, file)
            except OSError as error:
                raise CommandError(f"Cannot write {output}: {error.strerror or error}.") from None
            self.stderr.write(f"{result.row_count} rows written to {output}.")
        elif not recipients:
            self._to_stdout(result, format)

        if recipients:
            from reports.mailing import email_report

            try:
                email_report(result, recipients, format)
            except Exception as error:  # noqa: BLE001 - any transport failure is reported, not a traceback
                raise CommandError(f"The e-mail could not be sent: {error}") from None
            self.stderr.write(f"{result.report.title} sent to {', '.join(recipients)}.")

    def _to_stdout(self, result, file_format: str) -> None:
        out = self.stdout._out
        binary = getattr(out, "buffer", None)
        if binary is not None:  # the process's standard output: bytes, streamed
            out.flush()
            result.write(file_format, binary)
            binary.flush()
        elif file_format == "xlsx":
            raise CommandError("XLSX is binary: write it with --output FILE.", returncode=USAGE_ERROR)
        else:  # a text stream (call_command(stdout=…))
            buffer = io.BytesIO()
            result.write(file_format, buffer)
            out.write(buffer.getvalue().decode("utf-8"))
