"""Mapping onto the common chart: seeding the maps from the reference data, and restating history.

The rule itself is one SQL statement, ``sql/mapping/mapped_lines.sql``; the loader applies it to a
batch's staged lines, and :func:`sync_reference` applies it to the whole fact table when the
reference files changed, so a code that finance maps today takes its real objective or subjective
on every line already loaded, without re-reading a source. Nothing here maps row by row in Python.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import sqlalchemy as sa

from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.config.forces import ForceConfig
from alliance_finance.config.reference import COMMON_FILES, ReferenceData, load_reference
from alliance_finance.warehouse import history, locks, meta, overlay, sqlfiles, summaries
from alliance_finance.warehouse.engine import make_engine

log = logging.getLogger(__name__)

#: the columns of a conformed line the mapping reads (and a restatement carries through)
FACT_KEY_COLUMNS = "line.force_code, line.source_line_ref, line.batch_id, line.objective_code, line.subjective_code"


class ReferenceDataError(AllianceFinanceError):
    """The reference files contradict themselves (e.g. two mappings for one cost centre in one year)."""


@dataclasses.dataclass(frozen=True)
class ReferenceSync:
    """What :func:`sync_reference` did."""

    changed: bool
    digest: str
    lines_restated: int = 0


def mapped_lines_sql(dialect: str, lines: str, columns: str) -> str:
    """The mapping query over relation ``lines`` (aliased ``line``), carrying ``columns`` through."""
    return sqlfiles.render("mapping/mapped_lines.sql", dialect, lines=lines, columns=columns)


def check_reference(ref: ReferenceData, directory: Path | None = None) -> None:
    """Refuse reference data the mapping cannot apply unambiguously; the message names file and code."""
    where = f" in {directory}" if directory else ""
    objectives = {o["objective_code"] for o in ref.objectives}
    subjectives = {s["subjective_code"] for s in ref.subjectives}
    problems: list[str] = []
    by_cost_centre = defaultdict(list)
    for m in ref.cost_centres:
        by_cost_centre[(m.force_code, m.cost_centre)].append(m)
        file = ref.file_of(m.force_code, "cost_centres")
        if m.objective_code not in objectives:
            problems.append(f"{file}: cost centre {m.cost_centre} maps to objective {m.objective_code}, "
                            f"which {COMMON_FILES['common_objectives']} does not have")
        if m.valid_from_fy is not None and m.valid_to_fy is not None and m.valid_from_fy > m.valid_to_fy:
            problems.append(f"{file}: cost centre {m.cost_centre} is valid from FY {m.valid_from_fy} "
                            f"to FY {m.valid_to_fy}, which is no year at all")
    for (force, cost_centre), maps in by_cost_centre.items():
        maps = sorted(maps, key=lambda m: -1 if m.valid_from_fy is None else m.valid_from_fy)
        for earlier, later in zip(maps, maps[1:]):
            if earlier.valid_to_fy is None or (later.valid_from_fy is None) or later.valid_from_fy <= earlier.valid_to_fy:
                file = ref.file_of(force, "cost_centres")
                problems.append(
                    f"{file}: cost centre {cost_centre} has overlapping mappings "
                    f"({earlier.objective_code} FY {earlier.valid_from_fy or 'open'}-{earlier.valid_to_fy or 'open'} and "
                    f"{later.objective_code} FY {later.valid_from_fy or 'open'}-{later.valid_to_fy or 'open'}): "
                    "expected one objective code per fiscal year")
    seen_accounts: dict[tuple[str, str], str] = {}
    for a in ref.accounts:
        file = ref.file_of(a.force_code, "accounts")
        if a.subjective_code not in subjectives:
            problems.append(f"{file}: account {a.local_account} maps to subjective {a.subjective_code}, "
                            f"which {COMMON_FILES['common_subjectives']} does not have")
        if (a.force_code, a.local_account) in seen_accounts:
            problems.append(f"{file}: account {a.local_account} is listed twice "
                            f"({seen_accounts[(a.force_code, a.local_account)]} and {a.subjective_code})")
        seen_accounts[(a.force_code, a.local_account)] = a.subjective_code
    if problems:
        raise ReferenceDataError(f"reference data{where} cannot be applied: " + "; ".join(problems))


def sync_reference(url_or_engine: str | sa.Engine, reference_dir: Path | None = None,
                   forces: Sequence[ForceConfig] | None = None) -> ReferenceSync:
    """Seed dimensions and maps from the reference files when their digest changed, and restate history.

    One transaction: the dimensions are upserted (a code is never deleted: history may name it),
    the maps replaced, every fact line whose mapped codes now differ updated, the summaries the
    views read rebuilt from the lines, and the new digest stored. Loads wait for it (and it for them): see :mod:`.locks`. ``forces`` (default
    ``dags/forces.yaml``) name each force's local files; they must be in ``dim_force`` already
    (:func:`.forces.sync_forces`).
    """
    ref = load_reference(reference_dir, forces)
    check_reference(ref, reference_dir)
    engine = make_engine(url_or_engine) if not isinstance(url_or_engine, sa.Engine) else url_or_engine
    try:
        with engine.connect() as conn:
            # the common case, nothing changed, takes no lock and waits for no load
            with conn.begin():
                if meta.get_meta(conn, meta.REFERENCE_DIGEST) == ref.digest:
                    return ReferenceSync(changed=False, digest=ref.digest)
            conn = conn.execution_options(sqlite_begin="immediate")
            with conn.begin():
                locks.pg_xact_lock(conn, locks.REFERENCE_KEY)
                if meta.get_meta(conn, meta.REFERENCE_DIGEST) == ref.digest:
                    return ReferenceSync(changed=False, digest=ref.digest)
                _seed(conn, ref)
                now = meta.utcnow()
                version = history.record(conn, "reference", reason=f"reference files {ref.digest[:12]}", now=now)
                restated = restate_history(conn, now=now, version=version)
                # codes restated, or a dimension's function or scope changed: the summaries follow
                summaries.rebuild(conn)
                meta.set_meta(conn, meta.REFERENCE_DIGEST, ref.digest)
        log.info("reference data %s applied: %d ledger lines restated", ref.digest[:12], restated)
        return ReferenceSync(changed=True, digest=ref.digest, lines_restated=restated)
    finally:
        if not isinstance(url_or_engine, sa.Engine):
            engine.dispose()


def _seed(conn: sa.Connection, ref: ReferenceData) -> overlay.Overlay:
    """Upsert the dimensions and replace the maps: the reference files, then finance's decisions.

    The decisions (``mapping_decision``, :mod:`.overlay`) are applied after the files every time,
    so a re-seed of the reference data never loses one; a file contradicting a decision is refused.
    """
    conn.execute(sa.text(
        "INSERT INTO dim_objective (objective_code, objective_name, function_code, function_name, alliance_scope) "
        "VALUES (:objective_code, :objective_name, :function_code, :function_name, :alliance_scope) "
        "ON CONFLICT (objective_code) DO UPDATE SET objective_name = excluded.objective_name, "
        "function_code = excluded.function_code, function_name = excluded.function_name, "
        "alliance_scope = excluded.alliance_scope"), ref.objectives)
    conn.execute(sa.text(
        "INSERT INTO dim_subjective (subjective_code, subjective_name, sercop_group, kind) "
        "VALUES (:subjective_code, :subjective_name, :sercop_group, :kind) "
        "ON CONFLICT (subjective_code) DO UPDATE SET subjective_name = excluded.subjective_name, "
        "sercop_group = excluded.sercop_group, kind = excluded.kind"), ref.subjectives)
    maps = overlay.overlay(ref, overlay.read_decisions(conn))
    if maps.conflicts:
        raise ReferenceDataError("reference data contradicts finance's mapping decisions: " + "; ".join(maps.conflicts))
    conn.exec_driver_sql("DELETE FROM map_cost_centre")
    conn.execute(sa.text(
        "INSERT INTO map_cost_centre (force_code, cost_centre, cost_centre_name, objective_code, valid_from_fy, valid_to_fy) "
        "VALUES (:force_code, :cost_centre, :cost_centre_name, :objective_code, :valid_from_fy, :valid_to_fy)"),
        [dataclasses.asdict(m) for m in maps.cost_centres()])
    conn.exec_driver_sql("DELETE FROM map_local_account")
    conn.execute(sa.text(
        "INSERT INTO map_local_account (force_code, local_account, account_name, subjective_code) "
        "VALUES (:force_code, :local_account, :account_name, :subjective_code)"),
        [dataclasses.asdict(a) for a in maps.accounts()])
    return maps


def restate_history(conn: sa.Connection, *, now=None, version: int | None = None) -> int:
    """Give every fact line the codes today's maps compute for it; returns how many lines changed.

    The old codes of every line that changes are kept in ``fact_line_code_history``, valid until
    ``now`` (default: the clock now), with the reference ``version`` that restated them
    (:mod:`.history`). The lines changed are left in the temporary table ``restated_line`` (old and new
    codes) until the transaction ends, for the caller to account for the money they moved.
    """
    dialect = conn.dialect.name
    sql = sqlfiles.render("mapping/restate_fact_lines.sql", dialect,
                          mapped_lines=mapped_lines_sql(dialect, "fact_ledger_line", FACT_KEY_COLUMNS))
    create, keep, update = sqlfiles.statements(sql)
    conn.exec_driver_sql("DROP TABLE IF EXISTS restated_line")
    conn.exec_driver_sql(create)
    conn.execute(sa.text(keep), {"now": now or meta.utcnow(), "version": version})
    return conn.exec_driver_sql(update).rowcount


def seed_maps(conn: sa.Connection, ref: ReferenceData) -> overlay.Overlay:
    """Seed the dimensions and maps from ``ref`` and the recorded decisions (:func:`_seed`), in the caller's
    transaction; for ``alliance-finance mapping import`` (:mod:`.decisions`), which then restates."""
    return _seed(conn, ref)
