"""One pipeline pass, through the real readers, into both warehouse dialects.

Sources are built in code from the contract (asc_fixtures, wp_fixtures). The behaviour tested here
(what is new, what is refused, superseding, exit codes, locks) does not depend on Great
Expectations, so these runs pass ``ReadersOnly`` (the readers' own checks) as the validator to stay
fast; test_pipeline_end_to_end.py runs the real validator on generated sources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from alliance_finance.config.settings import Settings
from alliance_finance.runner import pipeline, validators
from alliance_finance.runner.command import run_cli
from alliance_finance.runner.prepare import prepare_warehouse
from alliance_finance.core.errors import ConcurrentRunError
from alliance_finance.sources.base import batch_groups, delivery_groups
from alliance_finance.warehouse.engine import make_engine
import asc_fixtures as asc
from asc_fixtures import asc_document
import wp_fixtures as wp
from warehouse_batches import batches, fact_checksum, lock_held_by_another_run, query

APRIL_5, APRIL_6 = dt.date(2016, 4, 5), dt.date(2016, 4, 6)


class ReadersOnly:
    """A validator that adds nothing to the readers' checks (see the module docstring)."""

    def validate(self, batches):
        return [None for _ in batches]


@pytest.fixture
def sources(tmp_path) -> Path:
    """Two ASC business days and a Wiltshire ERP database with three posted journals and one parked."""
    root = tmp_path / "sources"
    inbound = root / "avon_somerset" / "inbound"
    asc.write_delivery(inbound, asc_document("1000000001", "1,234.56", APRIL_5), business_date=APRIL_5)
    asc.write_delivery(inbound, asc_document("1000000002", "0.07", APRIL_6)
                       + asc_document("1000000003", "99.99", APRIL_6), business_date=APRIL_6)
    (root / "wiltshire").mkdir()
    url = wp.create_erp_database(f"sqlite:///{root / 'wiltshire' / 'erp.db'}")
    wp.insert_journals(url, [
        wp.invoice(101, "APR-16", APRIL_5, "500.00"),
        wp.invoice(102, "APR-16", APRIL_6, "0.01"),
        wp.invoice(103, "MAY-16", dt.date(2016, 5, 3), "25.50"),
        wp.invoice(104, "MAY-16", dt.date(2016, 5, 4), "10.00", status="U"),
    ])
    return root


def run(force: str, sources: Path, warehouse_url: str, **kw):
    return pipeline.run_force(force, sources=sources, warehouse_url=warehouse_url, validator=ReadersOnly(), **kw)


@pytest.fixture
def readers_only(monkeypatch):
    """run_cli builds its own validator: make it ReadersOnly for these tests."""
    monkeypatch.setattr(validators, "default_validator", lambda url, var_dir=None, settings=None: ReadersOnly())


def test_a_pass_loads_both_forces_and_a_rerun_changes_nothing(sources, warehouse_url):
    first_asc = run("ASC", sources, warehouse_url)
    first_wp = run("WP", sources, warehouse_url)
    assert first_asc.ok and first_wp.ok
    assert (len(first_asc.loaded), first_asc.lines_loaded, first_asc.debit_pence) == (2, 6, 1_234_56 + 7 + 99_99)
    assert (len(first_wp.loaded), first_wp.lines_loaded, first_wp.debit_pence) == (2, 6, 500_00 + 1 + 25_50)
    engine = make_engine(warehouse_url)
    state = (fact_checksum(engine), batches(engine))
    assert state[0][:2] == (12, 0)
    # the parked journal is not ledger
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE source_line_ref LIKE '104/%'") == [(0,)]

    again = [run("ASC", sources, warehouse_url), run("WP", sources, warehouse_url)]
    assert all(r.ok and not r.outcomes for r in again)
    assert again[0].summary() == "ASC: nothing new to load"
    assert (fact_checksum(engine), batches(engine)) == state
    engine.dispose()


def test_a_processed_delivery_whose_bytes_changed_is_refused_loudly(sources, warehouse_url):
    run("ASC", sources, warehouse_url)
    engine = make_engine(warehouse_url)
    state = (fact_checksum(engine), batches(engine))
    inbound = sources / "avon_somerset" / "inbound"
    path = asc.write_delivery(inbound, asc_document("1000000001", "1,234.57", APRIL_5), business_date=APRIL_5)
    new_digest = hashlib.sha256(path.read_bytes()).hexdigest()
    pending = pipeline.pending_deliveries("ASC", sources, warehouse_url)
    assert pending.deliveries == [] and len(pending.refused) == 1
    result = run("ASC", sources, warehouse_url)
    assert not result.ok and not result.outcomes
    [reason] = result.refused
    assert reason.startswith("ASC_GL_20160405_001.csv: already processed (batch 1, loaded) with SHA-256 ")
    assert new_digest in reason and "nothing was loaded from it" in reason
    assert (fact_checksum(engine), batches(engine)) == state
    engine.dispose()


def test_a_processed_file_changed_in_place_is_refused_even_with_its_size_and_times_put_back(sources, warehouse_url):
    """A night does not hash the whole history again (FileDigests), yet no change slips through: a
    write changes the inode-change time, which no call can set back."""
    import os

    run("ASC", sources, warehouse_url)  # reading remembers each file's digest with its identity
    path = sources / "avon_somerset" / "inbound" / "ASC_GL_20160405_001.csv"
    before = path.stat()
    data = path.read_bytes()
    assert b"1,234.56" in data
    with open(path, "r+b") as f:  # the same length, one digit different, written in place
        f.write(data.replace(b"1,234.56", b"1,234.57"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)

    result = run("ASC", sources, warehouse_url)
    assert not result.ok and not result.outcomes
    [reason] = result.refused
    assert reason.startswith("ASC_GL_20160405_001.csv: already processed")
    assert hashlib.sha256(path.read_bytes()).hexdigest() in reason


def test_a_night_hashes_again_only_files_not_provably_unchanged(sources, warehouse_url, monkeypatch):
    from alliance_finance.sources.sap_files import digests
    run("ASC", sources, warehouse_url)
    hashed = []
    real = digests.file_digest
    monkeypatch.setattr(digests, "file_digest", lambda path: hashed.append(path.name) or real(path))
    assert run("ASC", sources, warehouse_url).ok
    assert hashed == []  # both processed files untouched since they were read: nothing re-read

    # the memory lost or unreadable: every processed file is hashed once more, nothing is refused
    inbound = sources / "avon_somerset" / "inbound"
    digests.FileDigests.for_folder(inbound).path.write_text("{not json")
    assert run("ASC", sources, warehouse_url).ok
    assert sorted(hashed) == ["ASC_GL_20160405_001.csv", "ASC_GL_20160406_001.csv"]
    hashed.clear()
    assert run("ASC", sources, warehouse_url).ok and hashed == []  # remembered again

    # a file that was touched (same bytes) is hashed again and still accepted
    (inbound / "ASC_GL_20160406_001.csv").touch()
    assert run("ASC", sources, warehouse_url).ok
    assert hashed == ["ASC_GL_20160406_001.csv"]


def test_a_redelivery_supersedes_and_a_lower_sequence_later_is_rejected(sources, warehouse_url):
    inbound = sources / "avon_somerset" / "inbound"
    run("ASC", sources, warehouse_url)
    # the 6th is re-delivered: document 3 was wrong and is gone, document 2 changed
    asc.write_delivery(inbound, asc_document("1000000002", "0.08", APRIL_6), business_date=APRIL_6, sequence=3)
    second = run("ASC", sources, warehouse_url)
    assert second.ok and second.batches_superseded == 1 and second.lines_loaded == 2
    engine = make_engine(warehouse_url)
    assert sorted(query(engine, "SELECT source_line_ref, amount_pence FROM fact_ledger_line "
                                "WHERE posting_date = :d", d=APRIL_6)) == \
        [("ASC1/2016/1000000002/1", 8), ("ASC1/2016/1000000002/2", -8)]
    assert [r[1:3] for r in batches(engine)] == [("ASC_GL_20160405_001.csv", "loaded"),
                                                 ("ASC_GL_20160406_001.csv", "superseded"),
                                                 ("ASC_GL_20160406_003.csv", "loaded")]
    before = fact_checksum(engine)
    asc.write_delivery(inbound, asc_document("1000000002", "0.09", APRIL_6), business_date=APRIL_6, sequence=2)
    third = run("ASC", sources, warehouse_url)
    assert not third.ok and [o.source_ref for o in third.rejected] == ["ASC_GL_20160406_002.csv"]
    assert "lower than ASC_GL_20160406_003.csv" in third.rejected[0].error
    assert fact_checksum(engine) == before
    # processed (rejected) once is processed: the next pass does not offer it again
    assert run("ASC", sources, warehouse_url).outcomes == []
    engine.dispose()


def test_a_journal_that_commits_late_is_loaded_once_by_the_next_pass(sources, warehouse_url):
    run("WP", sources, warehouse_url)
    # journal 99 was posted before 103 but its transaction committed only now
    wp.insert_journals(f"sqlite:///{sources / 'wiltshire' / 'erp.db'}",
                       [wp.invoice(99, "APR-16", APRIL_5, "3.00", posted_at=dt.datetime(2016, 4, 5, 9))])
    late = run("WP", sources, warehouse_url)
    assert late.ok and late.lines_loaded == 2
    assert run("WP", sources, warehouse_url).outcomes == []
    engine = make_engine(warehouse_url)
    assert query(engine, "SELECT COUNT(*), COUNT(DISTINCT source_line_ref) FROM fact_ledger_line "
                         "WHERE force_code = 'WP'") == [(8, 8)]
    engine.dispose()


def test_a_second_run_of_a_force_is_refused_while_one_holds_its_lock(sources, warehouse_url):
    prepare_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    with lock_held_by_another_run(engine, "ASC"):
        with pytest.raises(ConcurrentRunError, match="another run for ASC holds the load lock"):
            run("ASC", sources, warehouse_url, lock_wait_seconds=0.2)
        assert run("WP", sources, warehouse_url).ok  # the other force is not held up
    assert query(engine, "SELECT COUNT(*) FROM etl_batch WHERE force_code = 'ASC'") == [(0,)]
    engine.dispose()


# -- the command ----------------------------------------------------------------------------------


def test_run_cli_prints_a_summary_per_force_and_exits_1_naming_a_rejected_file(
        sources, sqlite_url, readers_only, capsys):
    asc.write_delivery(sources / "avon_somerset" / "inbound", asc_document("1000000009", "5.00", dt.date(2016, 4, 7)),
                       business_date=dt.date(2016, 4, 7), control={"total_debit": "5.01"})
    assert run_cli(Settings.from_environment(warehouse=sqlite_url, sources_dir=sources)) == 1
    out = capsys.readouterr().out
    assert "ASC: 2 batches loaded, 1 rejected, 0 superseded; 6 lines loaded, 0 quarantined; " \
           "debit £1,334.62, credit £1,334.62" in out
    assert "  rejected ASC_GL_20160407_001.csv: " in out and "5.01" in out
    assert "WP: 2 batches loaded, 0 rejected, 0 superseded; 6 lines loaded, 0 quarantined; " \
           "debit £525.51, credit £525.51" in out
    # everything offered this time was loaded or already processed
    assert run_cli(Settings.from_environment(warehouse=sqlite_url, sources_dir=sources)) == 0


def test_run_cli_reports_a_missing_part_of_the_sources(tmp_path, sqlite_url, readers_only, capsys):
    root = tmp_path / "only_asc"
    asc.write_delivery(root / "avon_somerset" / "inbound", asc_document("1000000001", "1.00", APRIL_5),
                       business_date=APRIL_5)
    assert run_cli(Settings.from_environment(warehouse=sqlite_url, sources_dir=root)) == 1
    captured = capsys.readouterr()
    assert "ASC: 1 batch loaded" in captured.out
    assert f"WP: run failed: no wiltshire/erp.db under {root} (or give WP's database URL)" in captured.err
    assert run_cli(Settings.from_environment(warehouse=sqlite_url, sources_dir=tmp_path / "nowhere"), "ASC") == 1
    assert "does not exist" in capsys.readouterr().err
    assert run_cli(Settings.from_environment(warehouse=sqlite_url, sources_dir=tmp_path), "ASC") == 1
    assert f"ASC: run failed: no avon_somerset/inbound under {tmp_path}" in capsys.readouterr().err


def test_run_cli_never_shows_a_password(tmp_path, capsys):
    secret_url = "postgresql://alliance_loader:s3cr3t-pw@127.0.0.1:1/warehouse"
    assert run_cli(Settings.from_environment(warehouse=secret_url, sources_dir=tmp_path), "ASC") == 1
    captured = capsys.readouterr()
    assert "s3cr3t-pw" not in captured.out + captured.err
    assert "alliance_loader:***@127.0.0.1:1/warehouse" in captured.err


def test_the_cli_entry_point_runs_a_pass(sources, sqlite_url, readers_only, capsys):
    from alliance_finance.cli import main

    assert main(["run", "--sources", str(sources), "--warehouse", sqlite_url, "--force", "WP"]) == 0
    assert "WP: 2 batches loaded" in capsys.readouterr().out


def test_groups_start_small_so_loading_starts_early_and_keep_every_item_in_order(tmp_path):
    from types import SimpleNamespace

    files = []
    for index in range(40):
        path = tmp_path / f"f{index:02d}.csv"
        path.write_bytes(b"x" * 1000)
        files.append(SimpleNamespace(data_path=path))
    groups = list(delivery_groups(files, max_files=100, max_bytes=10_000))
    assert [len(g) for g in groups] == [1, 5, 10, 10, 10, 4]  # a tenth, a half, then full groups
    assert [f for g in groups for f in g] == files

    batches = [SimpleNamespace(rows_read=100) for _ in range(40)]
    groups = list(batch_groups(batches, max_batches=6, max_lines=1_000))
    assert [len(g) for g in groups] == [1, 5, 6, 6, 6, 6, 6, 4]  # at most max_batches each
    assert [b for g in groups for b in g] == batches


def test_passes_run_at_once_share_the_group_size():
    """run --parallel divides the group limits between its passes, so that their groups in memory
    together are about one pass's; the full limits come back after."""
    from types import SimpleNamespace

    from alliance_finance.sources import base

    batches = [SimpleNamespace(rows_read=base.GROUP_LINES // 20) for _ in range(40)]
    full = [len(g) for g in batch_groups(batches)]
    try:
        base.share_groups(2)
        assert base.group_limits() == (base.GROUP_LINES // 2, base.GROUP_BYTES // 2)
        halved = [len(g) for g in batch_groups(batches)]
    finally:
        base.share_groups(1)
    assert base.group_limits() == (base.GROUP_LINES, base.GROUP_BYTES)
    assert full == [2, 10, 20, 8] and halved == [1, 5, 10, 10, 10, 4]
    with pytest.raises(ValueError):
        base.share_groups(0)


def test_a_result_passes_between_tasks_as_json_and_says_the_same(sources, warehouse_url):
    """The DAG's tasks hand a ForceRunResult on as XCom: plain JSON that gives back the same summary and problems."""
    import json

    from alliance_finance.runner.result import ForceRunResult

    asc.write_delivery(sources / "avon_somerset" / "inbound", asc_document("1000000009", "5.00", dt.date(2016, 4, 7)),
                       business_date=dt.date(2016, 4, 7), control={"total_debit": "5.01"})
    result = run("ASC", sources, warehouse_url)
    assert not result.ok and len(result.rejected) == 1
    again = ForceRunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert (again.summary(), again.problems(), again.ok) == (result.summary(), result.problems(), False)
    assert again.problems()[0].startswith("ASC_GL_20160407_001.csv: ")
