"""Budgets as data (issue #15): seeds/budgets.csv or budgets.xlsx validated row by row, loaded whole or
not at all, and the monthly profile (given, or the baseline's own shape by largest remainder) on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from alliance_finance.marts.budgets import BUDGET_COLUMNS, read_budgets
from alliance_finance.marts.seedfile import FinanceSeedError
from alliance_finance.marts.seeds import load_finance_seeds, seeds_digest

from warehouse_batches import build_warehouse, write_seeds

FORCES = {"ASC", "WP"}
GIVEN = "ASC,2016,LP01,OFF_PAY,1200.00," + ",".join(["100.00"] * 12)

# FY 2014 lines (force, fy, period, cost centre, objective, subjective, amount) giving the shapes
BASELINE = [
    ("ASC", 2014, 1, "AS100010", "LP01", "STF_PAY", "10.00"),
    ("ASC", 2014, 6, "AS100010", "LP01", "STF_PAY", "10.00"),
    ("ASC", 2014, 13, "AS100010", "LP01", "STF_PAY", "10.00"),  # an adjustment period counts in March
    ("ASC", 2014, 1, "AS100010", "LP01", "INC_FEES", "-50.00"),
    ("ASC", 2014, 2, "AS100010", "LP01", "INC_FEES", "-150.00"),
    ("ASC", 2014, 3, "AS100010", "LP01", "TPP", "100.00"),  # offsetting months: no usable shape
    ("ASC", 2014, 4, "AS100010", "LP01", "TPP", "-99.00"),
]
BUDGETS = "\n".join([
    GIVEN,
    "ASC,2016,LP01,STF_PAY,1000.00" + "," * 12,      # thirds of the baseline: 1p left over
    "ASC,2016,LP01,INC_FEES,-1000.01" + "," * 12,    # income, a quarter and three quarters
    "ASC,2016,LP02,SUPP,12.05" + "," * 12,           # no baseline: twelve equal parts
    "ASC,2016,LP01,TPP,\"1,200.00\"" + "," * 12,     # a baseline netting to 1.00 from ±100: even too
]) + "\n"


def budget_rows(text: str) -> str:
    return ",".join(BUDGET_COLUMNS) + "\n" + text


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(BUDGET_COLUMNS))
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("rows, message", [
    ("XX,2016,LP01,OFF_PAY,1.00" + "," * 12, "line 2, column force_code: expected one of ASC, WP; found 'XX'"),
    ("ASC,2016,ZZ99,OFF_PAY,1.00" + "," * 12,
     "line 2, column objective_code: expected an objective code of the common chart"),
    ("ASC,2016,BS00,OFF_PAY,1.00" + "," * 12,
     "line 2, column objective_code: expected a revenue objective (not the balance sheet or suspense); found 'BS00'"),
    ("ASC,2016,LP01,NOPE,1.00" + "," * 12, "line 2, column subjective_code: expected a subjective code"),
    ("ASC,2016,LP01,BS,1.00" + "," * 12,
     "line 2, column subjective_code: expected a revenue subjective (expenditure or income), not a "
     "balance-sheet one; found 'BS'"),
    ("ASC,2016,LP01,PART_PAY,1.00" + "," * 12, "line 2, column subjective_code: expected a revenue subjective (expenditure or income), not a "
     "partner one; found 'PART_PAY'"),
    ("ASC,2016,LP01,OFF_PAY,1200.00," + ",".join(["100.00"] * 11) + ",99.99",
     "line 2, column p12: expected a profile adding up to the budget £1,200.00; found 'p01-p12 add up to £1,199.99'"),
    ("ASC,2016,LP01,OFF_PAY,1200.00," + ",".join(["100.00"] * 11) + ",",
     "line 2, column p12: expected all twelve profile columns p01-p12 filled, or all blank for the default "
     "profile (blank: p12)"),
    (GIVEN + "\n" + "ASC,2016,LP01,OFF_PAY,5.00" + "," * 12,
     "line 3, column subjective_code: expected one budget per force, fiscal year, objective and subjective "
     "(line 2 already sets ASC 2016 LP01 OFF_PAY)"),
    ("ASC,2016,LP01,OFF_PAY,1.001" + "," * 12,
     "line 2, column budget: expected a number with at most 2 decimal places; found '1.001'"),
    ("ASC,2016,LP01,OFF_PAY,£1m" + "," * 12, "line 2, column budget: expected a number with at most 2 decimal places"),
    ("ASC,2016,LP01,OFF_PAY," + "," * 12, "line 2, column budget: expected an amount in pounds; found ''"),
    ("ASC,2016,LP01,OFF_PAY,1000000000.01" + "," * 12, "line 2, column budget: expected an amount within ±£1,000,000,000.00"),
    ("ASC,2016,LP01,OFF_PAY,1200.00," + ",".join(["100.00"] * 11) + ",1OO.00",
     "line 2, column p12: expected a number with at most 2 decimal places; found '1OO.00'"),
])
def test_bad_budget_files_are_refused_naming_the_row(tmp_path, rows, message):
    seeds = write_seeds(tmp_path / "seeds", budgets=rows + "\n")
    with pytest.raises(FinanceSeedError) as caught:
        read_budgets(seeds, force_codes=FORCES)
    assert "budgets.csv " + message in str(caught.value)


def test_a_workbook_gives_the_same_budgets_as_the_csv_and_its_errors_name_the_sheet_row(tmp_path):
    csv_seeds = write_seeds(tmp_path / "csv", budgets=BUDGETS)
    xlsx_seeds = write_seeds(tmp_path / "xlsx")
    (xlsx_seeds / "budgets.csv").unlink()
    # as finance would type them: numbers as numbers, the fiscal year too
    write_xlsx(xlsx_seeds / "budgets.xlsx", [
        ["ASC", 2016, "LP01", "OFF_PAY", 1200, *([100.0] * 12)],
        ["ASC", 2016, "LP01", "STF_PAY", 1000.0],
        ["ASC", "2016", "LP01", "INC_FEES", -1000.01, *([None] * 12)],
        ["ASC", 2016, "LP02", "SUPP", 12.05],
        [],
        ["ASC", 2016, "LP01", "TPP", "1,200.00"],
    ])
    from_csv = read_budgets(csv_seeds, force_codes=FORCES)
    from_xlsx = read_budgets(xlsx_seeds, force_codes=FORCES)
    assert from_xlsx == from_csv
    assert [b["budget_pence"] for b in from_csv.budget] == [120000, 100000, -100001, 1205, 120000]
    assert [b["profile_given"] for b in from_csv.budget] == [1, 0, 0, 0, 0]
    assert [p["amount_pence"] for p in from_csv.budget_profile] == [10000] * 12
    loaded = []
    for seeds in (csv_seeds, xlsx_seeds):
        engine = build_warehouse(f"sqlite:///{seeds / 'w.db'}", ledger=BASELINE, seeds_dir=seeds)
        with engine.connect() as conn:
            loaded.append([conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5")).all()
                           for table in ("budget", "budget_profile", "v_budget_profile")])
        engine.dispose()
    assert loaded[0] == loaded[1] and len(loaded[0][2]) == 5 * 12

    write_xlsx(xlsx_seeds / "budgets.xlsx", [["ASC", 2016, "LP01", "OFF_PAY", 1],
                                             ["ASC", 2016, "LP01", "OFF_PAY", 0.001]])
    with pytest.raises(FinanceSeedError) as caught:
        read_budgets(xlsx_seeds, force_codes=FORCES)
    assert "budgets.xlsx sheet row 3, column budget: expected a number with at most 2 decimal places; " \
           "found '0.001'" in str(caught.value)

    (xlsx_seeds / "budgets.csv").write_text(",".join(BUDGET_COLUMNS) + "\n", encoding="utf-8")
    with pytest.raises(FinanceSeedError, match="budgets.csv and .*budgets.xlsx: both present"):
        read_budgets(xlsx_seeds, force_codes=FORCES)
    assert seeds_digest(xlsx_seeds) != seeds_digest(csv_seeds)


def test_budget_profiles_add_up_by_largest_remainder(warehouse_url, tmp_path):
    seeds = write_seeds(tmp_path / "seeds", budgets=BUDGETS)
    engine = build_warehouse(warehouse_url, ledger=BASELINE, seeds_dir=seeds)
    try:
        with engine.connect() as conn:
            budgets = conn.execute(sa.text(
                "SELECT objective_code, subjective_code, budget, budget_pence FROM budget ORDER BY 1, 2")).all()
            profile = {}
            for r in conn.execute(sa.text("SELECT * FROM v_budget_profile ORDER BY period")):
                profile.setdefault((r.objective_code, r.subjective_code), []).append(
                    (r.profile_basis, r.amount_pence, Decimal(str(r.amount))))
    finally:
        engine.dispose()
    assert [(o, s, Decimal(str(b)), p) for o, s, b, p in budgets] == [
        ("LP01", "INC_FEES", Decimal("-1000.01"), -100001), ("LP01", "OFF_PAY", Decimal("1200.00"), 120000),
        ("LP01", "STF_PAY", Decimal("1000.00"), 100000), ("LP01", "TPP", Decimal("1200.00"), 120000),
        ("LP02", "SUPP", Decimal("12.05"), 1205)]

    def amounts(key):
        return [pence for _, pence, _ in profile[key]]

    assert {basis for basis, *_ in profile[("LP01", "OFF_PAY")]} == {"given"}
    assert amounts(("LP01", "OFF_PAY")) == [10000] * 12
    # thirds: shares of 333,334 / 333,333 / 333,333 ppm, then the penny left over to April's remainder
    assert {basis for basis, *_ in profile[("LP01", "STF_PAY")]} == {"baseline"}
    assert amounts(("LP01", "STF_PAY")) == [33334, 0, 0, 0, 0, 33333, 0, 0, 0, 0, 0, 33333]
    # income: -250,000.25p and -750,000.75p floored to -25,001 and -75,001; the penny goes to April
    assert amounts(("LP01", "INC_FEES")) == [-25000, -75001] + [0] * 10
    # no baseline, and a baseline of offsetting months: twelve equal parts, the pence left to the earliest
    assert {basis for basis, *_ in profile[("LP02", "SUPP")]} == {"even"}
    assert amounts(("LP02", "SUPP")) == [101] * 5 + [100] * 7
    assert {basis for basis, *_ in profile[("LP01", "TPP")]} == {"even"}
    assert amounts(("LP01", "TPP")) == [10000] * 12
    for key, periods in profile.items():
        assert len(periods) == 12, key
        assert all(Decimal(pence).scaleb(-2) == pounds for _, pence, pounds in periods), key
    assert {k: sum(amounts(k)) for k in profile} == {(o, s): p for o, s, _, p in budgets}


def test_a_bad_budget_file_changes_nothing(tmp_path):
    seeds = write_seeds(tmp_path / "seeds", budgets=BUDGETS)
    engine = build_warehouse(f"sqlite:///{tmp_path / 'w.db'}", ledger=BASELINE, seeds_dir=seeds)
    try:
        write_seeds(tmp_path / "seeds", budgets=GIVEN + "\nASC,2016,LP01,PART_PAY,1.00" + "," * 12 + "\n",
                    closes="ASC,2016,1,close,2016-05-06,\n")
        with pytest.raises(FinanceSeedError, match="budgets.csv line 3"):
            with engine.begin() as conn:
                load_finance_seeds(conn, seeds)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM budget")).scalar() == 5
            assert conn.execute(sa.text("SELECT COUNT(*) FROM budget_profile")).scalar() == 12
            assert conn.execute(sa.text("SELECT COUNT(*) FROM period_close_event")).scalar() == 0
        # a good file replaces them whole, the same on a second load
        write_seeds(tmp_path / "seeds", budgets=GIVEN + "\n")
        for _ in range(2):
            with engine.begin() as conn:
                assert load_finance_seeds(conn, seeds)["budget"] == 1
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM v_budget_profile")).scalar() == 12
    finally:
        engine.dispose()
