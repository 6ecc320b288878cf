"""The project's copy of the reference data (``reference/``, its own truth) is complete and reads as the
mapping expects. Nothing outside the repository is needed: comparing it with the forces' shared copy
is ``scripts/compare-reference.sh DIR`` (see README)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from alliance_finance.config.reference import UNMAPPED, load_reference, reference_files

FILES = reference_files()

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"


@pytest.mark.parametrize("name", sorted(FILES.values()))
def test_every_reference_file_is_in_the_project_with_a_header_and_rows(name):
    path = REFERENCE / name
    assert path.is_file(), f"reference/{name} is missing from the project"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) >= 2, f"reference/{name}: a header and at least one row expected"
    header = rows[0]
    assert all(header) and len(set(header)) == len(header), f"reference/{name}: header {header}"
    bad = [n for n, row in enumerate(rows[1:], start=2) if len(row) != len(header)]
    assert not bad, f"reference/{name}: lines {bad[:10]} do not have {len(header)} fields"


def test_every_csv_in_reference_is_one_the_mapping_reads():
    assert {p.name for p in REFERENCE.glob("*.csv")} == set(FILES.values())


def test_effective_dated_restructure_maps_by_fiscal_year():
    ref = load_reference()
    assert ref.objective_for("ASC", "AS230700", 2015) == "OS06"
    assert ref.objective_for("ASC", "AS230700", 2016) == "OS04"
    assert ref.objective_for("WP", "3950", 2016) == "OS06"
    assert ref.objective_for("WP", "3950", 2017) == "OS04"
    # not yet open in FY 2014
    assert ref.objective_for("ASC", "AS310100", 2014) == UNMAPPED
    assert ref.objective_for("ASC", "AS999999", 2016) == UNMAPPED
    assert ref.subjective_for("WP", "55200") == "PART_PAY"
    assert ref.subjective_for("ASC", "420100") == "INC_PART"


def test_every_mapping_points_into_the_common_chart():
    ref = load_reference()
    objectives = {o["objective_code"] for o in ref.objectives}
    subjectives = {s["subjective_code"] for s in ref.subjectives}
    assert {m.objective_code for m in ref.cost_centres} <= objectives
    assert {m.subjective_code for m in ref.accounts} <= subjectives
