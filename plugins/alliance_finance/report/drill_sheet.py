"""The workbook's ``drill-down`` sheet: every figure of the summary sheets that is a sum of ledger
lines, with the ``alliance-finance explain`` command that writes its lines, and its lines' count
and sum as the summary tables give them (no line is read: the report's time does not grow with the
ledger). Each figure cell of the summary sheets links to its row here, and the row links back.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from alliance_finance.marts.drill_lines import summary_totals
from alliance_finance.marts.drilldown import VIEWS, DrilldownRefused, FigureSpec, explain_command, figure_parts, figure_pence
from alliance_finance.marts.figures import BoardFigures

SHEET = "drill-down"
#: the summary sheets whose figures link to their drill-down
LINKED_VIEWS = ("v_savings_tracker", "v_local_policing", "v_cost_share", "v_settlement", "v_savings_share",
                "v_budget_vs_outturn", "v_intra_alliance_reconciliation")


@dataclasses.dataclass
class DrillSheet:
    """The sheet's rows (in order) and, for each linked figure, where it is and where its row is."""

    rows: list[dict[str, Any]]
    #: (view, row index in its sheet's data, measure) -> the drill-down sheet's data row index
    row_of: dict[tuple[str, int, str], int]


def out_name(spec: FigureSpec, suffix: str = "xlsx") -> str:
    """A file name saying which figure: ``v_savings_tracker.ytd_nre.2016.ALL.alliance.xlsx``."""
    parts = [spec.view, spec.measure] + ["none" if v is None else str(v) for v in spec.key.values()]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", ".".join(parts)) + f".{suffix}"


def drill_sheet(figures: BoardFigures | None) -> DrillSheet:
    """Every drillable figure of the linked views, in sheet order then row then measure."""
    sheet = DrillSheet(rows=[], row_of={})
    if figures is None or figures.drill_summaries is None:
        return sheet
    for view in LINKED_VIEWS:
        drillable = VIEWS[view]
        for index, row in enumerate(figures.views.get(view, [])):
            for measure in drillable.measures:
                figure = figure_pence(row, measure)
                if figure is None:
                    continue
                spec = FigureSpec(view, measure, {k: row[k] for k in drillable.keys})
                try:
                    parts = figure_parts(spec, row)
                except DrilldownRefused:
                    continue  # this row's figure is a projection, not lines (a forecast by run rate)
                totals = summary_totals(figures.drill_summaries, parts)
                count, total = totals if totals is not None else (None, None)
                sheet.row_of[(view, index, measure)] = len(sheet.rows)
                sheet.rows.append({
                    "view": view,
                    "measure": measure,
                    "row": ", ".join(f"{k} {'(none)' if v is None else v}" for k, v in spec.key.items()),
                    "figure": Decimal(figure).scaleb(-2),
                    "figure_pence": figure,
                    "line_count": count,
                    "lines_sum": None if total is None else Decimal(total).scaleb(-2),
                    "lines_sum_pence": total,
                    "equal": None if total is None else ("yes" if total == figure else "NO"),
                    "parts": "; ".join(f"{'+' if p.sign > 0 else '-'} {p.name}" for p in parts),
                    "command": explain_command(spec, out_name(spec)),
                })
    return sheet
