"""End to end: generated sources → ``alliance-finance run`` (real readers and validation) → warehouse.

The expected figures are computed here independently, with the standard library only: the ASC
files read with ``csv`` (the last delivery of each business day), the Wiltshire database with
``sqlite3`` (posted journals), and the reference CSVs' mapping rule applied in plain Python. The
warehouse must agree to the penny by force, fiscal year, objective and subjective.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

import alliance_sample

from alliance_finance.config.settings import Settings
from alliance_finance.runner.command import run_cli
from alliance_finance.core.paths import REFERENCE_DIR
from alliance_finance.warehouse.engine import make_engine
from warehouse_batches import fact_checksum, query

pytestmark = pytest.mark.slow

FISCAL_YEAR = 2014


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources")
    alliance_sample.generate_sources(out, from_fy=FISCAL_YEAR, to_fy=FISCAL_YEAR, scale=Decimal("0.02"), seed=11)
    return out


# -- the sources' own totals, by the standard library ----------------------------------------------

def _reference():
    def rows(name):
        with (REFERENCE_DIR / name).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    kinds = {r["subjective_code"]: r["kind"] for r in rows("common_subjectives.csv")}
    accounts = {("ASC", r["gl_account"]): r["subjective_code"] for r in rows("avon_somerset_gl_accounts.csv")}
    accounts |= {("WP", r["natural_account"]): r["subjective_code"] for r in rows("wiltshire_natural_accounts.csv")}
    cost_centres = defaultdict(list)
    for force, name in (("ASC", "avon_somerset_cost_centres.csv"), ("WP", "wiltshire_cost_centres.csv")):
        for r in rows(name):
            cost_centres[(force, r["cost_centre"])].append(
                (int(r["valid_from_fy"] or 0), int(r["valid_to_fy"] or 9999), r["objective_code"]))
    return kinds, accounts, cost_centres


def _codes(force, cost_centre, account, fiscal_year, reference) -> tuple[str, str]:
    kinds, accounts, cost_centres = reference
    subjective = accounts.get((force, account), "UNMAPPED")
    if kinds.get(subjective) == "balance_sheet":
        return "BS00", subjective
    for first, last, objective in cost_centres.get((force, cost_centre), []):
        if first <= fiscal_year <= last:
            return objective, subjective
    return "UNMAPPED", subjective


def _pence(text: str) -> int:
    return int(Decimal(text.replace(",", "")) * 100)


def source_totals(root: Path) -> tuple[Counter, Counter]:
    """(pence, lines) by (force, fiscal year, objective, subjective), straight from the sources."""
    reference = _reference()
    pence, lines = Counter(), Counter()
    final = {}
    for path in sorted((root / "avon_somerset" / "inbound").glob("ASC_GL_*.csv")):
        if path.with_suffix(".ctl").exists():
            day = path.name[7:15]
            final[day] = path  # sorted by name: the highest sequence of a day comes last
    for path in final.values():
        with path.open(newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                fiscal_year = int(row["Fiscal Year"])
                key = ("ASC", fiscal_year) + _codes("ASC", row["Cost Centre"], row["GL Account"], fiscal_year, reference)
                sign = 1 if row["D/C"] == "S" else -1
                pence[key] += sign * _pence(row["Amount"])
                lines[key] += 1
    months = {m: i for i, m in enumerate(("APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
                                          "JAN", "FEB", "MAR"), start=1)}
    with sqlite3.connect(root / "wiltshire" / "erp.db") as db:
        for period_name, account_string, debit, credit in db.execute(
                "SELECT j.period_name, l.account_string, CAST(l.entered_dr AS TEXT), CAST(l.entered_cr AS TEXT) "
                "FROM gl_journal AS j JOIN gl_journal_line AS l ON l.journal_id = j.journal_id "
                "WHERE j.status = 'P'"):
            month, year = period_name.split("-")
            fiscal_year = 2000 + int(year) - (1 if month == "ADJ" or months[month] >= 10 else 0)
            _, cost_centre, account, _ = account_string.split(".")
            key = ("WP", fiscal_year) + _codes("WP", cost_centre, account, fiscal_year, reference)
            pence[key] += _pence(debit) if debit is not None else -_pence(credit)
            lines[key] += 1
    return pence, lines


def warehouse_totals(engine) -> tuple[Counter, Counter]:
    pence, lines = Counter(), Counter()
    for force, fiscal_year, objective, subjective, amount, count in query(
            engine, "SELECT force_code, fiscal_year, objective_code, subjective_code, SUM(amount_pence), COUNT(*) "
                    "FROM fact_ledger_line GROUP BY force_code, fiscal_year, objective_code, subjective_code"):
        pence[(force, fiscal_year, objective, subjective)] = int(amount)
        lines[(force, fiscal_year, objective, subjective)] = int(count)
    return pence, lines


def test_generated_sources_load_to_the_penny_and_a_rerun_changes_nothing(generated, warehouse_url, capsys):
    assert run_cli(Settings.from_environment(warehouse=warehouse_url, sources_dir=generated)) == 0
    out = capsys.readouterr().out
    assert "ASC:" in out and "1 superseded" in out and "0 rejected" in out
    engine = make_engine(warehouse_url)
    expected_pence, expected_lines = source_totals(generated)
    got_pence, got_lines = warehouse_totals(engine)
    assert got_lines == expected_lines
    assert got_pence == expected_pence
    assert sum(got_pence.values()) == 0  # every document and journal balances
    assert {k[1] for k in got_pence} == {FISCAL_YEAR}
    # row accounting per batch, and nothing left in a half state
    assert query(engine, "SELECT COUNT(*) FROM etl_batch WHERE status <> 'rejected' "
                         "AND rows_read <> rows_loaded + rows_quarantined") == [(0,)]

    before = fact_checksum(engine)
    assert run_cli(Settings.from_environment(warehouse=warehouse_url, sources_dir=generated)) == 0
    assert "ASC: nothing new to load" in capsys.readouterr().out
    assert fact_checksum(engine) == before
    engine.dispose()


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ALLIANCE_VAR_DIR=str(tmp_path / "var"))
    env.pop("ALLIANCE_FAULT_PAUSE", None)
    return subprocess.run([sys.executable, "-m", "alliance_finance.cli", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_parallel_run_loads_both_forces_side_by_side_to_the_same_penny(generated, pg_url, tmp_path):
    """``run --parallel``: the two forces in processes of their own, one set of Data Docs for both."""
    done = _cli(["run", "--sources", str(generated), "--warehouse", pg_url, "--parallel"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ASC:" in done.stdout and "WP:" in done.stdout and "1 superseded" in done.stdout
    engine = make_engine(pg_url)
    try:
        expected_pence, expected_lines = source_totals(generated)
        got_pence, got_lines = warehouse_totals(engine)
        assert got_lines == expected_lines
        assert got_pence == expected_pence
        # both forces' validation results stored, the Data Docs brought up to date once, by the
        # process that finished last, with both forces' pages
        assert done.stderr.count("Data Docs brought up to date") == 1, done.stderr
        docs = tmp_path / "var" / "data_docs"
        batches = " ".join(p.read_text() for p in (docs / "results" / "batches").glob("*.json"))
        assert '"force_code": "ASC"' in batches and '"force_code": "WP"' in batches
        pages = [p.name for p in (docs / "validations").rglob("*.html")]
        results = [p.name for p in (docs / "results" / "gx").rglob("*.json")]
        assert len(pages) == len(results) > 0

        before = fact_checksum(engine)
        again = _cli(["run", "--sources", str(generated), "--warehouse", pg_url, "--parallel"], tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "ASC: nothing new to load" in again.stdout and "WP: nothing new to load" in again.stdout
        assert "Data Docs" not in again.stderr  # nothing validated: no Great Expectations started
        assert fact_checksum(engine) == before
    finally:
        engine.dispose()


def test_parallel_run_reports_the_force_that_failed_and_loads_the_other(generated, pg_url, tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(generated / "avon_somerset", sources / "avon_somerset")  # no wiltshire/erp.db
    done = _cli(["run", "--sources", str(sources), "--warehouse", pg_url, "--parallel"], tmp_path)
    assert done.returncode == 1
    assert "WP: run failed:" in done.stderr and "erp.db" in done.stderr
    assert "ASC:" in done.stdout and "0 rejected" in done.stdout
    engine = make_engine(pg_url)
    try:
        forces = {force for force, in query(engine, "SELECT DISTINCT force_code FROM fact_ledger_line")}
        assert forces == {"ASC"}
    finally:
        engine.dispose()


def test_stopping_a_parallel_run_stops_both_passes_and_leaves_no_half_batch(generated, pg_url, tmp_path):
    """SIGTERM to ``run --parallel`` (a scheduler or an operator stopping it) stops both processes;
    the batch in flight rolls back, and the next run loads everything."""
    env = dict(os.environ, ALLIANCE_VAR_DIR=str(tmp_path / "var"), ALLIANCE_FAULT_PAUSE="ASC.load.staged:2",
               ALLIANCE_FAULT_PAUSE_SECONDS="60")
    command = [sys.executable, "-m", "alliance_finance.cli", "run", "--sources", str(generated),
               "--warehouse", pg_url, "--parallel"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        paused = None
        for line in process.stderr:  # the ASC pass stops inside its second batch's transaction
            if line.startswith("ALLIANCE-FAULT-PAUSE"):
                paused = int(line.split("pid=")[1])
                break
        assert paused is not None, "the run never reached the fault point"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) != 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(paused, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the ASC process {paused} outlived its parent")
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()

    engine = make_engine(pg_url)
    try:
        # nothing half-loaded: each loaded batch holds exactly its lines
        assert query(engine, "SELECT COUNT(*) FROM etl_batch b WHERE b.status = 'loaded' AND b.rows_loaded <> "
                             "(SELECT COUNT(*) FROM fact_ledger_line f WHERE f.batch_id = b.batch_id)") == [(0,)]
        assert query(engine, "SELECT COUNT(*) FROM etl_batch WHERE force_code = 'ASC' AND status = 'loaded'") == [(1,)]
    finally:
        engine.dispose()
    done = _cli(["run", "--sources", str(generated), "--warehouse", pg_url, "--parallel"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    engine = make_engine(pg_url)
    try:
        assert warehouse_totals(engine) == source_totals(generated)
    finally:
        engine.dispose()
