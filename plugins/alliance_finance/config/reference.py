"""The forces' reference data: the common chart and the local charts mapped onto it.

Read from the project's copy in ``reference/`` (see ``paths.REFERENCE_DIR``): the two common files,
and for each configured force the two local files its ``dags/forces.yaml`` entry names
(``reference: cost_centres, accounts``). A force's cost-centre file has the columns ``cost_centre,
cost_centre_name, objective_code, valid_from_fy, valid_to_fy``; its account file has the local account
first (named as the force names it: ``gl_account``, ``natural_account``...), then ``account_name,
subjective_code``. Finance teams maintain these files; new codes appear in the ledgers before the
files catch up, so mapping never drops a line.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from pathlib import Path
from typing import Sequence

from alliance_finance.config.forces import ForceConfig, load_forces
from alliance_finance.core.paths import REFERENCE_DIR

#: the common chart, shared by every force
COMMON_FILES = {
    "common_objectives": "common_objectives.csv",
    "common_subjectives": "common_subjectives.csv",
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
    #: what each file is (``common_objectives``, ``<code>_cost_centres``, ``<code>_accounts``) -> its name
    files: dict[str, str] = dataclasses.field(default_factory=dict)

    def file_of(self, force_code: str, kind: str) -> str:
        """The file name of a force's ``cost_centres`` or ``accounts``."""
        return self.files.get(f"{force_code.lower()}_{kind}", f"{force_code} {kind}")

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


def reference_files(forces: Sequence[ForceConfig] | None = None) -> dict[str, str]:
    """Every reference file read: the common ones, then ``<code>_cost_centres`` and ``<code>_accounts``
    of each force (default: the forces of ``dags/forces.yaml``), by what the file is."""
    files = dict(COMMON_FILES)
    for force in (load_forces() if forces is None else forces):
        files[f"{force.code.lower()}_cost_centres"] = force.reference.cost_centres
        files[f"{force.code.lower()}_accounts"] = force.reference.accounts
    return files


def load_reference(directory: Path | None = None, forces: Sequence[ForceConfig] | None = None) -> ReferenceData:
    """Read the common files and each force's local files (``forces`` default: ``dags/forces.yaml``)."""
    directory = Path(directory or REFERENCE_DIR)
    forces = tuple(load_forces() if forces is None else forces)
    files = reference_files(forces)
    digest = hashlib.sha256()
    # what each file is counts too: the same files given to another force map differently
    for key, name in sorted(files.items()):
        digest.update(f"{key}={name}\0".encode())
        digest.update((directory / name).read_bytes())
    cost_centres: list[CostCentreMapping] = []
    accounts: list[AccountMapping] = []
    for force in forces:
        cost_centres += [
            CostCentreMapping(force.code, r["cost_centre"], r["cost_centre_name"], r["objective_code"],
                              _fy(r["valid_from_fy"]), _fy(r["valid_to_fy"]))
            for r in _read(directory / force.reference.cost_centres)
        ]
        rows = _read(directory / force.reference.accounts)
        account_column = next(iter(rows[0])) if rows else "account"
        accounts += [AccountMapping(force.code, r[account_column], r["account_name"], r["subjective_code"])
                     for r in rows]
    return ReferenceData(
        objectives=_read(directory / COMMON_FILES["common_objectives"]),
        subjectives=_read(directory / COMMON_FILES["common_subjectives"]),
        cost_centres=cost_centres,
        accounts=accounts,
        digest=digest.hexdigest(),
        files=files,
    )
