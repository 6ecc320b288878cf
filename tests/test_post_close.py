"""Lines posted into a closed period load, and are recorded as post-close adjustments (CHART.md).

ASC deliveries of May 2016 (FY 2016, period 1 is April): once the ledger holds a posting of 20 May,
April is closed by inference (30 April + 10 days), so a later delivery's line dated 28 April is a
post-close adjustment; once finance records closes for the year, inference stops and the recorded
close (with its date) is what counts. A re-delivery that drops the late line drops its adjustment.
"""

from __future__ import annotations

import datetime as dt

from alliance_finance.marts.closes import record_period_event
from alliance_finance.warehouse import post_close
from alliance_finance.warehouse.load import BatchLoader

from warehouse_batches import asc_batch, balanced_document, line, query, ready_warehouse


def _adjustments(engine) -> list[tuple]:
    found = query(engine, "SELECT force_code, fiscal_year, period, basis, closed_on, source_ref, amount_pence, "
                          "line_count FROM v_post_close_adjustments ORDER BY source_ref, period")
    return [r[:4] + (None if r[4] is None else str(r[4]),) + r[5:] for r in found]


def test_a_line_posted_into_a_closed_period_loads_and_is_shown_as_an_adjustment(warehouse_url):
    engine = ready_warehouse(warehouse_url)
    may20, may23, may24 = dt.date(2016, 5, 20), dt.date(2016, 5, 23), dt.date(2016, 5, 24)
    with BatchLoader(engine) as loader:
        # 28 April's accrual arrives with April's last delivery: April is still open, nothing to show
        assert loader.load(asc_batch(balanced_document("ASC1/2016/1", 10_00, posting_date=dt.date(2016, 4, 28)),
                                     day=dt.date(2016, 4, 28))).loaded
        assert loader.load(asc_batch(balanced_document("ASC1/2016/2", 20_00, period=2, posting_date=may20),
                                     day=may20)).loaded
        assert _adjustments(engine) == []
        # a line dated 28 April arrives on 23 May, after April closed by inference (ledger past 10 May)
        late = [line("ASC1/2016/3/1", "504100", "AS100010", 7_50, posting_date=dt.date(2016, 4, 28)),
                line("ASC1/2016/3/2", "200100", None, -7_50, posting_date=dt.date(2016, 4, 28)),
                line("ASC1/2016/4/1", "504100", "AS100010", 3_00, period=2, posting_date=may23),
                line("ASC1/2016/4/2", "200100", None, -3_00, period=2, posting_date=may23)]
        assert loader.load(asc_batch(late, day=may23)).loaded
    # loaded all the same: the ledger is the ledger
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE source_line_ref LIKE 'ASC1/2016/3/%'") == [(2,)]
    assert _adjustments(engine) == [("ASC", 2016, 1, "inferred", None, "ASC_GL_20160523_001.csv", 0, 2)]

    # finance records April and May closed: inference stops for FY 2016, the recorded closes count
    with engine.begin() as conn:
        for period, closed_on in ((1, dt.date(2016, 5, 9)), (2, dt.date(2016, 6, 8))):
            record_period_event(conn, force_code="ASC", fiscal_year=2016, period=period, action="close",
                                on=closed_on, by="test")
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch([line("ASC1/2016/5/1", "504100", "AS100010", 1_00, period=2, posting_date=may24),
                                      line("ASC1/2016/5/2", "504100", "AS100020", 2_00, period=2, posting_date=may24),
                                      line("ASC1/2016/5/3", "200100", None, -3_00, period=2, posting_date=may24)],
                                     day=dt.date(2016, 6, 10))).loaded
        # the 23 May delivery is re-delivered without the late April document: its April adjustment
        # goes with it, and its May lines, now in a period finance closed on 8 June, are one
        assert loader.load(asc_batch(late[2:], day=may23, sequence=2)).loaded
    assert _adjustments(engine) == [("ASC", 2016, 2, "recorded", "2016-06-08", "ASC_GL_20160523_002.csv", 0, 2),
                                    ("ASC", 2016, 2, "recorded", "2016-06-08", "ASC_GL_20160610_001.csv", 0, 3)]
    engine.dispose()


def test_closed_periods_of_given_years_are_those_years_of_all_closed_periods(warehouse_url):
    """The loader asks only for the years a batch posts into: the answer is exactly those years' share of
    the whole, recorded and inferred alike, and nothing for no years."""
    engine = ready_warehouse(warehouse_url)
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(balanced_document("ASC1/2015/1", 5_00, fiscal_year=2015, period=12,
                                                       posting_date=dt.date(2016, 3, 18)),
                                     day=dt.date(2016, 3, 18))).loaded
        # FY 2016's April and May closed by inference: the ledger runs to 20 June 2016
        assert loader.load(asc_batch(balanced_document("ASC1/2016/1", 10_00, period=3,
                                                       posting_date=dt.date(2016, 6, 20)),
                                     day=dt.date(2016, 6, 20))).loaded
    with engine.begin() as conn:
        # FY 2015's period 12 recorded closed by finance
        record_period_event(conn, force_code="ASC", fiscal_year=2015, period=12, action="close",
                            on=dt.date(2016, 4, 12), by="test")
    with engine.connect() as conn:
        everything = post_close.closed_periods(conn, "ASC")
        assert {(2016, 1), (2016, 2), (2015, 12)} <= set(everything)
        assert everything[(2015, 12)][0] == "recorded" and everything[(2016, 1)][0] == "inferred"
        for years in ([2016], [2015], [2015, 2016], [2016, 2016], [2017]):
            assert post_close.closed_periods(conn, "ASC", years) == \
                {key: state for key, state in everything.items() if key[0] in years}, years
        assert post_close.closed_periods(conn, "ASC", []) == {}
        assert post_close.closed_periods(conn, "WP", [2015, 2016]) == {}
    engine.dispose()
