"""The ERP database: its engine (one consistent snapshot per extract), its shape, and the reads by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from alliance_finance.core.errors import SourceSchemaError
from alliance_finance.core.urls import normalise_url
from alliance_finance.sources.erp_sql.layout import _NOT_UTF8_PROBLEM, ID_CHUNK, JOURNAL_COLUMNS, LINE_COLUMNS, REQUIRED_COLUMNS

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


def check_source_schema(connection: sa.Connection, where: str = "the ERP database") -> None:
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



def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start:start + ID_CHUNK]
