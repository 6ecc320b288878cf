"""FY 2016 night by night, cut at every month end and mid-month, against an independent computation.

A hand-built ledger (seeded amounts, three postings a month per force and scope, on the 5th, 15th and
25th, a year-end adjustment in period 13) is loaded through the real loader one night at a time: the
baseline FY 2014 first, then FY 2016's postings up to each night, then a night in April 2017 that
closes the year. After every night v_savings_tracker's in-year figures are compared, to the penny,
with what CHART.md's rules give when computed here in Python with exact fractions: how far each
force's year runs (the ten-day rule on the force's latest posting; ALL the lesser), the year to date
and the baseline's same periods, the target phased by the baseline's seasonality and the run-rate
forecast, both rounded half away from zero. On one night a line arrives for a period already closed:
it loads, counts, and is listed as a post-close adjustment.
"""

from __future__ import annotations

import datetime as dt
import random
from fractions import Fraction

import pytest

from alliance_finance.core.fiscal import period_end, period_month
from alliance_finance.marts.seeds import load_finance_seeds
from alliance_finance.warehouse.load import BatchLoader

from warehouse_batches import asc_batch, force_batch, line, query, ready_warehouse, write_seeds

#: (force, scope) -> (account, cost centre): mapped by reference/ to an alliance or a local objective
CODES = {("ASC", "alliance"): ("504100", "AS300200"), ("ASC", "local"): ("504100", "AS100010"),
         ("WP", "alliance"): ("42000", "7100"), ("WP", "local"): ("42000", "1102")}
TARGETS = {("WP", "alliance"): 666_666_667, ("ALL", "alliance"): 1_500_000_000}  # seeds/savings_targets.csv, FY 2016


def ledger(rng: random.Random) -> list[dict]:
    """Every posting: force, scope, fiscal year, period, posting date, pence."""
    out = []
    for fiscal_year in (2014, 2016):
        for period in range(1, 13):
            year, month = period_month(fiscal_year, period)
            for (force, scope) in CODES:
                for day in (5, 15, 25):
                    out.append(dict(force=force, scope=scope, fy=fiscal_year, period=period,
                                    day=dt.date(year, month, day), pence=rng.randint(-2_000_00, 90_000_00)))
        for (force, scope) in CODES:  # the year-end adjustment, dated 31 March, in period 13
            out.append(dict(force=force, scope=scope, fy=fiscal_year, period=13,
                            day=dt.date(fiscal_year + 1, 3, 31), pence=rng.randint(1_00, 5_000_00)))
    return out


def half_away(value: Fraction) -> int:
    sign, value = (-1 if value < 0 else 1), abs(value)
    whole = value.numerator // value.denominator
    return sign * (whole + (1 if (value - whole) * 2 >= 1 else 0))


def expected(loaded: list[dict]) -> dict:
    """CHART.md's in-year figures of FY 2016 from the postings loaded, for each force, ALL and scope."""
    latest = {f: max(p["day"] for p in loaded if p["force"] == f) for f in ("ASC", "WP")}

    def through(force: str) -> int:
        p = 0
        while p < 12 and latest[force] >= period_end(2016, p + 1) + dt.timedelta(days=10):
            p += 1
        return 16 if p == 12 else p

    runs = {f: through(f) for f in ("ASC", "WP")}
    runs["ALL"] = min(runs.values())
    out = {}
    for row in ("ASC", "WP", "ALL"):
        forces = ("ASC", "WP") if row == "ALL" else (row,)
        p = runs[row]
        for scope in ("alliance", "local"):
            mine = [x for x in loaded if x["force"] in forces and x["scope"] == scope]
            ytd = sum(x["pence"] for x in mine if x["fy"] == 2016 and x["period"] <= p)
            base_ytd = sum(x["pence"] for x in mine if x["fy"] == 2014 and x["period"] <= p)
            base = sum(x["pence"] for x in mine if x["fy"] == 2014)
            target = TARGETS.get((row, scope))
            out[(row, scope)] = {
                "through_period": p, "year_complete": int(p == 16), "ytd_nre_pence": ytd,
                "ytd_baseline_nre_pence": base_ytd,
                "ytd_target_pence": None if target is None else half_away(Fraction(target * base_ytd, base)),
                "forecast_method": "outturn" if p == 16 else ("run_rate" if p else None),
                "forecast_nre_pence": (sum(x["pence"] for x in mine if x["fy"] == 2016) if p == 16
                                       else half_away(Fraction(ytd * base, base_ytd)) if p else None),
            }
    return out


COLUMNS = ("through_period", "year_complete", "ytd_nre_pence", "ytd_baseline_nre_pence", "ytd_target_pence",
           "forecast_method", "forecast_nre_pence")


def actual(engine) -> dict:
    found = query(engine, f"SELECT force_code, alliance_scope, {', '.join(COLUMNS)} FROM v_savings_tracker "
                          "WHERE fiscal_year = 2016 AND alliance_scope IN ('alliance', 'local')")
    return {(r[0], r[1]): dict(zip(COLUMNS, (int(v) if isinstance(v, int) else v for v in r[2:]))) for r in found}


def nights() -> list[dt.date]:
    out = []
    for period in range(1, 13):
        end = period_end(2016, period)
        out += [end.replace(day=15), end]
    return out + [dt.date(2017, 4, 20)]


def test_every_month_end_and_mid_month_matches_the_rules_computed_independently(warehouse_url, tmp_path):
    engine = ready_warehouse(warehouse_url)
    with engine.begin() as conn:  # the project's targets, no budgets: the forecast is the run rate
        load_finance_seeds(conn, write_seeds(tmp_path / "seeds"))
    postings = ledger(random.Random(2016))
    # a late accrual for June (period 3), arriving on 15 August when June is long closed
    late = dict(force="ASC", scope="alliance", fy=2016, period=3, day=dt.date(2016, 6, 28), pence=12_345_67)
    # the next year's first postings, 20 April 2017: ten days past March, FY 2016 is complete
    opening = [dict(force=f, scope="alliance", fy=2017, period=1, day=dt.date(2017, 4, 20), pence=1_00) for f in ("ASC", "WP")]
    loaded: list[dict] = []
    serial = iter(range(1, 10**6))

    def load(loader, night: dt.date, todays: list[dict]) -> None:
        for force in ("ASC", "WP"):
            rows = [line(f"{force}{next(serial)}/1", *CODES[(p["force"], p["scope"])], p["pence"], force=force,
                         fiscal_year=p["fy"], period=p["period"], posting_date=p["day"])
                    for p in todays if p["force"] == force]
            if not rows:
                continue
            batch = (asc_batch(rows, day=night) if force == "ASC"
                     else force_batch("WP", rows, label=f"night {night}", document_ids=[r["document_ref"] for r in rows]))
            assert loader.load(batch).loaded
        loaded.extend(todays)

    with BatchLoader(engine) as loader:
        load(loader, dt.date(2015, 4, 30), [p for p in postings if p["fy"] == 2014])
        previous = dt.date(2016, 3, 31)
        for night in nights():
            todays = [p for p in postings + opening if p["fy"] >= 2016 and previous < p["day"] <= night]
            if night == dt.date(2016, 8, 15):
                todays.append(late)
            load(loader, night, todays)
            previous = night
            got, want = actual(engine), expected(loaded)
            for key in want:
                assert got.get(key) == want[key], (night, key, got.get(key))
    # the late June accrual loaded and counted, and is named as a post-close adjustment
    assert query(engine, "SELECT force_code, fiscal_year, period, basis, amount_pence FROM v_post_close_adjustments") == [
        ("ASC", 2016, 3, "inferred", 12_345_67)]
    engine.dispose()


@pytest.mark.parametrize("period, closes_on", [(1, dt.date(2016, 5, 10)), (6, dt.date(2016, 10, 10)),
                                               (12, dt.date(2017, 4, 10))])
def test_the_ten_day_rule_closes_on_the_tenth_day_after_the_month(period, closes_on):
    assert period_end(2016, period) + dt.timedelta(days=10) == closes_on
