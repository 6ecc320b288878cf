"""The mapping workbook finance fills in: ``mapping export`` writes it, ``mapping import`` reads it back.

Sheet ``decisions`` (first): one row per local code in suspense (``v_unmapped_codes``) with its force,
kind, first and last sighting, fiscal years (``v_unmapped_code_years``), lines and money, then the
columns finance fills in: ``common_code`` (a drop-down of the valid objective or subjective codes),
``local_name``, ``valid_from_fy`` (a cost centre's first year), ``valid_to_fy`` (blank: open) and
``supersedes_decision`` (to replace a recorded decision). Finance may add rows at the bottom for a
code already mapped (naming the decision it supersedes). Sheet ``by year``: each code's money by
fiscal year; ``common codes``: the chart; ``README``: the instructions. Money cells are numbers
written from the exact decimal (as the board report's workbook does), never a float.

:func:`read_decisions_file` reads the ``decisions`` sheet back, every row with ``common_code`` filled
being a decision, named by its sheet row (``sheet 'decisions' row 5``) for every message.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from alliance_finance.marts.seedfile import cell_text as _cell_text
from alliance_finance.warehouse.decisions import DecisionRow, MappingDecisionError

SHEET = "decisions"
#: the columns of sheet ``decisions``: what the warehouse says, then what finance fills in
FACT_COLUMNS = ("force_code", "code_type", "local_code", "first_posting_date", "last_posting_date",
                "fiscal_years", "line_count", "amount")
FILL_COLUMNS = ("common_code", "local_name", "valid_from_fy", "valid_to_fy", "supersedes_decision")
COLUMNS = FACT_COLUMNS + FILL_COLUMNS
MONEY = "£#,##0.00"

README = [
    "Mapping decisions: how to fill in this workbook",
    "",
    "Sheet 'decisions' lists every local code of the forces' ledgers that the common chart does not map yet,",
    "with the money in suspense on it. For each code finance decides, fill in:",
    "  common_code          a cost centre: the objective code (what the money is for); an account: the",
    "                       subjective code (what kind of money). The cell offers the valid codes; sheet",
    "                       'common codes' lists them with their names.",
    "  local_name           the code's name (optional: the code itself when blank)",
    "  valid_from_fy        a cost centre only: the first fiscal year the mapping applies to (2016 for",
    "                       2016/17); an account maps to one subjective for every year: leave it blank",
    "  valid_to_fy          a cost centre only: the last fiscal year (blank: still in force)",
    "  supersedes_decision  only to change a mapping finance recorded before: that decision's number",
    "                       (alliance-finance mapping list shows them); add a row at the bottom for it",
    "Leave common_code blank on the rows not decided yet: they are ignored.",
    "",
    "Then: alliance-finance mapping import THIS_FILE.xlsx --by 'Your name' --reason 'why'",
    "Every row is checked first (an unknown code, a code of the wrong kind, years overlapping a mapping",
    "already in force, two rows for one code and year, a malformed cell); one problem refuses the whole",
    "file, naming each row, and nothing is recorded. Otherwise each decision is recorded with who, when",
    "and why, the ledger is restated at once, and the money each decision moved is printed and kept",
    "(view v_mapping_decisions). A decision is never deleted: a later one supersedes it.",
]


def export_rows(conn: sa.Connection) -> tuple[list[dict], list[tuple], dict[str, list[tuple[str, str]]]]:
    """(one dict per unmapped code, the by-year rows, the valid common codes by code type)."""
    years: dict[tuple, list[int]] = defaultdict(list)
    by_year = [tuple(r) for r in conn.execute(sa.text(
        "SELECT force_code, code_type, local_code, fiscal_year, line_count, amount_pence FROM v_unmapped_code_years "
        "ORDER BY force_code, code_type, local_code, fiscal_year"))]
    for force, kind, code, fy, _lines, _pence in by_year:
        years[(force, kind, code)].append(int(fy))
    rows = []
    for r in conn.execute(sa.text(
            "SELECT force_code, code_type, local_code, first_posting_date, last_posting_date, line_count, "
            "amount_pence FROM v_unmapped_codes ORDER BY force_code, code_type, local_code")).mappings():
        row = dict(r)
        row["fiscal_years"] = ", ".join(str(y) for y in years[(r["force_code"], r["code_type"], r["local_code"])])
        rows.append(row)
    codes = {
        "cost_centre": [tuple(r) for r in conn.execute(sa.text(
            "SELECT objective_code, objective_name FROM dim_objective WHERE objective_code <> 'UNMAPPED' "
            "ORDER BY objective_code"))],
        "account": [tuple(r) for r in conn.execute(sa.text(
            "SELECT subjective_code, subjective_name FROM dim_subjective WHERE subjective_code <> 'UNMAPPED' "
            "ORDER BY subjective_code"))],
    }
    return rows, by_year, codes


def _day(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value or "")


def _pounds(pence: int) -> Decimal:
    return Decimal(int(pence)).scaleb(-2)


def write_workbook(conn: sa.Connection, out: Path) -> int:
    """Write the workbook to ``out`` (beside it first, then moved into place); returns the codes listed."""
    import xlsxwriter  # deferred: only the export needs it

    rows, by_year, codes = export_rows(conn)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    book = xlsxwriter.Workbook(str(partial), {"strings_to_formulas": False, "strings_to_numbers": False})
    try:
        bold = book.add_format({"bold": True})
        fill = book.add_format({"bold": True, "bg_color": "#FFF2CC"})
        money = book.add_format({"num_format": MONEY})
        sheet = book.add_worksheet(SHEET)
        for c, name in enumerate(COLUMNS):
            sheet.write_string(0, c, name, fill if name in FILL_COLUMNS else bold)
        sheet.freeze_panes(1, 3)
        widths = [10, 12, 12, 18, 17, 22, 10, 16, 12, 30, 13, 12, 19]
        for c, width in enumerate(widths):
            sheet.set_column(c, c, width)
        lists = book.add_worksheet("common codes")
        lists.write_row(0, 0, ["objective_code (cost centres)", "objective_name",
                               "subjective_code (accounts)", "subjective_name"], bold)
        for c, kind in ((0, "cost_centre"), (2, "account")):
            for n, (code, name) in enumerate(codes[kind], start=1):
                lists.write_string(n, c, code)
                lists.write_string(n, c + 1, name or "")
        lists.set_column(0, 3, 28)
        ranges = {kind: f"='common codes'!${col}$2:${col}${len(codes[kind]) + 1}"
                  for kind, col in (("cost_centre", "A"), ("account", "C"))}
        common = COLUMNS.index("common_code")
        for n, row in enumerate(rows, start=1):
            for c, value in enumerate((row["force_code"], row["code_type"], row["local_code"],
                                       _day(row["first_posting_date"]), _day(row["last_posting_date"]),
                                       row["fiscal_years"])):
                sheet.write_string(n, c, str(value))
            sheet.write_number(n, 6, int(row["line_count"]))
            sheet.write_number(n, 7, _pounds(row["amount_pence"]), money)
            if codes[row["code_type"]]:
                sheet.data_validation(n, common, n, common, {
                    "validate": "list", "source": ranges[row["code_type"]],
                    "error_title": "Not a common code",
                    "error_message": "Choose a code of sheet 'common codes' (objective for a cost centre, "
                                     "subjective for an account)."})
        years = book.add_worksheet("by year")
        years.write_row(0, 0, ["force_code", "code_type", "local_code", "fiscal_year", "line_count", "amount"], bold)
        for n, (force, kind, code, fy, lines, pence) in enumerate(by_year, start=1):
            years.write_row(n, 0, [force, kind, code])
            years.write_number(n, 3, int(fy))
            years.write_number(n, 4, int(lines))
            years.write_number(n, 5, _pounds(pence), money)
        years.set_column(0, 5, 14)
        readme = book.add_worksheet("README")
        for n, text in enumerate(README):
            readme.write_string(n, 0, text, bold if n == 0 else None)
        readme.set_column(0, 0, 110)
    finally:
        book.close()
    partial.replace(out)
    return len(rows)


def read_decisions_file(path: Path) -> list[DecisionRow]:
    """The rows of sheet ``decisions`` with ``common_code`` filled in, each named by its sheet row."""
    import openpyxl  # deferred: only the import needs it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook: say which and why
        raise MappingDecisionError(f"{path}: not a readable XLSX workbook ({exc}); nothing recorded") from None
    try:
        if SHEET not in book.sheetnames:
            raise MappingDecisionError(f"{path}: no sheet {SHEET!r} (found {', '.join(book.sheetnames)}): "
                                       "fill in the workbook alliance-finance mapping export writes; nothing recorded")
        found = list(book[SHEET].iter_rows(values_only=True))
    finally:
        book.close()
    header = tuple(_cell_text(v) for v in (found[0] if found else ()))
    missing = [c for c in ("force_code", "code_type", "local_code", *FILL_COLUMNS) if c not in header]
    if missing:
        raise MappingDecisionError(f"{path} sheet {SHEET!r} row 1: expected the columns {', '.join(COLUMNS)}; "
                                   f"missing {', '.join(missing)}; nothing recorded")
    out = []
    for number, cells in enumerate(found[1:], start=2):
        values = {name: _cell_text(cells[i]) if i < len(cells) else "" for i, name in enumerate(header) if name}
        if not values.get("common_code"):
            if any(values.get(c) for c in FILL_COLUMNS):
                # half a decision is a mistake, not a row to skip
                values["common_code"] = ""
            else:
                continue
        out.append(DecisionRow(
            where=f"sheet {SHEET!r} row {number}", row_number=number,
            **{c: values.get(c, "") for c in ("force_code", "code_type", "local_code", *FILL_COLUMNS)}))
    return out
