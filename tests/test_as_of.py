"""In-year truth (issue #15): ``generate --as-of DATE`` writes the sources as they stand on the night of
DATE, and a later night's sources extend an earlier night's the way the real systems would.

The replay generates every night from 20 September to 20 October 2016 into one folder, runs the
pipeline after each, and compares the warehouse so built night by night with one loaded once from the
last night's sources (SQLite; three of the nights on PostgreSQL too). Small scale (0.05), one fiscal year.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import sqlite3
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from alliance_finance.cli import main
from alliance_finance.marts.changes import Changes, changes_since
from alliance_finance.warehouse.engine import make_engine
from alliance_sample import generate_sources
from warehouse_batches import write_seeds

SCALE, SEED = Decimal("0.05"), 7
FIRST_NIGHT, LAST_NIGHT = dt.date(2016, 9, 20), dt.date(2016, 10, 20)
#: the night board pack 1 is taken: the re-delivered day's wrong _001 has arrived, its _002 comes the next night
PACK_NIGHT = dt.date(2016, 9, 27)

FACT_COLUMNS = ("force_code, source_line_ref, amount_pence, objective_code, subjective_code, fiscal_year, "
                "period, posting_date, cost_centre, local_account")


def _nights():
    night = FIRST_NIGHT
    while night <= LAST_NIGHT:
        yield night
        night += dt.timedelta(days=1)


def _asc_files(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "avon_somerset" / "inbound").glob("ASC_GL_*"))}


def _wp_journals(out: Path) -> dict[int, tuple]:
    """journal id -> (its header but status and posted_at, status, posted_at, its lines)."""
    with sqlite3.connect(out / "wiltshire" / "erp.db") as db:
        lines: dict[int, list] = {}
        for row in db.execute("SELECT journal_id, line_no, account_string, CAST(entered_dr AS TEXT), "
                              "CAST(entered_cr AS TEXT), line_description, supplier_name FROM gl_journal_line "
                              "ORDER BY journal_id, line_no"):
            lines.setdefault(row[0], []).append(row[1:])
        journals = {}
        for (journal_id, source, period_name, accounting_date, status, posted_at, reverses,
             description) in db.execute("SELECT * FROM gl_journal"):
            header = (source, period_name, accounting_date, reverses, description)
            journals[journal_id] = (header, status, posted_at, tuple(lines.get(journal_id, ())))
    return journals


def _facts(url: str) -> tuple[list[tuple], dict[str, int]]:
    """Every fact line's columns as text, sorted; and the number of batches per status."""
    engine = make_engine(url)
    schema = "alliance." if engine.dialect.name == "postgresql" else ""
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(f"SELECT {FACT_COLUMNS} FROM {schema}fact_ledger_line")).all()
            statuses = dict(connection.execute(sa.text(
                f"SELECT status, COUNT(*) FROM {schema}etl_batch GROUP BY status")).all())
    finally:
        engine.dispose()
    return sorted(tuple(str(v) for v in row) for row in rows), statuses


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """Every night of the window: generate --as-of into one folder, then run; what each night held."""
    sources = tmp_path_factory.mktemp("nightly")
    url = f"sqlite:///{tmp_path_factory.mktemp('warehouse') / 'nightly.db'}"
    held, exits = {}, {}
    for night in _nights():
        assert main(["generate", "--out", str(sources), "--from-fy", "2016", "--to-fy", "2016",
                     "--scale", str(SCALE), "--seed", str(SEED), "--as-of", night.isoformat()]) == 0
        held[night] = _asc_files(sources), _wp_journals(sources)
        exits[night] = main(["run", "--sources", str(sources), "--warehouse", url])
        if night == PACK_NIGHT:  # the board's report of that night: board pack 1
            assert main(["report", "--warehouse", url, "--out", str(tmp_path_factory.mktemp("pack1"))]) == 0
    return sources, url, held, exits


def _pack_reproduced_and_changes_explained(url: str, out: Path) -> Changes:
    """Board pack 1, taken on an earlier night, is reproduced to the penny, and every NRE difference
    since is explained by the re-deliveries, late lines and restatements ``changes --since-pack 1`` lists."""
    assert main(["report", "--warehouse", url, "--out", str(out / "reproduced"), "--pack", "1"]) == 0
    engine = make_engine(url)
    try:
        found = changes_since(engine, 1)
    finally:
        engine.dispose()
    kinds = {b["kind"] for b in found.batches}
    assert {"new ledger", "re-delivery"} <= kinds, kinds
    assert found.reconciliation and all(r["unexplained_pence"] == 0 for r in found.reconciliation)
    assert main(["changes", "--warehouse", url, "--since-pack", "1"]) == 0
    return found


def _finance_maps_a_code(url: str, out: Path) -> str:
    """Finance maps the first unmapped cost centre the export lists to SF09 from FY 2016 (mapping import)."""
    export = out / "unmapped.xlsx"
    assert main(["mapping", "export", "--out", str(export), "--warehouse", url]) == 0
    book = openpyxl.load_workbook(export)
    sheet = book["decisions"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in range(2, sheet.max_row + 1)
               if sheet.cell(r, header.index("code_type") + 1).value == "cost_centre")
    sheet.cell(row, header.index("common_code") + 1).value = "SF09"
    sheet.cell(row, header.index("valid_from_fy") + 1).value = 2016
    book.save(export)
    assert main(["mapping", "import", str(export), "--by", "Alliance finance", "--reason", "the October board",
                 "--warehouse", url]) == 0
    return sheet.cell(row, header.index("local_code") + 1).value


@pytest.mark.slow
def test_every_night_runs_and_the_nights_add_up_to_one_load(replay, tmp_path, capsys):
    sources, url, _, exits = replay
    assert exits == {night: 0 for night in _nights()}
    capsys.readouterr()
    once = tmp_path / "once"
    generate_sources(once, from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED, as_of=LAST_NIGHT)
    # a fresh folder gets the same bytes as the folder the nights were generated into
    assert _asc_files(once) == _asc_files(sources)
    assert (once / "wiltshire" / "erp.db").read_bytes() == (sources / "wiltshire" / "erp.db").read_bytes()
    once_url = f"sqlite:///{tmp_path / 'once.db'}"
    assert main(["run", "--sources", str(once), "--warehouse", once_url]) == 0
    nightly, nightly_batches = _facts(url)
    single, single_batches = _facts(once_url)
    assert len(nightly) > 5_000
    assert nightly == single
    assert "rejected" not in nightly_batches and "rejected" not in single_batches
    # the re-delivered day came in two nights: _001 loaded, then superseded by _002
    assert nightly_batches.get("superseded", 0) >= 1
    found = _pack_reproduced_and_changes_explained(url, tmp_path)
    assert sum(r["difference_pence"] for r in found.reconciliation) == sum(
        b["nre_change_pence"] for b in found.batches if b["kind"] != "rejected")


@pytest.mark.slow
def test_a_later_night_extends_an_earlier_one(replay):
    _, _, held, _ = replay
    nights = list(_nights())
    posted_late = new_deliveries = redelivered = 0
    for earlier, later in zip(nights, nights[1:]):
        (asc_before, wp_before), (asc_after, wp_after) = held[earlier], held[later]
        # the same deliveries, byte for byte, and perhaps new ones
        assert {k: asc_after.get(k) for k in asc_before} == asc_before, later
        new = set(asc_after) - set(asc_before)
        new_deliveries += bool(new)
        redelivered += any(name.endswith("_002.csv") for name in new)
        assert all(name[7:15] < later.strftime("%Y%m%d") for name in new)
        # every journal stays; a posted one never changes; an unposted one may be posted since
        assert set(wp_before) <= set(wp_after), later
        cutoff = f"{earlier:%Y-%m-%d} 00:00:00"
        for journal_id, (header, status, posted_at, lines) in wp_before.items():
            header_after, status_after, posted_after, lines_after = wp_after[journal_id]
            assert (header_after, lines_after) == (header, lines), journal_id
            if status == "P":
                assert (status_after, posted_after) == ("P", posted_at), journal_id
            elif status_after == "P" and posted_after < cutoff:
                posted_late += 1  # its posting transaction committed after the earlier night's run
    assert new_deliveries >= 20 and redelivered == 1
    assert posted_late >= 1, "no journal committed late in the window: the replay does not test it"


@pytest.mark.slow
def test_nights_on_postgresql(pg_url, tmp_path, capsys, monkeypatch):
    """Three nights on PostgreSQL against one load of the last night's sources: on the second the
    re-delivered day's wrong _001 arrives, on the third its _002 and a journal posted two days before
    whose posting committed late."""
    from conftest import drop_pg_database, new_pg_database

    nights = [dt.date(2016, 9, 26) + dt.timedelta(days=n) for n in range(3)]
    seeds = write_seeds(tmp_path / "seeds")
    monkeypatch.setenv("ALLIANCE_SEEDS_DIR", str(seeds))
    for night in nights:
        generate_sources(tmp_path / "nightly", from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED, as_of=night)
        assert main(["run", "--sources", str(tmp_path / "nightly"), "--warehouse", pg_url]) == 0, night
        if night == PACK_NIGHT:
            assert main(["report", "--warehouse", pg_url, "--out", str(tmp_path / "pack1")]) == 0
    generate_sources(tmp_path / "once", from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED, as_of=nights[-1])
    once_url = new_pg_database()
    try:
        assert main(["run", "--sources", str(tmp_path / "once"), "--warehouse", once_url]) == 0
        (nightly, nightly_batches), (single, _) = _facts(pg_url), _facts(once_url)
    finally:
        drop_pg_database(once_url)
    capsys.readouterr()
    assert len(nightly) > 3_000 and nightly == single
    assert "rejected" not in nightly_batches and nightly_batches.get("superseded", 0) >= 1
    journals = _wp_journals(tmp_path / "nightly")
    assert any(status == "P" and posted_at < "2016-09-27" and journal_id == 100212
               for journal_id, (_, status, posted_at, _) in journals.items())
    # after the board: finance maps a code, and fixes a new sharing key (read at the next run)
    mapped = _finance_maps_a_code(pg_url, tmp_path)
    (seeds / "sharing_key.csv").write_text(
        "valid_from_fy,force_code,weight,basis\n2016,ASC,60,headcount\n2016,WP,40,headcount\n", encoding="utf-8")
    assert main(["run", "--sources", str(tmp_path / "nightly"), "--warehouse", pg_url]) == 0
    found = _pack_reproduced_and_changes_explained(pg_url, tmp_path)
    assert [d["local_code"] for d in found.mapping_decisions] == [mapped]
    # its lines loaded by the pack's night are listed as restated (those loaded since, with the new lines)
    assert found.restatements and {r["to_objective"] for r in found.restatements} == {"SF09"}
    finance = [v for v in found.data_versions if v["dataset"] == "finance"]
    assert finance and "sharing_key" in finance[-1]["changes"]
    assert any(f["view"] == "v_cost_share" and f["measure"] == "fair_share" for f in found.figures)


def test_nothing_after_the_night_and_the_year_incomplete(tmp_path):
    night = dt.date(2017, 4, 11)  # FY 2016's year-end close under way, FY 2017 just begun
    summary = generate_sources(tmp_path, from_fy=2016, to_fy=2018, scale=SCALE, seed=SEED, as_of=night)
    limit = night.strftime("%Y%m%d")
    inbound = tmp_path / "avon_somerset" / "inbound"
    names = sorted(p.name for p in inbound.glob("ASC_GL_*.csv"))
    assert max(name[7:15] for name in names) == "20170410"
    assert "ASC_GL_20170408_001.csv" in names  # the close Saturday's delivery
    posting_dates, periods = set(), set()
    for path in inbound.glob("ASC_GL_*.csv"):
        for record in csv.reader(path.read_bytes().decode("utf-8-sig").split("\r\n")[1:-1]):
            posting = dt.datetime.strptime(record[6], "%d.%m.%Y").date()
            posting_dates.add(posting)
            periods.add((int(record[1]), int(record[2])))
            if record[7]:
                assert dt.datetime.strptime(record[7], "%d.%m.%Y").date() < night
    assert max(posting_dates) < night and max(posting_dates).strftime("%Y%m%d") <= limit
    assert (2016, 13) in periods and (2017, 1) in periods
    assert not {(2016, 15), (2016, 16), (2017, 2)} & periods  # audit adjustments and May are to come
    with sqlite3.connect(tmp_path / "wiltshire" / "erp.db") as db:
        posted_max, accounting_max = db.execute(
            "SELECT max(posted_at), max(accounting_date) FROM gl_journal").fetchone()
        assert posted_max < "2017-04-11" and accounting_max < "2017-04-11"
        assert db.execute("SELECT count(*) FROM gl_journal WHERE status = 'P' AND posted_at IS NULL").fetchone() == (0,)
        period_names = {r[0] for r in db.execute("SELECT DISTINCT period_name FROM gl_journal")}
    assert {"APR-16", "MAR-17", "APR-17"} <= period_names and "MAY-17" not in period_names
    # the current year is incomplete; the years after it are not there at all
    assert sorted({fy for _, fy in summary.years}) == [2016, 2017]
    assert summary.years[("ASC", 2017)].lines < summary.years[("ASC", 2016)].lines / 8
    assert not summary.complete(2016) and not summary.complete(2017)


def test_a_night_after_the_last_adjustment_is_the_whole_year(tmp_path):
    whole = generate_sources(tmp_path / "whole", from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED)
    night = generate_sources(tmp_path / "night", from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED,
                             as_of=dt.date(2017, 7, 20))
    for relative in ("avon_somerset/inbound", "wiltshire"):
        files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole" / relative).iterdir())
        assert files == sorted(p.relative_to(tmp_path / "night") for p in (tmp_path / "night" / relative).iterdir())
        for name in files:
            assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "night" / name).read_bytes(), name
    assert night.years[("WP", 2016)] == whole.years[("WP", 2016)]
    assert night.years[("ASC", 2016)] == whole.years[("ASC", 2016)]


def test_an_earlier_night_into_the_same_folder_takes_the_later_deliveries_away(tmp_path):
    generate_sources(tmp_path, from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED, as_of=dt.date(2016, 5, 10))
    kept = (tmp_path / "avon_somerset" / "inbound" / "ASC_GL_20160503_001.csv").stat()
    generate_sources(tmp_path, from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED, as_of=dt.date(2016, 5, 4))
    names = sorted(p.name for p in (tmp_path / "avon_somerset" / "inbound").iterdir())
    assert names[-1] == "ASC_GL_20160503_001.ctl" and len(names) == 2 * 23  # 1 April to 3 May: 23 weekdays
    # a delivery both nights hold is left alone, not written again
    assert (tmp_path / "avon_somerset" / "inbound" / "ASC_GL_20160503_001.csv").stat().st_ino == kept.st_ino
    assert (tmp_path / "avon_somerset" / "inbound" / "ASC_GL_20160503_001.csv").stat().st_mtime_ns == kept.st_mtime_ns


def test_a_night_before_the_first_year_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="as_of 2016-04-01"):
        generate_sources(tmp_path, from_fy=2016, to_fy=2016, scale=SCALE, seed=SEED, as_of=dt.date(2016, 4, 1))
    assert not any(tmp_path.iterdir())
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--out", str(tmp_path), "--from-fy", "2016", "--as-of", "2015-12-01"])
    assert exit_.value.code == 2 and "--as-of 2015-12-01" in capsys.readouterr().err
