"""Finance's mapping decisions (issue #16): ``alliance-finance mapping export / import / list``, the maps
as the reference files overlaid with the decisions, and programme cost centres checked against them.

Each test runs on SQLite and PostgreSQL. The hand-built ledger has lines on the sample's codes the
reference data does not know (ASC cost centre AS310300, account 620800; WP cost centre 7660); the
sample test at the end runs the real pipeline over generated sources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

import alliance_sample
from alliance_finance.cli import main
from alliance_finance.config.settings import Settings
from alliance_finance.core.paths import REFERENCE_DIR
from alliance_finance.marts import as_of
from alliance_finance.marts.mapping_export import COLUMNS, SHEET
from alliance_finance.marts.seedfile import FinanceSeedError
from alliance_finance.marts.seeds import SEEDS_DIR, load_finance_seeds
from alliance_finance.runner.command import run_cli
from alliance_finance.warehouse import mapping, meta
from alliance_finance.warehouse.engine import make_engine
from alliance_finance.warehouse.load import BatchLoader
from warehouse_batches import asc_batch, line, query, ready_warehouse, wp_batch, write_seeds

BY = "Alliance finance"


def _pair(ref: str, account: str, cost_centre: str, pence: int, fiscal_year: int, period: int = 3) -> list[dict]:
    day = dt.date(fiscal_year, 6, 15)
    kw = {"fiscal_year": fiscal_year, "period": period, "posting_date": day}
    return [line(f"{ref}/1", account, cost_centre, pence, number=1, **kw),
            line(f"{ref}/2", "200100", None, -pence, number=2, **kw)]


@pytest.fixture
def warehouse(warehouse_url):
    """A warehouse holding lines on mapped and unmapped codes of both forces."""
    engine = ready_warehouse(warehouse_url)
    asc = (_pair("A1", "504100", "AS310300", 180_000_00, 2016) + _pair("A2", "504100", "AS310300", 260_000_00, 2017)
           + _pair("A3", "504100", "AS310300", 1_234_56, 2015) + _pair("A4", "620800", "AS100010", 90_000_00, 2017)
           + _pair("A5", "504100", "AS310100", 50_000_00, 2016) + _pair("A6", "504100", "AS310300", 210_000_00, 2018))
    kw = {"force": "WP", "fiscal_year": 2017, "period": 3, "posting_date": dt.date(2017, 6, 15)}
    wp = [line("W1/1", "41000", "7660", 150_000_00, number=1, **kw),
          line("W1/2", "21000", "0000", -150_000_00, number=2, **kw)]
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(asc)).loaded
        assert loader.load(wp_batch(wp, [1])).loaded
    yield engine, warehouse_url
    engine.dispose()


def state(engine: sa.Engine) -> str:
    """A checksum of everything an import may change: decisions, maps, the lines' codes, the summaries."""
    parts = [query(engine, f"SELECT * FROM {table}") for table in (
        "mapping_decision", "map_cost_centre", "map_local_account", "ledger_summary", "nre_summary",
        "cost_centre_summary", "warehouse_meta")]
    parts.append(query(engine, "SELECT source_line_ref, objective_code, subjective_code FROM fact_ledger_line"))
    return hashlib.md5(repr([sorted(map(repr, p)) for p in parts]).encode()).hexdigest()


def workbook(path: Path, rows: list[dict]) -> Path:
    """A decisions workbook with ``rows`` (columns of COLUMNS; the rest blank)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
    book.save(path)
    return path


def cc(force, code, common, valid_from=None, **kw):
    return {"force_code": force, "code_type": "cost_centre", "local_code": code, "common_code": common,
            "valid_from_fy": valid_from, **kw}


def account(force, code, common, **kw):
    return {"force_code": force, "code_type": "account", "local_code": code, "common_code": common, **kw}


def mapping_cli(*args: str) -> int:
    return main(["mapping", *args])


def do_import(url: str, path: Path, reason: str = "new codes in the ledgers") -> int:
    return mapping_cli("import", str(path), "--by", BY, "--reason", reason, "--warehouse", url)


def test_export_lists_every_unmapped_code_with_its_years_and_money(warehouse, tmp_path, capsys):
    engine, url = warehouse
    out = tmp_path / "unmapped.xlsx"
    assert mapping_cli("export", "--out", str(out), "--warehouse", url) == 0
    assert "3 unmapped code(s)" in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["decisions", "common codes", "by year", "README"]
    rows = [dict(zip(COLUMNS, r)) for r in book["decisions"].iter_rows(min_row=2, values_only=True)]
    got = {(r["force_code"], r["code_type"], r["local_code"]): (r["fiscal_years"], r["first_posting_date"],
                                                                 r["last_posting_date"], r["line_count"],
                                                                 Decimal(str(r["amount"]))) for r in rows}
    assert got == {
        ("ASC", "cost_centre", "AS310300"): ("2015, 2016, 2017, 2018", "2015-06-15", "2018-06-15", 4,
                                             Decimal("651234.56")),
        ("ASC", "account", "620800"): ("2017", "2017-06-15", "2017-06-15", 1, Decimal("90000")),
        ("WP", "cost_centre", "7660"): ("2017", "2017-06-15", "2017-06-15", 1, Decimal("150000")),
    }
    by_year = list(book["by year"].iter_rows(min_row=2, values_only=True))
    assert ("ASC", "cost_centre", "AS310300", 2016, 1, 180000) in by_year
    assert sum(Decimal(str(r[5])) for r in by_year) == sum(v[4] for v in got.values())
    # the fill-in cell offers the valid codes of the right kind
    validations = book["decisions"].data_validations.dataValidation
    assert validations and all("common codes" in v.formula1 for v in validations)


def test_a_good_file_is_recorded_restated_and_the_money_moved_kept(warehouse, tmp_path, capsys):
    engine, url = warehouse
    path = workbook(tmp_path / "d.xlsx", [
        cc("ASC", "AS310300", "SF09", 2016, local_name="Alliance Change Office"),
        account("ASC", "620800", "COMMS"),
        cc("WP", "7660", "IS04", 2017),
    ])
    assert do_import(url, path, "agreed at the alliance finance meeting") == 0
    out = capsys.readouterr().out
    assert "3 mapping decision(s) recorded" in out and "£650,000.00" in out
    decisions = query(engine, "SELECT local_code, common_code, valid_from_fy, decided_by, reason, source_file, "
                              "source_row, lines_moved, amount_moved_pence FROM v_mapping_decisions "
                              "ORDER BY decision_id")
    assert decisions == [
        ("AS310300", "SF09", 2016, BY, "agreed at the alliance finance meeting", "d.xlsx", 2, 3, 650_000_00),
        ("620800", "COMMS", None, BY, "agreed at the alliance finance meeting", "d.xlsx", 3, 1, 90_000_00),
        ("7660", "IS04", 2017, BY, "agreed at the alliance finance meeting", "d.xlsx", 4, 1, 150_000_00),
    ]
    # the money moved is the lines' sum, which now carry the decided codes; FY 2015 stays in suspense
    assert query(engine, "SELECT objective_code, fiscal_year, SUM(amount_pence) FROM fact_ledger_line "
                         "WHERE cost_centre = 'AS310300' GROUP BY objective_code, fiscal_year ORDER BY 2") == [
        ("UNMAPPED", 2015, 1_234_56), ("SF09", 2016, 180_000_00), ("SF09", 2017, 260_000_00),
        ("SF09", 2018, 210_000_00)]
    assert query(engine, "SELECT force_code, code_type, local_code FROM v_unmapped_codes") == [
        ("ASC", "cost_centre", "AS310300")]
    assert query(engine, "SELECT SUM(amount_pence) FROM nre_summary WHERE function_code = 'SF' AND force_code = 'ASC' "
                         "AND fiscal_year = 2017") == [(260_000_00,)]
    # a run afterwards (reference files unchanged) keeps the decisions in the maps
    assert mapping.sync_reference(engine).changed is False
    assert query(engine, "SELECT cost_centre_name, objective_code, valid_from_fy FROM map_cost_centre "
                         "WHERE cost_centre = 'AS310300'") == [("Alliance Change Office", "SF09", 2016)]
    # a later decision supersedes from its own year: FY 2018 moves to SF06
    path = workbook(tmp_path / "d2.xlsx", [cc("ASC", "AS310300", "SF06", 2018, supersedes_decision=1)])
    assert do_import(url, path, "moved to ICT") == 0
    assert query(engine, "SELECT lines_moved, amount_moved_pence, supersedes_id FROM mapping_decision "
                         "WHERE decision_id = 4") == [(1, 210_000_00, 1)]
    assert query(engine, "SELECT objective_code, valid_from_fy, valid_to_fy FROM map_cost_centre "
                         "WHERE cost_centre = 'AS310300' ORDER BY valid_from_fy") == [("SF09", 2016, 2017),
                                                                                   ("SF06", 2018, None)]
    assert query(engine, "SELECT superseded_by FROM v_mapping_decisions WHERE decision_id = 1") == [(4,)]
    assert mapping_cli("list", "--warehouse", url) == 0
    assert "(superseded)" in capsys.readouterr().out
    # a decision is kept as decided
    with pytest.raises(sa.exc.DBAPIError, match="kept as decided"):
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM mapping_decision WHERE decision_id = 1"))
    with pytest.raises(sa.exc.DBAPIError, match="kept as decided"):
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE mapping_decision SET common_code = 'SF01' WHERE decision_id = 1"))


def test_a_reference_reseed_keeps_the_decisions_and_a_contradicting_file_is_refused(warehouse, tmp_path):
    engine, url = warehouse
    assert do_import(url, workbook(tmp_path / "d.xlsx", [cc("ASC", "AS310300", "SF09", 2016)])) == 0
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    file = reference / "avon_somerset_cost_centres.csv"
    file.write_text(file.read_text(encoding="utf-8") + "AS310400,Alliance Benefits Office,SF09,2018,\n",
                    encoding="utf-8")
    assert mapping.sync_reference(engine, reference).changed is True
    assert query(engine, "SELECT objective_code FROM map_cost_centre WHERE cost_centre = 'AS310300'") == [("SF09",)]
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE cost_centre = 'AS310300' "
                         "AND objective_code = 'SF09'") == [(3,)]
    before = state(engine)
    file.write_text(file.read_text(encoding="utf-8") + "AS310300,Alliance Change Office,SF06,2017,\n",
                    encoding="utf-8")
    with pytest.raises(mapping.ReferenceDataError) as caught:
        mapping.sync_reference(engine, reference)
    message = str(caught.value)
    assert "reference/avon_somerset_cost_centres.csv maps ASC cost centre AS310300 to SF06 for FY 2017-open" in message
    assert "decision 1 (Alliance finance" in message and "maps it to SF09" in message
    assert state(engine) == before


BAD_ROWS = [
    ([cc("ASC", "AS310300", "XX99", 2016)], "row 2: common_code: 'XX99' is not an objective code"),
    ([account("ASC", "620800", "SF09")], "row 2: common_code: 'SF09' is an objective code (what the money is for): "
                                         "an account maps to a subjective code"),
    ([cc("ASC", "AS310300", "COMMS", 2016)], "'COMMS' is a subjective code"),
    ([cc("ASC", "AS310300", "SF09", "16")], "row 2: valid_from_fy: expected a fiscal year"),
    ([cc("ASC", "AS310300", "SF09")], "row 2: valid_from_fy: expected the first fiscal year"),
    ([cc("ASC", "AS310300", "SF09", 2017, valid_to_fy=2016)], "valid_to_fy: FY 2016 is before valid_from_fy FY 2017"),
    ([account("ASC", "620800", "COMMS", valid_from_fy=2017)], "an account maps to one subjective code for every year"),
    ([cc("GLO", "AS310300", "SF09", 2016)], "row 2: force_code: expected one of ASC, WP; found 'GLO'"),
    ([cc("ASC", "", "SF09", 2016)], "row 2: local_code: expected the force's code"),
    ([{"force_code": "ASC", "code_type": "objective", "local_code": "AS310300", "common_code": "SF09"}],
     "code_type: expected cost_centre or account"),
    ([cc("ASC", "AS999999", "SF09", 2016)], "ASC cost centre AS999999 is unknown"),
    ([cc("ASC", "AS310100", "SF06", 2016)], "cost centre AS310100 is already mapped to SF09 for FY 2016-open by "
                                            "reference/avon_somerset_cost_centres.csv"),
    ([cc("ASC", "AS310300", "SF09", 2016), cc("ASC", "AS310300", "SF06", 2018)],
     "row 3: cost_centre AS310300 of ASC for FY 2018-open is already decided by sheet 'decisions' row 2"),
    ([account("ASC", "620800", "COMMS"), cc("ASC", "AS310300", "SF09", 2016, supersedes_decision=7)],
     "row 3: supersedes_decision: expected the number of a recorded decision; found '7'"),
    ([{"force_code": "ASC", "code_type": "cost_centre", "local_code": "AS310300", "valid_from_fy": 2016}],
     "row 2: common_code: '' is not an objective code"),
]


def test_each_bad_row_is_refused_naming_its_row_and_nothing_is_recorded(warehouse, tmp_path, capsys):
    engine, url = warehouse
    # one decision already recorded: a row overlapping it without naming it is refused too
    assert do_import(url, workbook(tmp_path / "first.xlsx", [cc("WP", "7660", "IS04", 2017)])) == 0
    cases = BAD_ROWS + [([cc("WP", "7660", "IS03", 2018)],
                         "row 2: cost centre 7660 is already mapped to IS04 for FY 2018-open by decision 1"),
                        ([cc("WP", "7660", "IS04", 2017)], "by decision 1 (Alliance finance"),
                        ([cc("WP", "7660", "IS04", 2017)], "first.xlsx row 2): nothing to decide"),
                        ([cc("WP", "7660", "IS03", 2019, supersedes_decision=1), cc("WP", "7660", "IS02", 2020)],
                         "row 3: cost_centre 7660 of WP for FY 2020-open is already decided by sheet 'decisions' "
                         "row 2")]
    before = state(engine)
    capsys.readouterr()
    for n, (rows, message) in enumerate(cases):
        # a good row beside the bad one is not recorded either
        good = [account("ASC", "620800", "COMMS")] if "620800" not in repr(rows) else []
        path = workbook(tmp_path / f"bad{n}.xlsx", rows + good)
        assert do_import(url, path) == 1, message
        err = capsys.readouterr().err
        assert message in err and "nothing recorded" in err, (message, err)
        assert state(engine) == before, message


def test_a_file_that_is_not_the_workbook_is_refused(warehouse, tmp_path, capsys):
    engine, url = warehouse
    before = state(engine)
    (tmp_path / "x.xlsx").write_text("not a workbook")
    assert do_import(url, tmp_path / "x.xlsx") == 1
    assert "not a readable XLSX workbook" in capsys.readouterr().err
    book = openpyxl.Workbook()
    book.active.append(["force_code", "code_type"])
    book.active.title = "decisions"
    book.save(tmp_path / "y.xlsx")
    assert do_import(url, tmp_path / "y.xlsx") == 1
    assert "missing local_code, common_code" in capsys.readouterr().err
    assert do_import(url, workbook(tmp_path / "empty.xlsx", [])) == 1
    assert "no decisions to record" in capsys.readouterr().err
    assert state(engine) == before


CENTRES = "force_code,cost_centre,cost_centre_name,programme,valid_from_fy,valid_to_fy\n"


def test_programme_cost_centres_are_checked_against_the_map_and_counted_in_their_years(warehouse, tmp_path):
    engine, url = warehouse
    shipped = (SEEDS_DIR / "programme_cost_centres.csv").read_text(encoding="utf-8")
    old_style = "force_code,cost_centre,cost_centre_name,programme\nASC,AS310100,Alliance Programme Team,x\n"
    for centres, message in [
        (shipped + "ASC,AS31O300,Alliance Change Office,Alliance change,2016,\n",
         "programme_cost_centres.csv line 5, column cost_centre: ASC cost centre AS31O300 is not in the force's "
         "cost-centre map"),
        (shipped + "ASC,AS310300,Alliance Change Office,Alliance change,2016,\n",
         "line 5, column cost_centre: ASC cost centre AS310300 is not in the force's cost-centre map"),
        (CENTRES + "ASC,AS310100,Alliance Programme Team,x,,2014\n",
         "line 2, column cost_centre: ASC cost centre AS310100 has no objective in the cost-centre map in any year "
         "of FY open-2014 (mapped for FY 2015-open)"),
        (CENTRES + "ASC,AS310100,Alliance Programme Team,x,2017,2016\n",
         "line 2, column valid_to_fy: expected a fiscal year not before valid_from_fy 2017"),
    ]:
        seeds = write_seeds(tmp_path / "seeds", centres=centres)
        with pytest.raises(FinanceSeedError) as caught:
            with engine.begin() as conn:
                load_finance_seeds(conn, seeds)
        assert message in str(caught.value)
    # a file without the year columns still loads, open-ended
    with engine.begin() as conn:
        load_finance_seeds(conn, write_seeds(tmp_path / "seeds", centres=old_style))
    assert query(engine, "SELECT valid_from_fy, valid_to_fy FROM programme_cost_centre") == [(None, None)]
    # mapped from 2016 by finance, AS310300 may be listed from 2016 (FY 2015 stays in suspense, outside)...
    assert do_import(url, workbook(tmp_path / "d.xlsx", [cc("ASC", "AS310300", "SF09", 2016)])) == 0
    with engine.begin() as conn:
        load_finance_seeds(conn, write_seeds(
            tmp_path / "seeds", centres=shipped + "ASC,AS310300,Alliance Change Office,Alliance change,2016,\n"))
    # ...and counts only in its years: 180,000 + 260,000 + 210,000 on top of AS310100's 50,000 in 2016
    assert query(engine, "SELECT fiscal_year, incurred_pence FROM v_cost_share WHERE force_code = 'ASC' "
                         "AND incurred_pence <> 0 ORDER BY 1") == [
        (2016, 230_000_00), (2017, 260_000_00), (2018, 210_000_00)]
    # listed from 2015, its FY 2015 lines in suspense refuse the file
    with pytest.raises(FinanceSeedError) as caught:
        with engine.begin() as conn:
            load_finance_seeds(conn, write_seeds(
                tmp_path / "seeds", centres=shipped + "ASC,AS310300,Alliance Change Office,Alliance change,2015,\n"))
    assert "line 5, column cost_centre: ASC cost centre AS310300 has £1,234.56 of ledger lines in suspense in " \
           "FY 2015" in str(caught.value)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources")
    alliance_sample.generate_sources(out, from_fy=2016, to_fy=2018, scale=Decimal("0.05"), seed=7)
    return out


@pytest.mark.slow
def test_the_samples_alliance_change_office_counts_650000_once_mapped_and_listed(sample, warehouse_url, tmp_path):
    """The sample's AS310300 (£650,000 over FY 2016-2018): exported, mapped by finance, listed, counted."""
    seeds = write_seeds(tmp_path / "seeds")
    settings = Settings.from_environment(warehouse=warehouse_url, sources_dir=sample, seeds_dir=seeds)
    assert run_cli(settings) == 0
    engine = make_engine(warehouse_url)
    try:
        total = "SELECT COALESCE(SUM(incurred_pence), 0) FROM v_cost_share"
        before = query(engine, total)[0][0]
        export = tmp_path / "unmapped.xlsx"
        assert mapping_cli("export", "--out", str(export), "--warehouse", warehouse_url) == 0
        book = openpyxl.load_workbook(export)
        sheet = book["decisions"]
        row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 3).value == "AS310300")
        assert Decimal(str(sheet.cell(row, COLUMNS.index("amount") + 1).value)) == 650_000
        assert sheet.cell(row, COLUMNS.index("fiscal_years") + 1).value == "2016, 2017, 2018"
        sheet.cell(row, COLUMNS.index("common_code") + 1).value = "SF09"
        sheet.cell(row, COLUMNS.index("valid_from_fy") + 1).value = 2016
        book.save(export)
        before_import = meta.utcnow()
        assert do_import(warehouse_url, export) == 0
        assert query(engine, "SELECT lines_moved > 0, amount_moved_pence FROM mapping_decision") == [(True, 650_000_00)]
        # as of a moment before the import: no decision yet, AS310300's money still in suspense
        with engine.connect() as conn:
            moment = conn.begin()
            as_of.materialize(conn, before_import)
            assert conn.execute(sa.text("SELECT COUNT(*) FROM v_mapping_decisions")).scalar() == 0
            assert conn.execute(sa.text("SELECT amount_pence FROM v_unmapped_codes WHERE local_code = 'AS310300'"
                                        )).scalar() == 650_000_00
            moment.rollback()
        with (seeds / "programme_cost_centres.csv").open("a", encoding="utf-8") as f:
            f.write("ASC,AS310300,Alliance Change Office,Alliance change office,2016,\n")
        assert run_cli(settings) == 0
        assert query(engine, total)[0][0] - before == 650_000_00
    finally:
        engine.dispose()


def test_revision_0010_keeps_the_programme_cost_centres_open_ended(warehouse_url):
    from alliance_finance.warehouse import migrate

    assert migrate.upgrade(warehouse_url, revision="0008") == "0008"
    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO programme_cost_centre (force_code, cost_centre, cost_centre_name, "
                                 "programme) VALUES ('ASC', 'AS310100', 'Alliance Programme Team', 'x')"))
        assert migrate.upgrade(warehouse_url) == migrate.head_revision()
        assert query(engine, "SELECT cost_centre, valid_from_fy, valid_to_fy FROM programme_cost_centre") == [
            ("AS310100", None, None)]
        assert query(engine, "SELECT COUNT(*) FROM mapping_decision") == [(0,)]
    finally:
        engine.dispose()
