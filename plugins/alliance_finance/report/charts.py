"""The board report's charts (matplotlib, Agg): money becomes float only here, as chart geometry in
£m, never as a figure. One colour per force, from ``report_colour`` in ``dags/forces.yaml``.
"""

from __future__ import annotations

import io

from alliance_finance.core.fiscal import fy_label
from alliance_finance.marts.figures import ALL_FORCES, BASELINE_FY, BoardFigures
from alliance_finance.report.format import ALL_COLOUR, OTHER_COLOUR

CHART_NAMES = ("savings_vs_target", "nre_by_function", "local_policing")
#: the target lines' colours: the alliance's, then one per force with a target of its own
TARGET_COLOURS = ("#c0392b", "#e67e22", "#7f8c8d", "#b7950b")

def _millions(pence: int | None) -> float:
    return 0.0 if pence is None else pence / 100_000_000


def render_charts(figures: BoardFigures, colours: dict[str, str]) -> dict[str, bytes]:
    """The three charts as PNG bytes, by name; ``colours``: force code -> colour. Deterministic: same
    figures, same bytes. A chart with nothing to draw (no year every force has delivered) is left out."""
    # deferred: matplotlib loads only when charts are drawn (every orchestration task imports the report
    # package). Figures are drawn on an Agg canvas of their own, without pyplot: no backend to choose,
    # no global figure registry to close, and the font size set for these charts only.
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def new_figure(figsize: tuple[float, float]):
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        return fig, fig.subplots()

    charts = {}
    with rc_context({"font.size": 9}):
        for name, draw in (("savings_vs_target", _chart_savings), ("nre_by_function", _chart_functions),
                           ("local_policing", _chart_local)):
            fig = draw(new_figure, figures, colours)
            if fig is None:
                continue
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
            charts[name] = buffer.getvalue()
    return charts


def _chart_savings(new_figure, figures: BoardFigures, colours: dict[str, str]):
    data = chart_series(figures)["savings_vs_target"]
    if not data["labels"]:
        return None
    x = list(range(len(data["labels"])))
    fig, ax = new_figure((9, 4.5))
    series = [code for code in [ALL_FORCES] + list(figures.force_names) if code in data["bars"]]
    width = 0.8 / max(1, len(series))
    for n, code in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * width
        label = "Alliance savings (every force)" if code == ALL_FORCES else f"{figures.force_names[code]} savings"
        ax.bar([i + offset for i in x], [float(v or 0) / 1_000_000 for v in data["bars"][code]], width, label=label,
               color=colours.get(code, ALL_COLOUR if code == ALL_FORCES else OTHER_COLOUR))
    for n, code in enumerate(c for c in [ALL_FORCES] + list(figures.force_names) if c in data["targets"]):
        name = "Alliance" if code == ALL_FORCES else figures.force_names[code]
        points = [(i, float(v) / 1_000_000) for i, v in zip(x, data["targets"][code]) if v is not None]
        ax.plot([i for i, _ in points], [v for _, v in points], marker="o" if n == 0 else "s",
                linestyle="-" if n == 0 else "--", color=TARGET_COLOURS[n % len(TARGET_COLOURS)],
                label=f"{name} cumulative target (to date in a year in progress)")
    ax.set_xticks(x, data["labels"])
    ax.set_ylabel("£ million (cash)")
    ax.axhline(0, color="#888888", linewidth=0.8)
    return _finish(fig, ax, f"Cumulative savings on alliance-scope functions against FY {fy_label(BASELINE_FY)} "
                            "baseline, like with like", legend="upper left", grid="y")


def _finish(fig, ax, title: str, *, legend: str, grid: str):
    """Every chart's last touches: its title, a small legend at ``legend``, light grid lines across ``grid``."""
    ax.set_title(title)
    ax.legend(loc=legend, fontsize=8)
    ax.grid(axis=grid, alpha=0.3)
    fig.tight_layout()
    return fig


def _carried(targets: dict[int, int], year: int) -> int | None:
    # the view's rule: a cumulative target holds until a later one replaces it
    earlier = [y for y in targets if y <= year]
    return targets[max(earlier)] if earlier else None


def _chart_functions(new_figure, figures: BoardFigures, colours: dict[str, str]):
    year = figures.report_year()
    if year is None:
        return None
    forces = [f for f in figures.force_names if any(k[1] == f for k in figures.nre_by_function)]
    functions = sorted({fn for (fy, _, fn) in figures.nre_by_function if fy == year},
                       key=lambda fn: sum(figures.nre_by_function.get((year, f, fn), 0) for f in forces))
    fig, ax = new_figure((9, max(3.0, 0.38 * len(functions) + 1.2)))
    left = [0.0] * len(functions)
    for force in forces:
        values = [_millions(figures.nre_by_function.get((year, force, fn), 0)) for fn in functions]
        ax.barh(range(len(functions)), values, left=left, label=figures.force_names.get(force, force),
                color=colours.get(force, OTHER_COLOUR))
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(range(len(functions)), [figures.function_names.get(fn, fn) for fn in functions])
    ax.set_xlabel("£ million (net revenue expenditure, partner flows eliminated)")
    ax.axvline(0, color="#888888", linewidth=0.8)
    runs = figures.through_period(year)
    runs = "" if runs == 16 or figures.headline_year() != year else " (nothing closed yet)" if not runs else f" to P{runs}"
    return _finish(fig, ax, f"Net revenue expenditure by function, {fy_label(year)}{runs}: each force and together",
                   legend="lower right", grid="x")


def _chart_local(new_figure, figures: BoardFigures, colours: dict[str, str]):
    data = chart_series(figures)["local_policing"]
    if not data["labels"]:
        return None
    order = {code: n for n, code in enumerate(figures.force_names)}
    x = list(range(len(data["labels"])))
    fig, ax = new_figure((9, 4))
    for force in sorted(data["lines"], key=lambda f: (f == ALL_FORCES, order.get(f, 99), f)):
        points = [(i, float(v)) for i, v in zip(x, data["lines"][force]) if v is not None]
        name = "Every force" if force == ALL_FORCES else figures.force_names.get(force, force)
        ax.plot([i for i, _ in points], [v for _, v in points], marker="o", color=colours.get(force, OTHER_COLOUR),
                label=f"{name}: local policing NRE")
    ax.axhline(100, color="#888888", linestyle=":", linewidth=1)
    ax.set_xticks(x, data["labels"])
    ax.set_ylabel(f"% of FY {fy_label(BASELINE_FY)} over the same periods")
    return _finish(fig, ax, f"Local policing NRE against its FY {fy_label(BASELINE_FY)} baseline (100%), like with like",
                   legend="lower left", grid="y")


def _label(row: dict) -> str:
    """A year's axis label: ``2016/17``, or ``2016/17 to P6`` while it is in progress."""
    p = row["through_period"]
    return fy_label(row["fiscal_year"]) + ("" if p == 16 else " (nothing closed)" if not p else f" to P{p}")


def chart_series(figures: BoardFigures) -> dict[str, dict]:
    """What the savings and local policing charts plot, as exact values: each year to its last closed
    period (v_savings_tracker's and v_local_policing's year-to-date columns, the whole year once
    complete), so no chart puts part of a year beside a whole one.

    ``savings_vs_target``: ``labels``; ``bars`` force (or ALL) -> savings in pounds per year; ``targets``
    force -> the cumulative target (to date in a year in progress) per year, years after the ledger
    included. ``local_policing``: ``labels``; ``lines`` force -> NRE as a percentage of the baseline's
    same periods, one decimal.
    """
    from decimal import ROUND_HALF_UP, Decimal

    def pounds(pence):
        return None if pence is None else Decimal(pence) / 100

    savings = {(r["force_code"], r["fiscal_year"]): r for r in figures.views["v_savings_tracker"]
               if r["alliance_scope"] == "alliance" and r["fiscal_year"] > BASELINE_FY}
    targets: dict[str, dict[int, int]] = {}
    for t in figures.targets:
        if t["alliance_scope"] == "alliance":
            targets.setdefault(t["force_code"], {})[t["fiscal_year"]] = t["target_pence"]
    targeted = [f for f in figures.force_names if f in targets]
    years = sorted({y for (f, y) in savings if f == ALL_FORCES}.union(*(set(t) for t in targets.values())))
    years = [y for y in years if y > BASELINE_FY]
    labels = [_label(savings[(ALL_FORCES, y)]) if (ALL_FORCES, y) in savings else fy_label(y) for y in years]
    bars = {code: [pounds(savings[(code, y)]["ytd_savings_pence"]) if (code, y) in savings else None for y in years]
            for code in [ALL_FORCES] + targeted if any((code, y) in savings for y in years)}
    lines_to = {}
    for code in [ALL_FORCES] + targeted:
        if code not in targets:
            continue
        lines_to[code] = [pounds(savings[(code, y)]["ytd_target_pence"] if (code, y) in savings
                                 and not savings[(code, y)]["year_complete"] else _carried(targets[code], y))
                          for y in years]
    local = figures.views["v_local_policing"]
    local_years = sorted({r["fiscal_year"] for r in local})
    by = {(r["force_code"], r["fiscal_year"]): r for r in local}
    local_all = {y: by.get((ALL_FORCES, y)) for y in local_years}
    local_labels = [_label(local_all[y]) if local_all[y] else _label(next(r for r in local if r["fiscal_year"] == y))
                    for y in local_years]

    def share(row):
        if row is None or not row["ytd_baseline_nre_pence"] or row["ytd_nre_pence"] is None:
            return None
        return (Decimal(row["ytd_nre_pence"]) * 100 / Decimal(row["ytd_baseline_nre_pence"])).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP)

    lines = {force: [share(by.get((force, y))) for y in local_years] for force in {r["force_code"] for r in local}}
    return {"savings_vs_target": {"labels": labels, "bars": bars, "targets": lines_to},
            "local_policing": {"labels": local_labels, "lines": lines}}
