"""``alliance-finance reconcile``: is every journal loaded from an ERP database still what the ERP says?

SOURCES.md promises that a posted journal is never edited (it is corrected by reversal), and the
incremental extract relies on it: a journal id, once loaded, is never read again (``erp_sql``). An
edit after posting, or a posted journal that vanishes, would therefore go unseen by the nightly run.
This check finds them, for each force of ``dags/forces.yaml`` whose ``source_format`` is ``erp_sql``
(or the one named). It reads the posted journals again through the same reader as the load (all
of them, or those posted since a date: reading history costs what the first load's reading cost),
and compares, journal by journal, what the warehouse holds:

- a journal loaded: each line's reference, period, posting date, cost centre, natural account,
  amount in pence, source and texts, against the lines the reader makes of the ERP now;
- a journal quarantined: its number of lines;
- a journal recorded as loaded that the ERP no longer holds as posted.

Nothing is changed: a journal edited after posting is a finance question (post a reversal and a
new journal, which the next run loads), not something to overwrite silently. Exit 1 names each
journal and what differs; exit 0 when every journal checked agrees.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from typing import Iterable

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.config.settings import Settings
from alliance_finance.core.errors import AllianceFinanceError, TransientError
from alliance_finance.core.money import format_pence
from alliance_finance.core.urls import mask_secrets, mask_url
from alliance_finance.sources.erp_sql import ErpLayout, extract_new_journals
from alliance_finance.sources.erp_sql.connection import _source_engine
from alliance_finance.sources.erp_sql.reader import source_url
from alliance_finance.warehouse.engine import make_engine

#: the source format whose journals this checks: the one whose extract never reads a loaded journal again
FORMAT = "erp_sql"

#: the columns of an ERP line that identify what was loaded (batch ids and line numbers in the file aside)
LINE_COLUMNS = ("source_line_ref", "fiscal_year", "period", "posting_date", "cost_centre", "local_account",
                "amount_pence", "document_type", "line_text", "vendor", "reference")

_CHUNK = 900


@dataclasses.dataclass
class JournalMismatch:
    journal_id: str
    what: str

    def __str__(self) -> str:
        return f"journal {self.journal_id}: {self.what}"


@dataclasses.dataclass
class Reconciliation:
    force_code: str
    journals_checked: int = 0
    mismatches: list[JournalMismatch] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        head = (f"{self.force_code}: {self.journals_checked:,} recorded journal{'s' if self.journals_checked != 1 else ''} "
                f"(loaded or quarantined) checked against the ERP, {len(self.mismatches):,} differ")
        return "\n".join([head] + [f"  {m}" for m in self.mismatches])


def reconcile_force(engine: sa.Engine, force: ForceConfig, source_url: str, *,
                    posted_since: dt.date | None = None) -> Reconciliation:
    """Compare the journals the warehouse recorded for ``force`` (an ``erp_sql`` force) with the
    posted journals of its ERP at ``source_url`` now.

    ``posted_since`` limits the check to journals posted on or after that day (a nightly window);
    without it every recorded journal is checked.
    """
    if force.source_format != FORMAT:
        raise AllianceFinanceError(f"force {force.code} reads {force.source_format}, not {FORMAT}: "
                                   "it has no posted journals to reconcile")
    code = force.code
    result = Reconciliation(code)
    recorded = _recorded_journals(engine, code)
    if not recorded:
        return result
    posted = _posted_ids(source_url)
    wanted = set(recorded) if posted_since is None else {
        str(j) for j in _posted_ids(source_url, posted_since)} & recorded
    # the reader reads every posted journal it is not told is loaded: tell it all but the wanted ones
    seen: set[str] = set()
    for batch in extract_new_journals(source_url, posted - {int(j) for j in wanted}, layout=ErpLayout.of(force)):
        source_lines: dict[str, list[tuple]] = {}
        for row in batch.lines.select(list(LINE_COLUMNS)).to_pylist():
            source_lines.setdefault(row["source_line_ref"].split("/")[0], []).append(tuple(row.values()))
        counts: dict[str, int] = {}
        reasons: dict[str, str] = {}
        for entry in batch.quarantine:
            counts[entry.document_ref] = counts.get(entry.document_ref, 0) + 1
            reasons.setdefault(entry.document_ref, entry.reason)
        journals = sorted(set(source_lines) | set(counts))
        seen.update(journals)
        warehouse_lines = _warehouse_lines(engine, code, [j for j in journals if j in recorded])
        quarantined = _quarantined_counts(engine, code, [j for j in journals if j in recorded])
        for journal in journals:
            if journal not in recorded:
                continue  # posted but not loaded yet: the next run loads it
            result.journals_checked += 1
            result.mismatches += _compare(journal, sorted(source_lines.get(journal, [])),
                                          sorted(warehouse_lines.get(journal, [])), counts.get(journal, 0),
                                          quarantined.get(journal, 0), reasons.get(journal))
    for journal in sorted(wanted - seen, key=int):
        result.journals_checked += 1
        result.mismatches.append(JournalMismatch(journal, "recorded as loaded, but the ERP no longer holds it as a "
                                                          "posted journal (deleted or unposted after posting)"))
    return result


def _compare(journal: str, source: list[tuple], warehouse: list[tuple], source_quarantined: int,
             warehouse_quarantined: int, reason: str | None) -> list[JournalMismatch]:
    if warehouse_quarantined:
        lines_now = len(source) + source_quarantined
        if lines_now != warehouse_quarantined:
            return [JournalMismatch(journal, f"quarantined with {warehouse_quarantined} line(s), the ERP now holds "
                                             f"{lines_now}")]
        if source and not source_quarantined:
            return [JournalMismatch(journal, "quarantined when it was read, but the ERP's journal now passes the "
                                             "reader's checks (edited after posting): it stays out of the ledger "
                                             "until finance reverses and re-posts it")]
        return []
    if source_quarantined:
        return [JournalMismatch(journal, f"loaded with {len(warehouse)} line(s), but the ERP's journal now fails "
                                         f"the reader's checks: {reason}")]
    if source == warehouse:
        return []
    differences = []
    source_by_ref = {line[0]: line for line in source}
    warehouse_by_ref = {line[0]: line for line in warehouse}
    for ref in sorted(set(source_by_ref) | set(warehouse_by_ref)):
        now, loaded = source_by_ref.get(ref), warehouse_by_ref.get(ref)
        if now is None:
            differences.append(f"line {ref} loaded but gone from the ERP")
        elif loaded is None:
            differences.append(f"line {ref} in the ERP but never loaded")
        elif now != loaded:
            changed = [f"{name} {_show(name, was)} -> {_show(name, is_)}"
                       for name, was, is_ in zip(LINE_COLUMNS, loaded, now) if was != is_]
            differences.append(f"line {ref}: " + ", ".join(changed))
    return [JournalMismatch(journal, "edited after posting: " + "; ".join(differences[:5])
                            + (f"; and {len(differences) - 5} more" if len(differences) > 5 else ""))]


def _show(name: str, value) -> str:
    if name == "amount_pence" and isinstance(value, int):
        return format_pence(value)
    return repr(value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "…")


def _recorded_journals(engine: sa.Engine, force_code: str) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text(
            "SELECT document_ref FROM source_document_loaded WHERE force_code = :force"), {"force": force_code})}


def _posted_ids(source_url: str, since: dt.date | None = None) -> set[int]:
    """The ids of the ERP's posted journals (posted on or after ``since``)."""
    # the extract's engine: no pool, and a missing SQLite file is refused rather than created empty
    engine = _source_engine(source_url, f"ERP database {mask_url(source_url)}")
    try:
        journal = sa.table("gl_journal", sa.column("journal_id"), sa.column("status"), sa.column("posted_at"))
        query = sa.select(journal.c.journal_id, journal.c.status).where(journal.c.status == "P")
        if since is not None:
            query = query.where(journal.c.posted_at >= since.isoformat())
        with engine.connect() as conn:
            return {int(i) for i, status in conn.execute(query) if status == "P"}
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise TransientError(f"ERP database {mask_url(source_url)} unreachable: "
                             f"{str(exc.orig or exc).splitlines()[0]}") from exc
    finally:
        engine.dispose()


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _warehouse_lines(engine: sa.Engine, force_code: str, journals: list[str]) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    statement = sa.text(f"SELECT document_ref, {', '.join(LINE_COLUMNS)} FROM fact_ledger_line "
                        "WHERE force_code = :force AND document_ref IN :docs").bindparams(
        sa.bindparam("docs", expanding=True))
    with engine.connect() as conn:
        for chunk in _chunks(journals):
            for row in conn.execute(statement, {"force": force_code, "docs": chunk}):
                values = list(row[1:])
                date = values[LINE_COLUMNS.index("posting_date")]
                if isinstance(date, str):  # SQLite keeps dates as text
                    values[LINE_COLUMNS.index("posting_date")] = dt.date.fromisoformat(date)
                found.setdefault(row[0], []).append(tuple(values))
    return found


def _quarantined_counts(engine: sa.Engine, force_code: str, journals: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    statement = sa.text("SELECT document_ref, COUNT(*) FROM quarantine_line WHERE force_code = :force "
                        "AND document_ref IN :docs GROUP BY document_ref").bindparams(
        sa.bindparam("docs", expanding=True))
    with engine.connect() as conn:
        for chunk in _chunks(journals):
            counts.update({r[0]: int(r[1]) for r in conn.execute(statement, {"force": force_code, "docs": chunk})})
    return counts


def reconcile_cli(settings: Settings, force: str | None = None, posted_since: dt.date | None = None) -> int:
    """``alliance-finance reconcile``: the check of each ``erp_sql`` force (or of ``force``), a summary
    printed per force; exit 1 when a journal differs or a force's check cannot run (the others still run)."""
    forces = [f for f in settings.forces() if f.source_format == FORMAT and force in (None, f.code)]
    if force is not None and not forces:
        print(f"alliance-finance reconcile: force {force} does not read {FORMAT}: no posted journals to reconcile",
              file=sys.stderr)
        return 1
    if settings.sources_dir is None:  # without a sources folder, only the forces given a database URL
        forces = [f for f in forces if f.code in settings.source_urls]
    secrets = [settings.warehouse_url, *settings.source_urls.values()]
    exit_code = 0
    engine = make_engine(settings.warehouse_url)
    try:
        for config in forces:
            try:
                result = reconcile_force(engine, config, source_url(config, settings), posted_since=posted_since)
            except (AllianceFinanceError, sa.exc.SQLAlchemyError, OSError) as exc:
                print(f"alliance-finance reconcile: {config.code}: {mask_secrets(str(exc).splitlines()[0], secrets)}",
                      file=sys.stderr)
                exit_code = 1
                continue
            print(result.summary())
            exit_code = max(exit_code, 0 if result.ok else 1)
    finally:
        engine.dispose()
    return exit_code
