"""The forces' reference data: the common chart and the local charts mapped onto it.

Read from the project's copy in ``reference/`` (see ``paths.REFERENCE_DIR``). Finance teams maintain
these files; new codes appear in the ledgers before the files catch up, so mapping never drops a line.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from pathlib import Path

from alliance_finance.core.paths import REFERENCE_DIR

FILES = {
    "common_objectives": "common_objectives.csv",
    "common_subjectives": "common_subjectives.csv",
    "asc_cost_centres": "avon_somerset_cost_centres.csv",
    "asc_accounts": "avon_somerset_gl_accounts.csv",
    "wp_cost_centres": "wiltshire_cost_centres.csv",
    "wp_accounts": "wiltshire_natural_accounts.csv",
}

UNMAPPED = "UNMAPPED"


@dataclasses.dataclass(frozen=True)
class CostCentreMapping:
    force_code: str
    cost_centre: str
    cost_centre_name: str
    objective_code: str
    valid_from_fy: int | None
    valid_to_fy: int | None

    def applies_to(self, fiscal_year: int) -> bool:
        return (self.valid_from_fy is None or fiscal_year >= self.valid_from_fy) and (
            self.valid_to_fy is None or fiscal_year <= self.valid_to_fy
        )


@dataclasses.dataclass(frozen=True)
class AccountMapping:
    force_code: str
    local_account: str
    account_name: str
    subjective_code: str


@dataclasses.dataclass(frozen=True)
class ReferenceData:
    objectives: list[dict[str, str]]
    subjectives: list[dict[str, str]]
    cost_centres: list[CostCentreMapping]
    accounts: list[AccountMapping]
    #: SHA-256 over all reference files: a change means lines may need remapping
    digest: str

    def objective_for(self, force_code: str, cost_centre: str, fiscal_year: int) -> str:
        for m in self.cost_centres:
            if m.force_code == force_code and m.cost_centre == cost_centre and m.applies_to(fiscal_year):
                return m.objective_code
        return UNMAPPED

    def subjective_for(self, force_code: str, local_account: str) -> str:
        for m in self.accounts:
            if m.force_code == force_code and m.local_account == local_account:
                return m.subjective_code
        return UNMAPPED

    def subjective_kind(self) -> dict[str, str]:
        return {row["subjective_code"]: row["kind"] for row in self.subjectives}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _fy(text: str) -> int | None:
    return int(text) if text.strip() else None


def load_reference(directory: Path | None = None) -> ReferenceData:
    """Read the six reference files."""
    directory = Path(directory or REFERENCE_DIR)
    digest = hashlib.sha256()
    for name in sorted(FILES.values()):
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    cost_centres = [
        CostCentreMapping(force, r["cost_centre"], r["cost_centre_name"], r["objective_code"],
                          _fy(r["valid_from_fy"]), _fy(r["valid_to_fy"]))
        for force, key in (("ASC", "asc_cost_centres"), ("WP", "wp_cost_centres"))
        for r in _read(directory / FILES[key])
    ]
    accounts = [
        AccountMapping("ASC", r["gl_account"], r["account_name"], r["subjective_code"])
        for r in _read(directory / FILES["asc_accounts"])
    ] + [
        AccountMapping("WP", r["natural_account"], r["account_name"], r["subjective_code"])
        for r in _read(directory / FILES["wp_accounts"])
    ]
    return ReferenceData(
        objectives=_read(directory / FILES["common_objectives"]),
        subjectives=_read(directory / FILES["common_subjectives"]),
        cost_centres=cost_centres,
        accounts=accounts,
        digest=digest.hexdigest(),
    )
