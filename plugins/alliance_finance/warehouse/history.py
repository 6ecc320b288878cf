"""History kept: every version of what the warehouse has held, each with the time it was current.

Three kinds of change would otherwise rewrite history in place (issue #16); each keeps what it replaces:

* a re-delivery supersedes a delivery's lines: :func:`retire_batch_lines` moves them to
  ``fact_ledger_line_superseded`` with the moment and the batch that superseded them;
* a restatement (the reference data changed, or finance recorded a mapping decision) gives lines new
  codes: ``sql/mapping/restate_fact_lines.sql`` keeps their old codes in ``fact_line_code_history``;
* the data the warehouse holds as a whole and replaces (reference data, forces, finance's own data):
  :func:`record` keeps every version of a dataset in ``data_version`` / ``data_version_row``.

Everything that is only ever appended (``etl_batch``, ``period_close_event``, ``post_close_adjustment``,
``quarantine_line``) carries its own time already. :mod:`.as_of` rebuilds any moment from these.

Times are the warehouse's UTC clock as the writer saw it (:func:`.meta.utcnow`), the same clock as
``etl_batch.finished_at``. A version's rows are JSON so that a table may gain columns later without
its history being migrated; :mod:`.as_of` puts them back into the table's shape of today.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import getpass
import hashlib
import json
from typing import Any, Iterable

import sqlalchemy as sa

from alliance_finance.warehouse.meta import utcnow

#: dataset -> the tables it replaces as a whole, each versioned together
DATASETS: dict[str, tuple[str, ...]] = {
    "reference": ("dim_objective", "dim_subjective", "map_cost_centre", "map_local_account"),
    "forces": ("dim_force", "map_partner_account"),
    "finance": ("savings_target", "sharing_key", "deflator", "programme_cost_centre", "budget", "budget_profile"),
}

#: the columns of the fact table a superseded line keeps (every stored column; amount is computed)
LINE_COLUMNS = ("force_code, fiscal_year, period, posting_date, source_line_ref, document_ref, source_line_number, "
                "cost_centre, local_account, objective_code, subjective_code, amount_pence, document_type, "
                "line_text, vendor, reference, batch_id")


class HistoryError(Exception):
    """A moment the warehouse cannot rebuild (before its history starts)."""


@dataclasses.dataclass(frozen=True)
class Version:
    version_id: int
    dataset: str
    digest: str
    valid_from: dt.datetime
    recorded_by: str
    reason: str


def who() -> str:
    """The name a change is recorded by when nobody gave one: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in a minimal container
        return "unknown"


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return value


def table_rows(conn: sa.Connection, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` as JSON-ready dicts, in a stable order (every column, ascending)."""
    result = conn.exec_driver_sql(f"SELECT * FROM {table}")
    columns = list(result.keys())
    rows = [{c: _json_value(v) for c, v in zip(columns, values)} for values in result]
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return rows


def _digest(content: dict[str, list[dict[str, Any]]]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def current_version(conn: sa.Connection, dataset: str) -> Version | None:
    row = conn.execute(sa.text(
        "SELECT version_id, dataset, digest, valid_from, recorded_by, reason FROM data_version "
        "WHERE dataset = :d AND valid_to IS NULL"), {"d": dataset}).first()
    return Version(*row) if row else None


def record(conn: sa.Connection, dataset: str, *, by: str | None = None, reason: str,
           now: dt.datetime | None = None) -> int | None:
    """Keep the dataset's tables as they are now as its new version, if they differ from the current
    one (in the caller's transaction, after it changed them); returns the new version's id, or None
    when nothing changed."""
    tables = DATASETS[dataset]
    content = {table: table_rows(conn, table) for table in tables}
    digest = _digest(content)
    current = current_version(conn, dataset)
    if current is not None and current.digest == digest:
        return None
    now = now or utcnow()
    if current is not None:
        conn.execute(sa.text("UPDATE data_version SET valid_to = :now WHERE version_id = :v"),
                     {"now": now, "v": current.version_id})
    version_id = conn.execute(sa.text(
        "INSERT INTO data_version (dataset, digest, valid_from, recorded_by, reason, row_count) "
        "VALUES (:d, :digest, :now, :by, :reason, :n) RETURNING version_id"),
        {"d": dataset, "digest": digest, "now": now, "by": by or who(), "reason": reason,
         "n": sum(len(rows) for rows in content.values())}).scalar_one()
    payload = [{"v": version_id, "t": table, "n": i, "r": json.dumps(row, sort_keys=True)}
               for table, rows in content.items() for i, row in enumerate(rows)]
    if payload:
        conn.execute(sa.text("INSERT INTO data_version_row (version_id, table_name, row_no, row_data) "
                             "VALUES (:v, :t, :n, :r)"), payload)
    return version_id


def ensure_versions(conn: sa.Connection) -> list[int]:
    """Record a first version of every dataset that has none yet (a new warehouse, or one upgraded to
    revision 0009: its history starts now)."""
    have = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT dataset FROM data_version")}
    made = []
    for dataset in DATASETS:
        if dataset not in have:
            v = record(conn, dataset, by="alliance-finance", reason="history starts")
            if v is not None:
                made.append(v)
    return made


def version_at(conn: sa.Connection, dataset: str, moment: dt.datetime) -> int:
    """The id of the dataset's version current at ``moment``; :class:`HistoryError` before its history."""
    row = conn.execute(sa.text(
        "SELECT version_id FROM data_version WHERE dataset = :d AND valid_from <= :t "
        "AND (valid_to IS NULL OR valid_to > :t) ORDER BY valid_from DESC LIMIT 1"),
        {"d": dataset, "t": moment}).scalar()
    if row is None:
        start = history_start(conn)
        raise HistoryError(
            f"the warehouse cannot show {dataset} data as of {moment:%Y-%m-%d %H:%M:%S}: its history starts "
            f"{'at ' + format(start, '%Y-%m-%d %H:%M:%S') if start else 'with its first change'} (UTC)")
    return int(row)


def history_start(conn: sa.Connection) -> dt.datetime | None:
    """The first moment every dataset has a version for."""
    value = conn.exec_driver_sql(
        "SELECT MAX(first_from) FROM (SELECT MIN(valid_from) AS first_from FROM data_version GROUP BY dataset) AS d"
    ).scalar()
    return as_datetime(value)


def version_rows(conn: sa.Connection, version_id: int, table: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in conn.execute(sa.text(
        "SELECT row_data FROM data_version_row WHERE version_id = :v AND table_name = :t ORDER BY row_no"),
        {"v": version_id, "t": table})]


def versions_since(conn: sa.Connection, moment: dt.datetime) -> list[dict[str, Any]]:
    """Every data version recorded after ``moment``, oldest first, with the one it replaced."""
    rows = conn.execute(sa.text(
        "SELECT v.version_id, v.dataset, v.valid_from, v.recorded_by, v.reason, v.row_count, "
        "(SELECT p.version_id FROM data_version AS p WHERE p.dataset = v.dataset AND p.valid_to = v.valid_from) "
        "AS previous_id FROM data_version AS v WHERE v.valid_from > :t ORDER BY v.valid_from, v.version_id"),
        {"t": moment}).mappings().all()
    return [dict(r) for r in rows]


def row_changes(conn: sa.Connection, before: int | None, after: int) -> dict[str, tuple[list[dict], list[dict]]]:
    """table -> (rows removed, rows added) between two versions of a dataset."""
    dataset = conn.execute(sa.text("SELECT dataset FROM data_version WHERE version_id = :v"), {"v": after}).scalar_one()
    out = {}
    for table in DATASETS[dataset]:
        old = {json.dumps(r, sort_keys=True): r for r in (version_rows(conn, before, table) if before else [])}
        new = {json.dumps(r, sort_keys=True): r for r in version_rows(conn, after, table)}
        removed = [old[k] for k in old.keys() - new.keys()]
        added = [new[k] for k in new.keys() - old.keys()]
        if removed or added:
            out[table] = (removed, added)
    return out


def retire_batch_lines(conn: sa.Connection, batch_id: int, superseded_by: int, now: dt.datetime) -> int:
    """Move a superseded batch's lines out of the fact table into ``fact_ledger_line_superseded``
    (an indexed copy then delete, proportional to the batch); returns how many."""
    conn.execute(sa.text(
        f"INSERT INTO fact_ledger_line_superseded ({LINE_COLUMNS}, superseded_at, superseded_by) "
        f"SELECT {LINE_COLUMNS}, :now, :new FROM fact_ledger_line WHERE batch_id = :id"),
        {"now": now, "new": superseded_by, "id": batch_id})
    return conn.execute(sa.text("DELETE FROM fact_ledger_line WHERE batch_id = :id"), {"id": batch_id}).rowcount


def as_datetime(value: Any) -> dt.datetime | None:
    """A stored timestamp as a datetime, whatever the dialect returned (SQLite: ISO text)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def latest_change(conn: sa.Connection) -> dt.datetime | None:
    """The moment of the latest change the warehouse holds (a batch, a version, a restatement, a close)."""
    values: Iterable[Any] = conn.exec_driver_sql(
        "SELECT MAX(finished_at) FROM etl_batch UNION ALL SELECT MAX(valid_from) FROM data_version "
        "UNION ALL SELECT MAX(valid_to) FROM fact_line_code_history "
        "UNION ALL SELECT MAX(recorded_at) FROM period_close_event").scalars()
    moments = [as_datetime(v) for v in values if v is not None]
    return max(moments) if moments else None
