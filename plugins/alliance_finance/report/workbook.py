"""The board report's workbook: one sheet per view, money as real numbers exact to the penny in
``£#,##0.00``, header row frozen, and text a spreadsheet could take for a formula kept as text.

Written with XlsxWriter in ``constant_memory`` mode: each row goes to disk as it is written, so the
time and memory grow with the cells and nothing more. Money is exact because each money cell's text is
the view's :class:`~decimal.Decimal` (whole pence scaled by 1/100, never a float) formatted as
XlsxWriter formats a number, ``format(value, ".16G")``, which for a Decimal is its own digits: the
file holds ``300000.02`` as the warehouse has it, and a spreadsheet reads those digits back as the
double nearest to them, which shows them again exactly. A Decimal of more than 15 significant digits
(£10,000,000,000,000.00 or more), which an Excel number cannot hold exactly, is refused rather than
rounded, and a workbook that could not be written whole leaves none behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from alliance_finance.marts.figures import REPORT_VIEWS, BoardFigures
from alliance_finance.report.drill_sheet import SHEET as DRILL_SHEET
from alliance_finance.report.drill_sheet import drill_sheet

#: Excel number formats by the kind of integer twin a decimal column has.
MONEY_FORMAT = "£#,##0.00"
_TWIN_FORMATS = {"_pence": MONEY_FORMAT, "_hundredths": "#,##0.00", "_ten_thousandths": "0.0000", "_ppm": "0.000000"}
_DECIMAL_TWINS = {"key_share": "key_ppm"}
#: Text a spreadsheet would read as a formula (or DDE) when it starts a cell.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Characters XML 1.0 cannot hold (control characters but tab, line feed and carriage return).
_ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: What a text cell's XML must escape: markup, a carriage return, text that looks like OOXML's _xHHHH_
#: escape, and the two non-characters.
_XML_SPECIAL = re.compile("[&<>\r\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_OOXML_ESCAPE_LIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
#: The most significant digits an Excel number (an IEEE double) holds exactly.
_EXACT_DIGITS = 15
#: The workbook's creation time in its properties when no load time is known (see :func:`_created`).
_NO_LOAD_YET = dt.datetime(2000, 1, 1)


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
    """One sheet per view (REPORT_VIEWS), money as exact numbers in ``£#,##0.00``, header frozen; then
    the ``board_pack`` sheet: the pack the figures are recorded as (how to reproduce them)."""
    # deferred: XlsxWriter loads only when a workbook is written (every orchestration task imports the
    # report package; one of them builds the report)
    import xlsxwriter

    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    wb = xlsxwriter.Workbook(str(partial), {"constant_memory": True})
    try:
        _write_sheets(wb, figures)
        wb.close()
    except BaseException:
        with contextlib.suppress(Exception):
            wb.close()  # removes its row files
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def _write_sheets(wb, figures: BoardFigures | None) -> None:
    wb.set_properties({"created": _created(figures)})
    quoted = wb.add_format({"quote_prefix": True})
    header_formats = (wb.add_format({"bold": True}), wb.add_format({"bold": True, "quote_prefix": True}))
    number_formats: dict[str, Any] = {}
    drill = drill_sheet(figures)
    figure_cells: dict[int, str] = {}  # drill-down row -> the figure's cell, for the link back

    def write(name: str, rows: list[dict], fallback: list[str]) -> tuple[Any, list[str]]:
        ws = wb.add_worksheet(name[:31], worksheet_class=_streaming_sheet_class())
        ws.freeze_panes(1, 0)
        columns = _sheet_columns(rows, fallback=fallback)
        for index, (column, fmt) in enumerate(columns):
            sample = [column] + [_display_width(r.get(column), fmt) for r in rows[:2000]]
            ws.set_column(index, index, min(60, max(len(s) if isinstance(s, str) else s for s in sample) + 2))
            # a header is a name: never a formula either
            ws.write_string(0, index, _clean(column), header_formats[column.startswith(_FORMULA_STARTS)])
        for _, fmt in columns:
            if fmt is not None and fmt not in number_formats:
                number_formats[fmt] = wb.add_format({"num_format": fmt})
        cell_formats = [None if fmt is None else number_formats[fmt] for _, fmt in columns]
        names = [column for column, _ in columns]
        ws.append_rows(rows, names, cell_formats, quoted)
        return ws, names

    for view in REPORT_VIEWS:
        rows = figures.views.get(view, []) if figures is not None else []
        ws, names = write(view, rows, ["no data loaded yet"])
        links = []
        for (linked_view, index, measure), drill_row in drill.row_of.items():
            if linked_view == view and measure in names:
                column = names.index(measure)
                links.append((index + 1, column, f"'{DRILL_SHEET}'!A{drill_row + 2}",
                              f"the lines behind this figure: {DRILL_SHEET} row {drill_row + 2}"))
                figure_cells[drill_row] = f"'{view[:31]}'!{_column_letter(column)}{index + 2}"
        ws.link_cells(links)
    ws, _ = write(DRILL_SHEET, drill.rows, ["no figure to drill into yet"])
    ws.link_cells([(drill_row + 1, 0, cell, "back to the figure") for drill_row, cell in figure_cells.items()])
    _write_pack_sheet(wb, figures, header_formats[0])


def _write_pack_sheet(wb, figures: BoardFigures | None, bold) -> None:
    """The board pack the workbook is (marts/packs.py): what an auditor quotes to reproduce it."""
    stamp = getattr(figures, "pack", None)
    if stamp is None:
        return
    ws = wb.add_worksheet("board_pack")
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 80)
    rows = [("pack_id", "" if stamp.pack_id is None else str(stamp.pack_id)),
            ("as_at (UTC)", f"{stamp.as_at:%Y-%m-%d %H:%M:%S.%f}"),
            *[(f"last batch {force}", str(batch)) for force, batch in sorted(stamp.high_water.items())],
            *[(f"{dataset} data version", str(version)) for dataset, version in sorted(stamp.data_versions.items())],
            ("reference digest", stamp.reference_digest), ("finance digest", stamp.finance_digest),
            ("figures digest", stamp.figures_digest),
            ("reproduce", f"alliance-finance report --pack {stamp.pack_id}" if stamp.pack_id is not None else ""),
            ("changes since", f"alliance-finance changes --since-pack {stamp.pack_id}" if stamp.pack_id is not None else "")]
    ws.freeze_panes(1, 0)
    ws.write_string(0, 0, "item", bold)
    ws.write_string(0, 1, "value", bold)
    for n, (key, value) in enumerate(rows, start=1):
        ws.write_string(n, 0, key)
        ws.write_string(n, 1, value)


@functools.cache
def _streaming_sheet_class():
    """XlsxWriter's worksheet with :meth:`append_rows`: whole rows written as the sheet XML text that
    XlsxWriter itself would write for them, straight into the sheet's ``constant_memory`` row file,
    instead of a ``write_*`` call per cell (ten times the time: 46,000 rows x 9 columns took 5 s of CPU
    that way). Everything else (the package, styles, widths, the frozen pane) is XlsxWriter's own.
    It leans on XlsxWriter's constant_memory internals (``fh`` is the row file until the sheet is
    assembled, ``_write_single_row`` flushes the header row, ``_check_dimensions`` records the last
    cell, a format's ``_get_xf_index``): requirements.lock pins the version, and tests/test_report.py
    reads every kind of cell back against XlsxWriter's own calls."""
    # deferred with XlsxWriter itself (see write_workbook)
    from xlsxwriter.worksheet import Worksheet

    class StreamingSheet(Worksheet):
        def append_rows(self, rows: list[dict], names: list[str], cell_formats: list, quoted, start: int = 1) -> None:
            """The data rows under the header (row ``start`` on: 1, or where the previous call
            ended, so a long sheet is written a chunk at a time), each value by its type: text always
            as a string cell (quote-prefixed when it starts like a formula), numbers (exact Decimals
            included) and dates as numbers in their column's format, None as no cell."""
            if not self.constant_memory:
                raise RuntimeError("append_rows writes into a constant_memory row file")
            styles = [f' s="{f._get_xf_index()}"' if f is not None else "" for f in cell_formats]
            text_style = f' s="{quoted._get_xf_index()}"'
            columns = list(zip(names, [_column_letter(i) for i in range(len(names))], styles))
            self._write_single_row(start - 1 + len(rows))  # the header row out; the rows below are written here
            write = self.fh.write
            texts: dict[str, str] = {}
            for n, r in enumerate(rows, start=start + 1):
                cells = [f'<row r="{n}">']
                for column, letter, style in columns:
                    value = r.get(column)
                    kind = value.__class__
                    if kind is str:
                        # a sheet repeats its codes on every row: each text's XML is worked out once
                        tail = texts.get(value)
                        if tail is None:
                            tail = texts[value] = _text_cell(value, text_style)
                        cells.append(f'<c r="{letter}{n}"{tail}')
                    elif kind is int or kind is float:
                        cells.append(f'<c r="{letter}{n}"{style}><v>{value:.16G}</v></c>')
                    elif kind is Decimal:
                        cells.append(f'<c r="{letter}{n}"{style}><v>{_exact(value, f"{self.name}.{column}", n - 1):.16G}</v></c>')
                    elif value is None:
                        continue
                    elif kind is bool:
                        cells.append(f'<c r="{letter}{n}"{style} t="b"><v>{int(value)}</v></c>')
                    elif isinstance(value, (dt.date, dt.datetime)):
                        cells.append(f'<c r="{letter}{n}"{style}><v>{_excel_serial(value):.16G}</v></c>')
                    else:
                        cells.append(f'<c r="{letter}{n}"{_text_cell(str(value), text_style)}')
                cells.append("</row>")
                write("".join(cells))
            if rows:
                self._check_dimensions(start - 1 + len(rows), len(names) - 1)

        def link_cells(self, links: list[tuple[int, int, str, str]]) -> None:
            """Internal hyperlinks on cells written (or to be written) by :meth:`append_rows`: (row,
            column, location such as ``'drill-down'!A7``, tooltip). Only the link is recorded, as
            XlsxWriter's ``write_url`` records it, beside the cell; the cell keeps its number."""
            from xlsxwriter.url import Url

            for row, column, location, tip in links:
                url = Url(f"internal:{location}")
                url._text = tip
                url.tip = tip
                self.hlink_count += 1
                self.hyperlinks[row][column] = url

    return StreamingSheet


def _excel_serial(value: dt.date) -> float:
    """A date or (naive) datetime as Excel's serial day number in the 1900 date system."""
    delta = value - (dt.datetime(1899, 12, 30) if isinstance(value, dt.datetime) else dt.date(1899, 12, 30))
    return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text_cell(value: str, quoted_style: str) -> str:
    """An inline string cell, all but its opening ``<c r="A2"``, as XlsxWriter writes one in
    constant_memory mode: XML escaped, a control
    character as U+FFFD (see :func:`_clean`) but a carriage return as OOXML's ``_x000D_``, text that
    looks like such an escape escaped itself, leading or trailing space kept."""
    value = _clean(value)
    style = quoted_style if value.startswith(_FORMULA_STARTS) else ""
    if _XML_SPECIAL.search(value):
        value = _OOXML_ESCAPE_LIKE.sub(r"_x005F\1", value)
        value = value.replace("\r", "_x000D_").replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'


def _created(figures: BoardFigures | None) -> dt.datetime:
    """The workbook's creation time in its properties: when the latest batch it shows finished loading,
    not the clock, so the same warehouse gives the same workbook byte for byte (XlsxWriter dates the
    zip's entries 1980-01-01)."""
    loads = [r.get("last_loaded_at") for r in (figures.views.get("v_ledger_freshness", []) if figures else [])]
    loads = [t for t in loads if isinstance(t, dt.datetime)]
    return max(loads) if loads else _NO_LOAD_YET


def _clean(value: str) -> str:
    """Text as it is, but characters XML cannot hold (control characters from a source) shown as
    U+FFFD rather than failing the report."""
    return _ILLEGAL_CHARACTERS.sub("\ufffd", value) if _ILLEGAL_CHARACTERS.search(value) else value


def _exact(value: Decimal, column: str, row: int) -> Decimal:
    """The Decimal itself, once it is known to fit an Excel number exactly."""
    if len(value.as_tuple().digits) > _EXACT_DIGITS:
        raise ValueError(f"{column} in row {row}: {value} has more than {_EXACT_DIGITS} significant digits, "
                         "more than a spreadsheet number holds exactly")
    return value


def _display_width(value: Any, fmt: str | None) -> int:
    if value is None:
        return 1
    if fmt == MONEY_FORMAT:
        return len(f"£{value:,.2f}")
    return len(str(value))
