"""The warehouse as it stood at any moment: the same views, over the tables as they were then.

:func:`materialize` makes, inside one connection's transaction, temporary tables and views named like
the warehouse's own, which shadow them for that connection only: PostgreSQL searches ``pg_temp``
before any schema, SQLite searches ``temp`` before ``main``. Every query the report, the workbook or
an analyst runs on that connection by the relations' plain names then reads the moment:

* ``etl_batch``: the batches finished by then, each with the status it had then (a delivery
  superseded later was still ``loaded``);
* ``fact_ledger_line``: the lines of those loaded batches, whether still current or since superseded
  (``fact_ledger_line_superseded``), each with the codes it carried then (``fact_line_code_history``);
* the reference data, the forces and finance's own data: the version current then (``data_version``);
* ``period_close_event``, ``post_close_adjustment``, ``quarantine_line``, ``mapping_decision``: what had
  been recorded by then;
* the summaries and ``budget_summary``: recomputed from those by the same SQL the loader uses;
* every view of ``sql/views/``: created again, unchanged, over all of the above.

Nothing is written to the warehouse; the transaction is rolled back when the caller is done.
docs/finance.md ("As of a moment") says how an analyst does the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Iterator

import sqlalchemy as sa

from alliance_finance.marts import budgets
from alliance_finance.warehouse import history, migrate, sqlfiles, summaries
from alliance_finance.warehouse.engine import PG_SCHEMA

#: append-only tables whose rows belong to a batch: visible when their batch is
_BATCH_ROWS = ("quarantine_line", "source_document_loaded", "post_close_adjustment")


def _base(conn: sa.Connection, table: str) -> str:
    return f"{PG_SCHEMA}.{table}" if conn.dialect.name == "postgresql" else f"main.{table}"


def moment_literal(conn: sa.Connection, moment: dt.datetime) -> str:
    """``moment`` as a SQL literal comparable with the warehouse's timestamps (UTC, naive)."""
    text = moment.replace(tzinfo=None).isoformat(sep=" ")
    if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?", text):
        raise ValueError(f"not a moment: {moment!r}")
    return f"TIMESTAMP '{text}'" if conn.dialect.name == "postgresql" else f"'{text}'"


def _columns(conn: sa.Connection, relation: str) -> list[str]:
    return list(conn.exec_driver_sql(f"SELECT * FROM {relation} WHERE 1 = 0").keys())


def _empty_copy(conn: sa.Connection, table: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} AS SELECT * FROM {_base(conn, table)} WITH NO DATA")
    else:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} AS SELECT * FROM {_base(conn, table)} WHERE 0")


def _versioned_tables(conn: sa.Connection, moment: dt.datetime) -> dict[str, int]:
    versions = {}
    for dataset, tables in history.DATASETS.items():
        version = history.version_at(conn, dataset, moment)
        versions[dataset] = version
        for table in tables:
            _empty_copy(conn, table)
            columns = _columns(conn, table)
            rows = [{c: row.get(c) for c in columns} for row in history.version_rows(conn, version, table)]
            if rows:
                conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) "
                                     f"VALUES ({', '.join(':' + c for c in columns)})"), rows)
    return versions


def _batches_and_lines(conn: sa.Connection, t: str) -> None:
    batch = _base(conn, "etl_batch")
    columns = [c for c in _columns(conn, batch)]
    chosen = []
    for c in columns:
        if c == "status":
            # superseded later: still loaded then
            chosen.append(f"CASE WHEN b.status = 'superseded' AND NOT (s.finished_at <= {t}) THEN 'loaded' "
                          "ELSE b.status END AS status")
        elif c == "superseded_by":
            chosen.append(f"CASE WHEN s.finished_at <= {t} THEN b.superseded_by END AS superseded_by")
        else:
            chosen.append(f"b.{c}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY VIEW etl_batch AS SELECT {', '.join(chosen)} FROM {batch} AS b "
        f"LEFT JOIN {batch} AS s ON s.batch_id = b.superseded_by WHERE b.finished_at <= {t}")
    stored = history.LINE_COLUMNS
    money = sqlfiles.money(conn.dialect.name)("l.amount_pence")
    fact_columns = _columns(conn, _base(conn, "fact_ledger_line"))
    picked = {c: f"l.{c}" for c in fact_columns}
    picked["objective_code"] = "COALESCE(h.objective_code, l.objective_code)"
    picked["subjective_code"] = "COALESCE(h.subjective_code, l.subjective_code)"
    picked["amount"] = money
    conn.exec_driver_sql(f"""
CREATE TEMPORARY VIEW fact_ledger_line AS
SELECT {', '.join(f'{expr} AS {c}' for c, expr in picked.items())}
FROM (SELECT {stored} FROM {_base(conn, 'fact_ledger_line')}
      UNION ALL
      SELECT {stored} FROM {_base(conn, 'fact_ledger_line_superseded')}) AS l
JOIN etl_batch AS b ON b.batch_id = l.batch_id AND b.status = 'loaded'
LEFT JOIN (
    SELECT force_code, source_line_ref, batch_id, objective_code, subjective_code
    FROM (SELECT c.*, ROW_NUMBER() OVER (PARTITION BY force_code, source_line_ref, batch_id ORDER BY valid_to) AS n
          FROM {_base(conn, 'fact_line_code_history')} AS c WHERE c.valid_to > {t}) AS earliest
    WHERE n = 1
) AS h ON h.force_code = l.force_code AND h.source_line_ref = l.source_line_ref AND h.batch_id = l.batch_id""")
    for table in _BATCH_ROWS:
        conn.exec_driver_sql(f"CREATE TEMPORARY VIEW {table} AS SELECT r.* FROM {_base(conn, table)} AS r "
                             "WHERE r.batch_id IN (SELECT batch_id FROM etl_batch)")
    conn.exec_driver_sql(f"CREATE TEMPORARY VIEW period_close_event AS SELECT * FROM "
                         f"{_base(conn, 'period_close_event')} WHERE recorded_at <= {t}")
    # finance's mapping decisions recorded by then (each restated in the transaction that recorded it)
    conn.exec_driver_sql(f"CREATE TEMPORARY VIEW mapping_decision AS SELECT * FROM "
                         f"{_base(conn, 'mapping_decision')} WHERE decided_at <= {t}")


def _derived(conn: sa.Connection) -> None:
    dialect = conn.dialect.name
    for table in summaries.SUMMARIES:
        _empty_copy(conn, table)
        conn.exec_driver_sql(f"INSERT INTO {table} {summaries.summary_select(table, dialect)}")
    _empty_copy(conn, "budget_summary")  # filled once the views are there (it reads v_budget_profile)


def _views(conn: sa.Connection) -> None:
    for path in migrate.view_files():
        sql = sqlfiles.render(path, conn.dialect.name)
        sql, count = re.subn(r"\bCREATE VIEW\b", "CREATE TEMPORARY VIEW", sql, count=1)
        if count != 1:
            raise RuntimeError(f"{path.name} does not create a view")
        sqlfiles.execute_statements(conn, sql)


def materialize(conn: sa.Connection, moment: dt.datetime) -> dict[str, int]:
    """Shadow the warehouse's relations with the moment's, on ``conn`` (in its open transaction, which
    the caller rolls back); returns the data version of each dataset used. Raises
    :class:`~alliance_finance.warehouse.history.HistoryError` for a moment before the history starts."""
    t = moment_literal(conn, moment)
    if conn.dialect.name == "postgresql":
        # psycopg prepares a statement run often on a connection, and a prepared statement keeps the
        # table it was planned on: a pooled connection's "SELECT ... FROM fact_ledger_line" would read
        # the warehouse's own table, not the moment's. Forget them, and prepare no more on it.
        conn.connection.driver_connection.prepare_threshold = None
        conn.exec_driver_sql("DEALLOCATE ALL")
    versions = _versioned_tables(conn, moment)
    _batches_and_lines(conn, t)
    _derived(conn)
    _views(conn)
    budgets.fill_budget_summary(conn)
    if conn.dialect.name == "postgresql":
        # statistics for every table made here (autovacuum never sees temporary tables): without them
        # PostgreSQL guesses each holds a page's worth of rows and plans the views on those guesses.
        # (The estimates passing jit_above_cost, two seconds of compiling for a 13 ms query, is
        # prevented for every connection by make_engine's jit=off, not here.)
        made = [table for tables in history.DATASETS.values() for table in tables]
        conn.exec_driver_sql("ANALYZE " + ", ".join([*made, "budget_summary", *summaries.SUMMARIES]))
    return versions


@contextlib.contextmanager
def connection_as_of(engine: sa.Engine, moment: dt.datetime | None) -> Iterator[sa.Connection]:
    """A connection in one consistent snapshot, showing the warehouse as of ``moment`` (None: now);
    nothing it does is kept."""
    with engine.connect() as raw:
        conn = raw
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=moment is None)
        try:
            with conn.begin() as transaction:
                if moment is not None:
                    materialize(conn, moment)
                yield conn
                transaction.rollback()
        finally:
            if moment is not None:
                raw.invalidate()  # temporary objects die with the connection, never back to the pool


def parse_moment(text: str) -> dt.datetime:
    """A moment from the command line, UTC: ``2016-10-31``, ``2016-10-31T18:00``, ``...+01:00``."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--as-of {text!r} is not a date or timestamp (e.g. 2016-10-31 or 2016-10-31T18:00:00Z)")
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    elif len(text.strip()) == 10:  # a day: as at its end
        value = value + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return value
