"""Period closes as data (issue #15): recorded closes and re-openings, the inference rule of CHART.md,
how far each fiscal year's figures run (v_period_status, v_fiscal_year_status), on SQLite and
PostgreSQL; the close-period command and finance's seeds/period_closes.csv.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from alliance_finance.cli import main as cli_main
from alliance_finance.marts.closes import read_period_closes
from alliance_finance.marts.seedfile import FinanceSeedError
from alliance_finance.core.fiscal import fiscal_year_of
from alliance_finance.marts.seeds import load_finance_seeds
from alliance_finance.warehouse import migrate, summaries

from warehouse_batches import build_warehouse, write_seeds

CLOSES_HEADER = "force_code,fiscal_year,period,action,closed_on,note\n"


def add_loaded_batch(engine: sa.Engine, force: str, first: dt.date, last: dt.date, status: str = "loaded",
                     years: list[int] | None = None) -> None:
    """A batch whose lines were posted from ``first`` to ``last``, with a line in each of ``years`` (default
    the fiscal years of ``first`` to ``last``), and the summaries the views read kept with them."""
    years = years if years is not None else list(range(fiscal_year_of(first), fiscal_year_of(last) + 1))
    with engine.begin() as conn:
        ref = f"{force} {first} {last} {status}"
        batch_id = conn.execute(sa.text(
            "INSERT INTO etl_batch (force_code, source_ref, status, rows_read, first_posting_date, last_posting_date, "
            "started_at) VALUES (:force, :ref, :status, 0, :first, :last, :now) RETURNING batch_id"),
            {"force": force, "ref": ref, "status": status, "first": first, "last": last,
             "now": dt.datetime(2017, 1, 1)}).scalar_one()
        if status != "loaded":
            return
        for fy in years:
            conn.execute(sa.text(
                "INSERT INTO fact_ledger_line (force_code, fiscal_year, period, posting_date, source_line_ref, "
                "document_ref, source_line_number, local_account, objective_code, subjective_code, amount_pence, "
                "document_type, batch_id) VALUES (:force, :fy, 1, :day, :ref, :ref, 2, 'L-SUPP', 'LP01', 'SUPP', 100, "
                "'SA', :batch)"), {"force": force, "fy": fy, "day": last, "ref": f"{ref} {fy}", "batch": batch_id})
        summaries.add_batch(conn, batch_id)


def period_status(engine: sa.Engine, force: str, fy: int) -> list[tuple]:
    with engine.connect() as conn:
        return [(r.period, int(r.closed), r.basis, _day(r.closed_on)) for r in conn.execute(sa.text(
            "SELECT period, closed, basis, closed_on FROM v_period_status "
            "WHERE force_code = :f AND fiscal_year = :fy ORDER BY period"), {"f": force, "fy": fy})]


def year_status(engine: sa.Engine) -> dict[tuple[str, int], tuple]:
    with engine.connect() as conn:
        return {(r.force_code, r.fiscal_year): (r.through_period, int(r.year_complete), _day(r.closed_to_date))
                for r in conn.execute(sa.text("SELECT * FROM v_fiscal_year_status"))}


def _day(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def close_period(url: str, *args: str) -> int:
    return cli_main(["close-period", "--warehouse", url, "--by", "j.smith", *args])


@pytest.fixture
def warehouse(warehouse_url):
    engine = build_warehouse(warehouse_url, ledger=[])
    yield warehouse_url, engine
    engine.dispose()


def test_a_period_counts_as_closed_ten_days_after_its_month_in_the_ledger(warehouse):
    _, engine = warehouse
    # ASC's latest posting: 10 May 2016, ten days after April ends; WP's 9 May 2016, nine days
    add_loaded_batch(engine, "ASC", dt.date(2016, 4, 1), dt.date(2016, 5, 10))
    add_loaded_batch(engine, "WP", dt.date(2016, 4, 2), dt.date(2016, 5, 9))
    add_loaded_batch(engine, "WP", dt.date(2016, 4, 2), dt.date(2016, 9, 30), status="rejected")  # not ledger
    asc = period_status(engine, "ASC", 2016)
    assert [p for p, *_ in asc] == list(range(1, 13))
    assert asc[:2] == [(1, 1, "inferred", None), (2, 0, "open", None)]
    assert period_status(engine, "WP", 2016)[0] == (1, 0, "open", None)
    assert year_status(engine) == {("ASC", 2016): (1, 0, dt.date(2016, 4, 30)), ("WP", 2016): (0, 0, None),
                                   ("ALL", 2016): (0, 0, None)}

    # WP's ledger reaches 10 June: April and May closed; ALL is the lesser of the two forces
    add_loaded_batch(engine, "WP", dt.date(2016, 5, 10), dt.date(2016, 6, 10))
    assert year_status(engine)[("WP", 2016)] == (2, 0, dt.date(2016, 5, 31))
    assert year_status(engine)[("ALL", 2016)] == (1, 0, dt.date(2016, 4, 30))

    # a batch spanning the year end gives both years ledger; the earlier year is complete (16)
    add_loaded_batch(engine, "ASC", dt.date(2016, 3, 20), dt.date(2016, 4, 1))
    status = year_status(engine)
    assert status[("ASC", 2015)] == (16, 1, dt.date(2016, 3, 31))
    assert status[("ALL", 2015)] == (0, 0, None)  # WP has no FY 2015 ledger

    # postings after the year end that are all the year's adjustments: no next year, a later latest posting
    add_loaded_batch(engine, "WP", dt.date(2017, 4, 4), dt.date(2017, 6, 8), years=[2016])
    status = year_status(engine)
    assert ("WP", 2017) not in status and ("ALL", 2017) not in status
    assert status[("WP", 2016)] == (16, 1, dt.date(2017, 3, 31))


def test_recorded_closes_reopen_and_a_complete_year(warehouse, capsys):
    url, engine = warehouse
    add_loaded_batch(engine, "ASC", dt.date(2016, 4, 1), dt.date(2017, 6, 30))
    add_loaded_batch(engine, "WP", dt.date(2016, 4, 1), dt.date(2017, 6, 30))
    # the ledger is past every period: inferred complete
    assert year_status(engine)[("ASC", 2016)] == (16, 1, dt.date(2017, 3, 31))

    for period in (1, 2, 3):
        assert close_period(url, "--force", "ASC", "--fiscal-year", "2016", "--period", str(period),
                            "--on", f"2016-{period + 4:02d}-08") == 0
    assert "ASC FY 2016/17 period 3 closed on 2016-07-08 (recorded by j.smith)" in capsys.readouterr().out
    # once finance records a close for the year, only recorded closes count in it
    assert period_status(engine, "ASC", 2016)[:5] == [
        (1, 1, "recorded", dt.date(2016, 5, 8)), (2, 1, "recorded", dt.date(2016, 6, 8)),
        (3, 1, "recorded", dt.date(2016, 7, 8)), (4, 0, "open", None), (5, 0, "open", None)]
    assert year_status(engine)[("ASC", 2016)] == (3, 0, dt.date(2016, 6, 30))
    assert year_status(engine)[("WP", 2016)][0] == 16
    assert year_status(engine)[("ALL", 2016)][0] == 3

    assert close_period(url, "--force", "ASC", "--fiscal-year", "2016", "--period", "2", "--reopen",
                        "--on", "2016-08-01", "--note", "late accrual") == 0
    assert period_status(engine, "ASC", 2016)[1] == (2, 0, "reopened", None)
    assert year_status(engine)[("ASC", 2016)] == (1, 0, dt.date(2016, 4, 30))
    assert year_status(engine)[("ALL", 2016)][0] == 1

    # closed again, and every other period: the year is complete, its figures run to period 16
    for period in [2, *range(4, 13)]:
        assert close_period(url, "--force", "ASC", "--fiscal-year", "2016", "--period", str(period),
                            "--on", "2017-04-12") == 0
    assert year_status(engine)[("ASC", 2016)] == (16, 1, dt.date(2017, 3, 31))
    assert year_status(engine)[("ALL", 2016)] == (16, 1, dt.date(2017, 3, 31))
    with engine.connect() as conn:
        events = conn.execute(sa.text(
            "SELECT action, source, recorded_by, note FROM period_close_event WHERE period = 2 ORDER BY event_id")).all()
    assert [tuple(e) for e in events] == [("close", "cli", "j.smith", None), ("reopen", "cli", "j.smith", "late accrual"),
                                          ("close", "cli", "j.smith", None)]


def test_close_period_refuses_what_contradicts_the_record(warehouse, capsys):
    url, engine = warehouse
    period_6 = ["--force", "ASC", "--fiscal-year", "2016", "--period", "6"]
    assert close_period(url, *period_6, "--reopen") == 1
    assert "ASC FY 2016/17 period 6 has no recorded close: only a recorded close can be reopened; nothing " \
           "recorded" in capsys.readouterr().err
    assert close_period(url, *period_6, "--on", "2016-10-10") == 0
    assert close_period(url, *period_6, "--on", "2016-10-11") == 1
    assert "period 6 is already closed (closed on 2016-10-10, recorded from cli)" in capsys.readouterr().err
    assert close_period(url, *period_6, "--reopen", "--on", "2016-10-09") == 1
    assert "2016-10-09 is before its latest recorded event (close on 2016-10-10)" in capsys.readouterr().err
    assert close_period(url, *period_6, "--reopen", "--on", "2016-10-12") == 0
    assert close_period(url, *period_6, "--reopen", "--on", "2016-10-13") == 1
    assert "is already open (reopened on 2016-10-12)" in capsys.readouterr().err

    for usage in (["--force", "XX", "--fiscal-year", "2016", "--period", "6"],
                  ["--force", "ASC", "--fiscal-year", "2016", "--period", "17"],
                  ["--force", "ASC", "--fiscal-year", "2016", "--period", "0"],
                  [*period_6, "--on", "2016-13-01"],
                  [*period_6, "--on", (dt.date.today() + dt.timedelta(days=1)).isoformat()]):
        with pytest.raises(SystemExit) as caught:
            close_period(url, *usage)
        assert caught.value.code == 2, usage
    err = capsys.readouterr().err
    assert "invalid choice: 'XX'" in err and "a period is 1-12" in err and "is in the future" in err

    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM period_close_event")).scalar() == 2
    # append-only on both dialects: an event is never changed or deleted
    for statement in ("UPDATE period_close_event SET action = 'close'", "DELETE FROM period_close_event"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(sa.text(statement))


def test_close_period_refuses_a_warehouse_without_schema_or_without_the_force(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert close_period(url, "--force", "ASC", "--fiscal-year", "2016", "--period", "1") == 1
    assert "has no schema yet" in capsys.readouterr().err
    migrate.upgrade(url)  # the schema, but no run has loaded the forces yet
    assert close_period(url, "--force", "ASC", "--fiscal-year", "2016", "--period", "1") == 1
    assert "the warehouse has no force ASC" in capsys.readouterr().err


def test_seed_closes_are_appended_once_and_never_deleted(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = build_warehouse(url, ledger=[])
    add_loaded_batch(engine, "ASC", dt.date(2016, 4, 1), dt.date(2017, 6, 30))
    rows = "ASC,2016,1,close,2016-05-06,April closed\nASC,2016,2,close,2016-06-07,\n"
    seeds = write_seeds(tmp_path / "seeds", closes=rows)
    try:
        with engine.begin() as conn:
            assert load_finance_seeds(conn, seeds)["period_close_event"] == 2
            assert load_finance_seeds(conn, seeds)["period_close_event"] == 0  # already recorded
        assert year_status(engine)[("ASC", 2016)] == (2, 0, dt.date(2016, 5, 31))
        # a row removed from the file stays recorded; a reopen row undoes it
        write_seeds(tmp_path / "seeds", closes="ASC,2016,1,close,2016-05-06,April closed\n"
                                               "ASC,2016,2,reopen,2016-06-20,a late invoice\n")
        with engine.begin() as conn:
            assert load_finance_seeds(conn, seeds)["period_close_event"] == 1
            events = conn.execute(sa.text("SELECT period, action, source, recorded_by, note FROM period_close_event "
                                          "ORDER BY event_id")).all()
        assert [tuple(e) for e in events] == [
            (1, "close", "seed", "period_closes.csv", "April closed"), (2, "close", "seed", "period_closes.csv", None),
            (2, "reopen", "seed", "period_closes.csv", "a late invoice")]
        assert period_status(engine, "ASC", 2016)[1] == (2, 0, "reopened", None)
        assert year_status(engine)[("ASC", 2016)] == (1, 0, dt.date(2016, 4, 30))
    finally:
        engine.dispose()


@pytest.mark.parametrize("rows, message", [
    ("XX,2016,1,close,2016-05-06,\n", "line 2, column force_code: expected one of ASC, WP; found 'XX'"),
    ("ASC,16,1,close,2016-05-06,\n", "line 2, column fiscal_year: expected a fiscal year"),
    ("ASC,2016,17,close,2016-05-06,\n", "line 2, column period: expected a whole number from 1 to 16; found '17'"),
    ("ASC,2016,1,shut,2016-05-06,\n", "line 2, column action: expected one of close, reopen; found 'shut'"),
    ("ASC,2016,1,close,06/05/2016,\n", "line 2, column closed_on: expected a date as YYYY-MM-DD; found '06/05/2016'"),
    ("ASC,2016,1,close,2016-05-06,\n\nASC,2016,1,close,2016-05-06,again\n",
     "line 4, column closed_on: expected each event once (line 2 already records this close)"),
])
def test_bad_period_closes_are_refused_naming_the_line(tmp_path, rows, message):
    seeds = write_seeds(tmp_path / "seeds", closes=rows)
    with pytest.raises(FinanceSeedError) as caught:
        read_period_closes(seeds, {"ASC", "WP"})
    assert "period_closes.csv " + message in str(caught.value)
