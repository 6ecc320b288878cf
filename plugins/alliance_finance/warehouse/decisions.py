"""Finance's mapping decisions: validated whole, recorded with who, when and why, restated at once.

``alliance-finance mapping import FILE.xlsx --by NAME --reason TEXT`` reads the filled-in rows of
the workbook ``mapping export`` wrote (:mod:`alliance_finance.marts.mapping_export`) and hands them
here as :class:`DecisionRow`. :func:`record_decisions`, in the caller's transaction:

1. validates every row against the warehouse and the other rows, collecting every problem with the
   row it is on (an unknown force or common code, a common code of the wrong kind, a malformed or
   missing cell, a code already mapped for those years by the reference files or by a decision the
   row does not name as superseded, two rows for the same code and years, a code the warehouse
   has never seen); any problem refuses the whole file (:class:`MappingDecisionError`) and nothing
   is written;
2. appends one ``mapping_decision`` per row, re-seeds the maps (reference files, then every decision:
   :func:`.mapping.seed_maps`), restates the ledger through :func:`.mapping.restate_history`,
   rebuilds the summaries the views read, and records on each decision the lines it moved and
   their money (``lines_moved``, ``amount_moved_pence``, ``restated_at``).

Where a line's objective changed, the money counts for the cost centre's decision whose years hold
the line; where its subjective changed, for the account's decision; a line whose two codes both
changed (an unmapped account on an unmapped cost centre) counts for both.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import sqlalchemy as sa

from alliance_finance.config.reference import ReferenceData
from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.warehouse import history, mapping, meta, overlay, summaries

CODE_TYPES = ("cost_centre", "account")


class MappingDecisionError(AllianceFinanceError):
    """A decisions file finance filled in cannot be applied: every problem, each naming its row."""


@dataclasses.dataclass(frozen=True)
class DecisionRow:
    """One filled-in row as read from the workbook: text cells, and where the row is."""

    where: str  # e.g. "sheet 'decisions' row 5"
    force_code: str
    code_type: str
    local_code: str
    common_code: str
    local_name: str = ""
    valid_from_fy: str = ""
    valid_to_fy: str = ""
    supersedes_decision: str = ""
    row_number: int = 0


@dataclasses.dataclass(frozen=True)
class _Valid:
    row: DecisionRow
    force_code: str
    code_type: str
    local_code: str
    common_code: str
    local_name: str
    valid_from_fy: int | None
    valid_to_fy: int | None
    supersedes_id: int | None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.force_code, self.code_type, self.local_code

    @property
    def span(self) -> tuple[int, int]:
        return overlay.bounds(self.valid_from_fy, self.valid_to_fy)


def _year(text: str, column: str, problems: list[str]) -> int | None:
    if not text:
        return None
    if len(text) == 4 and text.isdigit() and 2000 <= int(text) <= 2099:
        return int(text)
    problems.append(f"{column}: expected a fiscal year, the 4-digit year it begins (e.g. 2016); found {text!r}")
    return None


def _known_codes(conn: sa.Connection) -> tuple[set[str], dict[str, str], dict[str, str], set[tuple[str, str, str]]]:
    forces = {r[0] for r in conn.execute(sa.text("SELECT force_code FROM dim_force"))}
    objectives = dict(conn.execute(sa.text("SELECT objective_code, objective_name FROM dim_objective")).all())
    subjectives = dict(conn.execute(sa.text("SELECT subjective_code, subjective_name FROM dim_subjective")).all())
    seen = {(r[0], r[1], r[2]) for r in conn.execute(sa.text(
        "SELECT force_code, code_type, local_code FROM v_unmapped_codes"))}
    objectives.pop("UNMAPPED", None)  # suspense is not a decision
    subjectives.pop("UNMAPPED", None)
    return forces, objectives, subjectives, seen


def validate(conn: sa.Connection, ref: ReferenceData, rows: Sequence[DecisionRow]) -> list[_Valid]:
    """Every row checked; :class:`MappingDecisionError` listing each problem with its row, or the rows parsed."""
    forces, objectives, subjectives, unmapped = _known_codes(conn)
    decisions = {d.decision_id: d for d in overlay.read_decisions(conn)}
    maps = overlay.overlay(ref, decisions.values())
    problems: list[str] = []
    valid: list[_Valid] = []
    if not rows:
        raise MappingDecisionError("no decisions to record: fill in common_code (and valid_from_fy for a cost "
                                   "centre) on the rows finance has decided")
    for row in rows:
        mine: list[str] = []
        force = row.force_code
        if not force:
            mine.append("force_code: expected a force; found nothing")
        elif force not in forces:
            mine.append(f"force_code: expected one of {', '.join(sorted(forces))}; found {force!r}")
        if row.code_type not in CODE_TYPES:
            mine.append(f"code_type: expected cost_centre or account; found {row.code_type!r}")
        if not row.local_code:
            mine.append("local_code: expected the force's code; found nothing")
        common = row.common_code
        if row.code_type == "cost_centre" and common not in objectives:
            mine.append(f"common_code: {common!r} is " + (
                "a subjective code (what kind of money): a cost centre maps to an objective code"
                if common in subjectives else "not an objective code of reference/common_objectives.csv"))
        if row.code_type == "account" and common not in subjectives:
            mine.append(f"common_code: {common!r} is " + (
                "an objective code (what the money is for): an account maps to a subjective code"
                if common in objectives else "not a subjective code of reference/common_subjectives.csv"))
        low = _year(row.valid_from_fy, "valid_from_fy", mine)
        high = _year(row.valid_to_fy, "valid_to_fy", mine)
        if row.code_type == "account" and (row.valid_from_fy or row.valid_to_fy):
            mine.append("valid_from_fy/valid_to_fy: an account maps to one subjective code for every year; "
                        "leave them blank")
        if row.code_type == "cost_centre" and not row.valid_from_fy:
            mine.append("valid_from_fy: expected the first fiscal year the mapping applies to; found nothing")
        if low is not None and high is not None and low > high:
            mine.append(f"valid_to_fy: FY {high} is before valid_from_fy FY {low}")
        supersedes = None
        if row.supersedes_decision:
            text = row.supersedes_decision
            if not text.isdigit() or int(text) not in decisions:
                mine.append(f"supersedes_decision: expected the number of a recorded decision; found {text!r}")
            else:
                supersedes = int(text)
                old = decisions[supersedes]
                if (old.force_code, old.code_type, old.local_code) != (force, row.code_type, row.local_code):
                    mine.append(f"supersedes_decision: decision {supersedes} maps {old.force_code} {old.code_type} "
                                f"{old.local_code}, not this row's code")
        if mine:
            problems += [f"{row.where}: {p}" for p in mine]
            continue
        v = _Valid(row, force, row.code_type, row.local_code, common, row.local_name or row.local_code,
                   low, high, supersedes)
        problems += [f"{row.where}: {p}" for p in _against_maps(conn, v, maps, unmapped)]
        for earlier in valid:
            if earlier.key == v.key and overlay.Segment(*v.key, "", "", *earlier.span).overlaps(*v.span):
                problems.append(f"{row.where}: {row.code_type} {row.local_code} of {force} for "
                                f"{overlay.years_text(*v.span)} is already decided by {earlier.row.where} "
                                f"({earlier.common_code}): one decision per code and year")
                break
        valid.append(v)
    if problems:
        raise MappingDecisionError(f"{len(problems)} problem(s), nothing recorded:\n  " + "\n  ".join(problems))
    return valid


def _on_a_line(conn: sa.Connection, v: _Valid) -> bool:
    column = "cost_centre" if v.code_type == "cost_centre" else "local_account"
    return conn.execute(sa.text(f"SELECT 1 FROM fact_ledger_line WHERE force_code = :force AND {column} = :code "
                                "LIMIT 1"), {"force": v.force_code, "code": v.local_code}).first() is not None


def _against_maps(conn: sa.Connection, v: _Valid, maps: overlay.Overlay,
                  unmapped: set[tuple[str, str, str]]) -> list[str]:
    """A row against the maps as they stand: the code must be known, and free (or superseded) for its years."""
    pieces = maps.of(*v.key)
    kind = "cost centre" if v.code_type == "cost_centre" else "account"
    if not pieces and v.key not in unmapped and not _on_a_line(conn, v):
        return [f"local_code: {v.force_code} {kind} {v.local_code} is unknown: no line of the ledger is on it "
                "and no map names it (a typo?)"]
    out = []
    for piece in pieces:
        if not piece.overlaps(*v.span):
            continue
        years = overlay.years_text(max(piece.low, v.span[0]), min(piece.high, v.span[1]))
        if piece.decision is not None and piece.decision.decision_id == v.supersedes_id:
            continue
        if piece.decision is None:
            out.append(f"{kind} {v.local_code} is already mapped to {piece.common_code} for {years} by "
                       f"{piece.source()}" + (": nothing to decide" if piece.common_code == v.common_code else
                                              ": the forces' reference file is corrected in reference/, not here"))
        else:
            out.append(f"{kind} {v.local_code} is already mapped to {piece.common_code} for {years} by "
                       f"{piece.source()}" + (": nothing to decide" if piece.common_code == v.common_code else
                                              f": to change it, put {piece.decision.decision_id} in "
                                              "supersedes_decision"))
    return out


def record_decisions(conn: sa.Connection, ref: ReferenceData, rows: Sequence[DecisionRow], *, by: str,
                     reason: str, source_file: str) -> list[overlay.Decision]:
    """Validate ``rows``, record them, re-seed the maps and restate; the new decisions with money moved.

    In the caller's transaction, which should hold the reference lock (:mod:`.locks`) so that no batch
    is mapped with half-replaced maps. Refused (nothing written) when the reference files differ
    from those the warehouse last applied: a run applies them first, so money is attributed to the
    decisions alone.
    """
    stored = meta.get_meta(conn, meta.REFERENCE_DIGEST)
    if stored != ref.digest:
        raise MappingDecisionError(
            "the reference files differ from those the warehouse last applied (or it has none yet): run "
            "alliance-finance run first, so that what this import moves is finance's decisions alone; nothing recorded")
    valid = validate(conn, ref, rows)
    now = meta.utcnow()
    ids = []
    for v in valid:
        ids.append(conn.execute(sa.text(
            "INSERT INTO mapping_decision (force_code, code_type, local_code, local_name, common_code, valid_from_fy, "
            "valid_to_fy, supersedes_id, decided_by, decided_at, reason, source_file, source_row) VALUES (:force, "
            ":type, :code, :name, :common, :low, :high, :supersedes, :by, :at, :reason, :file, :row) "
            "RETURNING decision_id"),
            {"force": v.force_code, "type": v.code_type, "code": v.local_code, "name": v.local_name,
             "common": v.common_code, "low": v.valid_from_fy, "high": v.valid_to_fy, "supersedes": v.supersedes_id,
             "by": by, "at": now, "reason": reason, "file": source_file, "row": v.row.row_number}).scalar_one())
    maps = mapping.seed_maps(conn, ref)
    moved = _moved(conn, maps, set(ids))
    # the maps' new version kept (history of the reference data, decisions included), and the codes
    # the restatement replaces kept with it (warehouse/history.py)
    version = history.record(conn, "reference", by=by, now=now,
                             reason=f"mapping decision(s) {', '.join(map(str, ids))} from {source_file}: {reason}")
    mapping.restate_history(conn, now=now, version=version)
    summaries.rebuild(conn)
    for decision_id in ids:
        lines, pence = moved.get(decision_id, (0, 0))
        conn.execute(sa.text(
            "UPDATE mapping_decision SET lines_moved = :lines, amount_moved_pence = :pence, restated_at = :at "
            "WHERE decision_id = :id"), {"lines": lines, "pence": pence, "at": now, "id": decision_id})
    return [d for d in overlay.read_decisions(conn) if d.decision_id in set(ids)]


def _moved(conn: sa.Connection, maps: overlay.Overlay, new_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Before the restatement: per new decision, the lines whose code it changes and their net pence."""
    pieces = [p for key in maps.segments for p in maps.segments[key]
              if p.decision is not None and p.decision.decision_id in new_ids]
    if not pieces:
        return {}
    params, selects = {}, []
    for n, p in enumerate(pieces):
        selects.append(f"SELECT CAST(:id{n} AS bigint) AS decision_id, CAST(:force{n} AS text) AS force_code, "
                       f"CAST(:type{n} AS text) AS code_type, CAST(:code{n} AS text) AS local_code, "
                       f"CAST(:low{n} AS integer) AS low, CAST(:high{n} AS integer) AS high")
        params.update({f"id{n}": p.decision.decision_id, f"force{n}": p.force_code, f"type{n}": p.code_type,
                       f"code{n}": p.local_code, f"low{n}": p.low, f"high{n}": p.high})
    forces = sorted({p.force_code for p in pieces})
    params.update({f"f{n}": f for n, f in enumerate(forces)})
    lines = ("(SELECT * FROM fact_ledger_line WHERE force_code IN ("
             + ", ".join(f":f{n}" for n in range(len(forces))) + "))")
    mapped = mapping.mapped_lines_sql(
        conn.dialect.name, lines, "line.force_code, line.cost_centre, line.local_account, line.fiscal_year, "
                                  "line.amount_pence, line.objective_code, line.subjective_code")
    sql = (f"WITH piece AS ({' UNION ALL '.join(selects)}), remapped AS ({mapped}) "
           "SELECT piece.decision_id, COUNT(*), SUM(remapped.amount_pence) FROM remapped JOIN piece "
           "ON piece.force_code = remapped.force_code AND ("
           "(piece.code_type = 'cost_centre' AND remapped.cost_centre = piece.local_code "
           " AND remapped.fiscal_year BETWEEN piece.low AND piece.high "
           " AND remapped.objective_code <> remapped.mapped_objective_code) OR "
           "(piece.code_type = 'account' AND remapped.local_account = piece.local_code "
           " AND remapped.subjective_code <> remapped.mapped_subjective_code)) "
           "GROUP BY piece.decision_id")
    return {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in conn.execute(sa.text(sql), params)}
