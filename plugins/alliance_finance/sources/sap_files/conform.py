"""Stage 7 and 8 of reading a delivery: every value checked and conformed, the lines built.

Every column is checked and converted with ``pyarrow.compute`` (codes, periods, real dates, amounts
to integer pence; no float anywhere, no per-row Python except to word the message about failing
rows). The checks that are costly per value (real dates) run on each column's distinct values only;
digits are checked with ``binary_length``/``ascii_is_decimal`` rather than regular expressions.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.ledger import CONFORMED_SCHEMA, empty_lines
from alliance_finance.sources.sap_files.layout import DOCUMENT_TYPES, HEADER, MAX_EXAMPLES, Rejected, SapLayout

# Amounts: two decimals, '.' point, thousands separators only in correct groups of three.
_AMOUNT_PATTERN = r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\.[0-9]{2}$"
# numeric(15,2) in the warehouse: at most 13 digits before the point.
_MAX_AMOUNT_DIGITS = 15
_DATE_PATTERN = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$"
_DATE_FORMAT = "%d.%m.%Y"


class _ValueChecks:
    """Collects the failing values of stage 7: counts per column and the first examples."""

    def __init__(self, raw: pa.Table):
        self.raw = raw
        self.failures: list[tuple[int, str, str, str]] = []  # (row, column, expected, found)
        self.count = 0
        self.bad_rows = pa.array(np.zeros(raw.num_rows, dtype=bool))

    def require(self, column: str, valid: pa.Array, expected: str, *, blank_ok: bool = False,
                explain=None) -> None:
        """Record the rows where ``valid`` is not true (a blank is valid only if ``blank_ok``)."""
        values = self.raw.column(column)
        if blank_ok:
            valid = pc.or_kleene(values.is_null(), valid)
        invalid = pc.invert(pc.fill_null(valid, False))
        if not pc.any(invalid).as_py():
            return
        self.bad_rows = pc.or_(self.bad_rows, invalid)
        rows = pc.indices_nonzero(invalid)
        self.count += len(rows)
        for row in rows[:MAX_EXAMPLES].to_pylist():
            value = values[row].as_py()
            found = "a blank" if value is None else repr(value)
            if explain and value is not None:
                found += explain(value)
            self.failures.append((row, column, expected, found))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        lines = pc.sum(self.bad_rows.cast(pa.int64())).as_py()
        examples = sorted(self.failures)[:MAX_EXAMPLES]
        raise Rejected(
            f"{self.count} invalid value(s) on {lines} line(s); "
            + "; ".join(f"line {row + 2}, {column}: expected {expected}, found {found}"
                        for row, column, expected, found in examples))


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(values, pattern)


def _digits(values: pa.Array, shortest: int, longest: int) -> pa.Array:
    """True where the value is ``shortest`` to ``longest`` ASCII digits (cheaper than a regex)."""
    length = pc.binary_length(values)
    return pc.and_(pc.ascii_is_decimal(values),
                   pc.and_(pc.greater_equal(length, shortest), pc.less_equal(length, longest)))


def _integers(values: pa.Array, valid: pa.Array, to: pa.DataType) -> pa.Array:
    """``values`` cast to integers where ``valid``; 0 elsewhere (those rows are rejected anyway)."""
    return pc.cast(pc.if_else(pc.fill_null(valid, False), values, "0"), to)


def _per_distinct(values: pa.ChunkedArray, compute) -> tuple:
    """``compute`` run on the column's distinct values only, its results spread back over the rows.

    Dates and cost centres repeat heavily (a day's file holds a handful of posting dates), so the
    costly checks run on a few hundred values instead of every line.
    """
    distinct = pc.unique(values)
    position = pc.index_in(values, value_set=distinct)  # a null finds the null among the distinct
    return tuple(pc.take(result, position) for result in compute(distinct))


def _dates(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(date32 values, valid): ``DD.MM.YYYY`` that names a real day (31.02.2016 does not)."""
    shaped = pc.fill_null(_matches(values, _DATE_PATTERN), False)
    stamps = pc.strptime(pc.if_else(shaped, values, "01.01.1970"), format=_DATE_FORMAT, unit="s",
                         error_is_null=True)
    # strptime rolls 31.02 over into March: a real date keeps the day and month it was written with
    written_day = _integers(pc.utf8_slice_codeunits(values, 0, 2), shaped, pa.int64())
    written_month = _integers(pc.utf8_slice_codeunits(values, 3, 5), shaped, pa.int64())
    valid = pc.and_(shaped, pc.fill_null(pc.and_(pc.equal(pc.day(stamps), written_day),
                                                 pc.equal(pc.month(stamps), written_month)), False))
    return pc.cast(pc.if_else(valid, stamps, pa.scalar(0, stamps.type)), pa.date32()), valid


def _exact_sum(pence: pa.Array) -> int:
    """Sum of int64 pence without overflow (arrow's int64 sum wraps silently)."""
    if len(pence) == 0:
        return 0
    largest = pc.max(pc.abs(pence)).as_py()
    if largest * len(pence) < 2**63:
        return pc.sum(pence).as_py()
    return int(pc.sum(pc.cast(pence, pa.decimal128(19, 0))).as_py())


def conform(raw: pa.Table, layout: SapLayout) -> tuple[pa.Table, int, int]:
    """Check every value and build the conformed lines; returns (lines, debit pence, credit pence)."""
    if raw.num_rows == 0:
        return empty_lines(), 0, 0
    col = {name: raw.column(name) for name in HEADER}
    checks = _ValueChecks(raw)

    checks.require("Company Code", pc.is_in(col["Company Code"], pa.array(layout.company_codes)),
                   " or ".join(layout.company_codes))
    checks.require("Fiscal Year", _digits(col["Fiscal Year"], 4, 4), "a 4-digit year")
    period_shaped = _digits(col["Posting Period"], 1, 2)
    period = _integers(col["Posting Period"], period_shaped, pa.int16())
    checks.require("Posting Period", pc.and_(period_shaped, pc.and_(pc.greater_equal(period, 1),
                                                                     pc.less_equal(period, 16))),
                   "a period 1 to 16")
    checks.require("Document Number", _digits(col["Document Number"], 10, 10), "10 digits")
    item_shaped = _digits(col["Line Item"], 1, 3)
    line_item = _integers(col["Line Item"], item_shaped, pa.int16())
    checks.require("Line Item", pc.and_(item_shaped, pc.greater_equal(line_item, 1)), "a line item 1 to 999")
    checks.require("Document Type", pc.is_in(col["Document Type"], pa.array(DOCUMENT_TYPES)),
                   "one of " + ", ".join(DOCUMENT_TYPES))
    posting_date, posting_ok = _per_distinct(col["Posting Date"], _dates)
    checks.require("Posting Date", posting_ok, "a real date DD.MM.YYYY")
    _, document_date_ok = _per_distinct(col["Document Date"], _dates)
    checks.require("Document Date", document_date_ok, "a real date DD.MM.YYYY or a blank", blank_ok=True)
    cost_centre = col["Cost Centre"]
    prefix = layout.cost_centre_prefix
    cost_centre_ok = pc.and_(pc.starts_with(cost_centre, prefix),
                             _digits(pc.utf8_slice_codeunits(cost_centre, len(prefix)), 6, 6))
    checks.require("Cost Centre", cost_centre_ok, f"{prefix} and 6 digits, or a blank", blank_ok=True)
    checks.require("GL Account", _digits(col["GL Account"], 6, 6), "6 digits")

    amount = col["Amount"]
    digits = pc.replace_substring(pc.replace_substring(amount, ",", ""), ".", "")
    amount_ok = pc.and_(pc.fill_null(_matches(amount, _AMOUNT_PATTERN), False),
                        pc.less_equal(pc.utf8_length(pc.fill_null(digits, "")), _MAX_AMOUNT_DIGITS))
    checks.require("Amount", amount_ok,
                   "a non-negative amount with 2 decimals, '.' point, thousands separators optional "
                   "(e.g. 12,345.67)", explain=_explain_amount)
    debit_credit = col["D/C"]
    checks.require("D/C", pc.is_in(debit_credit, pa.array(["S", "H"])), "S (debit) or H (credit)")
    checks.raise_if_any()

    pence = pc.cast(digits, pa.int64())
    is_debit = pc.equal(debit_credit, "S")
    zero = pa.scalar(0, pa.int64())
    debit = _exact_sum(pc.if_else(is_debit, pence, zero))
    credit = _exact_sum(pc.if_else(is_debit, zero, pence))

    company, fiscal_year, document_number = col["Company Code"], col["Fiscal Year"], col["Document Number"]
    lines = pa.Table.from_arrays(
        [
            pa.repeat(layout.force_code, raw.num_rows),
            pc.binary_join_element_wise(company, fiscal_year, document_number,
                                        pc.cast(line_item, pa.string()), "/"),
            pc.binary_join_element_wise(company, fiscal_year, document_number, "/"),
            raw.column("source_line_number"),
            pc.cast(fiscal_year, pa.int16()),
            period,
            posting_date,
            col["Cost Centre"],
            col["GL Account"],
            pc.if_else(is_debit, pence, pc.negate(pence)),
            col["Document Type"],
            col["Text"],
            col["Vendor"],
            col["Reference"],
        ],
        schema=CONFORMED_SCHEMA,
    )
    return lines, debit, credit


def _explain_amount(value: str) -> str:
    """Why an amount failed, in the finance team's words (only for the message's examples)."""
    if value.startswith("-"):
        return " (negative: the sign belongs in D/C)"
    if not re.search(r"[0-9]", value):
        return " (not a number)"
    if re.fullmatch(r"[0-9,]+\.[0-9]{2}", value):
        if len(value.replace(",", "")) - 1 > _MAX_AMOUNT_DIGITS:
            return f" (more than {_MAX_AMOUNT_DIGITS - 2} digits before the point)"
        return " (thousands separators out of place)"
    if re.fullmatch(r"[0-9,]*(?:\.[0-9]*)?", value):
        return " (not exactly 2 decimals)"
    return ""

