"""Reading a table as a person saved it: CSV from any spreadsheet locale, or an Excel ``.xlsx``.

Raters keep scores and visit weeks in spreadsheets. Saved as CSV, Excel writes what the
computer's locale says: ``;`` between cells and decimal commas (``12,5``) in much of Europe,
a byte-order mark, header names as typed (``Patient``, `` SALT ``), and empty rows or
columns left over at the edges. This module reads all of them, and ``.xlsx`` files directly
(with openpyxl), into rows of cell text keyed by normalised column names; what the cells
mean is left to the caller (:mod:`autosalt.evaluation.tables` for score tables).

Every problem raises :class:`autosalt.fileio.InputError` naming the file, and the line (CSV)
or row (``.xlsx``) where there is one.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from autosalt.fileio import InputError

#: Cell separators a spreadsheet writes in CSV: the one that splits the header into the most
#: cells is used (comma on a tie).
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

#: Header names that mean a contract column (after :func:`column_name`).
COLUMN_ALIASES: dict[str, str] = {"patient_id": "patient", "visit_id": "visit"}

_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_ENCODINGS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


class TableRow(dict):
    """One row of a table: column name -> cell text (stripped), and where it is in the file.

    ``decimal_comma`` is true for tables whose cells are separated by something other than a
    comma (a European locale), where ``12,5`` means 12.5.
    """

    def __init__(self, cells: dict[str, str], line: int, unit: str = "line",
                 decimal_comma: bool = False):
        super().__init__(cells)
        self.line = line
        self.unit = unit
        self.decimal_comma = decimal_comma

    @property
    def where(self) -> str:
        """``line 7`` in a CSV file, ``row 7`` in a sheet: what a person looks for."""
        return f"{self.unit} {self.line}"

    def number(self, column: str) -> float | None:
        """The cell as a number (None when empty); ``ValueError`` when it is not one."""
        text = self.get(column, "")
        if not text:
            return None
        if self.decimal_comma and _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")
        return float(text)


def column_name(header: str) -> str:
    """A header as typed -> its column name: ``' Patient ID '`` -> ``patient``, ``Dose mg`` -> ``dose_mg``."""
    name = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return COLUMN_ALIASES.get(name, name)


def read_table_rows(path: str | os.PathLike, required: Sequence[str] = ()) -> list[TableRow]:
    """Read a CSV or ``.xlsx`` table into rows (cell text as found: ``007`` stays ``007``).

    Empty rows are skipped; a table with only a header gives no rows. Raises
    :class:`InputError` naming the file for an unreadable file, a missing header, missing
    required columns, two headers meaning one column, or cells beyond the named columns.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xls", ".ods", ".numbers"):
        raise InputError(f"{path}: {suffix} files cannot be read; save the sheet as .xlsx or as "
                         "CSV UTF-8")
    if suffix in (".xlsx", ".xlsm"):
        lines, unit, decimal_comma = _xlsx_lines(path), "row", False
    else:
        lines, delimiter = _csv_lines(path)
        unit, decimal_comma = "line", delimiter != ","
    lines = [(number, cells) for number, cells in lines if any(cells)]
    if not lines:
        raise InputError(f"{path}: empty table (no header row)")
    (_, header), body = lines[0], lines[1:]
    columns = _columns(path, header, required)
    rows = []
    for number, cells in body:
        extra = [cell for index, cell in enumerate(cells) if index >= len(columns) or not columns[index]]
        if any(extra):
            raise InputError(f"{path}: {unit} {number} has a value ({extra[0]!r}) outside the "
                             "named columns; give the column a header or delete the value")
        named = {name: cells[index] if index < len(cells) else ""
                 for index, name in enumerate(columns) if name}
        rows.append(TableRow(named, number, unit, decimal_comma))
    return rows


def _columns(path: Path, header: list[str], required: Sequence[str]) -> list[str]:
    """Column names by position ('' for an unnamed column), checked for duplicates and ``required``."""
    columns = [column_name(cell) for cell in header]
    seen: dict[str, str] = {}
    for name, typed in zip(columns, header):
        if name and name in seen:
            raise InputError(f"{path}: the headers {seen[name]!r} and {typed!r} both mean column "
                             f"{name!r}; keep one")
        seen[name] = typed
    missing = [column for column in required if column not in seen]
    if missing:
        found = [name for name in columns if name]
        raise InputError(f"{path}: missing required columns {missing}; found {found} "
                         "(header names are read without case and surrounding spaces)")
    return columns


def _csv_lines(path: Path) -> tuple[list[tuple[int, list[str]]], str]:
    """(line number, stripped cells) of every CSV record, and the delimiter used."""
    text = _decode(path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    hint = re.fullmatch(r"\s*sep=(.)\s*", first)  # Excel's own delimiter line
    if hint:
        delimiter = hint.group(1)
    else:
        delimiter = max(DELIMITERS, key=lambda d: len(next(csv.reader([first], delimiter=d), [])))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        lines = [(reader.line_num, [cell.strip() for cell in cells]) for cells in reader]
    except csv.Error as error:
        raise InputError(f"{path}: line {reader.line_num}: not a readable CSV record ({error})") from None
    if hint:  # drop the 'sep=' line itself
        del lines[next(index for index, (_, cells) in enumerate(lines) if any(cells))]
    return lines, delimiter


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: table not found") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read table ({error.strerror})") from None
    encoding = next((name for mark, name in _ENCODINGS if data.startswith(mark)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); "
                         "save the table as CSV UTF-8 or as .xlsx") from None


def _xlsx_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(sheet row number, cell text) of every row of the workbook's first sheet."""
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError:
        raise InputError(f"{path}: reading .xlsx needs the openpyxl package (pip install openpyxl); "
                         "or save the sheet as CSV UTF-8") from None
    if not path.is_file():
        raise InputError(f"{path}: table not found")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable .xlsx workbook ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        return [(number, [cell_text(value) for value in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell's value as the text a CSV export would hold (``12.0`` -> ``12``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value).strip()
