"""The board report on a night in the middle of a year (CHART.md "In-year tracking").

The warehouse of tests/test_in_year.py: both forces' ledgers run to 31 October 2016, so FY 2016's
figures run to September (P6). The page must say so, compare the year to date with the baseline's
same periods (ASC 240.00 against 300.00; the alliance 280.00 against 350.00, saving 70.00 against a
target to date of 4,772,727.27), forecast the whole year, and never put October's 999.00 (an open
period) or a whole baseline year beside part of a year. The charts plot the same year-to-date
figures; the page is checked as a browser renders it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from alliance_finance.marts.figures import read_board_figures
from alliance_finance.report import WORKBOOK_NAME, build_report
from alliance_finance.report.charts import chart_series
from alliance_finance.warehouse.engine import make_engine

from conftest import IN_CI
from in_year_ledger import BUDGETS, LEDGER
from warehouse_batches import build_warehouse, write_seeds

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def in_year(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in-year")
    url = f"sqlite:///{folder / 'w.db'}"
    build_warehouse(url, LEDGER, seeds_dir=write_seeds(folder / "seeds", budgets=BUDGETS)).dispose()
    files = build_report(url, folder / "report")
    return url, files


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_the_page_says_what_the_figures_run_to_and_compares_like_with_like(in_year):
    _, files = in_year
    text = _text(files.html)
    assert "Ledger complete to 31 October 2016; periods closed to September (P6) of FY 2016/17." in text
    assert "Alliance savings 2016/17, to September (P6) (year in progress) £70" in text
    assert "Target to date 2016/17, to September (P6) £4,772,727" in text
    assert "the year's target £15,000,000" in text
    # the whole year's forecast with the budget: 280.00 to date + 660.00 still to come = 940.00 against 1,100.00
    assert "Forecast savings for the whole of 2016/17 £160" in text
    # the savings table's current year runs to P6, beside its own baseline periods; complete years run whole
    assert "2016/17 to September (P6) ALL £350 £280 £70 £4,772,727" in text
    assert "£1,239" not in text  # ASC's NRE with October's open period never stands in a comparison
    assert "Budget against actual by function, 2016/17 (to September (P6))" in text


def test_the_charts_plot_year_to_date_against_year_to_date(in_year):
    url, _ = in_year
    engine = make_engine(url)
    try:
        series = chart_series(read_board_figures(engine))
    finally:
        engine.dispose()
    savings = series["savings_vs_target"]
    now = savings["labels"].index("2016/17 to P6")
    assert savings["bars"]["ALL"][now] == Decimal("70.00")  # not 1,239.00 + 41.00 against a whole baseline
    assert savings["targets"]["ALL"][now] == Decimal("4772727.27")  # the target to date, not the year's 15m
    assert savings["targets"]["ALL"][savings["labels"].index("2017/18")] == Decimal("22500000")  # later years: the year's
    local = series["local_policing"]
    assert local["labels"] == ["2014/15", "2016/17 to P6"]
    # local policing to P6, 90.00 against the baseline's P1-P6 100.00: 90%, not 90.00 against 200.00
    assert local["lines"]["ALL"] == local["lines"]["ASC"] == [Decimal("100.0"), Decimal("90.0")]
    assert savings["bars"]["WP"][now] == Decimal("10.00")


def test_the_workbook_carries_the_in_year_figures(in_year):
    _, files = in_year
    book = load_workbook(files.html.with_name(WORKBOOK_NAME), read_only=True)
    assert {"v_fiscal_year_status", "v_budget_vs_outturn", "v_savings_share", "v_post_close_adjustments"} <= set(
        book.sheetnames)
    sheet = book["v_savings_tracker"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    alliance = [dict(zip(header, r)) for r in rows[1:]
                if r[header.index("force_code")] == "ALL" and r[header.index("fiscal_year")] == 2016
                and r[header.index("alliance_scope")] == "alliance"][0]
    assert (alliance["through_period"], Decimal(str(alliance["ytd_savings"]))) == (6, Decimal("70.00"))


def test_the_in_year_page_renders_in_headless_chromium(in_year, tmp_path):
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is not installed (make test installs Debian's chromium): CI must run this test")
        pytest.skip("chromium not installed")
    _, files = in_year
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
              "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'p'}",
              "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", "--window-size=1280,4000"]
    dom = subprocess.run(common + ["--dump-dom", files.html.as_uri()], capture_output=True, text=True, timeout=120,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom.stdout))
    assert "Ledger complete to 31 October 2016; periods closed to September (P6) of FY 2016/17." in rendered
    assert "Forecast savings for the whole of 2016/17" in rendered
    assert (files.html.parent / "savings_vs_target.png").read_bytes().startswith(b"\x89PNG")


def test_the_first_night_of_a_year_says_no_period_is_closed_yet(tmp_path):
    """On 30 April, April is not closed: the headline says so rather than 'on or ahead of target by £0'."""
    ledger = [r for r in LEDGER if r[1] == 2014] + [("ASC", 2016, 1, "AS200010", "OS04", "OFF_PAY", "90.00"),
                                                     ("WP", 2016, 1, "7100", "SF02", "STF_PAY", "5.00")]
    url = f"sqlite:///{tmp_path / 'w.db'}"
    build_warehouse(url, ledger, seeds_dir=write_seeds(tmp_path / "seeds")).dispose()
    text = _text(build_report(url, tmp_path / "report").html)
    assert "Ledger complete to 30 April 2016; nothing closed yet." in text
    assert "Position no period closed yet" in text and "on or ahead of target" not in text
