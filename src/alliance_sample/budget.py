"""A force's fiscal year as cells: the money each cost centre books to each account, and when.

The baseline year (FY 2014) is sized top-down from the scenario so that NRE is exactly the story's
figure and pay exactly its share; later years move each scope's spending (alliance scope by the
savings, net of the programme's costs; local scope by its cash index; central costs slowly up) with a
little seeded noise, then add the programme, the codes the reference data does not know yet, income,
the partner flows and capital financing. Every amount is integer pence.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alliance_finance.config.reference import ReferenceData
from alliance_sample.money import allocate, grown, pounds
from alliance_sample.randomness import rng_for
from alliance_sample.scenario import SCENARIO

PAY_ROLES = frozenset(r for roles in SCENARIO.pay_group_roles.values() for r in roles)


@dataclasses.dataclass(frozen=True)
class Cell:
    """Money one cost centre books to one account in a fiscal year, and how it reaches the ledger."""

    cost_centre: str
    account: str
    role: str
    #: payroll, invoice, grant, fees, sps, partner_in, partner_out, capf
    stream: str
    #: payroll, spread (through the year by invoice), monthly, quarterly, half_yearly, P13, P14
    timing: str
    #: debit minus credit, pence: spending positive, income negative
    annual_pence: int


def savings_pence(force: str, fiscal_year: int) -> int:
    """Planned cumulative alliance-scope savings against FY 2014 (before the seed's small noise)."""
    if fiscal_year <= SCENARIO.baseline_fy:
        return 0
    table = SCENARIO.savings[force]
    return pounds(table[min(fiscal_year, SCENARIO.last_story_fy)])


def local_index_permille(fiscal_year: int) -> int:
    if fiscal_year in SCENARIO.local_index:
        return SCENARIO.local_index[fiscal_year]
    if fiscal_year < SCENARIO.baseline_fy:
        return 1000 - 12 * (SCENARIO.baseline_fy - fiscal_year)
    return SCENARIO.local_index[SCENARIO.last_story_fy] + 10 * (fiscal_year - SCENARIO.last_story_fy)


def scope_of(ref: ReferenceData, force: str, cost_centre: str, fiscal_year: int) -> str:
    """The alliance_scope of the objective a cost centre maps to in a fiscal year (``unmapped`` if none)."""
    objective = ref.objective_for(force, cost_centre, fiscal_year)
    for row in ref.objectives:
        if row["objective_code"] == objective:
            return row["alliance_scope"]
    return "unmapped"


def _role_cells(force: str, cost_centre: str, role: str, pence: int, stream: str, timing: str) -> list[Cell]:
    accounts = SCENARIO.role_accounts[force][role]
    if len(accounts) > 1 and role in PAY_ROLES and abs(pence) < pounds(1_000_000):
        # small teams: no inspectors, and allowances paid with the salary
        accounts = SCENARIO.small_team_accounts[force].get(role) or dict(list(accounts.items())[:1])
    codes = list(accounts)
    shares = allocate(pence, [accounts[c] for c in codes])
    return [Cell(cost_centre, code, role, stream, timing, int(p)) for code, p in zip(codes, shares) if p]


def _operating_cost_centres(ref: ReferenceData, force: str, fiscal_year: int) -> list[tuple[str, str]]:
    """(cost centre, objective) of cost centres with ordinary budgets: not capital financing, not the
    partner contribution, not the programme, not the balance sheet."""
    excluded = {SCENARIO.capital_financing[force][1], *SCENARIO.programme[force]}
    if force == "WP":
        excluded.add(SCENARIO.partner_cells["WP"]["partner_out"][0])
    seen: dict[str, str] = {}
    for m in ref.cost_centres:
        if m.force_code != force or m.cost_centre in excluded or m.cost_centre in seen:
            continue
        objective = ref.objective_for(force, m.cost_centre, fiscal_year)
        if objective in SCENARIO.objectives:
            seen[m.cost_centre] = objective
    return sorted(seen.items())


def _baseline(force: str, seed: int, ref: ReferenceData) -> dict[tuple[str, str, str], int]:
    """FY 2014 spending per (cost centre, role, stream) on the operating cost centres, pence.

    Sized so that NRE is exactly the story's figure and pay exactly four fifths of spending.
    """
    rng = rng_for(seed, force, SCENARIO.baseline_fy, 1)
    income = sum(grown(amount, SCENARIO.baseline_fy, 10) for _, _, amount, _ in SCENARIO.income[force])
    brunel = grown(SCENARIO.brunel_contribution, SCENARIO.baseline_fy, SCENARIO.brunel_growth_permille)
    dogs = grown(SCENARIO.dog_training_recharge, SCENARIO.baseline_fy, SCENARIO.dog_growth_permille)
    partner_income, partner_payment = (brunel, dogs) if force == "ASC" else (dogs, brunel)
    spending = pounds(SCENARIO.nre_baseline[force]) + income + partner_income - partner_payment
    pay_total = spending * SCENARIO.pay_share[0] // SCENARIO.pay_share[1]
    capf = grown(SCENARIO.capital_financing[force][0], SCENARIO.baseline_fy, 50)
    nonpay_total = spending - pay_total - capf

    centres = _operating_cost_centres(ref, force, SCENARIO.baseline_fy)
    per_objective: dict[str, int] = {}
    for _, objective in centres:
        per_objective[objective] = per_objective.get(objective, 0) + 1
    pay_keys, pay_weights, nonpay_keys, nonpay_weights = [], [], [], []
    for cost_centre, objective in centres:
        profile = SCENARIO.objectives[objective]
        size = profile.weight / per_objective[objective] * rng.uniform(0.8, 1.2)
        groups = {g: s for g, s in profile.pay_groups.items() if s >= 0.12 or len(profile.pay_groups) == 1}
        group_total = sum(groups.values())
        for group, share in groups.items():
            for role, role_share in SCENARIO.pay_group_roles[group].items():
                pay_keys.append((cost_centre, role, "payroll"))
                pay_weights.append(size * profile.pay_fraction * share / group_total * role_share)
        for role, role_share in SCENARIO.nonpay_mixes[profile.nonpay_mix].items():
            nonpay_keys.append((cost_centre, role, "invoice"))
            nonpay_weights.append(size * (1 - profile.pay_fraction) * role_share * rng.uniform(0.7, 1.3))
    budget: dict[tuple[str, str, str], int] = {}
    for keys, weights, total in ((pay_keys, pay_weights, pay_total), (nonpay_keys, nonpay_weights, nonpay_total)):
        for key, pence in zip(keys, allocate(total, weights)):
            if pence:
                budget[key] = budget.get(key, 0) + int(pence)
    return budget


def _scaled_group(budget: dict, keys: list, target: int, rng: np.random.Generator, noise: float) -> dict:
    """The keys' baseline amounts, each moved by a little noise, together exactly ``target``."""
    weights = [budget[k] * max(0.05, 1 + rng.normal(0, noise)) for k in keys]
    return {k: int(p) for k, p in zip(keys, allocate(target, weights))}


_CACHE: dict[tuple, object] = {}


def cached(kind: str, force: str, fiscal_year: int, seed: int, ref: ReferenceData, build):
    """``build()`` once per (kind, force, fiscal year, seed, reference data): plans are pure functions."""
    key = (kind, force, fiscal_year, seed, ref.digest)
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = build()
    return _CACHE[key]


def _income_pence(force: str, ref: ReferenceData, fiscal_year: int, scope: str) -> int:
    """Income (as a positive amount) booked on cost centres of one scope in a fiscal year."""
    total = 0
    for cost_centre, role, amount, _ in SCENARIO.income[force]:
        if scope_of(ref, force, cost_centre, fiscal_year) == scope:
            total += grown(amount, fiscal_year, 10 if role.startswith("inc_grant") else 20)
    return total


def year_cells(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> tuple[list[Cell], np.ndarray]:
    """The year's cells and their pence per period 1-16 (zero for ``spread`` cells)."""
    return cached("cells", force, fiscal_year, seed, ref,
                   lambda: _build_year_cells(force, fiscal_year, seed, ref))


def _build_year_cells(force: str, fiscal_year: int, seed: int, ref: ReferenceData):
    baseline = cached("baseline", force, SCENARIO.baseline_fy, seed, ref, lambda: _baseline(force, seed, ref))
    rng = rng_for(seed, force, fiscal_year, 2)
    scope_now = {cc: scope_of(ref, force, cc, fiscal_year) for cc, _, _ in baseline}
    scope_base = {cc: scope_of(ref, force, cc, SCENARIO.baseline_fy) for cc, _, _ in baseline}
    groups: dict[str, list] = {}
    for key in sorted(baseline):
        groups.setdefault(scope_now[key[0]], []).append(key)

    # Alliance scope: baseline net spending less the savings, with the programme's costs inside it.
    programme = sum(pounds(by_year.get(fiscal_year, 0)) for by_year, _ in SCENARIO.programme[force].values())
    alliance_base_gross = sum(v for k, v in baseline.items() if scope_base[k[0]] == "alliance")
    alliance_base_net = alliance_base_gross - _income_pence(force, ref, SCENARIO.baseline_fy, "alliance")
    saving = savings_pence(force, fiscal_year)
    if saving:
        saving = saving * int(rng.integers(985, 1016)) // 1000
    alliance_gross = alliance_base_net - saving - programme + _income_pence(force, ref, fiscal_year, "alliance")
    index = local_index_permille(fiscal_year)
    years = fiscal_year - SCENARIO.baseline_fy
    amounts: dict[tuple[str, str, str], int] = {}
    for scope, keys in sorted(groups.items()):
        base_total = sum(baseline[k] for k in keys)
        if scope == "alliance":
            target = alliance_gross
        elif scope == "local":
            target = base_total * index // 1000
        elif scope == "central":
            target = base_total * (1000 + 20 * years) // 1000
        else:
            target = base_total * (1000 + 10 * years) // 1000
        noise = 0.0 if fiscal_year == SCENARIO.baseline_fy else 0.03
        amounts.update(_scaled_group(baseline, keys, target, rng, noise))

    cells: list[Cell] = []
    for (cost_centre, role, stream), pence in sorted(amounts.items()):
        timing = "payroll" if stream == "payroll" else "spread"
        cells.extend(_role_cells(force, cost_centre, role, pence, stream, timing))
    for cost_centre, (by_year, mix) in SCENARIO.programme[force].items():
        total = pounds(by_year.get(fiscal_year, 0))
        roles = list(mix)
        for role, pence in zip(roles, allocate(total, [mix[r] for r in roles])):
            stream, timing = ("payroll", "payroll") if role in PAY_ROLES else ("invoice", "spread")
            cells.extend(_role_cells(force, cost_centre, role, int(pence), stream, timing))
    for cost_centre, _, mix, by_year in SCENARIO.new_codes[force]:
        total = pounds(by_year.get(min(fiscal_year, SCENARIO.last_story_fy), 0))
        roles = list(mix)
        for role, pence in zip(roles, allocate(total, [mix[r] for r in roles])):
            cells.extend(_role_cells(force, cost_centre, role, int(pence), "invoice", "spread"))
    for cost_centre, role, amount, timing in SCENARIO.income[force]:
        growth = 10 if role.startswith("inc_grant") else 20
        stream = "grant" if role.startswith("inc_grant") else ("sps" if role == "inc_sps" else "fees")
        cells.extend(_role_cells(force, cost_centre, role, -grown(amount, fiscal_year, growth), stream, timing))
    brunel = grown(SCENARIO.brunel_contribution, fiscal_year, SCENARIO.brunel_growth_permille)
    dogs = grown(SCENARIO.dog_training_recharge, fiscal_year, SCENARIO.dog_growth_permille)
    flows = {"ASC": {"partner_in": (-brunel, "monthly"), "partner_out": (dogs, "quarterly")},
             "WP": {"partner_out": (brunel, "monthly"), "partner_in": (-dogs, "quarterly")}}
    for stream, (pence, timing) in flows[force].items():
        cost_centre, role = SCENARIO.partner_cells[force][stream]
        cells.extend(_role_cells(force, cost_centre, role, pence, stream, timing))
    capf_total = grown(SCENARIO.capital_financing[force][0], fiscal_year, 50)
    capf_cc = SCENARIO.capital_financing[force][1]
    split = allocate(capf_total, SCENARIO.capital_financing[force][2])
    for role, pence, timing in zip(("interest", "mrp", "rcco"), split, ("half_yearly", "P13", "P14")):
        if pence:
            cells.extend(_role_cells(force, capf_cc, role, int(pence), "capf", timing))

    period_amounts = np.zeros((len(cells), 16), dtype=np.int64)
    for i, cell in enumerate(cells):
        period_amounts[i] = _periods(cell, fiscal_year, rng)
    if force == "WP" and fiscal_year == SCENARIO.partner_mismatch_fy:
        # Wiltshire did not accrue the March contribution: it never reaches this year's ledger
        i = next(i for i, c in enumerate(cells) if c.stream == "partner_out")
        period_amounts[i, 11] = 0
    return cells, period_amounts


# Month shapes: how a year's money falls over periods 1-12.
_SALARY_SHAPE = [1, 1, 1, 1, 1, 1.06, 1.01, 1.01, 1.01, 1.01, 1.01, 1.01]  # pay award from April, paid in September
_OVERTIME_SHAPE = [1.0, 1.1, 1.25, 1.2, 1.1, 0.9, 0.9, 0.9, 1.3, 0.9, 0.8, 0.95]
_EVENTS_SHAPE = [0.6, 0.8, 1.6, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.9, 1.0, 1.1]  # June festivals, football season


def _periods(cell: Cell, fiscal_year: int, rng: np.random.Generator) -> np.ndarray:
    """Pence per period 1-16 of a cell (spread cells are divided later, by their invoices)."""
    shape = np.zeros(16)
    if cell.timing == "spread":
        return np.zeros(16, dtype=np.int64)
    if cell.timing == "payroll":
        shape[:12] = _OVERTIME_SHAPE if cell.role.endswith("_ot") else _SALARY_SHAPE
    elif cell.timing == "monthly":
        shape[:12] = _EVENTS_SHAPE if cell.stream == "sps" else (
            1.0 if cell.stream.startswith("partner") else rng.uniform(0.8, 1.2, 12))
    elif cell.timing == "quarterly":
        shape[[2, 5, 8, 11]] = 1
    elif cell.timing == "half_yearly":
        shape[[5, 11]] = 1
    elif cell.timing == "P13":
        shape[12] = 1
    elif cell.timing == "P14":
        shape[13] = 1
    return allocate(cell.annual_pence, shape)
