"""Drill-down (issue #16): every figure of every view followed down to its ledger lines, whose signed
sum is the figure to the penny, on SQLite and PostgreSQL.

Two hand-built warehouses: the finance views' ledger (warehouse_batches.LEDGER: partner flows,
programme costs, suspense, a balance-sheet line, complete years) and the in-year ledger cut in FY
2016 (in_year_ledger.py: figures to P6, the P7 lines outside every year-to-date figure) with
finance's budgets and one post-close adjustment. For each, every row of every drillable view and
every measure that is a sum of lines: the lines' signed sum equals the view's figure, and the
summaries' count and sum (the workbook's drill-down sheet) equal the lines'.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from alliance_finance.cli import main
from alliance_finance.marts.drill_lines import load_summaries, summary_totals
from alliance_finance.marts.drilldown import VIEWS, DrilldownRefused, FigureSpec, drill, iter_lines
from alliance_finance.marts.figures import read_view
from alliance_finance.report import build_report
from alliance_finance.report.drill_sheet import LINKED_VIEWS

from conftest import drop_pg_database, new_pg_database
from in_year_ledger import BUDGETS
from in_year_ledger import LEDGER as IN_YEAR_LEDGER
from warehouse_batches import LEDGER, build_warehouse, write_seeds

D = Decimal


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dialect(request):
    return request.param


def _build(dialect: str, tmp_path_factory, ledger, seeds=None):
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('wh') / 'warehouse.db'}"
        return url, build_warehouse(url, ledger, seeds_dir=seeds), None
    url = new_pg_database()
    return url, build_warehouse(url, ledger, seeds_dir=seeds), url


@pytest.fixture(scope="module")
def finance(dialect, tmp_path_factory):
    url, engine, pg = _build(dialect, tmp_path_factory, LEDGER)
    yield url, engine
    engine.dispose()
    if pg:
        drop_pg_database(pg)


@pytest.fixture(scope="module")
def in_year(dialect, tmp_path_factory):
    seeds = write_seeds(tmp_path_factory.mktemp("seeds"), budgets=BUDGETS)
    url, engine, pg = _build(dialect, tmp_path_factory, IN_YEAR_LEDGER, seeds)
    with engine.begin() as conn:
        # WP's FY 2016 P3 line (40.00), as if its delivery had come after P3 closed
        conn.execute(sa.text(
            "INSERT INTO post_close_adjustment (batch_id, force_code, fiscal_year, period, basis, closed_on, "
            "amount_pence, line_count) SELECT batch_id, 'WP', 2016, 3, 'inferred', NULL, 4000, 1 FROM etl_batch "
            "WHERE force_code = 'WP' AND status = 'loaded'"))
    yield url, engine
    engine.dispose()
    if pg:
        drop_pg_database(pg)


@pytest.fixture(scope="module")
def run_rate(dialect, tmp_path_factory):
    """The in-year ledger without budgets: FY 2016's forecasts are run rates."""
    seeds = write_seeds(tmp_path_factory.mktemp("seeds"), budgets="")
    url, engine, pg = _build(dialect, tmp_path_factory, IN_YEAR_LEDGER, seeds)
    yield url, engine
    engine.dispose()
    if pg:
        drop_pg_database(pg)


def _every_figure(engine: sa.Engine) -> dict[str, int]:
    """Drill into every figure of every view; returns how many figures of each view were checked."""
    checked = {view: 0 for view in VIEWS}
    with engine.connect() as conn:
        summaries = load_summaries(conn)
        for view, drillable in VIEWS.items():
            for row in read_view(conn, view, "1"):
                for measure in drillable.measures:
                    spec = FigureSpec(view, measure, {k: row[k] for k in drillable.keys})
                    try:
                        drilldown = drill(conn, spec)
                    except DrilldownRefused as exc:
                        assert not exc.usage, exc
                        twin = row.get(f"{measure}_pence", row.get(f"{measure}_hundredths"))
                        # refused only where there is no figure or it is a projection, never otherwise
                        assert twin is None or "not a sum of ledger lines" in str(exc), exc
                        continue
                    lines = list(iter_lines(conn, drilldown))
                    assert sum(line["signed_amount_pence"] for line in lines) == drilldown.figure_pence, spec
                    assert sum(line["signed_amount"] for line in lines) == D(drilldown.figure_pence).scaleb(-2)
                    assert all(line["signed_amount_pence"] == line["sign"] * line["amount_pence"] for line in lines)
                    # a line (a budget's month: its objective, subjective and period) once in each part
                    assert len({(line["part"], line["force_code"], line["source_line_ref"] or (
                        line["objective_code"], line["subjective_code"], line["period"])) for line in lines}) \
                        == len(lines), f"{spec.describe()}: a line twice"
                    totals = summary_totals(summaries, drilldown.parts)
                    if totals is not None:
                        # a budget's months are summed in budget_summary, not counted
                        assert totals[0] in (None, len(lines)) and totals[1] == drilldown.figure_pence, spec
                    checked[view] += 1
    return checked


def test_every_figure_of_every_view_is_the_signed_sum_of_its_lines(finance):
    checked = _every_figure(finance[1])
    for view in ("v_savings_tracker", "v_local_policing", "v_consolidated_spend", "v_cost_share", "v_settlement",
                 "v_savings_share", "v_budget_vs_outturn", "v_intra_alliance_reconciliation", "v_unmapped_codes",
                 "v_ledger_freshness"):
        assert checked[view] >= 2, (view, checked)


def test_every_figure_of_a_year_in_progress_is_the_signed_sum_of_its_lines(in_year, run_rate):
    checked = _every_figure(in_year[1])
    assert checked["v_post_close_adjustments"] == 1 and checked["v_budget_vs_outturn"] > 0, checked
    _every_figure(run_rate[1])


def test_a_forecast_by_budget_is_the_lines_to_date_and_the_budgets_months_to_come(in_year):
    """ASC's FY 2016 alliance forecast: 240.00 of lines to P6 (the P7 line out) and the budget's
    P7-P12, 6 x 100.00."""
    with in_year[1].connect() as conn:
        drilldown = drill(conn, FigureSpec("v_savings_tracker", "forecast_nre",
                                           {"fiscal_year": 2016, "force_code": "ASC", "alliance_scope": "alliance"}))
        lines = list(iter_lines(conn, drilldown))
    assert drilldown.figure_pence == 84000
    assert sorted((line["part"], line["period"], line["amount"]) for line in lines) == [
        ("budget_rest", p, D("100.00")) for p in range(7, 13)] + [("ytd_nre", 1, D("90.00")), ("ytd_nre", 5, D("150.00"))]
    assert {line["source"] for line in lines if line["part"] == "budget_rest"} == {"budget (given profile)"}


def test_a_year_to_date_takes_the_periods_it_runs_to_and_the_baselines_same_periods(in_year):
    """FY 2016 runs to P6: savings to date 350.00 - 280.00 = 70.00 over six lines, the P7 lines out."""
    with in_year[1].connect() as conn:
        drilldown = drill(conn, FigureSpec("v_savings_tracker", "ytd_savings",
                                           {"fiscal_year": 2016, "force_code": "ALL", "alliance_scope": "alliance"}))
        lines = list(iter_lines(conn, drilldown))
    assert drilldown.figure_pence == 7000
    assert sorted((line["part"], line["force_code"], line["fiscal_year"], line["period"], line["signed_amount"])
                  for line in lines) == [
        ("ytd_baseline_nre", "ASC", 2014, 1, D("100.00")), ("ytd_baseline_nre", "ASC", 2014, 4, D("200.00")),
        ("ytd_baseline_nre", "WP", 2014, 2, D("50.00")),
        ("ytd_nre", "ASC", 2016, 1, D("-90.00")), ("ytd_nre", "ASC", 2016, 5, D("-150.00")),
        ("ytd_nre", "WP", 2016, 3, D("-40.00"))]
    first = lines[0]
    assert first["source"] and first["document_ref"] and first["source_line_ref"] and first["batch_id"]
    assert first["account_mapping"].startswith("account ") and first["cost_centre_mapping"].startswith("cost centre ")


def test_a_figure_that_is_no_sum_of_lines_is_refused_with_the_reason(in_year):
    with in_year[1].connect() as conn:
        with pytest.raises(DrilldownRefused, match="not a sum of ledger lines") as refused:
            drill(conn, FigureSpec("v_savings_tracker", "target",
                                   {"fiscal_year": 2016, "force_code": "ALL", "alliance_scope": "alliance"}))
        assert refused.value.usage
        with pytest.raises(DrilldownRefused, match="has no such row"):
            drill(conn, FigureSpec("v_savings_tracker", "nre",
                                   {"fiscal_year": 2030, "force_code": "ALL", "alliance_scope": "alliance"}))


def test_a_forecast_by_run_rate_is_refused_and_its_year_to_date_drills(run_rate):
    key = {"fiscal_year": 2016, "force_code": "ASC", "function_code": "OS"}
    with run_rate[1].connect() as conn:
        with pytest.raises(DrilldownRefused, match="forecast is by run_rate") as refused:
            drill(conn, FigureSpec("v_budget_vs_outturn", "forecast", key))
        assert not refused.value.usage
        drilldown = drill(conn, FigureSpec("v_budget_vs_outturn", "actual_to_date", key))
        assert sum(line["signed_amount_pence"] for line in iter_lines(conn, drilldown)) == drilldown.figure_pence == 24000


def test_explain_writes_xlsx_and_csv_whose_lines_sum_to_the_figure(finance, tmp_path, capsys):
    url, _ = finance
    figure = ["--view", "v_cost_share", "--measure", "net_cost", "--fiscal-year", "2016", "--force", "WP"]
    assert main(["explain", "--warehouse", url, *figure, "--out", str(tmp_path / "net_cost.csv")]) == 0
    with (tmp_path / "net_cost.csv").open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    # WP's programme cost centre 7650: 100,000.01 - 0.02 incurred (99,999.99), 50,000.00 paid to ASC
    assert sum(D(line["signed_amount"]) for line in lines) == D("149999.99")
    assert sorted(line["part"] for line in lines) == ["incurred", "incurred", "paid_to_partner"]
    assert "149,999.99" in capsys.readouterr().out

    assert main(["explain", "--warehouse", url, *figure, "--out", str(tmp_path / "net_cost.xlsx")]) == 0
    book = load_workbook(tmp_path / "net_cost.xlsx")
    summary = {row[0]: row[1] for row in book["figure"].iter_rows(values_only=True)}
    assert summary["equal"] == "yes" and summary["lines"] == 3
    assert D(repr(summary["figure (the view)"])) == D(repr(summary["lines' signed sum"])) == D("149999.99")
    sheet = list(book["lines"].iter_rows(values_only=True))
    header = sheet[0]
    assert sum(D(repr(r[header.index("signed_amount")])) for r in sheet[1:]) == D("149999.99")
    assert "--out net_cost.xlsx" in summary["command"]


@pytest.mark.parametrize("arguments, status, message", [
    (["--view", "v_savings_tracker", "--measure", "target", "--fiscal-year", "2016", "--force", "ALL",
      "--scope", "alliance"], 2, "not a sum of ledger lines"),
    (["--view", "v_savings_tracker", "--measure", "nre", "--fiscal-year", "2016", "--force", "ALL"], 2,
     "--scope missing"),
    (["--view", "v_savings_tracker", "--measure", "nre", "--fiscal-year", "2031", "--force", "ALL",
      "--scope", "alliance"], 1, "has no such row"),
    (["--view", "v_intra_alliance_reconciliation", "--measure", "paid", "--fiscal-year", "2016", "--payer", "WP",
      "--payee", "none"], 1, "has no such row"),
])
def test_explain_refuses_naming_the_figure_and_the_reason(finance, tmp_path, capsys, arguments, status, message):
    out = tmp_path / "lines.csv"
    assert main(["explain", "--warehouse", finance[0], *arguments, "--out", str(out)]) == status
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_workbook_links_each_figure_to_its_drill_down_row_and_back(finance, tmp_path):
    url, engine = finance
    files = build_report(engine, tmp_path / "report")
    book = load_workbook(files.workbook)
    drill_rows = list(book["drill-down"].iter_rows(min_row=1))
    header = [c.value for c in drill_rows[0]]
    col = {name: i for i, name in enumerate(header)}
    assert all(r[col["equal"]].value == "yes" for r in drill_rows[1:])
    linked = 0
    for view in LINKED_VIEWS:
        sheet = book[view]
        names = [c.value for c in sheet[1]]
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if cell.hyperlink is None:
                    continue
                sheet_name, _, target = cell.hyperlink.location.partition("!")
                assert sheet_name == "'drill-down'"
                row = drill_rows[int(target[1:]) - 1]
                measure = names[cell.column - 1]
                assert (row[col["view"]].value, row[col["measure"]].value) == (view, measure)
                assert D(repr(row[col["figure"]].value)) == D(repr(cell.value))
                assert row[col["view"]].hyperlink.location == f"'{view}'!{cell.coordinate}"
                linked += 1
        assert any(c.hyperlink for cells in sheet.iter_rows(min_row=2) for c in cells), view
    assert linked == len(drill_rows) - 1
    # one command from the sheet, run as a user would: its lines sum to the figure
    row = next(r for r in drill_rows[1:] if r[col["view"]].value == "v_savings_tracker"
               and r[col["measure"]].value == "savings" and "force_code ALL" in r[col["row"]].value)
    words = row[col["command"]].value.split()
    out = tmp_path / "savings.csv"
    assert main(words[1:-1] + [str(out), "--warehouse", url]) == 0
    with out.open(encoding="utf-8") as f:
        assert sum(D(line["signed_amount"]) for line in csv.DictReader(f)) == D(repr(row[col["figure"]].value))


def test_a_warehouse_made_before_the_drill_down_gains_the_line_columns_at_its_next_upgrade(warehouse_url):
    """v_nre_line as released before (no source columns): the next upgrade recreates it from sql/views,
    every line kept, and the figures drill down."""
    from alliance_finance.warehouse import meta, migrate

    engine = build_warehouse(warehouse_url)
    schema = "alliance." if engine.dialect.name == "postgresql" else ""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP VIEW {schema}v_nre_line")
        conn.exec_driver_sql(
            f"CREATE VIEW {schema}v_nre_line AS SELECT f.fiscal_year, f.period, f.force_code, f.cost_centre, "
            "COALESCE(o.function_code, 'UNMAPPED') AS function_code, f.objective_code, f.subjective_code, "
            "COALESCE(o.alliance_scope, 'unmapped') AS alliance_scope, f.amount_pence "
            f"FROM {schema}fact_ledger_line AS f LEFT JOIN {schema}dim_objective AS o ON o.objective_code = f.objective_code "
            f"LEFT JOIN {schema}dim_subjective AS s ON s.subjective_code = f.subjective_code "
            "WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner')")
        meta.set_meta(conn, meta.VIEWS_DIGEST, "the views as released before the drill-down")
    lines_before = query_lines(engine)
    migrate.upgrade(engine)
    assert query_lines(engine) == lines_before
    with engine.connect() as conn:
        columns = list(conn.execute(sa.text("SELECT * FROM v_nre_line")).keys())
        assert columns[:9] == ["fiscal_year", "period", "force_code", "cost_centre", "function_code", "objective_code",
                               "subjective_code", "alliance_scope", "amount_pence"]
        assert columns[9:] == ["posting_date", "source_line_ref", "document_ref", "source_line_number", "batch_id",
                               "local_account"]
        drilldown = drill(conn, FigureSpec("v_savings_tracker", "savings",
                                           {"fiscal_year": 2016, "force_code": "ALL", "alliance_scope": "alliance"}))
        assert sum(line["signed_amount_pence"] for line in iter_lines(conn, drilldown)) == drilldown.figure_pence
    engine.dispose()


def query_lines(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT force_code, source_line_ref, amount_pence FROM fact_ledger_line ORDER BY 1, 2"))]


def test_a_figure_as_of_a_moment_drills_to_the_lines_of_that_moment(warehouse_url):
    """On a connection showing the warehouse as of a moment (marts.as_of), the figure and its lines are
    the moment's: a delivery loaded later is in neither."""
    import datetime as dt
    import time

    from alliance_finance.marts.as_of import connection_as_of
    from alliance_finance.warehouse.load import BatchLoader
    from alliance_finance.warehouse.meta import utcnow

    from warehouse_batches import asc_batch, balanced_document, ready_warehouse

    from alliance_finance.marts.seeds import sync_finance_seeds

    engine = ready_warehouse(warehouse_url)
    with engine.begin() as conn:
        sync_finance_seeds(conn)  # the programme cost centres (ASC AS310100)
    day = dt.date(2016, 6, 10)
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(balanced_document("ASC1/2016/1", 100_00, cost_centre="AS310100", fiscal_year=2016,
                                                       period=3, posting_date=day), day=day)).loaded
    time.sleep(0.01)
    moment = utcnow()
    time.sleep(0.01)
    later = day + dt.timedelta(days=1)
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(balanced_document("ASC1/2016/2", 50_00, cost_centre="AS310100", fiscal_year=2016,
                                                       period=3, posting_date=later), day=later)).loaded
    spec = FigureSpec("v_cost_share", "incurred", {"fiscal_year": 2016, "force_code": "ASC"})
    found = {}
    for when in (moment, None):
        with connection_as_of(engine, when) as conn:
            drilldown = drill(conn, spec)
            lines = list(iter_lines(conn, drilldown))
        assert sum(line["signed_amount_pence"] for line in lines) == drilldown.figure_pence
        found[when] = (drilldown.figure_pence, sorted(line["source_line_ref"] for line in lines))
    assert found[moment] == (100_00, ["ASC1/2016/1/1"])
    assert found[None] == (150_00, ["ASC1/2016/1/1", "ASC1/2016/2/1"])
    engine.dispose()


def test_a_programme_cost_centre_counts_in_its_years_only_in_its_figures_and_their_lines(warehouse_url, tmp_path):
    """AS310100 a programme cost centre from FY 2016 only: its FY 2015 lines (120,000.00) are in no FY 2015
    programme figure, and every figure still equals its lines."""
    header = "force_code,cost_centre,cost_centre_name,programme,valid_from_fy,valid_to_fy\n"
    seeds = write_seeds(tmp_path / "seeds", centres=header + (
        "ASC,AS310100,Alliance Programme Team,Alliance programme team,2016,\n"
        "ASC,AS310200,Joint ICT Programme,Joint ICT programme,,\n"
        "WP,7650,Alliance ICT Transition,Joint ICT programme,,\n"))
    engine = build_warehouse(warehouse_url, LEDGER, seeds_dir=seeds)
    try:
        with engine.connect() as conn:
            drilldown = drill(conn, FigureSpec("v_cost_share", "incurred", {"fiscal_year": 2015, "force_code": "ASC"}))
            assert drilldown.figure_pence == 0 and list(iter_lines(conn, drilldown)) == []
        checked = _every_figure(engine)
        assert checked["v_cost_share"] > 0 and checked["v_settlement"] > 0
    finally:
        engine.dispose()
