"""In-year figures (CHART.md "In-year tracking") on a ledger cut in the middle of FY 2016, by hand.

The ledger and the figures it gives by hand are in tests/in_year_ledger.py: FY 2016 runs to P6.
"""

from __future__ import annotations

import random
import sqlite3
from decimal import Decimal
from fractions import Fraction

import pytest
import sqlalchemy as sa

from alliance_finance.marts.figures import read_view
from alliance_finance.warehouse.sqlfiles import scaled

from conftest import drop_pg_database, new_pg_database
from in_year_ledger import BUDGETS, LEDGER
from warehouse_batches import build_warehouse, write_seeds

D = Decimal

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dialect(request):
    return request.param


def _warehouse(dialect: str, tmp_path_factory, budgets: str):
    seeds = write_seeds(tmp_path_factory.mktemp("seeds"), budgets=budgets)
    if dialect == "sqlite":
        return build_warehouse(f"sqlite:///{tmp_path_factory.mktemp('wh') / 'warehouse.db'}", LEDGER,
                               seeds_dir=seeds), None
    url = new_pg_database()
    return build_warehouse(url, LEDGER, seeds_dir=seeds), url


@pytest.fixture(scope="module")
def run_rate(dialect, tmp_path_factory):
    engine, url = _warehouse(dialect, tmp_path_factory, budgets="")
    yield engine
    engine.dispose()
    if url:
        drop_pg_database(url)


@pytest.fixture(scope="module")
def budgeted(dialect, tmp_path_factory):
    engine, url = _warehouse(dialect, tmp_path_factory, budgets=BUDGETS)
    yield engine
    engine.dispose()
    if url:
        drop_pg_database(url)


def tracker(engine, year: int) -> dict:
    with engine.connect() as conn:
        found = read_view(conn, f"(SELECT * FROM v_savings_tracker WHERE fiscal_year = {year} "
                                f"AND alliance_scope = 'alliance') AS v", "force_code")
    return {r["force_code"]: r for r in found}


def test_the_current_year_runs_to_its_last_closed_period_and_compares_like_with_like(run_rate):
    year = tracker(run_rate, 2016)
    asc, wp, alliance = year["ASC"], year["WP"], year["ALL"]
    assert (asc["through_period"], wp["through_period"], alliance["through_period"]) == (6, 6, 6)
    assert asc["year_complete"] == wp["year_complete"] == alliance["year_complete"] == 0
    # period 7's 999.00 is in nre (all that is loaded) but not in the year to date
    assert asc["nre"] == D("1239.00")
    assert (asc["ytd_nre"], asc["ytd_baseline_nre"], asc["ytd_savings"]) == (D("240.00"), D("300.00"), D("60.00"))
    assert (wp["ytd_nre"], wp["ytd_baseline_nre"], wp["ytd_savings"]) == (D("40.00"), D("50.00"), D("10.00"))
    assert (alliance["ytd_nre"], alliance["ytd_baseline_nre"]) == (D("280.00"), D("350.00"))
    # the target phased by the baseline's seasonality, half away from zero:
    # WP 6,666,666.67 x 50/100 = 3,333,333.335; ALL 15,000,000 x 350/1,100 = 4,772,727.2727...
    assert wp["ytd_target"] == D("3333333.34")
    assert alliance["ytd_target"] == D("4772727.27")
    assert asc["ytd_target"] is None  # Avon and Somerset has no target row of its own
    # run rate: NRE to date x baseline year / baseline to date
    assert (asc["forecast_nre"], asc["forecast_savings"], asc["forecast_method"]) == (D("800.00"), D("200.00"), "run_rate")
    assert (wp["forecast_nre"], alliance["forecast_nre"]) == (D("80.00"), D("880.00"))


def test_a_complete_year_to_date_is_the_whole_year_and_its_forecast_the_outturn(run_rate):
    for row in tracker(run_rate, 2014).values():
        assert (row["through_period"], row["year_complete"], row["forecast_method"]) == (16, 1, "outturn")
        assert row["ytd_nre"] == row["nre"] == row["forecast_nre"]
        assert row["ytd_baseline_nre"] == row["baseline_nre"]
        assert row["ytd_savings"] == row["savings"] == row["forecast_savings"]
        assert row["ytd_target"] == row["target"]


def test_local_policing_and_the_savings_share_carry_the_in_year_columns(run_rate):
    with run_rate.connect() as conn:
        columns = set(conn.execute(sa.text("SELECT * FROM v_local_policing")).keys())
    assert {"through_period", "year_complete", "ytd_nre", "ytd_baseline_nre", "ytd_change_from_baseline",
            "forecast_nre", "forecast_method"} <= columns


def test_with_a_budget_the_forecast_is_the_actual_to_date_plus_the_budget_still_to_come(budgeted):
    year = tracker(budgeted, 2016)
    # ASC: 240.00 to date + six months of 100.00; WP: 40.00 + 6 x 10.00
    assert (year["ASC"]["forecast_nre"], year["ASC"]["forecast_method"]) == (D("840.00"), "budget")
    assert (year["WP"]["forecast_nre"], year["ALL"]["forecast_nre"]) == (D("100.00"), D("940.00"))
    assert year["ASC"]["forecast_savings"] == D("160.00")
    # a complete year has no budget here and is the outturn still
    assert tracker(budgeted, 2014)["ASC"]["forecast_method"] == "outturn"


def test_budget_against_outturn_by_function(budgeted):
    with budgeted.connect() as conn:
        found = read_view(conn, "(SELECT * FROM v_budget_vs_outturn WHERE fiscal_year = 2016) AS v",
                          "force_code, function_code")
    rows = {(r["force_code"], r["function_code"]): r for r in found}
    asc = rows[("ASC", "OS")]
    assert (asc["through_period"], asc["budget"], asc["budget_to_date"], asc["actual_to_date"]) == (
        6, D("1200.00"), D("600.00"), D("240.00"))
    assert (asc["variance_to_date"], asc["forecast"], asc["forecast_method"]) == (D("360.00"), D("840.00"), "budget")
    alliance = rows[("ALL", "OS")]
    assert (alliance["budget"], alliance["actual_to_date"], alliance["forecast"]) == (D("1200.00"), D("240.00"), D("840.00"))
    assert rows[("ALL", "SF")]["budget_to_date"] == D("60.00")


def test_budget_against_outturn_without_a_budget_forecasts_by_run_rate(run_rate):
    with run_rate.connect() as conn:
        found = read_view(conn, "(SELECT * FROM v_budget_vs_outturn WHERE fiscal_year = 2016) AS v",
                          "force_code, function_code")
    asc = {(r["force_code"], r["function_code"]): r for r in found}[("ASC", "OS")]
    assert asc["budget"] is None and asc["budget_to_date"] is None
    assert (asc["actual_to_date"], asc["forecast"], asc["forecast_method"]) == (D("240.00"), D("800.00"), "run_rate")


def _exact(a: int, b: int, c: int) -> int:
    q = Fraction(a * b, c)
    sign, q = (-1 if q < 0 else 1), abs(q)
    whole = q.numerator // q.denominator
    return sign * (whole + (1 if (q - whole) * 2 >= 1 else 0))


def test_scaling_money_by_a_ratio_of_money_is_exact_beyond_64_bit_products(pg_url):
    """a x b / c, half away from zero, on both dialects, where a x b passes 2^63 (30m x 250m pounds)."""
    import psycopg

    rng = random.Random(15)
    cases = [(3_000_000_000, 25_000_000_000, 30_000_000_000), (-7, 3, 2), (7, -3, 2), (5, 1, 2), (-5, 1, 2),
             (1, 1, 3), (0, 5, 7), (2, 3, -4)]
    cases += [(rng.randint(-3 * 10**9, 3 * 10**9), rng.randint(-3 * 10**10, 3 * 10**10),
               rng.choice([1, -1]) * rng.randint(1, 3 * 10**10)) for _ in range(300)]
    expression = scaled("a", "b", "c")
    lite = sqlite3.connect(":memory:")
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        for a, b, c in cases:
            on_sqlite = lite.execute(f"SELECT {expression} FROM (SELECT ? AS a, ? AS b, ? AS c)", (a, b, c)).fetchone()[0]
            on_pg = pg.execute(f"SELECT {expression} FROM (SELECT {a}::bigint AS a, {b}::bigint AS b, "
                               f"{c}::bigint AS c) AS t").fetchone()[0]
            assert on_sqlite == on_pg == _exact(a, b, c) and isinstance(on_sqlite, int), (a, b, c)
    assert lite.execute(f"SELECT {expression} FROM (SELECT 1 AS a, 2 AS b, 0 AS c)").fetchone()[0] is None


def test_a_budget_without_a_profile_takes_the_baselines_shape(dialect, tmp_path_factory):
    """ASC's 1,200.00 for OS04 with the profile left blank: FY 2014's own shape for it (P1 100, P4 200,
    P9 300, P12 400 of 1,000) makes P1-P6 360.00 and P7-P12 840.00, so the forecast is 240.00 + 840.00."""
    blank = "ASC,2016,OS04,OFF_PAY,1200.00" + "," * 12 + "\n" + "WP,2016,SF02,STF_PAY,120.00," + ",".join(["10.00"] * 12) + "\n"
    engine, url = _warehouse(dialect, tmp_path_factory, budgets=blank)
    try:
        asc = tracker(engine, 2016)["ASC"]
        assert (asc["forecast_nre"], asc["forecast_method"]) == (D("1080.00"), "budget")
        with engine.connect() as conn:
            found = read_view(conn, "(SELECT * FROM v_budget_vs_outturn WHERE fiscal_year = 2016 "
                                    "AND force_code = 'ASC' AND function_code = 'OS') AS v", "force_code")
        assert (found[0]["budget_to_date"], found[0]["forecast"]) == (D("360.00"), D("1080.00"))
        # the in-year views read budget_summary: v_budget_profile's months summed, kept equal to it
        with engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT p.force_code, p.fiscal_year, o.function_code, o.alliance_scope, p.period, SUM(p.amount_pence) "
                "FROM v_budget_profile AS p JOIN dim_objective AS o ON o.objective_code = p.objective_code "
                "GROUP BY p.force_code, p.fiscal_year, o.function_code, o.alliance_scope, p.period "
                "EXCEPT SELECT force_code, fiscal_year, function_code, alliance_scope, period, amount_pence "
                "FROM budget_summary")).all() == []
            assert conn.execute(sa.text("SELECT COUNT(*) FROM budget_summary")).scalar() == 24
    finally:
        engine.dispose()
        if url:
            drop_pg_database(url)
