"""The story the sample ledgers tell, as money: each force's budget per cost centre and account,
fiscal year by fiscal year.

FY 2014 is the year before the alliance. Avon and Somerset (ASC) spends about £276m net and Wiltshire
(WP) about £105m; pay is four fifths of spending. From FY 2015 the functions the alliance shares
(``alliance_scope = 'alliance'`` in common_objectives.csv) cost less each year, until the two forces
together save about £30m by FY 2018 (Wiltshire about £10m of it by FY 2017), net of the programme's own
costs, while local policing holds level in cash terms. Wiltshire pays ASC for the Brunel major crime
team, ASC pays Wiltshire for dog training; the two ledgers agree on those flows except in FY 2016, when
Wiltshire failed to accrue the March contribution. New cost centres and accounts turn up before the
reference data knows them, and two cost centres change function in a restructure.

The figures are :mod:`.scenario`'s (scenario.yaml); the cells come from :mod:`.budget`.
A :class:`YearPlan` is a pure function of (force, fiscal year, seed): it does not depend on the scale or
on which other years are generated, so money totals are the same at every scale. Every amount is
integer pence; floating point only draws the random *weights* that decide how a total is divided, and
:func:`.money.allocate` turns weights into integer pence that add up exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alliance_finance.config.reference import ReferenceData
from alliance_sample.budget import Cell, cached, year_cells
from alliance_sample.money import allocate, pounds
from alliance_sample.randomness import rng_for
from alliance_sample.scenario import SCENARIO


@dataclasses.dataclass(frozen=True)
class Accrual:
    """A year-end accrual (posted in period 12, reversed in period 1 of the next year)."""

    cost_centre: str
    account: str
    role: str
    pence: int


@dataclasses.dataclass
class YearPlan:
    force: str
    fiscal_year: int
    cells: list[Cell]
    #: this year's year-end accruals
    accruals: list[Accrual]
    #: last year's accruals, reversed in this year's period 1
    prior_accruals: list[Accrual]
    #: cell index -> pence the ordinary postings leave for the accrual and its reversal
    accrual_adjustment: dict[int, int]
    #: per cell and period 1-16 (columns 0-15): pence for every timing but ``spread``
    period_amounts: np.ndarray
    #: the March partner contribution the payer forgot to accrue (pence), or 0
    unaccrued_partner_pence: int = 0
    #: the same, recognised in this year's period 1 against reserves (pence), or 0
    prior_year_partner_pence: int = 0


def unaccrued_partner_pence(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> int:
    """The March partner contribution a payer left out of a year, or 0."""
    if force != "WP" or fiscal_year != SCENARIO.partner_mismatch_fy:
        return 0
    cells, _ = year_cells(force, fiscal_year, seed, ref)
    i = next(i for i, c in enumerate(cells) if c.stream == "partner_out")
    shape = np.zeros(16)
    shape[:12] = 1
    return int(allocate(cells[i].annual_pence, shape)[11])


def year_plan(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> YearPlan:
    """The money of one force's fiscal year, per cost centre and account (see the module's docs)."""
    return cached("plan", force, fiscal_year, seed, ref, lambda: _build_year_plan(force, fiscal_year, seed, ref))


def _build_year_plan(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> YearPlan:
    cells, period_amounts = year_cells(force, fiscal_year, seed, ref)
    previous_cells, _ = year_cells(force, fiscal_year - 1, seed, ref)
    plan = YearPlan(force, fiscal_year, cells,
                    accruals=_accruals(force, fiscal_year, seed, cells),
                    prior_accruals=_accruals(force, fiscal_year - 1, seed, previous_cells),
                    accrual_adjustment={}, period_amounts=period_amounts.copy())
    # The ordinary invoices leave room for this year's accrual and make up last year's reversal,
    # so the year's total is the plan's whatever the accruals.
    index_of = {(c.cost_centre, c.account): i for i, c in enumerate(cells) if c.stream == "invoice"}
    for accrual in plan.accruals:
        i = index_of[(accrual.cost_centre, accrual.account)]
        plan.accrual_adjustment[i] = plan.accrual_adjustment.get(i, 0) - accrual.pence
    for accrual in plan.prior_accruals:
        i = index_of.get((accrual.cost_centre, accrual.account))
        if i is not None:
            plan.accrual_adjustment[i] = plan.accrual_adjustment.get(i, 0) + accrual.pence
    plan.unaccrued_partner_pence = unaccrued_partner_pence(force, fiscal_year, seed, ref)
    plan.prior_year_partner_pence = unaccrued_partner_pence(force, fiscal_year - 1, seed, ref)
    return plan


def _accruals(force: str, fiscal_year: int, seed: int, cells: list[Cell]) -> list[Accrual]:
    """A few large invoice budgets accrued at year end (goods received in March, invoiced in April)."""
    rng = rng_for(seed, force, fiscal_year, 3)
    candidates = [c for c in cells if c.stream == "invoice" and c.annual_pence > pounds(20_000)
                  and c.cost_centre not in SCENARIO.programme[force]
                  and c.cost_centre not in SCENARIO.new_cost_centre_names[force] and c.role != "bwv_storage"]
    if not candidates:
        return []
    count = min(len(candidates), SCENARIO.year_end_accruals[force])
    weights = np.array([c.annual_pence for c in candidates], dtype=float)
    chosen = rng.choice(len(candidates), size=count, replace=False, p=weights / weights.sum())
    accruals = []
    for i in sorted(chosen):
        cell = candidates[i]
        pence = cell.annual_pence * int(rng.integers(20, 70)) // 1000
        accruals.append(Accrual(cell.cost_centre, cell.account, cell.role, int(pence)))
    return accruals
