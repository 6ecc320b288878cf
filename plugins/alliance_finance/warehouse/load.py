"""Loading batches: map set-wise and load each batch in one transaction, fast on both dialects.
Longer than 400 lines because that one transaction's steps (bookkeeping, supersession, each
dialect's insert) are kept together, in the order they run.

One transaction per batch holds everything the batch changes: its ``etl_batch`` row, its lines, its
quarantined lines, the source documents (WP journal ids) it covered, and the removal of the
delivery it supersedes (ASC: an earlier sequence for the same business date: its lines deleted by
batch id, its row marked ``superseded``), and the summaries the finance views read (the new lines
added, the superseded ones taken away: :mod:`.summaries`). They commit together or not at all. A rejected batch
writes its ``etl_batch`` row and nothing else.

How the lines get in, without a Python loop per line:

- PostgreSQL: the conformed Arrow table is written as CSV by pyarrow into a buffer and streamed with
  ``COPY`` (psycopg 3) into a temporary staging table, then one ``INSERT ... SELECT`` maps and adds
  them (``sql/mapping/insert_fact_lines.sql``). ``COPY`` never targets the fact table itself, which
  may carry row-level security.
- SQLite: ``executemany`` into a temporary staging table straight from the Arrow columns, then the
  same ``INSERT ... SELECT``.

Work per batch is proportional to the batch: the staging table is private and small, superseded
lines are found through the ``batch_id`` index, and no statement scans the fact table.

A batch that cannot load because it conflicts with what is loaded (a line already loaded from
another delivery, a journal already recorded) is rolled back whole and then recorded as rejected,
with a reason naming the lines and where they were loaded from. Any other failure propagates after
the rollback, leaving nothing of the batch behind.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

from alliance_finance.core import faults
from alliance_finance.core.ledger import CONFORMED_COLUMNS, CONFORMED_SCHEMA, Batch
from alliance_finance.core.money import format_gbp
from alliance_finance.warehouse import history, locks, post_close, sqlfiles, summaries
from alliance_finance.warehouse.mapping import mapped_lines_sql
from alliance_finance.warehouse.meta import utcnow
from alliance_finance.warehouse.outcome import LoadOutcome

log = logging.getLogger(__name__)

#: staging table columns: the conformed columns, in CONFORMED_SCHEMA order (sql/mapping/stage_line.sql)
STAGE_COLUMNS = CONFORMED_COLUMNS

#: how many conflicting lines a rejection names before "and N more"
_EXAMPLES = 3


class BatchLoader:
    """Loads batches, each in its own transaction, over one warehouse connection.

    Use as a context manager::

        with BatchLoader(engine) as loader:
            for batch in batches:
                outcome = loader.load(batch)
    """

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._conn: sa.Connection | None = None
        self._insert_sql = sqlfiles.statements(sqlfiles.render(
            "mapping/insert_fact_lines.sql", self.dialect,
            mapped_lines=mapped_lines_sql(self.dialect, "stage_line",
                                          ", ".join(f"line.{c}" for c in STAGE_COLUMNS))))[0]
        if self.dialect == "postgresql":
            # one statement inserts the lines, adds them to every summary (summaries.with_batch_lines)
            # and stamps the batch finished: one round trip, the batch's lines read once
            self._insert_sql = "WITH " + ",\n".join([
                f"inserted AS (\n{self._insert_sql}\nRETURNING {', '.join(summaries.LINE_COLUMNS)}\n)",
                "finished AS (UPDATE etl_batch SET finished_at = :finished WHERE batch_id = :batch_id)",
                *summaries.with_batch_lines("inserted", self.dialect),
            ]) + "\nSELECT COUNT(*) FROM inserted"
        self._stage_sql = sqlfiles.statements(sqlfiles.render("mapping/stage_line.sql", self.dialect))[0]
        # PostgreSQL: the staging table lives as long as the (pooled) connection and is emptied at
        # each commit (creating and dropping it per batch cost time per batch, docs/performance.md, and
        # churned the system catalogs); it exists once a transaction that created it has committed
        self._stage_exists = self._stage_created = False
        #: whether a batch loaded (the summaries' statistics are refreshed once at the end: summaries.analyze)
        self._loaded_any = False
        #: seconds spent loading, by stage: COPY into the staging table (the CSV written by pyarrow
        #: included), the INSERT ... SELECT that maps and adds the lines, and everything else in the
        #: batch's transaction (its bookkeeping statements, superseding, the commit)
        self.stage_seconds: dict[str, float] = {"load_copy": 0.0, "load_map_insert": 0.0, "load_other": 0.0}

    def __enter__(self) -> "BatchLoader":
        self._conn = self.engine.connect().execution_options(sqlite_begin="immediate")
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            try:
                if self._loaded_any and exc[0] is None:
                    with self._conn.begin():
                        summaries.analyze(self._conn, stale_only=True)
            finally:
                self._conn.close()
                self._conn = None

    # -- the one public operation ---------------------------------------------------------------

    def load(self, batch: Batch) -> LoadOutcome:
        """Load one batch (or record its rejection) in one transaction; returns what happened."""
        assert self._conn is not None, "use BatchLoader as a context manager"
        started = time.perf_counter()
        before = self.stage_seconds["load_copy"] + self.stage_seconds["load_map_insert"]
        try:
            return self._load_or_reject(batch)
        finally:
            self._stage_created = False
            self.stage_seconds["load_other"] += time.perf_counter() - started - (
                self.stage_seconds["load_copy"] + self.stage_seconds["load_map_insert"] - before)

    def _load_or_reject(self, batch: Batch) -> LoadOutcome:
        if not batch.rejected:
            problem = _row_accounting_problem(batch) or _money_range_problem(batch)
            if problem:
                batch.reject(problem)
        if batch.rejected:
            with self._conn.begin():
                return self._record_rejected(batch)
        try:
            with self._conn.begin():
                outcome = self._load(batch)
            self._stage_exists = self._stage_exists or self._stage_created  # committed
            self._loaded_any = self._loaded_any or outcome.loaded
            return outcome
        except sa.exc.IntegrityError as exc:
            # rolled back; now find out, outside that transaction, which lines or journals clash
            batch.reject(self._explain_conflict(batch, exc))
        with self._conn.begin():
            return self._record_rejected(batch)

    # -- inside the batch's transaction ---------------------------------------------------------

    def _load(self, batch: Batch) -> LoadOutcome:
        conn = self._conn
        # shared: many loads at once, but never while the maps are being replaced (locks.py)
        if self.dialect == "postgresql":
            # Not waiting for the commit's WAL flush is safe here: a crash can lose only whole
            # transactions, each of which holds a batch together with the record that it was
            # loaded, so the next run offers exactly those batches again. (One round trip: the
            # setting and locks.pg_xact_lock's shared lock.)
            conn.exec_driver_sql(
                "SELECT set_config('synchronous_commit', 'off', true), "
                f"pg_advisory_xact_lock_shared({locks.LOCK_NAMESPACE}, {int(locks.REFERENCE_KEY)})")
        else:
            locks.pg_xact_lock(conn, locks.REFERENCE_KEY, shared=True)
        same_day = self._same_day_deliveries(batch)
        later = max((row for row in same_day if row.sequence > batch.sequence), default=None,
                    key=lambda row: row.sequence)
        if later is not None:
            batch.reject(
                f"{batch.source_ref}: sequence {batch.sequence:03d} is lower than {later.source_ref} "
                f"(sequence {later.sequence:03d}) already loaded for business date {batch.business_date}: "
                "a re-delivery must carry a higher sequence; this file is not loaded")
            return self._record_rejected(batch)

        lines = batch.lines.select(list(CONFORMED_COLUMNS)).cast(CONFORMED_SCHEMA)
        # as they stood before this batch, in the years it posts into
        closed = post_close.closed_periods(conn, batch.force_code,
                                           pc.unique(lines.column("fiscal_year")).to_pylist())
        batch_id = self._insert_batch_row(batch, "loaded", lines)
        superseded = self._supersede(batch_id, [row for row in same_day
                                                if row.sequence < batch.sequence and row.status == "loaded"])
        if superseded:
            faults.reached(f"{batch.force_code}.load.superseded")
        self._insert_quarantine(batch, batch_id)
        self._record_source_documents(batch, batch_id)
        # PostgreSQL: the lines' statement also adds them to the summaries and stamps finished_at
        loaded = self._insert_lines(lines, batch_id)
        if loaded:
            if self.dialect != "postgresql":
                summaries.add_batch(conn, batch_id)
            post_close.record(conn, batch_id, batch.force_code, lines, closed)
        faults.reached(f"{batch.force_code}.load.staged")
        if loaded != lines.num_rows:
            raise RuntimeError(f"{batch.source_ref}: {lines.num_rows} lines staged but {loaded} inserted")
        if self.dialect != "postgresql" or not loaded:
            conn.execute(sa.text("UPDATE etl_batch SET finished_at = :now WHERE batch_id = :id"),
                         {"now": utcnow(), "id": batch_id})
        debit, credit = _debit_credit(lines)
        return LoadOutcome(batch_id, batch.force_code, batch.source_ref, "loaded", batch.rows_read,
                           rows_loaded=loaded, rows_quarantined=len(batch.quarantine),
                           debit_pence=debit, credit_pence=credit, superseded=superseded)

    def _same_day_deliveries(self, batch: Batch) -> list:
        """The force's other deliveries (not rejected) for the batch's business date, by sequence: a
        later one refuses the batch, earlier loaded ones are superseded by it (one query for both)."""
        if batch.business_date is None or batch.sequence is None:
            return []
        return self._conn.execute(sa.text(
            "SELECT batch_id, source_ref, sequence, status FROM etl_batch WHERE force_code = :force "
            "AND business_date = :day AND sequence <> :sequence AND status <> 'rejected' ORDER BY sequence"),
            {"force": batch.force_code, "day": batch.business_date, "sequence": batch.sequence}).all()

    def _insert_batch_row(self, batch: Batch, status: str, lines: pa.Table | None) -> int:
        first_day = last_day = None
        if lines is not None and lines.num_rows:
            span = pc.min_max(lines.column("posting_date"))
            first_day, last_day = span["min"].as_py(), span["max"].as_py()
        posted_through = batch.meta.get("max_posted_at") if status == "loaded" else None
        if isinstance(posted_through, str):
            posted_through = dt.datetime.fromisoformat(posted_through)
        now = utcnow()
        return self._conn.execute(sa.text(
            "INSERT INTO etl_batch (force_code, source_ref, digest, business_date, sequence, status, "
            "rows_read, rows_loaded, rows_quarantined, total_debit_pence, total_credit_pence, "
            "first_posting_date, last_posting_date, posted_through, error, started_at, finished_at) "
            "VALUES (:force, :source_ref, :digest, :day, :sequence, :status, :rows_read, :rows_loaded, "
            ":rows_quarantined, :debit, :credit, :first_day, :last_day, :posted_through, :error, :now, :now) "
            "RETURNING batch_id"),
            {"force": batch.force_code, "source_ref": batch.source_ref, "digest": batch.digest,
             "day": batch.business_date, "sequence": batch.sequence, "status": status,
             "rows_read": batch.rows_read,
             "rows_loaded": lines.num_rows if status == "loaded" else 0,
             "rows_quarantined": len(batch.quarantine) if status == "loaded" else 0,
             # a rejected batch's totals may be beyond what a money column holds: its error names them
             "debit": _storable(batch.total_debit_pence), "credit": _storable(batch.total_credit_pence),
             "first_day": first_day, "last_day": last_day, "posted_through": posted_through,
             "error": batch.error, "now": now}).scalar_one()

    def _record_rejected(self, batch: Batch) -> LoadOutcome:
        # A WP extract is offered again by every run until its journals load (they are not recorded
        # as loaded), so the same rejection is reported each time but recorded once.
        earlier = self._conn.execute(sa.text(
            "SELECT batch_id FROM etl_batch WHERE force_code = :force AND source_ref = :ref AND digest = :digest "
            "AND status = 'rejected' AND error = :error ORDER BY batch_id LIMIT 1"),
            {"force": batch.force_code, "ref": batch.source_ref, "digest": batch.digest,
             "error": batch.error}).scalar()
        batch_id = earlier if earlier is not None else self._insert_batch_row(batch, "rejected", None)
        return LoadOutcome(batch_id, batch.force_code, batch.source_ref, "rejected", batch.rows_read,
                           error=batch.error)

    def _supersede(self, batch_id: int, earlier: list) -> list[str]:
        """Remove the lines of every earlier delivery for the same business date (indexed by batch)."""
        now = utcnow()
        for row in earlier:
            summaries.add_batch(self._conn, row.batch_id, sign=-1)
            # kept, not deleted: the lines move to fact_ledger_line_superseded (history.py); the batch's
            # post-close adjustments stay, shown only while it is loaded (v_post_close_adjustments)
            history.retire_batch_lines(self._conn, row.batch_id, batch_id, now)
            self._conn.execute(sa.text(
                "UPDATE etl_batch SET status = 'superseded', superseded_by = :new WHERE batch_id = :id"),
                {"new": batch_id, "id": row.batch_id})
        return [row.source_ref for row in earlier]

    def _insert_lines(self, lines: pa.Table, batch_id: int) -> int:
        if lines.num_rows == 0:
            return 0
        conn = self._conn
        copying = time.perf_counter()
        if self.dialect == "postgresql" and not self._stage_exists:
            self._stage_exists = conn.exec_driver_sql("SELECT to_regclass('pg_temp.stage_line') IS NOT NULL").scalar()
        if self.dialect != "postgresql" or not self._stage_exists:
            conn.exec_driver_sql(self._stage_sql)
            self._stage_created = True
        driver = conn.connection.driver_connection
        if self.dialect == "postgresql":
            buffer = io.BytesIO()
            pacsv.write_csv(lines, buffer, pacsv.WriteOptions(include_header=False))
            with driver.cursor() as cursor:
                with cursor.copy(f"COPY stage_line ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(buffer.getbuffer())
        else:
            columns = [lines.column(name) for name in STAGE_COLUMNS]
            columns[STAGE_COLUMNS.index("posting_date")] = pc.cast(lines.column("posting_date"), pa.string())
            cursor = driver.cursor()
            try:
                cursor.executemany(
                    f"INSERT INTO stage_line ({', '.join(STAGE_COLUMNS)}) VALUES ({', '.join('?' * len(STAGE_COLUMNS))})",
                    zip(*(column.to_pylist() for column in columns)))
            finally:
                cursor.close()
        inserting = time.perf_counter()
        self.stage_seconds["load_copy"] += inserting - copying
        if self.dialect == "postgresql":
            inserted = conn.execute(sa.text(self._insert_sql), {"batch_id": batch_id, "finished": utcnow()}).scalar_one()
        else:
            inserted = conn.execute(sa.text(self._insert_sql), {"batch_id": batch_id}).rowcount
        self.stage_seconds["load_map_insert"] += time.perf_counter() - inserting
        if self.dialect != "postgresql":  # PostgreSQL empties it at commit
            conn.exec_driver_sql("DROP TABLE temp.stage_line")
        return inserted

    def _insert_quarantine(self, batch: Batch, batch_id: int) -> None:
        if not batch.quarantine:
            return
        self._conn.execute(sa.text(
            "INSERT INTO quarantine_line (batch_id, force_code, source_line_ref, document_ref, "
            "source_line_number, reason, original) VALUES (:batch_id, :force, :source_line_ref, "
            ":document_ref, :source_line_number, :reason, :original)"),
            [{"batch_id": batch_id, "force": batch.force_code, "source_line_ref": q.source_line_ref,
              "document_ref": q.document_ref, "source_line_number": q.source_line_number,
              "reason": q.reason, "original": q.original} for q in batch.quarantine])

    def _record_source_documents(self, batch: Batch, batch_id: int) -> None:
        documents = batch.meta.get("journal_ids") or []
        if not documents:
            return
        if self.dialect == "postgresql":
            # one statement for all of a period's journals, rather than a round trip per journal
            self._conn.execute(sa.text(
                "INSERT INTO source_document_loaded (force_code, document_ref, batch_id) "
                "SELECT :force, document_ref, :batch_id FROM unnest(CAST(:docs AS text[])) AS d (document_ref)"),
                {"force": batch.force_code, "docs": [str(doc) for doc in documents], "batch_id": batch_id})
            return
        self._conn.execute(sa.text(
            "INSERT INTO source_document_loaded (force_code, document_ref, batch_id) VALUES (:force, :doc, :batch_id)"),
            [{"force": batch.force_code, "doc": str(doc), "batch_id": batch_id} for doc in documents])

    # -- after a failed transaction -------------------------------------------------------------

    def _explain_conflict(self, batch: Batch, exc: sa.exc.IntegrityError) -> str:
        """Why the batch could not load, naming the lines or journals and where they already are."""
        refs = batch.lines.column("source_line_ref")
        counts = pc.value_counts(refs)
        twice = [c["values"].as_py() for c in counts if c["counts"].as_py() > 1]
        if twice:
            return (f"{batch.source_ref}: {len(twice)} line reference{'s' if len(twice) > 1 else ''} "
                    f"occur{'' if len(twice) > 1 else 's'} more than once in the batch "
                    f"(e.g. {', '.join(twice[:_EXAMPLES])}): each line is loaded once; the batch is rejected whole")
        with self._conn.begin():
            clashes = self._already_loaded(batch.force_code, "fact_ledger_line", "source_line_ref",
                                           refs.to_pylist())
            if clashes:
                numbers = dict(zip(refs.to_pylist(), batch.lines.column("source_line_number").to_pylist()))
                examples = ", ".join(f"{ref} (line {numbers.get(ref)}) from {source} (batch {bid})"
                                     for ref, source, bid in clashes[:_EXAMPLES])
                return (f"{batch.source_ref}: {len(clashes)}{'+' if len(clashes) >= 1000 else ''} line"
                        f"{'s are' if len(clashes) > 1 else ' is'} already loaded from another delivery, e.g. "
                        f"{examples}: each line is loaded once, so the batch is rejected whole")
            documents = [str(d) for d in batch.meta.get("journal_ids") or []]
            clashes = self._already_loaded(batch.force_code, "source_document_loaded", "document_ref", documents)
            if clashes:
                examples = ", ".join(f"journal {ref} by {source} (batch {bid})" for ref, source, bid in clashes[:_EXAMPLES])
                return (f"{batch.source_ref}: {len(clashes)} journal{'s were' if len(clashes) > 1 else ' was'} "
                        f"already loaded, e.g. {examples}: a journal is loaded once, so the batch is rejected whole")
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        return f"{batch.source_ref}: the warehouse refused the batch ({detail}); the batch is rejected whole"

    def _already_loaded(self, force_code: str, table: str, column: str, keys: list[str],
                        limit: int = 1000) -> list[tuple[str, str, int]]:
        found: list[tuple[str, str, int]] = []
        statement = sa.text(
            f"SELECT t.{column}, b.source_ref, b.batch_id FROM {table} AS t JOIN etl_batch AS b "
            f"ON b.batch_id = t.batch_id WHERE t.force_code = :force AND t.{column} IN :keys"
        ).bindparams(sa.bindparam("keys", expanding=True))
        for start in range(0, len(keys), 900):
            found += [tuple(r) for r in self._conn.execute(statement, {"force": force_code,
                                                                       "keys": keys[start:start + 900]})]
            if len(found) >= limit:
                break
        return found


def load_batch(engine: sa.Engine, batch: Batch) -> LoadOutcome:
    """Load one batch in its own transaction (see :class:`BatchLoader` for many)."""
    with BatchLoader(engine) as loader:
        return loader.load(batch)


#: the largest amount the warehouse's money columns hold (numeric(15,2) on PostgreSQL), in pence
MAX_MONEY_PENCE = 10**15 - 1


def _money_range_problem(batch: Batch) -> str | None:
    for side, pence in (("debit", batch.total_debit_pence), ("credit", batch.total_credit_pence)):
        if abs(pence) > MAX_MONEY_PENCE:
            return (f"{batch.source_ref}: total {side} {format_gbp(pence, pence_shown=True)} is beyond "
                    f"{format_gbp(MAX_MONEY_PENCE, pence_shown=True)}, the largest amount the warehouse holds "
                    "(numeric(15,2)); nothing is loaded (the batch's totals are recorded as 0)")
    return None


def _storable(pence: int) -> int:
    return pence if abs(pence) <= MAX_MONEY_PENCE else 0


def _row_accounting_problem(batch: Batch) -> str | None:
    if batch.rows_read != batch.lines.num_rows + len(batch.quarantine):
        return (f"{batch.source_ref}: row accounting does not hold: {batch.rows_read:,} rows read, but "
                f"{batch.lines.num_rows:,} to load + {len(batch.quarantine):,} quarantined; nothing is loaded "
                "rather than lose a line")
    return None


def _debit_credit(lines: pa.Table) -> tuple[int, int]:
    """Debits and credits of conformed lines (a line is one or the other), exact int64 sums."""
    amounts = lines.column("amount_pence")
    debit = pc.sum(pc.if_else(pc.greater(amounts, 0), amounts, 0)).as_py() or 0
    credit = -(pc.sum(pc.if_else(pc.less(amounts, 0), amounts, 0)).as_py() or 0)
    return int(debit), int(credit)
