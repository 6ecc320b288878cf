"""Seconds a run spends in each stage (the run log's ``<force> stage seconds`` line)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterable, Iterator


class StageClock:
    """Seconds a run spends in each stage, totalled over its groups and batches (thread-safe).

    Stages, in the order a pass meets them: ``prepare`` (migrations, reference data, finance seeds),
    ``find`` (what is new: the processed files hashed again, the loaded journal ids), ``read``
    (the readers), ``wait_read`` (validating waits for the reading thread), ``gx_start``
    (importing Great Expectations and opening its context, once per run; a pass with deliveries
    pending does it while its first group is read, so that ``read`` and ``gx_start`` overlap),
    ``validate`` (building the frames and running the suites), ``publish`` (the results and
    Data Docs), ``wait_load`` (reading and validating wait for the loader to finish the previous
    group); and in the loading thread ``load_copy`` (the batch's lines written as CSV and COPYed
    into the staging table), ``load_map_insert`` (the INSERT ... SELECT that maps them and adds them
    to the fact table) and ``load_other`` (the batch's bookkeeping, superseding and commit). Loading
    runs beside reading and validating, so the stages add up to more than the run took.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        """Count ``seconds`` more for ``stage``."""
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextlib.contextmanager
    def timing(self, stage: str):
        """Count the time the ``with`` block takes for ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def timed(self, stage: str, items: Iterable) -> Iterator:
        """``items`` unchanged, counting the time spent producing each one (a lazy reader's work)."""
        iterator = iter(items)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(stage, time.perf_counter() - started)
                return
            self.add(stage, time.perf_counter() - started)
            yield item

    def add_from(self, counters: dict[str, float], before: dict[str, float] | None = None,
                 taken_from: str | None = None) -> None:
        """Count what ``counters`` (a component's own seconds) gained since ``before``; the same
        seconds come off ``taken_from``, the stage that was timed around them."""
        for stage, seconds in counters.items():
            gained = seconds - (before or {}).get(stage, 0.0)
            if gained:
                self.add(stage, gained)
                if taken_from:
                    self.add(taken_from, -gained)

    def describe(self) -> str:
        """``stage=seconds`` pairs, in the order the stages were first met (the run log's format)."""
        with self._lock:
            return " ".join(f"{stage}={seconds:.2f}s" for stage, seconds in self.seconds.items())
