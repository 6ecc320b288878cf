"""What the reliability tests compare and check in a warehouse, on either dialect.

- :func:`fact_checksum`: an order-independent checksum of ``fact_ledger_line``: the line count, the
  net and debit pence, and a multiset hash over (force_code, source_line_ref, amount_pence,
  objective_code, subjective_code, the delivery's source_ref). Batch ids are left out: they differ
  between two runs that load the same lines.
- :func:`batch_ledger`: ``etl_batch`` without its ids and clocks, sorted, for comparing two runs.
- :func:`row_accounting_problems`: every invariant that must hold after any run, finished, failed
  or killed: every batch fully in or fully out, and every line read accounted for.
"""

from __future__ import annotations

import dataclasses
import hashlib

import sqlalchemy as sa

from alliance_finance.warehouse import summaries

_HASH_BITS = 128


@dataclasses.dataclass(frozen=True)
class Checksum:
    lines: int
    net_pence: int
    debit_pence: int
    digest: str

    def __str__(self) -> str:
        return f"{self.lines} lines, net {self.net_pence} p, debit {self.debit_pence} p, hash {self.digest}"


def _rows(engine: sa.Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params)]


def fact_checksum(engine: sa.Engine, *, source_ref_forces: tuple[str, ...] = ("ASC", "WP")) -> Checksum:
    """The checksum of the fact table; the delivery's source_ref counts only for ``source_ref_forces``.

    The hash is a sum of per-line SHA-256 values modulo 2**128, so it does not depend on the order
    rows come back in, and a line loaded twice changes it (a XOR would cancel out).
    WP batches are extracts whose source_ref depends on how the journals were grouped into runs:
    leave WP out of ``source_ref_forces`` to compare night-by-night loading with one pass.
    """
    rows = _rows(engine, """
        SELECT f.force_code, f.source_line_ref, f.amount_pence, f.objective_code, f.subjective_code,
               b.source_ref
        FROM fact_ledger_line AS f LEFT JOIN etl_batch AS b ON b.batch_id = f.batch_id""")
    total = 0
    net = debit = 0
    for force_code, ref, pence, objective, subjective, source_ref in rows:
        pence = int(pence)
        net += pence
        debit += max(pence, 0)
        key = "\x1f".join((force_code, ref, str(pence), objective, subjective,
                           source_ref if force_code in source_ref_forces else "-"))
        total += int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:_HASH_BITS // 8], "big")
    return Checksum(len(rows), net, debit, f"{total % 2**_HASH_BITS:032x}")


def batch_ledger(engine: sa.Engine) -> list[tuple]:
    """Every etl_batch row as (force, source_ref, status, rows read/loaded/quarantined, debit, credit,
    source_ref of the batch that superseded it), sorted: what two runs must agree on."""
    rows = _rows(engine, """
        SELECT b.force_code, b.source_ref, b.status, b.rows_read, b.rows_loaded, b.rows_quarantined,
               b.total_debit_pence, b.total_credit_pence, s.source_ref
        FROM etl_batch AS b LEFT JOIN etl_batch AS s ON s.batch_id = b.superseded_by""")
    return sorted(tuple(int(v) if isinstance(v, int) else v for v in row) for row in rows)


def row_accounting_problems(engine: sa.Engine) -> list[str]:
    """Every broken invariant, described; an empty list when the warehouse is sound.

    - a loaded batch reads rows_read = rows_loaded + rows_quarantined, and holds exactly rows_loaded
      fact lines and rows_quarantined quarantined lines;
    - every fact line belongs to an existing batch that is loaded (a rejected or superseded batch,
      or a batch row that never committed, owns no line);
    - a loaded batch with nothing quarantined has lines adding up to its own debit and credit totals;
    - a superseded batch names an existing later delivery of the same business date;
    - every summary the finance views read equals the lines' own aggregation;
    - at most one delivery per business date is loaded, and a file is processed once (rejections
      aside);
    - WP: every journal of a loaded line, and of a quarantined line, is recorded in
      source_document_loaded with that same batch; every recorded journal's batch is loaded;
    - no line is both loaded and quarantined;
    - a warehouse without ``etl_batch`` (a run killed while migrating) holds no table at all.
    """
    problems: list[str] = []
    tables = set(sa.inspect(engine).get_table_names())
    if "etl_batch" not in tables:
        # a run killed before its migration committed leaves nothing at all: the schema is one transaction
        return [f"a half-built schema: {sorted(tables)} without etl_batch"] if tables else []

    def check(description: str, sql: str) -> None:
        found = _rows(engine, sql)
        if found:
            shown = "; ".join(repr(row) for row in found[:5])
            problems.append(f"{description}: {len(found)} case(s), e.g. {shown}")

    check("loaded batch whose rows_read != rows_loaded + rows_quarantined",
          "SELECT batch_id, source_ref, rows_read, rows_loaded, rows_quarantined FROM etl_batch "
          "WHERE status = 'loaded' AND rows_read <> rows_loaded + rows_quarantined")
    check("loaded batch whose fact lines do not number rows_loaded", """
          SELECT b.batch_id, b.source_ref, b.rows_loaded, COUNT(f.batch_id)
          FROM etl_batch AS b LEFT JOIN fact_ledger_line AS f ON f.batch_id = b.batch_id
          WHERE b.status = 'loaded' GROUP BY b.batch_id, b.source_ref, b.rows_loaded
          HAVING COUNT(f.batch_id) <> b.rows_loaded""")
    check("loaded batch whose quarantined lines do not number rows_quarantined", """
          SELECT b.batch_id, b.source_ref, b.rows_quarantined, COUNT(q.batch_id)
          FROM etl_batch AS b LEFT JOIN quarantine_line AS q ON q.batch_id = b.batch_id
          WHERE b.status = 'loaded' GROUP BY b.batch_id, b.source_ref, b.rows_quarantined
          HAVING COUNT(q.batch_id) <> b.rows_quarantined""")
    check("fact lines whose batch is missing or not loaded", """
          SELECT f.batch_id, b.status, COUNT(*) FROM fact_ledger_line AS f
          LEFT JOIN etl_batch AS b ON b.batch_id = f.batch_id
          WHERE b.batch_id IS NULL OR b.status <> 'loaded' GROUP BY f.batch_id, b.status""")
    check("quarantined lines of a rejected batch or of no batch", """
          SELECT q.batch_id, b.status, COUNT(*) FROM quarantine_line AS q
          LEFT JOIN etl_batch AS b ON b.batch_id = q.batch_id
          WHERE b.batch_id IS NULL OR b.status = 'rejected' GROUP BY q.batch_id, b.status""")
    check("loaded batch without quarantine whose lines disagree with its debit/credit totals", """
          SELECT b.batch_id, b.source_ref, b.total_debit_pence, b.total_credit_pence,
                 COALESCE(SUM(CASE WHEN f.amount_pence > 0 THEN f.amount_pence ELSE 0 END), 0),
                 COALESCE(SUM(CASE WHEN f.amount_pence < 0 THEN -f.amount_pence ELSE 0 END), 0)
          FROM etl_batch AS b LEFT JOIN fact_ledger_line AS f ON f.batch_id = b.batch_id
          WHERE b.status = 'loaded' AND b.rows_quarantined = 0
          GROUP BY b.batch_id, b.source_ref, b.total_debit_pence, b.total_credit_pence
          HAVING COALESCE(SUM(CASE WHEN f.amount_pence > 0 THEN f.amount_pence ELSE 0 END), 0)
                 <> b.total_debit_pence
              OR COALESCE(SUM(CASE WHEN f.amount_pence < 0 THEN -f.amount_pence ELSE 0 END), 0)
                 <> b.total_credit_pence""")
    check("superseded batch without a later delivery of its business date superseding it", """
          SELECT b.batch_id, b.source_ref, b.superseded_by FROM etl_batch AS b
          LEFT JOIN etl_batch AS s ON s.batch_id = b.superseded_by
          WHERE b.status = 'superseded' AND (s.batch_id IS NULL OR s.business_date <> b.business_date
                OR s.sequence <= b.sequence OR s.status = 'rejected')""")
    check("business date with more than one loaded delivery", """
          SELECT force_code, business_date, COUNT(*) FROM etl_batch
          WHERE status = 'loaded' AND business_date IS NOT NULL
          GROUP BY force_code, business_date HAVING COUNT(*) > 1""")
    check("delivery file processed more than once (rejections aside)", """
          SELECT force_code, source_ref, COUNT(*) FROM etl_batch
          WHERE status <> 'rejected' AND business_date IS NOT NULL
          GROUP BY force_code, source_ref HAVING COUNT(*) > 1""")
    check("WP line whose journal is not recorded as loaded by the same batch", """
          SELECT f.source_line_ref, f.batch_id, d.batch_id FROM fact_ledger_line AS f
          LEFT JOIN source_document_loaded AS d
                 ON d.force_code = f.force_code AND d.document_ref = f.document_ref
          WHERE f.force_code = 'WP' AND (d.batch_id IS NULL OR d.batch_id <> f.batch_id)""")
    check("WP quarantined line whose journal is not recorded by the same batch", """
          SELECT q.source_line_ref, q.batch_id, d.batch_id FROM quarantine_line AS q
          JOIN etl_batch AS b ON b.batch_id = q.batch_id AND b.status = 'loaded'
          LEFT JOIN source_document_loaded AS d
                 ON d.force_code = q.force_code AND d.document_ref = q.document_ref
          WHERE q.force_code = 'WP' AND (d.batch_id IS NULL OR d.batch_id <> q.batch_id)""")
    check("journal recorded as loaded by a batch that is missing or not loaded", """
          SELECT d.document_ref, d.batch_id, b.status FROM source_document_loaded AS d
          LEFT JOIN etl_batch AS b ON b.batch_id = d.batch_id
          WHERE b.batch_id IS NULL OR b.status <> 'loaded'""")
    check("line both loaded and quarantined", """
          SELECT q.force_code, q.source_line_ref FROM quarantine_line AS q
          JOIN etl_batch AS b ON b.batch_id = q.batch_id AND b.status = 'loaded'
          JOIN fact_ledger_line AS f ON f.force_code = q.force_code AND f.source_line_ref = q.source_line_ref""")
    # the summaries the finance views read equal the lines (warehouse/summaries.py)
    with engine.connect() as conn:
        problems += summaries.differences(conn)
    return problems


def assert_sound(engine: sa.Engine, context: str = "") -> None:
    """Fail naming every broken invariant."""
    problems = row_accounting_problems(engine)
    assert not problems, (f"{context}: " if context else "") + "\n".join(problems)
