"""Finance's approved revenue budgets: ``DIR/finance/budgets.csv``.

One row per force, fiscal year, objective code and subjective code (the common chart, CHART.md):

``force_code,fiscal_year,objective_code,subjective_code,budget,p01,...,p12``

money as pounds with exactly two decimals (income negative, debit minus credit as in the ledger),
``p01``..``p12`` the monthly profile, adding up exactly to ``budget`` (integer pence, largest
remainder: :func:`.money.allocate`). Only revenue codes: subjectives of kind ``expenditure`` and
``income`` (no balance sheet, no partner flows ``PART_PAY``/``INC_PART``), and only codes the reference
data maps (a new code the ledger carries before the reference files know it was not budgeted).

What finance plans is the year the story tells (:func:`.budget.year_cells`: the baseline less the
year's alliance savings, local policing by its cash index, the programme's costs, income), each line
off by a little seeded noise (±1.5%): a budget is a plan, the outturn differs. The profile follows the
baseline year's (FY 2014's) own monthly shape for the same objective and subjective (pay with its
September award, overtime's seasons, quarterly grants, half-yearly interest; adjustment periods fold
into March; invoices spread evenly), else the year's own shape, else an even twelfth. A budget does not
depend on the scale, only on (force, fiscal year, seed) and the reference data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alliance_finance.config.reference import UNMAPPED, ReferenceData
from alliance_sample.budget import Cell, year_cells
from alliance_sample.money import allocate
from alliance_sample.randomness import rng_for
from alliance_sample.scenario import SCENARIO

HEADER = ("force_code,fiscal_year,objective_code,subjective_code,budget,"
          + ",".join(f"p{n:02d}" for n in range(1, 13)))
REVENUE_KINDS = ("expenditure", "income")
NOISE = 0.015
#: the random stream of a year's budget noise (randomness purposes 1-3 and 100-400 are the ledgers')
_PURPOSE = 500


def money_text(pence: int) -> str:
    """Pounds with exactly two decimals: ``1234.50``, ``-87.05``."""
    sign = "-" if pence < 0 else ""
    whole, frac = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{frac:02d}"


def _by_code(force: str, fiscal_year: int, cells: list[Cell], periods: np.ndarray, ref: ReferenceData,
             kinds: dict[str, str]) -> dict[tuple[str, str], tuple[int, np.ndarray]]:
    """(objective, subjective) -> (annual pence, monthly shape over periods 1-12) of the year's cells."""
    objectives = {row["objective_code"] for row in ref.objectives}
    out: dict[tuple[str, str], tuple[int, np.ndarray]] = {}
    objective_of: dict[str, str] = {}
    subjective_of: dict[str, str] = {}
    for cell, row in zip(cells, periods):
        if cell.cost_centre not in objective_of:
            objective_of[cell.cost_centre] = ref.objective_for(force, cell.cost_centre, fiscal_year)
        if cell.account not in subjective_of:
            subjective_of[cell.account] = ref.subjective_for(force, cell.account)
        objective, subjective = objective_of[cell.cost_centre], subjective_of[cell.account]
        if objective == UNMAPPED or objective not in objectives or kinds.get(subjective) not in REVENUE_KINDS:
            continue
        shape = np.zeros(12)
        if row.any():
            shape += np.abs(row[:12])
            shape[11] += float(np.abs(row[12:]).sum())  # adjustment periods fall in March's budget
        else:
            shape += abs(cell.annual_pence) / 12  # spread through the year by invoice
        total, before = out.get((objective, subjective), (0, np.zeros(12)))
        out[(objective, subjective)] = total + cell.annual_pence, before + shape
    return out


def budget_rows(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> list[tuple]:
    """The year's budget lines: (objective, subjective, budget pence, [p01..p12 pence]), in code order."""
    kinds = ref.subjective_kind()
    planned = _by_code(force, fiscal_year, *year_cells(force, fiscal_year, seed, ref), ref, kinds)
    baseline = _by_code(force, SCENARIO.baseline_fy, *year_cells(force, SCENARIO.baseline_fy, seed, ref),
                        ref, kinds)
    rng = rng_for(seed, force, fiscal_year, _PURPOSE)
    rows = []
    for key in sorted(planned):
        pence, own_shape = planned[key]
        # the noise is drawn as a float and used as whole parts per million: the money stays integer pence
        ppm = 1_000_000 + int(round(rng.normal(0, NOISE) * 1_000_000))
        pence = pence * ppm // 1_000_000
        if pence == 0:
            continue
        shape = baseline[key][1] if key in baseline and baseline[key][1].sum() > 0 else own_shape
        if shape.sum() <= 0:
            shape = np.ones(12)
        profile = [int(p) for p in allocate(pence, shape)]
        rows.append((*key, pence, profile))
    return rows


def budgets_csv(from_fy: int, to_fy: int, seed: int, ref: ReferenceData) -> str:
    """The whole file's text: every force's budget for fiscal years ``from_fy``..``to_fy``."""
    lines = [HEADER]
    for force in SCENARIO.forces:
        for fiscal_year in range(from_fy, to_fy + 1):
            for objective, subjective, pence, profile in budget_rows(force, fiscal_year, seed, ref):
                assert sum(profile) == pence
                lines.append(",".join([force, str(fiscal_year), objective, subjective, money_text(pence),
                                       *(money_text(p) for p in profile)]))
    return "\n".join(lines) + "\n"


def write_budgets(path: Path, from_fy: int, to_fy: int, seed: int, ref: ReferenceData) -> Path:
    """Write :func:`budgets_csv` to ``path`` (its folder made if need be), replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(budgets_csv(from_fy, to_fy, seed, ref).encode("utf-8"))
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m alliance_sample.budgets PATH [--from-fy 2014 --to-fy 2018 --seed 2015]``: the budgets
    file alone (how ``seeds/budgets.csv`` is made)."""
    import argparse

    from alliance_finance.config.reference import load_reference

    parser = argparse.ArgumentParser(prog="python -m alliance_sample.budgets", description=main.__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--from-fy", type=int, default=2014)
    parser.add_argument("--to-fy", type=int, default=2018)
    parser.add_argument("--seed", type=int, default=2015)
    args = parser.parse_args(argv)
    write_budgets(args.path, args.from_fy, args.to_fy, args.seed, load_reference())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
