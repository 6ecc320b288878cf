"""The sample source generator (issue #2): its output follows SOURCES.md and tells the alliance's story.

Every check of the files goes through ``source_checker``, an independent reader written with the
standard library alone from SOURCES.md; the generator's own summary is compared with it, never
trusted on its own.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from alliance_finance.cli import main
from alliance_sample import generate_sources
from source_checker import check_sources

MILLION = 100_000_000  # pence


def _digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def two_years(tmp_path_factory):
    """FY 2016 and FY 2017 at scale 0.2 (about 20,000 lines a year), checked once."""
    out = tmp_path_factory.mktemp("two_years")
    summary = generate_sources(out, from_fy=2016, to_fy=2017, scale=Decimal("0.2"), seed=2015)
    return out, summary, check_sources(out)


@pytest.fixture(scope="session")
def story(tmp_path_factory):
    """The whole story, FY 2014 to FY 2018, at scale 0.1."""
    out = tmp_path_factory.mktemp("story")
    summary = generate_sources(out, from_fy=2014, to_fy=2018, scale=Decimal("0.1"), seed=2015)
    return out, summary, check_sources(out)


# ------------------------------------------------------------------------------------ the contract


def test_sources_follow_the_contract(two_years):
    _, _, report = two_years
    assert report.error_count == 0, "\n".join(report.errors)
    assert report.asc_files > 500 and report.wp_journals > 500


def test_asc_file_bytes(two_years):
    out, _, _ = two_years
    inbound = out / "avon_somerset" / "inbound"
    data = (inbound / "ASC_GL_20160405_001.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfCompany Code,Fiscal Year,Posting Period,Document Number,Line Item,")
    assert data.endswith(b"\r\n") and data.count(b"\n") == data.count(b"\r\n") > 5
    control = (inbound / "ASC_GL_20160405_001.ctl").read_text(encoding="utf-8").splitlines()
    assert control[0] == "file=ASC_GL_20160405_001.csv"
    assert control[-1] == f"sha256={hashlib.sha256(data).hexdigest()}"


def test_asc_carries_what_real_files_carry(two_years):
    _, _, report = two_years
    assert report.asc_thousands_separators > 100
    assert report.asc_quoted_fields > report.asc_thousands_separators  # texts with commas and quotes too
    assert report.asc_non_ascii_texts > 10
    assert report.asc_redacted_vendors > 10
    assert report.asc_blank_document_dates > 0
    assert set(report.asc_document_types) == {"KR", "KG", "SA", "PR", "DR", "AB"}
    assert {13, 14, 15, 16} <= set(report.asc_periods)


def test_asc_delivers_every_business_day_and_the_year_end_close(two_years):
    out, _, report = two_years
    dates = {dt.datetime.strptime(p.name[7:15], "%Y%m%d").date()
             for p in (out / "avon_somerset" / "inbound").glob("*.csv")}
    day, weekdays = dt.date(2016, 4, 1), set()
    while day <= dt.date(2018, 3, 31):
        if day.weekday() < 5:
            weekdays.add(day)
        day += dt.timedelta(days=1)
    assert weekdays <= dates
    assert report.asc_weekend_deliveries >= 2  # the close Saturday after each year


def test_control_file_is_written_after_its_data_file(two_years):
    out, _, _ = two_years
    for data in sorted((out / "avon_somerset" / "inbound").glob("*.csv"))[:50]:
        assert data.with_suffix(".ctl").stat().st_mtime_ns >= data.stat().st_mtime_ns


def test_one_day_is_redelivered_with_a_corrected_file(two_years):
    out, summary, report = two_years
    assert len(report.asc_redeliveries) == 1
    (date_text, (sequences, dropped, changed)), = report.asc_redeliveries.items()
    assert sequences == 2 and dropped >= 1 and changed >= 1
    assert summary.redelivered_day == dt.datetime.strptime(date_text, "%Y%m%d").date()
    inbound = out / "avon_somerset" / "inbound"
    assert (inbound / f"ASC_GL_{date_text}_001.ctl").exists() and (inbound / f"ASC_GL_{date_text}_002.ctl").exists()


def test_wp_amounts_read_back_exactly(two_years):
    """A SQLAlchemy reader of numeric(14,2) gets exact Decimals: the stored values are the amounts."""
    import sqlalchemy as sa

    out, _, report = two_years
    assert set(report.wp_storage_types) <= {"real", "integer"}
    engine = sa.create_engine(f"sqlite:///{out / 'wiltshire' / 'erp.db'}")
    lines = sa.Table("gl_journal_line", sa.MetaData(), sa.Column("journal_id", sa.Integer),
                     sa.Column("line_no", sa.Integer), sa.Column("entered_dr", sa.Numeric(14, 2)),
                     sa.Column("entered_cr", sa.Numeric(14, 2)))
    with engine.connect() as connection:
        typed = connection.execute(sa.select(lines.c.entered_dr, lines.c.entered_cr)
                                   .order_by(lines.c.journal_id, lines.c.line_no)).all()
    engine.dispose()
    with sqlite3.connect(out / "wiltshire" / "erp.db") as raw:
        text = raw.execute("SELECT CAST(entered_dr AS TEXT), CAST(entered_cr AS TEXT) FROM gl_journal_line "
                           "ORDER BY journal_id, line_no").fetchall()
    assert len(typed) == len(text) > 10_000
    for (dr, cr), (dr_text, cr_text) in zip(typed, text):
        value, exact = (dr, dr_text) if dr is not None else (cr, cr_text)
        assert isinstance(value, Decimal) and value == Decimal(exact)


def test_wp_journals_as_the_contract_warns(two_years):
    _, _, report = two_years
    assert report.wp_unposted >= 5 and report.wp_unbalanced_unposted == 1
    assert report.wp_late_commits > 10
    assert report.wp_reversals > 10
    assert set(report.wp_sources) == {"AP", "AR", "GL", "PAY", "FA"}
    assert {"APR-16", "MAR-17", "ADJ-17", "APR-17", "MAR-18", "ADJ-18"} <= set(report.wp_periods)
    assert report.wp_redacted_suppliers > 10


def test_new_codes_and_restructured_cost_centres_appear(two_years):
    _, summary, report = two_years
    asc, wp = report.figures[("ASC", 2017)], report.figures[("WP", 2017)]
    assert asc.unmapped_cost_centres == {"AS310300"} and asc.unmapped_accounts == {"620800"}
    assert wp.unmapped_cost_centres == {"7660"} and wp.unmapped_accounts == {"53600"}
    for force in ("ASC", "WP"):
        for year in (2016, 2017):
            assert report.figures[(force, year)].restructure_lines > 0
            assert summary.years[(force, year)].unmapped_lines == report.figures[(force, year)].unmapped_lines


def test_summary_agrees_with_the_independent_reading(two_years):
    _, summary, report = two_years
    for (force, year), mine in summary.years.items():
        theirs = report.figures[(force, year)]
        assert (mine.lines, mine.documents) == (theirs.lines, theirs.documents)
        assert (mine.nre_pence, mine.pay_pence, mine.expenditure_pence) == (theirs.nre, theirs.pay, theirs.expenditure)
        assert (mine.alliance_nre_pence, mine.local_nre_pence) == (theirs.alliance, theirs.local)
        assert (mine.partner_paid_pence, mine.partner_received_pence) == (theirs.partner_paid, theirs.partner_received)


# ------------------------------------------------------------------------------------ the checker can fail


def test_checker_catches_a_changed_amount(two_years, tmp_path):
    out, _, _ = two_years
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    path = copy / "avon_somerset" / "inbound" / "ASC_GL_20160405_001.csv"
    lines = path.read_bytes().split(b"\r\n")
    plain = next(n for n, line in enumerate(lines[1:], start=1) if b'"' not in line)
    fields = lines[plain].split(b",")
    fields[11] = b"H" if fields[11] == b"S" else b"S"
    lines[plain] = b",".join(fields)
    path.write_bytes(b"\r\n".join(lines))
    with sqlite3.connect(copy / "wiltshire" / "erp.db") as db:
        journal = db.execute("SELECT journal_id FROM gl_journal WHERE status = 'P' LIMIT 1").fetchone()[0]
        db.execute("UPDATE gl_journal_line SET entered_dr = entered_dr + 1 WHERE journal_id = ? AND entered_dr IS NOT NULL",
                   (journal,))
    errors = "\n".join(check_sources(copy).errors)
    assert "ASC_GL_20160405_001.ctl: sha256 expected" in errors
    assert "does not balance" in errors
    assert f"journal {journal}: posted but does not balance" in errors


# ------------------------------------------------------------------------------------ determinism and scale


def test_same_seed_same_bytes_other_seed_other_bytes(two_years, tmp_path):
    out, _, _ = two_years
    generate_sources(tmp_path / "again", from_fy=2016, to_fy=2017, scale=Decimal("0.2"), seed=2015)
    assert _digests(tmp_path / "again") == _digests(out)
    generate_sources(tmp_path / "other", from_fy=2016, to_fy=2016, scale=Decimal("0.05"), seed=7)
    generate_sources(tmp_path / "other2", from_fy=2016, to_fy=2016, scale=Decimal("0.05"), seed=8)
    first, second = _digests(tmp_path / "other"), _digests(tmp_path / "other2")
    common = first.keys() & second.keys()
    assert len(common) > 500 and sum(first[k] != second[k] for k in common) > 0.9 * len(common)


def test_rerun_into_the_same_folder_replaces_the_earlier_output(tmp_path):
    generate_sources(tmp_path, from_fy=2016, to_fy=2016, scale=Decimal("0.05"), seed=1)
    first = _digests(tmp_path)
    generate_sources(tmp_path, from_fy=2017, to_fy=2017, scale=Decimal("0.05"), seed=1)
    generate_sources(tmp_path, from_fy=2016, to_fy=2016, scale=Decimal("0.05"), seed=1)
    assert _digests(tmp_path) == first


@pytest.mark.slow
def test_scale_multiplies_lines_not_money(two_years, tmp_path):
    _, small, small_report = two_years
    large = generate_sources(tmp_path, from_fy=2016, to_fy=2016, scale=Decimal("0.4"), seed=2015)
    large_report = check_sources(tmp_path)
    assert large_report.error_count == 0, "\n".join(large_report.errors)
    assert 17_000 <= small_report.lines_per_year(2016) <= 23_000
    assert 34_000 <= large_report.lines_per_year(2016) <= 46_000
    assert 0.70 <= large_report.figures[("ASC", 2016)].lines / large_report.lines_per_year(2016) <= 0.76
    for force in ("ASC", "WP"):
        assert large.years[(force, 2016)].nre_pence == small.years[(force, 2016)].nre_pence
        assert large_report.figures[(force, 2016)].nre == small_report.figures[(force, 2016)].nre


# ------------------------------------------------------------------------------------ the story


@pytest.mark.slow
def test_the_alliance_story(story):
    _, summary, report = story
    assert report.error_count == 0, "\n".join(report.errors)
    f = report.figures
    assert abs(f[("ASC", 2014)].nre - 276 * MILLION) <= 0.05 * 276 * MILLION
    assert abs(f[("WP", 2014)].nre - 105 * MILLION) <= 0.05 * 105 * MILLION
    for force in ("ASC", "WP"):
        assert Decimal("0.75") <= f[(force, 2014)].pay_share <= Decimal("0.85")
    assert 27 * MILLION <= report.savings(2018) <= 33 * MILLION
    assert 8 * MILLION <= report.savings(2017, forces=("WP",)) <= 12 * MILLION
    assert report.savings(2015) > 0 and report.savings(2016) > report.savings(2015)
    base_local = f[("ASC", 2014)].local + f[("WP", 2014)].local
    for year in range(2015, 2019):
        local = f[("ASC", year)].local + f[("WP", year)].local
        assert abs(local - base_local) <= 0.05 * base_local, year
    mismatches = {year: report.partner_mismatch(year) for year in range(2014, 2019)}
    assert [year for year, amount in mismatches.items() if amount] == [2016]
    assert f[("WP", 2016)].partner_paid > 3 * MILLION and f[("ASC", 2016)].partner_paid > 0
    assert summary.savings_pence(2018) == report.savings(2018)
    assert summary.partner_mismatch_pence(2016) == mismatches[2016]


@pytest.mark.slow
def test_programme_costs_appear_when_the_programme_starts(story):
    out, _, _ = story
    programme = {"AS310100": 2015, "AS310200": 2016}
    first_seen: dict[str, int] = {}
    for path in sorted((out / "avon_somerset" / "inbound").glob("*.csv")):
        for record in csv.reader(path.read_bytes().decode("utf-8-sig").split("\r\n")[1:-1]):
            if record[8] in programme:
                first_seen.setdefault(record[8], int(record[1]))
    assert first_seen == programme
    with sqlite3.connect(out / "wiltshire" / "erp.db") as db:
        period = db.execute("SELECT min(j.accounting_date) FROM gl_journal j JOIN gl_journal_line l USING (journal_id) "
                            "WHERE l.account_string LIKE 'WP.7650.%'").fetchone()[0]
    assert period.startswith("2016-04")


# ------------------------------------------------------------------------------------ the command


def test_command_line_prints_the_summary(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--from-fy", "2016", "--to-fy", "2016", "--scale", "0.05",
                 "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path) in printed and "ASC   2016/17" in printed and "WP    2016/17" in printed
    assert "intra-alliance flows differ" in printed  # FY 2016 is the mismatch year


@pytest.mark.parametrize("kwargs", [{"scale": Decimal(0)}, {"from_fy": 2017, "to_fy": 2016}])
def test_bad_arguments_are_refused(tmp_path, kwargs):
    arguments = {"from_fy": 2016, "to_fy": 2016, "scale": Decimal("0.1"), "seed": 1, **kwargs}
    with pytest.raises(ValueError):
        generate_sources(tmp_path, **arguments)
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------ the package


def test_only_the_command_line_and_the_demo_import_the_generator():
    """The generator is a package of its own (src/alliance_sample): the pipeline never needs it."""
    import ast

    import alliance_finance

    plugin = Path(alliance_finance.__file__).parent
    importers = set()
    for path in sorted(plugin.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "alliance_sample" or n.startswith("alliance_sample.") for n in names):
                importers.add(str(path.relative_to(plugin)))
    assert importers == {"cli.py", "demo.py"}


# ------------------------------------------------------------------------------------ the scenario


def _scenario_with(tmp_path: Path, old: str, new: str) -> Path:
    from alliance_sample.scenario import SCENARIO_FILE

    text = SCENARIO_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "scenario.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_package_scenario_loads():
    from alliance_sample.scenario import SCENARIO, load_scenario

    assert load_scenario() == SCENARIO
    assert SCENARIO.forces == ("ASC", "WP") and SCENARIO.baseline_fy == 2014
    assert SCENARIO.objectives["LP01"].pay_groups == {"off": 0.62, "pcso": 0.30, "staff": 0.08}


@pytest.mark.parametrize("old, new, key", [
    ("WP: {2015: 3100000, 2016: 6600000, 2017: 10100000", "WP: {2015: 3100000, 2016: 6600000, 2017: 10.1m",
     "savings.WP.2017"),
    ("    '7650':\n", "    7650:\n", "programme.WP.7650"),
    ("  fleet: {fuel: 0.45,", "  fleet: {petrol: 0.45,", "nonpay_mixes.fleet.petrol"),
    ("LP02: {share: 19.0,", "LP02: {share: -19.0,", "objectives.LP02.share"),
    ("nonpay: commissioning}", "nonpay: gardening}", "objectives.PCC02.nonpay"),
    ("timing: half_yearly}\n  WP:", "timing: yearly}\n  WP:", "income.ASC[13].timing"),
    ("  mismatch_fy: 2016\n", "", "partner_flows.mismatch_fy"),
    ("    off_sal: {'41000': 0.7", "    off_salary: {'41000': 0.7", "small_team_accounts.WP.off_salary"),
    ("split: {interest: 40, mrp: 60, rcco: 0}", "split: {interest: 40, mrp: 60}", "capital_financing.WP.split.rcco"),
])
def test_a_bad_scenario_value_is_refused_naming_its_key(tmp_path, old, new, key):
    from alliance_sample.scenario import ScenarioError, load_scenario

    with pytest.raises(ScenarioError, match=r"^scenario\.yaml: " + key.replace(".", r"\.").replace("[", r"\[")
                       .replace("]", r"\]") + ": expected"):
        load_scenario(_scenario_with(tmp_path, old, new))
