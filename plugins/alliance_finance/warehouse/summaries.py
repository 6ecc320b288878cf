"""The ledger's summaries: kept equal to the lines in the same transaction as every change to them.

The finance views (``sql/views/``) read summary tables, never ``fact_ledger_line``, so their time
depends on the size of the chart and the number of years, not on the number of lines. Each summary
is a GROUP BY over the lines, written once as plain SQL in ``sql/summaries/<table>.sql`` (the tables
are created by revision 0005). Three operations keep them equal to the lines:

- :func:`add_batch`: a batch's lines just inserted are added (sign +1); a superseded delivery's
  lines are taken away (sign -1) just before they are deleted, and rows left with no line removed.
  The work is proportional to the batch (its lines are found through ``ix_fact_batch``).
  On PostgreSQL a batch's new lines are added by the statement that inserts them
  (:func:`with_batch_lines`: the same upserts, fed by the INSERT's ``RETURNING``).
- :func:`rebuild`: everything recomputed from the lines, when the reference data changed (lines
  restated, or a dimension's function or scope changed) and when revision 0005 creates the tables.
- :func:`differences`: what the tests (and ``tests/checksums.py``'s soundness check) compare: each
  summary against a fresh aggregation of the lines.

All three run inside the caller's transaction, so a batch, its summaries and anything it supersedes
commit together or not at all (a killed load leaves both as they were). Upserts take row locks in
key order (the SELECTs are ordered), so two loads writing overlapping rows cannot deadlock.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from alliance_finance.warehouse import sqlfiles

#: each summary table: its key columns and its measures (in the column order of its SELECT)
SUMMARIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "force_year_summary": (("force_code", "fiscal_year"), ("amount_pence", "line_count")),
    "ledger_summary": (("force_code", "fiscal_year", "period", "objective_code", "subjective_code"),
                       ("amount_pence", "gross_pence", "line_count")),
    "nre_summary": (("force_code", "fiscal_year", "period", "function_code", "alliance_scope"),
                    ("amount_pence", "line_count")),
    "cost_centre_summary": (("force_code", "fiscal_year", "period", "cost_centre"), ("amount_pence", "line_count")),
    "partner_flow_summary": (("force_code", "fiscal_year", "period", "cost_centre", "local_account", "subjective_code"),
                             ("amount_pence", "line_count")),
    "unmapped_summary": (("force_code", "code_type", "local_code", "fiscal_year", "posting_date"),
                         ("amount_pence", "line_count")),
}

_ALL_LINES = "1 = 1"
#: how a summary's SELECT reads the lines themselves (rebuild, differences) ...
_FROM_LINES = {"source": "fact_ledger_line", "gross": "abs(f.amount_pence)", "count": "COUNT(*)"}
#: ... and a batch's lines grouped once into batch_grain (add_batch)
_FROM_GRAIN = {"source": "batch_grain", "gross": "f.gross_pence", "count": "SUM(f.line_count)"}

#: the finest grain every summary is a grouping of: a batch's lines are read once, grouped to it, and
#: each summary is added from those few rows (reading the batch's lines five times cost 11 ms a batch)
GRAIN = ("force_code", "fiscal_year", "period", "cost_centre", "local_account", "objective_code", "subjective_code")
_GRAIN_TABLE = """CREATE TEMPORARY TABLE IF NOT EXISTS batch_grain (
    force_code text NOT NULL, fiscal_year smallint NOT NULL, period smallint NOT NULL, cost_centre text,
    local_account text NOT NULL, objective_code text NOT NULL, subjective_code text NOT NULL, posting_date date,
    amount_pence bigint NOT NULL, gross_pence bigint NOT NULL, line_count bigint NOT NULL
){on_commit}"""
#: a line in suspense keeps its posting date in the grain (unmapped_summary needs it: a code's first and
#: last posting date); every other line's is NULL, so the grain has no more rows for them
_SUSPENSE_DATE = "CASE WHEN subjective_code = 'UNMAPPED' OR objective_code = 'UNMAPPED' THEN posting_date END"
#: the columns of a batch's lines the grain is grouped from (load.py's INSERT returns them)
LINE_COLUMNS = (*GRAIN, "posting_date", "amount_pence")
_GROUP_BATCH = (f"INSERT INTO batch_grain ({', '.join(GRAIN)}, posting_date, amount_pence, gross_pence, line_count) "
                f"SELECT {', '.join(GRAIN)}, {_SUSPENSE_DATE}, SUM(amount_pence), SUM(abs(amount_pence)), COUNT(*) "
                f"FROM fact_ledger_line WHERE batch_id = :batch_id GROUP BY {', '.join(GRAIN)}, {_SUSPENSE_DATE}")


def _select(table: str, dialect: str, sign: int, lines: str, source: dict | None = None) -> str:
    return sqlfiles.render(f"summaries/{table}.sql", dialect, sign=sign, lines=lines,
                           **(source or _FROM_LINES)).strip().rstrip(";")


def summary_select(table: str, dialect: str) -> str:
    """The column list and SELECT that compute ``table`` from every line (for rebuilding it)."""
    keys, measures = SUMMARIES[table]
    return f"({', '.join(keys + measures)})\n{_select(table, dialect, 1, _ALL_LINES)}"


@functools.lru_cache(maxsize=32)
def _upsert(table: str, dialect: str, sign: int) -> str:
    keys, measures = SUMMARIES[table]
    columns = ", ".join(keys + measures)
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    # "WHERE true": SQLite needs it to read ON CONFLICT as the upsert's, not a join's
    return (f"INSERT INTO {table} ({columns})\nSELECT {columns} FROM (\n"
            f"{_select(table, dialect, sign, _ALL_LINES, _FROM_GRAIN)}\n"
            f") AS delta WHERE true\nON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


def with_batch_lines(lines: str, dialect: str) -> list[str]:
    """WITH items that add the lines of relation ``lines`` (a batch's, as they go in) to every summary.

    For PostgreSQL's one loading statement (:mod:`.load`): ``lines`` is the fact table INSERT's
    ``RETURNING`` (:data:`LINE_COLUMNS`); the items group it once into
    ``batch_grain`` (the name :func:`add_batch`'s temporary table has, so the same upserts read it) and
    upsert each summary from that, all in the statement that inserts the lines: no second read of the
    batch's lines, no temporary table, one round trip instead of nine. Each summary table is written
    by one item, its rows in key order, and every load's statement writes the tables in the same
    order, so two loads cannot deadlock.
    """
    grain = ", ".join(GRAIN)
    items = [f"batch_grain AS (\nSELECT {grain}, {_SUSPENSE_DATE} AS posting_date, SUM(amount_pence) AS amount_pence, "
             f"SUM(abs(amount_pence)) AS gross_pence, COUNT(*) AS line_count\n"
             f"FROM {lines} GROUP BY {grain}, {_SUSPENSE_DATE})"]
    items += [f"{table}_added AS (\n{_upsert(table, dialect, 1)}\n)" for table in SUMMARIES]
    return items


def add_batch(conn: sa.Connection, batch_id: int, sign: int = 1) -> None:
    """Add a batch's lines to every summary (``sign=-1``: take them away, before deleting them)."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, not {sign!r}")
    dialect = conn.dialect.name
    # private to the connection; on PostgreSQL emptied at commit, on SQLite emptied here
    conn.exec_driver_sql(_GRAIN_TABLE.format(on_commit=" ON COMMIT DELETE ROWS" if dialect == "postgresql" else ""))
    conn.exec_driver_sql("DELETE FROM batch_grain")
    conn.execute(sa.text(_GROUP_BATCH), {"batch_id": batch_id})
    for table in SUMMARIES:
        conn.exec_driver_sql(_upsert(table, dialect, sign))
        if sign < 0:
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE line_count = 0")
    conn.exec_driver_sql("DELETE FROM batch_grain")


def rebuild(conn: sa.Connection) -> None:
    """Recompute every summary from the lines (reference data changed; the revision creating them)."""
    dialect = conn.dialect.name
    for table in SUMMARIES:
        conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql(f"INSERT INTO {table} {summary_select(table, dialect)}")
    analyze(conn)


def analyze(conn: sa.Connection, *, stale_only: bool = False) -> None:
    """Refresh PostgreSQL's statistics of the summaries, when this role owns them.

    The views' plans depend on them: on summaries just filled by a backfill but not yet analysed, the
    planner guesses their sizes and may pick a plan a hundred times slower. Autovacuum analyses them
    soon after (the loader, not their owner, may not); a run by the owner (the administrator's first
    run, a migration, the CLI in a single-user setup) does it at once. SQLite plans without
    statistics: nothing to do.

    ``stale_only`` (the loader, at the end of a pass): only the summaries never analysed, or changed by
    more rows since their last analysis than autovacuum's own default rule (50 rows + 10 % of the
    table), so that a night's few rows into a long history do not pay for sampling every summary
    again (five years at scale 10: about 0.1 s a pass); a backfill still refreshes them at once.
    """
    if conn.dialect.name != "postgresql":
        return
    tables = ", ".join(f"'{t}'" for t in SUMMARIES)
    owned = conn.exec_driver_sql(
        "SELECT bool_and(pg_has_role(current_user, tableowner, 'USAGE')) FROM pg_tables "
        f"WHERE schemaname = current_schema() AND tablename IN ({tables})").scalar()
    if not owned:
        return
    if not stale_only:
        conn.exec_driver_sql(f"ANALYZE {', '.join(SUMMARIES)}")
        return
    stale = [row[0] for row in conn.exec_driver_sql(
        "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid "
        f"WHERE n.nspname = current_schema() AND c.relname IN ({tables}) "
        "AND (c.reltuples < 0 OR COALESCE(s.n_mod_since_analyze, 0) > 50 + 0.1 * c.reltuples) "
        "ORDER BY c.relname")]
    if stale:
        conn.exec_driver_sql(f"ANALYZE {', '.join(stale)}")


def differences(conn: sa.Connection, limit: int = 5) -> list[str]:
    """Where a summary differs from the lines' own aggregation: one message per table, empty if none."""
    dialect = conn.dialect.name
    problems = []
    for table, (keys, measures) in SUMMARIES.items():
        columns = ", ".join(keys + measures)
        fresh = _select(table, dialect, 1, _ALL_LINES)
        rows = conn.exec_driver_sql(
            f"SELECT 'missing or different in {table}', * FROM (SELECT {columns} FROM ({fresh}) AS a "
            f"EXCEPT SELECT {columns} FROM {table}) AS d "
            f"UNION ALL SELECT 'extra in {table}', * FROM (SELECT {columns} FROM {table} "
            f"EXCEPT SELECT {columns} FROM ({fresh}) AS b) AS e").fetchmany(limit)
        if rows:
            problems.append(f"{table} differs from fact_ledger_line: " + "; ".join(str(tuple(r)) for r in rows))
    return problems
