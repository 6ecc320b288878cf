"""One pipeline pass: everything new in a force's sources, extracted, validated, mapped and loaded.

``alliance-finance run`` (:func:`run_cli`) and the Airflow tasks call the same functions:

1. :func:`prepare_warehouse`: migrate to head, apply changed reference data (restating history)
   and changed finance seeds;
2. under the force's load lock (:mod:`.warehouse.locks`), in groups that bound memory by the group
   rather than the history (:data:`GROUP_FILES` deliveries / :data:`GROUP_LINES` lines):
   read (ASC ``sap_files``, WP ``erp_sql``) → validate the group in one Great Expectations run →
   load each batch in its own transaction (:mod:`.warehouse.load`).

What is new:

- ASC: every delivery in ``<sources>/avon_somerset/inbound`` whose data file name is not in
  ``etl_batch``. A processed name whose bytes changed since (SHA-256) is *refused*, loudly: nothing
  is loaded from it and the run fails, naming the file and both digests.
- WP: every posted journal whose id is not in ``source_document_loaded`` (written in the same
  transaction as the journal's lines), so a journal is never read twice nor missed.

Rerunning a pass, or the whole history, changes nothing; loading night by night gives the same
warehouse as loading everything at once.

Readers and validation are imported inside the functions that use them (Great Expectations costs
seconds to import).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from alliance_finance.core import faults
from alliance_finance.core.errors import AllianceFinanceError, ProcessedFileChanged, TransientError
from alliance_finance.core.money import format_gbp

if TYPE_CHECKING:  # pragma: no cover
    import sqlalchemy as sa

    from alliance_finance.core.ledger import Batch
    from alliance_finance.warehouse.load import LoadOutcome

_log = logging.getLogger(__name__)

FORCES = ("ASC", "WP")
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


class StageClock:
    """Seconds a run spends in each stage, totalled over its groups and batches (thread-safe).

    Stages, in the order a pass meets them: ``prepare`` (migrations, reference data, finance seeds),
    ``find`` (what is new: the processed ASC files hashed again, the WP journal ids loaded), ``read``
    (the readers), ``gx_start`` (importing Great Expectations and opening its context, once per
    run), ``validate`` (building the frames and running the suites), ``publish`` (the results and
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


@dataclasses.dataclass
class ForceRunResult:
    """What one force's pass did: every batch's outcome, and anything refused."""

    force_code: str
    outcomes: list = dataclasses.field(default_factory=list)  # list[LoadOutcome]
    refused: list[str] = dataclasses.field(default_factory=list)
    lines_restated: int = 0
    #: seconds spent per stage (:class:`StageClock`), and the pass's own wall-clock seconds
    stage_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def loaded(self) -> list:
        return [o for o in self.outcomes if o.loaded]

    @property
    def rejected(self) -> list:
        return [o for o in self.outcomes if not o.loaded]

    @property
    def batches_superseded(self) -> int:
        return sum(len(o.superseded) for o in self.outcomes)

    @property
    def lines_loaded(self) -> int:
        return sum(o.rows_loaded for o in self.loaded)

    @property
    def lines_quarantined(self) -> int:
        return sum(o.rows_quarantined for o in self.loaded)

    @property
    def debit_pence(self) -> int:
        return sum(o.debit_pence for o in self.loaded)

    @property
    def credit_pence(self) -> int:
        return sum(o.credit_pence for o in self.loaded)

    @property
    def ok(self) -> bool:
        """True when everything offered was loaded (nothing rejected, nothing refused)."""
        return not self.rejected and not self.refused

    def summary(self) -> str:
        """The operator's summary: counts, exact totals, and each rejection or refusal with its reason."""
        if not self.outcomes and not self.refused:
            return f"{self.force_code}: nothing new to load"
        text = [
            f"{self.force_code}: {len(self.loaded):,} batch{'es' if len(self.loaded) != 1 else ''} loaded, "
            f"{len(self.rejected):,} rejected, {self.batches_superseded:,} superseded; "
            f"{self.lines_loaded:,} lines loaded, {self.lines_quarantined:,} quarantined; "
            f"debit {format_gbp(self.debit_pence, pence_shown=True)}, "
            f"credit {format_gbp(self.credit_pence, pence_shown=True)}"
        ]
        text += [f"  rejected {_named(o.source_ref, o.error)}" for o in self.rejected]
        text += [f"  refused {reason}" for reason in self.refused]
        return "\n".join(text)


# --- the warehouse side ----------------------------------------------------------------------------

def prepare_warehouse(warehouse: "str | sa.Engine", reference_dir: Path | None = None) -> int:
    """Migrate to head, apply changed reference data and finance seeds; returns lines restated."""
    from alliance_finance.warehouse import mapping, migrate

    engine, owned = _engine(warehouse)
    try:
        migrate.upgrade(engine)
        restated = mapping.sync_reference(engine, reference_dir).lines_restated
        _sync_finance_seeds(engine)
        return restated
    finally:
        if owned:
            engine.dispose()


def _sync_finance_seeds(engine) -> None:
    import importlib.util

    if importlib.util.find_spec("alliance_finance.marts.finance") is None:
        return
    from alliance_finance.marts import finance
    from alliance_finance.warehouse import locks

    if not hasattr(finance, "sync_finance_seeds"):
        return
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="immediate")
        with conn.begin():
            # seeds feed views, not the mapping: two runs reloading them queue here, loads do not
            locks.pg_xact_lock(conn, locks.MIGRATION_KEY)
            if finance.sync_finance_seeds(conn):
                _log.info("finance seeds reloaded")


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


# --- validation ------------------------------------------------------------------------------------

def data_docs_dir(warehouse_url: str) -> Path:
    """Where Data Docs go: beside a SQLite warehouse file, else under var/."""
    from alliance_finance.core.paths import VAR_DIR
    from alliance_finance.core.urls import normalise_url

    url = normalise_url(warehouse_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / "data_docs"
    return VAR_DIR / "data_docs"


def default_validator(warehouse_url: str):
    """The Great Expectations validator for a run (one GX context per run)."""
    import importlib.util

    if importlib.util.find_spec("alliance_finance.validation") is None:
        # the validation module arrives with its own issue; until then the readers' checks stand
        _log.warning("alliance_finance.validation is not built yet: batches are checked by their readers only")
        return _ReadersOnly()
    from alliance_finance.validation import Validator

    return Validator(data_docs_dir=data_docs_dir(warehouse_url))


class _ReadersOnly:
    def validate(self, batches):
        return [None for _ in batches]


# --- one pass ----------------------------------------------------------------------------------------

def run_force(force_code: str, *, sources: Path | None, warehouse_url: str, wiltshire_url: str | None = None,
              validator=None, log: logging.Logger | None = None, reference_dir: Path | None = None,
              lock_wait_seconds: float | None = None) -> ForceRunResult:
    """One pass for one force: prepare the warehouse, then load everything new under the force's lock.

    Rejected batches and refused files are in the result (``result.ok`` is False); a failure of the
    run itself raises: :class:`~alliance_finance.core.errors.ConcurrentRunError` (lock held),
    :class:`SourcesMissing`, :class:`~alliance_finance.core.errors.SourceSchemaError`, or
    :class:`~alliance_finance.core.errors.TransientError` when the warehouse cannot be reached.
    """
    import sqlalchemy as sa

    from alliance_finance.warehouse import locks
    from alliance_finance.core.urls import mask_url
    from alliance_finance.warehouse.engine import make_engine

    _check_force(force_code)
    logger = log or _log
    started = time.perf_counter()
    clock = StageClock()
    engine = make_engine(warehouse_url)
    try:
        _reachable(engine, warehouse_url)
        result = ForceRunResult(force_code)
        with clock.timing("prepare"):
            result.lines_restated = prepare_warehouse(engine, reference_dir)
        if result.lines_restated:
            logger.info("reference data changed: %d ledger lines restated", result.lines_restated)
        wait = locks.DEFAULT_WAIT_SECONDS if lock_wait_seconds is None else lock_wait_seconds
        with locks.force_load_lock(engine, force_code, wait_seconds=wait):
            if force_code == "ASC":
                _run_asc(engine, sources, warehouse_url, validator, logger, result, clock)
            else:
                _run_wp(engine, sources, warehouse_url, wiltshire_url, validator, logger, result, clock)
        result.stage_seconds, result.seconds = dict(clock.seconds), time.perf_counter() - started
        logger.info("%s", result.summary())
        logger.info("%s stage seconds (run %.2fs): %s", force_code, result.seconds, clock.describe())
        return result
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # the source readers name their own databases (erp_sql), so what is left is the warehouse
        lost = "unreachable" if exc.connection_invalidated else "failed"
        raise TransientError(
            f"warehouse {mask_url(warehouse_url)} {lost} mid-run: {_first_line(exc)}; the batches committed "
            "before stay loaded and the one in flight was rolled back: run again") from exc
    finally:
        engine.dispose()


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


def validate_and_load(engine: "sa.Engine", groups: Iterable[list["Batch"]], make_validator,
                      logger: logging.Logger | None = None, *, clock: StageClock | None = None
                      ) -> list["LoadOutcome"]:
    """Validate each group of batches in one run and load its batches in order, one transaction each.

    Three things happen at once: group N loads in one thread (mostly waiting on the database), group
    N+1 is validated (Great Expectations: Python), and group N+2 is read in another thread (the
    readers spend most of their time in pyarrow, numpy and the database driver, which let Python's
    other threads run). Loads stay in order (a group starts loading only after the previous one
    finished), and at most three groups are in memory. A reading error reaches this function when
    its group would have been validated. The validator is made when the first group arrives (none is
    made when there is nothing to do). The caller holds the force's load lock. ``clock`` counts the
    seconds of each stage (:class:`StageClock`).
    """
    from concurrent.futures import ThreadPoolExecutor

    clock = clock or StageClock()
    outcomes: list = []
    validator = None
    reading = _ReadAhead(groups, clock)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alliance-load") as pool:
        loading = None
        try:
            for batches in reading:
                validator = validator or make_validator()
                if batches:
                    faults.reached(f"{batches[0].force_code}.validate")
                    before = dict(getattr(validator, "stage_seconds", {}))
                    with clock.timing("validate"):
                        validator.validate(batches)
                    clock.add_from(getattr(validator, "stage_seconds", {}), before, taken_from="validate")
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


class _ReadAhead:
    """Iterates ``groups`` in a thread of its own, one group ahead of the consumer.

    The source iterator is advanced, and closed, only by that thread (a SQLite connection may not
    leave the thread that opened it). An exception raised while reading is raised to the consumer
    in its turn; closing stops the reading at the next group.
    """

    _END = object()

    def __init__(self, groups: Iterable, clock: StageClock):
        import queue

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
        import queue

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
        import queue

        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)  # unblock a reader waiting to hand over a group
            except queue.Empty:
                pass
        self._thread.join()


def load_validated(engine: "sa.Engine", batches: list["Batch"], validator, logger: logging.Logger | None = None
                   ) -> list["LoadOutcome"]:
    """Validate a group of batches in one run, then load each in its own transaction, in order.

    The caller holds the force's load lock (:func:`run_force` does).
    """
    if batches:
        validator.validate(batches)
    return load_batches(engine, batches, logger)


def load_batches(engine: "sa.Engine", batches: list["Batch"], logger: logging.Logger | None = None, *,
                 clock: StageClock | None = None) -> list["LoadOutcome"]:
    """Load validated batches, each in its own transaction, in order; log each at INFO (ERROR if rejected)."""
    from alliance_finance.warehouse.load import BatchLoader

    logger = logger or _log
    outcomes = []
    loader = BatchLoader(engine)
    try:
        with loader:
            for batch in batches:
                batch.raw = None  # validated: the raw columns are not needed any more
                outcome = loader.load(batch)
                faults.reached(f"{batch.force_code}.load.committed")
                (logger.info if outcome.loaded else logger.error)("%s", outcome.describe())
                outcomes.append(outcome)
    finally:
        if clock is not None:
            clock.add_from(loader.stage_seconds)
    return outcomes


# --- the command ---------------------------------------------------------------------------------------

def run_cli(sources: Path | None, warehouse_url: str, force: str | None, wiltshire_url: str | None,
            *, parallel: bool = False) -> int:
    """``alliance-finance run``: migrate, run ASC then WP (or the one ``force``), print a summary per force.

    ``parallel``: run the two forces at the same time, each in a process of its own, as their two
    DAGs run in production (see :func:`_run_side_by_side`). Exit 0 when everything offered was
    loaded; 1 when any batch was rejected, a file refused, or a run failed (the message names the
    file or journal and the reason). URLs are always masked.
    """
    from alliance_finance.warehouse import migrate
    from alliance_finance.core.urls import mask_secrets, mask_url

    urls = [u for u in (warehouse_url, wiltshire_url) if u]
    if sources is not None and not Path(sources).is_dir():
        print(f"alliance-finance run: the sources folder {sources} does not exist", file=sys.stderr)
        return 1
    forces = [force] if force else ([f for f in FORCES] if sources is not None else ["WP"])
    try:
        revision = migrate.upgrade(warehouse_url)
    except Exception as exc:  # noqa: BLE001 - reported, masked, as a failed run
        print(f"alliance-finance run: warehouse {mask_url(warehouse_url)} could not be brought up to date: "
              f"{mask_secrets(_first_line(exc), urls)}", file=sys.stderr)
        return 1
    print(f"warehouse {mask_url(warehouse_url)} at revision {revision}", flush=True)
    if parallel and len(forces) > 1:
        return _run_side_by_side(forces, sources, warehouse_url, wiltshire_url)
    exit_code = 0
    validator = _RunValidator(warehouse_url)  # one Great Expectations context for both forces
    try:
        for force_code in forces:
            exit_code = max(exit_code, _run_and_report(force_code, sources, warehouse_url, wiltshire_url, validator))
    finally:
        validator.close()
    return exit_code


def _run_and_report(force_code: str, sources: Path | None, warehouse_url: str, wiltshire_url: str | None,
                    validator) -> int:
    """One force's pass for the command line: its summary printed, 0 if everything offered was
    loaded, else 1 (a failure is printed, masked, and does not stop the other force)."""
    from alliance_finance.core.urls import mask_secrets

    urls = [u for u in (warehouse_url, wiltshire_url) if u]
    try:
        result = run_force(force_code, sources=sources, warehouse_url=warehouse_url,
                           wiltshire_url=wiltshire_url, validator=validator)
    except Exception as exc:  # noqa: BLE001 - one force failing does not stop the other
        if not isinstance(exc, AllianceFinanceError):
            _log.debug("run of %s failed", force_code, exc_info=True)
        print(f"{force_code}: run failed: {mask_secrets(_first_line(exc), urls)}", file=sys.stderr, flush=True)
        return 1
    print(mask_secrets(result.summary(), urls), flush=True)
    return 0 if result.ok else 1


def _run_side_by_side(forces: list[str], sources: Path | None, warehouse_url: str, wiltshire_url: str | None) -> int:
    """Each force's pass in a process of its own, all at once (``alliance-finance run --parallel``).

    The forces share nothing but the warehouse, which takes each force's load lock separately (the
    two force DAGs run like this every night), so on a machine with two or more cores one force's
    Python work (reading, Great Expectations) runs beside the other's and beside the database's
    loading. Where the system can fork (Linux), the readers, Great Expectations and the loader are
    imported once, here, before the processes fork (two seconds of CPU saved, and the larger force's
    loading starts that much sooner); this process has no thread and no open connection at that
    point. Elsewhere each process is started fresh (``spawn``) and imports them itself. Each process
    has its own Great Expectations context; the last one to finish brings the Data Docs up to date
    for both. They write to the same stdout and stderr, and are stopped if this process is
    interrupted. Exit 1 if either force's pass did not load everything offered or its process died.
    """
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
        import great_expectations  # noqa: F401 - inherited by both processes

        from alliance_finance import validation  # noqa: F401
        from alliance_finance.sources import erp_sql, sap_files  # noqa: F401
        from alliance_finance.warehouse import load  # noqa: F401
    else:
        context = multiprocessing.get_context("spawn")
    sys.stdout.flush()
    sys.stderr.flush()
    finishing = context.Value("i", len(forces))  # passes still running; the last builds Data Docs
    validated = context.Value("i", 0)  # set by a pass that stored validation results
    level = logging.getLogger().getEffectiveLevel()
    processes = {force_code: context.Process(
        target=_force_process, name=f"alliance-run-{force_code}",
        args=(force_code, sources, warehouse_url, wiltshire_url, level, finishing, validated))
        for force_code in forces}
    exit_code = 0
    import signal

    def stop(signum, frame):  # SIGTERM (a scheduler or an operator stopping the run): stop the passes too
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        for process in processes.values():
            process.start()
        for force_code, process in processes.items():
            process.join()
            if process.exitcode != 0:
                exit_code = 1
                if process.exitcode is not None and process.exitcode < 0:
                    print(f"{force_code}: run process ended by signal {-process.exitcode}; its batch in flight "
                          "was rolled back: run again", file=sys.stderr, flush=True)
    finally:
        for process in processes.values():
            if process.is_alive():  # this process was interrupted: so are the passes (each rolls back its
                process.terminate()  # batch in flight; the next run offers it again)
                process.join()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return exit_code


def _force_process(force_code: str, sources: Path | None, warehouse_url: str, wiltshire_url: str | None,
                   level: int, finishing, validated) -> None:
    """The body of one process of :func:`_run_side_by_side`: exits 0 or 1 as the force's pass did."""
    import signal

    from alliance_finance.runner.logs import configure_logging

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stopped by the parent: at once (the batch in flight rolls back)
    configure_logging(verbose=level <= logging.DEBUG)
    validator = _RunValidator(warehouse_url)
    code = 1
    try:
        code = _run_and_report(force_code, sources, warehouse_url, wiltshire_url, validator)
    finally:
        with finishing.get_lock():
            if validator.started:
                validated.value = 1
            finishing.value -= 1
            last = finishing.value == 0
        # Data Docs once, by the last pass to finish, over every result stored (both forces')
        validator.close(build_docs=last and bool(validated.value))
    sys.exit(code)


class _RunValidator:
    """The validator of a whole run, made on first use: one GX context (seconds to start) serves
    every force, and none is started when nothing is new. The Data Docs are brought up to date once,
    when the run closes it, rather than after every group (half a second each)."""

    def __init__(self, warehouse_url: str):
        self._warehouse_url = warehouse_url
        self._validator = None

    @property
    def started(self) -> bool:
        """Whether anything was validated (so results were stored)."""
        return self._validator is not None

    def validate(self, batches):
        if self._validator is None:
            self._validator = default_validator(self._warehouse_url)
            if hasattr(self._validator, "build_docs"):
                self._validator.build_docs = False
        return self._validator.validate(batches)

    @property
    def stage_seconds(self) -> dict[str, float]:
        return getattr(self._validator, "stage_seconds", {})

    def close(self, *, build_docs: bool | None = None) -> None:
        """Bring the Data Docs up to date and close the GX context. ``build_docs``: by default when
        this validator validated anything; True also builds them for another process's results."""
        if build_docs is None:
            build_docs = self._validator is not None
        if self._validator is None and not build_docs:
            return
        try:
            if build_docs:
                if self._validator is None:
                    if not self._stored_results_exist():
                        return
                    self._validator = default_validator(self._warehouse_url)
                if hasattr(self._validator, "build_data_docs"):
                    started = time.perf_counter()
                    index = self._validator.build_data_docs()
                    if index is not None:
                        _log.info("Data Docs brought up to date in %.2fs: %s", time.perf_counter() - started, index)
        except Exception as exc:  # noqa: BLE001 - the batches are loaded and their results stored
            _log.error("Data Docs could not be brought up to date (%s); the next run renders the stored "
                       "results", _first_line(exc))
        finally:
            if self._validator is not None and hasattr(self._validator, "close"):
                self._validator.close()

    def _stored_results_exist(self) -> bool:
        return (data_docs_dir(self._warehouse_url) / "results" / "gx").is_dir()


def _check_force(force_code: str) -> None:
    if force_code not in FORCES:
        raise ValueError(f"unknown force {force_code!r}: expected one of {', '.join(FORCES)}")


def _engine(warehouse):
    import sqlalchemy as sa

    from alliance_finance.warehouse.engine import make_engine

    if isinstance(warehouse, sa.Engine):
        return warehouse, False
    return make_engine(warehouse), True


def _reachable(engine, url: str) -> None:
    import sqlalchemy as sa

    from alliance_finance.core.urls import mask_url

    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        raise TransientError(f"warehouse {mask_url(url)} unreachable: {_first_line(exc)}") from exc


def _named(source_ref: str, reason: str | None) -> str:
    """``"<file>: <reason>"``, without naming the file twice when the reason already starts with it."""
    reason = reason or "no reason recorded"
    return reason if reason.startswith(source_ref) else f"{source_ref}: {reason}"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

