"""The finance views on a hand-built ledger with answers worked out by hand, to the penny, on SQLite and PostgreSQL.

The ledger (LEDGER in warehouse_batches.py) is small enough to check on paper. FY 2014 is the baseline:

    ASC alliance  600,000.01 + 400,000.00 - 50,000.00 (income) = 950,000.01   local 500,000.00  central 100,000.00
    WP  alliance  400,000.00                                                   local 300,000.01 (P13 adjustment 0.01)

so the default sharing key is 95,000,001 : 40,000,000 pence = 0.703704 : 0.296296.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from alliance_finance.marts.figures import read_board_figures, read_view
from alliance_finance.marts.seeds import SEEDS_DIR, FinanceSeedError, read_finance_seeds, seeds_digest, sync_finance_seeds

from conftest import drop_pg_database, new_pg_database
from warehouse_batches import LEDGER, build_warehouse, write_seeds

D = Decimal

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_warehouse(request, tmp_path_factory):
    """The LEDGER warehouse with the project's default seeds, built once per dialect for this module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('wh') / 'warehouse.db'}"
        engine = build_warehouse(url)
        yield engine
        engine.dispose()
    else:
        url = new_pg_database()
        try:
            engine = build_warehouse(url)
            yield engine
            engine.dispose()
        finally:
            drop_pg_database(url)


def rows(engine: sa.Engine, view: str, where: str = "", order_by: str = "1") -> list[dict]:
    with engine.connect() as conn:
        return read_view(conn, f"(SELECT * FROM {view} {where}) AS v", order_by)


def one(engine: sa.Engine, view: str, **match) -> dict:
    found = [r for r in rows(engine, view) if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, f"{view} {match}: {len(found)} rows"
    return found[0]


# --------------------------------------------------------------------------------------------
# v_consolidated_spend
# --------------------------------------------------------------------------------------------


def test_consolidated_spend_keeps_revenue_and_suspense_and_eliminates_partner_flows(ledger_warehouse):
    spend = rows(ledger_warehouse, "v_consolidated_spend")
    subjectives = {r["subjective_code"] for r in spend}
    assert not subjectives & {"PART_PAY", "INC_PART", "BS"}
    assert "UNMAPPED" in subjectives  # ASC's unmapped account stays visible

    total = {fy: sum(r["amount"] for r in spend if r["fiscal_year"] == fy) for fy in (2014, 2015, 2016)}
    assert total == {2014: D("2250000.02"), 2015: D("1781334.55"), 2016: D("1839999.99")}

    wp_suspense = [r for r in spend if r["objective_code"] == "UNMAPPED"]
    assert [(r["force_code"], r["function_code"], r["alliance_scope"], r["amount"]) for r in wp_suspense] == [
        ("WP", "UNMAPPED", "unmapped", D("1234.56"))]

    lp01 = one(ledger_warehouse, "v_consolidated_spend", fiscal_year=2014, force_code="ASC", objective_code="LP01")
    assert (lp01["period"], lp01["function_code"], lp01["alliance_scope"], lp01["amount"], lp01["line_count"]) == (
        7, "LP", "local", D("500000.00"), 1)


def test_money_columns_are_exact_and_agree_with_their_pence(ledger_warehouse):
    """Every money column the views expose equals its *_pence twin exactly, and nothing is a float."""
    views = ["v_consolidated_spend", "v_intra_alliance_reconciliation", "v_savings_tracker", "v_local_policing",
             "v_cost_share", "v_savings_share", "v_ledger_freshness"]
    with ledger_warehouse.connect() as conn:
        for view in views:
            result = conn.execute(sa.text(f"SELECT * FROM {view}"))
            columns = list(result.keys())
            data = result.fetchall()
            assert data, view
            pairs = [(c[: -len("_pence")], c) for c in columns if c.endswith("_pence") and c[: -len("_pence")] in columns]
            assert pairs, view
            for row in data:
                row = dict(zip(columns, row))
                assert not any(isinstance(v, float) for v in row.values()), (view, row)
                for money, pence in pairs:
                    if row[pence] is None:
                        assert row[money] is None
                    else:
                        assert D(str(row[money])) == D(int(row[pence])).scaleb(-2), (view, money, row)


# --------------------------------------------------------------------------------------------
# v_intra_alliance_reconciliation
# --------------------------------------------------------------------------------------------


def test_reconciliation_reports_each_direction_and_the_mismatch(ledger_warehouse):
    recon = {(r["fiscal_year"], r["payer_force"], r["payee_force"]): r
             for r in rows(ledger_warehouse, "v_intra_alliance_reconciliation")}
    assert len(recon) == 6  # 3 years x 2 directions

    wp_to_asc_2016 = recon[(2016, "WP", "ASC")]
    assert (wp_to_asc_2016["paid"], wp_to_asc_2016["received"], wp_to_asc_2016["mismatch"],
            wp_to_asc_2016["status"]) == (D("50000.00"), D("45000.00"), D("5000.00"), "mismatch")
    asc_to_wp_2016 = recon[(2016, "ASC", "WP")]
    assert (asc_to_wp_2016["paid"], asc_to_wp_2016["received"], asc_to_wp_2016["status"]) == (
        D("10000.00"), D("10000.00"), "agreed")
    assert (recon[(2015, "WP", "ASC")]["paid"], recon[(2015, "WP", "ASC")]["status"]) == (D("30000.00"), "agreed")
    assert recon[(2014, "ASC", "WP")]["mismatch"] == D("0.00")


# --------------------------------------------------------------------------------------------
# v_savings_tracker and v_local_policing
# --------------------------------------------------------------------------------------------


def test_savings_tracker_against_baseline_and_cumulative_target(ledger_warehouse):
    def tracked(fy, force, scope="alliance"):
        r = one(ledger_warehouse, "v_savings_tracker", fiscal_year=fy, force_code=force, alliance_scope=scope)
        return r["baseline_nre"], r["nre"], r["savings"], r["target"], r["target_variance"]

    assert tracked(2014, "ALL") == (D("1350000.01"), D("1350000.01"), D("0.00"), None, None)
    assert tracked(2015, "ALL") == (D("1350000.01"), D("970099.99"), D("379900.02"), D("7500000.00"),
                                    D("-7120099.98"))
    assert tracked(2016, "ALL") == (D("1350000.01"), D("1049999.99"), D("300000.02"), D("15000000.00"),
                                    D("-14699999.98"))
    # Wiltshire's £10m over three years: 3,333,333.33 then 6,666,666.67 cumulative
    assert tracked(2015, "WP") == (D("400000.00"), D("350000.00"), D("50000.00"), D("3333333.33"), D("-3283333.33"))
    assert tracked(2016, "WP") == (D("400000.00"), D("399999.99"), D("0.01"), D("6666666.67"), D("-6666666.66"))
    # no target for ASC alone; partner income and payments do not count, suspense does
    assert tracked(2015, "ASC") == (D("950000.01"), D("620099.99"), D("329900.02"), None, None)
    assert tracked(2016, "ASC") == (D("950000.01"), D("650000.00"), D("300000.01"), None, None)
    # a scope that spent nothing this year saved all its baseline; suspense has a zero baseline
    assert tracked(2015, "ASC", "central") == (D("100000.00"), D("0.00"), D("100000.00"), None, None)
    assert tracked(2015, "WP", "unmapped") == (D("0.00"), D("1234.56"), D("-1234.56"), None, None)
    # the balance sheet is not revenue
    assert not [r for r in rows(ledger_warehouse, "v_savings_tracker") if r["alliance_scope"] == "none"]
    # cash terms only unless finance gives deflators
    assert {r["nre_real"] for r in rows(ledger_warehouse, "v_savings_tracker")} == {None}


def test_local_policing_against_its_baseline(ledger_warehouse):
    local = {(r["fiscal_year"], r["force_code"]): r for r in rows(ledger_warehouse, "v_local_policing")}
    assert (local[(2016, "ALL")]["baseline_nre"], local[(2016, "ALL")]["nre"],
            local[(2016, "ALL")]["change_from_baseline"]) == (D("800000.01"), D("790000.00"), D("-10000.01"))
    assert local[(2015, "ASC")]["change_from_baseline"] == D("20000.00")
    assert local[(2014, "WP")]["baseline_nre"] == D("300000.01")


def test_all_rows_only_for_years_every_force_has_delivered(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    # WP has not delivered FY 2017 yet: ASC's FY 2017 alone must not read as alliance savings
    engine = build_warehouse(url, LEDGER + [("ASC", 2017, 1, "AS200010", "OS04", "OFF_PAY", "1.00")])
    try:
        forces_2017 = {r["force_code"] for r in rows(engine, "v_savings_tracker", "WHERE fiscal_year = 2017")}
        assert forces_2017 == {"ASC"}
    finally:
        engine.dispose()


def test_deflators_restate_in_baseline_prices_exactly(warehouse_url, tmp_path):
    seeds = write_seeds(tmp_path / "seeds", deflators="2014,100.0000,GDP deflator\n2015,102.5,GDP deflator\n"
                                                      "2016,105.0625,GDP deflator\n")
    engine = build_warehouse(warehouse_url, seeds_dir=seeds)
    try:
        asc = one(engine, "v_savings_tracker", fiscal_year=2015, force_code="ASC", alliance_scope="alliance")
        # 620,099.99 x 100 / 102.5 = 604,975.60 exactly
        assert (asc["deflator_index"], asc["nre_real"], asc["savings_real"]) == (
            D("102.5000"), D("604975.60"), D("345024.41"))
        asc = one(engine, "v_savings_tracker", fiscal_year=2016, force_code="ASC", alliance_scope="alliance")
        # 650,000.00 x 100 / 105.0625 = 618,679.3575... -> 618,679.36
        assert (asc["deflator_index"], asc["nre_real"], asc["savings_real"]) == (
            D("105.0625"), D("618679.36"), D("331320.65"))
        for r in rows(engine, "v_savings_tracker", "WHERE force_code <> 'ALL'"):
            index = D(r["deflator_index_ten_thousandths"])
            expected = (D(r["nre_pence"]) * D(1000000) / index).quantize(D(1), rounding=ROUND_HALF_UP)
            assert r["nre_real_pence"] == int(expected), r
        all_2016 = one(engine, "v_savings_tracker", fiscal_year=2016, force_code="ALL", alliance_scope="alliance")
        parts = [one(engine, "v_savings_tracker", fiscal_year=2016, force_code=f, alliance_scope="alliance")
                 for f in ("ASC", "WP")]
        assert all_2016["nre_real"] == sum(p["nre_real"] for p in parts)
        assert all_2016["savings_real"] == all_2016["baseline_nre"] - all_2016["nre_real"]
        base = one(engine, "v_local_policing", fiscal_year=2014, force_code="ASC")
        assert base["nre_real"] == base["nre"] == D("500000.00")
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# v_cost_share
# --------------------------------------------------------------------------------------------


def test_cost_share_default_key_from_baseline_alliance_nre(ledger_warehouse):
    share = {(r["fiscal_year"], r["force_code"]): r for r in rows(ledger_warehouse, "v_cost_share")}
    asc, wp = share[(2016, "ASC")], share[(2016, "WP")]
    assert (asc["key_weight"], wp["key_weight"]) == (D("950000.01"), D("400000.00"))
    assert (asc["key_share"], wp["key_share"]) == (D("0.703704"), D("0.296296"))
    assert "FY 2014/15" in asc["key_basis"] and "default" in asc["key_basis"]
    # programme costs: ASC 200,000.00 on AS310200; WP 100,000.01 - 0.02 grant on 7650; partner flows excluded
    assert (asc["programme_cost_total"], asc["incurred"], wp["incurred"]) == (
        D("299999.99"), D("200000.00"), D("99999.99"))
    # 29,999,999p x 0.703704 = 21,111,119.296p and x 0.296296 = 8,888,879.704p: the spare penny goes to WP
    assert (asc["fair_share"], wp["fair_share"]) == (D("211111.19"), D("88888.80"))
    # only WP's payment on its programme cost centre settles programme costs; ASC's 10,000.00 for a
    # service does not
    assert (asc["paid_to_partner"], asc["paid_by_partner"], asc["net_cost"]) == (
        D("0.00"), D("50000.00"), D("150000.00"))
    assert (wp["paid_to_partner"], wp["paid_by_partner"], wp["net_cost"]) == (
        D("50000.00"), D("0.00"), D("149999.99"))
    assert (asc["balance"], wp["balance"]) == (D("61111.19"), D("-61111.19"))  # ASC owes WP

    asc15, wp15 = share[(2015, "ASC")], share[(2015, "WP")]
    assert (asc15["fair_share"], wp15["fair_share"]) == (D("84444.48"), D("35555.52"))
    assert (asc15["paid_by_partner"], wp15["paid_to_partner"]) == (D("0.00"), D("0.00"))
    assert (asc15["balance"], wp15["balance"]) == (D("-35555.52"), D("35555.52"))  # WP owes ASC

    for year in (2014, 2015, 2016):
        pair = [share[(year, f)] for f in ("ASC", "WP")]
        assert sum(p["key_ppm"] for p in pair) == 1_000_000
        assert sum(p["fair_share"] for p in pair) == pair[0]["programme_cost_total"]
        assert sum(p["balance"] for p in pair) == 0


def test_savings_share_splits_the_alliance_savings_by_the_cost_key(ledger_warehouse):
    """CHART.md "Sharing savings", FY 2015 (complete) by hand: alliance-scope NRE fell from 1,350,000.01
    (ASC 950,000.01, WP 400,000.00) to 970,099.99 (ASC 620,099.99 with 99.99 in suspense, WP
    350,000.00): savings 379,900.02, of which ASC realised 329,900.02 and WP 50,000.00. By the key
    0.703704 : 0.296296, 37,990,002p gives ASC 26,733,716.367408p and WP 11,256,285.632592p: the spare
    penny goes to WP."""
    share = {(r["fiscal_year"], r["force_code"]): r for r in rows(ledger_warehouse, "v_savings_share")}
    asc, wp = share[(2015, "ASC")], share[(2015, "WP")]
    assert (asc["through_period"], asc["year_complete"]) == (16, 1)
    assert (asc["key_share"], wp["key_share"]) == (D("0.703704"), D("0.296296"))
    cost = {(r["fiscal_year"], r["force_code"]): r for r in rows(ledger_warehouse, "v_cost_share")}
    assert asc["key_basis"] == cost[(2015, "ASC")]["key_basis"]  # the same key as programme costs
    assert asc["alliance_savings"] == wp["alliance_savings"] == D("379900.02")
    assert (asc["fair_share"], wp["fair_share"]) == (D("267337.16"), D("112562.86"))
    assert (asc["realised_savings"], wp["realised_savings"]) == (D("329900.02"), D("50000.00"))
    assert (asc["difference"], wp["difference"]) == (D("62562.86"), D("-62562.86"))
    # Wiltshire's target is set; Avon and Somerset's is the alliance's 7.5m less Wiltshire's
    assert (wp["target"], wp["target_basis"]) == (D("3333333.33"), "set")
    assert asc["target"] == D("4166666.67") and asc["target_basis"].startswith("implied")
    for year in (2014, 2015, 2016):
        pair = [share[(year, f)] for f in ("ASC", "WP")]
        assert sum(p["fair_share"] for p in pair) == pair[0]["alliance_savings"]
        assert sum(p["realised_savings"] for p in pair) == pair[0]["alliance_savings"]
        assert sum(p["difference"] for p in pair) == 0
    # the baseline year: no savings, no target to speak of
    assert share[(2014, "ASC")]["alliance_savings"] == D("0.00") and share[(2014, "ASC")]["target"] is None


def test_savings_share_of_a_year_in_progress_runs_to_its_closed_periods(ledger_warehouse):
    """The ledger ends on 31 March 2017, so FY 2016's period 12 is not closed yet (CHART.md: a posting
    10 days after its month's end closes it): its savings run to P11 for every force, leaving out WP's
    P12 grant of 0.02. ASC saved 300,000.01 and WP -0.01 over P1-P11: 300,000.00 between them, split
    30,000,000p x 0.703704 = 21,111,120p exactly."""
    share = {(r["fiscal_year"], r["force_code"]): r for r in rows(ledger_warehouse, "v_savings_share")}
    asc, wp = share[(2016, "ASC")], share[(2016, "WP")]
    assert (asc["through_period"], asc["year_complete"], wp["through_period"]) == (11, 0, 11)
    assert (asc["alliance_savings"], asc["realised_savings"], wp["realised_savings"]) == (
        D("300000.00"), D("300000.01"), D("-0.01"))
    assert (asc["fair_share"], wp["fair_share"]) == (D("211111.20"), D("88888.80"))


def test_cost_share_key_override_from_a_year_and_ties_to_the_penny(warehouse_url, tmp_path):
    seeds = write_seeds(tmp_path / "seeds", keys="2016,ASC,50,Headcount 50:50\n2016,WP,50,Headcount 50:50\n")
    engine = build_warehouse(warehouse_url, seeds_dir=seeds)
    try:
        share = {(r["fiscal_year"], r["force_code"]): r for r in rows(engine, "v_cost_share")}
        assert share[(2015, "ASC")]["key_share"] == D("0.703704")  # before the override: the default
        asc, wp = share[(2016, "ASC")], share[(2016, "WP")]
        assert (asc["key_basis"], asc["key_weight"], asc["key_share"], wp["key_share"]) == (
            "Headcount 50:50", D("50.00"), D("0.500000"), D("0.500000"))
        # 29,999,999p halves: equal remainders, the odd penny goes by force code order
        assert (asc["fair_share"], wp["fair_share"]) == (D("150000.00"), D("149999.99"))
        assert asc["balance"] + wp["balance"] == 0
    finally:
        engine.dispose()


def test_cost_share_without_baseline_has_no_key_rather_than_a_guess(tmp_path):
    engine = build_warehouse(f"sqlite:///{tmp_path / 'w.db'}", [r for r in LEDGER if r[1] != 2014])
    try:
        share = rows(engine, "v_cost_share", "WHERE fiscal_year = 2016")
        assert [(r["key_share"], r["fair_share"], r["balance"]) for r in share] == [(None, None, None)] * 2
        assert {r["incurred"] for r in share} == {D("200000.00"), D("99999.99")}
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# v_ledger_freshness and the board figures
# --------------------------------------------------------------------------------------------


def test_ledger_freshness_and_suspense(ledger_warehouse):
    fresh = {r["force_code"]: r for r in rows(ledger_warehouse, "v_ledger_freshness")}
    asc, wp = fresh["ASC"], fresh["WP"]
    assert (asc["last_business_date"], asc["last_posting_date"]) == (dt.date(2017, 3, 31), dt.date(2017, 3, 31))
    assert (asc["batches_loaded"], asc["batches_rejected"], asc["batches_superseded"]) == (1, 1, 1)
    assert (wp["last_business_date"], wp["last_posting_date"], wp["lines_quarantined"]) == (
        None, dt.date(2017, 3, 31), 3)
    assert (asc["suspense"], asc["suspense_line_count"], wp["suspense"], wp["suspense_gross"]) == (
        D("99.99"), 1, D("1234.56"), D("1234.56"))
    assert asc["lines_loaded"] == sum(1 for r in LEDGER if r[0] == "ASC")


def test_board_figures_read_in_one_snapshot(ledger_warehouse):
    figures = read_board_figures(ledger_warehouse)
    assert figures.has_ledger
    assert figures.fiscal_years() == [2014, 2015, 2016]
    # the ledger ends on 31 March 2017: FY 2016's March is not closed yet (CHART.md's ten days), so it runs to P11
    assert figures.year_complete(2015) and not figures.year_complete(2016) and figures.through_period(2016) == 11
    assert figures.headline_year() == 2016
    # like with like, to P11: 300,000.00 + 100,000.01 (P12's grant of 0.02 is in no closed period yet)
    assert figures.nre_by_function[(2016, "WP", "SF")] == 40000001
    assert figures.function_names["LP"] == "Local Policing"
    assert [b["source_ref"] for b in figures.rejected_batches] == ["ASC_GL_20170330_002.csv"]
    assert [(r["force_code"], r["local_code"]) for r in figures.views["v_unmapped_codes"]] == [
        ("ASC", "L-UNMAPPED"), ("WP", "9999")]


# --------------------------------------------------------------------------------------------
# Finance's seed files
# --------------------------------------------------------------------------------------------


def test_default_targets_phase_wiltshire_ten_million_exactly():
    seeds = read_finance_seeds()
    wp = [t["target_pence"] for t in seeds.savings_target if t["force_code"] == "WP"]
    assert wp == [333333333, 666666667, 1000000000]
    alliance = [t["target_pence"] for t in seeds.savings_target if t["force_code"] == "ALL"]
    assert alliance == [750000000, 1500000000, 2250000000, 3000000000]
    assert seeds.sharing_key == [] and seeds.deflator == []
    assert {(c["force_code"], c["cost_centre"]) for c in seeds.programme_cost_centre} == {
        ("ASC", "AS310100"), ("ASC", "AS310200"), ("WP", "7650")}


@pytest.mark.parametrize("file_kwargs, message", [
    ({"targets": "fiscal_year,force_code,alliance_scope,cumulative_target,note\n2015,ALL,alliance,7.5m,\n"},
     "savings_targets.csv line 2, column cumulative_target: expected a number with at most 2 decimal places; found '7.5m'"),
    ({"targets": "fiscal_year,force_code,alliance_scope,cumulative_target,note\n2015,ALL,alliance,1.001,\n"},
     "found '1.001'"),
    ({"targets": "fiscal_year,force_code,alliance_scope,cumulative_target,note\n2015,DC,alliance,1,\n"},
     "column force_code: expected one of ALL, ASC, WP; found 'DC'"),
    ({"targets": "fiscal_year,force_code,alliance_scope,cumulative_target,note\n15,ALL,alliance,1,\n"},
     "column fiscal_year: expected a fiscal year"),
    ({"targets": "fiscal_year,force,alliance_scope,cumulative_target,note\n"},
     "savings_targets.csv line 1: expected the columns fiscal_year, force_code"),
    ({"keys": "2016,ASC,60,Headcount\n"},
     "sharing_key.csv line 2, column force_code: expected a weight for every force (ASC, WP) from 2016; found 'ASC'"),
    ({"keys": "2016,ASC,-1,Headcount\n2016,WP,1,Headcount\n"}, "expected a number not below zero; found '-1'"),
    ({"keys": "2016,ASC,0,x\n2016,WP,0,x\n"}, "weights from 2016 that add up to more than zero"),
    ({"deflators": "2015,102.5,GDP\n"}, "expected an index for the base year FY 2014"),
    ({"deflators": "2014,0,GDP\n"}, "deflators.csv line 2, column index: expected a number greater than zero"),
    ({"centres": "force_code,cost_centre,cost_centre_name,programme\nWP,7650,x,y\nWP,7650,x,y\n"},
     "programme_cost_centres.csv line 3, column cost_centre: expected each cost centre once (line 2"),
])
def test_bad_seed_files_are_refused_naming_file_line_and_column(tmp_path, file_kwargs, message):
    seeds = write_seeds(tmp_path / "seeds", **file_kwargs)
    with pytest.raises(FinanceSeedError) as caught:
        read_finance_seeds(seeds)
    assert message in str(caught.value)


def test_seeds_reload_only_when_finance_edits_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    seeds = write_seeds(tmp_path / "seeds")
    shutil.copy2(SEEDS_DIR / "budgets.csv", seeds / "budgets.csv")  # the project's own, as build_warehouse loads
    engine = build_warehouse(url, ledger=[])
    try:
        with engine.begin() as conn:
            # the same bytes as the project's seeds, which revision 0002 loaded: nothing to do
            assert sync_finance_seeds(conn, seeds) is False
        (seeds / "sharing_key.csv").write_text(
            "valid_from_fy,force_code,weight,basis\n2016,ASC,\"3,000.5\",FTE\n2016,WP,1000,FTE\n", encoding="utf-8")
        with engine.begin() as conn:
            assert sync_finance_seeds(conn, seeds) is True
            assert sync_finance_seeds(conn, seeds) is False
            keys = conn.execute(sa.text(
                "SELECT force_code, weight_hundredths FROM sharing_key ORDER BY force_code")).fetchall()
        assert [tuple(k) for k in keys] == [("ASC", 300050), ("WP", 100000)]
        assert seeds_digest(seeds) != seeds_digest(tmp_path / "elsewhere")
    finally:
        engine.dispose()
