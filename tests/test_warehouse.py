"""The warehouse on both dialects: schema, mapping, loading, superseding, atomicity, restatement, locks.

Batches are built in code from the contract (ledger.Batch with CONFORMED_SCHEMA lines); every test
runs against the embedded SQLite file and a throwaway PostgreSQL database (conftest ``warehouse_url``).
The builders are tests/warehouse_batches.py's.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from alliance_finance.core.errors import ConcurrentRunError
from alliance_finance.core.ledger import QuarantinedLine
from alliance_finance.core.paths import REFERENCE_DIR
from alliance_finance.config.reference import load_reference
from alliance_finance.warehouse import locks, mapping, migrate
from alliance_finance.warehouse.engine import make_engine
from alliance_finance.warehouse.load import BatchLoader, load_batch

# the shared builders live in warehouse_batches.py
from warehouse_batches import (
    asc_batch, balanced_document, batches, codes, fact_checksum, line, lock_held_by_another_run, query,
    ready_warehouse, wp_batch,
)


@pytest.fixture
def engine(warehouse_url):
    engine = ready_warehouse(warehouse_url)
    yield engine
    engine.dispose()


# -- schema -----------------------------------------------------------------------------------------


def test_upgrade_builds_every_relation_and_a_second_upgrade_changes_nothing(warehouse_url):
    assert migrate.upgrade(warehouse_url) == migrate.head_revision()
    engine = make_engine(warehouse_url)
    names = set(sa.inspect(engine).get_table_names(schema="alliance" if "postgresql" in warehouse_url else None))
    assert {"dim_force", "dim_objective", "dim_subjective", "dim_fiscal_period", "map_cost_centre",
            "map_local_account", "etl_batch", "fact_ledger_line", "quarantine_line",
            "source_document_loaded", "warehouse_meta"} <= names
    assert query(engine, "SELECT COUNT(*), MIN(fiscal_year), MAX(fiscal_year), MAX(period) FROM dim_fiscal_period") \
        == [(26 * 16, 2010, 2035, 16)]
    assert query(engine, "SELECT label FROM dim_fiscal_period WHERE fiscal_year = 2016 AND period = 13") \
        == [("2016/17 P13 (year-end adjustment)",)]
    digest = query(engine, "SELECT meta_value FROM warehouse_meta WHERE meta_key = 'views_digest'")
    with engine.connect() as conn:
        created = migrate._existing_views(conn)
    assert migrate.upgrade(warehouse_url) == migrate.head_revision()
    # nothing was dropped and recreated the second time
    assert query(engine, "SELECT meta_value FROM warehouse_meta WHERE meta_key = 'views_digest'") == digest
    with engine.connect() as conn:
        assert migrate._existing_views(conn) == created
    assert {"v_unmapped_codes"} <= {name for name, _ in created}
    engine.dispose()


def test_view_files_come_in_dependency_order():
    order = [p.stem for p in migrate.view_files()]
    for path in migrate.view_files():
        text = migrate._strip_comments(path.read_text(encoding="utf-8"))
        for other in order:
            if other != path.stem and f" {other}" in text:
                assert order.index(other) < order.index(path.stem), f"{path.stem} needs {other} first"


def test_reference_seeding_fills_dimensions_maps_and_suspense_rows(engine):
    objectives = dict(query(engine, "SELECT objective_code, alliance_scope FROM dim_objective"))
    kinds = dict(query(engine, "SELECT subjective_code, kind FROM dim_subjective"))
    assert objectives["UNMAPPED"] == "unmapped" and objectives["BS00"] == "none"
    assert kinds["UNMAPPED"] == "suspense" and kinds["BS"] == "balance_sheet"
    assert query(engine, "SELECT objective_code, valid_from_fy, valid_to_fy FROM map_cost_centre "
                         "WHERE force_code = 'ASC' AND cost_centre = 'AS230700' ORDER BY valid_to_fy") \
        in ([("OS06", None, 2015), ("OS04", 2016, None)], [("OS04", 2016, None), ("OS06", None, 2015)])
    again = mapping.sync_reference(engine)
    assert not again.changed


def test_contradictory_reference_data_is_refused_naming_file_and_code(tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    with (reference / "avon_somerset_cost_centres.csv").open("a", encoding="utf-8") as f:
        f.write("AS230700,Firearms and Tactical Support,OS05,2017,2018\n")
    with pytest.raises(mapping.ReferenceDataError, match=r"avon_somerset_cost_centres.csv: cost centre AS230700 "
                                                         r"has overlapping mappings"):
        mapping.check_reference(load_reference(reference))


# -- mapping ----------------------------------------------------------------------------------------


def test_mapping_effective_dating_balance_sheet_and_suspense(engine):
    rows = [
        # AS230700 is OS06 up to FY 2015 and OS04 from FY 2016 (a restructure)
        line("ASC1/2015/1/1", "504100", "AS230700", 1_000, fiscal_year=2015, period=13, posting_date=dt.date(2016, 3, 31)),
        line("ASC1/2016/2/1", "504100", "AS230700", 2_000),
        # a balance-sheet account takes BS00 whatever its cost centre, blank or not
        line("ASC1/2016/2/2", "200100", None, -2_000),
        line("ASC1/2015/1/2", "200100", "AS230700", -1_000, fiscal_year=2015, period=13, posting_date=dt.date(2016, 3, 31)),
        # AS310100 opens in FY 2015: before that it is not mapped
        line("ASC1/2014/3/1", "504100", "AS310100", 7, fiscal_year=2014, period=5, posting_date=dt.date(2014, 8, 1)),
        # an account nobody has mapped yet: subjective suspense; its cost centre still maps
        line("ASC1/2014/3/2", "999999", "AS100010", -7, fiscal_year=2014, period=5, posting_date=dt.date(2014, 8, 1)),
        # a cost centre nobody has mapped yet, on a mapped account
        line("ASC1/2016/4/1", "504100", "AS999999", 12_345, posting_date=dt.date(2016, 4, 6)),
        line("ASC1/2016/4/2", "504100", "AS999999", -345, posting_date=dt.date(2016, 4, 9)),
        line("ASC1/2016/4/3", "200100", None, -12_000),
    ]
    outcome = load_batch(engine, asc_batch(rows))
    assert outcome.loaded, outcome.error
    emp_oth = "EMP_OTH"
    got = codes(engine)
    assert got["ASC1/2015/1/1"] == ("OS06", emp_oth)
    assert got["ASC1/2016/2/1"] == ("OS04", emp_oth)
    assert got["ASC1/2016/2/2"] == ("BS00", "BS")
    assert got["ASC1/2015/1/2"] == ("BS00", "BS")
    assert got["ASC1/2014/3/1"] == ("UNMAPPED", emp_oth)
    assert got["ASC1/2014/3/2"] == ("LP01", "UNMAPPED")
    assert got["ASC1/2016/4/1"] == ("UNMAPPED", emp_oth)
    unmapped = {(r[0], r[1], r[2]): r[3:] for r in query(
        engine, "SELECT force_code, code_type, local_code, first_posting_date, last_posting_date, line_count, "
                "amount_pence, amount FROM v_unmapped_codes")}
    as_text = lambda r: tuple(str(v) for v in r)  # noqa: E731 - dates and exact amounts, either dialect
    assert set(unmapped) == {("ASC", "account", "999999"), ("ASC", "cost_centre", "AS999999"),
                             ("ASC", "cost_centre", "AS310100")}
    assert as_text(unmapped[("ASC", "cost_centre", "AS999999")]) == ("2016-04-06", "2016-04-09", "2", "12000", "120.00")
    assert as_text(unmapped[("ASC", "account", "999999")]) == ("2014-08-01", "2014-08-01", "1", "-7", "-0.07")


# -- loading ----------------------------------------------------------------------------------------


def test_a_batch_loads_to_the_penny_with_its_etl_batch_row(engine):
    rows = (balanced_document("ASC1/2016/1000000001", 1_234_567_89)
            + balanced_document("ASC1/2016/1000000002", 5)
            + balanced_document("ASC1/2016/1000000003", 99_999_999_999_99))  # £99,999,999,999.99
    outcome = load_batch(engine, asc_batch(rows))
    assert (outcome.status, outcome.rows_loaded, outcome.debit_pence, outcome.credit_pence) == \
        ("loaded", 6, 1_234_567_89 + 5 + 99_999_999_999_99, 1_234_567_89 + 5 + 99_999_999_999_99)
    amounts = dict(query(engine, "SELECT source_line_ref, amount FROM fact_ledger_line"))
    # exact on both dialects: numeric(15,2) in PostgreSQL, exact decimal text in SQLite
    assert Decimal(str(amounts["ASC1/2016/1000000003/1"])) == Decimal("99999999999.99")
    assert Decimal(str(amounts["ASC1/2016/1000000002/2"])) == Decimal("-0.05")
    assert query(engine, "SELECT SUM(amount_pence), COUNT(*) FROM fact_ledger_line") == [(0, 6)]
    [(status, rows_read, rows_loaded, quarantined, debit, credit, debit_pence, first, last)] = query(
        engine, "SELECT status, rows_read, rows_loaded, rows_quarantined, total_debit, total_credit, "
                "total_debit_pence, first_posting_date, last_posting_date FROM etl_batch")
    assert (status, rows_read, rows_loaded, quarantined) == ("loaded", 6, 6, 0)
    assert Decimal(str(debit)) == Decimal(str(credit)) == Decimal("100001234567.93")
    assert debit_pence == 100001234567_93 and str(first) == str(last) == "2016-04-05"
    # the line's text, commas and quotes included, arrives unchanged (COPY's CSV on PostgreSQL)
    assert query(engine, "SELECT DISTINCT line_text FROM fact_ledger_line") == [('stationery, "best" quality',)]


def test_a_rejected_batch_writes_only_its_etl_batch_row(engine):
    batch = asc_batch(balanced_document("ASC1/2016/1", 100), error="ASC_GL_20160405_001.csv: line 3: expected "
                                                                   "D/C S or H, found X")
    outcome = load_batch(engine, batch)
    assert outcome.status == "rejected"
    assert batches(engine) == [(outcome.batch_id, "ASC_GL_20160405_001.csv", "rejected", None, 2, 0, 0,
                                "ASC_GL_20160405_001.csv: line 3: expected D/C S or H, found X")]
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line") == [(0,)]
    assert query(engine, "SELECT COUNT(*) FROM quarantine_line") == [(0,)]


def test_a_batch_whose_rows_do_not_add_up_is_rejected_rather_than_losing_a_line(engine):
    batch = asc_batch(balanced_document("ASC1/2016/1", 100))
    batch.rows_read = 3
    outcome = load_batch(engine, batch)
    assert outcome.status == "rejected" and "3 rows read, but 2 to load + 0 quarantined" in outcome.error
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line") == [(0,)]


def test_redelivery_supersedes_the_earlier_delivery_in_the_same_transaction(engine):
    first = balanced_document("ASC1/2016/1", 100) + balanced_document("ASC1/2016/2", 200)
    second = balanced_document("ASC1/2016/1", 150)  # document 2 was wrong: it must leave
    other_day = balanced_document("ASC1/2016/9", 900, posting_date=dt.date(2016, 4, 6))
    with BatchLoader(engine) as loader:
        one = loader.load(asc_batch(first))
        loader.load(asc_batch(other_day, day=dt.date(2016, 4, 6)))
        two = loader.load(asc_batch(second, sequence=2))
    assert two.loaded and two.superseded == ["ASC_GL_20160405_001.csv"]
    assert sorted(codes(engine)) == ["ASC1/2016/1/1", "ASC1/2016/1/2", "ASC1/2016/9/1", "ASC1/2016/9/2"]
    assert query(engine, "SELECT amount_pence FROM fact_ledger_line WHERE source_line_ref = 'ASC1/2016/1/1'") == [(150,)]
    rows = {r[1]: r for r in batches(engine)}
    assert rows["ASC_GL_20160405_001.csv"][2:4] == ("superseded", two.batch_id)
    assert rows["ASC_GL_20160405_002.csv"][2] == "loaded"
    assert rows["ASC_GL_20160406_001.csv"][2] == "loaded"
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE batch_id = :b", b=one.batch_id) == [(0,)]


def test_a_redelivery_with_a_lower_sequence_is_rejected_with_its_reason(engine):
    load_batch(engine, asc_batch(balanced_document("ASC1/2016/1", 150), sequence=2))
    before = fact_checksum(engine)
    late = load_batch(engine, asc_batch(balanced_document("ASC1/2016/1", 100), sequence=1))
    assert late.status == "rejected"
    assert late.error == ("ASC_GL_20160405_001.csv: sequence 001 is lower than ASC_GL_20160405_002.csv "
                          "(sequence 002) already loaded for business date 2016-04-05: a re-delivery must "
                          "carry a higher sequence; this file is not loaded")
    assert fact_checksum(engine) == before


def test_a_line_already_loaded_from_another_delivery_rejects_the_whole_batch(engine):
    load_batch(engine, asc_batch(balanced_document("ASC1/2016/1", 100)))
    before = fact_checksum(engine)
    # the duplicate is the *last* line: the rest of the batch was inserted before the clash
    clash = balanced_document("ASC1/2016/7", 700, posting_date=dt.date(2016, 4, 6)) + \
        [line("ASC1/2016/1/2", "200100", None, -1, number=17)]
    clash[1]["amount_pence"] += 1
    outcome = load_batch(engine, asc_batch(clash, day=dt.date(2016, 4, 6)))
    assert outcome.status == "rejected"
    assert "ASC1/2016/1/2 (line 17) from ASC_GL_20160405_001.csv" in outcome.error
    assert "rejected whole" in outcome.error
    assert fact_checksum(engine) == before
    assert [r[2] for r in batches(engine)] == ["loaded", "rejected"]


def test_a_failure_mid_load_leaves_nothing_of_the_batch(engine, monkeypatch):
    load_batch(engine, asc_batch(balanced_document("ASC1/2016/1", 100)))
    before = (fact_checksum(engine), batches(engine))

    def fail_after_the_lines_are_in(self, batch, batch_id):
        assert query(engine, "SELECT 1") == [(1,)]
        raise RuntimeError("disk full")

    monkeypatch.setattr(BatchLoader, "_insert_quarantine", fail_after_the_lines_are_in)
    with pytest.raises(RuntimeError, match="disk full"):
        load_batch(engine, asc_batch(balanced_document("ASC1/2016/2", 5), day=dt.date(2016, 4, 6)))
    assert (fact_checksum(engine), batches(engine)) == before


def test_wp_journals_are_recorded_with_their_lines_and_never_load_twice(engine):
    good = [line("101/1", "42000", "2200", 5_00, force="WP", number=1),
            line("101/2", "21000", "0000", -5_00, force="WP", number=2)]
    bad = [QuarantinedLine("102/1", "102", 1, "journal 102: debits 10.00 and credits 9.00 differ", '{"line_no": 1}'),
           QuarantinedLine("102/2", "102", 2, "journal 102: debits 10.00 and credits 9.00 differ", '{"line_no": 2}')]
    outcome = load_batch(engine, wp_batch(good, [101, 102], quarantine=bad))
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (2, 2)
    assert sorted(query(engine, "SELECT document_ref FROM source_document_loaded")) == [("101",), ("102",)]
    assert query(engine, "SELECT source_line_ref, reason FROM quarantine_line ORDER BY source_line_ref")[0] == \
        ("102/1", "journal 102: debits 10.00 and credits 9.00 differ")
    assert codes(engine) == {"101/1": ("DWP02", query(engine, "SELECT subjective_code FROM map_local_account "
                                                              "WHERE force_code = 'WP' AND local_account = '42000'")[0][0]),
                             "101/2": ("BS00", "BS")}
    [(posted_through,)] = query(engine, "SELECT posted_through FROM etl_batch")
    assert str(posted_through).replace("T", " ").startswith("2016-04-30 18:00")
    before = fact_checksum(engine)
    again = load_batch(engine, wp_batch([], [102], label="FY2016 P01 again"))
    assert again.status == "rejected" and "journal 102 by WP ERP gl_journal FY2016 P01" in again.error
    assert fact_checksum(engine) == before


def test_loading_night_by_night_equals_loading_in_one_pass(warehouse_url, tmp_path):
    nights = [
        [asc_batch(balanced_document("ASC1/2016/1", 100) + balanced_document("ASC1/2016/2", 200))],
        [asc_batch(balanced_document("ASC1/2016/3", 300, posting_date=dt.date(2016, 4, 6)), day=dt.date(2016, 4, 6)),
         asc_batch(balanced_document("ASC1/2016/1", 110), sequence=2)],
        [asc_batch(balanced_document("ASC1/2016/4", 400, posting_date=dt.date(2016, 4, 7)), day=dt.date(2016, 4, 7))],
    ]
    nightly = ready_warehouse(warehouse_url)
    for night in nights:
        with BatchLoader(nightly) as loader:
            for batch in night:
                assert loader.load(batch).loaded
    one_pass = ready_warehouse(f"sqlite:///{tmp_path / 'one_pass.db'}")
    with BatchLoader(one_pass) as loader:
        for batch in [b for night in nights for b in night]:
            assert loader.load(batch).loaded
    assert fact_checksum(nightly) == fact_checksum(one_pass)
    assert fact_checksum(nightly)[:2] == (6, 0)
    nightly.dispose()
    one_pass.dispose()


# -- reference data changes --------------------------------------------------------------------------


def test_reference_change_restates_history_without_rereading_sources(warehouse_url, tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    engine = ready_warehouse(warehouse_url, reference)
    rows = [
        line("ASC1/2016/1/1", "504100", "AS777777", 100),       # cost centre not mapped yet
        line("ASC1/2016/1/2", "200100", None, -100),
        line("ASC1/2016/2/1", "504100", "AS230700", 250),       # FY 2016: OS04 after the restructure
        line("ASC1/2016/2/2", "777777", "AS100010", -250),      # account not mapped yet
    ]
    load_batch(engine, asc_batch(rows))
    before = codes(engine)
    assert before["ASC1/2016/1/1"][0] == "UNMAPPED" and before["ASC1/2016/2/2"] == ("LP01", "UNMAPPED")
    assert before["ASC1/2016/2/1"][0] == "OS04"
    assert len(query(engine, "SELECT * FROM v_unmapped_codes")) == 2

    # finance maps the new codes, and corrects the restructure: it took effect a year later
    with (reference / "avon_somerset_cost_centres.csv").open("a", encoding="utf-8") as f:
        f.write("AS777777,New Neighbourhood Team,LP01,2016,\n")
    with (reference / "avon_somerset_gl_accounts.csv").open("a", encoding="utf-8") as f:
        f.write("777777,New Income Stream,INC_OTH\n")
    text = (reference / "avon_somerset_cost_centres.csv").read_text(encoding="utf-8")
    text = text.replace("AS230700,Firearms and Tactical Support,OS06,,2015",
                        "AS230700,Firearms and Tactical Support,OS06,,2016")
    text = text.replace("AS230700,Firearms and Tactical Support,OS04,2016,",
                        "AS230700,Firearms and Tactical Support,OS04,2017,")
    (reference / "avon_somerset_cost_centres.csv").write_text(text, encoding="utf-8")

    sync = mapping.sync_reference(engine, reference)
    assert sync.changed and sync.lines_restated == 3
    after = codes(engine)
    assert after["ASC1/2016/1/1"][0] == "LP01"
    assert after["ASC1/2016/2/2"] == ("LP01", "INC_OTH")
    assert after["ASC1/2016/2/1"][0] == "OS06"
    assert after["ASC1/2016/1/2"] == before["ASC1/2016/1/2"]
    assert query(engine, "SELECT * FROM v_unmapped_codes") == []
    # money never moves, only its codes
    assert query(engine, "SELECT SUM(amount_pence), COUNT(*) FROM fact_ledger_line") == [(0, 4)]
    assert not mapping.sync_reference(engine, reference).changed
    engine.dispose()


# -- one run per force at a time -----------------------------------------------------------------------


def test_a_second_run_for_the_same_force_is_refused_while_the_first_holds_the_lock(engine):
    with lock_held_by_another_run(engine, "ASC"):
        with pytest.raises(ConcurrentRunError, match=r"another run for ASC holds the load lock since 20\d\d-"):
            with locks.force_load_lock(engine, "ASC", wait_seconds=0.3, poll_seconds=0.05):
                pass
        # another force is not held up
        with locks.force_load_lock(engine, "WP", wait_seconds=0.3):
            pass
    # once released, the next run gets it
    with locks.force_load_lock(engine, "ASC", wait_seconds=0.3):
        pass


def test_two_loaders_racing_on_one_delivery_load_it_once(engine):
    # belt and braces beyond the lock: the unique delivery index lets only one commit
    results = []
    barrier = threading.Barrier(2)

    def racer():
        barrier.wait()
        results.append(load_batch(engine, asc_batch(balanced_document("ASC1/2016/1", 100))))

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == ["loaded", "rejected"]
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line") == [(2,)]
