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
formula without one is refused). Rows are read with python-calamine (~15x faster than openpyxl) when a
streaming scan of the sheet XML shows nothing it reads differently (formula cells without a value, error cells,
cells beyond the limits, namespace prefixes); otherwise with openpyxl's streaming parser. Nothing here writes anything.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import posixpath
import re
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


def estimate_rows(
    upload: IO[bytes], *, file_format: str, name: str = "", limits: UploadLimits | None = None
) -> int | None:
    """An upper bound of the data rows of ``upload``, found without reading its rows (None: not known cheaply).

    What the upload step needs to send a big file to the background at once (the task reads it with
    ``read_upload``, every check included). The checks that cost nothing are made here too, so their message
    comes at once: the size, an empty file, and for CSV its text encoding and header width; for XLSX the zip
    checks (a workbook, the uncompressed size, the compression ratio). CSV: the line breaks (a cell may hold one,
    so it is a bound); XLSX: the sheet's declared ``<dimension>`` (None when the first 64 KB do not declare one).
    """
    limits = limits or UploadLimits.from_settings()
    name = name or Path(getattr(upload, "name", "") or "the file").name
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size > limits.max_bytes or size == 0 or file_format not in (CSV, XLSX):
        return None  # read_upload says why, at once
    upload.seek(0)
    if file_format == CSV:
        data = upload.read(limits.max_bytes + 1)
        upload.seek(0)
        text, _encoding = decode_csv(data, name)
        first_line = next(iter(csv.reader(io.StringIO(text.split("\n", 1)[0], newline=""))), [])
        _check_columns(len(first_line), name, limits)
        return max(0, text.count("\n") + (0 if text.endswith("\n") else 1) - 1)
    if not zipfile.is_zipfile(upload):
        upload.seek(0)
        return None
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            members = archive.infolist()
            if "xl/workbook.xml" not in {m.filename for m in members} or len(members) > _MAX_ZIP_MEMBERS:
                return None
            _check_uncompressed(members, name, limits)
            worksheets = _worksheets(archive)
            if not worksheets:
                return None
            with archive.open(worksheets[0][1]) as source:
                head = source.read(65536)
    except UploadRefused:
        raise
    except Exception:  # noqa: BLE001 - a damaged file: read_upload says what is wrong
        return None
    finally:
        upload.seek(0)
    found = re.search(rb'<dimension\s+ref="[A-Z]+([0-9]+)(?::[A-Z]+([0-9]+))?"', head.split(b"<sheetData", 1)[0])
    if not found:
        return None
    return max(0, int(found.group(2) or found.group(1)) - 1)


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
    # Our CSV exports quote text that starts like a formula; such cells are read back as they were (only looked
    # for when the text has an apostrophe at all).
    quoted = "'" in text
    width = 0
    try:
        for cells in reader:
            if headers is None:
                _check_columns(len(cells), name, limits)
                headers = [cell.strip() for cell in cells]
                width = len(headers)
                continue
            if not cells:
                continue
            if quoted:
                cells = [restore_formula_text(cell) if cell[:1] == "'" else cell for cell in cells]
            rows.append(cells if len(cells) == width else _fit(cells, width, reader.line_num, name, limits, ""))
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
            return _read_first_sheet(upload, name, limits)
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


def _read_first_sheet(upload: IO[bytes], name: str, limits: UploadLimits) -> Sheet:
    """The first worksheet: with python-calamine (fast) when a streaming scan of its XML shows nothing it reads
    differently, else with openpyxl's streaming parser (formula cells without a value, error cells, ...)."""
    with zipfile.ZipFile(upload) as archive:
        worksheets = _worksheets(archive)
        if not worksheets:
            raise UploadRefused(f"“{name}” has no worksheet.")
        title, path = worksheets[0]
        scan = _scan_sheet_xml(archive, path, limits)
    if scan.dimension is not None:
        _check_dimension(*scan.dimension, name, limits)
    if not scan.calamine_safe or (scan.formulas and _uncached_formula_cells(upload, path)):
        upload.seek(0)
        return _stream_first_sheet(upload, name, limits)
    from python_calamine import CalamineWorkbook

    upload.seek(0)
    rows = CalamineWorkbook.from_filelike(upload).get_sheet_by_name(title).to_python(skip_empty_area=False)
    notes = [_sheets_note(name, [t for t, _ in worksheets])] if len(worksheets) > 1 else []
    headers: list[str] | None = None
    data: list[list[Any]] = []
    width = 0
    for number, cells in enumerate(rows, start=1):
        values = [_calamine_value(v) for v in cells]
        if headers is None:
            if not any(_filled(v) for v in values):
                continue
            _check_columns(_used_width(values), name, limits)
            while values and values[-1] is None:
                values.pop()
            headers = ["" if v is None else str(v).strip() for v in values]
            width = len(headers)
            continue
        data.append(_fit(values, width, number, name, limits, None) if len(values) != width else values)
        if len(data) > limits.max_rows:
            raise _too_many_rows(name, limits)
    if headers is None:
        raise UploadRefused(f"“{name}” is empty: the first row must hold the column names.")
    while data and not any(_filled(v) for v in data[-1]):
        data.pop()
    return Sheet(headers=headers, rows=data, file_format=XLSX, notes=notes)


def _used_width(values: list) -> int:
    return max((i + 1 for i, v in enumerate(values) if v is not None), default=0)


def _calamine_value(value):
    """A cell as openpyxl gave it: blank → None, whole numbers → int, dates → datetime (times, durations as is)."""
    if value == "":
        return None
    if type(value) is float:
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if type(value) is datetime.date:
        return datetime.datetime.combine(value, datetime.time())
    return value


def _sheets_note(name: str, titles: list[str]) -> str:
    return (
        f"“{name}” has {len(titles)} sheets: only the first, “{titles[0]}”, was read "
        f"(not {', '.join(f'“{t}”' for t in titles[1:4])}{'…' if len(titles) > 4 else ''})."
    )


def _check_dimension(min_col: int, min_row: int, max_col: int, max_row: int, name: str, limits: UploadLimits):
    """The declared size (<dimension ref="A1:C10">), checked before a single row is parsed."""
    if max_row is not None and max_row - (min_row or 1) > limits.max_rows:
        raise UploadRefused(
            f"“{name}” declares {max_row:,} rows: at most {limits.max_rows:,} (IMPORT_MAX_ROWS) are read. "
            "Split the file and upload the parts."
        )
    if max_col is not None:
        _check_columns(max_col, name, limits)


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _worksheets(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(title, XML path) of each worksheet, in the workbook's order (chart sheets left out, as openpyxl does)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    book = etree.fromstring(archive.read("xl/workbook.xml"), parser)
    rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"), parser)
    targets = {}
    for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship"):
        if (rel.get("Type") or "").endswith("/worksheet"):
            target = rel.get("Target") or ""
            targets[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    sheets = []
    for sheet in book.iter(f"{{{_MAIN_NS}}}sheet"):
        path = targets.get(sheet.get(f"{{{_REL_NS}}}id"))
        if path:
            sheets.append((sheet.get("name") or "", posixpath.normpath(path)))
    return sheets


@dataclass
class _SheetScan:
    dimension: tuple | None = None
    formulas: bool = False
    calamine_safe: bool = True


def _scan_sheet_xml(archive: zipfile.ZipFile, path: str, limits: UploadLimits) -> _SheetScan:
    """One streaming pass over the sheet XML (never parsed into a tree): its declared <dimension>, whether it has
    formulas, and whether python-calamine may read it: plain cell references within the limits (calamine builds
    one dense grid from the furthest cell, so a far-away cell must never reach it), no error cells."""
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    scan = _SheetScan()
    letters = len(get_column_letter(min(limits.max_columns, 16384)))
    max_row = limits.max_rows + 2
    digits = len(str(max_row))
    too_far = re.compile(rb' r="(?:[A-Z]{%d}|[A-Z]+[0-9]{%d})' % (letters + 1, digits + 1))
    far_columns = re.compile(rb' r="([A-Z]{%d})[0-9]' % letters)
    far_rows = re.compile(rb' r="[A-Z]+([0-9]{%d})"' % digits)
    widest, lowest = get_column_letter(min(limits.max_columns, 16384)).encode(), str(max_row).encode()
    head, carry = True, b""
    with archive.open(path) as source:
        while True:
            chunk = source.read(1 << 20)
            text = carry + chunk
            if chunk:
                cut = text.rfind(b"<")
                text, carry = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
            if head and (b"<sheetData" in text or not chunk):
                head = False
                root = re.search(rb"<([\w:.-]+)[\s>]", re.sub(rb"<\?.*?\?>", b"", text[:4096], flags=re.S))
                if not root or root.group(1) != b"worksheet":
                    scan.calamine_safe = False  # namespace prefixes: left to openpyxl
                found = re.search(rb'<dimension\s+ref="([^"]*)"', text.split(b"<sheetData", 1)[0])
                if found:
                    scan.dimension = range_boundaries(found.group(1).decode("ascii", "replace"))
            scan.formulas = scan.formulas or b"<f" in text
            tags = sum(text.count(tag) for tag in (b"<c ", b"<c>", b"<c/>", b"<row ", b"<row>", b"<row/>"))
            if (
                tags != text.count(b' r="')
                or b't="e"' in text
                or too_far.search(text)
                or any(c > widest for c in far_columns.findall(text))
                or any(r > lowest for r in far_rows.findall(text))
            ):
                scan.calamine_safe = False
            if not chunk or not scan.calamine_safe:
                break
    return scan


def _uncached_formula_cells(upload: IO[bytes], path: str) -> bool:
    """Whether any formula cell was saved without a value (decided again, with the cells named, by openpyxl)."""
    from lxml import etree

    upload.seek(0)
    cell, formula, value = f"{{{_MAIN_NS}}}c", f"{{{_MAIN_NS}}}f", f"{{{_MAIN_NS}}}v"
    with zipfile.ZipFile(upload) as archive, archive.open(path) as source:
        for _, element in etree.iterparse(source, tag=cell, resolve_entities=False, no_network=True):
            if element.find(formula) is not None and not element.findtext(value) and element.get("t") != "str":
                return True
            element.clear(keep_tail=False)
    return False


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
