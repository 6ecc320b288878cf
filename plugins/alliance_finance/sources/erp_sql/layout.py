"""What an ERP extract reads and holds: the tables' columns, the limits, and one force's names.

The tables and columns are the ERP's (SOURCES.md) and the same for every force on this format; a
force's own names come from its ``source`` entry in ``dags/forces.yaml`` (:class:`ErpLayout`): the
prefix of its account strings. Also the small parsers of the ERP's codes: period names and account
strings.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, Mapping, NamedTuple

from alliance_finance.sources.base import Layout, only_force_of

FORMAT = "erp_sql"

#: most journal ids in one ``IN`` list (SQLite before 3.32 allowed 999 parameters per statement)
ID_CHUNK = 900

#: the largest amount the warehouse holds (numeric(15,2)), in pence: a larger one could never load
#: (SOURCES.md's numeric(14,2) is smaller still; a SQLite source is not bound by it)
MAX_AMOUNT_PENCE = 10**15 - 1

# PostgreSQL text cannot hold U+0000, so such a journal could never load: it is quarantined
_NUL_PROBLEM = "contains a NUL character (U+0000), which the warehouse cannot store"
_NOT_UTF8_PROBLEM = "not valid UTF-8 text"

JOURNAL_COLUMNS = ("journal_id", "source", "period_name", "accounting_date", "status", "posted_at",
                   "reverses_journal_id", "description")
LINE_COLUMNS = ("journal_id", "line_no", "account_string", "entered_dr", "entered_cr",
                "line_description", "supplier_name")

#: the columns each table must have (SOURCES.md); checked before any data is read
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "gl_journal": JOURNAL_COLUMNS,
    "gl_journal_line": LINE_COLUMNS,
}

#: ``Batch.raw`` columns (all text) before ``source_line_number``: docs/contracts.md
RAW_COLUMNS = ("journal_id", "line_no", "source", "period_name", "accounting_date", "status",
               "posted_at", "reverses_journal_id", "account_string", "entered_dr", "entered_cr",
               "line_description", "supplier_name")



def __getattr__(name: str):
    """``RAW_SCHEMA``: the Arrow schema of ``Batch.raw`` (RAW_COLUMNS as text, then source_line_number),
    made on first use."""
    if name != "RAW_SCHEMA":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # deferred on purpose: pyarrow (and numpy) take a good part of a second to import, and the reader's
    # find step (this layout, the SQL that finds new journals) needs neither on a night with nothing new
    import pyarrow as pa

    schema = pa.schema([pa.field(column, pa.string()) for column in RAW_COLUMNS]
                       + [pa.field("source_line_number", pa.int64(), nullable=False)])
    globals()["RAW_SCHEMA"] = schema
    return schema

_MONTH_PERIODS = {"APR": 1, "MAY": 2, "JUN": 3, "JUL": 4, "AUG": 5, "SEP": 6,
                  "OCT": 7, "NOV": 8, "DEC": 9, "JAN": 10, "FEB": 11, "MAR": 12}
_PERIOD_NAME_RE = re.compile(r"([A-Za-z]{3})-([0-9]{2})")


@dataclasses.dataclass(frozen=True)
class ErpLayout(Layout):
    """What one force's ERP extract is named and holds: from its ``source`` entry in forces.yaml."""

    force_code: str
    #: account strings are ``<account_prefix>.<cost centre>.<natural account>.<analysis>``
    account_prefix: str

    @classmethod
    def from_source(cls, force_code: str, source: Mapping[str, Any]) -> "ErpLayout":
        return cls(force_code=force_code, account_prefix=source["account_prefix"])

    @classmethod
    def default(cls) -> "ErpLayout":
        """The layout of the one ``erp_sql`` force of ``dags/forces.yaml`` (for callers that name none)."""
        return _default_layout()


@functools.lru_cache(maxsize=1)
def _default_layout() -> ErpLayout:
    return ErpLayout.of(only_force_of(FORMAT, "database this is", "ErpLayout"))


def parse_period_name(name: str) -> tuple[int, int]:
    """``"APR-16"`` -> ``(2016, 1)``, ``"MAR-17"`` -> ``(2016, 12)``, ``"ADJ-17"`` -> ``(2016, 13)``.

    ``MON-YY`` names the calendar month and year of an ordinary period; ``ADJ-YY`` is the year-end
    adjustment period (13) of the fiscal year that ends in 20YY. Month abbreviations are accepted in
    any case (``Apr-16``, as some ERP screens print them: the meaning is the same); anything else,
    including surrounding spaces or a four-digit year, raises ValueError naming what was found.
    """
    match = _PERIOD_NAME_RE.fullmatch(name) if isinstance(name, str) else None
    month = match.group(1).upper() if match else None
    if match is None or (month not in _MONTH_PERIODS and month != "ADJ"):
        raise ValueError(f"unknown period name {name!r}: expected MON-YY (APR-16 ... MAR-17) or ADJ-YY")
    calendar_year = 2000 + int(match.group(2))
    if month == "ADJ":
        return calendar_year - 1, 13
    period = _MONTH_PERIODS[month]
    return (calendar_year if period <= 9 else calendar_year - 1), period


class AccountString(NamedTuple):
    """The parts of a Wiltshire account string ``WP.<cost centre>.<natural account>.<analysis>``."""

    cost_centre: str
    natural_account: str
    analysis: str


def parse_account_string(text: str, prefix: str | None = None) -> AccountString:
    """``"WP.2200.42000.0000"`` -> ``AccountString("2200", "42000", "0000")`` (``prefix`` ``WP``).

    ``prefix``: the force's ``account_prefix`` (by default the one ``erp_sql`` force's). Cost centre
    ``0000`` (balance-sheet lines) is kept as it is. Raises ValueError naming what was found when the
    text is not the prefix + 4 + 5 + 4 ASCII digits separated by dots.
    """
    prefix = prefix or ErpLayout.default().account_prefix
    match = _account_pattern(prefix).fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"malformed account string {text!r}: expected {prefix}.<4 digits>.<5 digits>.<4 digits>")
    return AccountString(*match.groups())


@functools.lru_cache(maxsize=None)
def _account_pattern(prefix: str) -> re.Pattern:
    return re.compile(re.escape(prefix) + r"\.([0-9]{4})\.([0-9]{5})\.([0-9]{4})")


class Accounts(dict):
    """Account string -> :class:`AccountString`, or the problem with it (text): one force's account
    strings, each parsed once (they repeat heavily)."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix
