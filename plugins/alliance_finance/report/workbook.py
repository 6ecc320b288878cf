"""The board report's workbook: one sheet per view, money as real numbers exact to the penny in
``£#,##0.00``, header row frozen, and text a spreadsheet could take for a formula kept as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alliance_finance.marts.figures import REPORT_VIEWS, BoardFigures

#: Excel number formats by the kind of integer twin a decimal column has.
MONEY_FORMAT = "£#,##0.00"
_TWIN_FORMATS = {"_pence": MONEY_FORMAT, "_hundredths": "#,##0.00", "_ten_thousandths": "0.0000", "_ppm": "0.000000"}
_DECIMAL_TWINS = {"key_share": "key_ppm"}
#: Text a spreadsheet would read as a formula (or DDE) when it starts a cell.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text_cell(ws, value: str):
    """A text cell that no spreadsheet will evaluate: stored as a string, and quote-prefixed when it
    starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return). The text is kept whole."""
    # deferred: openpyxl loads only when a workbook is written (every orchestration task imports the
    # report package; one of them builds the report)
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    if value.startswith(_FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def _text(ws, value: str):
    """A text value for a row: as it is, or as a safe cell when it starts like a formula. Characters
    XML cannot hold (control characters from a source) are shown as U+FFFD rather than failing the report."""
    # deferred: openpyxl loads only when a workbook is written (every orchestration task imports the
    # report package; one of them builds the report)
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return safe_text_cell(ws, value) if value.startswith(_FORMULA_STARTS) else value


def _sheet_columns(rows: list[dict], fallback: list[str]) -> list[tuple[str, str | None]]:
    """(column, Excel number format or None) for the columns a sheet shows: integer twins left out."""
    columns = list(rows[0]) if rows else fallback
    shown = []
    twin_of = {}
    for c in columns:
        for suffix, fmt in _TWIN_FORMATS.items():
            if c.endswith(suffix):
                stem = c[: -len(suffix)]
                for decimal_column in [stem] + [d for d, t in _DECIMAL_TWINS.items() if t == c]:
                    if decimal_column in columns:
                        twin_of[decimal_column] = (c, fmt)
    for c in columns:
        if any(c == twin for twin, _ in twin_of.values()):
            continue
        fmt = twin_of.get(c, (None, None))[1]
        if fmt is None and (c.endswith("_date")):
            fmt = "yyyy-mm-dd"
        elif fmt is None and c.endswith("_at"):
            fmt = "yyyy-mm-dd hh:mm"
        shown.append((c, fmt))
    return shown


def write_workbook(figures: BoardFigures | None, path: Path) -> None:
    """One sheet per view (REPORT_VIEWS), money as exact numbers in ``£#,##0.00``, header frozen."""
    # deferred: openpyxl loads only when a workbook is written (every orchestration task imports the
    # report package; one of them builds the report)
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for view in REPORT_VIEWS:
        ws = wb.create_sheet(title=view[:31])
        ws.freeze_panes = "A2"
        rows = figures.views.get(view, []) if figures is not None else []
        columns = _sheet_columns(rows, fallback=["no data loaded yet"])
        for index, (column, fmt) in enumerate(columns, start=1):
            sample = [column] + [_display_width(r.get(column), fmt) for r in rows[:2000]]
            width = min(60, max(len(s) if isinstance(s, str) else s for s in sample) + 2)
            ws.column_dimensions[get_column_letter(index)].width = width
        header = []
        for column, _ in columns:
            cell = safe_text_cell(ws, column)  # a header is a name: never a formula either
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for r in rows:
            out = []
            for column, fmt in columns:
                value = r.get(column)
                if isinstance(value, str):
                    # plain text is written as a string cell as it is; only text that starts like a
                    # formula needs the explicit cell (a few in a million, and cells are slow)
                    out.append(_text(ws, value))
                elif fmt is not None and value is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = fmt
                    out.append(cell)
                else:
                    out.append(value)
            ws.append(out)
    wb.save(path)


def _display_width(value: Any, fmt: str | None) -> int:
    if value is None:
        return 1
    if fmt == MONEY_FORMAT:
        return len(f"£{value:,.2f}")
    return len(str(value))
