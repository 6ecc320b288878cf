"""Validate and load groups of batches, the three stages overlapping: read N+2, validate N+1, load N.

The caller holds the force's load lock (:class:`~alliance_finance.runner.passes.ForcePass` does).
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Iterable

from alliance_finance.core import faults
from alliance_finance.runner.clock import StageClock

if TYPE_CHECKING:  # pragma: no cover
    import sqlalchemy as sa

    from alliance_finance.core.ledger import Batch
    from alliance_finance.warehouse.outcome import LoadOutcome

_log = logging.getLogger(__name__)


def validate_and_load(engine: "sa.Engine", groups: Iterable[list["Batch"]], make_validator,
                      logger: logging.Logger | None = None, *, clock: StageClock | None = None,
                      start_validator: bool = False) -> list["LoadOutcome"]:
    """Validate each group of batches in one run and load its batches in order, one transaction each.

    Three things happen at once: group N loads in one thread (mostly waiting on the database), group
    N+1 is validated (Great Expectations: Python), and group N+2 is read in another thread (the
    readers spend most of their time in pyarrow, numpy and the database driver, which let Python's
    other threads run). Loads stay in order (a group starts loading only after the previous one
    finished), and at most three groups are in memory. A reading error reaches this function when
    its group would have been validated. The validator is made when the first group arrives (none is
    made when there is nothing to do), or, with ``start_validator`` (the caller knows there is work:
    deliveries pending), made and started (Great Expectations imported, its context opened: seconds)
    while the first group is being read. ``clock`` counts the seconds of each stage.
    """
    clock = clock or StageClock()
    outcomes: list = []
    validator = None
    reading = _ReadAhead(groups, clock)
    if start_validator:
        try:
            validator = make_validator()
            start = getattr(validator, "start", None)
            if start is not None:
                with clock.timing("gx_start"):
                    start()
        except BaseException:
            reading.close()
            raise
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alliance-load") as pool:
        loading = None
        try:
            for batches in reading:
                validator = validator or make_validator()
                validate_group(validator, batches, clock)
                if loading is not None:
                    with clock.timing("wait_load"):
                        outcomes += loading.result()
                loading = pool.submit(load_batches, engine, batches, logger, clock=clock)
        finally:
            reading.close()
            # a failure while reading or validating still lets the group being loaded finish (or fail) whole
            if loading is not None:
                with clock.timing("wait_load"):
                    outcomes += loading.result()
    return outcomes


def validate_group(validator, batches: list["Batch"], clock: StageClock) -> None:
    """One Great Expectations run over a group (each batch gets its verdict), timed on ``clock``."""
    if not batches:
        return
    faults.reached(f"{batches[0].force_code}.validate")
    before = dict(getattr(validator, "stage_seconds", {}))
    with clock.timing("validate"):
        validator.validate(batches)
    clock.add_from(getattr(validator, "stage_seconds", {}), before, taken_from="validate")


def load_batches(engine: "sa.Engine", batches: Iterable["Batch"], logger: logging.Logger | None = None, *,
                 clock: StageClock | None = None, skip: Callable[["Batch"], bool] | None = None
                 ) -> list["LoadOutcome"]:
    """Load validated batches, each in its own transaction, in order; log each at INFO (ERROR if rejected).

    ``skip``: a batch it is true for is not loaded (the DAG's load step: loaded meanwhile by another run).
    """
    # deferred on purpose: the loader brings pyarrow and numpy, which a pass with nothing new never needs
    from alliance_finance.warehouse.load import BatchLoader

    logger = logger or _log
    outcomes = []
    loader = BatchLoader(engine)
    try:
        with loader:
            for batch in batches:
                if skip is not None and skip(batch):
                    logger.info("skipped %s: loaded meanwhile by another run", batch.source_ref)
                    continue
                batch.raw = None  # validated: the raw columns are not needed any more
                outcome = loader.load(batch)
                faults.reached(f"{batch.force_code}.load.committed")
                (logger.info if outcome.loaded else logger.error)("%s", outcome.describe())
                outcomes.append(outcome)
    finally:
        if clock is not None:
            clock.add_from(loader.stage_seconds)
    return outcomes


class _ReadAhead:
    """Iterates ``groups`` in a thread of its own, one group ahead of the consumer.

    The source iterator is advanced, and closed, only by that thread (a SQLite connection may not
    leave the thread that opened it). An exception raised while reading is raised to the consumer
    in its turn; closing stops the reading at the next group.
    """

    _END = object()

    def __init__(self, groups: Iterable, clock: StageClock):
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._clock = clock
        self._thread = threading.Thread(target=self._read, args=(groups,), name="alliance-read", daemon=True)
        self._thread.start()

    def _read(self, groups: Iterable) -> None:
        iterator = iter(groups)
        try:
            while not self._stop.is_set():
                try:
                    item = next(iterator)
                except StopIteration:
                    item = self._END
                self._put((item, None))
                if item is self._END:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put((None, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def _put(self, entry) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            with self._clock.timing("wait_read"):
                item, error = self._queue.get()
            if error is not None:
                raise error
            if item is self._END:
                return
            yield item

    def close(self) -> None:
        """Stop reading (at the next group) and wait for the reading thread to end."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)  # unblock a reader waiting to hand over a group
            except queue.Empty:
                pass
        self._thread.join()
