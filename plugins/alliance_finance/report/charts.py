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
    # package), and its backend must be chosen before pyplot is imported
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9})
    charts = {}
    for name, draw in (("savings_vs_target", _chart_savings), ("nre_by_function", _chart_functions),
                       ("local_policing", _chart_local)):
        fig = draw(plt, figures, colours)
        if fig is None:
            continue
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        charts[name] = buffer.getvalue()
    return charts


def _chart_savings(plt, figures: BoardFigures, colours: dict[str, str]):
    savings = {r["fiscal_year"]: r for r in figures.savings(ALL_FORCES)}
    targets = {}
    for t in figures.targets:
        if t["alliance_scope"] == "alliance":
            targets.setdefault(t["force_code"], {})[t["fiscal_year"]] = t["target_pence"]
    # every force with a target of its own is drawn beside the alliance
    targeted = [f for f in figures.force_names if f in targets]
    by_force = {f: {r["fiscal_year"]: r for r in figures.savings(f)} for f in targeted}
    years = sorted(y for y in set(savings).union(*(set(t) for t in targets.values())) if y > BASELINE_FY)
    if not years:
        return None
    labels = [fy_label(y) for y in years]
    x = list(range(len(years)))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    series = [(ALL_FORCES, "Alliance savings (every force)", savings)] + [
        (f, f"{figures.force_names[f]} savings", by_force[f]) for f in targeted]
    width = 0.8 / len(series)
    for n, (code, label, rows) in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * width
        ax.bar([i + offset for i in x], [_millions(rows[y]["savings_pence"]) if y in rows else 0 for y in years],
               width, label=label, color=colours.get(code, ALL_COLOUR if code == ALL_FORCES else OTHER_COLOUR))
    for n, code in enumerate([ALL_FORCES] + targeted):
        if code not in targets:
            continue
        name = "Alliance" if code == ALL_FORCES else figures.force_names[code]
        ax.plot(x, [_millions(_carried(targets[code], y)) for y in years], marker="o" if n == 0 else "s",
                linestyle="-" if n == 0 else "--", color=TARGET_COLOURS[n % len(TARGET_COLOURS)],
                label=f"{name} cumulative target")
    ax.set_xticks(x, labels)
    ax.set_ylabel("£ million (cash)")
    ax.axhline(0, color="#888888", linewidth=0.8)
    return _finish(fig, ax, f"Cumulative savings on alliance-scope functions against FY {fy_label(BASELINE_FY)} "
                            "baseline", legend="upper left", grid="y")


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


def _chart_functions(plt, figures: BoardFigures, colours: dict[str, str]):
    year = figures.report_year()
    if year is None:
        return None
    forces = [f for f in figures.force_names if any(k[1] == f for k in figures.nre_by_function)]
    functions = sorted({fn for (fy, _, fn) in figures.nre_by_function if fy == year},
                       key=lambda fn: sum(figures.nre_by_function.get((year, f, fn), 0) for f in forces))
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.38 * len(functions) + 1.2)))
    left = [0.0] * len(functions)
    for force in forces:
        values = [_millions(figures.nre_by_function.get((year, force, fn), 0)) for fn in functions]
        ax.barh(range(len(functions)), values, left=left, label=figures.force_names.get(force, force),
                color=colours.get(force, OTHER_COLOUR))
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(range(len(functions)), [figures.function_names.get(fn, fn) for fn in functions])
    ax.set_xlabel("£ million (net revenue expenditure, partner flows eliminated)")
    ax.axvline(0, color="#888888", linewidth=0.8)
    return _finish(fig, ax, f"Net revenue expenditure by function, {fy_label(year)}: each force and together",
                   legend="lower right", grid="x")


def _chart_local(plt, figures: BoardFigures, colours: dict[str, str]):
    rows = figures.views["v_local_policing"]
    years = sorted({r["fiscal_year"] for r in rows})
    if not years:
        return None
    order = {code: n for n, code in enumerate(figures.force_names)}
    x = list(range(len(years)))
    fig, ax = plt.subplots(figsize=(9, 4))
    for force in sorted({r["force_code"] for r in rows}, key=lambda f: (f == ALL_FORCES, order.get(f, 99), f)):
        by_year = {r["fiscal_year"]: r for r in rows if r["force_code"] == force}
        colour = colours.get(force, OTHER_COLOUR)
        name = "Every force" if force == ALL_FORCES else figures.force_names.get(force, force)
        ax.plot([i for i, y in zip(x, years) if y in by_year],
                [_millions(by_year[y]["nre_pence"]) for y in years if y in by_year],
                marker="o", color=colour, label=f"{name}: local policing NRE")
        baseline = next((r["baseline_nre_pence"] for r in by_year.values() if r["baseline_nre_pence"] is not None), None)
        if baseline is not None:
            ax.axhline(_millions(baseline), color=colour, linestyle=":", linewidth=1)
    ax.set_xticks(x, [fy_label(y) for y in years])
    ax.set_ylabel("£ million (cash)")
    return _finish(fig, ax, f"Local policing NRE against its FY {fy_label(BASELINE_FY)} baseline (dotted)",
                   legend="lower left", grid="y")
