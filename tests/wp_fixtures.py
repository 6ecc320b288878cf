"""A Wiltshire ERP reporting database built in code, at any SQLAlchemy URL (SQLite file or MariaDB).

The tables are those of SOURCES.md (``gl_journal``, ``gl_journal_line``); journals and their lines
are plain dataclasses, so a test states exactly the ledger it needs::

    url = create_erp_database("sqlite:///tmp/erp.db")
    insert_journals(url, [invoice(101, "APR-16", date(2016, 4, 5), "1234.56")])

Amounts are given as exact decimal text (or Decimal); the database stores them with its own types
(MariaDB ``DECIMAL``, SQLite ``NUMERIC`` affinity, which keeps cents as binary floating point: the
reader has to cope with that, and these helpers make sure it is exercised).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from alliance_finance.core.urls import normalise_url

#: a spending account on cost centre 2200, and a balance-sheet account (cost centre 0000)
EXPENSE_ACCOUNT = "WP.2200.42000.0000"
CREDITOR_ACCOUNT = "WP.0000.21000.0000"

# What an amount is given as in these helpers: exact decimal text, a Decimal, or (to build
# deliberately broken sources) an int, a float, or any text.
Amount = str | Decimal | int | float | None


@dataclasses.dataclass
class Line:
    account_string: str | None
    entered_dr: Amount = None
    entered_cr: Amount = None
    line_description: str | None = "line"
    supplier_name: str | None = None
    #: None: numbered by position in the journal (1, 2, ...)
    line_no: int | None = None


@dataclasses.dataclass
class Journal:
    journal_id: int
    period_name: str | None
    accounting_date: dt.date | str | None
    posted_at: dt.datetime | str | None
    lines: list[Line]
    source: str | None = "GL"
    status: str = "P"
    reverses_journal_id: int | None = None
    description: str | None = "journal"

    @property
    def line_count(self) -> int:
        return len(self.lines)


def _amount_type(amount_type: sa.types.TypeEngine | None) -> sa.types.TypeEngine:
    return amount_type if amount_type is not None else sa.Numeric(14, 2)


def erp_metadata(*, amount_type: sa.types.TypeEngine | None = None,
                 without_columns: dict[str, Iterable[str]] | None = None,
                 without_tables: Iterable[str] = ()) -> sa.MetaData:
    """The two ERP tables as SOURCES.md describes them (optionally broken, for schema tests).

    ``amount_type`` replaces ``numeric(14,2)`` for entered_dr/entered_cr: a wider scale lets a test
    store an amount with more than two decimals, which ``numeric(14,2)`` would round away.
    """
    without_columns = {table: set(cols) for table, cols in (without_columns or {}).items()}
    money = _amount_type(amount_type)
    md = sa.MetaData()
    tables = {
        "gl_journal": [
            sa.Column("journal_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("source", sa.String(8)),
            sa.Column("period_name", sa.String(16)),
            sa.Column("accounting_date", sa.Date),
            sa.Column("status", sa.String(1), nullable=False),
            sa.Column("posted_at", sa.DateTime),
            sa.Column("reverses_journal_id", sa.Integer),
            sa.Column("description", sa.String(240)),
        ],
        "gl_journal_line": [
            sa.Column("journal_id", sa.Integer, nullable=False),
            sa.Column("line_no", sa.Integer),
            sa.Column("account_string", sa.String(40)),
            sa.Column("entered_dr", money),
            sa.Column("entered_cr", money),
            sa.Column("line_description", sa.String(240)),
            sa.Column("supplier_name", sa.String(240)),
        ],
    }
    for name, columns in tables.items():
        if name in without_tables:
            continue
        kept = [c for c in columns if c.name not in without_columns.get(name, ())]
        args: list = list(kept)
        if name == "gl_journal_line":
            args.append(sa.Index("ix_gl_journal_line_journal", "journal_id", "line_no"))
        sa.Table(name, md, *args)
    return md


def source_engine(url: str) -> sa.Engine:
    """An engine on the test ERP database (no pool: nothing stays open between helper calls)."""
    return sa.create_engine(normalise_url(url), poolclass=NullPool)


def create_erp_database(url: str, **schema) -> str:
    """Create the ERP tables at ``url`` (keyword arguments as for :func:`erp_metadata`); return ``url``."""
    engine = source_engine(url)
    try:
        erp_metadata(**schema).create_all(engine)
    finally:
        engine.dispose()
    return url


def _stored_amount(value: Amount):
    # Decimal or decimal text goes in as Decimal (the driver stores it exactly where the column is
    # DECIMAL); floats and odd text go in untouched, to build the broken sources the reader must catch.
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def journal_rows(journals: Iterable[Journal]) -> tuple[list[dict], list[dict]]:
    """The ``gl_journal`` and ``gl_journal_line`` rows of some journals."""
    headers: list[dict] = []
    lines: list[dict] = []
    for j in journals:
        headers.append({
            "journal_id": j.journal_id, "source": j.source, "period_name": j.period_name,
            "accounting_date": j.accounting_date, "status": j.status, "posted_at": j.posted_at,
            "reverses_journal_id": j.reverses_journal_id, "description": j.description,
        })
        for position, line in enumerate(j.lines, start=1):
            lines.append({
                "journal_id": j.journal_id,
                "line_no": position if line.line_no is None else line.line_no,
                "account_string": line.account_string,
                "entered_dr": _stored_amount(line.entered_dr),
                "entered_cr": _stored_amount(line.entered_cr),
                "line_description": line.line_description, "supplier_name": line.supplier_name,
            })
    return headers, lines


def _raw_tables() -> tuple[sa.TableClause, sa.TableClause]:
    # Untyped columns: values reach the driver as given (a float stays a float, text stays text),
    # which is how a source written by other software than ours looks.
    journal = sa.table("gl_journal", *(sa.column(c) for c in (
        "journal_id", "source", "period_name", "accounting_date", "status", "posted_at",
        "reverses_journal_id", "description")))
    line = sa.table("gl_journal_line", *(sa.column(c) for c in (
        "journal_id", "line_no", "account_string", "entered_dr", "entered_cr", "line_description",
        "supplier_name")))
    return journal, line


def insert_journals_on(connection: sa.Connection, journals: Iterable[Journal]) -> None:
    """Insert journals and their lines on an open connection (the caller owns the transaction)."""
    dialect = connection.dialect.name
    headers, lines = journal_rows(journals)
    journal_table, line_table = _raw_tables()

    def driver_value(value):
        # sqlite3 takes no Decimal, date or datetime: store what SQLAlchemy's own types would
        # (decimal text into NUMERIC affinity, ISO text for dates), so the file looks like one
        # SQLAlchemy or any ERP export wrote.
        if dialect == "sqlite":
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, dt.datetime):
                return value.strftime("%Y-%m-%d %H:%M:%S.%f")
            if isinstance(value, dt.date):
                return value.isoformat()
        return value

    if headers:
        connection.execute(journal_table.insert(),
                           [{k: driver_value(v) for k, v in row.items()} for row in headers])
    if lines:
        connection.execute(line_table.insert(),
                           [{k: driver_value(v) for k, v in row.items()} for row in lines])


def insert_journals(url: str, journals: Iterable[Journal]) -> None:
    """Insert journals and their lines in one committed transaction."""
    engine = source_engine(url)
    try:
        with engine.begin() as connection:
            insert_journals_on(connection, journals)
    finally:
        engine.dispose()


def execute(url: str, statement: str, **params) -> None:
    """Run one SQL statement on the ERP database and commit (to break a source on purpose)."""
    engine = source_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement), params)
    finally:
        engine.dispose()


# -- journals a finance system would post ------------------------------------------------------

def invoice(journal_id: int, period_name: str, accounting_date: dt.date, amount: Amount,
            *, posted_at: dt.datetime | None = None, status: str = "P",
            account: str = EXPENSE_ACCOUNT, supplier: str | None = "ACME LTD",
            description: str | None = None) -> Journal:
    """A two-line payables journal: debit a spending account, credit creditors."""
    if posted_at is None and status == "P":
        posted_at = dt.datetime.combine(accounting_date, dt.time(18, 0))
    return Journal(
        journal_id=journal_id, period_name=period_name, accounting_date=accounting_date,
        posted_at=posted_at, source="AP", status=status,
        description=description or f"invoice {journal_id}",
        lines=[
            Line(account, entered_dr=amount, line_description="goods", supplier_name=supplier),
            Line(CREDITOR_ACCOUNT, entered_cr=amount, line_description="creditors", supplier_name=supplier),
        ],
    )


def reversal(original: Journal, journal_id: int, *, period_name: str | None = None,
             accounting_date: dt.date | None = None, posted_at: dt.datetime | None = None) -> Journal:
    """The posted reversal of a journal: the same lines with debit and credit swapped."""
    accounting_date = accounting_date or original.accounting_date
    return Journal(
        journal_id=journal_id, period_name=period_name or original.period_name,
        accounting_date=accounting_date,
        posted_at=posted_at or dt.datetime.combine(accounting_date, dt.time(19, 0)),
        source=original.source, reverses_journal_id=original.journal_id,
        description=f"reversal of {original.journal_id}",
        lines=[dataclasses.replace(line, entered_dr=line.entered_cr, entered_cr=line.entered_dr)
               for line in original.lines],
    )


_MONTHS = ("APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "JAN", "FEB", "MAR")


def period_name_of(fiscal_year: int, period: int) -> str:
    """``(2016, 1)`` -> ``"APR-16"``, ``(2016, 12)`` -> ``"MAR-17"``, ``(2016, 13)`` -> ``"ADJ-17"``."""
    if period == 13:
        return f"ADJ-{(fiscal_year + 1) % 100:02d}"
    year = fiscal_year if period <= 9 else fiscal_year + 1
    return f"{_MONTHS[period - 1]}-{year % 100:02d}"


def history(from_fy: int, to_fy: int, lines_per_year: int, *, seed: int = 2015,
            first_journal_id: int = 1) -> Iterator[Journal]:
    """Balanced journals of 2 to 8 lines over whole fiscal years (for volume and timing checks).

    Journal ids increase over time but not in posting order, as in the real ERP.
    """
    rng = random.Random(seed)
    journal_id = first_journal_id
    for fiscal_year in range(from_fy, to_fy + 1):
        written = 0
        while written < lines_per_year:
            period = rng.randint(1, 12)
            year = fiscal_year if period <= 9 else fiscal_year + 1
            month = (period + 2) % 12 + 1
            day = dt.date(year, month, rng.randint(1, 28))
            debit_lines = rng.randint(1, 7)
            pence = [rng.randint(1, 5_000_000) for _ in range(debit_lines)]
            lines = [Line(f"WP.{rng.randint(1000, 4999):04d}.{rng.choice((42000, 43100, 51000)):05d}.0000",
                          entered_dr=_text(p), line_description=f"item {i}",
                          supplier_name=rng.choice((None, "ACME LTD", "REDACTED PERSONAL DATA")))
                     for i, p in enumerate(pence)]
            lines.append(Line(CREDITOR_ACCOUNT, entered_cr=_text(sum(pence)), line_description="creditors"))
            posted_at = dt.datetime.combine(day, dt.time(rng.randint(8, 20), rng.randint(0, 59)))
            yield Journal(journal_id, period_name_of(fiscal_year, period), day, posted_at, lines,
                          source=rng.choice(("AP", "AR", "GL", "PAY", "FA")))
            journal_id += 1
            written += len(lines)


def _text(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"
