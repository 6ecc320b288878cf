"""Reading a seed file finance edits, naming the file, line and column of anything wrong in it.

:class:`SeedFile` reads a CSV file (``seeds/*.csv``), :class:`XlsxSeedFile` the first sheet of an
XLSX workbook with the same columns (its rows named by sheet row). Both give each data row as text
and raise :class:`FinanceSeedError` with the file, the line (or sheet row), the column, what was
expected and what was found.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path

from alliance_finance.core.errors import AllianceFinanceError


class FinanceSeedError(AllianceFinanceError):
    """A seed file finance edits is not as docs/finance.md describes: names file, line, expected, found."""


class SeedFile:
    """Reads one seed CSV and names the file and line of anything wrong in it."""

    #: how a row of the file is named in a message
    where = "line"

    def __init__(self, path: Path, columns: tuple[str, ...], *, optional: bool = False):
        self.path = path
        self.columns = columns
        self.optional = optional

    def _check_header(self, header: tuple[str, ...]) -> None:
        missing = [c for c in self.columns if c not in header]
        if missing:
            raise FinanceSeedError(
                f"{self.path} {self.where} 1: expected the columns {', '.join(self.columns)}; "
                f"found {', '.join(header) or 'no header'} (missing {', '.join(missing)})"
            )

    def _missing(self) -> bool:
        """True when the file is absent and may be (no rows); an error when it must exist."""
        if self.path.exists():
            return False
        if self.optional:
            return True
        raise FinanceSeedError(f"{self.path}: seed file missing (expected columns {', '.join(self.columns)})")

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        """(line number, row) for each data row; blank lines skipped. Excel's byte-order mark is accepted."""
        if self._missing():
            return []
        with self.path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            self._check_header(tuple(reader.fieldnames or ()))
            out = []
            for row in reader:
                values = {k: (v or "").strip() for k, v in row.items() if k is not None}
                if not any(values.values()):
                    continue
                out.append((reader.line_num, values))
            return out

    def fail(self, line: int, column: str, expected: str, found: str) -> FinanceSeedError:
        return FinanceSeedError(f"{self.path} {self.where} {line}, column {column}: expected {expected}; "
                                f"found {found!r}")

    def fiscal_year(self, line: int, row: dict[str, str], column: str) -> int:
        text = row[column]
        if not (len(text) == 4 and text.isdigit() and 2000 <= int(text) <= 2099):
            raise self.fail(line, column, "a fiscal year, the 4-digit year it begins (e.g. 2016)", text)
        return int(text)

    def scaled(self, line: int, row: dict[str, str], column: str, places: int, *, positive: bool = False,
               signed: bool = False) -> int:
        """A decimal with at most ``places`` decimals (thousands commas allowed) as an integer of 10^-places."""
        text = row[column]
        kind = f"a number with at most {places} decimal places"
        try:
            value = Decimal(text.replace(",", "").replace("£", ""))
        except InvalidOperation:
            raise self.fail(line, column, kind, text) from None
        if not value.is_finite():
            raise self.fail(line, column, kind, text)
        units = value.scaleb(places)
        if units != units.to_integral_value():
            raise self.fail(line, column, kind, text)
        if positive and value <= 0:
            raise self.fail(line, column, "a number greater than zero", text)
        if not signed and value < 0:
            raise self.fail(line, column, "a number not below zero", text)
        return int(units)

    def text(self, line: int, row: dict[str, str], column: str, allowed: set[str] | None = None) -> str:
        value = row[column]
        if not value:
            raise self.fail(line, column, "a value", value)
        if allowed is not None and value not in allowed:
            raise self.fail(line, column, f"one of {', '.join(sorted(allowed))}", value)
        return value



    def day(self, line: int, row: dict[str, str], column: str) -> dt.date:
        text = row[column]
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise self.fail(line, column, "a date as YYYY-MM-DD", text) from None

    def integer(self, line: int, row: dict[str, str], column: str, low: int, high: int) -> int:
        text = row[column]
        if not (text.isdigit() and low <= int(text) <= high):
            raise self.fail(line, column, f"a whole number from {low} to {high}", text)
        return int(text)


class XlsxSeedFile(SeedFile):
    """The first sheet of an XLSX workbook with a seed file's columns in its first row.

    Cells are read as text the way a CSV would hold them: a whole number stored as a float (``2016.0``)
    reads ``2016``, a money amount its shortest decimal (``1234.5`` for 1,234.50), a date as
    YYYY-MM-DD. Rows are named by their sheet row.
    """

    where = "sheet row"

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        if self._missing():
            return []
        import openpyxl  # deferred: only a workbook needs it

        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook: say which and why
            raise FinanceSeedError(f"{self.path}: not a readable XLSX workbook ({exc})") from None
        try:
            sheet = book.worksheets[0]
            found = list(sheet.iter_rows(values_only=True))
        finally:
            book.close()
        if not found:
            self._check_header(())
        header = tuple(_cell_text(v) for v in found[0])
        while header and not header[-1]:
            header = header[:-1]
        self._check_header(header)
        out = []
        for number, cells in enumerate(found[1:], start=2):
            values = {name: _cell_text(cells[i]) if i < len(cells) else "" for i, name in enumerate(header) if name}
            if any(values.values()):
                out.append((number, values))
        return out


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not value == value or value in (float("inf"), float("-inf")):
            return str(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


#: a workbook cell as the text a CSV would hold (for other readers of finance's workbooks)
cell_text = _cell_text
