"""Which ledger lines make a figure, and how to find them: the line-level half of the drill-down.

A :class:`Part` of a figure is a :class:`LineFilter` (which lines, in docs/finance.md's words: the
NRE rule of ``v_nre_line``, the partner flows, or any line; a year, forces, a scope, a function,
periods 1..p, programme cost centres, a partner...) and the sign each line's amount takes in the
figure. :func:`lines_sql` turns parts into one SQL statement giving each line with where it came
from and the map rows that coded it; :func:`summary_totals` gives the same parts' line count and
signed sum from the summary tables, without reading a line (the workbook's drill-down sheet).
:mod:`.drilldown` says which parts make each view's figures.

Relations are named unqualified and nothing here opens a connection or creates an engine.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

#: which lines a filter starts from: v_nre_line's (the NRE rule), the partner flows, or every line; or
#: the budget's months (v_budget_profile), the part of a forecast by budget that is no ledger line
NRE, PARTNER, LEDGER, BUDGET = "nre", "partner", "ledger", "budget"


@dataclasses.dataclass(frozen=True)
class LineFilter:
    """Which ledger lines: every condition given must hold (None: no condition)."""

    source: str = NRE
    fiscal_year: int | None = None
    #: fiscal years up to this one (life to date)
    through_year: int | None = None
    #: the forces whose lines count; None: every force of dim_force (the ALL rows)
    forces: tuple[str, ...] | None = None
    alliance_scope: str | None = None
    function_code: str | None = None
    objective_code: str | None = None
    subjective_code: str | None = None
    period: int | None = None
    #: periods 1..through_period (a year to date)
    through_period: int | None = None
    #: periods after this one (the budget still to come)
    after_period: int | None = None
    #: on the line's force's programme cost centres (programme_cost_centre) in the line's year
    programme: bool = False
    #: partner flows: True, the account names a partner; False, it names none
    partner_known: bool | None = None
    #: partner flows: the account names this partner
    partner_force: str | None = None
    batch_id: int | None = None
    #: v_unmapped_codes' rule: ("account" | "cost_centre", the local code or None)
    unmapped: tuple[str, str | None] | None = None
    #: objective or subjective UNMAPPED (v_ledger_freshness's suspense)
    suspense: bool = False


@dataclasses.dataclass(frozen=True)
class Part:
    """A part of a figure: its lines, and the sign each line's amount takes in the figure."""

    name: str
    sign: int
    lines: LineFilter


#: the columns of every drill-down line, in order
LINE_COLUMNS = (
    "part", "sign", "force_code", "fiscal_year", "period", "posting_date", "source", "document_ref",
    "source_line_ref", "source_line_number", "batch_id", "cost_centre", "local_account", "objective_code",
    "subjective_code", "function_code", "alliance_scope", "amount", "signed_amount",
    "cost_centre_mapping", "account_mapping", "partner_force", "amount_pence", "signed_amount_pence",
)

_TEXT = "CAST({} AS text)"
_MAPPING = {
    # the map row that gave the line its objective (mapped_lines.sql: BS00 on a balance-sheet account)
    "cost_centre_mapping": (
        "CASE WHEN ms.kind = 'balance_sheet' THEN 'balance-sheet account: objective BS00' "
        "WHEN cm.objective_code IS NULL THEN 'cost centre ' || COALESCE(l.cost_centre, '(none)') "
        "|| ': no map_cost_centre row for FY ' || " + _TEXT.format("l.fiscal_year") + " "
        "|| CASE WHEN l.objective_code = 'UNMAPPED' THEN ' (suspense)' ELSE '' END "
        "ELSE 'cost centre ' || cm.cost_centre || ' ' || cm.cost_centre_name || ' -> ' || cm.objective_code "
        "|| CASE WHEN cm.valid_from_fy IS NULL AND cm.valid_to_fy IS NULL THEN ' (every year)' "
        "ELSE ' (FY ' || COALESCE(" + _TEXT.format("cm.valid_from_fy") + ", 'first') || ' to ' "
        "|| COALESCE(" + _TEXT.format("cm.valid_to_fy") + ", 'open') || ')' END END"),
    "account_mapping": (
        "CASE WHEN am.subjective_code IS NULL THEN 'account ' || l.local_account "
        "|| ': no map_local_account row' || CASE WHEN l.subjective_code = 'UNMAPPED' THEN ' (suspense)' ELSE '' END "
        "ELSE 'account ' || am.local_account || ' ' || am.account_name || ' -> ' || am.subjective_code END"),
}
_FROM = {
    NRE: "v_nre_line AS l",
    PARTNER: "fact_ledger_line AS l LEFT JOIN dim_objective AS o ON o.objective_code = l.objective_code",
    LEDGER: "fact_ledger_line AS l LEFT JOIN dim_objective AS o ON o.objective_code = l.objective_code",
}
_FUNCTION = {NRE: "l.function_code", BUDGET: "o.function_code", PARTNER: "COALESCE(o.function_code, 'UNMAPPED')",
             LEDGER: "COALESCE(o.function_code, 'UNMAPPED')"}
_SCOPE = {NRE: "l.alliance_scope", BUDGET: "o.alliance_scope", PARTNER: "COALESCE(o.alliance_scope, 'unmapped')",
          LEDGER: "COALESCE(o.alliance_scope, 'unmapped')"}


def _conditions(f: LineFilter, p: str, params: dict[str, Any]) -> list[str]:
    """The filter as SQL conditions on the lines (alias l; pm the partner map), binding into params
    under names prefixed ``p``."""
    out: list[str] = []

    def bind(name: str, value: Any) -> str:
        params[f"{p}_{name}"] = value
        return f":{p}_{name}"

    if f.source == PARTNER and f.subjective_code is None:
        out.append("l.subjective_code IN ('PART_PAY', 'INC_PART')")
    if f.fiscal_year is not None:
        out.append(f"l.fiscal_year = {bind('fy', f.fiscal_year)}")
    if f.through_year is not None:
        out.append(f"l.fiscal_year <= {bind('through_year', f.through_year)}")
    if f.forces is None:
        out.append("l.force_code IN (SELECT force_code FROM dim_force)")
    else:
        out.append("l.force_code IN (" + ", ".join(bind(f"force{i}", c) for i, c in enumerate(f.forces)) + ")")
    if f.alliance_scope is not None:
        out.append(f"{_SCOPE[f.source]} = {bind('scope', f.alliance_scope)}")
    if f.function_code is not None:
        out.append(f"{_FUNCTION[f.source]} = {bind('function', f.function_code)}")
    if f.objective_code is not None:
        out.append(f"l.objective_code = {bind('objective', f.objective_code)}")
    if f.subjective_code is not None:
        out.append(f"l.subjective_code = {bind('subjective', f.subjective_code)}")
    if f.period is not None:
        out.append(f"l.period = {bind('period', f.period)}")
    if f.after_period is not None:
        out.append(f"l.period > {bind('after', f.after_period)}")
    if f.through_period is not None:
        out.append(f"l.period <= {bind('through', f.through_period)}")
    if f.programme:
        out.append("EXISTS (SELECT 1 FROM programme_cost_centre AS pc "
                   "WHERE pc.force_code = l.force_code AND pc.cost_centre = l.cost_centre "
                   "AND (pc.valid_from_fy IS NULL OR pc.valid_from_fy <= l.fiscal_year) "
                   "AND (pc.valid_to_fy IS NULL OR l.fiscal_year <= pc.valid_to_fy))")
    if f.partner_known is not None:
        out.append(f"pm.partner_force IS {'NOT ' if f.partner_known else ''}NULL")
    if f.partner_force is not None:
        out.append(f"pm.partner_force = {bind('partner', f.partner_force)}")
    if f.batch_id is not None:
        out.append(f"l.batch_id = {bind('batch', f.batch_id)}")
    if f.unmapped is not None:
        code_type, code = f.unmapped
        column = "l.local_account" if code_type == "account" else "l.cost_centre"
        out.append("l.subjective_code = 'UNMAPPED'" if code_type == "account"
                   else "l.objective_code = 'UNMAPPED' AND l.subjective_code <> 'UNMAPPED'")
        out.append(f"{column} IS NULL" if code is None else f"{column} = {bind('code', code)}")
    if f.suspense:
        out.append("(l.objective_code = 'UNMAPPED' OR l.subjective_code = 'UNMAPPED')")
    return out


def _part_select(part: Part, index: int, params: dict[str, Any]) -> str:
    f = part.lines
    params[f"p{index}_name"] = part.name
    where = " AND ".join(_conditions(f, f"p{index}", params))
    sign = int(part.sign)
    if f.source == BUDGET:
        # a budget's month: no source line, no mapping; the source says which profile made it
        return (
            f"SELECT CAST(:p{index}_name AS text) AS part, {sign} AS sign, l.force_code, l.fiscal_year, l.period, "
            "CAST(NULL AS date) AS posting_date, 'budget (' || l.profile_basis || ' profile)' AS source, "
            "CAST(NULL AS text) AS document_ref, CAST(NULL AS text) AS source_line_ref, "
            "CAST(NULL AS bigint) AS source_line_number, CAST(NULL AS bigint) AS batch_id, "
            "CAST(NULL AS text) AS cost_centre, CAST(NULL AS text) AS local_account, l.objective_code, "
            "l.subjective_code, o.function_code AS function_code, o.alliance_scope AS alliance_scope, "
            f"l.amount_pence, {sign} * l.amount_pence AS signed_amount_pence, "
            "CAST(NULL AS text) AS cost_centre_mapping, CAST(NULL AS text) AS account_mapping, "
            "CAST(NULL AS text) AS partner_force "
            f"FROM v_budget_profile AS l JOIN dim_objective AS o ON o.objective_code = l.objective_code WHERE {where}")
    return (
        f"SELECT CAST(:p{index}_name AS text) AS part, {sign} AS sign, l.force_code, l.fiscal_year, l.period, "
        "l.posting_date, b.source_ref AS source, l.document_ref, l.source_line_ref, l.source_line_number, "
        "l.batch_id, l.cost_centre, l.local_account, l.objective_code, l.subjective_code, "
        f"{_FUNCTION[f.source]} AS function_code, {_SCOPE[f.source]} AS alliance_scope, "
        f"l.amount_pence, {sign} * l.amount_pence AS signed_amount_pence, "
        f"{_MAPPING['cost_centre_mapping']} AS cost_centre_mapping, "
        f"{_MAPPING['account_mapping']} AS account_mapping, pm.partner_force "
        f"FROM {_FROM[f.source]} "
        "JOIN etl_batch AS b ON b.batch_id = l.batch_id "
        "LEFT JOIN map_local_account AS am ON am.force_code = l.force_code AND am.local_account = l.local_account "
        "LEFT JOIN dim_subjective AS ms ON ms.subjective_code = am.subjective_code "
        "LEFT JOIN map_cost_centre AS cm ON cm.force_code = l.force_code AND cm.cost_centre = l.cost_centre "
        "AND (cm.valid_from_fy IS NULL OR cm.valid_from_fy <= l.fiscal_year) "
        "AND (cm.valid_to_fy IS NULL OR l.fiscal_year <= cm.valid_to_fy) "
        "LEFT JOIN map_partner_account AS pm ON pm.force_code = l.force_code AND pm.local_account = l.local_account "
        f"WHERE {where}")


def lines_sql(parts: list[Part]) -> tuple[str, dict[str, Any]]:
    """The SQL (and its parameters) giving every line of the parts, with part and sign, in a stable
    order. Each part is its own branch, so each is planned on its own indexes."""
    params: dict[str, Any] = {}
    if not parts:
        return ("SELECT " + ", ".join(f"NULL AS {c}" for c in LINE_COLUMNS if c not in ("amount", "signed_amount"))
                + " WHERE 1 = 0"), params
    branches = [_part_select(p, i, params) for i, p in enumerate(parts)]
    order = "part, force_code, fiscal_year, period, source_line_ref, objective_code, subjective_code"
    return "SELECT * FROM (\n" + "\nUNION ALL\n".join(branches) + f"\n) AS drill ORDER BY {order}", params


# --- counts and sums from the summaries (the workbook: no line read) ------------------------------

@dataclasses.dataclass
class SummaryRows:
    """The summary tables' rows a part's count and sum are read from, loaded once."""

    nre: list[dict[str, Any]]
    programme: list[dict[str, Any]]
    partner: list[dict[str, Any]]
    forces: tuple[str, ...]
    #: budget_summary (v_budget_profile summed: sums, no count of months)
    budget: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: a filter's (count, sum) once worked out: a figure's parts recur in other figures
    cache: dict[LineFilter, tuple[int | None, int]] = dataclasses.field(default_factory=dict)
    _indexes: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = dataclasses.field(default_factory=dict)

    def index(self, kind: str) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """The rows of ``kind`` (nre, programme, partner) by (force, fiscal year)."""
        if kind not in self._indexes:
            by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for r in getattr(self, kind):
                by_key.setdefault((r["force_code"], int(r["fiscal_year"])), []).append(r)
            self._indexes[kind] = by_key
        return self._indexes[kind]


#: a programme cost centre counts in its years only (v_cost_share)
_IN_ITS_YEARS = (" AND (p.valid_from_fy IS NULL OR p.valid_from_fy <= s.fiscal_year)"
                 " AND (p.valid_to_fy IS NULL OR s.fiscal_year <= p.valid_to_fy)")


def load_summaries(conn: sa.Connection) -> SummaryRows:
    """nre_summary; cost_centre_summary on programme cost centres; partner_flow_summary with each
    account's partner and whether its cost centre is a programme one. All small (no line is read)."""
    def fetch(sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]

    return SummaryRows(
        nre=fetch("SELECT force_code, fiscal_year, period, function_code, alliance_scope, amount_pence, line_count "
                  "FROM nre_summary"),
        programme=fetch("SELECT s.force_code, s.fiscal_year, s.period, s.amount_pence, s.line_count "
                        "FROM cost_centre_summary AS s JOIN programme_cost_centre AS p "
                        "ON p.force_code = s.force_code AND p.cost_centre = s.cost_centre" + _IN_ITS_YEARS),
        partner=fetch("SELECT s.force_code, s.fiscal_year, s.period, s.subjective_code, m.partner_force, "
                      "CASE WHEN p.cost_centre IS NULL THEN 0 ELSE 1 END AS programme, s.amount_pence, s.line_count "
                      "FROM partner_flow_summary AS s "
                      "LEFT JOIN map_partner_account AS m ON m.force_code = s.force_code AND m.local_account = s.local_account "
                      "LEFT JOIN programme_cost_centre AS p ON p.force_code = s.force_code AND p.cost_centre = s.cost_centre"
                      + _IN_ITS_YEARS),
        forces=tuple(r[0] for r in conn.execute(sa.text("SELECT force_code FROM dim_force"))),
        budget=fetch("SELECT force_code, fiscal_year, period, function_code, alliance_scope, amount_pence "
                     "FROM budget_summary"),
    )


def summary_totals(summaries: SummaryRows, parts: list[Part]) -> tuple[int | None, int] | None:
    """(line count, signed sum in pence) of the parts from the summaries; None when a part's filter
    needs the lines themselves (an objective, a subjective of NRE, a batch, an unmapped code). The
    count is None when a part is a budget's (budget_summary keeps sums, not months)."""
    count: int | None = 0
    total = 0
    for part in parts:
        found = _filter_totals(summaries, part.lines)
        if found is None:
            return None
        count = None if count is None or found[0] is None else count + found[0]
        total += part.sign * found[1]
    return count, total


def _filter_totals(summaries: SummaryRows, f: LineFilter) -> tuple[int | None, int] | None:
    if f in summaries.cache:
        return summaries.cache[f]
    if (f.objective_code or f.batch_id is not None or f.unmapped or f.suspense or f.source == LEDGER
            or (f.fiscal_year is None and f.through_year is None)):
        return None
    if f.source == PARTNER:
        kind = "partner"
    elif f.source == BUDGET:
        kind = "budget"
    elif f.programme:
        if f.alliance_scope or f.function_code:
            return None
        kind = "programme"
    elif f.subjective_code:
        return None
    else:
        kind = "nre"
    index = summaries.index(kind)
    count = total = 0
    for force in (summaries.forces if f.forces is None else f.forces):
        years = [f.fiscal_year] if f.fiscal_year is not None else sorted(
            year for code, year in index if code == force and year <= f.through_year)
        for r in (r for year in years for r in index.get((force, year), ())):
            if ((f.alliance_scope is None or r["alliance_scope"] == f.alliance_scope)
                    and (f.function_code is None or r["function_code"] == f.function_code)
                    and (f.period is None or r["period"] == f.period)
                    and (f.through_period is None or r["period"] <= f.through_period)
                    and (f.after_period is None or r["period"] > f.after_period)
                    and (kind != "partner" or _partner_matches(f, r))):
                count += int(r.get("line_count", 0))
                total += int(r["amount_pence"])
    found = (None if kind == "budget" else count, total)
    summaries.cache[f] = found
    return found
def _partner_matches(f: LineFilter, r: dict[str, Any]) -> bool:
    return ((f.subjective_code is None or r["subjective_code"] == f.subjective_code)
            and (not f.programme or r["programme"] == 1)
            and (f.partner_known is None or (r["partner_force"] is not None) == f.partner_known)
            and (f.partner_force is None or r["partner_force"] == f.partner_force))
