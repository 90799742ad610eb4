"""The one export path: typed, formula-safe rows written as CSV, XLSX or JSON.

Every outlet that hands a user a file of rows (admin list exports, reports,
API downloads, e-mail attachments, commands) describes its columns with
``Column`` and writes its rows through here:

* ``export_response(rows, columns, file_format, filename)`` returns a download
  response: CSV and JSON are streamed (``StreamingHttpResponse``), XLSX is
  written row by row with XlsxWriter's constant-memory workbook into a temporary file
  (spilled to disk when large) and then streamed with ``FileResponse``. Memory
  stays bounded whatever the number of rows, as long as ``rows`` is lazy
  (``queryset_rows`` reads a queryset with ``iterator(chunk_size=…)``).
* ``write_export(rows, columns, file_format, file)`` writes the same bytes to
  a binary file object (attachments, commands).

Rows are tuples/lists in column order or dicts keyed by column name. Values
keep their type: integers, decimals, dates and booleans are numbers, dates
and booleans in XLSX, plain literals in CSV/JSON.

Spreadsheet formula injection: a *text* value starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return would be run as a formula by Excel
or LibreOffice. ``neutralise_formula`` (CSV) prefixes it with ``'``; in XLSX
the cell is always a string cell with Excel's quote prefix set and the text
kept as it is (so an XLSX export re-imports unchanged). Numbers are never
touched: ``-2`` in a number column stays the number -2. JSON is data, not a
spreadsheet, and keeps text unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.text import slugify

# Column types
TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
MONEY = "money"
PERCENT = "percent"  # a number of percent: 20 means 20 % (shown "20.00%", not multiplied)
DATE = "date"
DATETIME = "datetime"
BOOL = "bool"
AUTO = "auto"  # the value's own Python type decides (computed columns of unknown type)
COLUMN_TYPES = (TEXT, INTEGER, DECIMAL, MONEY, PERCENT, DATE, DATETIME, BOOL, AUTO)
NUMBER_TYPES = (INTEGER, DECIMAL, MONEY, PERCENT)

CSV, XLSX, JSON = "csv", "xlsx", "json"
FORMATS = (CSV, XLSX, JSON)
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    JSON: "application/json",
}

# XLSX number formats by column type.
NUMBER_FORMATS = {
    INTEGER: "0",
    DECIMAL: "General",
    MONEY: "#,##0.00",
    PERCENT: '0.00"%"',
    DATE: "yyyy-mm-dd",
    DATETIME: "yyyy-mm-dd hh:mm:ss",
}
CSV_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

DEFAULT_CHUNK_SIZE = 2000
# XLSX files are built in memory up to this size, then on disk.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
_STREAM_BLOCK = 64 * 1024

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)  # each trigger is one character
# Control characters an XLSX file cannot hold (tab, LF and CR it can).
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# A cell holds a double: a larger number is written as its digits (text).
_XLSX_MAX_NUMBER = Decimal("1e300")


class ExportError(ValueError):
    """A programming error in an export description (unknown format or column type)."""


@dataclass(frozen=True)
class Column:
    """One column of an export: ``name`` (the key in dict rows and JSON), ``header`` and ``type``.

    ``number_format`` overrides the XLSX format of the type (e.g. ``"#,##0.00##"`` for
    prices with four decimals); ``width`` the XLSX column width in characters.
    """

    name: str
    header: str = ""
    type: str = TEXT
    number_format: str = ""
    width: float | None = None

    def __post_init__(self):
        if self.type not in COLUMN_TYPES:
            raise ExportError(f"Column {self.name!r}: unknown type {self.type!r} (one of {', '.join(COLUMN_TYPES)}).")
        if not self.header:
            object.__setattr__(self, "header", self.name)


def columns_of(*specs: Column | str | tuple) -> list[Column]:
    """Shorthand: ``columns_of("sku", ("quantity", INTEGER), Column("price", "Price", MONEY))``."""
    result = []
    for spec in specs:
        if isinstance(spec, Column):
            result.append(spec)
        elif isinstance(spec, str):
            result.append(Column(spec))
        else:
            name, kind, *rest = spec
            result.append(Column(name, rest[0] if rest else "", kind))
    return result


# ---------------------------------------------------------------------------
# Formula neutralising: the one rule


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (or a DDE payload)."""
    return text.startswith(FORMULA_TRIGGERS)


def neutralise_formula(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading ``'`` when it starts like a formula."""
    return "'" + text if starts_like_formula(text) else text


def restore_formula_text(text: str) -> str:
    """The inverse of ``neutralise_formula`` for text read back from a CSV file: ``'+44 20…`` → ``+44 20…``.

    Only a quote in front of a formula trigger is removed, so an export imported again is unchanged."""
    if text.startswith("'") and starts_like_formula(text[1:]):
        return text[1:]
    return text


# ---------------------------------------------------------------------------
# Values by type


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _kind_of(value: Any) -> str:
    """The column type a value of unknown type is written as."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, Decimal | float):
        return DECIMAL
    if isinstance(value, dt.datetime):
        return DATETIME
    if isinstance(value, dt.date):
        return DATE
    return TEXT


def _typed(value: Any, kind: str) -> tuple[str, Any]:
    """``(kind, value)`` with ``value`` of the column's Python type; values that are not fall back to text."""
    if kind == AUTO:
        kind = _kind_of(value)
    if kind == TEXT:
        return TEXT, force_str(value)
    if kind == BOOL:
        if isinstance(value, bool):
            return BOOL, value
    elif kind in NUMBER_TYPES:
        if isinstance(value, bool):
            return TEXT, force_str(value)
        if isinstance(value, int | Decimal | float):
            if isinstance(value, Decimal | float) and not _finite(value):
                return TEXT, force_str(value)
            return kind, value
    elif kind == DATETIME:
        if isinstance(value, dt.datetime):
            return DATETIME, _local(value)
        if isinstance(value, dt.date):
            return DATE, value
    elif kind == DATE:
        if isinstance(value, dt.datetime):
            return DATE, _local(value).date()
        if isinstance(value, dt.date):
            return DATE, value
    # A string in a typed column (a report's "—", a widget's rendering): written as text, neutralised.
    return TEXT, force_str(value)


def _finite(value: Decimal | float) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _number_text(value: int | Decimal | float) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(value) if isinstance(value, float) else str(value)


def csv_cell(value: Any, kind: str) -> str:
    """The CSV text of one value (empty for None)."""
    if value is None:
        return ""
    kind, value = _typed(value, kind)
    if kind == TEXT:
        return neutralise_formula(value)
    if kind == BOOL:
        return "yes" if value else "no"
    if kind in NUMBER_TYPES:
        return _number_text(value)
    if kind == DATETIME:
        return value.strftime(CSV_DATETIME_FORMAT)
    return value.isoformat()  # DATE


def csv_formatter(kind: str) -> Callable[[Any], str]:
    """``csv_cell`` for one column type, with a fast path for the usual Python type (called per cell)."""
    if kind == TEXT:

        def text(value: Any) -> str:
            if value is None:
                return ""
            value = value if type(value) is str else force_str(value)
            return "'" + value if value[:1] in _TRIGGER_CHARS else value  # starts_like_formula, per cell

        return text
    if kind == INTEGER:
        return lambda value: str(value) if type(value) is int else csv_cell(value, kind)
    if kind in (DECIMAL, MONEY, PERCENT):
        return lambda value: (
            format(value, "f") if type(value) is Decimal and value.is_finite() else csv_cell(value, kind)
        )
    if kind == DATETIME:
        zone = timezone.get_current_timezone()  # once per export, not per cell (``_local`` looks it up each time)

        def datetime_text(value: Any) -> str:
            if type(value) is dt.datetime:
                if value.tzinfo is not None:
                    value = value.astimezone(zone)
                return value.isoformat(" ", "seconds")[:19]  # CSV_DATETIME_FORMAT, without strftime's cost
            return csv_cell(value, kind)

        return datetime_text
    if kind == DATE:
        return lambda value: value.isoformat() if type(value) is dt.date else csv_cell(value, kind)
    return lambda value: csv_cell(value, kind)


def json_text(value: Any, kind: str) -> str:
    """The JSON literal of one value: numbers as numbers (decimals exact), dates as ISO 8601 text."""
    if value is None:
        return "null"
    kind, value = _typed(value, kind)
    if kind in NUMBER_TYPES:
        return _number_text(value)
    if kind in (DATE, DATETIME):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------
# Rows


def _row_values(row: Sequence | Mapping, columns: Sequence[Column]) -> Sequence:
    if isinstance(row, Mapping):
        return [row.get(column.name) for column in columns]
    if len(row) != len(columns):
        raise ExportError(f"A row has {len(row)} values for {len(columns)} columns.")
    return row


def queryset_rows(
    queryset: QuerySet, to_row: Callable[[Any], Sequence | Mapping], *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[Sequence | Mapping]:
    """Rows of a queryset read in chunks (constant memory); ``to_row`` maps an object (or a ``values()`` dict)."""
    for obj in queryset.iterator(chunk_size=chunk_size):
        yield to_row(obj)


class _Echo:
    """A file-like object whose ``write`` returns what it was given (for ``csv.writer`` in a generator)."""

    def write(self, value: str) -> str:
        return value


def iter_csv(rows: Iterable, columns: Sequence[Column], *, bom: bool = True) -> Iterator[bytes]:
    """CSV as a stream of byte chunks: UTF-8 (with a BOM so Excel reads accents), header first."""
    writer = csv.writer(_Echo())
    formatters = [csv_formatter(column.type) for column in columns]
    buffer: list[str] = ["\ufeff"] if bom else []
    buffer.append(writer.writerow([neutralise_formula(force_str(c.header)) for c in columns]))
    size, width = 0, len(columns)
    for row in rows:
        # Fast path: a tuple in column order (``values_list``) needs no lookup by name.
        values = row if type(row) is tuple and len(row) == width else _row_values(row, columns)
        line = writer.writerow([f(v) for f, v in zip(formatters, values, strict=True)])
        buffer.append(line)
        size += len(line)
        if size >= _STREAM_BLOCK:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def iter_json(rows: Iterable, columns: Sequence[Column]) -> Iterator[bytes]:
    """A JSON array of objects keyed by column name, as a stream of byte chunks."""
    keys = [json.dumps(column.name, ensure_ascii=False) + ": " for column in columns]
    kinds = [column.type for column in columns]
    buffer, size, separator = ["["], 0, "\n"
    for row in rows:
        values = _row_values(row, columns)
        fields = ", ".join(key + json_text(v, k) for key, v, k in zip(keys, values, kinds, strict=True))
        text = separator + "{" + fields + "}"
        separator = ",\n"
        buffer.append(text)
        size += len(text)
        if size >= _STREAM_BLOCK:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    buffer.append("\n]\n")
    yield "".join(buffer).encode()


def write_xlsx(rows: Iterable, columns: Sequence[Column], file: IO[bytes], *, title: str = "Export") -> None:
    """An XLSX workbook written row by row: bold frozen header, typed cells, text never a formula.

    XlsxWriter in ``constant_memory`` mode: each row goes to a temporary sheet file as soon as the
    next one starts, so memory does not grow with the rows; about twice as fast as openpyxl's
    write-only workbook (``benchmarks/exports.py``). Strings are written with ``write_string``
    (never read as formulas, numbers or links); formula-like text gets Excel's quote prefix.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        file,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    try:
        sheet = workbook.add_worksheet(_sheet_title(title))
        sheet.freeze_panes(1, 0)
        bold = workbook.add_format({"bold": True})
        bold_quoted = workbook.add_format({"bold": True, "quote_prefix": True})
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width or _default_width(column))
            header = _XLSX_ILLEGAL.sub("", force_str(column.header))
            sheet.write_string(0, index, header, bold_quoted if starts_like_formula(header) else bold)
        quoted, number_formats = workbook.add_format({"quote_prefix": True}), {}
        writers = [_xlsx_writer(sheet, workbook, column, quoted, number_formats) for column in columns]
        for row_number, row in enumerate(rows, 1):
            for column_number, (value, write) in enumerate(zip(_row_values(row, columns), writers, strict=True)):
                if value is not None:
                    write(row_number, column_number, value)
    finally:
        workbook.close()


def _xlsx_writer(sheet, workbook, column: Column, quoted, number_formats: dict) -> Callable[[int, int, Any], None]:
    """``write(row, col, value)`` for one column: typed cells with the column's number format.

    ``quoted`` is the quote-prefix cell format; ``number_formats`` the workbook's number formats by their
    text, shared by the columns (each made once).
    """

    def number_format(kind: str):
        text = column.number_format or NUMBER_FORMATS.get(kind, "General")
        if text not in number_formats:
            number_formats[text] = workbook.add_format({"num_format": text})
        return number_formats[text]

    write_string, write_number = sheet.write_string, sheet.write_number
    write_datetime, write_boolean = sheet.write_datetime, sheet.write_boolean

    def write_any(row: int, col: int, value: Any) -> None:
        kind, value = _typed(value, column.type)
        if kind == TEXT:
            write_text(row, col, value)
        elif kind == BOOL:
            write_boolean(row, col, value)
        elif kind == DATETIME:
            write_datetime(row, col, value.replace(tzinfo=None), number_format(DATETIME))  # Excel has no zones
        elif kind == DATE:
            write_datetime(row, col, value, number_format(DATE))
        elif not -_XLSX_MAX_NUMBER < value < _XLSX_MAX_NUMBER:
            write_text(row, col, _number_text(value))  # beyond a double: the digits kept as text
        else:
            write_number(row, col, value, number_format(kind))

    def write_text(row: int, col: int, value: str) -> None:
        value = _XLSX_ILLEGAL.sub("", value)
        if value[:1] in _TRIGGER_CHARS:
            write_string(row, col, value, quoted)
        else:
            write_string(row, col, value)

    # Fast paths for the column's usual Python type; anything else goes through ``write_any``.
    if column.type == TEXT:
        return lambda row, col, value: write_text(row, col, value if type(value) is str else force_str(value))
    if column.type in NUMBER_TYPES:
        cell_format = number_format(column.type)

        def write_number_cell(row: int, col: int, value: Any) -> None:
            if type(value) is int:
                write_number(row, col, value, cell_format)
            else:
                write_any(row, col, value)

        return write_number_cell
    if column.type == DATETIME:
        zone = timezone.get_current_timezone()  # once per export, not per cell
        cell_format = number_format(DATETIME)

        def write_datetime_cell(row: int, col: int, value: Any) -> None:
            if type(value) is dt.datetime:
                if value.tzinfo is not None:
                    value = value.astimezone(zone).replace(tzinfo=None)
                write_datetime(row, col, value, cell_format)
            else:
                write_any(row, col, value)

        return write_datetime_cell
    return write_any


def _sheet_title(title: str) -> str:
    """A name Excel accepts: no ``[]:*?/\\``, at most 31 characters, not starting or ending with ``'``."""
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31].strip("'") or "Export"


def _default_width(column: Column) -> float:
    by_type = {DATE: 12, DATETIME: 20, BOOL: 8, INTEGER: 10, DECIMAL: 12, MONEY: 14, PERCENT: 10}
    return max(len(force_str(column.header)) + 2, by_type.get(column.type, 18))


# ---------------------------------------------------------------------------
# Entry points


def _check_format(file_format: str) -> str:
    file_format = (file_format or "").lower().lstrip(".")
    if file_format not in FORMATS:
        raise ExportError(f"Unknown export format {file_format!r} (one of {', '.join(FORMATS)}).")
    return file_format


def write_export(
    rows: Iterable, columns: Sequence[Column], file_format: str, file: IO[bytes], *, title: str = "Export"
) -> None:
    """Write ``rows`` as ``file_format`` (csv, xlsx, json) to the binary file object ``file``."""
    file_format = _check_format(file_format)
    if file_format == XLSX:
        write_xlsx(rows, columns, file, title=title)
        return
    chunks = iter_csv(rows, columns) if file_format == CSV else iter_json(rows, columns)
    for chunk in chunks:
        file.write(chunk)


def export_filename(name: str, file_format: str, *, day: dt.date | None = None) -> str:
    """``sales-orders-2025-03-01.xlsx``: what was exported and the (local) date."""
    day = day or timezone.localdate()
    return f"{slugify(name) or 'export'}-{day.isoformat()}.{_check_format(file_format)}"


def export_response(
    rows: Iterable, columns: Sequence[Column], file_format: str, filename: str, *, title: str = "Export"
) -> StreamingHttpResponse | FileResponse:
    """A download of ``rows``: CSV/JSON streamed as they are read, XLSX from a temporary file."""
    file_format = _check_format(file_format)
    columns = list(columns)
    if file_format == XLSX:
        file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 (FileResponse closes it)
        try:
            write_xlsx(rows, columns, file, title=title)
            file.seek(0)
        except BaseException:
            file.close()
            raise
        response = FileResponse(file, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[XLSX])
        response.block_size = _STREAM_BLOCK
        return response
    chunks = iter_csv(rows, columns) if file_format == CSV else iter_json(rows, columns)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
