"""The ``sap_files`` reader of one force: its inbound folder's new deliveries, read in groups.

What is new: every delivery in ``<sources>/<source.inbound>`` whose data file name is not in
``etl_batch``. A processed name whose bytes changed since (SHA-256) is *refused*, loudly: nothing is
loaded from it and the run fails, naming the file and both digests. The digests of processed files
are remembered (:class:`~.digests.FileDigests`) so that a night's run does not hash the history.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.core import faults
from alliance_finance.core.errors import ProcessedFileChanged
from alliance_finance.sources.base import PendingWork, SourcesMissing, delivery_groups
from alliance_finance.sources.sap_files.deliveries import discover_deliveries
from alliance_finance.sources.sap_files.digests import FileDigests, file_identity
from alliance_finance.sources.sap_files.layout import SapLayout

if TYPE_CHECKING:  # pragma: no cover
    from alliance_finance.config.settings import Settings
    from alliance_finance.core.ledger import Batch


class SapFilesReader:
    """One force's SAP file deliveries (``source``: ``inbound``, ``file_prefix``, ``company_codes``,
    ``cost_centre_prefix``)."""

    def __init__(self, force: ForceConfig, settings: "Settings"):
        self.force = force
        self.settings = settings
        self.layout = SapLayout.of(force)
        self._digests: FileDigests | None = None

    @property
    def inbound(self) -> Path:
        """``<sources>/<source.inbound>``, or SourcesMissing saying what is missing where."""
        relative = self.force.source["inbound"]
        sources = self.settings.sources_dir
        if sources is None:
            raise SourcesMissing(f"no --sources folder given (it holds {relative}/)")
        inbound = Path(sources) / relative
        if not inbound.is_dir():
            raise SourcesMissing(f"no {Path(relative).as_posix()} under {sources}")
        return inbound

    @property
    def digests(self) -> FileDigests:
        if self._digests is None:
            self._digests = FileDigests.for_folder(self.inbound, self.settings.var_dir)
        return self._digests

    def pending(self, engine: sa.Engine) -> PendingWork:
        """The deliveries not processed yet, and processed ones refused because they changed."""
        inbound = self.inbound
        return pending_deliveries(engine, self.force.code, inbound, self.layout, self.digests)

    def read_groups(self, engine: sa.Engine, pending: PendingWork) -> Iterator[list["Batch"]]:
        """The pending deliveries read, in load order, in groups (:func:`~..base.delivery_groups`);
        each file's digest is remembered as it is read, so that the next run need not hash it."""
        if not pending.deliveries:
            return
        # deferred on purpose: reading brings pyarrow and numpy, which a night with nothing new never needs
        from alliance_finance.sources.sap_files.read import read_delivery

        digests = self.digests
        for group in delivery_groups(pending.deliveries):
            batches = []
            for delivery in faults.each(f"{self.force.code}.read", group):
                identity = file_identity(delivery.data_path)
                batch = read_delivery(delivery)
                digests.remember(delivery.data_path, identity, batch.digest)
                batches.append(batch)
            yield batches

    def close(self) -> None:
        if self._digests is not None:
            self._digests.save()


def pending_deliveries(engine: sa.Engine, force_code: str, inbound: Path, layout: SapLayout,
                       digests: FileDigests | None = None) -> PendingWork:
    """The deliveries in ``inbound`` not processed yet, and processed ones refused because they changed."""
    processed = _processed_deliveries(engine, force_code)
    work = PendingWork(force_code, str(inbound))
    digests = digests or FileDigests.for_folder(inbound)
    for delivery in discover_deliveries(inbound, layout):
        earlier = processed.get(delivery.name)
        if not earlier:
            work.deliveries.append(delivery)
            continue
        # the bytes of a processed delivery must never change: its SHA-256 is checked every run
        # (hashed again whenever the file is not provably untouched: see FileDigests)
        digest = digests.digest(delivery.data_path)
        if all(d != digest for _, d, _ in earlier):
            batch_id, old_digest, status = earlier[-1]
            work.refused.append(str(ProcessedFileChanged(
                f"{delivery.name}: already processed (batch {batch_id}, {status}) with SHA-256 {old_digest}, "
                f"but the file now has SHA-256 {digest}. A processed delivery never changes: nothing was "
                "loaded from it; SAP must re-deliver the day with a higher sequence")))
    digests.save()
    return work


def _processed_deliveries(engine: sa.Engine, force_code: str) -> dict[str, list[tuple[int, str, str]]]:
    """Data file name -> (batch id, digest, status) of each batch the warehouse made of it, in order."""
    processed: dict[str, list[tuple[int, str, str]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT source_ref, batch_id, digest, status FROM etl_batch "
            "WHERE force_code = :f AND business_date IS NOT NULL ORDER BY batch_id"), {"f": force_code})
        for source_ref, batch_id, digest, status in rows:
            processed.setdefault(source_ref, []).append((batch_id, digest, status))
    return processed
