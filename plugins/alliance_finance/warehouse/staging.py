"""Validated batches handed from a DAG's validate task to its load task, kept in the warehouse.

The two tasks may run on different machines that share no disk, only the services: the metadata
database, the broker, the warehouse and read access to the sources. Every worker reaches the
warehouse, so the validate task stages each batch there (table ``etl_staged_batch``: the lines as
Parquet bytes, the rest as JSON, see :func:`alliance_finance.core.ledger.batch_to_parts`) under a key
of its DAG run, and the load task reads them back in order.

A run's staged batches are removed once loaded; a retry of the validate task starts clean. A load
task that finds a staged batch missing raises :class:`StagedBatchMissing`, which names the run and
the batch and says what to do, never a bare ``FileNotFoundError``. Staged rows of runs that never
reached their load task (cleared, killed) are removed by :func:`expire`.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import sqlalchemy as sa

from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.core.ledger import Batch, batch_from_parts, batch_to_parts

#: staged batches older than this belong to runs that will never load them
KEEP_FOR = dt.timedelta(days=7)


class StagedBatchMissing(AllianceFinanceError):
    """The load task found fewer staged batches than the validate task staged."""


class BatchStaging:
    """The staged batches of one DAG run (``run_key``: e.g. ``alliance_ledger_asc/<run_id>``)."""

    def __init__(self, engine: sa.Engine, run_key: str):
        self.engine = engine
        self.run_key = run_key

    def clear(self) -> int:
        """Remove what this run staged before (a retry of the validate task starts clean)."""
        with self.engine.begin() as conn:
            return conn.execute(sa.text("DELETE FROM etl_staged_batch WHERE run_key = :k"),
                                {"k": self.run_key}).rowcount

    def put(self, seq: int, batch: Batch) -> None:
        """Stage one validated batch as number ``seq`` of the run (committed at once)."""
        meta, lines = batch_to_parts(batch)
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO etl_staged_batch (run_key, seq, source_ref, meta, lines, staged_at) "
                "VALUES (:k, :seq, :ref, :meta, :lines, :at)"),
                {"k": self.run_key, "seq": seq, "ref": batch.source_ref, "meta": meta, "lines": lines,
                 "at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM etl_staged_batch WHERE run_key = :k"),
                                {"k": self.run_key}).scalar_one()

    def get(self, seq: int) -> Batch:
        """Staged batch number ``seq``, or StagedBatchMissing naming the run and the number."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT meta, lines FROM etl_staged_batch WHERE run_key = :k AND seq = :seq"),
                               {"k": self.run_key, "seq": seq}).one_or_none()
        if row is None:
            raise StagedBatchMissing(
                f"{self.run_key}: staged batch {seq} is not in the warehouse's etl_staged_batch (removed by "
                "another run's clean-up, or the validate task was cleared after staging): nothing of it was "
                "loaded; clear the validate task of this run so that it reads and stages the batches again")
        return batch_from_parts(row.meta, bytes(row.lines))

    def batches(self, count: int) -> Iterator[Batch]:
        """Staged batches 0 .. count-1, in order, one in memory at a time."""
        for seq in range(count):
            yield self.get(seq)

    def drop(self) -> int:
        """Remove the run's staged batches (after they are loaded)."""
        return self.clear()


def expire(engine: sa.Engine, keep_for: dt.timedelta = KEEP_FOR) -> int:
    """Remove staged batches older than ``keep_for`` (their runs were abandoned); returns how many."""
    cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - keep_for
    with engine.begin() as conn:
        return conn.execute(sa.text("DELETE FROM etl_staged_batch WHERE staged_at < :cutoff"),
                            {"cutoff": cutoff}).rowcount
