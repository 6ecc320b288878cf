"""A force's chart as small integers: cost centres, accounts and roles indexed, so a month's lines can
be numpy arrays. Built from the reference data and the scenario (its new cost centres, the accounts
each role books to and the balance-sheet accounts).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alliance_finance.config.reference import ReferenceData
from alliance_sample.scenario import SCENARIO


@dataclasses.dataclass
class Chart:
    """A force's codes as small integers, so lines can be numpy arrays."""

    force: str
    cost_centres: list[str]          # index 0: no cost centre (balance-sheet lines)
    cost_centre_names: list[str]
    accounts: list[str]
    roles: list[str]
    #: ASC company code per cost centre: 0 = ASC1, 1 = ASP1 (the Office of the PCC); WP all 0
    company: np.ndarray
    balance_sheet: dict[str, int]

    def __post_init__(self):
        self.cc_index = {c: i for i, c in enumerate(self.cost_centres)}
        self.account_index = {a: i for i, a in enumerate(self.accounts)}
        self.role_index = {r: i for i, r in enumerate(self.roles)}


def build_chart(force: str, ref: ReferenceData) -> Chart:
    names: dict[str, str] = {}
    for m in ref.cost_centres:
        if m.force_code == force:
            names.setdefault(m.cost_centre, m.cost_centre_name)
    for cost_centre, name in SCENARIO.new_cost_centre_names[force].items():
        names.setdefault(cost_centre, name)
    cost_centres = [""] + sorted(c for c in names if c != "0000")
    accounts = sorted({a for accts in SCENARIO.role_accounts[force].values() for a in accts}
                      | set(SCENARIO.balance_sheet[force].values()))
    roles = sorted(set(SCENARIO.role_accounts[force]))
    company = np.array([1 if force == "ASC" and c[:6] in ("AS9501", "AS9502") else 0 for c in cost_centres],
                       dtype=np.int8)
    chart = Chart(force, cost_centres, [""] + [names[c] for c in cost_centres[1:]], accounts, roles, company, {})
    chart.balance_sheet = {k: chart.account_index[a] for k, a in SCENARIO.balance_sheet[force].items()}
    return chart
