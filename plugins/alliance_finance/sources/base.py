"""What every source reader is: the protocol the runner drives, what it finds, and how its reading is grouped.

A reader (one per ``source_format`` of ``dags/forces.yaml``: :mod:`.sap_files`, :mod:`.erp_sql`; chosen
by :func:`alliance_finance.sources.registry.reader_for`) is made for one force and one
:class:`~alliance_finance.config.settings.Settings`. The runner asks it what is pending now
(:meth:`SourceReader.pending`, which reads nothing), then for that work in groups
(:meth:`SourceReader.read_groups`, lazily: a group is read only when asked for), and closes it.

Groups bound memory by the group rather than the history: each is validated in one Great
Expectations run (whose cost is mostly fixed, docs/performance.md) and then loaded batch by batch while the next group
is read and validated (``runner.pipeline.validate_and_load``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Iterable, Iterator, Protocol

from alliance_finance.config.forces import FORCES_FILE, ForceConfig, ForcesFileError, load_forces
from alliance_finance.core.errors import AllianceFinanceError

if TYPE_CHECKING:  # pragma: no cover
    import sqlalchemy as sa

    from alliance_finance.core.ledger import Batch

#: a group of deliveries read, validated together and then loaded batch by batch while the next
#: group is read and validated: what bounds memory. 400,000 lines keep the loader and the reader
#: both busy (docs/performance.md)
GROUP_FILES = 250
GROUP_LINES = 400_000
#: SAP data files are about 200 bytes a line: a group stops growing past this many bytes
GROUP_BYTES = GROUP_LINES * 200
#: the first group of a pass is this many times smaller, and the second half the full size: loading
#: starts after a second instead of after a whole group has been read and validated
#: (docs/performance.md)
FIRST_GROUP_DIVISOR = 10
#: the full group limits of this process: :func:`share_groups` divides them between passes run at once
_limits = {"lines": GROUP_LINES, "bytes": GROUP_BYTES}


def share_groups(passes: int) -> None:
    """Divide the group limits of this process by ``passes``, the number of force passes running at
    once on this machine (``run --parallel``), so that their groups in memory together are about one
    pass's: five years at scale 10 side by side peaked at 1,946 MB (summed RSS) with a full group each,
    1,514 MB with half (docs/performance.md). ``share_groups(1)`` restores the full limits."""
    if passes < 1:
        raise ValueError(f"passes must be at least 1, got {passes}")
    _limits.update(lines=GROUP_LINES // passes, bytes=GROUP_BYTES // passes)


def group_limits() -> tuple[int, int]:
    """(lines, bytes): the full group limits in force in this process."""
    return _limits["lines"], _limits["bytes"]


class Layout:
    """What a format's layout (its names and prefixes, from a force's ``source`` in ``dags/forces.yaml``)
    shares; each subclass reads ``source`` in its classmethod ``from_source(force_code, source)``."""

    @classmethod
    def of(cls, force: ForceConfig):
        return cls.from_source(force.code, force.source)


def only_force_of(source_format: str, whose: str, layout: str) -> ForceConfig:
    """The one force of ``dags/forces.yaml`` on ``source_format`` (for callers that name none); an error
    saying to name the force (``<layout>.of(force)``) when there are none or several."""
    forces = [force for force in load_forces() if force.source_format == source_format]
    if len(forces) != 1:
        raise ForcesFileError(f"{FORCES_FILE}: {len(forces)} forces have source_format {source_format}: name the "
                              f"force whose {whose} ({layout}.of(force))")
    return forces[0]


class SourcesMissing(AllianceFinanceError):
    """The sources folder lacks the part a force needs (its inbound folder or its database)."""


@dataclasses.dataclass
class PendingWork:
    """What a run of one force would process now (nothing is read or loaded to find it)."""

    force_code: str
    #: where the force's sources are (the inbound folder, or the masked database URL)
    source: str
    #: file formats: the deliveries not yet processed, in load order (``sap_files.Delivery``)
    deliveries: list = dataclasses.field(default_factory=list)
    #: processed deliveries whose bytes changed: refused, with the reason
    refused: list[str] = dataclasses.field(default_factory=list)
    #: database formats: what the incremental extract reads (its new items are known only by reading)
    extract: str | None = None

    @property
    def source_refs(self) -> list[str]:
        """The names of what will be processed (a database: one entry for the incremental extract)."""
        if self.extract is not None:
            return [self.extract]
        return [d.name for d in self.deliveries]

    def to_dict(self) -> dict:
        """A small JSON-able summary (for an Airflow XCom)."""
        return {"force_code": self.force_code, "source": self.source,
                "source_refs": self.source_refs, "refused": list(self.refused)}


class SourceReader(Protocol):
    """One force's reader: made by :func:`~alliance_finance.sources.registry.reader_for`."""

    force: "ForceConfig"

    def pending(self, engine: "sa.Engine") -> PendingWork:
        """What a run would process now (and what is refused), from the sources and the warehouse."""
        ...

    def read_groups(self, engine: "sa.Engine", pending: PendingWork) -> Iterator[list["Batch"]]:
        """``pending``'s batches, lazily, in load order, in groups that bound memory."""
        ...

    def close(self) -> None:
        """Keep what the reading learnt for the next run (e.g. the files' digests)."""
        ...


def delivery_groups(deliveries: list, max_files: int = GROUP_FILES, max_bytes: int | None = None,
                    first_max_bytes: int | None = None) -> Iterator[list]:
    """Deliveries in load order, in groups of at most ``max_files`` files and about ``max_bytes`` bytes
    (by default this process's limit, :func:`group_limits`; the first group about ``first_max_bytes``,
    by default a tenth of that; the second half)."""
    max_bytes = group_limits()[1] if max_bytes is None else max_bytes
    group: list = []
    size = 0
    limit = max_bytes // FIRST_GROUP_DIVISOR if first_max_bytes is None else first_max_bytes
    for delivery in deliveries:
        delivery_size = delivery.data_path.stat().st_size
        if group and (len(group) >= max_files or size + delivery_size > limit):
            yield group
            group, size, limit = [], 0, _next_limit(limit, max_bytes)
        group.append(delivery)
        size += delivery_size
    if group:
        yield group


def _next_limit(limit: int, full: int) -> int:
    """The next group's size limit: half the full size after a smaller first group, then the full size."""
    return full // 2 if limit < full // 2 else full


def batch_groups(batches: Iterable["Batch"], max_batches: int = GROUP_FILES,
                 max_lines: int | None = None, first_max_lines: int | None = None) -> Iterator[list["Batch"]]:
    """Batches (e.g. database extracts, read lazily) in groups of at most ``max_batches`` and about
    ``max_lines`` lines (by default this process's limit, :func:`group_limits`; the first group about
    ``first_max_lines``, by default a tenth of that; the second half)."""
    max_lines = group_limits()[0] if max_lines is None else max_lines
    group: list = []
    lines = 0
    limit = max_lines // FIRST_GROUP_DIVISOR if first_max_lines is None else first_max_lines
    for batch in batches:
        group.append(batch)
        lines += batch.rows_read
        if len(group) >= max_batches or lines >= limit:
            yield group
            group, lines, limit = [], 0, _next_limit(limit, max_lines)
    if group:
        yield group
