"""The warehouse's maps: the forces' reference files overlaid with finance's recorded decisions.

One truth, two sources. The reference files (``reference/``) are the forces' published lists, kept in
the repository and re-seeded when they change; ``mapping_decision`` holds the mappings finance
recorded in the warehouse (``alliance-finance mapping import``, :mod:`.decisions`). The map tables
are always the files with every decision painted over them in decision order, each for its own
fiscal years: a later decision for the same code replaces an earlier one from its ``valid_from_fy``.
:func:`overlay` computes that, with where each piece of a map comes from, for the seeding of the
maps (:func:`.mapping._seed`) and for the validation of new decisions.

A reference file that later maps a decided code differently for one of the decision's years is a
contradiction: :func:`overlay` reports it (the seeding refuses it naming the file and the decision).
The decision would win if applied, but a silent winner would hide that the forces' list and
finance's decision disagree; finance resolves it by recording a new decision agreeing with the
file (it supersedes the old one), or the force corrects its file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Iterable

import sqlalchemy as sa

from alliance_finance.config.reference import AccountMapping, CostCentreMapping, ReferenceData

#: open bounds of a fiscal-year range, as integers for the arithmetic (NULL in the tables)
OPEN_LOW, OPEN_HIGH = -1, 9999


@dataclasses.dataclass(frozen=True)
class Decision:
    """One row of ``mapping_decision``."""

    decision_id: int
    force_code: str
    code_type: str  # 'cost_centre' or 'account'
    local_code: str
    local_name: str
    common_code: str
    valid_from_fy: int | None
    valid_to_fy: int | None
    supersedes_id: int | None
    decided_by: str
    decided_at: dt.datetime
    reason: str
    source_file: str
    source_row: int
    lines_moved: int | None = None
    amount_moved_pence: int | None = None

    def describe(self) -> str:
        return (f"decision {self.decision_id} ({self.decided_by}, {self.decided_at:%Y-%m-%d}, "
                f"{self.source_file} row {self.source_row})")


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of a map: a local code's common code for fiscal years low..high (inclusive)."""

    force_code: str
    code_type: str
    local_code: str
    local_name: str
    common_code: str
    low: int
    high: int
    #: the reference file it comes from, or None when a decision
    file: str | None = None
    decision: Decision | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.force_code, self.code_type, self.local_code

    def years(self) -> str:
        return years_text(self.low, self.high)

    def source(self) -> str:
        return self.decision.describe() if self.decision else f"reference/{self.file}"

    def overlaps(self, low: int, high: int) -> bool:
        return self.low <= high and low <= self.high


def years_text(low: int, high: int) -> str:
    if low == OPEN_LOW and high == OPEN_HIGH:
        return "every fiscal year"
    if low == high:
        return f"FY {low}"
    return f"FY {'open' if low == OPEN_LOW else low}-{'open' if high == OPEN_HIGH else high}"


def bounds(valid_from_fy: int | None, valid_to_fy: int | None) -> tuple[int, int]:
    return (OPEN_LOW if valid_from_fy is None else valid_from_fy,
            OPEN_HIGH if valid_to_fy is None else valid_to_fy)


def read_decisions(conn: sa.Connection) -> list[Decision]:
    """Every recorded decision, in the order it was decided."""
    rows = conn.execute(sa.text(
        "SELECT decision_id, force_code, code_type, local_code, local_name, common_code, valid_from_fy, "
        "valid_to_fy, supersedes_id, decided_by, decided_at, reason, source_file, source_row, lines_moved, "
        "amount_moved_pence FROM mapping_decision ORDER BY decision_id")).all()
    out = []
    for r in rows:
        values = list(r)
        if isinstance(values[10], str):  # SQLite returns the timestamp as text
            values[10] = dt.datetime.fromisoformat(values[10])
        out.append(Decision(*values))
    return out


def reference_segments(ref: ReferenceData) -> list[Segment]:
    out = [Segment(m.force_code, "cost_centre", m.cost_centre, m.cost_centre_name, m.objective_code,
                   *bounds(m.valid_from_fy, m.valid_to_fy), file=ref.file_of(m.force_code, "cost_centres"))
           for m in ref.cost_centres]
    out += [Segment(a.force_code, "account", a.local_account, a.account_name, a.subjective_code,
                    OPEN_LOW, OPEN_HIGH, file=ref.file_of(a.force_code, "accounts")) for a in ref.accounts]
    return out


def decision_segment(d: Decision) -> Segment:
    return Segment(d.force_code, d.code_type, d.local_code, d.local_name or d.local_code, d.common_code,
                   *bounds(d.valid_from_fy, d.valid_to_fy), decision=d)


@dataclasses.dataclass
class Overlay:
    """The maps as segments by local code, and the contradictions found on the way."""

    segments: dict[tuple[str, str, str], list[Segment]]
    conflicts: list[str]

    def of(self, force_code: str, code_type: str, local_code: str) -> list[Segment]:
        return self.segments.get((force_code, code_type, local_code), [])

    def cost_centres(self) -> list[CostCentreMapping]:
        return [CostCentreMapping(s.force_code, s.local_code, s.local_name, s.common_code,
                                  None if s.low == OPEN_LOW else s.low, None if s.high == OPEN_HIGH else s.high)
                for key in sorted(self.segments) if key[1] == "cost_centre"
                for s in sorted(self.segments[key], key=lambda s: s.low)]

    def accounts(self) -> list[AccountMapping]:
        return [AccountMapping(s.force_code, s.local_code, s.local_name, s.common_code)
                for key in sorted(self.segments) if key[1] == "account" for s in self.segments[key]]


def paint(existing: list[Segment], new: Segment) -> list[Segment]:
    """``existing`` with ``new`` laid over it: what it covers is cut out of the others."""
    out = []
    for s in existing:
        if not s.overlaps(new.low, new.high):
            out.append(s)
            continue
        if s.low < new.low:
            out.append(dataclasses.replace(s, high=new.low - 1))
        if new.high < s.high:
            out.append(dataclasses.replace(s, low=new.high + 1))
    out.append(new)
    return sorted(out, key=lambda s: s.low)


def overlay(ref: ReferenceData, decisions: Iterable[Decision]) -> Overlay:
    """The reference files' maps with ``decisions`` painted over them in order.

    A reference mapping that gives a decided code another common code in a year the decision (as
    later decisions left it) still governs is reported in ``conflicts``, naming the file and the decision.
    """
    segments: dict[tuple[str, str, str], list[Segment]] = defaultdict(list)
    for s in reference_segments(ref):
        segments[s.key].append(s)
    for d in decisions:
        seg = decision_segment(d)
        segments[seg.key] = paint(segments[seg.key], seg)
    conflicts = []
    by_key = defaultdict(list)
    for s in reference_segments(ref):
        by_key[s.key].append(s)
    for key, pieces in segments.items():
        for piece in pieces:
            if piece.decision is None:
                continue
            for r in by_key.get(key, []):
                if r.overlaps(piece.low, piece.high) and r.common_code != piece.common_code:
                    low, high = max(r.low, piece.low), min(r.high, piece.high)
                    kind = "cost centre" if key[1] == "cost_centre" else "account"
                    conflicts.append(
                        f"reference/{r.file} maps {key[0]} {kind} {key[2]} to {r.common_code} for "
                        f"{years_text(low, high)}, but finance's {piece.decision.describe()} maps it to "
                        f"{piece.common_code}: record a decision agreeing with the file (alliance-finance "
                        f"mapping import, naming decision {piece.decision.decision_id} in supersedes_decision) "
                        "or have the force correct its file")
    return Overlay(dict(segments), conflicts)
