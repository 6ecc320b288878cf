"""Wiltshire Police (``WP``): extract newly posted journals from the ERP reporting database.

The ERP exposes ``gl_journal`` and ``gl_journal_line`` (SOURCES.md) at any SQLAlchemy URL: the sample
data's SQLite file, MariaDB in production. The same SQLAlchemy Core statements serve both; every
value is bound as a parameter.

Incremental and complete: the journal-id anti-join
---------------------------------------------------
Each run:

1. lists the ids of *all* posted journals (``status = 'P'``): a narrow query, ids only;
2. subtracts ``loaded_journal_ids``, the ids the warehouse has recorded (in the same transaction
   that loaded their lines, or quarantined them);
3. fetches the remaining journals and their lines in chunks of at most :data:`ID_CHUNK` ids
   (``IN`` lists below SQLite's historical 999-parameter limit, which MariaDB takes as well).

Why this never misses a journal and never reads a line twice:

- *Nothing is missed.* The set of posted ids is read anew every run, not derived from a
  ``posted_at`` watermark. A journal whose long transaction commits late, with a ``posted_at`` older
  than journals already loaded, is simply an id not yet in ``loaded_journal_ids`` on the first run
  that can see it, whatever its ``posted_at``. An unposted journal is not listed until it is posted.
- *Nothing is read twice.* Journals are never edited after posting (they are corrected by reversal),
  so a journal id, once loaded, names the same lines for ever and never needs reading again. Because
  the warehouse records the ids in the same transaction as the lines, "loaded" and "recorded" cannot
  disagree after a crash: a batch either committed both or neither, and the next run re-offers
  exactly the journals that did not commit.

All reads of a run happen in one transaction, a consistent snapshot where the database offers one
(MariaDB/MySQL and PostgreSQL: ``REPEATABLE READ``; SQLite: an explicit ``BEGIN``, so the id list,
the headers and the lines are read from the same state of the file). A journal committed while the
run is reading belongs to the next run. ``posted_at`` is kept only as the batch's high-water mark
(``meta["max_posted_at"]``) for freshness reporting, and for ordering.

Batches
-------
New journals are grouped by the accounting period their ``period_name`` names, one batch per
(fiscal_year, period) in period order, journals ordered by (posted_at, journal_id) within it. A period
with more than ``max_lines_per_batch`` lines is split into several batches, journals kept whole (a
single larger journal makes a batch of its own). Journals whose period name cannot be read go into a
last batch of their own, "unknown period" (``meta`` fiscal_year and period ``None``), all quarantined.
A batch holds the journals' lines in memory, nothing more: the plan (period, ``posted_at`` and line
count of each new journal: a GROUP BY and three narrow columns) is read first, and each batch then
reads its journals' full headers and lines. Five years of new journals are planned in about 60 MB.

``Batch.lines`` and ``Batch.raw`` hold the loadable journals' lines, row for row in the same order
(a quarantined journal's columns are in its quarantine entries). ``Batch.digest`` is the SHA-256 of
every line read, quarantined ones included, sorted by (journal_id, line_no) and rendered from the
same exact text as ``raw``: the same journals give the same digest on SQLite and on MariaDB.

Quarantine: a bad journal is kept out whole
-------------------------------------------
Every line of a bad journal goes to ``Batch.quarantine`` with ``original`` = the line's columns (the
journal's and the line's) as JSON, and one reason naming the journal, what was expected and what
was found. The defects caught here: an unknown period name, an accounting date that is missing,
unreadable or outside the period named, a posted journal without ``posted_at``, a missing journal
source, no lines, a line without a number or with a number used twice, a malformed account string,
a line with both or neither of debit and credit, a negative or non-numeric amount, an amount with more
than two decimals or beyond the warehouse's ``numeric(15,2)``, a text holding a NUL character (which PostgreSQL text
cannot store), and a journal whose debits and credits differ. The other journals load.

A journal with no lines still needs a trace in the quarantine, so it is kept as one entry
(``source_line_ref`` ``"<journal_id>/-"``, ``source_line_number`` 0, ``original`` = the journal's
columns) and counted as one row read: that keeps ``rows_read == loaded + quarantined``.

Money
-----
Exact throughout. Columns are read *untyped* (no SQLAlchemy result processing, which on SQLite would
round a float to the column's declared scale and hide a third decimal), and each amount is converted
by :func:`amount_to_pence` according to what the driver returned:

- ``Decimal`` (MariaDB, PostgreSQL), ``int`` (SQLite stores ``12.00`` as the integer 12) or ``str``
  (a TEXT column): converted exactly through ``Decimal``;
- ``float``: SQLite's ``NUMERIC`` affinity stores ``12.34`` as the binary double nearest 12.34, so a
  float is what the sample file gives back. It is accepted only when it converts exactly: its
  shortest round-trip decimal form (``repr``) has at most two decimals, which is true exactly when the
  double is the one SQLite made from a two-decimal amount (two amounts of 15 significant digits or
  fewer never share a double; ``numeric(14,2)`` needs 14). A float that is not (``12.345``,
  ``0.30000000000000004``, ``nan``) quarantines its journal. No arithmetic is ever done on a float.

``rows_read`` is the lines read for the batch's journals; ``total_debit_pence``/``total_credit_pence``
sum every amount read that is a valid amount, quarantined journals included.

Speed: whole columns, and line by line only where something is wrong
--------------------------------------------------------------------
A batch's lines are checked column by column (:class:`_FastLines`: numpy and pyarrow, no Python
step per line): integer line numbers unique in their journal, exactly one of debit and credit, each
an exact amount in range (SQLite's doubles by the same test as :func:`_pence`, MariaDB's Decimals
by an exact decimal cast), account strings parsed once per distinct value, texts without NUL, every
journal balanced. A journal with any header problem, no lines, a failing line or a value of an
unexpected type is handed whole to :func:`_read_journal`, the line-by-line reader, which words the
problems and builds the quarantine; so both paths agree by construction (and were compared on
generated data and on a file seeded with every defect above: identical lines, raw columns,
quarantine, totals and metadata).

Measured (generated sample data, SQLite file, this project's shared 2-core machine, load ~3):
FY 2016 at scale 20, 572,966 lines in 127,405 journals, 13 batches: 9.2 s (18.9 s line by line,
an extract that held every journal header of the run at once); FY 2014-2018 at scale 10,
1,433,217 lines: 22 s (51 s). Left: the SQLite reads (a fifth), the headers (``_read_header``, a
Python step per journal) and building the Arrow columns. The reads by journal id run on the
driver's cursor: SQLAlchemy's per-row and per-parameter work cost more than the reading itself.
pyarrow's first array imports pandas (1-3 s, once per process, not counted above).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from alliance_finance.core import fiscal
from alliance_finance.core.errors import SourceSchemaError, TransientError
from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch, QuarantinedLine
from alliance_finance.core.money import format_pence
from alliance_finance.core.urls import mask_url, normalise_url

FORCE_CODE = "WP"

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

RAW_SCHEMA = pa.schema([pa.field(name, pa.string()) for name in RAW_COLUMNS]
                       + [pa.field("source_line_number", pa.int64(), nullable=False)])

# Untyped columns: the driver's own values come back (Decimal, int, float, str, date), which is
# what the exact-money rules above need to see.
_JOURNAL = sa.table("gl_journal", *(sa.column(name) for name in JOURNAL_COLUMNS))
_LINE = sa.table("gl_journal_line", *(sa.column(name) for name in LINE_COLUMNS))

_MONTH_PERIODS = {"APR": 1, "MAY": 2, "JUN": 3, "JUL": 4, "AUG": 5, "SEP": 6,
                  "OCT": 7, "NOV": 8, "DEC": 9, "JAN": 10, "FEB": 11, "MAR": 12}
_PERIOD_NAME_RE = re.compile(r"([A-Za-z]{3})-([0-9]{2})")
_ACCOUNT_RE = re.compile(r"WP\.([0-9]{4})\.([0-9]{5})\.([0-9]{4})")


# The reads by journal id, the bulk of an extract. They run on the driver's cursor (inside the
# extract's transaction) because SQLAlchemy's per-row and per-parameter work cost more than the
# reading itself (a third of the time on SQLite); the columns are untyped either way.
_LINES_OF_JOURNALS = f"SELECT {', '.join(LINE_COLUMNS)} FROM gl_journal_line WHERE journal_id IN {{ids}}"
_HEADERS_OF_JOURNALS = f"SELECT {', '.join(JOURNAL_COLUMNS)} FROM gl_journal WHERE journal_id IN {{ids}}"
_PLAN_OF_JOURNALS = "SELECT journal_id, period_name, posted_at FROM gl_journal WHERE journal_id IN {ids}"
_LINE_COUNTS = "SELECT journal_id, COUNT(*) FROM gl_journal_line WHERE journal_id IN {ids} GROUP BY journal_id"
# every posted journal's id, every run (the completeness anti-join below): five years are 318,000
_POSTED_JOURNALS = "SELECT journal_id, status FROM gl_journal WHERE status = 'P'"


def _fetch(connection: sa.Connection, statement: str, ids: list[int]) -> list[tuple]:
    """The rows of ``statement`` for the journal ids ``ids`` (its ``{ids}``), each a bound parameter."""
    mark = _PARAMETER_MARKS.get(connection.dialect.paramstyle)
    if mark is None:  # a driver with another parameter style: through SQLAlchemy
        text = sa.text(statement.format(ids=":ids"))
        if ids:
            text = text.bindparams(sa.bindparam("ids", expanding=True))
        return [tuple(row) for row in connection.execute(text, {"ids": ids} if ids else {})]
    sql = statement.format(ids="(" + ", ".join([mark] * len(ids)) + ")") if ids else statement

    def rows(cursor) -> list[tuple]:
        cursor.execute(sql, tuple(ids)) if ids else cursor.execute(sql)
        return cursor.fetchall()

    cursor = connection.connection.cursor()
    try:
        try:
            return rows(cursor)
        except Exception as exc:  # noqa: BLE001 - only sqlite3's failure to decode is handled here
            driver = connection.connection.driver_connection
            if not (hasattr(driver, "text_factory") and "Could not decode to UTF-8" in str(exc)):
                raise
        # SQLite keeps whatever bytes it is given as TEXT, and sqlite3 fails the whole read on the
        # first that are not UTF-8. These rows are read again with such text as bytes, so that the
        # journal holding it is quarantined, naming the column (_not_utf8), and the rest load. Only
        # then: a Python call per text value costs 6 % of a year's read.
        cursor.close()
        driver.text_factory = _sqlite_text
        try:
            cursor = connection.connection.cursor()
            return rows(cursor)
        finally:
            driver.text_factory = str
    finally:
        cursor.close()


_PARAMETER_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


# -- the small parsers ---------------------------------------------------------------------------

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


def parse_account_string(text: str) -> AccountString:
    """``"WP.2200.42000.0000"`` -> ``AccountString("2200", "42000", "0000")``.

    Cost centre ``0000`` (balance-sheet lines) is kept as it is. Raises ValueError naming what was
    found when the text is not ``WP.`` + 4 + 5 + 4 ASCII digits separated by dots.
    """
    match = _ACCOUNT_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"malformed account string {text!r}: expected WP.<4 digits>.<5 digits>.<4 digits>")
    return AccountString(*match.groups())


def amount_to_pence(value: Any) -> int:
    """An amount as the database driver returned it -> integer pence, exactly.

    ``Decimal``, ``int`` and decimal text convert through ``Decimal``; a ``float`` is accepted only
    when its shortest round-trip decimal form has at most two decimals (see the module docstring).
    Raises ValueError (what was expected, what was found) for anything with more than two decimals,
    not a finite number, or negative.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected an amount, found {value!r}")
    if isinstance(value, int):
        exact = Decimal(value)
    elif isinstance(value, Decimal):
        exact = value
    elif isinstance(value, float):
        exact = Decimal(repr(value))  # the shortest decimal that round-trips to this double
        if exact.is_finite() and exact.as_tuple().exponent < -2:
            raise ValueError(f"expected an exact amount with at most two decimals, found the binary "
                             f"floating-point value {value!r}")
    elif isinstance(value, str):
        try:
            exact = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"expected a number, found {value!r}") from None
    else:
        raise ValueError(f"expected a number, found {type(value).__name__} {value!r}")
    if not exact.is_finite():
        raise ValueError(f"expected a number, found {value!r}")
    pence = exact.scaleb(2)
    if pence != pence.to_integral_value():
        raise ValueError(f"expected at most two decimals, found {exact.normalize():f}")
    if pence < 0:
        raise ValueError(f"expected a non-negative amount, found {format_pence(int(pence))}")
    if pence > MAX_AMOUNT_PENCE:
        raise ValueError(f"expected at most {format_pence(MAX_AMOUNT_PENCE)} (the warehouse's numeric(15,2)), "
                         f"found {exact.normalize():f}")
    return int(pence)


# -- schema ---------------------------------------------------------------------------------------

def check_source_schema(connection: sa.Connection, where: str = "the WP ERP database") -> None:
    """Raise SourceSchemaError naming each table or column SOURCES.md requires that is missing."""
    inspector = sa.inspect(connection)
    present_tables = {name.lower() for name in inspector.get_table_names()}
    problems = []
    for table, required in REQUIRED_COLUMNS.items():
        if table not in present_tables:
            problems.append(f"table {table} is missing (expected columns {', '.join(required)})")
            continue
        present = {column["name"].lower() for column in inspector.get_columns(table)}
        missing = [column for column in required if column not in present]
        if missing:
            problems.append(f"table {table} lacks column(s) {', '.join(missing)} "
                            f"(found {', '.join(sorted(present)) or 'none'})")
    if problems:
        raise SourceSchemaError(f"{where}: not shaped as SOURCES.md says: " + "; ".join(problems))


# -- the extract ----------------------------------------------------------------------------------

def extract_new_journals(source_url: str, loaded_journal_ids: set[int], *,
                         max_lines_per_batch: int = 500_000) -> Iterator[Batch]:
    """The posted journals not in ``loaded_journal_ids``, as Batches by accounting period.

    The source's shape is checked at once (SourceSchemaError names the table and the missing
    columns, before any data is read); the returned iterator then reads one consistent snapshot,
    one batch at a time (see the module docstring for why this is complete and never repeats).
    Each batch's ``meta`` is ``{"journal_ids", "fiscal_year", "period", "max_posted_at"}``.
    """
    if max_lines_per_batch < 1:
        raise ValueError(f"max_lines_per_batch must be at least 1, got {max_lines_per_batch}")
    where = f"WP ERP database {mask_url(source_url)}"
    engine = _source_engine(source_url, where)
    try:
        with engine.connect() as connection:
            check_source_schema(connection, where)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        engine.dispose()
        raise TransientError(f"{where} unreachable: {_first_line(exc)}") from exc
    except BaseException:
        engine.dispose()
        raise
    loaded = {int(journal_id) for journal_id in loaded_journal_ids}
    return _extract(engine, loaded, max_lines_per_batch, where)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _source_engine(source_url: str, where: str) -> sa.Engine:
    # Not warehouse.engine.make_engine: its SQLite pragmas (WAL) would write to the ERP's file.
    # No pool: the extract's one connection closes when the extract ends.
    url = normalise_url(source_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="REPEATABLE READ")
    if url.database in (None, "", ":memory:") or not _sqlite_file_exists(url.database):
        # connecting would quietly create an empty file where the ERP's was expected
        raise SourceSchemaError(f"{where}: no such SQLite file (expected tables gl_journal, gl_journal_line)")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    @sa.event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection, _record):  # pragma: no cover - trivial
        # sqlite3 would not BEGIN before a SELECT, so each query would see its own state of the file
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):  # pragma: no cover - trivial
        connection.exec_driver_sql("BEGIN")

    return engine


def _sqlite_text(data: bytes) -> str | bytes:
    """A SQLite TEXT value: its UTF-8 text, or its bytes when they are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _not_utf8(column: str, value: Any) -> str | None:
    """The problem with a text column's value that came back as bytes (not valid UTF-8), if so."""
    if isinstance(value, (bytes, bytearray)):
        return f"{column}: {_NOT_UTF8_PROBLEM} ({len(value)} bytes: {bytes(value[:40])!r})"
    return None


def _sqlite_file_exists(database: str) -> bool:
    if database.startswith("file:"):  # URI form: the path ends at the query string
        database = database[len("file:"):].split("?", 1)[0]
    return Path(database).is_file()


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


def _extract(engine: sa.Engine, loaded: set[int], max_lines_per_batch: int, where: str) -> Iterator[Batch]:
    try:
        with engine.connect() as connection, connection.begin():
            posted = _fetch(connection, _POSTED_JOURNALS, [])
            # MariaDB compares 'p' and 'P ' equal to 'P' under its default collation; SQLite does
            # not. Re-checking here makes both read the same journals.
            new_ids = sorted({int(journal_id) for journal_id, status in posted if status == "P"} - loaded)
            del posted
            if not new_ids:
                return
            planned = _plan_journals(connection, new_ids)
            del new_ids
            accounts: dict[Any, AccountString | str] = {}  # account strings repeat: parse each once
            for batch_plan in _plan_batches(planned, max_lines_per_batch):
                yield _build_batch(connection, *batch_plan, accounts)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # named here, so that the pipeline does not take it for the warehouse
        raise TransientError(f"{where} unreachable mid-extract: {_first_line(exc)}; the batches loaded "
                             "before stay loaded, the rest is read again by the next run") from exc
    finally:
        engine.dispose()


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start:start + ID_CHUNK]


class _Planned(NamedTuple):
    """What planning the batches needs of a new journal, and nothing more: five years of new
    journals are held at once, so their full headers are read again batch by batch."""

    journal_id: int
    fiscal_year: int | None
    period: int | None
    posted_at: dt.datetime | None
    line_count: int

    @property
    def order(self) -> tuple:
        return (self.posted_at is None, self.posted_at or dt.datetime.min, self.journal_id)


def _plan_journals(connection: sa.Connection, ids: list[int]) -> list[_Planned]:
    """Period, posting time and line count of each new journal, read narrowly (no texts)."""
    planned: list[_Planned] = []
    periods: dict[Any, tuple] = {}
    for chunk in _chunks(ids):
        counts = {int(journal_id): int(count) for journal_id, count in _fetch(connection, _LINE_COUNTS, chunk)}
        for journal_id, period_name, posted_at in _fetch(connection, _PLAN_OF_JOURNALS, chunk):
            # the same readings as _read_header's, which will name any problem when the batch is built
            key = period_name if isinstance(period_name, (str, type(None))) else repr(period_name)
            period = periods.get(key)
            if period is None:
                try:
                    period = periods[key] = parse_period_name(period_name)
                except ValueError:
                    period = periods[key] = _UNKNOWN_PERIOD
            try:
                posted = _as_datetime(posted_at)
            except ValueError:
                posted = None
            journal_id = int(journal_id)
            planned.append(_Planned(journal_id, *period, posted, counts.get(journal_id, 0)))
    return planned


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


_UNKNOWN_PERIOD = (None, None)


def _plan_batches(journals: list[_Planned], max_lines: int) -> Iterator[tuple[tuple, list[_Planned], int, int]]:
    """(period key, journals, part, parts) for each batch, in period order."""
    by_period: dict[tuple, list[_Planned]] = {}
    for journal in journals:
        by_period.setdefault((journal.fiscal_year, journal.period), []).append(journal)
    keys = sorted((key for key in by_period if key != _UNKNOWN_PERIOD))
    if _UNKNOWN_PERIOD in by_period:
        keys.append(_UNKNOWN_PERIOD)
    for key in keys:
        parts: list[list[_Planned]] = [[]]
        size = 0
        for journal in sorted(by_period.pop(key), key=lambda j: j.order):
            weight = max(journal.line_count, 1)  # a journal without lines is one quarantine entry
            if parts[-1] and size + weight > max_lines:
                parts.append([])
                size = 0
            parts[-1].append(journal)
            size += weight
        for number, part in enumerate(parts, start=1):
            yield key, part, number, len(parts)


def _build_batch(connection: sa.Connection, key: tuple, planned: list[_Planned],
                 part: int, parts: int, accounts: dict[Any, AccountString | str]) -> Batch:
    fiscal_year, period = key
    ids = sorted(j.journal_id for j in planned)
    headers = _read_journals(connection, ids)
    journals = [headers[j.journal_id] for j in planned]  # load order: (posted_at, journal_id)
    rows: list[tuple] = []
    for chunk in _chunks(ids):
        rows += _fetch(connection, _LINES_OF_JOURNALS, chunk)

    fast = _FastLines(journals, rows, accounts)
    del rows
    quarantine: list[QuarantinedLine] = []
    slow_rows: list[tuple] = []  # conformed + raw + (rank, sequence) of good journals read the careful way
    canonical = [fast.canonical]  # (journal_id, sequence, text) tables, in any order
    rows_read, total_debit, total_credit = fast.rows_read, fast.debit, fast.credit
    for journal in fast.slow_journals:
        lines, problems, debit, credit = _read_journal(journal, fast.slow_lines_of[journal.journal_id], accounts)
        rows_read += len(lines) or 1  # a journal without lines is one quarantine entry
        total_debit += debit
        total_credit += credit
        texts = [_canonical(journal, line.raw) for line in lines] if lines else [_canonical(journal, None)]
        canonical.append(pa.table({"journal_id": pa.array([journal.journal_id] * len(texts), pa.int64()),
                                   "sequence": pa.array(range(len(texts)), pa.int64()),
                                   "text": pa.array(texts, pa.string())}))
        if problems:
            reason = f"journal {journal.journal_id} quarantined whole: " + "; ".join(problems)
            quarantine.extend(_quarantined(journal, lines, reason))
            continue
        jid = journal.journal_id
        document_ref = str(jid)
        source, description = journal.row["source"], journal.row["description"]
        rank = fast.rank_of[jid]
        for sequence, line in enumerate(lines):
            slow_rows.append((
                FORCE_CODE, f"{jid}/{line.line_no}", document_ref, line.line_no, journal.fiscal_year,
                journal.period, journal.accounting_date, line.account.cost_centre,
                line.account.natural_account, line.amount_pence, source, line.raw[11], line.raw[12],
                description, *line.raw, line.line_no, rank, sequence,
            ))

    lines_table, raw_table = fast.lines, fast.raw
    if slow_rows:
        # the journals read the careful way join the others in load order
        width = len(CONFORMED_SCHEMA)
        slow_lines = _table([r[:width] for r in slow_rows], CONFORMED_SCHEMA)
        slow_raw = _table([r[width:-2] for r in slow_rows], RAW_SCHEMA)
        order = pa.table({"rank": pa.concat_arrays([fast.rank, pa.array([r[-2] for r in slow_rows], pa.int64())]),
                          "sequence": pa.concat_arrays([fast.sequence,
                                                        pa.array([r[-1] for r in slow_rows], pa.int64())])})
        indices = pc.sort_indices(order, sort_keys=[("rank", "ascending"), ("sequence", "ascending")])
        lines_table = pa.concat_tables([lines_table, slow_lines]).take(indices)
        raw_table = pa.concat_tables([raw_table, slow_raw]).take(indices)

    label = "unknown period" if fiscal_year is None else f"FY{fiscal_year} P{period:02d}"
    if parts > 1:
        label += f" part {part} of {parts}"
    posted = [j.posted_at for j in journals if j.posted_at is not None]
    return Batch(
        force_code=FORCE_CODE,
        source_ref=(f"WP ERP gl_journal {label} ({len(journals)} journal{'s' if len(journals) != 1 else ''}, "
                    f"ids {ids[0]}-{ids[-1]})"),
        digest=_digest(canonical),
        lines=lines_table,
        quarantine=quarantine,
        rows_read=rows_read,
        total_debit_pence=total_debit,
        total_credit_pence=total_credit,
        raw=raw_table,
        meta={
            "journal_ids": ids,
            "fiscal_year": fiscal_year,
            "period": period,
            "max_posted_at": max(posted).isoformat() if posted else None,
        },
    )


def _digest(canonical: list[pa.Table]) -> str:
    """SHA-256 of every line's canonical text, in (journal_id, line) order, one line each."""
    table = pa.concat_tables(canonical)
    table = table.take(pc.sort_indices(table, sort_keys=[("journal_id", "ascending"), ("sequence", "ascending")]))
    digest = hashlib.sha256()
    texts = table.column("text").combine_chunks()
    if len(texts):
        import numpy as np

        joined = pc.binary_join_element_wise(texts, pa.scalar("\n"), "")  # each text ends its line
        _, offsets, data = joined.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int32)[joined.offset:joined.offset + len(joined) + 1]
        digest.update(memoryview(data)[int(offsets[0]):int(offsets[-1])])  # the texts back to back
    return digest.hexdigest()


class _FastLines:
    """A batch's lines read column-wise: every check of :func:`_read_journal` done on whole columns.

    A journal whose lines all pass (the usual case) is conformed here without a Python step per line.
    Any journal with a header problem, no lines, or a line that fails a check or holds a value of an
    unusual type (a ``Decimal``, text where a number belongs, a missing line number, ...) is left to
    :func:`_read_journal` (``slow_journals``), which reads it line by line and words its problems: so
    the two paths cannot disagree about what is quarantined, or why.
    """

    def __init__(self, journals: list[_Journal], rows: list[tuple], accounts: dict):
        import numpy as np

        self.rank_of = {journal.journal_id: rank for rank, journal in enumerate(journals)}
        n = len(rows)
        columns = list(zip(*rows)) if rows else [()] * len(LINE_COLUMNS)
        journal_ids, line_nos, account_strings, debits, credits, descriptions, suppliers = columns
        by_id = sorted(self.rank_of)
        rank_by_id = np.array([self.rank_of[journal_id] for journal_id in by_id], dtype=np.int64)
        line_journal = rank_by_id[np.searchsorted(np.array(by_id, dtype=np.int64), _integers(journal_ids))]
        suspect = np.zeros(n, dtype=bool)

        # line numbers: integers, unique within the journal
        line_no, line_no_ok = _line_numbers(line_nos, n)
        suspect |= ~line_no_ok
        by_line = np.lexsort((line_no, line_journal))
        repeated = (line_journal[by_line][1:] == line_journal[by_line][:-1]) & (
            line_no[by_line][1:] == line_no[by_line][:-1])
        suspect[by_line[1:][repeated]] = True

        # amounts: exactly one side, each an exact non-negative amount in range
        debit, debit_set, debit_ok = _pence_column(debits, n)
        credit, credit_set, credit_ok = _pence_column(credits, n)
        suspect |= ~debit_ok | ~credit_ok | (debit_set == credit_set)

        # account strings, parsed once per distinct value
        account_text, account_bad = _text_column(account_strings, n, nullable=False)
        suspect |= account_bad
        codes = pc.dictionary_encode(account_text)
        parsed = [accounts.get(text) for text in codes.dictionary.to_pylist()]
        for index, text in enumerate(codes.dictionary.to_pylist()):
            if parsed[index] is None:
                try:
                    parsed[index] = accounts[text] = parse_account_string(text)
                except ValueError as exc:
                    parsed[index] = accounts[text] = str(exc)
        valid_account = np.array([type(p) is not str for p in parsed], dtype=bool)
        indices = np.asarray(codes.indices.fill_null(0), dtype=np.int64) if n else np.zeros(0, np.int64)
        if len(parsed):
            suspect |= ~valid_account[indices]
        cost_centres = pa.array([p.cost_centre if type(p) is not str else None for p in parsed], pa.string())
        natural_accounts = pa.array([p.natural_account if type(p) is not str else None for p in parsed], pa.string())

        # texts: text or nothing, and no NUL (the warehouse cannot store it)
        description, description_bad = _text_column(descriptions, n)
        supplier, supplier_bad = _text_column(suppliers, n)
        suspect |= description_bad | supplier_bad
        for texts in (description, supplier):
            suspect |= np.asarray(pc.fill_null(pc.match_substring(texts, "\x00"), False), dtype=bool)

        # whole journals: a problem in the header, no lines, any suspect line, or unbalanced
        slow = np.array([bool(journal.problems) or not all(
            type(journal.row[name]) is str or journal.row[name] is None for name in ("source", "description"))
            for journal in journals], dtype=bool)
        counts = np.bincount(line_journal, minlength=len(journals))
        slow |= counts == 0
        np.logical_or.at(slow, line_journal, suspect)
        if n and max(int(debit.max()), int(credit.max())) * n >= 2**62:
            slow[:] = True  # sums that could overflow int64 are left to Python's integers
        debit_sums = np.zeros(len(journals), np.int64)
        credit_sums = np.zeros(len(journals), np.int64)
        np.add.at(debit_sums, line_journal, debit)
        np.add.at(credit_sums, line_journal, credit)
        slow |= debit_sums != credit_sums

        self.slow_journals = [journal for journal, is_slow in zip(journals, slow) if is_slow]
        self.slow_lines_of: dict[int, list[tuple]] = {journal.journal_id: [] for journal in self.slow_journals}
        keep = ~slow[line_journal]
        for index in np.flatnonzero(~keep):
            self.slow_lines_of[journals[line_journal[index]].journal_id].append(rows[index])
        self.rows_read = int(keep.sum())
        self.debit = int(debit_sums[~slow].sum())
        self.credit = int(credit_sums[~slow].sum())

        # the fast journals' lines, in load order: journal rank, then line number
        fast_rows = np.flatnonzero(keep)
        fast_rows = fast_rows[np.lexsort((line_no[fast_rows], line_journal[fast_rows]))]
        take = pa.array(fast_rows, pa.int64())
        rank = line_journal[fast_rows]
        self.rank = pa.array(rank, pa.int64())
        self.sequence = pa.array(line_no[fast_rows], pa.int64())
        headers = [journal.raw_header for journal in journals]
        header = [pa.array(column, pa.string()).take(self.rank) for column in zip(*headers)] if headers else []
        ids = pa.array([journal.journal_id for journal in journals], pa.int64()).take(self.rank)
        line_numbers = pa.array(line_no[fast_rows], pa.int64())
        line_text = pc.cast(line_numbers, pa.string())
        account_index = pa.array(indices[fast_rows], pa.int64())
        amount = pa.array(debit[fast_rows] - credit[fast_rows], pa.int64())
        debit_text = _pence_text(debit[fast_rows], debit_set[fast_rows])
        credit_text = _pence_text(credit[fast_rows], credit_set[fast_rows])
        line_description, supplier_name = description.take(take), supplier.take(take)

        def per_journal(values, kind):
            return pa.array(values, kind).take(self.rank)

        self.lines = pa.Table.from_arrays([
            pa.array([FORCE_CODE] * len(fast_rows), pa.string()),
            pc.binary_join_element_wise(header[0], line_text, "/") if headers else pa.array([], pa.string()),
            header[0] if headers else pa.array([], pa.string()),
            line_numbers,
            per_journal([j.fiscal_year for j in journals], pa.int16()),
            per_journal([j.period for j in journals], pa.int16()),
            per_journal([j.accounting_date for j in journals], pa.date32()),
            cost_centres.take(account_index),
            natural_accounts.take(account_index),
            amount,
            per_journal([_str_or_none(j.row["source"]) for j in journals], pa.string()),
            line_description,
            supplier_name,
            per_journal([_str_or_none(j.row["description"]) for j in journals], pa.string()),
        ], schema=CONFORMED_SCHEMA)
        raw_columns = ([header[0], line_text] + header[1:7] if headers else [pa.array([], pa.string())] * 8) + [
            account_text.take(take), debit_text, credit_text, line_description, supplier_name]
        self.raw = pa.Table.from_arrays(raw_columns + [line_numbers], schema=RAW_SCHEMA)
        description_of_journal = header[7] if headers else pa.array([], pa.string())
        self.canonical = pa.table({
            "journal_id": ids,
            "sequence": self.sequence,
            "text": _canonical_column(raw_columns + [description_of_journal]),
        })


def _str_or_none(value: Any) -> str | None:
    return value if type(value) is str else None


_NONE = type(None)


def _integers(values: tuple):
    """Journal ids as int64 (a driver may hand back another integral type)."""
    import numpy as np

    try:
        return np.asarray(pa.array(values, pa.int64()), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return np.array([int(v) for v in values], dtype=np.int64)


def _line_numbers(values: tuple, n: int):
    """(line numbers, ok): ``ok`` where the line number is an integer (what _read_journal requires)."""
    import numpy as np

    if set(map(type, values)) <= {int}:  # one pass in C; the usual case
        try:
            return np.asarray(pa.array(values, pa.int64()), dtype=np.int64), np.ones(n, dtype=bool)
        except (pa.ArrowInvalid, OverflowError):
            pass  # beyond int64: value by value
    ok = np.fromiter((type(v) is int and -2**62 < v < 2**62 for v in values), bool, n)
    return np.fromiter((v if good else 0 for v, good in zip(values, ok)), np.int64, n), ok


def _pence_column(values: tuple, n: int):
    """(pence, set, ok) for one amount column: ``ok`` is false where a value is set but is not an
    exact amount as :func:`_pence` reads it (or is of a type left to be read value by value)."""
    import numpy as np

    types = set(map(type, values))
    if types <= {float, int, _NONE}:
        try:
            x = pa.array(values, pa.float64())  # an int beyond 2**53 is refused by the range below
        except (pa.ArrowInvalid, OverflowError):
            x = None
        if x is not None:
            # SQLite's REAL: exact when it is the double nearest a two-decimal amount, the condition
            # _pence checks on its repr (k/100 is correctly rounded, so it is that double exactly)
            is_set = np.asarray(x.is_valid(), dtype=bool)
            x = np.asarray(x.fill_null(0.0), dtype=np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                k = np.rint(x * 100.0)
                exact = (k / 100.0 == x) & (k >= 0) & (k <= MAX_AMOUNT_PENCE)
            return np.where(exact, k, 0).astype(np.int64), is_set, exact | ~is_set
    if types <= {Decimal, _NONE}:  # MariaDB, PostgreSQL: exact decimals
        try:
            decimals = pa.array(values)
            is_set = np.asarray(decimals.is_valid(), dtype=bool)
            pence = np.asarray(pc.cast(pc.multiply(decimals, pa.scalar(Decimal(100))), pa.int64()).fill_null(0),
                               dtype=np.int64)  # refuses a fraction of a penny
            return pence, is_set, ~is_set | ((pence >= 0) & (pence <= MAX_AMOUNT_PENCE))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            pass
    pence = np.zeros(n, np.int64)
    is_set = np.fromiter((v is not None for v in values), bool, n)
    ok = np.ones(n, dtype=bool)
    for i in np.flatnonzero(is_set):
        try:
            pence[i] = _pence(values[i])
        except ValueError:
            ok[i] = False
    return pence, is_set, ok


def _text_column(values: tuple, n: int, *, nullable: bool = True):
    """(string array, bad): ``bad`` where a value is not text (or, unless ``nullable``, is missing)."""
    import numpy as np

    if set(map(type, values)) <= {str, _NONE}:
        texts, bad = pa.array(values, pa.string()), np.zeros(n, dtype=bool)
    else:
        bad = np.fromiter((v is not None and type(v) is not str for v in values), bool, n)
        texts = pa.array([v if type(v) is str else None for v in values], pa.string())
    if not nullable:
        bad |= np.asarray(texts.is_null(), dtype=bool)
    return texts, bad


def _pence_text(pence, is_set) -> pa.Array:
    """Non-negative pence as exact decimal text (``format_pence``), null where the amount is not set."""
    whole = pc.cast(pa.array(pence // 100, pa.int64()), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(pence % 100, pa.int64()), pa.string()), 2, "0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    return pc.if_else(pa.array(is_set, pa.bool_()), text, pa.scalar(None, pa.string()))


def _canonical_column(columns: list[pa.Array]) -> pa.Array:
    """Each row's canonical text (see :func:`_canonical`), built on whole columns."""
    parts = []
    for column in columns:
        prefixed = pc.binary_join_element_wise(pc.cast(pc.utf8_length(column), pa.string()), column, ":")
        parts.append(pc.fill_null(prefixed, "-"))
    return pc.binary_join_element_wise(*parts, ",")


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """Row tuples (in the schema's column order) as one pyarrow table, built column-wise."""
    columns = list(zip(*rows)) if rows else [()] * len(schema)
    return pa.Table.from_arrays([pa.array(column, type=field.type) for column, field in zip(columns, schema)],
                                schema=schema)


class _Line(NamedTuple):
    """One journal line as read: its number, its raw text (RAW_COLUMNS order) and what it means."""

    line_no: int | None
    raw: tuple[str | None, ...]
    account: AccountString | None
    amount_pence: int


def _read_journal(journal: _Journal, rows: list[sa.Row], accounts: dict) -> tuple[list[_Line], list[str], int, int]:
    """(the journal's lines in line order, every problem found, debit pence, credit pence).

    The journal may load only when the problem list is empty; otherwise it is quarantined whole.
    """
    problems = list(journal.problems)
    header = journal.raw_header
    debit = credit = 0
    amounts_valid = True
    seen: set[int] = set()
    lines: list[_Line] = []
    for _, line_no, account_string, dr_value, cr_value, line_description, supplier_name in _in_line_order(rows):
        label = f"line {line_no}"
        if type(line_no) is not int:
            problems.append(f"a line has line_no {line_no!r}: expected an integer")
            line_no = None
        elif line_no in seen:
            problems.append(f"line_no {line_no} is used twice: expected (journal_id, line_no) unique")
        else:
            seen.add(line_no)

        dr_pence = cr_pence = None
        dr_text = cr_text = None
        if dr_value is not None:
            try:
                dr_pence = _pence(dr_value)
                debit += dr_pence
                dr_text = format_pence(dr_pence)
            except ValueError as exc:
                problems.append(f"{label} entered_dr: {exc}")
                amounts_valid = False
                dr_text = _text(dr_value)
        if cr_value is not None:
            try:
                cr_pence = _pence(cr_value)
                credit += cr_pence
                cr_text = format_pence(cr_pence)
            except ValueError as exc:
                problems.append(f"{label} entered_cr: {exc}")
                amounts_valid = False
                cr_text = _text(cr_value)

        if (dr_value is None) == (cr_value is None):
            found = "neither" if dr_value is None else f"both ({dr_text} and {cr_text})"
            problems.append(f"{label}: expected exactly one of entered_dr and entered_cr, found {found}")
            amounts_valid = False

        for column, value in (("line_description", line_description), ("supplier_name", supplier_name)):
            problem = _not_utf8(column, value)
            if problem:
                problems.append(f"{label} {problem}")
        if (type(line_description) is str and "\x00" in line_description) or (
                type(supplier_name) is str and "\x00" in supplier_name):
            column = "line_description" if "\x00" in (line_description or "") else "supplier_name"
            problems.append(f"{label} {column}: {_NUL_PROBLEM}")

        account = accounts.get(account_string)
        if account is None:
            try:
                account = parse_account_string(account_string)
            except ValueError as exc:
                account = str(exc)
            if isinstance(account_string, str):
                accounts[account_string] = account
        if type(account) is str:
            problems.append(f"{label}: {account}")
            account = None

        raw = (header[0], str(line_no) if type(line_no) is int else _text(line_no), header[1], header[2],
               header[3], header[4], header[5], header[6],
               account_string if type(account_string) is str else _text(account_string), dr_text, cr_text,
               line_description if type(line_description) is str else _text(line_description),
               supplier_name if type(supplier_name) is str else _text(supplier_name))
        lines.append(_Line(line_no, raw, account, (dr_pence or 0) - (cr_pence or 0)))

    if not lines:
        problems.append("the journal has no lines: expected at least two balancing lines")
    elif amounts_valid and debit != credit:
        problems.append(f"debits {format_pence(debit)} and credits {format_pence(credit)} differ by "
                        f"{format_pence(abs(debit - credit))}: expected every posted journal to balance")
    return lines, problems, debit, credit


def _line_order(row: sa.Row) -> tuple:
    line_no = row[1]
    return (line_no is None, line_no if type(line_no) is int else 0)


def _in_line_order(rows: list[sa.Row]) -> list[sa.Row]:
    """By line_no; where line numbers repeat or are missing (a defect), ties are broken by content,
    so that the quarantine and the digest do not depend on the order the database returned rows."""
    if len({row[1] for row in rows}) == len(rows) and all(type(row[1]) is int for row in rows):
        return sorted(rows, key=_line_order)
    return sorted(rows, key=lambda row: (_line_order(row), tuple(_text(v) or "" for v in row)))


def _pence(value: Any) -> int:
    """amount_to_pence, with a fast path for the float SQLite gives back for a two-decimal amount."""
    if type(value) is float:
        text = repr(value)
        whole, dot, fraction = text.partition(".")
        # plain "1234.5" form only: a sign, an exponent, inf or nan take the careful path
        if dot and len(fraction) <= 2 and whole.isdigit() and fraction.isdigit() and len(whole) <= 13:
            return int(whole) * 100 + int(fraction.ljust(2, "0"))
    elif type(value) is int and 0 <= value <= MAX_AMOUNT_PENCE // 100:
        return value * 100
    return amount_to_pence(value)


def _canonical(journal: _Journal, raw: tuple | None) -> str:
    """One line's canonical text for the batch digest: every column as text (the journal's
    description too), each written ``<length>:<text>`` (``-`` for none) and comma-separated, which
    tells None from "" and needs no escaping; :func:`_canonical_column` writes the same on columns."""
    fields = (*raw, journal.raw_header[7]) if raw is not None else journal.raw_header
    return ",".join("-" if value is None else f"{len(value)}:{value}" for value in fields)


def _quarantined(journal: _Journal, lines: list[_Line], reason: str) -> list[QuarantinedLine]:
    names = (*RAW_COLUMNS, "description")
    if not lines:
        return [QuarantinedLine(
            source_line_ref=f"{journal.journal_id}/-", document_ref=str(journal.journal_id),
            source_line_number=0, reason=reason,
            original=json.dumps(dict(zip(JOURNAL_COLUMNS, journal.raw_header)), ensure_ascii=False),
        )]
    return [
        QuarantinedLine(
            source_line_ref=f"{journal.journal_id}/{'-' if line.line_no is None else line.line_no}",
            document_ref=str(journal.journal_id),
            source_line_number=line.line_no or 0,
            reason=reason,
            original=json.dumps(dict(zip(names, (*line.raw, journal.raw_header[7]))), ensure_ascii=False),
        )
        for line in lines
    ]


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
