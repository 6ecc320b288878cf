"""Fault points: let a reliability test stop a run at a named phase, to kill it exactly there.

Off unless the environment variable ``ALLIANCE_FAULT_PAUSE`` is set when this module is imported;
then :func:`reached` is a function that returns at once (a call per batch, never per line).

``ALLIANCE_FAULT_PAUSE=<phase>[:<n>]`` makes the *n*-th arrival (default the first) at ``<phase>``
write one marker line to stderr, ``ALLIANCE-FAULT-PAUSE <phase> <n> pid=<pid>``, and sleep
``ALLIANCE_FAULT_PAUSE_SECONDS`` (default 30; 0 only writes the marker) before carrying on. The test
(tests/test_reliability_faults.py) watches for the marker and sends SIGKILL, or cuts the network,
while the run waits there. Never set it in production: it only delays a run.

``ALLIANCE_FAULT_PAUSE_ONCE=<path>`` makes the pause happen once across processes: only the process
that creates ``<path>`` (``O_CREAT | O_EXCL``; it writes its pid there) pauses, every other arrival
carries on at once. A retry of the killed task, in another process or on another worker, so runs
through; a test that wants no pause yet creates the file first and removes it when the pause is due.

Phases, in the order a pass reaches them (``<force>`` is ``ASC`` or ``WP``):

- ``<force>.read``: before each ASC delivery is read; after each WP period batch is extracted (the
  ERP snapshot transaction still open);
- ``<force>.validate``: before a group of batches is validated (Great Expectations);
- ``<force>.load.superseded``: inside a batch's load transaction, the superseded delivery's lines
  just deleted;
- ``<force>.load.staged``: inside a batch's load transaction, its lines inserted, not committed;
- ``<force>.load.committed``: a batch's transaction just committed, the next not begun.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_SPEC = os.environ.get("ALLIANCE_FAULT_PAUSE") or None
_PHASE, _, _NTH = (_SPEC or "").partition(":")
_WANTED = int(_NTH) if _NTH else 1
_SECONDS = float(os.environ.get("ALLIANCE_FAULT_PAUSE_SECONDS", "30"))
_ONCE = os.environ.get("ALLIANCE_FAULT_PAUSE_ONCE") or None
_arrivals = 0


def reached(phase: str) -> None:
    """Mark that the run reached ``phase``; pauses there when ALLIANCE_FAULT_PAUSE names it."""
    global _arrivals
    if _SPEC is None or phase != _PHASE:
        return
    _arrivals += 1
    if _arrivals != _WANTED or (_ONCE is not None and not _first_across_processes(_ONCE)):
        return
    sys.stderr.write(f"ALLIANCE-FAULT-PAUSE {phase} {_arrivals} pid={os.getpid()}\n")
    sys.stderr.flush()
    time.sleep(_SECONDS)


def _first_across_processes(path: str) -> bool:
    """Whether this process is the first to claim ``path`` (creating it; it holds the claimant's pid)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as claim:
        claim.write(f"{os.getpid()}\n")
    return True


def each(phase: str, items: Iterable[T]) -> Iterable[T]:
    """``items`` unchanged, marking ``phase`` as each one is handed on (``items`` itself when off)."""
    if _SPEC is None:
        return items
    return _marked(phase, items)


def _marked(phase: str, items: Iterable[T]) -> Iterator[T]:
    for item in items:
        reached(phase)
        yield item
