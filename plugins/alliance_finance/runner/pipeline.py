"""One pipeline pass of a force, as the CLI and the DAG tasks run it, and (until the readers move to
``alliance_finance.sources``) how each source format finds and reads what is new.

The pass itself is :class:`~alliance_finance.runner.passes.ForcePass`; :func:`run_force` runs one
whole, :func:`force_pass` builds one for a DAG task to run a step at a time.

What is new:

- ASC: every delivery in ``<sources>/avon_somerset/inbound`` whose data file name is not in
  ``etl_batch``. A processed name whose bytes changed since (SHA-256) is *refused*, loudly: nothing
  is loaded from it and the run fails, naming the file and both digests.
- WP: every posted journal whose id is not in ``source_document_loaded`` (written in the same
  transaction as the journal's lines), so a journal is never read twice nor missed.

Rerunning a pass, or the whole history, changes nothing; loading night by night gives the same
warehouse as loading everything at once.

Readers are imported inside the functions that use them (pyarrow and the database drivers cost a
second to import, and a DAG file must parse without them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from alliance_finance.config.forces import force_by_code
from alliance_finance.config.settings import Settings
from alliance_finance.core import faults
from alliance_finance.core.errors import AllianceFinanceError, ProcessedFileChanged
from alliance_finance.runner.clock import StageClock
from alliance_finance.runner.flow import validate_and_load
from alliance_finance.runner.passes import ForcePass
from alliance_finance.runner.result import ForceRunResult
from alliance_finance.runner.validators import default_validator

if TYPE_CHECKING:  # pragma: no cover
    import sqlalchemy as sa

    from alliance_finance.core.ledger import Batch

_log = logging.getLogger(__name__)

ASC_INBOUND = Path("avon_somerset") / "inbound"
WP_DATABASE = Path("wiltshire") / "erp.db"


#: a group of deliveries read, validated together (one Great Expectations run of each suite, about 2 s
#: whatever its size) and then loaded batch by batch while the next group is read and validated: what
#: bounds memory. Measured on FY 2016 at scale 20: groups of a million lines left the loader idle
#: while a whole group was validated, then the reader idle while it was loaded (54 s for ASC);
#: 400,000 keeps both busy (docs/performance.md)
GROUP_FILES = 250
GROUP_LINES = 400_000
#: ASC data files are about 200 bytes a line: a group stops growing past this many bytes
GROUP_BYTES = GROUP_LINES * 200
#: the first group of a pass is this many times smaller, and the second half the full size: loading
#: (the database's share, the largest) starts after a second instead of after a whole group has been
#: read and validated, and waits less for the second group (FY 2016 at scale 20, forces side by
#: side: 25.4 s on average over five runs against 26.3 s with a full second group; doubling each group
#: up to the full size cost more Great Expectations runs than it saved, docs/performance.md)
FIRST_GROUP_DIVISOR = 10


class SourcesMissing(AllianceFinanceError):
    """The sources folder lacks the part a force needs (its inbound folder or its database)."""


@dataclasses.dataclass
class PendingWork:
    """What a run of one force would process now (nothing is read or loaded to find it)."""

    force_code: str
    #: where the force's sources are (the inbound folder, or the masked database URL)
    source: str
    #: ASC: deliveries not yet processed, in load order (``sap_files.Delivery``)
    deliveries: list = dataclasses.field(default_factory=list)
    #: processed deliveries whose bytes changed: refused, with the reason
    refused: list[str] = dataclasses.field(default_factory=list)

    @property
    def source_refs(self) -> list[str]:
        """The names of what will be processed (WP: one entry for the incremental extract)."""
        if self.force_code == "WP":
            return [f"posted journals not yet loaded from {self.source}"]
        return [d.name for d in self.deliveries]

    def to_dict(self) -> dict:
        """A small JSON-able summary (for an Airflow XCom)."""
        return {"force_code": self.force_code, "source": self.source,
                "source_refs": self.source_refs, "refused": list(self.refused)}


def loaded_journal_ids(engine: "sa.Engine", force_code: str = "WP") -> set[int]:
    """The source document ids (WP journal ids) the warehouse has recorded as loaded or quarantined."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    with engine.connect() as conn:
        # every run reads them all (five years: 318,000): on the driver's cursor, which takes half
        # the time of SQLAlchemy's rows
        cursor = conn.connection.cursor()
        try:
            cursor.execute(f"SELECT document_ref FROM source_document_loaded WHERE force_code = {mark}", (force_code,))
            return {int(row[0]) for row in cursor.fetchall()}
        finally:
            cursor.close()


def _processed_deliveries(engine: "sa.Engine", force_code: str) -> dict[str, list[tuple[int, str, str]]]:
    import sqlalchemy as sa

    processed: dict[str, list[tuple[int, str, str]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT source_ref, batch_id, digest, status FROM etl_batch "
            "WHERE force_code = :f AND business_date IS NOT NULL ORDER BY batch_id"), {"f": force_code})
        for source_ref, batch_id, digest, status in rows:
            processed.setdefault(source_ref, []).append((batch_id, digest, status))
    return processed


# --- the source side -------------------------------------------------------------------------------

def asc_inbound(sources: Path | None) -> Path:
    """``<sources>/avon_somerset/inbound``, or SourcesMissing saying what is missing where."""
    if sources is None:
        raise SourcesMissing("no --sources folder given (it holds avon_somerset/inbound/)")
    inbound = Path(sources) / ASC_INBOUND
    if not inbound.is_dir():
        raise SourcesMissing(f"no {ASC_INBOUND.as_posix()} under {sources}")
    return inbound


def wiltshire_source_url(sources: Path | None, wiltshire_url: str | None) -> str:
    """The Wiltshire ERP database: ``--wiltshire-url``, else ``<sources>/wiltshire/erp.db``."""
    if wiltshire_url:
        return wiltshire_url
    if sources is None:
        raise SourcesMissing("neither --wiltshire-url nor --sources (holding wiltshire/erp.db) given")
    database = Path(sources) / WP_DATABASE
    if not database.is_file():
        raise SourcesMissing(f"no {WP_DATABASE.as_posix()} under {sources} (or give --wiltshire-url)")
    return f"sqlite:///{database.resolve()}"


def pending_deliveries(force_code: str, sources: Path | None, warehouse_url: str,
                       wiltshire_url: str | None = None) -> PendingWork:
    """What a run of ``force_code`` would process now; refuses processed ASC files whose bytes changed.

    ASC lists the unprocessed deliveries by name. WP cannot know its new journals without reading
    the ERP, so it names the extract instead.
    """
    from alliance_finance.core.urls import mask_url
    from alliance_finance.warehouse.engine import make_engine

    if force_code == "WP":
        return PendingWork("WP", mask_url(wiltshire_source_url(sources, wiltshire_url)))
    _check_force(force_code)
    engine = make_engine(warehouse_url)
    try:
        return pending_asc(engine, asc_inbound(sources))
    finally:
        engine.dispose()


def pending_asc(engine: "sa.Engine", inbound: Path, digests: "FileDigests | None" = None) -> PendingWork:
    """The ASC deliveries in ``inbound`` not processed yet, and processed ones refused because they changed."""
    from alliance_finance.sources import sap_files
    processed = _processed_deliveries(engine, "ASC")
    work = PendingWork("ASC", str(inbound))
    digests = digests or FileDigests.for_folder(inbound)
    for delivery in sap_files.discover_deliveries(inbound):
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


class FileDigests:
    """The SHA-256 of processed delivery files, remembered with each file's identity.

    A processed delivery must never change (a run refuses one that did). Hashing every processed
    file again to know it made each night read the whole history: five years are 1,300 files and
    660 MB, most of a nightly run's reading. A file's digest is remembered here with its identity:
    device, inode, size, and the modification and inode-change times to the nanosecond. Writing to
    the file, truncating it, replacing it (a new inode), ``touch`` or ``chmod`` all change its
    inode-change time (ctime), which no system call lets a user set, so while the identity is the
    same the bytes are the same; a file whose identity changed in any way is hashed again (and
    refused if its bytes differ). The identity is taken before and after hashing and the digest is
    remembered only when both agree. Kept in ``VAR_DIR/inbound-digests/`` (one JSON file per inbound
    folder, replaced atomically); a lost or unreadable file only means hashing everything once more.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._entries: dict[str, list] = {}
        self._seen: set[str] = set()
        self._changed = False
        if path is not None and path.is_file():
            try:
                self._entries = {name: list(entry) for name, entry in json.loads(path.read_text()).items()
                                 if isinstance(entry, list) and len(entry) == 6}
            except (OSError, ValueError, AttributeError):
                self._entries = {}

    @classmethod
    def for_folder(cls, inbound: Path) -> "FileDigests":
        """The remembered digests of the files in ``inbound``."""
        import hashlib

        from alliance_finance.core.paths import VAR_DIR

        key = hashlib.sha256(str(Path(inbound).resolve()).encode()).hexdigest()[:16]
        return cls(VAR_DIR / "inbound-digests" / f"{key}.json")

    def digest(self, path: Path) -> str:
        """SHA-256 (hex) of the file's bytes: remembered while its identity is unchanged, else hashed."""
        from alliance_finance.sources.sap_files import file_digest

        name = str(path)
        self._seen.add(name)
        identity = _identity(path)
        known = self._entries.get(name)
        if known is not None and tuple(known[:5]) == identity:
            return known[5]
        digest = file_digest(path)
        self.remember(path, identity, digest)
        return digest

    def remember(self, path: Path, identity: tuple, digest: str) -> None:
        """Remember ``digest``, computed from the bytes read after ``identity`` was taken, if the file
        still has that identity (a reader that hashed the file anyway saves the next run a read)."""
        if _identity(path) == identity:
            self._entries[str(path)] = [*identity, digest]
            self._seen.add(str(path))
            self._changed = True

    def save(self) -> None:
        """Write the memory back (only what was seen this time: a removed file is forgotten)."""
        if self.path is None or not (self._changed or set(self._entries) - self._seen):
            return
        entries = {name: entry for name, entry in self._entries.items() if name in self._seen}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entries))
            temporary.replace(self.path)
        except OSError as exc:  # nothing is lost: the files are hashed again next time
            _log.warning("could not keep the processed files' digests in %s: %s", self.path, exc)


def _identity(path: Path) -> tuple[int, int, int, int, int]:
    status = os.stat(path)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def delivery_groups(deliveries: list, max_files: int = GROUP_FILES, max_bytes: int = GROUP_BYTES,
                    first_max_bytes: int | None = None) -> Iterator[list]:
    """Deliveries in load order, in groups of at most ``max_files`` files and about ``max_bytes`` bytes
    (the first group about ``first_max_bytes``, by default a tenth of that; the second half)."""
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
                 max_lines: int = GROUP_LINES, first_max_lines: int | None = None) -> Iterator[list["Batch"]]:
    """Batches (e.g. WP extracts, read lazily) in groups of at most ``max_batches`` and about ``max_lines``
    lines (the first group about ``first_max_lines``, by default a tenth of that; the second half)."""
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


# --- one pass ----------------------------------------------------------------------------------------

def force_pass(force_code: str, settings: Settings, **options) -> ForcePass:
    """The pass of ``force_code`` over ``settings``, with the reader of its source format; ``options``
    as for :class:`~alliance_finance.runner.passes.ForcePass` (validator, log, lock_wait_seconds)."""
    force = force_by_code(force_code, settings.forces_file)
    return ForcePass(force, settings, _reader_for(force, settings), **options)


def run_force(force_code: str, *, settings: Settings | None = None, sources: Path | None = None,
              warehouse_url: str | None = None, source_url: str | None = None, validator=None,
              log: logging.Logger | None = None, reference_dir: Path | None = None,
              lock_wait_seconds: float | None = None) -> ForceRunResult:
    """One pass for one force: prepare the warehouse, then load everything new under the force's lock.

    ``settings`` says where everything is; without it, one is built from the environment with
    ``sources``, ``warehouse_url``, ``source_url`` (this force's source database) and
    ``reference_dir`` in place. See :meth:`~alliance_finance.runner.passes.ForcePass.run`.
    """
    if settings is None:
        overrides: dict = {"sources_dir": sources, "warehouse": warehouse_url,
                           "source_urls": {force_code: source_url} if source_url else {}}
        if reference_dir is not None:
            overrides["reference_dir"] = reference_dir
        settings = Settings.from_environment(**overrides)
    return force_pass(force_code, settings, validator=validator, log=log, lock_wait_seconds=lock_wait_seconds).run()


def _run_asc(engine, sources, warehouse_url, validator, logger, result: ForceRunResult,
             clock: StageClock | None = None) -> None:
    from alliance_finance.sources import sap_files
    clock = clock or StageClock()
    inbound = asc_inbound(sources)
    digests = FileDigests.for_folder(inbound)
    with clock.timing("find"):
        pending = pending_asc(engine, inbound, digests)
    result.refused += pending.refused
    for reason in pending.refused:
        logger.error("refused %s", reason)
    if not pending.deliveries:
        logger.info("ASC: no new deliveries in %s", pending.source)
        return
    logger.info("ASC: %d new deliveries in %s", len(pending.deliveries), pending.source)

    def read(delivery):
        identity = _identity(delivery.data_path)
        batch = sap_files.read_delivery(delivery)
        digests.remember(delivery.data_path, identity, batch.digest)  # the next run need not hash it
        return batch

    groups = ([read(delivery) for delivery in faults.each("ASC.read", group)]
              for group in delivery_groups(pending.deliveries))
    try:
        result.outcomes += validate_and_load(engine, clock.timed("read", groups),
                                             lambda: validator or default_validator(warehouse_url), logger, clock=clock)
    finally:
        digests.save()


def _run_wp(engine, sources, warehouse_url, wiltshire_url, validator, logger, result: ForceRunResult,
            clock: StageClock | None = None) -> None:
    from alliance_finance.sources import erp_sql
    from alliance_finance.core.urls import mask_url

    clock = clock or StageClock()
    source_url = wiltshire_source_url(sources, wiltshire_url)
    with clock.timing("find"):
        loaded = loaded_journal_ids(engine, "WP")
    logger.info("WP: extracting posted journals from %s (%d already loaded)", mask_url(source_url), len(loaded))
    groups = batch_groups(faults.each("WP.read", erp_sql.extract_new_journals(source_url, loaded)))
    outcomes = validate_and_load(engine, clock.timed("read", groups),
                                 lambda: validator or default_validator(warehouse_url), logger, clock=clock)
    if not outcomes:
        logger.info("WP: no new posted journals")
    result.outcomes += outcomes


class _ReaderToday:
    """The :class:`~alliance_finance.runner.passes.SourceReader` of a force over the functions above,
    until ``alliance_finance.sources.registry.reader_for`` takes its place."""

    def __init__(self, force, settings: Settings):
        self.force = force
        self.settings = settings
        self._digests: FileDigests | None = None

    def _source_url(self) -> str:
        return wiltshire_source_url(self.settings.sources_dir, self.settings.source_urls.get(self.force.code))

    def pending(self, engine: "sa.Engine") -> PendingWork:
        from alliance_finance.core.urls import mask_url

        if self.force.source_format == "erp_sql":
            return PendingWork(self.force.code, mask_url(self._source_url()))
        inbound = asc_inbound(self.settings.sources_dir)
        self._digests = self._digests or FileDigests.for_folder(inbound)
        return pending_asc(engine, inbound, self._digests)

    def read_groups(self, engine: "sa.Engine", pending: PendingWork) -> Iterator[list["Batch"]]:
        code = self.force.code
        if self.force.source_format == "erp_sql":
            from alliance_finance.core.urls import mask_url
            from alliance_finance.sources import erp_sql

            source_url = self._source_url()
            loaded = loaded_journal_ids(engine, code)
            _log.info("%s: extracting posted journals from %s (%d already loaded)", code, mask_url(source_url),
                      len(loaded))
            return batch_groups(faults.each(f"{code}.read", erp_sql.extract_new_journals(source_url, loaded)))
        from alliance_finance.sources import sap_files

        digests = self._digests

        def read(delivery):
            identity = _identity(delivery.data_path)
            batch = sap_files.read_delivery(delivery)
            if digests is not None:
                digests.remember(delivery.data_path, identity, batch.digest)  # the next run need not hash it
            return batch

        return ([read(delivery) for delivery in faults.each(f"{code}.read", group)]
                for group in delivery_groups(pending.deliveries))

    def close(self) -> None:
        if self._digests is not None:
            self._digests.save()


def _reader_for(force, settings: Settings):
    return _ReaderToday(force, settings)


def _check_force(force_code: str) -> None:
    force_by_code(force_code)  # ForcesFileError naming the configured forces
