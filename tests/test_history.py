"""History kept and the warehouse as of any moment (issue #16), on SQLite and PostgreSQL.

A hand-built ledger goes through the real loader; the board's figures are read; then a re-delivery,
a late journal, a reference change that restates a code and a change of the sharing key follow. The
figures as of the first moment must equal the first reading exactly, those as of now the current
reading, and nothing the warehouse held is lost.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time

import pytest
import sqlalchemy as sa

from alliance_finance import cli
from alliance_finance.core.paths import PROJECT_ROOT
from alliance_finance.marts.changes import changes_since
from alliance_finance.marts import as_of, packs
from alliance_finance.marts.figures import read_board_figures
from alliance_finance.marts.seeds import sync_finance_seeds
from alliance_finance.report import build_report
from alliance_finance.warehouse import history, mapping
from alliance_finance.warehouse.load import BatchLoader
from alliance_finance.warehouse.meta import utcnow
from warehouse_batches import asc_batch, balanced_document, line, query, ready_warehouse, wp_batch, write_seeds

BASELINE_DAY = dt.date(2014, 6, 10)
DAY = dt.date(2016, 6, 10)
NEXT_DAY = dt.date(2016, 6, 11)


def _moment() -> dt.datetime:
    """A moment strictly between two changes (the clock moves on before and after it)."""
    time.sleep(0.01)
    moment = utcnow()
    time.sleep(0.01)
    return moment


@pytest.fixture
def history_warehouse(warehouse_url, tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(PROJECT_ROOT / "reference", reference)
    seeds = write_seeds(tmp_path / "seeds")
    engine = ready_warehouse(warehouse_url, reference)
    with engine.begin() as conn:
        sync_finance_seeds(conn, seeds)
    yield engine, reference, seeds
    engine.dispose()


def _first_night(engine) -> None:
    baseline = [line("ASC1/2014/1/1", "504100", "AS300200", 500_000_00, fiscal_year=2014, period=3,
                     posting_date=BASELINE_DAY),
                line("ASC1/2014/1/2", "200100", None, -500_000_00, fiscal_year=2014, period=3,
                     posting_date=BASELINE_DAY),
                line("7/1", "42000", "7100", 300_000_00, force="WP", fiscal_year=2014, period=3,
                     posting_date=BASELINE_DAY, number=1)]
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(baseline[:2], day=BASELINE_DAY)).loaded
        assert loader.load(wp_batch(baseline[2:], [7], label="FY2014 P03")).loaded
        assert loader.load(asc_batch(
            balanced_document("ASC1/2016/1", 123_456_78, cost_centre="AS310100", fiscal_year=2016, period=3,
                              posting_date=DAY), day=DAY)).loaded
        assert loader.load(asc_batch(
            balanced_document("ASC1/2016/2", 20_000_00, cost_centre="AS399999", fiscal_year=2016, period=3,
                              posting_date=NEXT_DAY), day=NEXT_DAY)).loaded
        assert loader.load(wp_batch([line("8/1", "42000", "7100", 250_000_00, force="WP", fiscal_year=2016,
                                          period=3, posting_date=DAY, number=1)], [8], label="FY2016 P03")).loaded


def _changes(engine, reference, seeds) -> None:
    """A re-delivery, a late journal, a mapping that restates a code, a new sharing key."""
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(
            balanced_document("ASC1/2016/1", 100_000_00, cost_centre="AS310100", fiscal_year=2016, period=3,
                              posting_date=DAY), day=DAY, sequence=2)).loaded
        assert loader.load(wp_batch([line("9/1", "42000", "7100", 7_00, force="WP", fiscal_year=2016,
                                          period=3, posting_date=DAY, number=1)], [9], label="FY2016 P03 late")).loaded
    with (reference / "avon_somerset_cost_centres.csv").open("a", encoding="utf-8") as f:
        f.write("AS399999,Alliance Change Office,SF09,2016,\n")
    assert mapping.sync_reference(engine, reference).lines_restated == 1
    (seeds / "sharing_key.csv").write_text(
        "valid_from_fy,force_code,weight,basis\n2015,ASC,60,headcount\n2015,WP,40,headcount\n", encoding="utf-8")
    with engine.begin() as conn:
        assert sync_finance_seeds(conn, seeds)


def test_figures_as_of_a_moment_are_those_read_at_that_moment(history_warehouse):
    engine, reference, seeds = history_warehouse
    _first_night(engine)
    first = read_board_figures(engine)
    moment = _moment()
    _changes(engine, reference, seeds)
    now = read_board_figures(engine)
    assert now != first
    savings = {(r["fiscal_year"], r["force_code"]): r["nre"] for r in now.savings("ASC", "alliance")}
    assert savings  # the re-delivery and the restatement moved ASC's alliance NRE
    assert read_board_figures(engine, as_of=moment) == first
    assert read_board_figures(engine, as_of=_moment()) == now


def test_nothing_is_lost_and_the_current_tables_keep_their_meaning(history_warehouse):
    engine, reference, seeds = history_warehouse
    _first_night(engine)
    _changes(engine, reference, seeds)
    # the superseded delivery's four lines are kept, with the batch and moment that superseded them
    kept = query(engine, "SELECT s.source_line_ref, s.amount_pence, b.source_ref FROM fact_ledger_line_superseded AS s "
                         "JOIN etl_batch AS b ON b.batch_id = s.superseded_by ORDER BY 1")
    assert [(ref, pence) for ref, pence, _ in kept] == [
        ("ASC1/2016/1/1", 123_456_78), ("ASC1/2016/1/2", -123_456_78)]
    assert {by for _, _, by in kept} == {"ASC_GL_20160610_002.csv"}
    # the current table holds only current lines
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE source_line_ref LIKE 'ASC1/2016/%'") == [(4,)]
    # the restated line's old code is kept
    assert query(engine, "SELECT source_line_ref, objective_code FROM fact_line_code_history") == \
        [("ASC1/2016/2/1", "UNMAPPED")]
    assert query(engine, "SELECT objective_code FROM fact_ledger_line WHERE source_line_ref = 'ASC1/2016/2/1'") == \
        [("SF09",)]
    # every version of finance's data and the reference data, each closed when the next came
    versions = query(engine, "SELECT dataset, valid_to IS NULL FROM data_version ORDER BY version_id")
    assert [d for d, current in versions if current] == ["forces", "reference", "finance"] or \
        sorted(d for d, current in versions if current) == ["finance", "forces", "reference"]
    assert sum(1 for d, _ in versions if d == "finance") >= 2
    assert sum(1 for d, _ in versions if d == "reference") >= 2


def test_a_moment_before_the_history_starts_is_refused(history_warehouse):
    engine, _, _ = history_warehouse
    with pytest.raises(history.HistoryError, match="history starts"):
        read_board_figures(engine, as_of=dt.datetime(2001, 1, 1))


def test_as_of_leaves_the_warehouse_as_it_was(history_warehouse):
    engine, reference, seeds = history_warehouse
    _first_night(engine)
    moment = _moment()
    _changes(engine, reference, seeds)
    before = query(engine, "SELECT COUNT(*), SUM(amount_pence) FROM fact_ledger_line")
    with as_of.connection_as_of(engine, moment) as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM fact_ledger_line")).scalar() == 8
    assert query(engine, "SELECT COUNT(*), SUM(amount_pence) FROM fact_ledger_line") == before
    # the pool's next connection sees the warehouse's own relations again
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM fact_ledger_line")).scalar() == before[0][0]


def test_parse_moment():
    assert as_of.parse_moment("2016-10-31") == dt.datetime(2016, 10, 31, 23, 59, 59, 999999)
    assert as_of.parse_moment("2016-10-31T18:00:00Z") == dt.datetime(2016, 10, 31, 18)
    assert as_of.parse_moment("2016-10-31T19:00:00+01:00") == dt.datetime(2016, 10, 31, 18)
    with pytest.raises(ValueError, match="not a date"):
        as_of.parse_moment("last tuesday")


# --------------------------------------------------------------------------------------------
# Board packs and what changed since
# --------------------------------------------------------------------------------------------


def test_a_board_pack_is_reproduced_and_every_change_since_is_listed_with_its_money(history_warehouse, tmp_path):
    engine, reference, seeds = history_warehouse
    _first_night(engine)
    october = build_report(engine, tmp_path / "october")
    assert october.pack.pack_id == 1
    assert "Board pack 1" in october.html.read_text(encoding="utf-8")
    # a rerun on the unchanged warehouse is the same pack, page and workbook
    again = build_report(engine, tmp_path / "again")
    assert again.pack.pack_id == 1
    assert (tmp_path / "again" / "index.html").read_bytes() == october.html.read_bytes()

    _changes(engine, reference, seeds)
    december = build_report(engine, tmp_path / "december")
    assert december.pack.pack_id == 2 and december.pack.figures_digest != october.pack.figures_digest

    # the October pack, rebuilt in December, to the penny
    rebuilt = build_report(engine, tmp_path / "rebuilt", pack=1)
    assert rebuilt.differences == ()
    assert rebuilt.pack.figures_digest == october.pack.figures_digest
    assert (tmp_path / "rebuilt" / "index.html").read_bytes() == october.html.read_bytes()
    # and by --as-of its moment
    by_moment = build_report(engine, tmp_path / "by_moment", as_of=october.pack.as_at, record_pack=False)
    assert by_moment.pack.figures_digest == october.pack.figures_digest

    found = changes_since(engine, 1)
    kinds = {(b["source_ref"], b["kind"]) for b in found.batches}
    assert ("ASC_GL_20160610_002.csv", "re-delivery") in kinds
    assert ("WP ERP gl_journal FY2016 P03 late", "new ledger") in kinds
    redelivery = next(b for b in found.batches if b["kind"] == "re-delivery")
    assert (redelivery["lines_in"], redelivery["lines_out"]) == (2, 2)
    # NRE: the re-delivered document is 23,456.78 less; the late journal 7.00 more
    assert redelivery["nre_change_pence"] == -23_456_78
    assert [(r["from_objective"], r["to_objective"], r["lines"], r["amount_pence"]) for r in found.restatements] == \
        [("UNMAPPED", "SF09", 1, 20_000_00)]
    assert {v["dataset"] for v in found.data_versions} == {"reference", "finance"}
    finance = next(v for v in found.data_versions if v["dataset"] == "finance")
    assert len(finance["changes"]["sharing_key"]["added"]) == 2
    # the current figures differ from the pack's by exactly the changes listed
    assert found.reconciliation and all(r["unexplained_pence"] == 0 for r in found.reconciliation)
    moved = {(r["fiscal_year"], r["force_code"], r["alliance_scope"]): r for r in found.reconciliation}
    assert moved[(2016, "ASC", "alliance")]["difference_pence"] == -23_456_78 + 20_000_00
    assert moved[(2016, "ASC", "unmapped")]["difference_pence"] == -20_000_00
    assert moved[(2016, "WP", "alliance")]["difference_pence"] == 7_00
    assert any(f["view"] == "v_cost_share" for f in found.figures)


def test_the_commands(history_warehouse, tmp_path, capsys):
    engine, reference, seeds = history_warehouse
    url = engine.url.render_as_string(hide_password=False)
    _first_night(engine)
    assert cli.main(["report", "--warehouse", url, "--out", str(tmp_path / "r1")]) == 0
    _changes(engine, reference, seeds)
    capsys.readouterr()
    assert cli.main(["report", "--warehouse", url, "--out", str(tmp_path / "r2"), "--pack", "1"]) == 0
    assert "Board pack 1 reproduced" in capsys.readouterr().out
    assert cli.main(["changes", "--warehouse", url, "--since-pack", "1", "--out", str(tmp_path / "c.xlsx")]) == 0
    out = capsys.readouterr().out
    assert "ASC_GL_20160610_002.csv (re-delivery" in out and "UNMAPPED/" in out
    assert (tmp_path / "c.xlsx").stat().st_size > 0
    assert cli.main(["changes", "--warehouse", url, "--since-pack", "1", "--out", str(tmp_path / "c.csv")]) == 0
    assert "section" in (tmp_path / "c.csv").read_text(encoding="utf-8").splitlines()[0]
    # a figure of the pack drilled down to its lines as of the pack's moment: the superseded delivery's
    explain = ["explain", "--warehouse", url, "--view", "v_savings_tracker", "--measure", "nre",
               "--fiscal-year", "2016", "--force", "ASC", "--scope", "alliance"]
    moment = packs.load(engine, 1).stamp.as_at.isoformat()
    assert cli.main([*explain, "--out", str(tmp_path / "then.csv"), "--as-of", moment + "Z"]) == 0
    assert "figure (the view):  123,456.78" in capsys.readouterr().out
    assert cli.main([*explain, "--out", str(tmp_path / "now.csv")]) == 0
    assert "figure (the view):  120,000.00" in capsys.readouterr().out  # re-delivered, and the restated line
    # a pack whose recorded figures were altered is not reproduced
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE board_pack SET figures_digest = 'x' WHERE pack_id = 1"))
    assert cli.main(["report", "--warehouse", url, "--out", str(tmp_path / "r3"), "--pack", "1"]) == 1
    assert "NOT reproduced" in capsys.readouterr().err
    assert cli.main(["report", "--warehouse", url, "--out", str(tmp_path / "r4"), "--pack", "99"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["report", "--warehouse", url, "--out", str(tmp_path / "r5"), "--as-of", "2001-01-01"]) == 1
    assert "history starts" in capsys.readouterr().err


def test_a_pooled_connection_with_prepared_statements_still_reads_the_moment(history_warehouse):
    """psycopg prepares a statement a connection runs often; a prepared statement keeps the table it
    was planned on, so a pooled connection must not read the warehouse's own table as of a moment."""
    engine, reference, seeds = history_warehouse
    _first_night(engine)
    moment = _moment()
    _changes(engine, reference, seeds)
    with engine.connect() as conn:
        for _ in range(8):  # past psycopg's prepare_threshold (5)
            now = conn.execute(sa.text("SELECT COUNT(*), SUM(amount_pence) FROM fact_ledger_line")).one()
            conn.execute(sa.text("SELECT COUNT(*) FROM savings_target")).scalar()
            conn.commit()
    with as_of.connection_as_of(engine, moment) as conn:
        then = conn.execute(sa.text("SELECT COUNT(*), SUM(amount_pence) FROM fact_ledger_line")).one()
    assert then != now and then[0] == 8
    assert read_board_figures(engine, as_of=moment) == read_board_figures(engine, as_of=moment)


def test_a_pack_taken_before_a_view_was_added_is_checked_on_the_figures_it_holds(history_warehouse, tmp_path):
    """A pack recorded by an earlier release holds no figures of a view added since (v_settlement):
    it is reproduced on the figures it holds, and still fails on any of those that moved."""
    engine, _, _ = history_warehouse
    _first_night(engine)
    taken = build_report(engine, tmp_path / "taken")
    document = packs.figures_document(read_board_figures(engine))
    del document["views"]["v_settlement"]
    digest = packs.document_digest(document)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE board_pack SET figures_json = :f, figures_digest = :d WHERE pack_id = :id"),
                     {"f": packs._pack_text(document), "d": digest, "id": taken.pack.pack_id})
    assert build_report(engine, tmp_path / "again", pack=taken.pack.pack_id).differences == ()
    document["views"]["v_cost_share"][0]["incurred_pence"] += 1
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE board_pack SET figures_json = :f, figures_digest = :d WHERE pack_id = :id"),
                     {"f": packs._pack_text(document), "d": packs.document_digest(document),
                      "id": taken.pack.pack_id})
    assert any("v_cost_share" in d for d in build_report(engine, tmp_path / "moved", pack=taken.pack.pack_id).differences)
