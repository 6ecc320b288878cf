"""The project's copy of the reference data matches the forces' shared copy, and reads as the mapping expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from alliance_finance.config.reference import FILES, UNMAPPED, load_reference

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "reference"


@pytest.mark.parametrize("name", sorted(FILES.values()))
def test_project_copy_matches_shared_reference(name):
    if not SHARED.is_dir():
        pytest.fail(f"../shared/reference not found beside the project at {SHARED}")
    assert (ROOT / "reference" / name).read_bytes() == (SHARED / name).read_bytes(), (
        f"reference/{name} differs from ../shared/reference/{name}: copy the shared file in"
    )


def test_no_shared_reference_file_is_missing_from_the_project():
    shared = {p.name for p in SHARED.glob("*.csv")}
    assert shared <= set(FILES.values())


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
