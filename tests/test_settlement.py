"""v_settlement, the life-to-date settlement of programme costs (issue #16), to the penny, on SQLite and
PostgreSQL: on a hand-built ledger whose FY 2015 balance is paid in April 2016, and on the sample data.

The hand-built ledger (SETTLEMENT below), worked by hand:

    FY 2014 (baseline)  ASC alliance NRE 950,000.01, WP 400,000.00: key 0.703704 : 0.296296
                        (95,000,001 : 40,000,000 pence, the spare ppm to ASC's larger remainder)
    FY 2015             programme costs ASC 120,000.00 (AS310100), WP 30,000.01 (7650): 15,000,001p
                        ASC fair share 10,555,560.703704p, WP 4,444,440.296296p: the spare penny to ASC,
                        105,555.61 and 44,444.40. Balances: ASC -14,444.39 (is owed), WP +14,444.39 (owes)
    FY 2016             P1 (April 2016): WP pays ASC the 14,444.39 (PART_PAY on 7650; ASC books INC_PART)
                        programme costs ASC 6,000.00 (AS310200): 600,000p, ASC 422,222.4p, WP 177,777.6p:
                        the spare penny to WP, 4,222.22 and 1,777.78.
                        v_cost_share's year: ASC 4,222.22 - (6,000.00 - 14,444.39) = +12,666.61, WP
                        1,777.78 - 14,444.39 = -12,666.61: the payment for FY 2015 looks like WP
                        overpaying FY 2016.
                        To date: ASC -14,444.39 + 12,666.61 = -1,777.78, WP +1,777.78: WP owes ASC
                        1,777.78, its fair share of FY 2016.
    FY 2017             P2: WP pays ASC the 1,777.78; no programme costs. Year: ASC +1,777.78, WP
                        -1,777.78; to date both 0.00: settled.
"""

from __future__ import annotations

import contextlib
import csv
import html
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from alliance_finance.core.money import decimal_to_pence
from alliance_finance.marts.figures import read_view
from alliance_finance.marts.seeds import SEEDS_DIR
from alliance_finance.report import HTML_NAME, WORKBOOK_NAME, build_report

from conftest import drop_pg_database, new_pg_database
from warehouse_batches import build_warehouse, write_seeds

D = Decimal

# (force, fiscal year, period, cost centre, objective, subjective, amount in pounds: debit minus credit)
SETTLEMENT = [
    ("ASC", 2014, 3, "AS200010", "OS04", "OFF_PAY", "950000.01"),
    ("WP", 2014, 4, "7100", "SF02", "STF_PAY", "400000.00"),
    ("ASC", 2015, 3, "AS310100", "SF09", "STF_PAY", "120000.00"),
    ("WP", 2015, 6, "7650", "SF06", "COMMS", "30000.01"),
    # April 2016: FY 2015's balance paid, on both sides of the ledger
    ("WP", 2016, 1, "7650", "SF06", "PART_PAY", "14444.39"),
    ("ASC", 2016, 1, "AS310100", "SF09", "INC_PART", "-14444.39"),
    ("ASC", 2016, 5, "AS310200", "SF06", "SUPP", "6000.00"),
    # FY 2017: FY 2016's balance paid
    ("WP", 2017, 2, "7650", "SF06", "PART_PAY", "1777.78"),
    ("ASC", 2017, 2, "AS310100", "SF09", "INC_PART", "-1777.78"),
]

FORCES = ("ASC", "WP")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def settlement_warehouse(request, tmp_path_factory):
    """The SETTLEMENT warehouse with the project's default seeds, once per dialect for this module."""
    if request.param == "sqlite":
        engine = build_warehouse(f"sqlite:///{tmp_path_factory.mktemp('wh') / 'warehouse.db'}", SETTLEMENT)
        yield engine
        engine.dispose()
    else:
        url = new_pg_database()
        try:
            engine = build_warehouse(url, SETTLEMENT)
            yield engine
            engine.dispose()
        finally:
            drop_pg_database(url)


def view(engine: sa.Engine, name: str) -> dict[tuple[int, str], dict]:
    with engine.connect() as conn:
        return {(r["fiscal_year"], r["force_code"]): r for r in read_view(conn, name, "fiscal_year, force_code")}


# -- the statement worked out in Python from the ledger alone, not from any view -------------------


def _largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """``total`` split in proportion to ``weights``, floors first, the units left over one each to the
    largest remainders (ties by force code)."""
    whole = sum(weights.values())
    floors = {f: total * w // whole for f, w in weights.items()}
    remainders = {f: total * w % whole for f, w in weights.items()}
    left = total - sum(floors.values())
    for f in sorted(weights, key=lambda f: (-remainders[f], f))[:left]:
        floors[f] += 1
    return floors


def expected_settlement(ledger: list[tuple]) -> dict[tuple[int, str], dict[str, int]]:
    centres = {(r["force_code"], r["cost_centre"])
               for r in csv.DictReader((SEEDS_DIR / "programme_cost_centres.csv").open(encoding="utf-8"))}
    pence = [(f, fy, cc, subj, decimal_to_pence(D(amount))) for f, fy, _, cc, _, subj, amount in ledger]
    baseline = {f: sum(p for g, fy, cc, subj, p in pence if g == f and fy == 2014 and subj not in ("PART_PAY", "INC_PART"))
                for f in FORCES}
    key = _largest_remainder(1_000_000, baseline)
    out, running = {}, dict.fromkeys(FORCES, 0)
    for year in sorted({fy for _, fy, *_ in pence}):
        incurred = {f: sum(p for g, fy, cc, subj, p in pence if (g, fy) == (f, year) and (g, cc) in centres
                           and subj not in ("PART_PAY", "INC_PART")) for f in FORCES}
        paid = {f: sum(p for g, fy, cc, subj, p in pence if (g, fy) == (f, year) and (g, cc) in centres
                       and subj == "PART_PAY") for f in FORCES}
        total = sum(incurred.values())
        fair = {f: s * (1 if total >= 0 else -1) for f, s in _largest_remainder(abs(total), key).items()}
        for f in FORCES:
            # two forces: what one paid the other is what the other was paid
            paid_by = sum(paid[g] for g in FORCES if g != f)
            balance = fair[f] - (incurred[f] + paid[f] - paid_by)
            out[(year, f)] = {"fair_share_pence": fair[f], "incurred_pence": incurred[f],
                              "paid_to_partner_pence": paid[f], "paid_by_partner_pence": paid_by,
                              "year_balance_pence": balance, "brought_forward_pence": running[f],
                              "owed_to_date_pence": running[f] + balance}
            running[f] += balance
    return out


# -- the hand-built ledger ---------------------------------------------------------------------------


def test_a_balance_paid_in_april_settles_the_year_before_to_the_penny(settlement_warehouse):
    s = view(settlement_warehouse, "v_settlement")
    assert sorted(s) == [(y, f) for y in (2014, 2015, 2016, 2017) for f in FORCES]

    asc15, wp15 = s[(2015, "ASC")], s[(2015, "WP")]
    assert (asc15["fair_share"], wp15["fair_share"]) == (D("105555.61"), D("44444.40"))
    assert (asc15["year_share"], wp15["year_share"]) == (D("-14444.39"), D("14444.39"))
    assert (asc15["brought_forward"], asc15["year_balance"], asc15["owed_to_date"], asc15["direction"]) == (
        D("0.00"), D("-14444.39"), D("-14444.39"), "is owed")
    assert (wp15["owed_to_date"], wp15["direction"]) == (D("14444.39"), "owes")

    # FY 2016: the April payment is in the year's balance (an overpayment of the year, as v_cost_share
    # shows it) but settles what was brought forward
    asc16, wp16 = s[(2016, "ASC")], s[(2016, "WP")]
    assert (wp16["fair_share"], wp16["incurred"], wp16["year_share"]) == (D("1777.78"), D("0.00"), D("1777.78"))
    assert (wp16["paid_to_partner"], wp16["paid_by_partner"], wp16["paid_net"]) == (
        D("14444.39"), D("0.00"), D("14444.39"))
    assert (wp16["brought_forward"], wp16["year_balance"], wp16["owed_to_date"], wp16["direction"]) == (
        D("14444.39"), D("-12666.61"), D("1777.78"), "owes")
    assert (asc16["fair_share"], asc16["year_share"], asc16["paid_net"]) == (
        D("4222.22"), D("-1777.78"), D("-14444.39"))
    assert (asc16["brought_forward"], asc16["year_balance"], asc16["owed_to_date"], asc16["direction"]) == (
        D("-14444.39"), D("12666.61"), D("-1777.78"), "is owed")
    assert (asc16["ltd_fair_share"], asc16["ltd_incurred"], asc16["ltd_paid_by_partner"], asc16["ltd_net_cost"]) == (
        D("109777.83"), D("126000.00"), D("14444.39"), D("111555.61"))
    assert (wp16["ltd_fair_share"], wp16["ltd_incurred"], wp16["ltd_paid_to_partner"], wp16["ltd_net_cost"]) == (
        D("46222.18"), D("30000.01"), D("14444.39"), D("44444.40"))

    # FY 2017: the rest paid, nothing owed either way
    for f in FORCES:
        assert (s[(2017, f)]["owed_to_date"], s[(2017, f)]["direction"]) == (D("0.00"), "settled")
    assert (s[(2017, "WP")]["brought_forward"], s[(2017, "WP")]["year_balance"]) == (D("1777.78"), D("-1777.78"))


def test_settlement_equals_the_ledger_worked_out_independently(settlement_warehouse):
    s = view(settlement_warehouse, "v_settlement")
    for key, want in expected_settlement(SETTLEMENT).items():
        assert {k: s[key][k] for k in want} == want, key


def test_settlement_agrees_with_the_year_statement_and_sums_to_zero(settlement_warehouse):
    s, cost = view(settlement_warehouse, "v_settlement"), view(settlement_warehouse, "v_cost_share")
    assert s.keys() == cost.keys()
    for (year, force), r in s.items():
        c = cost[(year, force)]
        # the year's figures are v_cost_share's, unchanged
        assert (r["fair_share_pence"], r["incurred_pence"], r["paid_to_partner_pence"], r["paid_by_partner_pence"],
                r["year_balance_pence"]) == (c["fair_share_pence"], c["incurred_pence"], c["paid_to_partner_pence"],
                                             c["paid_by_partner_pence"], c["balance_pence"])
        assert r["year_balance_pence"] == r["year_share_pence"] - r["paid_net_pence"]
        assert r["owed_to_date_pence"] == r["brought_forward_pence"] + r["year_balance_pence"]
        assert r["owed_to_date_pence"] == r["ltd_fair_share_pence"] - r["ltd_net_cost_pence"]
        assert r["ltd_net_cost_pence"] == (r["ltd_incurred_pence"] + r["ltd_paid_to_partner_pence"]
                                           - r["ltd_paid_by_partner_pence"])
        earlier = [y for (y, f) in s if f == force and y < year]
        assert r["brought_forward_pence"] == (s[(max(earlier), force)]["owed_to_date_pence"] if earlier else 0)
    for year in {y for y, _ in s}:
        assert sum(s[(year, f)]["owed_to_date_pence"] for f in FORCES) == 0
        assert sum(s[(year, f)]["brought_forward_pence"] for f in FORCES) == 0


def test_money_columns_are_exact_and_agree_with_their_pence(settlement_warehouse):
    with settlement_warehouse.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM v_settlement"))
        columns = list(result.keys())
        data = [dict(zip(columns, row)) for row in result]
    pairs = [(c[: -len("_pence")], c) for c in columns if c.endswith("_pence")]
    assert len(pairs) == 14 and all(money in columns for money, _ in pairs)
    for row in data:
        assert not any(isinstance(v, float) for v in row.values()), row
        for money, pence in pairs:
            assert D(str(row[money])) == D(int(row[pence])).scaleb(-2), (money, row)


def test_a_year_without_a_key_leaves_the_balance_to_date_unknown_from_then_on(warehouse_url, tmp_path):
    """No WP baseline: the default key cannot be worked out, so FY 2015 has none; finance's headcount
    key from FY 2016 gives FY 2016 and 2017 a year statement, but what is owed to date across FY 2015
    stays unknown rather than a guess."""
    seeds = write_seeds(tmp_path / "seeds", keys="2016,ASC,60,Headcount\n2016,WP,40,Headcount\n")
    engine = build_warehouse(warehouse_url, [r for r in SETTLEMENT if (r[0], r[1]) != ("WP", 2014)], seeds_dir=seeds)
    try:
        s = view(engine, "v_settlement")
        assert s[(2014, "ASC")]["fair_share"] is None and s[(2014, "ASC")]["owed_to_date"] is None
        assert s[(2015, "ASC")]["year_balance"] is None
        # FY 2016 by the 60:40 key: 6,000.00 -> ASC 3,600.00, WP 2,400.00
        assert (s[(2016, "ASC")]["fair_share"], s[(2016, "WP")]["year_balance"]) == (D("3600.00"), D("-12044.39"))
        for year in (2015, 2016, 2017):
            for f in FORCES:
                r = s[(year, f)]
                assert (r["owed_to_date"], r["ltd_fair_share"], r["direction"]) == (None, None, None), (year, f)
                assert r["brought_forward"] is None, (year, f)
        assert s[(2016, "WP")]["ltd_paid_to_partner"] == D("14444.39")  # the payments are still known
    finally:
        engine.dispose()


# -- the board report ---------------------------------------------------------------------------------


def _page_text(out) -> str:
    """The page's text, tags dropped and spaces squeezed."""
    page = html.unescape(re.sub(r"<[^>]+>", " ", (out / HTML_NAME).read_text(encoding="utf-8")))
    return re.sub(r"\s+", " ", page)


def test_report_shows_what_is_owed_to_date_and_the_carry_forward_by_year(settlement_warehouse, tmp_path):
    out = tmp_path / "report"
    build_report(settlement_warehouse, out)
    page = _page_text(out)
    assert "To date (2017/18): settled, nothing owed either way." in page
    # year, force, brought forward, year's share, paid, year balance, carried forward
    assert "2016/17 WP £14,444.39 £1,777.78 £14,444.39 -£12,666.61 £1,777.78 owes" in page
    assert "2016/17 ASC -£14,444.39 -£1,777.78 -£14,444.39 £12,666.61 -£1,777.78 is owed" in page
    assert "2017/18 WP £1,777.78 £0.00 £1,777.78 -£1,777.78 £0.00 settled" in page
    assert "2014/15 ASC" not in page.split("To date (2017/18)")[1].split("2015/16:")[0]  # nothing to settle in the baseline
    # the year's own statement is unchanged: the April payment is an overpayment of FY 2016 there
    assert "2016/17: ASC owes WP £12,666.61." in page

    book = load_workbook(out / WORKBOOK_NAME)
    sheet = book["v_settlement"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["fiscal_year", "force_code"] and "owed_to_date" in header
    found = {(r[0], r[1]): r[header.index("owed_to_date")] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert D(str(found[(2016, "WP")])) == D("1777.78") and D(str(found[(2017, "ASC")])) == 0


def test_report_says_who_owes_whom_to_date_after_the_april_payment(tmp_path):
    engine = build_warehouse(f"sqlite:///{tmp_path / 'w.db'}", [r for r in SETTLEMENT if r[1] < 2017])
    try:
        build_report(engine, tmp_path / "report")
    finally:
        engine.dispose()
    assert "To date (2016/17) after payments: WP owes ASC £1,777.78." in _page_text(tmp_path / "report")


# -- the sample data -------------------------------------------------------------------------------


#: what Wiltshire pays Avon and Somerset in April 2016 towards FY 2015's programme balance, in pence
APRIL_PAYMENT = 12_345_678


@pytest.fixture(scope="module")
def sample_sources(tmp_path_factory):
    """Three years of the sample's sources, small: the programme's costs start in FY 2015 (ASC alone)
    and both forces incur them in FY 2016. The sample has no payment settling them, so one is added to
    Wiltshire's ERP as finance would post it: £123,456.78 in April 2016 (FY 2016 P1) on its programme
    cost centre 7650 and partner account 55200 (ASC), read and validated like every other journal."""
    import sqlite3

    import alliance_sample

    out = tmp_path_factory.mktemp("sources")
    alliance_sample.generate_sources(out, from_fy=2014, to_fy=2016, scale=D("0.02"), seed=11)
    with contextlib.closing(sqlite3.connect(out / "wiltshire" / "erp.db")) as erp, erp:
        erp.execute("INSERT INTO gl_journal VALUES (999001, 'AP', 'APR-16', '2016-04-20', 'P', '2016-04-20 12:00:00', "
                    "NULL, 'Alliance programme: settlement of FY 2015/16')")
        erp.executemany("INSERT INTO gl_journal_line VALUES (999001, ?, ?, ?, ?, ?, 'PCC for Avon and Somerset')", [
            (1, "WP.7650.55200.0000", "123456.78", None, "Programme settlement FY 2015/16"),
            (2, "WP.0000.24000.0000", None, "123456.78", "Due to alliance partner")])
    return out


@pytest.mark.slow
def test_settlement_of_the_sample_carries_its_years_forward(sample_sources, warehouse_url):
    from alliance_finance.config.settings import Settings
    from alliance_finance.runner.command import run_cli
    from alliance_finance.warehouse.engine import make_engine
    from alliance_sample.scenario import SCENARIO

    assert run_cli(Settings.from_environment(warehouse=warehouse_url, sources_dir=sample_sources)) == 0
    engine = make_engine(warehouse_url)
    try:
        s, cost = view(engine, "v_settlement"), view(engine, "v_cost_share")
    finally:
        engine.dispose()
    assert sorted(s) == sorted(cost) == [(y, f) for y in (2014, 2015, 2016) for f in FORCES]
    for force in FORCES:
        running = 0
        for year in (2014, 2015, 2016):
            r, c = s[(year, force)], cost[(year, force)]
            assert r["year_balance_pence"] == c["balance_pence"] is not None
            assert r["brought_forward_pence"] == running
            running += c["balance_pence"]
            assert r["owed_to_date_pence"] == running
            assert r["ltd_fair_share_pence"] - r["ltd_net_cost_pence"] == running
            # the programme's costs are the scenario's, whatever the scale: life to date, to the penny
            programme = sum(by_year.get(y, 0) for by_year, _ in SCENARIO.programme[force].values()
                            for y in range(2014, year + 1))
            assert r["ltd_incurred_pence"] == programme * 100, (year, force)
    for year in (2014, 2015, 2016):
        assert sum(s[(year, f)]["owed_to_date_pence"] for f in FORCES) == 0
    # the April payment is FY 2016's, and it settles part of what WP brought forward from FY 2015
    wp15, wp16 = s[(2015, "WP")], s[(2016, "WP")]
    assert (wp16["paid_to_partner_pence"], s[(2016, "ASC")]["paid_by_partner_pence"]) == (APRIL_PAYMENT, APRIL_PAYMENT)
    assert wp15["owed_to_date_pence"] > APRIL_PAYMENT  # ASC bore the whole programme in FY 2015
    assert wp16["owed_to_date_pence"] == wp15["owed_to_date_pence"] + wp16["year_share_pence"] - APRIL_PAYMENT
    assert (wp16["direction"], s[(2016, "ASC")]["direction"]) == ("owes", "is owed")
