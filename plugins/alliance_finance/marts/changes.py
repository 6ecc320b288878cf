"""What changed since a board pack, each change with its money: "what changed since the October board".

:func:`changes_since` lists, from the pack's moment to now, everything the warehouse's history holds:

* ``batches``: every delivery or extract that finished since, with its lines' money; a re-delivery
  with the money of the delivery it superseded taken away;
* ``post_close``: the money those batches posted into periods already closed when they loaded;
* ``restatements``: lines that took other codes (reference data changed, or a mapping decision), by
  old and new code, function and scope, with their money;
* ``mapping_decisions``: finance's mapping decisions recorded since, who, when, why, and the lines
  and money each moved;
* ``data_versions``: new versions of the reference data, the forces and finance's own data (targets,
  sharing key, deflators, programme cost centres, budgets), who recorded them and why, rows removed
  and added;
* ``period_closes``: period closes and re-openings recorded since;
* ``figures``: every money figure of the board's views that moved, before (the pack) and after (now);
* ``reconciliation``: each force's NRE by fiscal year and scope in the pack and now, the difference
  explained by the lines listed above (new, superseded, restated), and what is left unexplained,
  which is zero unless something changed outside the warehouse's history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from alliance_finance.marts import packs
from alliance_finance.warehouse import history

#: the views whose money figures are compared, and the columns that identify a row
FIGURE_KEYS = {
    "v_savings_tracker": ("fiscal_year", "force_code", "alliance_scope"),
    "v_local_policing": ("fiscal_year", "force_code"),
    "v_cost_share": ("fiscal_year", "force_code"),
    "v_settlement": ("fiscal_year", "force_code"),
    "v_savings_share": ("fiscal_year", "force_code"),
    "v_budget_vs_outturn": ("fiscal_year", "force_code", "function_code"),
    "v_intra_alliance_reconciliation": ("fiscal_year", "payer_force", "payee_force"),
}

#: the lines of a batch (current or superseded), with their function, scope and kind as coded now
_LINES = """
SELECT l.batch_id, l.force_code, l.fiscal_year, l.period, l.source_line_ref, l.objective_code, l.subjective_code,
       l.amount_pence, COALESCE(o.function_code, 'UNMAPPED') AS function_code,
       COALESCE(o.alliance_scope, 'unmapped') AS alliance_scope, COALESCE(s.kind, 'suspense') AS kind
FROM (SELECT batch_id, force_code, fiscal_year, period, source_line_ref, objective_code, subjective_code, amount_pence
      FROM fact_ledger_line
      UNION ALL
      SELECT batch_id, force_code, fiscal_year, period, source_line_ref, objective_code, subjective_code, amount_pence
      FROM fact_ledger_line_superseded) AS l
LEFT JOIN dim_objective AS o ON o.objective_code = l.objective_code
LEFT JOIN dim_subjective AS s ON s.subjective_code = l.subjective_code
"""


@dataclasses.dataclass
class Changes:
    pack: packs.PackStamp
    until: dt.datetime
    batches: list[dict[str, Any]]
    post_close: list[dict[str, Any]]
    restatements: list[dict[str, Any]]
    mapping_decisions: list[dict[str, Any]]
    data_versions: list[dict[str, Any]]
    period_closes: list[dict[str, Any]]
    figures: list[dict[str, Any]]
    reconciliation: list[dict[str, Any]]

    def sections(self) -> dict[str, list[dict[str, Any]]]:
        return {"batches": self.batches, "post_close": self.post_close, "restatements": self.restatements,
                "mapping_decisions": self.mapping_decisions,
                "data_versions": self.data_versions, "period_closes": self.period_closes,
                "figures": self.figures, "reconciliation": self.reconciliation}


def _revenue(kind: str) -> bool:
    return kind not in ("balance_sheet", "partner")


def _codes_then(conn: sa.Connection, since: dt.datetime) -> dict[tuple, dict]:
    """(force, line ref, batch) -> the earliest code history row after ``since``: the codes the line
    had at ``since`` (lines not in it had then the codes they have now)."""
    first: dict[tuple, dict] = {}
    for r in conn.execute(sa.text(
            "SELECT force_code, source_line_ref, batch_id, objective_code, subjective_code, valid_to, reference_version "
            "FROM fact_line_code_history WHERE valid_to > :since ORDER BY valid_to"), {"since": since}).mappings():
        first.setdefault((r["force_code"], r["source_line_ref"], r["batch_id"]), dict(r))
    return first


def _dimensions(conn: sa.Connection) -> tuple[dict, dict]:
    objectives = {r[0]: (r[1], r[2]) for r in conn.execute(sa.text(
        "SELECT objective_code, function_code, alliance_scope FROM dim_objective"))}
    kinds = dict(conn.execute(sa.text("SELECT subjective_code, kind FROM dim_subjective")).all())
    return objectives, kinds


def _batches(conn: sa.Connection, since: dt.datetime, until: dt.datetime, then: dict[tuple, dict],
             dimensions: tuple[dict, dict]):
    """The batches finished since, and the lines they brought in (+) or took out (-) that count now."""
    rows = conn.execute(sa.text(
        "SELECT b.batch_id, b.force_code, b.source_ref, b.status, b.finished_at, b.error "
        "FROM etl_batch AS b WHERE b.finished_at > :since AND b.finished_at <= :until "
        "ORDER BY b.finished_at, b.batch_id"), {"since": since, "until": until}).mappings().all()
    # deliveries current at the pack that a batch since superseded: their lines went out
    replaced = {r[0]: r[1] for r in conn.execute(sa.text(
        "SELECT o.batch_id, o.superseded_by FROM etl_batch AS o JOIN etl_batch AS n ON n.batch_id = o.superseded_by "
        "WHERE o.finished_at <= :since AND n.finished_at > :since AND n.finished_at <= :until"),
        {"since": since, "until": until})}
    loaded_now = {r["batch_id"] for r in rows if r["status"] == "loaded"}
    wanted = sorted(loaded_now | set(replaced))
    lines = [] if not wanted else [dict(r) for r in conn.execute(sa.text(
        f"SELECT * FROM ({_LINES}) AS x WHERE x.batch_id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)), {"ids": wanted}).mappings()]
    objectives, kinds = dimensions
    moved = []
    for x in lines:
        sign = 1 if x["batch_id"] in loaded_now else -1
        if sign < 0:  # went out with the codes it had at the pack
            old = then.get((x["force_code"], x["source_line_ref"], x["batch_id"]))
            if old is not None:
                objective, subjective = old["objective_code"], old["subjective_code"]
                x = x | {"objective_code": objective, "subjective_code": subjective,
                         "alliance_scope": objectives.get(objective, ("UNMAPPED", "unmapped"))[1],
                         "kind": kinds.get(subjective, "suspense")}
        moved.append(x | {"sign": sign})
    by_batch: dict[int, list[dict]] = defaultdict(list)
    for x in moved:
        by_batch[x["batch_id"] if x["sign"] > 0 else replaced[x["batch_id"]]].append(x)
    out = []
    for r in rows:
        mine = by_batch.get(r["batch_id"], [])
        ins = [x for x in mine if x["sign"] > 0]
        outs = [x for x in mine if x["sign"] < 0]
        kind = ("rejected" if r["status"] == "rejected" else "re-delivery" if outs
                else "superseded since" if r["status"] == "superseded" else "new ledger")
        out.append({"batch_id": r["batch_id"], "force_code": r["force_code"], "source_ref": r["source_ref"],
                    "finished_at": r["finished_at"], "kind": kind, "status_now": r["status"],
                    "lines_in": len(ins), "lines_out": len(outs),
                    "net_in_pence": sum(x["amount_pence"] for x in ins),
                    "net_out_pence": sum(x["amount_pence"] for x in outs),
                    "nre_change_pence": sum(x["sign"] * x["amount_pence"] for x in mine if _revenue(x["kind"])),
                    "error": r["error"]})
    return out, moved


def _restatements(conn: sa.Connection, since: dt.datetime, then: dict[tuple, dict],
                  dimensions: tuple[dict, dict]) -> list[dict[str, Any]]:
    """Lines current at the pack and now whose codes changed since, grouped by old and new codes."""
    if not then:
        return []
    objectives, kinds = dimensions
    current = {(r["force_code"], r["source_line_ref"], r["batch_id"]): r for r in conn.execute(sa.text(
        "SELECT f.force_code, f.source_line_ref, f.batch_id, f.fiscal_year, f.objective_code, f.subjective_code, "
        "f.amount_pence FROM fact_ledger_line AS f JOIN etl_batch AS b ON b.batch_id = f.batch_id "
        "AND b.finished_at <= :since JOIN (SELECT DISTINCT force_code, source_line_ref, batch_id "
        "FROM fact_line_code_history WHERE valid_to > :since) AS h ON h.force_code = f.force_code "
        "AND h.source_line_ref = f.source_line_ref AND h.batch_id = f.batch_id"), {"since": since}).mappings()}
    grouped: dict[tuple, dict] = {}
    for key, now in current.items():
        old = then[key]
        if (old["objective_code"], old["subjective_code"]) == (now["objective_code"], now["subjective_code"]):
            continue
        g = (old["valid_to"], key[0], old["objective_code"], old["subjective_code"],
             now["objective_code"], now["subjective_code"])
        entry = grouped.setdefault(g, {
            "restated_at": old["valid_to"], "reference_version": old["reference_version"], "force_code": key[0],
            "from_objective": old["objective_code"], "from_subjective": old["subjective_code"],
            "to_objective": now["objective_code"], "to_subjective": now["subjective_code"],
            "from_scope": objectives.get(old["objective_code"], ("UNMAPPED", "unmapped"))[1],
            "to_scope": objectives.get(now["objective_code"], ("UNMAPPED", "unmapped"))[1],
            "from_kind": kinds.get(old["subjective_code"], "suspense"),
            "to_kind": kinds.get(now["subjective_code"], "suspense"),
            "lines": 0, "amount_pence": 0, "years": defaultdict(int)})
        entry["lines"] += 1
        entry["amount_pence"] += now["amount_pence"]
        entry["years"][int(now["fiscal_year"])] += now["amount_pence"]
    return [g | {"years": dict(g["years"])} for g in grouped.values()]


def changes_since(engine: sa.Engine, pack_id: int) -> Changes:
    """Everything that changed since board pack ``pack_id``, with its money."""
    pack = packs.load(engine, pack_id)
    since = pack.stamp.as_at
    figures_now, stamp_now = packs.read_with_stamp(engine)
    until = stamp_now.as_at
    with engine.connect() as conn:
        then = _codes_then(conn, since)
        dimensions = _dimensions(conn)
        batches, moved_lines = _batches(conn, since, until, then, dimensions)
        post_close = [dict(r) for r in conn.execute(sa.text(
            "SELECT a.force_code, a.fiscal_year, a.period, a.basis, a.closed_on, b.source_ref, b.finished_at, "
            "a.amount_pence, a.line_count, b.status FROM post_close_adjustment AS a JOIN etl_batch AS b "
            "ON b.batch_id = a.batch_id WHERE b.finished_at > :since AND b.finished_at <= :until "
            "ORDER BY b.finished_at, a.fiscal_year, a.period"), {"since": since, "until": until}).mappings()]
        restatements = _restatements(conn, since, then, dimensions)
        decisions = [dict(r) for r in conn.execute(sa.text(
            "SELECT decision_id, force_code, code_type, local_code, local_name, common_code, valid_from_fy, "
            "valid_to_fy, supersedes_id, decided_by, decided_at, reason, source_file, source_row, lines_moved, "
            "amount_moved_pence FROM mapping_decision WHERE decided_at > :since AND decided_at <= :until "
            "ORDER BY decision_id"), {"since": since, "until": until}).mappings()]
        versions = []
        for v in history.versions_since(conn, since):
            changed = history.row_changes(conn, v["previous_id"], v["version_id"])
            versions.append(v | {"changes": {t: {"removed": r, "added": a} for t, (r, a) in changed.items()}})
        closes = [dict(r) for r in conn.execute(sa.text(
            "SELECT force_code, fiscal_year, period, action, closed_on, recorded_at, recorded_by, source "
            "FROM period_close_event WHERE recorded_at > :since ORDER BY recorded_at, event_id"), {"since": since}).mappings()]
    now_doc = packs.figures_document(figures_now)
    return Changes(pack.stamp, until, batches, post_close, restatements, decisions, versions, closes,
                   _figure_moves(pack.document, now_doc),
                   _reconcile(pack.document, now_doc, moved_lines, restatements))


def _figure_moves(before: dict, after: dict) -> list[dict[str, Any]]:
    out = []
    for view, keys in FIGURE_KEYS.items():
        old = {tuple(r.get(k) for k in keys): r for r in before["views"].get(view, [])}
        new = {tuple(r.get(k) for k in keys): r for r in after["views"].get(view, [])}
        for key in sorted(set(old) | set(new), key=lambda k: tuple("" if v is None else str(v) for v in k)):
            a, b = old.get(key, {}), new.get(key, {})
            for column in sorted({c for c in (*a, *b) if c.endswith("_pence")}):
                x, y = a.get(column), b.get(column)
                if x != y:
                    out.append({"view": view, **{k: v for k, v in zip(keys, key)}, "measure": column[:-6],
                                "before_pence": x, "after_pence": y,
                                "difference_pence": None if x is None or y is None else y - x})
    return out


def _reconcile(before: dict, after: dict, lines: list[dict], restatements: list[dict]) -> list[dict]:
    """NRE by force, year and scope: pack against now, explained by the lines and restatements listed."""
    def nre(doc):
        return {(r["fiscal_year"], r["force_code"], r["alliance_scope"]): r.get("nre_pence") or 0
                for r in doc["views"].get("v_savings_tracker", []) if r["force_code"] != "ALL"}
    was, now = nre(before), nre(after)
    by_lines: dict[tuple, int] = defaultdict(int)
    for x in lines:
        if _revenue(x["kind"]):
            by_lines[(x["fiscal_year"], x["force_code"], x["alliance_scope"])] += x["sign"] * x["amount_pence"]
    by_restatement: dict[tuple, int] = defaultdict(int)
    for r in restatements:
        for year, pence in r["years"].items():
            if _revenue(r["from_kind"]):
                by_restatement[(year, r["force_code"], r["from_scope"])] -= pence
            if _revenue(r["to_kind"]):
                by_restatement[(year, r["force_code"], r["to_scope"])] += pence
    out = []
    for key in sorted(set(was) | set(now) | set(by_lines) | set(by_restatement)):
        difference = now.get(key, 0) - was.get(key, 0)
        explained = by_lines.get(key, 0) + by_restatement.get(key, 0)
        if difference or explained:
            out.append({"fiscal_year": key[0], "force_code": key[1], "alliance_scope": key[2],
                        "nre_pack_pence": was.get(key), "nre_now_pence": now.get(key), "difference_pence": difference,
                        "lines_pence": by_lines.get(key, 0), "restated_pence": by_restatement.get(key, 0),
                        "unexplained_pence": difference - explained})
    return out
