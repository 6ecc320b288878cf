"""A journal's header: read, checked and written as text (period, dates, source, posting time)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import sqlalchemy as sa

from alliance_finance.core import fiscal
from alliance_finance.sources.erp_sql.connection import _HEADERS_OF_JOURNALS, _chunks, _fetch, _not_utf8
from alliance_finance.sources.erp_sql.layout import _NUL_PROBLEM, JOURNAL_COLUMNS, parse_period_name


@dataclasses.dataclass
class _Journal:
    """One new journal's header, as read, and what was made of it."""

    row: dict[str, Any]
    journal_id: int
    fiscal_year: int | None = None
    period: int | None = None
    accounting_date: dt.date | None = None
    posted_at: dt.datetime | None = None
    problems: list[str] = dataclasses.field(default_factory=list)
    line_count: int = 0
    #: the header's columns as text, in JOURNAL_COLUMNS order (dates ISO)
    raw_header: tuple[str | None, ...] = ()

    @property
    def order(self) -> tuple:
        return (self.posted_at is None, self.posted_at or dt.datetime.min, self.journal_id)



def _read_journals(connection: sa.Connection, ids: list[int]) -> dict[int, _Journal]:
    """The full headers of a batch's journals, read and checked (:func:`_read_header`)."""
    journals: dict[int, _Journal] = {}
    cache: dict = {}
    for chunk in _chunks(ids):
        for values in _fetch(connection, _HEADERS_OF_JOURNALS, chunk):
            row = dict(zip(JOURNAL_COLUMNS, values))
            journal = _Journal(row=row, journal_id=int(row["journal_id"]))
            _read_header(journal, cache)
            journals[journal.journal_id] = journal
    return journals


def _read_header(journal: _Journal, memo: dict | None = None) -> None:
    """Read a journal's header, recording every problem. ``memo`` (one per batch) remembers what
    each (period name, accounting date) pair gave: a period's journals share a few hundred."""
    row = journal.row
    period_name, accounting_date = row["period_name"], row["accounting_date"]
    # keyed by type as well as value: 1, 1.0 and True are equal but are worded differently
    key = (type(period_name), period_name, type(accounting_date), accounting_date)
    try:
        dated = memo.get(key) if memo is not None else None
    except TypeError:  # an unhashable value: read it afresh
        dated, memo = None, None
    if dated is None:
        dated = _read_period_and_date(period_name, accounting_date)
        if memo is not None:
            memo[key] = dated
    journal.fiscal_year, journal.period, journal.accounting_date, problems = dated
    journal.problems.extend(problems)
    try:
        journal.posted_at = _as_datetime(row["posted_at"])
    except ValueError as exc:
        journal.problems.append(f"posted_at: {exc}")
    if not isinstance(row["source"], str) or not row["source"].strip():
        journal.problems.append(f"expected a journal source (AP, AR, GL, PAY, FA), found {row['source']!r}")
    for column in ("source", "description"):
        if isinstance(row[column], str) and "\x00" in row[column]:
            journal.problems.append(f"{column}: {_NUL_PROBLEM}")
    for column in ("period_name", "accounting_date", "posted_at", "reverses_journal_id", "description"):
        problem = _not_utf8(column, row[column])
        if problem:
            journal.problems.append(problem)
    journal.raw_header = (
        str(journal.journal_id),
        _text(row["source"]),
        _text(row["period_name"]),
        journal.accounting_date.isoformat() if journal.accounting_date else _text(row["accounting_date"]),
        _text(row["status"]),
        journal.posted_at.isoformat() if journal.posted_at else _text(row["posted_at"]),
        _text(row["reverses_journal_id"]),
        _text(row["description"]),
    )


def _read_period_and_date(period_name: Any, accounting_date: Any) -> tuple:
    """(fiscal_year, period, accounting_date, problems) of a journal's period name and date."""
    fiscal_year = period = date = None
    problems = []
    try:
        fiscal_year, period = parse_period_name(period_name)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        date = _as_date(accounting_date)
    except ValueError as exc:
        problems.append(f"accounting_date: {exc}")
    if date is not None and period is not None and not fiscal.posting_date_agrees(fiscal_year, period, date):
        problems.append(
            f"accounting_date {date.isoformat()} lies outside period {period_name} (FY{fiscal_year} "
            f"P{period:02d}: expected {_period_dates(fiscal_year, period)})")
    return fiscal_year, period, date, tuple(problems)


def _period_dates(fiscal_year: int, period: int) -> str:
    if period >= 13:
        return f"a date on or after {dt.date(fiscal_year + 1, 3, 1).isoformat()}"
    year, month = fiscal.period_month(fiscal_year, period)
    return f"a date in {dt.date(year, month, 1):%B %Y}"


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE_RE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:  # a day that does not exist, e.g. 2016-02-30
            pass
    raise ValueError(f"expected a date (YYYY-MM-DD), found {value!r}")


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, dt.datetime):
        # the ERP's timestamps are naive; one with an offset is put in UTC so that all compare
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    raise ValueError(f"expected the timestamp it was posted at, found {value!r}")


# a date, or a timestamp whose date part is the date (SQLite keeps both as text)
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9:.]*)?")


def _text(value: Any) -> str | None:
    """A column value as exact text: floats by their shortest round-trip form, dates ISO."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return str(value)



def _str_or_none(value: Any) -> str | None:
    return value if type(value) is str else None

