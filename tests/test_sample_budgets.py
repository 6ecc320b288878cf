"""The generator's budgets file, ``DIR/finance/budgets.csv`` (issue #15), and ``seeds/budgets.csv``.

Read back with the standard library alone and checked against the reference data and the scenario.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from alliance_finance.config.reference import load_reference
from alliance_sample import generate_sources
from alliance_sample.budget import savings_pence
from alliance_sample.budgets import HEADER, budgets_csv

ROOT = Path(__file__).resolve().parents[1]
MONEY = re.compile(r"-?\d+\.\d{2}")
MONTHS = [f"p{n:02d}" for n in range(1, 13)]


def _pence(text: str) -> int:
    assert MONEY.fullmatch(text), text
    return int(Decimal(text) * 100)


@pytest.fixture(scope="module")
def rows():
    """FY 2014-2018, seed 2015 (the demo's): as seeds/budgets.csv holds them."""
    text = budgets_csv(2014, 2018, 2015, load_reference())
    assert text.splitlines()[0] == HEADER
    return list(csv.DictReader(text.splitlines()))


def test_the_header_is_the_agreed_one():
    assert HEADER == ("force_code,fiscal_year,objective_code,subjective_code,budget,"
                      "p01,p02,p03,p04,p05,p06,p07,p08,p09,p10,p11,p12")


def test_every_profile_adds_up_exactly_and_codes_are_mapped_revenue_codes(rows):
    ref = load_reference()
    kinds = ref.subjective_kind()
    objectives = {row["objective_code"] for row in ref.objectives}
    seen = set()
    for n, row in enumerate(rows, start=2):
        budget = _pence(row["budget"])
        assert budget != 0 and sum(_pence(row[m]) for m in MONTHS) == budget, n
        assert kinds[row["subjective_code"]] in ("expenditure", "income"), n
        assert row["objective_code"] in objectives, n
        key = (row["force_code"], row["fiscal_year"], row["objective_code"], row["subjective_code"])
        assert key not in seen, n
        seen.add(key)
        if kinds[row["subjective_code"]] == "income":
            assert budget < 0, n
    assert {(f, int(y)) for f, y, _, _ in seen} == {(f, y) for f in ("ASC", "WP") for y in range(2014, 2019)}
    assert not {"PART_PAY", "INC_PART", "BS", "UNMAPPED"} & {s for _, _, _, s in seen}


def _total(rows, force, year, scope=None, objectives=None) -> int:
    return sum(_pence(r["budget"]) for r in rows if r["force_code"] == force and int(r["fiscal_year"]) == year
               and (scope is None or objectives[r["objective_code"]] == scope))


def test_the_budget_plans_the_story(rows):
    """Totals near the story's NRE (less partner flows), and alliance scope falls by the planned savings."""
    scope = {row["objective_code"]: row["alliance_scope"] for row in load_reference().objectives}
    # FY 2014 NRE: ASC £276.0m with £4.2m Brunel received and £0.6m dog training paid; WP the reverse
    assert abs(_total(rows, "ASC", 2014) - 27_960_000_000) < 27_960_000_000 // 100
    assert abs(_total(rows, "WP", 2014) - 10_140_000_000) < 10_140_000_000 // 100
    for force in ("ASC", "WP"):
        base = _total(rows, force, 2014, "alliance", scope)
        for year in range(2015, 2019):
            planned_fall = base - _total(rows, force, year, "alliance", scope)
            assert abs(planned_fall - savings_pence(force, year)) < base // 100, (force, year)


def test_the_profile_follows_the_baseline_shape(rows):
    pay = [r for r in rows if r["subjective_code"] == "OFF_PAY" and _pence(r["budget"]) > 100_000_000]
    assert pay
    for r in pay:  # the pay award with its arrears is paid in September (p06)
        assert _pence(r["p06"]) > _pence(r["p05"]) and _pence(r["p06"]) > _pence(r["p07"])
    grants = [r for r in rows if r["subjective_code"] == "INC_GRANT"]
    assert any(all(_pence(r[m]) == 0 for m in MONTHS if m not in ("p03", "p06", "p09", "p12")) for r in grants)


def test_the_seed_file_is_the_generators(rows):
    text = (ROOT / "seeds" / "budgets.csv").read_text(encoding="utf-8")
    assert text == budgets_csv(2014, 2018, 2015, load_reference()), (
        "seeds/budgets.csv is stale: regenerate it with `.venv/bin/python -m alliance_sample.budgets seeds/budgets.csv`")
    assert len(text.encode()) < 1_500_000


def test_generate_writes_the_years_it_writes(tmp_path):
    summary = generate_sources(tmp_path, from_fy=2016, to_fy=2018, scale=Decimal("0.05"), seed=2015,
                               as_of=dt.date(2016, 6, 1))
    path = tmp_path / "finance" / "budgets.csv"
    assert summary.budgets == path
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER and {line.split(",")[1] for line in lines[1:]} == {"2016"}
    assert "\r" not in path.read_text(encoding="utf-8")
    # the same year's budget whatever else is generated, and at any scale
    full = budgets_csv(2014, 2018, 2015, load_reference()).splitlines()
    assert lines[1:] == [line for line in full[1:] if line.split(",")[1] == "2016"]
