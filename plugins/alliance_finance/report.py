"""The alliance board report: one self-contained HTML page, its charts as PNG, and an XLSX workbook.

``alliance-finance report --warehouse URL --out DIR`` writes into DIR:

* ``index.html``: for the alliance board and both finance teams. Opens offline: styles inline,
  charts embedded as PNG data URIs, no script, font or stylesheet from anywhere else. Every value
  is escaped (Jinja2 autoescape).
* ``savings_vs_target.png``, ``nre_by_function.png``, ``local_policing.png``: the same charts.
* ``alliance_finance.xlsx``: one sheet per view, money as real numbers exact to the penny in
  ``£#,##0.00``, header row frozen, and text that a spreadsheet could take for a formula kept as text.

Every figure comes from the finance views through :func:`alliance_finance.marts.finance.read_board_figures`
(one snapshot); nothing is computed here but presentation (labels, percentages, the words "owes").
The same warehouse gives the same page and charts, byte for byte.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alliance_finance.marts.finance import ALL_FORCES, BASELINE_FY, REPORT_VIEWS, BoardFigures, read_board_figures
from alliance_finance.core.fiscal import fy_label
from alliance_finance.core.money import format_gbp

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "report_templates"
HTML_NAME = "index.html"
WORKBOOK_NAME = "alliance_finance.xlsx"
CHART_NAMES = ("savings_vs_target", "nre_by_function", "local_policing")

#: Excel number formats by the kind of integer twin a decimal column has.
MONEY_FORMAT = "£#,##0.00"
_TWIN_FORMATS = {"_pence": MONEY_FORMAT, "_hundredths": "#,##0.00", "_ten_thousandths": "0.0000", "_ppm": "0.000000"}
_DECIMAL_TWINS = {"key_share": "key_ppm"}
#: Text a spreadsheet would read as a formula (or DDE) when it starts a cell.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FORCE_COLOURS = {"ASC": "#1f5fa8", "WP": "#2e8540", ALL_FORCES: "#444444"}


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote."""

    html: Path
    workbook: Path
    charts: dict[str, Path]
    has_data: bool


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def report_cli(warehouse_url: str, out: Path) -> int:
    """``alliance-finance report``: write the report into ``out``; 0 when written, 1 when it could not be."""
    from alliance_finance.core.urls import mask_url

    try:
        files = build_report(warehouse_url, Path(out))
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        print(f"alliance-finance report: could not report on {mask_url(warehouse_url)}: {exc}\n"
              "(a warehouse at an older schema has no finance views yet: `alliance-finance run` upgrades it)",
              file=sys.stderr)
        return 1
    if not files.has_data:
        print(f"No ledger loaded in {mask_url(warehouse_url)} yet: wrote a report that says so.")
    print(f"Board report: {files.html}")
    print(f"Workbook:     {files.workbook}")
    for path in files.charts.values():
        print(f"Chart:        {path}")
    return 0


def build_report(url_or_engine: str | sa.Engine, out: Path) -> ReportFiles:
    """Read the warehouse and write the HTML page, the PNG charts and the workbook into ``out``."""
    from alliance_finance.warehouse.engine import make_engine

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    own_engine = not isinstance(url_or_engine, sa.Engine)
    figures = None
    if not (own_engine and _missing_sqlite_file(url_or_engine)):
        engine = make_engine(url_or_engine) if own_engine else url_or_engine
        try:
            if _has_schema(engine):
                figures = read_board_figures(engine)
        finally:
            if own_engine:
                engine.dispose()

    has_data = figures is not None and figures.has_ledger
    charts: dict[str, Path] = {}
    chart_png: dict[str, bytes] = {}
    if has_data:
        chart_png = render_charts(figures)
        for name, png in chart_png.items():
            path = out / f"{name}.png"
            path.write_bytes(png)
            charts[name] = path
    for stale in CHART_NAMES:
        if stale not in charts:
            (out / f"{stale}.png").unlink(missing_ok=True)

    html = out / HTML_NAME
    html.write_text(render_html(figures, chart_png), encoding="utf-8")
    workbook = out / WORKBOOK_NAME
    write_workbook(figures, workbook)
    return ReportFiles(html=html, workbook=workbook, charts=charts, has_data=has_data)


def _missing_sqlite_file(url: str) -> bool:
    # Reporting must not create an empty SQLite warehouse where none exists.
    from alliance_finance.core.urls import normalise_url

    u = normalise_url(url)
    return u.get_backend_name() == "sqlite" and bool(u.database) and u.database != ":memory:" \
        and not Path(u.database).exists()


def _has_schema(engine: sa.Engine) -> bool:
    from alliance_finance.warehouse.engine import PG_SCHEMA

    schema = PG_SCHEMA if engine.dialect.name == "postgresql" else None
    return sa.inspect(engine).has_table("fact_ledger_line", schema=schema)


# ---------------------------------------------------------------------------------------------
# Presentation helpers
# ---------------------------------------------------------------------------------------------


def gbp(pence: int | None, *, pence_shown: bool = False) -> str:
    """``£1,234,567``; a missing figure as an en dash."""
    return "–" if pence is None else format_gbp(pence, pence_shown=pence_shown)


def percent(part: int | None, whole: int | None) -> str:
    """``part / whole`` as a percentage with one decimal, exact to the last digit shown."""
    if part is None or not whole:
        return "–"
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def _share(key_share: Decimal | None) -> str:
    if key_share is None:
        return "–"
    return f"{(key_share * 100).quantize(Decimal('0.0001'))}%"


def _day(value: Any) -> str:
    if value is None:
        return "–"
    return value.isoformat(sep=" ", timespec="minutes") if hasattr(value, "hour") else value.isoformat()


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def page_context(figures: BoardFigures | None) -> dict[str, Any]:
    """Everything the template shows, as display strings (money formatted, years labelled)."""
    if figures is None or not figures.has_ledger:
        freshness = [] if figures is None else figures.views["v_ledger_freshness"]
        return {"has_data": False, "freshness": _freshness_rows(freshness) if freshness else []}

    year = figures.headline_year()
    complete = figures.year_complete(year)
    savings_all = {r["fiscal_year"]: r for r in figures.savings(ALL_FORCES)}
    head = savings_all.get(year)
    wp = {r["fiscal_year"]: r for r in figures.savings("WP")}.get(year)
    local_all = {r["fiscal_year"]: r for r in figures.views["v_local_policing"] if r["force_code"] == ALL_FORCES}

    headline = None
    if head is not None:
        # without the FY 2014 baseline in the warehouse there are no savings to compare
        no_baseline = head["savings_pence"] is None
        behind = (not no_baseline and head["target_pence"] is not None
                  and head["savings_pence"] < head["target_pence"])
        headline = {
            "year": fy_label(year),
            "complete": complete,
            "savings": gbp(head["savings_pence"]),
            "target": gbp(head["target_pence"]),
            "of_target": percent(head["savings_pence"], head["target_pence"]),
            "variance": gbp(None if head["target_variance_pence"] is None else abs(head["target_variance_pence"])),
            "status": ("no FY 2014/15 baseline loaded" if no_baseline else "no target" if head["target_pence"] is None
                       else ("behind target" if behind else "on or ahead of target")),
            "behind": behind,
            "baseline": gbp(head["baseline_nre_pence"]),
            "nre": gbp(head["nre_pence"]),
            "wp_savings": gbp(wp["savings_pence"]) if wp else None,
            "wp_target": gbp(wp["target_pence"]) if wp and wp["target_pence"] is not None else None,
            "local_change": _local_change(local_all.get(year)),
        }

    deflated = any(r["nre_real_pence"] is not None for r in figures.views["v_savings_tracker"])
    savings_rows = [
        {
            "year": fy_label(r["fiscal_year"]),
            "force": "Alliance (both forces)" if r["force_code"] == ALL_FORCES else figures.force_names.get(r["force_code"], r["force_code"]),
            "is_all": r["force_code"] == ALL_FORCES,
            "baseline": gbp(r["baseline_nre_pence"]),
            "nre": gbp(r["nre_pence"]),
            "savings": gbp(r["savings_pence"]),
            "target": gbp(r["target_pence"]),
            "variance": gbp(r["target_variance_pence"]),
            "behind": r["target_variance_pence"] is not None and r["target_variance_pence"] < 0,
            "nre_real": gbp(r["nre_real_pence"]),
            "savings_real": gbp(r["savings_real_pence"]),
            "complete": figures.year_complete(r["fiscal_year"]),
        }
        for r in figures.views["v_savings_tracker"]
        if r["alliance_scope"] == "alliance" and r["fiscal_year"] > BASELINE_FY
    ]

    local_rows = [
        {
            "year": fy_label(r["fiscal_year"]),
            "force": r["force_code"],
            "baseline": gbp(r["baseline_nre_pence"]),
            "nre": gbp(r["nre_pence"]),
            "change": gbp(r["change_from_baseline_pence"]),
            "change_pct": percent(r["change_from_baseline_pence"], r["baseline_nre_pence"]),
        }
        for r in figures.views["v_local_policing"]
    ]

    function_year = year
    forces = sorted({f for (_, f, _) in figures.nre_by_function})
    functions = sorted(
        {fn for (fy, _, fn) in figures.nre_by_function if fy == function_year},
        key=lambda fn: -sum(figures.nre_by_function.get((function_year, f, fn), 0) for f in forces),
    )
    function_rows = []
    for fn in functions:
        by_force = [figures.nre_by_function.get((function_year, f, fn), 0) for f in forces]
        function_rows.append({"code": fn, "name": figures.function_names.get(fn, fn),
                              "by_force": [gbp(p) for p in by_force], "together": gbp(sum(by_force))})
    function_totals = [sum(figures.nre_by_function.get((function_year, f, fn), 0) for fn in functions) for f in forces]

    return {
        "has_data": True,
        "headline": headline,
        "baseline_year": fy_label(BASELINE_FY),
        "savings_rows": savings_rows,
        "deflated": deflated,
        "local_rows": local_rows,
        "function_year": fy_label(function_year),
        "function_forces": forces,
        "function_rows": function_rows,
        "function_totals": [gbp(p) for p in function_totals] + [gbp(sum(function_totals))],
        "sharing": _sharing(figures),
        "reconciliation": [
            {
                "year": fy_label(r["fiscal_year"]),
                "payer": r["payer_force"],
                "payee": r["payee_force"],
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


def _local_change(row: dict | None) -> dict | None:
    if row is None or row["change_from_baseline_pence"] is None:
        return None
    change = row["change_from_baseline_pence"]
    return {"amount": gbp(abs(change)), "direction": "up" if change > 0 else "down" if change < 0 else "level",
            "pct": percent(abs(change), row["baseline_nre_pence"]), "nre": gbp(row["nre_pence"]),
            "baseline": gbp(row["baseline_nre_pence"])}


def _sharing(figures: BoardFigures) -> list[dict[str, Any]]:
    """The sharing statement by year, with who owes whom; years with nothing to share are left out."""
    by_year: dict[int, list[dict]] = {}
    for r in figures.views["v_cost_share"]:
        by_year.setdefault(r["fiscal_year"], []).append(r)
    years = []
    for year, rows in sorted(by_year.items()):
        if not any(r["programme_cost_total_pence"] or r["paid_to_partner_pence"] for r in rows):
            continue
        owes = [r for r in rows if r["balance_pence"] is not None and r["balance_pence"] > 0]
        owed = [r for r in rows if r["balance_pence"] is not None and r["balance_pence"] < 0]
        if any(r["balance_pence"] is None for r in rows):
            settlement = "No sharing key for this year (no baseline ledger, or the key's weights are invalid)."
        elif owes and owed:
            settlement = f"{owes[0]['force_code']} owes {owed[0]['force_code']} {gbp(owes[0]['balance_pence'], pence_shown=True)}."
        else:
            settlement = "Settled: each force has borne exactly its fair share."
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
    """The page, from ``report_templates/board_report.html.j2``; charts inlined as data URIs."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    charts = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in chart_png.items()}
    return env.get_template("board_report.html.j2").render(fy_label=fy_label, charts=charts, **page_context(figures))


# ---------------------------------------------------------------------------------------------
# Charts (matplotlib, Agg): money becomes float only here, as chart geometry in £m, never as a figure
# ---------------------------------------------------------------------------------------------


def _millions(pence: int | None) -> float:
    return 0.0 if pence is None else pence / 100_000_000


def render_charts(figures: BoardFigures) -> dict[str, bytes]:
    """The three charts as PNG bytes, by name. Deterministic: same figures, same bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9})
    charts = {}
    for name, draw in (("savings_vs_target", _chart_savings), ("nre_by_function", _chart_functions),
                       ("local_policing", _chart_local)):
        fig = draw(plt, figures)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        charts[name] = buffer.getvalue()
    return charts


def _chart_savings(plt, figures: BoardFigures):
    savings = {r["fiscal_year"]: r for r in figures.savings(ALL_FORCES)}
    wp = {r["fiscal_year"]: r for r in figures.savings("WP")}
    targets = figures.targets
    all_targets = {t["fiscal_year"]: t["target_pence"] for t in targets if t["force_code"] == ALL_FORCES and t["alliance_scope"] == "alliance"}
    wp_targets = {t["fiscal_year"]: t["target_pence"] for t in targets if t["force_code"] == "WP" and t["alliance_scope"] == "alliance"}
    years = sorted(y for y in set(savings) | set(all_targets) | set(wp_targets) if y > BASELINE_FY)
    labels = [fy_label(y) for y in years]
    x = list(range(len(years)))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.38
    ax.bar([i - width / 2 for i in x], [_millions(savings[y]["savings_pence"]) if y in savings else 0 for y in years],
           width, label="Alliance savings (both forces)", color=FORCE_COLOURS[ALL_FORCES])
    ax.bar([i + width / 2 for i in x], [_millions(wp[y]["savings_pence"]) if y in wp else 0 for y in years],
           width, label="Wiltshire savings", color=FORCE_COLOURS["WP"])
    ax.plot(x, [_millions(_carried(all_targets, y)) for y in years], marker="o", color="#c0392b",
            label="Alliance cumulative target")
    if wp_targets:
        ax.plot(x, [_millions(_carried(wp_targets, y)) for y in years], marker="s", linestyle="--",
                color="#e67e22", label="Wiltshire cumulative target")
    ax.set_xticks(x, labels)
    ax.set_ylabel("£ million (cash)")
    ax.set_title(f"Cumulative savings on alliance-scope functions against FY {fy_label(BASELINE_FY)} baseline")
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _carried(targets: dict[int, int], year: int) -> int | None:
    # the view's rule: a cumulative target holds until a later one replaces it
    earlier = [y for y in targets if y <= year]
    return targets[max(earlier)] if earlier else None


def _chart_functions(plt, figures: BoardFigures):
    year = figures.headline_year()
    forces = sorted({f for (_, f, _) in figures.nre_by_function})
    functions = sorted({fn for (fy, _, fn) in figures.nre_by_function if fy == year},
                       key=lambda fn: sum(figures.nre_by_function.get((year, f, fn), 0) for f in forces))
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.38 * len(functions) + 1.2)))
    left = [0.0] * len(functions)
    for force in forces:
        values = [_millions(figures.nre_by_function.get((year, force, fn), 0)) for fn in functions]
        ax.barh(range(len(functions)), values, left=left, label=figures.force_names.get(force, force),
                color=FORCE_COLOURS.get(force, "#777777"))
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(range(len(functions)), [figures.function_names.get(fn, fn) for fn in functions])
    ax.set_xlabel("£ million (net revenue expenditure, partner flows eliminated)")
    ax.set_title(f"Net revenue expenditure by function, {fy_label(year)}: each force and together")
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _chart_local(plt, figures: BoardFigures):
    rows = figures.views["v_local_policing"]
    years = sorted({r["fiscal_year"] for r in rows})
    x = list(range(len(years)))
    fig, ax = plt.subplots(figsize=(9, 4))
    for force in sorted({r["force_code"] for r in rows}, key=lambda f: (f == ALL_FORCES, f)):
        by_year = {r["fiscal_year"]: r for r in rows if r["force_code"] == force}
        colour = FORCE_COLOURS.get(force, "#777777")
        name = "Both forces" if force == ALL_FORCES else figures.force_names.get(force, force)
        ax.plot([i for i, y in zip(x, years) if y in by_year],
                [_millions(by_year[y]["nre_pence"]) for y in years if y in by_year],
                marker="o", color=colour, label=f"{name}: local policing NRE")
        baseline = next((r["baseline_nre_pence"] for r in by_year.values() if r["baseline_nre_pence"] is not None), None)
        if baseline is not None:
            ax.axhline(_millions(baseline), color=colour, linestyle=":", linewidth=1)
    ax.set_xticks(x, [fy_label(y) for y in years])
    ax.set_ylabel("£ million (cash)")
    ax.set_title(f"Local policing NRE against its FY {fy_label(BASELINE_FY)} baseline (dotted)")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# The workbook
# ---------------------------------------------------------------------------------------------


def safe_text_cell(ws, value: str):
    """A text cell that no spreadsheet will evaluate: stored as a string, and quote-prefixed when it
    starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return). The text is kept whole."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    if value.startswith(_FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def _text(ws, value: str):
    """A text value for a row: as it is, or as a safe cell when it starts like a formula. Characters
    XML cannot hold (control characters from a source) are shown as U+FFFD rather than failing the report."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return safe_text_cell(ws, value) if value.startswith(_FORMULA_STARTS) else value


def _sheet_columns(rows: list[dict], fallback: list[str]) -> list[tuple[str, str | None]]:
    """(column, Excel number format or None) for the columns a sheet shows: integer twins left out."""
    columns = list(rows[0]) if rows else fallback
    shown = []
    twin_of = {}
    for c in columns:
        for suffix, fmt in _TWIN_FORMATS.items():
            if c.endswith(suffix):
                stem = c[: -len(suffix)]
                for decimal_column in [stem] + [d for d, t in _DECIMAL_TWINS.items() if t == c]:
                    if decimal_column in columns:
                        twin_of[decimal_column] = (c, fmt)
    for c in columns:
        if any(c == twin for twin, _ in twin_of.values()):
            continue
        fmt = twin_of.get(c, (None, None))[1]
        if fmt is None and (c.endswith("_date")):
            fmt = "yyyy-mm-dd"
        elif fmt is None and c.endswith("_at"):
            fmt = "yyyy-mm-dd hh:mm"
        shown.append((c, fmt))
    return shown


def write_workbook(figures: BoardFigures | None, path: Path) -> None:
    """One sheet per view (REPORT_VIEWS), money as exact numbers in ``£#,##0.00``, header frozen."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for view in REPORT_VIEWS:
        ws = wb.create_sheet(title=view[:31])
        ws.freeze_panes = "A2"
        rows = figures.views.get(view, []) if figures is not None else []
        columns = _sheet_columns(rows, fallback=["no data loaded yet"])
        for index, (column, fmt) in enumerate(columns, start=1):
            sample = [column] + [_display_width(r.get(column), fmt) for r in rows[:2000]]
            width = min(60, max(len(s) if isinstance(s, str) else s for s in sample) + 2)
            ws.column_dimensions[get_column_letter(index)].width = width
        header = []
        for column, _ in columns:
            cell = safe_text_cell(ws, column)  # a header is a name: never a formula either
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for r in rows:
            out = []
            for column, fmt in columns:
                value = r.get(column)
                if isinstance(value, str):
                    # plain text is written as a string cell as it is; only text that starts like a
                    # formula needs the explicit cell (a few in a million, and cells are slow)
                    out.append(_text(ws, value))
                elif fmt is not None and value is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = fmt
                    out.append(cell)
                else:
                    out.append(value)
            ws.append(out)
    wb.save(path)


def _display_width(value: Any, fmt: str | None) -> int:
    if value is None:
        return 1
    if fmt == MONEY_FORMAT:
        return len(f"£{value:,.2f}")
    return len(str(value))
