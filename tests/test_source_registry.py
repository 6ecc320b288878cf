"""The source registry: a force's reader is chosen by its ``source_format`` in the forces file, and a
force on an existing format is read by configuration alone (a third force, ``GLO``, on ``erp_sql``
with its own ERP database, read by the same code as Wiltshire's)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml

from alliance_finance.config.forces import FORCES_FILE, SOURCE_FORMATS, ForcesFileError, load_forces
from alliance_finance.config.settings import Settings
from alliance_finance.sources.erp_sql import ErpSqlReader
from alliance_finance.sources.registry import READERS, reader_for
from alliance_finance.sources.sap_files import SapFilesReader
from alliance_finance.warehouse import migrate
from alliance_finance.warehouse.engine import make_engine
import wp_fixtures as wp

APRIL_5 = dt.date(2016, 4, 5)


def test_every_format_of_the_forces_schema_has_a_reader():
    assert set(READERS) == set(SOURCE_FORMATS)


def test_the_reader_is_chosen_by_source_format(tmp_path):
    settings = Settings(sources_dir=tmp_path, var_dir=tmp_path / "var")
    for force in load_forces():
        reader = reader_for(force, settings)
        assert reader.force is force
        assert isinstance(reader, {"sap_files": SapFilesReader, "erp_sql": ErpSqlReader}[force.source_format])


def test_an_unknown_format_is_refused_naming_the_file_and_the_force(tmp_path):
    force = dataclasses.replace(load_forces()[0], source_format="csv_email")
    with pytest.raises(ForcesFileError) as caught:
        reader_for(force, Settings(sources_dir=tmp_path))
    message = str(caught.value)
    assert str(FORCES_FILE) in message and f"force {force.code}" in message and "'csv_email'" in message


def _journal(journal_id: int, prefix: str, amount: str, day: dt.date = APRIL_5) -> wp.Journal:
    return wp.Journal(journal_id, "APR-16", day, dt.datetime.combine(day, dt.time(18)), [
        wp.Line(f"{prefix}.2200.42000.0000", entered_dr=amount),
        wp.Line(f"{prefix}.0000.21000.0000", entered_cr=amount),
    ])


@pytest.fixture
def three_forces(tmp_path) -> Settings:
    """The project's forces file plus a third force, GLO, on erp_sql with its own database beside
    Wiltshire's in the sources folder (each holding different journals)."""
    document = yaml.safe_load(FORCES_FILE.read_text(encoding="utf-8"))
    wiltshire = next(f for f in document["forces"] if f["source_format"] == "erp_sql")
    document["forces"].append({
        **wiltshire,
        "code": "GLO", "name": "Gloucestershire Constabulary",
        "source": {"database": "gloucestershire/erp.db", "account_prefix": "GLO"},
        "reference": {"cost_centres": "glo_cost_centres.csv", "accounts": "glo_accounts.csv"},
        "partner_accounts": {}, "finance_role": "glo_finance", "report_colour": "#8e44ad",
        "owner": "glo-finance-data", "source_conn_id": None, "tags": ["alliance-finance", "ledger", "glo"],
    })
    forces_file = tmp_path / "forces.yaml"
    forces_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    sources = tmp_path / "sources"
    for folder in ("wiltshire", "gloucestershire"):
        (sources / folder).mkdir(parents=True)
    wiltshire_url = wp.create_erp_database(f"sqlite:///{sources / 'wiltshire' / 'erp.db'}")
    wp.insert_journals(wiltshire_url, [_journal(101, "WP", "500.00")])
    glo_url = wp.create_erp_database(f"sqlite:///{sources / 'gloucestershire' / 'erp.db'}")
    wp.insert_journals(glo_url, [_journal(7, "GLO", "12.34"), _journal(8, "GLO", "0.05", dt.date(2016, 4, 6))])
    return Settings(sources_dir=sources, var_dir=tmp_path / "var", forces_file=forces_file)


def test_a_third_force_is_read_from_its_own_database_by_configuration_alone(three_forces, sqlite_url):
    settings = three_forces
    assert [f.code for f in settings.forces()][-1] == "GLO"
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine)
        reader = reader_for(settings.force("GLO"), settings)
        assert isinstance(reader, ErpSqlReader)
        pending = reader.pending(engine)
        assert pending.force_code == "GLO" and "gloucestershire/erp.db" in pending.source
        assert pending.source_refs == [pending.extract] and "gloucestershire/erp.db" in pending.extract
        try:
            batches = [batch for group in reader.read_groups(engine, pending) for batch in group]
        finally:
            reader.close()
    finally:
        engine.dispose()
    [batch] = batches
    assert batch.force_code == "GLO" and not batch.rejected and not batch.quarantine
    assert batch.source_ref.startswith("GLO ERP gl_journal FY2016 P01 (2 journals")
    assert batch.meta["journal_ids"] == [7, 8]
    lines = batch.lines.to_pydict()
    assert set(lines["force_code"]) == {"GLO"}
    assert lines["source_line_ref"] == ["7/1", "7/2", "8/1", "8/2"]
    assert lines["amount_pence"] == [12_34, -12_34, 5, -5]
    assert lines["cost_centre"] == ["2200", "0000", "2200", "0000"]
    assert (batch.total_debit_pence, batch.total_credit_pence) == (12_39, 12_39)


def test_a_third_force_refuses_another_forces_account_strings(three_forces, sqlite_url):
    """GLO's account prefix is its own: a line carrying Wiltshire's is quarantined, naming GLO's."""
    settings = three_forces
    glo = Path(settings.sources_dir) / "gloucestershire" / "erp.db"
    wp.insert_journals(f"sqlite:///{glo}", [_journal(9, "WP", "1.00")])
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine)
        reader = reader_for(settings.force("GLO"), settings)
        groups = list(reader.read_groups(engine, reader.pending(engine)))
    finally:
        engine.dispose()
    [[batch]] = groups
    reasons = {entry.document_ref: entry.reason for entry in batch.quarantine}
    assert list(reasons) == ["9"]
    assert "expected GLO.<4 digits>.<5 digits>.<4 digits>" in reasons["9"]
