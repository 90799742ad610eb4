"""Reading an uploaded spreadsheet safely: the one reader every import uses.

``read_upload`` turns a CSV or XLSX file into a ``Sheet`` (headers + rows) or
raises ``UploadRefused`` with a message naming the limit or the problem. Every
check that can be made before the heavy work is made first:

* the size (``IMPORT_MAX_BYTES``) before anything is read;
* for XLSX, before parsing: that it is a zip with a workbook in it, the total
  uncompressed size (``IMPORT_MAX_UNCOMPRESSED_BYTES``) and each member's
  compression ratio (``IMPORT_MAX_COMPRESSION_RATIO``: a zip bomb), then the
  sheet's declared ``<dimension>``;
* rows and columns (``IMPORT_MAX_ROWS``, ``IMPORT_MAX_COLUMNS``) are counted
  while streaming and reading stops at the limit, never after loading all.

CSV text is decoded as UTF-8 (with or without BOM), UTF-16 (with BOM), or
else Windows-1252/Latin-1; binary data is refused. XLSX uses the first sheet
(the user is told when there are more) and cached values of formulas (a
formula without one is refused). Nothing here writes anything.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import tablib
from django.conf import settings

from backoffice.errors import BusinessError
from backoffice.exports import restore_formula_text

CSV, XLSX = "csv", "xlsx"
FORMATS_BY_EXTENSION = {".csv": CSV, ".xlsx": XLSX}
# A member this small cannot make a zip bomb, whatever its ratio.
_RATIO_FLOOR_BYTES = 1024 * 1024
_MAX_ZIP_MEMBERS = 10_000
_MAX_FORMULA_CELLS_LISTED = 5


class UploadRefused(BusinessError):
    """The uploaded file was refused before anything was imported (a limit, or not a readable spreadsheet)."""

    code = "upload_refused"
    http_status = 400


@dataclass(frozen=True)
class UploadLimits:
    """The limits in force (from settings, read at each upload so they can be changed in tests)."""

    max_bytes: int
    max_rows: int
    max_columns: int
    max_uncompressed_bytes: int
    max_compression_ratio: int

    @classmethod
    def from_settings(cls) -> UploadLimits:
        return cls(
            max_bytes=int(getattr(settings, "IMPORT_MAX_BYTES", 50 * 1024 * 1024)),
            max_rows=int(getattr(settings, "IMPORT_MAX_ROWS", 200_000)),
            max_columns=int(getattr(settings, "IMPORT_MAX_COLUMNS", 200)),
            max_uncompressed_bytes=int(getattr(settings, "IMPORT_MAX_UNCOMPRESSED_BYTES", 250 * 1024 * 1024)),
            max_compression_ratio=int(getattr(settings, "IMPORT_MAX_COMPRESSION_RATIO", 200)),
        )


@dataclass
class Sheet:
    """The header row and the data rows of an uploaded file (each row as long as the header)."""

    headers: list[str]
    rows: list[list[Any]]
    file_format: str
    notes: list[str] = field(default_factory=list)
    # Line of the file holding the first data row (the header is line 1).
    first_row: int = 2

    def __len__(self) -> int:
        return len(self.rows)

    def dataset(self) -> tablib.Dataset:
        """A tablib dataset (what django-import-export resources read)."""
        return tablib.Dataset(*[tuple(row) for row in self.rows], headers=self.headers)

    def records(self) -> list[dict[str, Any]]:
        """Rows as ``{header: value}`` mappings (what ``orders.importing`` reads)."""
        return [dict(zip(self.headers, row, strict=True)) for row in self.rows]


def _filled(value) -> bool:
    return value is not None and str(value).strip() != ""


def size_text(size: int) -> str:
    """Bytes as the short figure a user reads (``50 MB``, ``300 KB``)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            figure = size / scale
            return f"{figure:.0f} {unit}" if figure == int(figure) or figure >= 10 else f"{figure:.1f} {unit}"
    return f"{size} bytes"


def file_format_for(name: str) -> str | None:
    """``csv`` / ``xlsx`` from a file name's extension, or None."""
    return FORMATS_BY_EXTENSION.get(Path(name or "").suffix.lower())


def read_upload(upload: IO[bytes], *, file_format: str, name: str = "", limits: UploadLimits | None = None) -> Sheet:
    """Read ``upload`` (a Django ``UploadedFile`` or any binary file) as ``file_format`` within the limits."""
    limits = limits or UploadLimits.from_settings()
    name = name or Path(getattr(upload, "name", "") or "the file").name
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size > limits.max_bytes:
        raise UploadRefused(
            f"“{name}” is {size_text(size)}: files larger than {size_text(limits.max_bytes)} "
            f"(IMPORT_MAX_BYTES) are refused. Split the file and upload the parts."
        )
    if size == 0:
        raise UploadRefused(f"“{name}” is empty.")
    upload.seek(0)
    if file_format == CSV:
        sheet = _read_csv(upload.read(limits.max_bytes + 1), name, limits)
    elif file_format == XLSX:
        sheet = _read_xlsx(upload, name, limits)
    else:
        raise UploadRefused(f"“{name}” is not a CSV or Excel (.xlsx) file.")
    if not sheet.rows:
        raise UploadRefused(f"“{name}” has no rows under its header row.")
    return sheet


# CSV ----------------------------------------------------------------------------------------------


def decode_csv(data: bytes, name: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    if data.startswith(b"PK\x03\x04"):
        raise UploadRefused(
            f"“{name}” is an Excel or zip file, not a CSV text file. "
            "Ensure you have chosen the correct format for the file (Excel: xlsx)."
        )
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, body = "utf-16", data
    else:
        encoding, body = "", data
        if b"\x00" in data[:4096]:
            raise _binary(name)
    if encoding:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            raise UploadRefused(
                f"“{name}” says it is {encoding.upper()} text but is not: save it again as CSV UTF-8."
            ) from None
    else:
        for encoding in ("utf-8", "cp1252", "latin-1"):
            try:
                text = body.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    sample = text[:65536]
    controls = sum(1 for char in sample if unicodedata.category(char) == "Cc" and char not in "\t\r\n\f")
    if "\x00" in text or controls > max(5, len(sample) // 100):
        raise _binary(name)
    return text, encoding


def _binary(name: str) -> UploadRefused:
    return UploadRefused(
        f"“{name}” holds binary data, not CSV text. Ensure you have chosen the correct format for the file "
        "(save the sheet as CSV UTF-8 or as .xlsx)."
    )


def _read_csv(data: bytes, name: str, limits: UploadLimits) -> Sheet:
    text, encoding = decode_csv(data, name)
    reader = csv.reader(io.StringIO(text, newline=""))
    headers: list[str] | None = None
    rows: list[list[Any]] = []
    notes = [] if encoding == "utf-8" else [f"“{name}” was read as {_ENCODING_NAMES[encoding]} text."]
    try:
        for cells in reader:
            if headers is None:
                _check_columns(len(cells), name, limits)
                headers = [cell.strip() for cell in cells]
                continue
            if not cells:
                continue
            # Our CSV exports quote text that starts like a formula; read such cells back as they were.
            cells = [restore_formula_text(cell) for cell in cells]
            rows.append(_fit(cells, len(headers), reader.line_num, name, limits, ""))
            if len(rows) > limits.max_rows:
                raise _too_many_rows(name, limits)
    except csv.Error as error:
        raise UploadRefused(f"“{name}” could not be read as CSV (line {reader.line_num}: {error}).") from None
    if headers is None or not any(headers):
        raise UploadRefused(f"“{name}” is empty: the first row must hold the column names.")
    return Sheet(headers=headers, rows=rows, file_format=CSV, notes=notes)


_ENCODING_NAMES = {"utf-16": "UTF-16", "cp1252": "Windows-1252", "latin-1": "Latin-1", "utf-8": "UTF-8"}


def _check_columns(count: int, name: str, limits: UploadLimits) -> None:
    if count > limits.max_columns:
        raise UploadRefused(
            f"“{name}” has {count:,} columns: at most {limits.max_columns:,} (IMPORT_MAX_COLUMNS) are read."
        )


def _too_many_rows(name: str, limits: UploadLimits) -> UploadRefused:
    return UploadRefused(
        f"“{name}” has more than {limits.max_rows:,} rows (IMPORT_MAX_ROWS). Split the file and upload the parts."
    )


def _fit(cells: list, width: int, line: int, name: str, limits: UploadLimits, empty) -> list:
    """A row exactly as wide as the header: padded, or trimmed of empty trailing cells."""
    if len(cells) > width:
        _check_columns(len(cells), name, limits)
        if any(_filled(value) for value in cells[width:]):
            raise UploadRefused(
                f"“{name}”, line {line}: {len(cells)} cells, but the header row has {width} columns. "
                "Give every column a name in the first row."
            )
        return list(cells[:width])
    return list(cells) + [empty] * (width - len(cells))


# XLSX ---------------------------------------------------------------------------------------------


def _read_xlsx(upload: IO[bytes], name: str, limits: UploadLimits) -> Sheet:
    not_xlsx = UploadRefused(
        f"“{name}” could not be read as XLSX: it is not an Excel spreadsheet (.xlsx). "
        "Ensure you have chosen the correct format for the file."
    )
    if not zipfile.is_zipfile(upload):
        raise not_xlsx
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            members = archive.infolist()
            names = {member.filename for member in members}
    except (zipfile.BadZipFile, OSError, ValueError):
        raise not_xlsx from None
    if "xl/workbook.xml" not in names or len(members) > _MAX_ZIP_MEMBERS:
        raise not_xlsx
    _check_uncompressed(members, name, limits)
    upload.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _stream_first_sheet(upload, name, limits)
        except UploadRefused:
            raise
        except Exception as error:  # noqa: BLE001 - openpyxl raises many types for a damaged file; all mean the same
            raise UploadRefused(
                f"“{name}” could not be read as an Excel workbook ({error.__class__.__name__}). "
                "Ensure you have chosen the correct format for the file."
            ) from None


def _check_uncompressed(members: list[zipfile.ZipInfo], name: str, limits: UploadLimits) -> None:
    """Zip bomb guard, from the sizes the archive declares (zipfile never inflates a member past its declared size)."""
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise UploadRefused(
            f"“{name}” unpacks to {size_text(total)}: workbooks larger than {size_text(limits.max_uncompressed_bytes)} "
            "uncompressed (IMPORT_MAX_UNCOMPRESSED_BYTES) are refused."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise UploadRefused(
                f"“{name}” is compressed {ratio:,.0f} times ({member.filename}): more than "
                f"{limits.max_compression_ratio} times (IMPORT_MAX_COMPRESSION_RATIO) is refused as a zip bomb."
            )


def _stream_first_sheet(upload: IO[bytes], name: str, limits: UploadLimits) -> Sheet:
    import openpyxl
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class CachedValueParser(WorkSheetParser):
        """Cell values as last calculated; remembers formula cells saved without a value."""

        uncached: list[str]

        def parse_cell(self, element):
            cell = super().parse_cell(element)
            # A formula whose result was never stored has no <v> or an empty one (an empty text result is t="str").
            if element.find(FORMULA_TAG) is not None and not element.findtext(VALUE_TAG) and element.get("t") != "str":
                self.uncached.append(element.get("r") or f"row {cell['row']}")
            return cell

    book = openpyxl.load_workbook(upload, read_only=True, data_only=True, keep_links=False)
    try:
        sheets = book.worksheets
        if not sheets:
            raise UploadRefused(f"“{name}” has no worksheet.")
        sheet = sheets[0]
        notes = []
        if len(sheets) > 1:
            notes.append(
                f"“{name}” has {len(sheets)} sheets: only the first, “{sheet.title}”, was read "
                f"(not {', '.join(f'“{s.title}”' for s in sheets[1:4])}{'…' if len(sheets) > 4 else ''})."
            )
        # The declared size (<dimension ref="A1:C10">) is checked before a single row is parsed.
        if sheet.max_row is not None and sheet.max_row - (sheet.min_row or 1) > limits.max_rows:
            raise UploadRefused(
                f"“{name}” declares {sheet.max_row:,} rows: at most {limits.max_rows:,} (IMPORT_MAX_ROWS) are read. "
                "Split the file and upload the parts."
            )
        if sheet.max_column is not None:
            _check_columns(sheet.max_column, name, limits)
        # openpyxl's private parts: its read-only sheet would pad every row to the declared width.
        with book._archive.open(sheet._worksheet_path) as source:
            parser = CachedValueParser(
                source,
                sheet._shared_strings,
                data_only=True,
                epoch=book.epoch,
                date_formats=book._date_formats,
                timedelta_formats=book._timedelta_formats,
            )
            parser.uncached = []
            headers, rows = _sheet_rows(parser, name, limits)
    finally:
        book.close()
    if parser.uncached:
        listed = ", ".join(parser.uncached[:_MAX_FORMULA_CELLS_LISTED])
        more = f" and {len(parser.uncached) - _MAX_FORMULA_CELLS_LISTED} more" if len(parser.uncached) > 5 else ""
        raise UploadRefused(
            f"“{name}” has formulas without a saved value (cells {listed}{more}). Open the file in Excel or "
            "LibreOffice, save it (so the results are stored) and upload it again, or paste the values."
        )
    if headers is None:
        raise UploadRefused(f"“{name}” is empty: the first row must hold the column names.")
    while rows and not any(_filled(v) for v in rows[-1]):
        rows.pop()
    return Sheet(headers=headers, rows=rows, file_format=XLSX, notes=notes)


def _sheet_rows(parser, name: str, limits: UploadLimits) -> tuple[list[str] | None, list[list[Any]]]:
    headers: list[str] | None = None
    rows: list[list[Any]] = []
    previous = 0
    for number, cells in parser.parse():
        width = max((cell["column"] for cell in cells), default=0)
        _check_columns(width, name, limits)
        values: list[Any] = [None] * width
        for cell in cells:
            values[cell["column"] - 1] = cell["value"]
        if headers is None:
            if not any(_filled(v) for v in values):
                continue
            headers = ["" if v is None else str(v).strip() for v in values]
            previous = number
            continue
        # Rows missing from the file are blank rows of the sheet.
        rows.extend([None] * len(headers) for _ in range(min(number - previous - 1, limits.max_rows + 1)))
        previous = number
        rows.append(_fit(values, len(headers), number, name, limits, None))
        if len(rows) > limits.max_rows:
            raise _too_many_rows(name, limits)
    return headers, rows
