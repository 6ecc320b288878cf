"""One force's pass, as steps: prepare → find pending → read, validate (and stage) → load → publish.

:meth:`ForcePass.run` does them all at once, overlapping reading, validating and loading (the CLI,
``alliance-finance run``). A DAG task calls one step each, passing what it made to the next as XCom:
:meth:`~ForcePass.prepare` and :meth:`~ForcePass.find` (``find_pending``), :meth:`~ForcePass.stage`
(``extract_and_validate``: the validated batches staged in the warehouse's ``etl_staged_batch``,
no ledger table written), :meth:`~ForcePass.load_staged` (``load``) and the result's :meth:`problems
<alliance_finance.runner.result.ForceRunResult.problems>` (``report_rejections``).

The force's reader (a :class:`SourceReader`: what is pending, and the pending batches read in
groups that bound memory) is the only part that knows the source format.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Iterator, Protocol

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.config.settings import Settings
from alliance_finance.core.errors import TransientError
from alliance_finance.core.urls import mask_url
from alliance_finance.runner import validators
from alliance_finance.runner.clock import StageClock
from alliance_finance.runner.flow import load_batches, validate_and_load, validate_group
from alliance_finance.runner.prepare import prepare_warehouse, reachable
from alliance_finance.runner.result import ForceRunResult, first_line
from alliance_finance.warehouse import locks
from alliance_finance.warehouse.engine import make_engine

if TYPE_CHECKING:  # pragma: no cover
    from alliance_finance.core.ledger import Batch

_log = logging.getLogger(__name__)


class SourceReader(Protocol):
    """What the runner needs of a force's reader (one per source format)."""

    force: ForceConfig

    def pending(self, engine: sa.Engine): ...  # -> PendingWork (what a run would process now, + refused)

    def read_groups(self, engine: sa.Engine, pending) -> Iterator[list["Batch"]]: ...

    def close(self) -> None: ...


class ForcePass:
    """One force's pass over ``settings`` (warehouse, sources) with ``reader``.

    ``validator``: what validates a group (default: a :class:`~alliance_finance.runner.validators.RunValidator`
    of this pass, Data Docs built when the pass ends). ``lock_wait_seconds``: how long to wait for
    another run holding the force's load lock before :class:`~alliance_finance.core.errors.ConcurrentRunError`.
    """

    def __init__(self, force: ForceConfig, settings: Settings, reader: SourceReader, *, validator=None,
                 log: logging.Logger | None = None, lock_wait_seconds: float | None = None):
        self.force = force
        self.settings = settings
        self.reader = reader
        self.validator = validator
        self.log = log or _log
        self.lock_wait_seconds = locks.DEFAULT_WAIT_SECONDS if lock_wait_seconds is None else lock_wait_seconds

    @property
    def code(self) -> str:
        return self.force.code

    @property
    def warehouse_url(self) -> str:
        return self.settings.warehouse_url

    # --- all at once -------------------------------------------------------------------------------

    def run(self) -> ForceRunResult:
        """Prepare the warehouse, then load everything new under the force's lock.

        Rejected batches and refused files are in the result (``result.ok`` is False); a failure of the
        run itself raises: :class:`~alliance_finance.core.errors.ConcurrentRunError` (lock held), the
        reader's :class:`~alliance_finance.core.errors.AllianceFinanceError` (sources missing, a source's
        schema), or :class:`~alliance_finance.core.errors.TransientError` when the warehouse cannot be reached.
        """
        started = time.perf_counter()
        clock = StageClock()
        result = ForceRunResult(self.code)
        with self._warehouse() as engine, self._own_validator():
            with clock.timing("prepare"):
                result.lines_restated = self.prepare(engine)
            with locks.force_load_lock(engine, self.code, wait_seconds=self.lock_wait_seconds):
                try:
                    with clock.timing("find"):
                        pending = self.reader.pending(engine)
                    result.refused += self._log_pending(pending)
                    result.outcomes += validate_and_load(
                        engine, clock.timed("read", self.reader.read_groups(engine, pending)),
                        self._validator, self.log, clock=clock, start_validator=bool(pending.deliveries))
                    if not result.outcomes:
                        self.log.info("%s: nothing new in %s", self.code, pending.source)
                finally:
                    self.reader.close()
        result.stage_seconds, result.seconds = dict(clock.seconds), time.perf_counter() - started
        self.log.info("%s", result.summary())
        self.log.info("%s stage seconds (run %.2fs): %s", self.code, result.seconds, clock.describe())
        return result

    # --- one step at a time (the DAG's tasks) ------------------------------------------------------

    def prepare(self, engine: sa.Engine | None = None) -> int:
        """Migrate to head, apply changed reference data and finance seeds; returns lines restated."""
        with self._warehouse(engine) as engine:
            restated = prepare_warehouse(engine, self.settings.reference_dir, self.settings.seeds_dir,
                                         self.settings.forces())
        if restated:
            self.log.info("reference data changed: %d ledger lines restated", restated)
        return restated

    def find(self):
        """What a run would process now (refused files named): the reader's ``PendingWork``."""
        with self._warehouse() as engine:
            try:
                pending = self.reader.pending(engine)
            finally:
                self.reader.close()
        self._log_pending(pending)
        return pending

    def stage(self, run_key: str) -> dict:
        """Read and validate everything pending, staging each validated batch in the warehouse under
        ``run_key`` (:class:`~alliance_finance.warehouse.staging.BatchStaging`: every worker reaches it),
        in load order; what this run staged before is removed first (a retry starts clean), and so is
        what abandoned runs left. No ledger table is written. Returns ``{"run_key", "batches" (how
        many), "refused"}`` for :meth:`load_staged`."""
        # deferred on purpose: staging holds Arrow batches (pyarrow, numpy), which only the DAG's stage and
        # load steps need, not a pass with nothing new
        from alliance_finance.warehouse import staging

        count = 0
        clock = StageClock()
        with self._warehouse() as engine, self._own_validator():
            staging.expire(engine)
            staged = staging.BatchStaging(engine, run_key)
            staged.clear()
            try:
                pending = self.reader.pending(engine)
                for group in self.reader.read_groups(engine, pending):
                    self.validator = self.validator or self._validator()
                    validate_group(self.validator, group, clock)
                    for batch in group:
                        batch.raw = None
                        staged.put(count, batch)
                        count += 1
                        state = f"rejected: {batch.error}" if batch.rejected else (
                            f"{batch.lines.num_rows:,} lines, {len(batch.quarantine):,} quarantined")
                        self.log.info("validated %s: %s", batch.source_ref, state)
            finally:
                self.reader.close()
        self.log.info("%s: %d batches validated and staged as %s", self.code, count, run_key)
        return {"run_key": run_key, "batches": count, "refused": list(pending.refused)}

    def load_staged(self, staged: dict) -> ForceRunResult:
        """Load the batches :meth:`stage` staged, in order, each in its own transaction, under the force's
        load lock; a batch another run loaded (or rejected) since it was staged is skipped, so it is never
        loaded twice, and a retried load never validates again. The staged batches are removed after."""
        from alliance_finance.warehouse import staging  # deferred on purpose: see stage()

        result = ForceRunResult(self.code, refused=list(staged.get("refused", [])))
        started = time.perf_counter()

        def loaded_meanwhile(batch) -> bool:
            if already_processed(engine, batch):
                result.skipped.append(batch.source_ref)
                return True
            return False

        with self._warehouse() as engine:
            batches = staging.BatchStaging(engine, staged["run_key"])
            with locks.force_load_lock(engine, self.code, wait_seconds=self.lock_wait_seconds):
                result.outcomes += load_batches(engine, batches.batches(staged["batches"]), self.log,
                                                skip=loaded_meanwhile)
            batches.drop()
        result.seconds = time.perf_counter() - started
        self.log.info("%s", result.summary())
        return result

    # --- the pieces --------------------------------------------------------------------------------

    def _validator(self):
        self.validator = self.validator or validators.RunValidator(self.warehouse_url, self.settings.var_dir,
                                                                   self.settings)
        return self.validator

    @contextlib.contextmanager
    def _own_validator(self):
        """A validator this pass makes (none was given) is closed when the step ends: Data Docs built."""
        given = self.validator
        try:
            yield
        finally:
            if given is None and self.validator is not None:
                made, self.validator = self.validator, None
                made.close()

    def _log_pending(self, pending) -> list[str]:
        for reason in pending.refused:
            self.log.error("refused %s", reason)
        if pending.deliveries:
            self.log.info("%s: %d new deliveries in %s", self.code, len(pending.deliveries), pending.source)
        return list(pending.refused)

    @contextlib.contextmanager
    def _warehouse(self, engine: sa.Engine | None = None):
        """The warehouse engine (``engine`` when given); a lost connection becomes a TransientError
        naming the warehouse, masked (the source readers name their own databases)."""
        if engine is not None:
            yield engine
            return
        url = self.warehouse_url
        engine = make_engine(url)
        try:
            reachable(engine, url)
            yield engine
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            lost = "unreachable" if exc.connection_invalidated else "failed"
            raise TransientError(
                f"warehouse {mask_url(url)} {lost} mid-run: {first_line(exc)}; the batches committed "
                "before stay loaded and the one in flight was rolled back: run again") from exc
        finally:
            engine.dispose()


def already_processed(engine: sa.Engine, batch: "Batch") -> bool:
    """Whether another run loaded (or rejected) this batch since it was staged.

    A batch naming source documents (``meta["journal_ids"]``) is processed when any of them is in
    ``source_document_loaded``; any other when a batch of the same source ref and digest is in
    ``etl_batch``. Checked under the force's load lock, so it cannot go stale.
    """
    with engine.connect() as conn:
        if not batch.meta.get("journal_ids"):
            row = conn.execute(sa.text("SELECT 1 FROM etl_batch WHERE force_code = :f AND source_ref = :s "
                                       "AND digest = :d"),
                               {"f": batch.force_code, "s": batch.source_ref, "d": batch.digest}).first()
            return row is not None
        ids = [str(i) for i in batch.meta["journal_ids"]]
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            stmt = sa.text("SELECT 1 FROM source_document_loaded WHERE force_code = :f "
                           "AND document_ref IN :ids").bindparams(sa.bindparam("ids", expanding=True))
            if conn.execute(stmt, {"f": batch.force_code, "ids": chunk}).first() is not None:
                return True
        return False
