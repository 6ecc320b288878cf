"""A third force by configuration alone: Gloucestershire (GLO) joins the alliance, on SQLite and PostgreSQL.

A temporary forces file adds GLO (an ``erp_sql`` source, its own reference files, finance role,
colour and partner accounts) and names the partner accounts ASC and WP record flows with GLO on;
a temporary reference folder holds the project's files, GLO's two local charts and those new partner
accounts; a temporary seeds folder adds GLO's programme cost centre. Nothing else changes: the
warehouse, the views, the roles and the report are driven by that configuration. The forces' lines
are hand-built batches loaded through the real loader (tests/warehouse_batches.py); a last test reads
GLO's journals from its own ERP database through the source registry and loads them.

The figures, worked by hand (pounds):

    FY 2014 (baseline, alliance scope)  ASC 600,000.00   WP 300,000.00   GLO 100,000.00  -> key 0.6 : 0.3 : 0.1
    FY 2016 programme costs             ASC 200,000.00 (AS310100)        GLO  50,000.00 (G900) = 250,000.00
    FY 2016 partner flows               GLO pays ASC 20,000.00 on G900 (a programme settlement), ASC books it;
                                        GLO pays WP 5,000.00 on G100, WP books only 4,000.00;
                                        GLO pays 123.45 on an account that names no partner

    fair shares 150,000.00 / 75,000.00 / 25,000.00; net cost ASC 180,000.00, WP 0.00, GLO 70,000.00;
    balances ASC -30,000.00, WP +75,000.00, GLO -45,000.00 (sum 0)
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from alliance_finance.config.forces import FORCES_FILE, load_forces
from alliance_finance.config.settings import Settings
from alliance_finance.core.paths import REFERENCE_DIR
from alliance_finance.marts.figures import read_view
from alliance_finance.marts.seeds import SEEDS_DIR, load_finance_seeds
from alliance_finance.report import HTML_NAME, build_report
from alliance_finance.sources.registry import reader_for
from alliance_finance.warehouse import security
from alliance_finance.warehouse.load import BatchLoader

import wp_fixtures as wp
from warehouse_batches import fact_checksum, force_batch, line, query, ready_warehouse

D = Decimal

GLO = {
    "code": "GLO",
    "name": "Gloucestershire Constabulary",
    "source_format": "erp_sql",
    "source": {"database": "gloucestershire/erp.db", "account_prefix": "GLO"},
    "reference": {"cost_centres": "gloucestershire_cost_centres.csv", "accounts": "gloucestershire_accounts.csv"},
    "partner_accounts": {"5520": "ASC", "5530": "WP", "4500": "ASC"},
    "finance_role": "glo_finance",
    "report_colour": "#8e44ad",
    "schedule": "0 3 * * *",
    "timezone": "Europe/London",
    "owner": "glo-finance-data",
    "warehouse_conn_id": "alliance_warehouse",
    "source_conn_id": "gloucestershire_erp",
    "tags": ["alliance-finance", "ledger", "glo"],
}

#: the accounts ASC and WP add to their charts and partner_accounts for their flows with GLO
NEW_PARTNER_ACCOUNTS = {
    "ASC": ("avon_somerset_gl_accounts.csv", [("640310", "Payments to Gloucestershire", "PART_PAY"),
                                              ("420110", "Collaboration Income - Gloucestershire", "INC_PART")]),
    "WP": ("wiltshire_natural_accounts.csv", [("55210", "Alliance Contributions to Gloucestershire", "PART_PAY"),
                                              ("63010", "Alliance Income from Gloucestershire", "INC_PART")]),
}


@pytest.fixture(scope="module")
def alliance_of_three(tmp_path_factory):
    """(forces, reference folder, seeds folder) of a three-force alliance, in temporary files only."""
    root = tmp_path_factory.mktemp("three")
    doc = yaml.safe_load(FORCES_FILE.read_text(encoding="utf-8"))
    reference = root / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    for entry in doc["forces"]:
        file, accounts = NEW_PARTNER_ACCOUNTS[entry["code"]]
        with (reference / file).open("a", encoding="utf-8") as f:
            f.writelines(f"{a},{name},{subjective}\n" for a, name, subjective in accounts)
        entry["partner_accounts"].update({a: "GLO" for a, _, _ in accounts})
    doc["forces"].append(GLO)
    forces_file = root / "forces.yaml"
    forces_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    (reference / GLO["reference"]["cost_centres"]).write_text(
        "cost_centre,cost_centre_name,objective_code,valid_from_fy,valid_to_fy\n"
        "G100,Gloucestershire Finance,SF02,,\n"
        "G900,Gloucestershire Alliance Programme,SF09,,\n"
        "2200,Gloucestershire Finance (ERP),SF02,,\n", encoding="utf-8")
    (reference / GLO["reference"]["accounts"]).write_text(
        "ledger_account,account_name,subjective_code\n"
        "1000,Bank,BS\n5000,Staff pay,STF_PAY\n5520,Payments to Avon and Somerset,PART_PAY\n"
        "5530,Payments to Wiltshire,PART_PAY\n5599,Payments to partners (unallocated),PART_PAY\n"
        "4500,Income from Avon and Somerset,INC_PART\n42000,Staff basic pay (ERP),STF_PAY\n"
        "21000,Sundry creditors (ERP),BS\n", encoding="utf-8")
    seeds = root / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    with (seeds / "programme_cost_centres.csv").open("a", encoding="utf-8") as f:
        f.write("GLO,G900,Gloucestershire Alliance Programme,Joint ICT programme\n")
    return load_forces(forces_file), reference, seeds, forces_file


def _pair(force: str, ref: str, account: str, cost_centre: str | None, pence: int, credit_account: str,
          fiscal_year: int) -> list[dict]:
    """A balanced two-line document of ``force`` in period 1 of ``fiscal_year``."""
    day = dt.date(fiscal_year, 4, 30)
    kw = {"force": force, "fiscal_year": fiscal_year, "period": 1, "posting_date": day}
    return [line(f"{ref}/1", account, cost_centre, pence, number=1, **kw),
            line(f"{ref}/2", credit_account, None, -pence, number=2, **kw)]


BANK = {"ASC": "200100", "WP": "21000", "GLO": "1000"}

#: (force, document, account, cost centre, pence, fiscal year)
DOCUMENTS = [
    ("ASC", "A14", "504100", "AS230100", 600_000_00, 2014),
    ("WP", "W14", "42000", "7100", 300_000_00, 2014),
    ("GLO", "G14", "5000", "G100", 100_000_00, 2014),
    ("ASC", "A16", "504100", "AS310100", 200_000_00, 2016),
    ("WP", "W16", "42000", "7100", 280_000_00, 2016),
    ("GLO", "G16", "5000", "G900", 50_000_00, 2016),
    ("GLO", "G16P1", "5520", "G900", 20_000_00, 2016),       # to ASC, towards the programme
    ("ASC", "A16P1", "420110", "AS310100", -20_000_00, 2016),  # ASC's income from GLO
    ("GLO", "G16P2", "5530", "G100", 5_000_00, 2016),        # to WP for a service
    ("WP", "W16P2", "63010", "7100", -4_000_00, 2016),       # WP books less
    ("GLO", "G16P3", "5599", "G100", 123_45, 2016),          # to a partner the configuration does not name
]


@pytest.fixture(params=["sqlite", "postgresql"])
def three_force_warehouse(request, alliance_of_three, tmp_path):
    """A warehouse of the three forces, each force's lines loaded as hand-built batches."""
    from conftest import drop_pg_database, new_pg_database

    forces, reference, seeds, _ = alliance_of_three
    url = f"sqlite:///{tmp_path / 'warehouse.db'}" if request.param == "sqlite" else new_pg_database()
    engine = ready_warehouse(url, reference, forces)
    try:
        with engine.begin() as conn:
            load_finance_seeds(conn, seeds)
        with BatchLoader(engine) as loader:
            for force in ("ASC", "WP", "GLO"):
                rows = [r for f, doc, account, cc, pence, fy in DOCUMENTS if f == force
                        for r in _pair(force, f"{force}/{doc}", account, cc, pence, BANK[force], fy)]
                assert loader.load(force_batch(force, rows, label="FY2014-2016")).loaded
        yield engine, forces
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_pg_database(url)


def rows(engine, view: str, order_by: str = "1") -> list[dict]:
    with engine.connect() as conn:
        return read_view(conn, view, order_by)


def test_glo_lines_load_to_the_penny_and_map_through_its_own_charts(three_force_warehouse):
    engine, _ = three_force_warehouse
    glo = [d for d in DOCUMENTS if d[0] == "GLO"]
    assert query(engine, "SELECT COUNT(*), SUM(amount_pence), SUM(CASE WHEN amount_pence > 0 THEN amount_pence "
                         "ELSE 0 END) FROM fact_ledger_line WHERE force_code = 'GLO'") == [
        (2 * len(glo), 0, sum(d[4] for d in glo))]
    assert query(engine, "SELECT rows_loaded, total_debit_pence, total_credit_pence FROM etl_batch "
                         "WHERE force_code = 'GLO'") == [(2 * len(glo), sum(d[4] for d in glo), sum(d[4] for d in glo))]
    assert query(engine, "SELECT objective_code, subjective_code FROM fact_ledger_line "
                         "WHERE force_code = 'GLO' AND local_account = '5000' ORDER BY fiscal_year") == [
        ("SF02", "STF_PAY"), ("SF09", "STF_PAY")]
    assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE objective_code = 'UNMAPPED' "
                         "OR subjective_code = 'UNMAPPED'") == [(0,)]
    assert query(engine, "SELECT force_code, force_name FROM dim_force ORDER BY 1") == [
        ("ASC", "Avon and Somerset Constabulary"), ("GLO", "Gloucestershire Constabulary"),
        ("WP", "Wiltshire Police")]
    assert fact_checksum(engine)[0] == 2 * len(DOCUMENTS)


def test_all_rows_include_the_third_force(three_force_warehouse):
    engine, _ = three_force_warehouse
    tracked = {(r["fiscal_year"], r["force_code"]): r for r in rows(engine, "v_savings_tracker")
               if r["alliance_scope"] == "alliance"}
    for year in (2014, 2016):
        parts = [tracked[(year, f)] for f in ("ASC", "WP", "GLO")]
        assert tracked[(year, "ALL")]["nre"] == sum(p["nre"] for p in parts)
        assert tracked[(year, "ALL")]["baseline_nre"] == sum(p["baseline_nre"] for p in parts) == D("1000000.00")
    assert tracked[(2016, "GLO")]["nre"] == D("50000.00")  # partner payments eliminated
    assert tracked[(2016, "ALL")]["nre"] == D("530000.00")
    spend = rows(engine, "v_consolidated_spend")
    assert sum(r["amount"] for r in spend if r["fiscal_year"] == 2016) == D("530000.00")


def test_reconciliation_is_pairwise_among_three_and_names_an_unknown_counterparty(three_force_warehouse):
    engine, _ = three_force_warehouse
    recon = {(r["payer_force"], r["payee_force"]): r for r in rows(
        engine, "v_intra_alliance_reconciliation", "COALESCE(payer_force, '~'), COALESCE(payee_force, '~')")
        if r["fiscal_year"] == 2016}
    assert len(recon) == 3 * 2 + 1
    assert (recon[("GLO", "ASC")]["paid"], recon[("GLO", "ASC")]["received"], recon[("GLO", "ASC")]["status"]) == (
        D("20000.00"), D("20000.00"), "agreed")
    assert (recon[("GLO", "WP")]["paid"], recon[("GLO", "WP")]["received"], recon[("GLO", "WP")]["mismatch"],
            recon[("GLO", "WP")]["status"]) == (D("5000.00"), D("4000.00"), D("1000.00"), "mismatch")
    assert (recon[("ASC", "GLO")]["paid"], recon[("ASC", "GLO")]["status"]) == (D("0.00"), "agreed")
    assert (recon[("GLO", None)]["paid"], recon[("GLO", None)]["status"]) == (D("123.45"), "counterparty unknown")


def test_sharing_statement_splits_among_three(three_force_warehouse):
    engine, _ = three_force_warehouse
    share = {r["force_code"]: r for r in rows(engine, "v_cost_share") if r["fiscal_year"] == 2016}
    assert sorted(share) == ["ASC", "GLO", "WP"]
    assert [share[f]["key_share"] for f in ("ASC", "WP", "GLO")] == [D("0.600000"), D("0.300000"), D("0.100000")]
    assert share["ASC"]["programme_cost_total"] == D("250000.00")
    assert [share[f]["fair_share"] for f in ("ASC", "WP", "GLO")] == [D("150000.00"), D("75000.00"), D("25000.00")]
    assert (share["GLO"]["paid_to_partner"], share["ASC"]["paid_by_partner"], share["WP"]["paid_by_partner"]) == (
        D("20000.00"), D("20000.00"), D("0.00"))
    assert [share[f]["balance"] for f in ("ASC", "WP", "GLO")] == [D("-30000.00"), D("75000.00"), D("-45000.00")]
    assert sum(r["key_ppm"] for r in share.values()) == 1_000_000
    assert sum(r["balance"] for r in share.values()) == 0
    # carried forward from FY 2014 (nothing to share then): what each owes to date is FY 2016's balance
    settled = {r["force_code"]: r for r in rows(engine, "v_settlement") if r["fiscal_year"] == 2016}
    assert [settled[f]["owed_to_date"] for f in ("ASC", "WP", "GLO")] == [D("-30000.00"), D("75000.00"), D("-45000.00")]
    assert [settled[f]["direction"] for f in ("ASC", "WP", "GLO")] == ["is owed", "owes", "is owed"]


def test_the_report_shows_three_forces(three_force_warehouse, tmp_path):
    engine, forces = three_force_warehouse
    files = build_report(engine, tmp_path / "report", forces)
    assert files.has_data and not files.without_ledger
    page = (tmp_path / "report" / HTML_NAME).read_text(encoding="utf-8")
    assert ("Avon and Somerset Constabulary (ASC), Gloucestershire Constabulary (GLO) and Wiltshire Police (WP)"
            in page)
    assert '<th class="num">GLO</th>' in page  # a column of its own in the functions table
    assert "counterparty unknown" in page
    assert "ASC owes" not in page and "WP owes £75,000.00" in page
    assert "To date (2016/17) after payments: WP owes £75,000.00; owed: ASC £30,000.00, GLO £45,000.00." in page


def test_the_third_force_has_its_finance_role(three_force_warehouse):
    engine, forces = three_force_warehouse
    assert security.force_roles(forces)["GLO"] == "glo_finance"
    if engine.dialect.name != "postgresql":
        return
    policies = {r[0] for r in query(engine, "SELECT policyname FROM pg_policies WHERE tablename = 'fact_ledger_line'")}
    assert "glo_finance_own_lines" in policies
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT has_table_privilege('glo_finance', 'alliance.v_cost_share', 'SELECT')")).scalar()


def test_a_forces_file_naming_a_partner_that_is_not_a_force_is_refused(tmp_path):
    from alliance_finance.config.forces import ForcesFileError

    doc = yaml.safe_load(FORCES_FILE.read_text(encoding="utf-8"))
    doc["forces"][0]["partner_accounts"]["640310"] = "GLO"
    path = Path(tmp_path / "forces.yaml")
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ForcesFileError, match="'GLO' is not another force"):
        load_forces(path)


def test_glo_is_read_from_its_own_erp_database_through_the_registry_and_loads_to_the_penny(
        alliance_of_three, warehouse_url, tmp_path):
    """The same configuration read end to end: GLO's reader is chosen by its source_format and reads
    its own ERP database (beside nobody's code), and its journals load and map through its charts."""
    forces, reference, _, forces_file = alliance_of_three
    sources = tmp_path / "sources"
    (sources / "gloucestershire").mkdir(parents=True)
    glo_url = wp.create_erp_database(f"sqlite:///{sources / 'gloucestershire' / 'erp.db'}")
    day = dt.date(2016, 4, 5)
    wp.insert_journals(glo_url, [
        wp.Journal(n, "APR-16", day, dt.datetime.combine(day, dt.time(18)), [
            wp.Line("GLO.2200.42000.0000", entered_dr=amount), wp.Line("GLO.0000.21000.0000", entered_cr=amount)])
        for n, amount in ((7, "12.34"), (8, "1000.05"))])
    settings = Settings(sources_dir=sources, var_dir=tmp_path / "var", forces_file=forces_file)
    engine = ready_warehouse(warehouse_url, reference, forces)
    try:
        reader = reader_for(settings.force("GLO"), settings)
        try:
            pending = reader.pending(engine)
            batches = [b for group in reader.read_groups(engine, pending) for b in group]
        finally:
            reader.close()
        with BatchLoader(engine) as loader:
            assert [(b.rows_read, len(b.quarantine)) for b in batches] == [(4, 0)]
            assert all(loader.load(b).loaded for b in batches)
        assert query(engine, "SELECT COUNT(*), SUM(amount_pence), SUM(CASE WHEN amount_pence > 0 THEN amount_pence "
                             "ELSE 0 END) FROM fact_ledger_line WHERE force_code = 'GLO'") == [(4, 0, 1_012_39)]
        assert query(engine, "SELECT DISTINCT objective_code, subjective_code FROM fact_ledger_line "
                             "WHERE local_account = '42000' AND force_code = 'GLO'") == [("SF02", "STF_PAY")]
        assert query(engine, "SELECT COUNT(*) FROM v_unmapped_codes WHERE force_code = 'GLO'") == [(0,)]
    finally:
        engine.dispose()
