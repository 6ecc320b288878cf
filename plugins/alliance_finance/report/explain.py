"""``alliance-finance explain``: the ledger lines behind one figure, written to XLSX or CSV.

The figure is read from its view and its lines from the warehouse in one snapshot
(:mod:`alliance_finance.marts.drilldown` says which lines make which figure). The XLSX has a
``figure`` sheet (the figure as the view shows it, the lines' signed sum, whether they are equal,
each part's count and sum) and a ``lines`` sheet (one row per line: where it came from, how it was
mapped, its amount and its signed amount); the CSV has the lines only, amounts as exact decimals.
Either is written beside its name and moved into place once whole. The command prints the figure
and the sum, and exits 1 should they ever differ.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from alliance_finance.core.urls import mask_url
from alliance_finance.marts.drill_lines import LINE_COLUMNS
from alliance_finance.marts.drilldown import Drilldown, DrilldownRefused, FigureSpec, drill, explain_command, iter_lines
from alliance_finance.marts.as_of import connection_as_of
from alliance_finance.warehouse.history import HistoryError
from alliance_finance.warehouse.engine import make_engine

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: the columns a reader sees: the pence twins stay out (amount and signed_amount are exact)
SHOWN_COLUMNS = [c for c in LINE_COLUMNS if not c.endswith("_pence")]
_CHUNK = 5000


@dataclasses.dataclass
class Explained:
    """What was written: the figure, the lines' count and signed sum, and each part's."""

    figure_pence: int
    line_count: int
    sum_pence: int
    parts: dict[str, list[int]]  # part -> [count, signed sum]

    @property
    def equal(self) -> bool:
        return self.sum_pence == self.figure_pence


def _counted(drilldown: Drilldown, lines: Iterable[dict[str, Any]], explained: Explained) -> Iterator[dict[str, Any]]:
    for line in lines:
        explained.line_count += 1
        explained.sum_pence += line["signed_amount_pence"]
        tally = explained.parts.setdefault(line["part"], [0, 0])
        tally[0] += 1
        tally[1] += line["signed_amount_pence"]
        yield line


def write_explanation(drilldown: Drilldown, lines: Iterable[dict[str, Any]], path: Path) -> Explained:
    """Write the lines (and, for XLSX, the figure sheet) to ``path`` (.xlsx or .csv)."""
    path = Path(path)
    explained = Explained(drilldown.figure_pence, 0, 0, {p.name: [0, 0] for p in drilldown.parts})
    counted = _counted(drilldown, lines, explained)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.suffix.lower() == ".csv":
            _write_csv(counted, partial)
        else:
            _write_xlsx(drilldown, counted, explained, partial, path.name)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return explained


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _write_csv(lines: Iterable[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SHOWN_COLUMNS)
        for line in lines:
            writer.writerow([_csv_text(line[c]) for c in SHOWN_COLUMNS])


def _write_xlsx(drilldown: Drilldown, lines: Iterable[dict[str, Any]], explained: Explained, path: Path,
                name: str) -> None:
    import xlsxwriter  # deferred, as the report's workbook does

    from alliance_finance.report.workbook import MONEY_FORMAT, _clean, _streaming_sheet_class

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        bold = wb.add_format({"bold": True})
        money = wb.add_format({"num_format": MONEY_FORMAT})
        day = wb.add_format({"num_format": "yyyy-mm-dd"})
        quoted = wb.add_format({"quote_prefix": True})
        summary = wb.add_worksheet("figure", worksheet_class=_streaming_sheet_class())
        sheet = wb.add_worksheet("lines", worksheet_class=_streaming_sheet_class())
        sheet.freeze_panes(1, 0)
        formats = [money if c in ("amount", "signed_amount") else day if c == "posting_date" else None
                   for c in SHOWN_COLUMNS]
        for index, column in enumerate(SHOWN_COLUMNS):
            sheet.set_column(index, index, 40 if column.endswith("_mapping") else max(12, len(column) + 2))
            sheet.write_string(0, index, column, bold)
        chunk: list[dict[str, Any]] = []
        start = 1
        for line in lines:
            chunk.append(line)
            if len(chunk) == _CHUNK:
                sheet.append_rows(chunk, SHOWN_COLUMNS, formats, quoted, start=start)
                start += len(chunk)
                chunk = []
        sheet.append_rows(chunk, SHOWN_COLUMNS, formats, quoted, start=start)

        spec = drilldown.spec
        summary.set_column(0, 0, 24)
        summary.set_column(1, 1, 60)
        rows: list[tuple[str, Any, Any]] = [("view", spec.view, None), ("measure", spec.measure, None)]
        rows += [(k, "(none)" if v is None else v, None) for k, v in spec.key.items()]
        rows += [
            ("figure (the view)", _pounds(explained.figure_pence), money),
            ("lines' signed sum", _pounds(explained.sum_pence), money),
            ("lines", explained.line_count, None),
            ("equal", "yes" if explained.equal else "NO", None),
        ]
        for part in drilldown.parts:
            count, total = explained.parts.get(part.name, [0, 0])
            rows.append((f"part {part.name} (sign {part.sign:+d})", _pounds(total), money))
            rows.append((f"part {part.name}: lines", count, None))
        rows.append(("command", _clean(explain_command(spec, name)), None))
        for n, (label, value, fmt) in enumerate(rows):
            summary.write_string(n, 0, label, bold)
            if isinstance(value, str):
                summary.write_string(n, 1, value, quoted if value.startswith(("=", "+", "-", "@")) else None)
            else:
                summary.write_number(n, 1, value, fmt)
        wb.close()
    except BaseException:
        with contextlib.suppress(Exception):
            wb.close()
        raise


def _pounds(pence: int) -> Decimal:
    return Decimal(pence).scaleb(-2)


def explain_cli(warehouse_url: str, spec: FigureSpec, out: Path, as_of: dt.datetime | None = None) -> int:
    """``alliance-finance explain``: 0 written and equal; 1 refused, failed or (never) unequal; 2 wrong usage.
    ``as_of``: the figure and its lines as the warehouse held them at that moment (UTC)."""
    prog = "alliance-finance explain"
    out = Path(out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        print(f"{prog}: --out {out} must end in .xlsx or .csv", file=sys.stderr)
        return EXIT_USAGE
    from alliance_finance.report import _missing_sqlite_file

    if _missing_sqlite_file(warehouse_url):
        print(f"{prog}: no warehouse at {mask_url(warehouse_url)}", file=sys.stderr)
        return EXIT_FAILED
    engine = make_engine(warehouse_url)
    try:
        # the figure and its lines in one snapshot: the warehouse as it stands, or as of the moment
        with connection_as_of(engine, as_of) as conn:
            drilldown = drill(conn, spec)
            out.parent.mkdir(parents=True, exist_ok=True)
            explained = write_explanation(drilldown, iter_lines(conn, drilldown), out)
    except DrilldownRefused as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_FAILED
    except HistoryError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"{prog}: {mask_url(warehouse_url)}: {text[0] if text else type(exc).__name__}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    print(f"{drilldown.spec.describe()}")
    print(f"figure (the view):  {_pounds(explained.figure_pence):,}")
    print(f"lines' signed sum:  {_pounds(explained.sum_pence):,} over {explained.line_count:,} lines "
          f"({'; '.join(f'{p}: {c:,} lines {_pounds(s):,}' for p, (c, s) in explained.parts.items())})")
    print(f"Lines: {out}")
    if not explained.equal:
        print(f"{prog}: the lines do not add up to the figure ({_pounds(explained.sum_pence)} against "
              f"{_pounds(explained.figure_pence)}): a fault in the warehouse, report it", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
