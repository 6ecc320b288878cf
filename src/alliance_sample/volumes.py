"""How many lines carry each cell's money in a fiscal year at a given scale (a :class:`VolumePlan`).

Payroll first (every cost centre is paid every month), then the small streams (grants, fees, partner
flows, capital financing) and the reclassification journals; the invoices take what is left of the
force's lines per year times the scale, spread over the months and shared out in integer pence.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alliance_finance.config.reference import ReferenceData
from alliance_sample.budget import scope_of
from alliance_sample.chart import Chart
from alliance_sample.money import allocate, pounds
from alliance_sample.randomness import rng_for
from alliance_sample.scenario import SCENARIO
from alliance_sample.story import YearPlan
from alliance_sample.vocabulary import CATEGORIES, ROLE_CATEGORY

#: shares of a force's lines a year: payroll, reclassification journals, fees and event-policing income
#: (the invoices take what is left), and the mean lines of an invoice
PAYROLL_SHARE = 0.25
RECLASS_SHARE = 0.03
INCOME_SHARE = 0.03
MEAN_INVOICE_LINES = 2.5
#: invoices through the year: a slow April, a quiet December, the March spend-up
INVOICE_MONTH_WEIGHTS = np.array([0.85, 0.95, 1.0, 1.0, 0.9, 1.0, 1.05, 1.05, 0.9, 1.0, 1.05, 1.35])


@dataclasses.dataclass
class VolumePlan:
    """How many lines carry each cell's money in a fiscal year at a given scale."""

    cell_cc: np.ndarray
    cell_account: np.ndarray
    cell_role: np.ndarray
    cell_category: np.ndarray
    cell_stream: np.ndarray          # object: the cell's stream
    payroll_lines: np.ndarray        # lines per payroll cell per month
    instalment_lines: np.ndarray     # lines per instalment of grants, fees, partner flows, capital financing
    spread_lines: np.ndarray         # (cells, 12) invoice lines per period
    spread_amounts: np.ndarray       # (cells, 12) invoice pence per period
    reclass_documents: int           # journals moving money between cost centres, per month
    reclass_sources: np.ndarray      # cells a reclass journal may move money from
    reclass_weights: np.ndarray
    cc_scope_group: np.ndarray       # per cost centre: scope and company, for reclass partners


def volume_plan(chart: Chart, plan: YearPlan, scale: float, seed: int, ref: ReferenceData) -> VolumePlan:
    """Line counts for the year: payroll first (every cost centre is paid every month), then the
    small streams, and the invoices take what is left of ``LINES_PER_YEAR * scale``."""
    rng = rng_for(seed, plan.force, plan.fiscal_year, 4)
    cells = plan.cells
    n = len(cells)
    cell_cc = np.array([chart.cc_index[c.cost_centre] for c in cells], dtype=np.int64)
    cell_account = np.array([chart.account_index[c.account] for c in cells], dtype=np.int64)
    cell_role = np.array([chart.role_index[c.role] for c in cells], dtype=np.int64)
    cell_category = np.array([CATEGORIES.index(ROLE_CATEGORY.get(c.role, "general")) for c in cells], dtype=np.int64)
    cell_stream = np.array([c.stream for c in cells], dtype=object)
    annual = np.array([abs(c.annual_pence) for c in cells], dtype=np.int64)
    target = SCENARIO.lines_per_year[plan.force] * scale

    payroll = cell_stream == "payroll"
    payroll_lines = np.zeros(n, dtype=np.int64)
    if payroll.any():
        per_month = PAYROLL_SHARE * target / 12
        share = annual[payroll] / annual[payroll].sum()
        payroll_lines[payroll] = np.maximum(1, np.rint(per_month * share)).astype(np.int64)
        payroll_lines[payroll] = np.minimum(payroll_lines[payroll], np.maximum(1, annual[payroll] // 12 // 20_000))
    payroll_total = int(payroll_lines.sum()) * 12 + 12 * 2 * (1 + int(payroll_lines.sum()) // 998)

    instalment = ~payroll & (cell_stream != "invoice")
    instalment_lines = np.zeros(n, dtype=np.int64)
    for i in np.flatnonzero(instalment):
        stream = cells[i].stream
        if stream in ("fees", "sps"):
            instalment_lines[i] = max(1, round(INCOME_SHARE * target / 12 * annual[i] / max(1, annual[instalment].sum())))
        else:
            instalment_lines[i] = 1
    instalment_total = int(sum(2 * instalment_lines[i] * np.count_nonzero(plan.period_amounts[i]) for i in
                               np.flatnonzero(instalment)))

    reclass_documents = max(1, round(RECLASS_SHARE * target / 12 / 2))
    spread = cell_stream == "invoice"
    invoice_target = max(0.0, target - payroll_total - instalment_total - reclass_documents * 24
                         - 4 * (len(plan.accruals) + len(plan.prior_accruals)))
    invoice_pl = invoice_target * MEAN_INVOICE_LINES / (MEAN_INVOICE_LINES + 1)
    spread_lines = np.zeros((n, 12), dtype=np.int64)
    spread_amounts = np.zeros((n, 12), dtype=np.int64)
    idx = np.flatnonzero(spread & (annual > 0))
    if len(idx):
        size = annual[idx].astype(float) ** 0.7
        yearly = np.maximum(1, np.rint(invoice_pl * size / size.sum())).astype(np.int64)
        yearly = np.minimum(yearly, np.maximum(1, annual[idx] // 2_000))   # invoices average at least £20
        weights = INVOICE_MONTH_WEIGHTS / INVOICE_MONTH_WEIGHTS.sum()
        spread_lines[idx] = rng.multinomial(yearly, weights)
        noise = rng.gamma(4.0, 0.25, size=(len(idx), 12))
        for row, i in enumerate(idx):
            ordinary = cells[i].annual_pence + plan.accrual_adjustment.get(i, 0)
            spread_amounts[i] = allocate(ordinary, spread_lines[i] * noise[row])

    # Reclass journals move money between cost centres of the same scope (and company), so a
    # scope's total never moves; programme and not-yet-mapped codes are left alone.
    scope_groups = {}
    cc_scope_group = np.full(len(chart.cost_centres), -1, dtype=np.int64)
    for cc_code, i in chart.cc_index.items():
        if not cc_code or cc_code in SCENARIO.programme[plan.force] or cc_code in SCENARIO.new_cost_centre_names[plan.force]:
            continue
        key = (scope_of(ref, plan.force, cc_code, plan.fiscal_year), int(chart.company[i]))
        if key[0] == "unmapped":
            continue
        cc_scope_group[i] = scope_groups.setdefault(key, len(scope_groups))
    eligible = spread & (annual > pounds(5_000)) & (cc_scope_group[cell_cc] >= 0)
    eligible &= np.array([c.role != "bwv_storage" for c in cells])
    sources = np.flatnonzero(eligible)
    weights = annual[sources].astype(float)
    return VolumePlan(cell_cc, cell_account, cell_role, cell_category, cell_stream, payroll_lines,
                      instalment_lines, spread_lines, spread_amounts, reclass_documents, sources,
                      weights / weights.sum() if len(sources) else weights, cc_scope_group)
