"""The summaries the finance views read equal the line-level aggregation after every kind of change.

Each step changes the ledger the way the pipeline does (a load, a second force's extract with a
quarantined line, a re-delivery superseding a delivery, a rejection, a conflicting batch rolled back,
a load that fails inside its transaction, a reference change restating history and moving a cost
centre to another function) and then checks, on SQLite and PostgreSQL:

- every summary table equals a fresh GROUP BY over fact_ledger_line (``summaries.differences``);
- the finance views read from the summaries give what the line-level rule gives: v_consolidated_spend
  against v_nre_line aggregated, v_savings_tracker's NRE against v_nre_line by scope, v_cost_share's
  incurred costs and v_intra_alliance_reconciliation's flows against the lines.

A run killed with SIGKILL mid-load is covered by tests/test_reliability_faults.py, whose soundness
check (tests/checksums.py) includes ``summaries.differences``.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import sqlalchemy as sa

from alliance_finance.core import faults
from alliance_finance.core.ledger import QuarantinedLine
from alliance_finance.core.paths import REFERENCE_DIR
from alliance_finance.warehouse import mapping, summaries
from alliance_finance.warehouse.load import BatchLoader

from warehouse_batches import asc_batch, balanced_document, line, query, ready_warehouse, wp_batch

DAY2 = dt.date(2016, 4, 6)


def assert_summaries_hold(engine: sa.Engine, step: str) -> None:
    with engine.connect() as conn:
        problems = summaries.differences(conn)
    assert problems == [], f"after {step}: " + "\n".join(problems)
    # the views read from the summaries give what the line-level rule (v_nre_line) gives
    assert query(engine, "SELECT fiscal_year, period, force_code, objective_code, subjective_code, amount_pence, "
                         "line_count FROM v_consolidated_spend ORDER BY 1, 2, 3, 4, 5") == query(engine, """
        SELECT fiscal_year, period, force_code, objective_code, subjective_code,
               CAST(SUM(amount_pence) AS bigint), COUNT(*)
        FROM v_nre_line GROUP BY fiscal_year, period, force_code, objective_code, subjective_code
        ORDER BY 1, 2, 3, 4, 5"""), step
    assert query(engine, "SELECT fiscal_year, force_code, alliance_scope, nre_pence FROM v_savings_tracker "
                         "WHERE force_code <> 'ALL' AND nre_pence <> 0 ORDER BY 1, 2, 3") == query(engine, """
        SELECT fiscal_year, force_code, alliance_scope, CAST(SUM(amount_pence) AS bigint) FROM v_nre_line
        GROUP BY fiscal_year, force_code, alliance_scope HAVING SUM(amount_pence) <> 0 ORDER BY 1, 2, 3"""), step
    assert query(engine, "SELECT fiscal_year, force_code, incurred_pence FROM v_cost_share "
                         "WHERE incurred_pence <> 0 ORDER BY 1, 2") == query(engine, """
        SELECT n.fiscal_year, n.force_code, CAST(SUM(n.amount_pence) AS bigint) FROM v_nre_line AS n
        JOIN programme_cost_centre AS p ON p.force_code = n.force_code AND p.cost_centre = n.cost_centre
         AND COALESCE(p.valid_from_fy, 0) <= n.fiscal_year AND n.fiscal_year <= COALESCE(p.valid_to_fy, 9999)
        GROUP BY n.fiscal_year, n.force_code HAVING SUM(n.amount_pence) <> 0 ORDER BY 1, 2"""), step
    flows = query(engine, "SELECT COALESCE(SUM(paid_pence), 0), COALESCE(SUM(received_pence), 0) "
                          "FROM v_intra_alliance_reconciliation")
    lines = query(engine, "SELECT COALESCE(SUM(CASE WHEN subjective_code = 'PART_PAY' THEN amount_pence ELSE 0 END), 0), "
                          "COALESCE(SUM(CASE WHEN subjective_code = 'INC_PART' THEN -amount_pence ELSE 0 END), 0) "
                          "FROM fact_ledger_line")
    assert [tuple(int(v) for v in r) for r in flows] == [tuple(int(v) for v in r) for r in lines], step
    assert query(engine, "SELECT force_code, lines_loaded, suspense_pence, suspense_line_count, last_posting_date "
                         "FROM v_ledger_freshness ORDER BY 1") == query(engine, """
        SELECT d.force_code, COUNT(f.force_code),
               COALESCE(SUM(CASE WHEN f.objective_code = 'UNMAPPED' OR f.subjective_code = 'UNMAPPED'
                                 THEN f.amount_pence ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN f.objective_code = 'UNMAPPED' OR f.subjective_code = 'UNMAPPED'
                                 THEN 1 ELSE 0 END), 0),
               MAX(f.posting_date)
        FROM dim_force AS d LEFT JOIN fact_ledger_line AS f ON f.force_code = d.force_code
        GROUP BY d.force_code ORDER BY 1"""), step
    # v_unmapped_codes and v_unmapped_code_years (unmapped_summary) give what their rule over the lines gives
    suspense = """SELECT force_code, 'account' AS code_type, local_account AS local_code, fiscal_year, posting_date,
                         amount_pence FROM fact_ledger_line WHERE subjective_code = 'UNMAPPED'
                  UNION ALL
                  SELECT force_code, 'cost_centre', cost_centre, fiscal_year, posting_date, amount_pence
                  FROM fact_ledger_line WHERE objective_code = 'UNMAPPED' AND subjective_code <> 'UNMAPPED'"""
    assert query(engine, "SELECT force_code, code_type, local_code, first_posting_date, last_posting_date, line_count, "
                         "amount_pence FROM v_unmapped_codes ORDER BY 1, 2, 3") == query(engine, f"""
        SELECT force_code, code_type, local_code, MIN(posting_date), MAX(posting_date), COUNT(*),
               CAST(SUM(amount_pence) AS bigint)
        FROM ({suspense}) AS u GROUP BY force_code, code_type, local_code ORDER BY 1, 2, 3"""), step
    assert query(engine, "SELECT force_code, code_type, local_code, fiscal_year, first_posting_date, last_posting_date, "
                         "line_count, amount_pence FROM v_unmapped_code_years ORDER BY 1, 2, 3, 4") == query(engine, f"""
        SELECT force_code, code_type, local_code, fiscal_year, MIN(posting_date), MAX(posting_date), COUNT(*),
               CAST(SUM(amount_pence) AS bigint)
        FROM ({suspense}) AS u GROUP BY force_code, code_type, local_code, fiscal_year ORDER BY 1, 2, 3, 4"""), step


def last_posting(engine: sa.Engine, code: str) -> list[tuple]:
    """A code's last posting date (as text: SQLite returns it so) and lines in v_unmapped_codes."""
    return [(str(d), n) for d, n in query(engine, "SELECT last_posting_date, line_count FROM v_unmapped_codes "
                                                  "WHERE local_code = :code", code=code)]


class Killed(Exception):
    """Raised at a fault point: the process dying mid-transaction, as far as the database sees it."""


def test_summaries_equal_the_lines_after_every_kind_of_change(warehouse_url, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    engine = ready_warehouse(warehouse_url, reference)
    assert_summaries_hold(engine, "an empty warehouse")

    first = (balanced_document("ASC1/2016/1", 100_00)
             + balanced_document("ASC1/2016/2", 2_500_00, cost_centre="AS310100")       # programme team
             + [line("ASC1/2016/3/1", "640300", "AS310100", 40_00),                     # paid to WP
                line("ASC1/2016/3/2", "200100", None, -40_00),
                line("ASC1/2016/4/1", "777777", "AS100010", 7_77),                      # account unmapped
                line("ASC1/2016/4/2", "504100", "AS777777", -7_77)])                    # cost centre unmapped
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(first)).loaded
        assert_summaries_hold(engine, "a first delivery")
        assert query(engine, "SELECT amount_pence FROM cost_centre_summary WHERE cost_centre = 'AS310100'") == \
            [(2_500_00,)]

        wp_lines = [line("7/1", "55200", "7650", -40_00, force="WP", number=1),         # received from ASC
                    line("7/2", "21000", "0000", 40_00, force="WP", number=2),
                    line("8/1", "42000", "2200", 12_34, force="WP", number=1),
                    line("8/2", "21000", "0000", -12_34, force="WP", number=2)]
        bad = QuarantinedLine("9/1", "9", 1, "account string malformed", '{"journal_id": 9}')
        assert loader.load(wp_batch(wp_lines, [7, 8, 9], quarantine=[bad])).loaded
        assert_summaries_hold(engine, "an extract with a quarantined line")

        assert loader.load(asc_batch(balanced_document("ASC1/2016/9", 900_00, posting_date=DAY2), day=DAY2)).loaded
        # the re-delivery of the first day: document 2 leaves, document 1 changes amount
        redelivery = balanced_document("ASC1/2016/1", 150_00) + first[4:]
        outcome = loader.load(asc_batch(redelivery, sequence=2))
        assert outcome.loaded and outcome.superseded == ["ASC_GL_20160405_001.csv"]
        assert_summaries_hold(engine, "a re-delivery superseding a delivery")
        # the programme team's spending left with document 2: its summary row goes, not a row of zeros
        assert query(engine, "SELECT COUNT(*) FROM cost_centre_summary WHERE cost_centre = 'AS310100'") == [(0,)]

        # a later delivery with lines in suspense posted on later days, then its re-delivery without the
        # latest of them: the code's last posting date goes back to the day of the lines still loaded
        day3 = dt.date(2016, 4, 12)
        later = [line("ASC1/2016/10/1", "777777", "AS100010", 3_00, posting_date=dt.date(2016, 4, 11)),
                 line("ASC1/2016/10/2", "200100", None, -3_00, posting_date=dt.date(2016, 4, 11)),
                 line("ASC1/2016/11/1", "777777", "AS100010", 5_00, posting_date=day3),
                 line("ASC1/2016/11/2", "200100", None, -5_00, posting_date=day3)]
        assert loader.load(asc_batch(later, day=day3)).loaded
        assert last_posting(engine, "777777") == [("2016-04-12", 3)]
        assert_summaries_hold(engine, "a delivery adding lines in suspense")
        assert loader.load(asc_batch(later[:2], day=day3, sequence=2)).loaded
        assert last_posting(engine, "777777") == [("2016-04-11", 2)]
        assert_summaries_hold(engine, "a re-delivery taking lines in suspense away")

        rejected = asc_batch(balanced_document("ASC1/2016/5", 1_00), day=dt.date(2016, 4, 7), error="control total")
        assert not loader.load(rejected).loaded
        # a line already loaded from another delivery: rolled back whole, then recorded as rejected
        clash = asc_batch(balanced_document("ASC1/2016/9", 900_00, posting_date=DAY2), day=dt.date(2016, 4, 8))
        assert not loader.load(clash).loaded
        assert_summaries_hold(engine, "a rejection and a conflicting batch rolled back")

    before = query(engine, "SELECT * FROM ledger_summary ORDER BY 1, 2, 3, 4, 5")

    def die(phase: str) -> None:
        if phase == "ASC.load.staged":
            raise Killed(phase)

    monkeypatch.setattr(faults, "reached", die)
    with BatchLoader(engine) as loader, pytest.raises(Killed):
        loader.load(asc_batch(balanced_document("ASC1/2016/6", 6_00, posting_date=dt.date(2016, 4, 9)),
                              day=dt.date(2016, 4, 9)))
    monkeypatch.undo()
    assert query(engine, "SELECT * FROM ledger_summary ORDER BY 1, 2, 3, 4, 5") == before
    assert_summaries_hold(engine, "a load that died inside its transaction")

    # finance maps the unmapped codes, and moves objective LP01 to another function and scope (no line's
    # codes change for that, but every NRE figure by function and scope does)
    objectives = (reference / "common_objectives.csv").read_text(encoding="utf-8")
    assert "LP01,Neighbourhood Policing,LP,Local Policing,local" in objectives
    (reference / "common_objectives.csv").write_text(objectives.replace(
        "LP01,Neighbourhood Policing,LP,Local Policing,local", "LP01,Neighbourhood Policing,PP,Public Protection,alliance"),
        encoding="utf-8")
    with (reference / "avon_somerset_cost_centres.csv").open("a", encoding="utf-8") as f:
        f.write("AS777777,New Neighbourhood Team,LP01,2016,\n")
    with (reference / "avon_somerset_gl_accounts.csv").open("a", encoding="utf-8") as f:
        f.write("777777,New Income Stream,INC_OTH\n")
    sync = mapping.sync_reference(engine, reference)
    assert sync.changed and sync.lines_restated == 3  # 777777: the first delivery's line and the later one
    assert_summaries_hold(engine, "a reference change restating history")
    assert query(engine, "SELECT COUNT(*) FROM ledger_summary WHERE objective_code = 'UNMAPPED' "
                         "OR subjective_code = 'UNMAPPED'") == [(0,)]
    assert query(engine, "SELECT DISTINCT alliance_scope FROM nre_summary WHERE function_code = 'LP'") == []
    engine.dispose()


def _analyze_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:  # a new transaction: statistics read afresh
        return {name: count for name, count in conn.exec_driver_sql(
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN (%s)"
            % ", ".join(f"'{t}'" for t in summaries.SUMMARIES))}


def test_a_pass_refreshes_only_the_summaries_statistics_that_went_stale(pg_url):
    """The loader ends a pass by analysing the summaries only where autovacuum's rule says their
    statistics went stale (never analysed, or more rows changed than 50 + 10 % of the table): a night's
    few rows into a long history skip it; many rows do not."""
    import time

    engine = ready_warehouse(pg_url)
    with engine.begin() as conn:
        summaries.analyze(conn)  # every summary analysed: reltuples known
    before = _analyze_counts(engine)
    assert set(before) == set(summaries.SUMMARIES)

    with BatchLoader(engine) as loader:  # a few lines: no summary stale
        assert loader.load(asc_batch(balanced_document("ASC1/2016/1", 100_00))).loaded
    assert _analyze_counts(engine) == before

    # 60 rows more in one summary than it had (0), its counters flushed: that one is stale, only that one
    with engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("INSERT INTO force_year_summary (force_code, fiscal_year, amount_pence, line_count) "
                                 "SELECT 'ASC', 1900 + n, 1, 1 FROM generate_series(1, 60) AS n")
        conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
        conn.commit()
    deadline = time.monotonic() + 10
    while query(engine, "SELECT n_mod_since_analyze FROM pg_stat_user_tables "
                        "WHERE relname = 'force_year_summary'")[0][0] < 60:
        assert time.monotonic() < deadline, "the statistics counters were not flushed"
        time.sleep(0.1)
    with engine.begin() as conn:
        summaries.analyze(conn, stale_only=True)
    after = _analyze_counts(engine)
    assert after == dict(before, force_year_summary=before["force_year_summary"] + 1)
