"""The board report's page: what the template shows, as display strings, and the HTML itself."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

from alliance_finance.core.fiscal import fy_label
from alliance_finance.marts.figures import ALL_FORCES, BASELINE_FY, BoardFigures
from alliance_finance.report.format import _day, _share, gbp, long_day, percent, runs_to

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def page_context(figures: BoardFigures | None) -> dict[str, Any]:
    """Everything the template shows, as display strings (money formatted, years labelled)."""
    forces = _forces_shown(figures)
    if figures is None or not figures.has_ledger:
        freshness = [] if figures is None else figures.views["v_ledger_freshness"]
        return {"has_data": False, "forces": forces, "without_ledger": forces_without_ledger(figures),
                "freshness": _freshness_rows(freshness) if freshness else []}

    # the headline needs a year every force has delivered; the first night has none yet
    year = figures.headline_year()
    function_year = figures.report_year()
    complete = year is not None and figures.year_complete(year)
    savings_all = {r["fiscal_year"]: r for r in figures.savings(ALL_FORCES)}
    head = savings_all.get(year) if year is not None else None
    targeted = sorted({t["force_code"] for t in figures.targets
                       if t["force_code"] != ALL_FORCES and t["alliance_scope"] == "alliance"})
    own = [(code, {r["fiscal_year"]: r for r in figures.savings(code)}.get(year)) for code in targeted]
    local_all = {r["fiscal_year"]: r for r in figures.views["v_local_policing"] if r["force_code"] == ALL_FORCES}

    headline = None
    if head is not None:
        # like with like: the year's figures to its last closed period against the baseline's same
        # periods and the target phased to them; for a complete year these are the whole year's
        no_baseline = head["ytd_baseline_nre_pence"] is None
        nothing_closed = not head["through_period"]
        ytd_variance = (None if no_baseline or nothing_closed or head["ytd_target_pence"] is None
                        else head["ytd_savings_pence"] - head["ytd_target_pence"])
        behind = ytd_variance is not None and ytd_variance < 0
        forecast_behind = (head["forecast_savings_pence"] is not None and head["target_pence"] is not None
                           and head["forecast_savings_pence"] < head["target_pence"])
        share = {r["force_code"]: r for r in figures.views.get("v_savings_share", []) if r["fiscal_year"] == year}
        headline = {
            "year": fy_label(year),
            "complete": complete,
            "runs_to": runs_to(year, head["through_period"]),
            "savings": gbp(head["ytd_savings_pence"]),
            "target": gbp(head["ytd_target_pence"]),
            "year_target": gbp(head["target_pence"]),
            "of_target": "–" if nothing_closed else percent(head["ytd_savings_pence"], head["ytd_target_pence"]),
            "variance": gbp(None if ytd_variance is None else abs(ytd_variance)),
            "status": ("no FY 2014/15 baseline loaded" if no_baseline else "no period closed yet" if nothing_closed
                       else "no target" if head["target_pence"] is None
                       else ("behind target" if behind else "on or ahead of target")),
            "behind": behind,
            "baseline": gbp(head["ytd_baseline_nre_pence"]),
            "nre": gbp(head["ytd_nre_pence"]),
            "forecast": None if complete or head["forecast_savings_pence"] is None else {
                "savings": gbp(head["forecast_savings_pence"]), "target": gbp(head["target_pence"]),
                "method": _METHODS.get(head["forecast_method"], head["forecast_method"]), "behind": forecast_behind,
            },
            "by_force": [
                {"name": figures.force_names.get(code, code), "savings": gbp(share[code]["realised_savings_pence"])
                 if code in share else gbp(row["ytd_savings_pence"]),
                 "target": gbp(row["ytd_target_pence"]) if row["ytd_target_pence"] is not None else None}
                for code, row in own if row is not None
            ],
            "local_change": _local_change(local_all.get(year)),
        }

    deflated = any(r["nre_real_pence"] is not None for r in figures.views["v_savings_tracker"])
    savings_rows = [
        {
            "year": fy_label(r["fiscal_year"]),
            "runs_to": runs_to(r["fiscal_year"], r["through_period"]),
            "force": r["force_code"],
            "is_all": r["force_code"] == ALL_FORCES,
            "baseline": gbp(r["ytd_baseline_nre_pence"]),
            "nre": gbp(r["ytd_nre_pence"]),
            "savings": gbp(r["ytd_savings_pence"]),
            "target": gbp(r["ytd_target_pence"]),
            "variance": gbp(_minus(r["ytd_savings_pence"], r["ytd_target_pence"])),
            "behind": (_minus(r["ytd_savings_pence"], r["ytd_target_pence"]) or 0) < 0,
            "forecast": "" if r["year_complete"] else gbp(r["forecast_savings_pence"]),
            "year_target": gbp(r["target_pence"]),
            "nre_real": gbp(r["nre_real_pence"]),
            "savings_real": gbp(r["savings_real_pence"]),
            "complete": bool(r["year_complete"]),
        }
        for r in figures.views["v_savings_tracker"]
        if r["alliance_scope"] == "alliance" and r["fiscal_year"] > BASELINE_FY
    ]

    local_rows = [
        {
            "year": fy_label(r["fiscal_year"]),
            "runs_to": runs_to(r["fiscal_year"], r["through_period"]),
            "force": r["force_code"],
            "baseline": gbp(r["ytd_baseline_nre_pence"]),
            "nre": gbp(r["ytd_nre_pence"]),
            "change": gbp(r["ytd_change_from_baseline_pence"]),
            "change_pct": percent(r["ytd_change_from_baseline_pence"], r["ytd_baseline_nre_pence"]),
            "forecast": "" if r["year_complete"] else gbp(r["forecast_change_from_baseline_pence"]),
        }
        for r in figures.views["v_local_policing"]
    ]

    function_forces = [f for f in figures.force_names if any(k[1] == f for k in figures.nre_by_function)]
    functions = sorted(
        {fn for (fy, _, fn) in figures.nre_by_function if fy == function_year},
        key=lambda fn: -sum(figures.nre_by_function.get((function_year, f, fn), 0) for f in function_forces),
    )
    function_rows = []
    for fn in functions:
        by_force = [figures.nre_by_function.get((function_year, f, fn), 0) for f in function_forces]
        function_rows.append({"code": fn, "name": figures.function_names.get(fn, fn),
                              "by_force": [gbp(p) for p in by_force], "together": gbp(sum(by_force))})
    function_totals = [sum(figures.nre_by_function.get((function_year, f, fn), 0) for fn in functions)
                       for f in function_forces]

    return {
        **_in_year(figures, year),
        "has_data": True,
        "forces": forces,
        "without_ledger": forces_without_ledger(figures),
        "headline": headline,
        "baseline_year": fy_label(BASELINE_FY),
        "savings_rows": savings_rows,
        "deflated": deflated,
        "local_rows": local_rows,
        "function_year": fy_label(function_year) if function_year is not None else "–",
        "function_runs_to": runs_to(function_year, _function_period(figures, function_year))
        if function_year is not None else "",
        "function_forces": function_forces,
        "function_rows": function_rows,
        "function_totals": [gbp(p) for p in function_totals] + [gbp(sum(function_totals))],
        "sharing": _sharing(figures),
        "settlement": _settlement(figures),
        "reconciliation": [
            {
                "year": fy_label(r["fiscal_year"]),
                "payer": r["payer_force"] or "(not known)",
                "payee": r["payee_force"] or "(not known)",
                "paid": gbp(r["paid_pence"], pence_shown=True),
                "received": gbp(r["received_pence"], pence_shown=True),
                "mismatch": gbp(r["mismatch_pence"], pence_shown=True),
                "status": r["status"],
            }
            for r in figures.views["v_intra_alliance_reconciliation"]
        ],
        "freshness": _freshness_rows(figures.views["v_ledger_freshness"]),
        "unmapped": [
            {
                "force": r["force_code"],
                "code_type": "cost centre" if r["code_type"] == "cost_centre" else r["code_type"],
                "code": r["local_code"] if r["local_code"] is not None else "(blank)",
                "lines": f"{r['line_count']:,}",
                "amount": gbp(r["amount_pence"], pence_shown=True),
                "first": _day(r["first_posting_date"]),
                "last": _day(r["last_posting_date"]),
            }
            for r in figures.views["v_unmapped_codes"]
        ],
        "rejected": [
            {
                "force": r["force_code"],
                "source": r["source_ref"],
                "business_date": _day(r["business_date"]),
                "error": _truncate(r["error"] or "", 400),
            }
            for r in figures.rejected_batches
        ],
    }


_METHODS = {"budget": "actual to date + the budget still to come", "run_rate": "run rate on the baseline's shape",
            "outturn": "outturn"}


def _function_period(figures: BoardFigures, year: int) -> int:
    """How far NRE by function runs: every force together's period, or (a year one force alone has
    ledger in) that force's own, as read_board_figures takes it."""
    if figures.headline_year() is not None and year == figures.headline_year():
        return figures.through_period(year)
    return max((figures.through_period(year, f) for f in figures.force_names), default=0)


def _minus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a - b


def _local_change(row: dict | None) -> dict | None:
    if row is None or row["ytd_change_from_baseline_pence"] is None:
        return None
    change = row["ytd_change_from_baseline_pence"]
    return {"amount": gbp(abs(change)), "direction": "up" if change > 0 else "down" if change < 0 else "level",
            "pct": percent(abs(change), row["ytd_baseline_nre_pence"]), "nre": gbp(row["ytd_nre_pence"]),
            "baseline": gbp(row["ytd_baseline_nre_pence"])}


def _in_year(figures: BoardFigures, year: int | None) -> dict[str, Any]:
    """The stamp (what the figures run to), budget against actual by function for the current year,
    the savings share by year and the post-close adjustments."""
    closed = figures.through_period(year) if year is not None else 0
    budget = [r for r in figures.views.get("v_budget_vs_outturn", []) if r["fiscal_year"] == year]
    return {
        "stamp": {"ledger_to": long_day(figures.ledger_complete_to()),
                  "closed": ("nothing closed yet" if year is None or closed == 0 else
                             f"FY {fy_label(year)} complete" if closed == 16 else
                             f"periods closed to {runs_to(year, closed)[3:]} of FY {fy_label(year)}")},
        "budget_rows": [
            {"force": r["force_code"], "is_all": r["force_code"] == ALL_FORCES,
             "function": figures.function_names.get(r["function_code"], r["function_code"]),
             "budget": gbp(r["budget_pence"]), "to_date": gbp(r["budget_to_date_pence"]),
             "actual": gbp(r["actual_to_date_pence"]), "variance": gbp(r["variance_to_date_pence"]),
             "over": r["variance_to_date_pence"] is not None and r["variance_to_date_pence"] < 0,
             "forecast": gbp(r["forecast_pence"]), "method": r["forecast_method"]}
            for r in budget if r["budget_pence"] is not None or r["force_code"] == ALL_FORCES
        ],
        "budget_runs_to": runs_to(year, closed) if year is not None else "",
        "budget_loaded": any(r["budget_pence"] is not None for r in budget),
        "savings_share": [
            {"year": fy_label(r["fiscal_year"]), "runs_to": runs_to(r["fiscal_year"], r["through_period"]),
             "force": r["force_code"], "key_share": _share(r["key_share"]),
             "alliance_savings": gbp(r["alliance_savings_pence"], pence_shown=True),
             "fair_share": gbp(r["fair_share_pence"], pence_shown=True),
             "realised": gbp(r["realised_savings_pence"], pence_shown=True),
             "difference": gbp(r["difference_pence"], pence_shown=True),
             "target": gbp(r["target_pence"]), "target_basis": r["target_basis"] or ""}
            for r in figures.views.get("v_savings_share", []) if r["fiscal_year"] > BASELINE_FY
        ],
        "post_close": [
            {"force": r["force_code"], "year": fy_label(r["fiscal_year"]), "period": r["period"],
             "basis": r["basis"], "closed_on": _day(r["closed_on"]), "source": r["source_ref"],
             "loaded_at": _day(r["loaded_at"]), "amount": gbp(r["amount_pence"], pence_shown=True),
             "lines": f"{r['line_count']:,}"}
            for r in figures.views.get("v_post_close_adjustments", [])
        ],
    }


def _sharing(figures: BoardFigures) -> list[dict[str, Any]]:
    """The sharing statement by year, with who owes whom; years with nothing to share are left out."""
    by_year: dict[int, list[dict]] = {}
    for r in figures.views["v_cost_share"]:
        by_year.setdefault(r["fiscal_year"], []).append(r)
    years = []
    for year, rows in sorted(by_year.items()):
        if not any(r["programme_cost_total_pence"] or r["paid_to_partner_pence"] for r in rows):
            continue
        if any(r["balance_pence"] is None for r in rows):
            settlement = "No sharing key for this year (no baseline ledger, or the key's weights are invalid)."
        elif not any(r["balance_pence"] for r in rows):
            settlement = "Settled: each force has borne exactly its fair share."
        else:
            settlement = _owing(rows, "balance_pence") + "."
        years.append({
            "year": fy_label(year),
            "settlement": settlement,
            "basis": rows[0]["key_basis"],
            "rows": [
                {
                    "force": r["force_code"],
                    "key_weight": "–" if r["key_weight"] is None else f"{r['key_weight']:,}",
                    "key_share": _share(r["key_share"]),
                    "incurred": gbp(r["incurred_pence"], pence_shown=True),
                    "fair_share": gbp(r["fair_share_pence"], pence_shown=True),
                    "paid_to_partner": gbp(r["paid_to_partner_pence"], pence_shown=True),
                    "paid_by_partner": gbp(r["paid_by_partner_pence"], pence_shown=True),
                    "net_cost": gbp(r["net_cost_pence"], pence_shown=True),
                    "balance": gbp(r["balance_pence"], pence_shown=True),
                }
                for r in rows
            ],
            "total": gbp(rows[0]["programme_cost_total_pence"], pence_shown=True),
        })
    return years


def _owing(rows: list[dict], column: str) -> str:
    """Who owes whom by ``column`` (pence, positive: owes), in the sharing statement's words."""
    if any(r[column] is None for r in rows):
        return "not known (a year without a sharing key: no baseline ledger, or the key's weights are invalid)"
    owes = [r for r in rows if r[column] > 0]
    owed = [r for r in rows if r[column] < 0]
    if len(owes) == 1 and len(owed) == 1:
        return f"{owes[0]['force_code']} owes {owed[0]['force_code']} {gbp(owes[0][column], pence_shown=True)}"
    if owes and owed:
        return ("; ".join(f"{r['force_code']} owes {gbp(r[column], pence_shown=True)}" for r in owes)
                + "; owed: " + ", ".join(f"{r['force_code']} {gbp(-r[column], pence_shown=True)}" for r in owed))
    return "settled, nothing owed either way"


def _settlement(figures: BoardFigures) -> dict[str, Any] | None:
    """The sharing statement carried forward across years (v_settlement): what is owed to date after
    every payment, and by year and force the balance brought forward, the year's share, what was paid
    and the balance carried forward; years with nothing in any column are left out. None before any
    programme cost or payment."""
    by_year: dict[int, list[dict]] = {}
    for r in figures.views.get("v_settlement", []):
        by_year.setdefault(r["fiscal_year"], []).append(r)
    shown = {year: rows for year, rows in sorted(by_year.items())
             if any(r["brought_forward_pence"] or r["year_share_pence"] or r["paid_net_pence"]
                    or r["year_share_pence"] is None for r in rows)}
    if not shown:
        return None
    latest = by_year[max(by_year)]
    known_debt = None not in {r["owed_to_date_pence"] for r in latest} and any(r["owed_to_date_pence"] for r in latest)
    return {
        "to_date": f"To date ({fy_label(max(by_year))}){' after payments' if known_debt else ''}: "
                   f"{_owing(latest, 'owed_to_date_pence')}.",
        "rows": [
            {"year": fy_label(year), "force": r["force_code"],
             "brought_forward": gbp(r["brought_forward_pence"], pence_shown=True),
             "year_share": gbp(r["year_share_pence"], pence_shown=True),
             "paid": gbp(r["paid_net_pence"], pence_shown=True),
             "year_balance": gbp(r["year_balance_pence"], pence_shown=True),
             "carried_forward": gbp(r["owed_to_date_pence"], pence_shown=True),
             "direction": r["direction"] or "not known"}
            for year, rows in shown.items() for r in rows
        ],
    }


def _freshness_rows(rows: list[dict]) -> list[dict[str, Any]]:
    return [
        {
            "force": r["force_code"],
            "name": r["force_name"],
            "last_business_date": _day(r["last_business_date"]),
            "last_posting_date": _day(r["last_posting_date"]),
            "last_loaded_at": _day(r["last_loaded_at"]),
            "loaded": f"{r['batches_loaded']:,}",
            "rejected": f"{r['batches_rejected']:,}",
            "superseded": f"{r['batches_superseded']:,}",
            "any_rejected": bool(r["batches_rejected"]),
            "quarantined": f"{r['lines_quarantined']:,}",
            "lines": f"{r['lines_loaded']:,}",
            "suspense": gbp(r["suspense_pence"], pence_shown=True),
            "suspense_gross": gbp(r["suspense_gross_pence"], pence_shown=True),
            "suspense_lines": f"{r['suspense_line_count']:,}",
        }
        for r in rows
    ]


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_html(figures: BoardFigures | None, chart_png: dict[str, bytes]) -> str:
    """The page, from ``templates/board_report.html.j2``; charts inlined as data URIs."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    charts = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in chart_png.items()}
    return env.get_template("board_report.html.j2").render(fy_label=fy_label, charts=charts, pack=pack_context(figures),
                                                           **page_context(figures))


def pack_context(figures: BoardFigures | None) -> dict[str, Any] | None:
    """The board pack's stamp as the page shows it (None without a warehouse)."""
    stamp = getattr(figures, "pack", None)
    if stamp is None:
        return None
    return {"id": stamp.pack_id, "as_at": f"{stamp.as_at:%Y-%m-%d %H:%M:%S}",
            "high_water": ", ".join(f"{force} {batch}" for force, batch in sorted(stamp.high_water.items())) or "none",
            "reference": stamp.reference_digest[:12], "finance": stamp.finance_digest[:12],
            "digest": stamp.figures_digest}


def _forces_shown(figures: BoardFigures | None) -> list[dict[str, str]]:
    """Every force of the warehouse, by code: its code and name."""
    if figures is None:
        return []
    return [{"code": code, "name": name} for code, name in figures.force_names.items()]


def forces_without_ledger(figures: BoardFigures | None) -> list[str]:
    """"Name (CODE)" of each force in the warehouse with no ledger line loaded yet."""
    if figures is None:
        return []
    return [f"{figures.force_names.get(code, code)} ({code})" for code in figures.forces_without_ledger()]
