"""Schema migrations keep the data: an older warehouse upgrades in place, views follow the tables.

Each test runs on SQLite and PostgreSQL. Revisions beyond today's head are written into a copy of
the migrations folder, as a colleague would add one (docs/warehouse.md).
"""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from alliance_finance.core.paths import SQL_DIR
from alliance_finance.warehouse import history, mapping, migrate, overlay, post_close, summaries
from alliance_finance.warehouse.engine import PG_SCHEMA, make_engine
from alliance_finance.warehouse.forces import sync_forces
from alliance_finance.warehouse.load import BatchLoader
from warehouse_batches import asc_batch, balanced_document, batches, fact_checksum, query, wp_batch, line


def _views(engine) -> set[str]:
    with engine.connect() as conn:
        return {name for name, _ in migrate._existing_views(conn)}


def _load_some_history(engine, *, at_head: bool = True) -> None:
    if at_head:
        sync_forces(engine)
    else:  # a warehouse made by revision 0001 as it was released, which seeded the two forces itself
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO dim_force (force_code, force_name) VALUES "
                                 "('ASC', 'Avon and Somerset Constabulary'), ('WP', 'Wiltshire Police')"))
    mapping.sync_reference(engine)
    with BatchLoader(engine) as loader:
        assert loader.load(asc_batch(balanced_document("ASC1/2016/1", 123_45))).loaded
        assert loader.load(asc_batch(balanced_document("ASC1/2016/1", 123_46), sequence=2)).loaded
        assert loader.load(asc_batch(balanced_document("ASC1/2016/2", 5, account="999999",
                                                       posting_date=dt.date(2016, 4, 6)),
                                     day=dt.date(2016, 4, 6))).loaded
        assert loader.load(wp_batch([line("7/1", "42000", "2200", 1_00, force="WP", number=1),
                                     line("7/2", "21000", "0000", -1_00, force="WP", number=2)], [7])).loaded


def _revision_dir(tmp_path: Path, body: str, revision: str = "9001") -> Path:
    """A copy of the project's revisions plus one more on top of today's head."""
    location = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / f"{revision}_test_change.py").write_text(textwrap.dedent(f'''
        """A test revision.

        Revision ID: {revision}
        Revises: {migrate.head_revision()}
        """
        from alembic import op

        revision = "{revision}"
        down_revision = "{migrate.head_revision()}"
        branch_labels = None
        depends_on = None


        def upgrade():
            conn = op.get_bind()
        ''') + textwrap.indent(textwrap.dedent(body), "    "), encoding="utf-8")
    return location


def test_a_warehouse_at_revision_0001_with_data_upgrades_to_head_keeping_it(warehouse_url, monkeypatch):
    assert migrate.upgrade(warehouse_url, revision="0001") == "0001"
    engine = make_engine(warehouse_url)
    with monkeypatch.context() as m:
        # the loader as released with revision 0001 kept no summaries (revision 0005 adds them)
        m.setattr(summaries, "add_batch", lambda *a, **k: None)
        m.setattr(summaries, "with_batch_lines", lambda *a, **k: [])  # (PostgreSQL's loading statement)
        m.setattr(summaries, "rebuild", lambda *a, **k: None)
        m.setattr(post_close, "closed_periods", lambda *a, **k: {})  # nor post-close adjustments (0007)
        # nor kept superseded lines, old codes or data versions (0009)
        m.setattr(history, "record", lambda *a, **k: None)
        m.setattr(mapping, "restate_history", lambda *a, **k: 0)
        m.setattr(history, "retire_batch_lines", lambda conn, batch_id, *a: conn.execute(
            sa.text("DELETE FROM fact_ledger_line WHERE batch_id = :id"), {"id": batch_id}))
        m.setattr(overlay, "read_decisions", lambda *a, **k: [])  # nor mapping decisions (0010)
        _load_some_history(engine, at_head=False)
    kept = (fact_checksum(engine), batches(engine),
            query(engine, "SELECT document_ref, batch_id FROM source_document_loaded"))
    assert kept[0][0] == 6

    assert migrate.upgrade(warehouse_url) == migrate.head_revision()

    assert (fact_checksum(engine), batches(engine),
            query(engine, "SELECT document_ref, batch_id FROM source_document_loaded")) == kept
    assert {p.stem for p in migrate.view_files()} <= _views(engine)
    schema = "alliance" if engine.dialect.name == "postgresql" else None
    indexes = {table: {ix["name"]: ix["column_names"] for ix in sa.inspect(engine).get_indexes(table, schema=schema)}
               for table in ("unmapped_summary", "nre_summary", "budget_summary", "etl_batch", "partner_flow_summary")}
    # revision 0012: one year of the lines in suspense is read by its own index
    assert "ix_unmapped_summary_year" in indexes["unmapped_summary"]
    # revision 0013: the in-year views' look-ups by force and scope, by year, and of the latest posting
    assert indexes["nre_summary"]["ix_nre_summary_scope"] == ["force_code", "alliance_scope"]
    assert indexes["nre_summary"]["ix_nre_summary_year"] == ["fiscal_year"]
    assert indexes["budget_summary"]["ix_budget_summary_year"] == ["fiscal_year"]
    assert indexes["etl_batch"]["ix_etl_batch_latest"] == ["force_code", "last_posting_date"]
    assert indexes["partner_flow_summary"]["ix_partner_flow_summary_year"] == ["fiscal_year"]
    assert query(engine, "SELECT force_code, latest_posting_date FROM v_period_status GROUP BY 1, 2 ORDER BY 1") == \
        query(engine, "SELECT force_code, MAX(last_posting_date) FROM etl_batch WHERE status = 'loaded' "
                      "GROUP BY force_code ORDER BY 1")
    if engine.dialect.name == "postgresql":
        # revision 0012: the lines' year-and-period index became a BRIN index, built over the lines
        # already there, and a read of a year through it (no sequential scan allowed) finds every one
        assert query(engine, "SELECT am.amname FROM pg_class AS c JOIN pg_am AS am ON am.oid = c.relam "
                             "WHERE c.relname = 'ix_fact_period'") == [("brin",)]
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in conn.execute(sa.text(
                "EXPLAIN SELECT COUNT(*) FROM fact_ledger_line WHERE fiscal_year = 2016 AND period <= 12")))
            assert "ix_fact_period" in plan
            assert conn.execute(sa.text("SELECT COUNT(*) FROM fact_ledger_line "
                                        "WHERE fiscal_year = 2016 AND period <= 12")).scalar() == kept[0][0]
    # revision 0005 summarised the lines already loaded, and the views read them
    with engine.connect() as conn:
        assert summaries.differences(conn) == []
    assert query(engine, "SELECT force_code, fiscal_year, line_count FROM force_year_summary ORDER BY 1") == \
        [("ASC", 2016, 4), ("WP", 2016, 2)]
    assert query(engine, "SELECT force_code, code_type, local_code, line_count FROM v_unmapped_codes") == \
        [("ASC", "account", "999999", 1)]
    # the forces' partner accounts arrive from the configuration at the next run, not from a revision
    assert query(engine, "SELECT COUNT(*) FROM map_partner_account") == [(0,)]
    assert sync_forces(engine) is True
    assert query(engine, "SELECT force_code, local_account, partner_force FROM map_partner_account "
                         "ORDER BY 1, 2") == [("ASC", "420100", "WP"), ("ASC", "640300", "WP"),
                                              ("WP", "55200", "ASC"), ("WP", "63000", "ASC")]
    assert sync_forces(engine) is False
    engine.dispose()


def test_revisions_are_ddl_only_and_run_no_library_code():
    """A revision executes its SQL file and nothing else: the forces, seeds and reference data are
    synchronised from configuration at every run, so no revision reads them or imports finance code."""
    for path in sorted((migrate.MIGRATIONS_DIR / "versions").glob("0*.py")):
        code = path.read_text(encoding="utf-8").split('"""', 2)[2]  # after the docstring
        assert "marts" not in code and "seeds" not in code, path.name
    for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        assert "INSERT INTO dim_force" not in text and "INSERT INTO savings_target" not in text, path.name


def test_a_new_revision_may_change_a_table_under_the_views(warehouse_url, tmp_path):
    migrate.upgrade(warehouse_url)
    engine = make_engine(warehouse_url)
    _load_some_history(engine)
    before = fact_checksum(engine)
    # PostgreSQL refuses to change the type of a column a view reads: the views must be dropped first
    location = _revision_dir(tmp_path, '''
        if conn.dialect.name == "postgresql":
            op.execute("ALTER TABLE fact_ledger_line ALTER COLUMN local_account TYPE varchar(32)")
        op.execute("ALTER TABLE fact_ledger_line ADD COLUMN reviewed_by text")
        ''')
    assert migrate.upgrade(warehouse_url, script_location=location) == "9001"
    assert fact_checksum(engine) == before
    assert {p.stem for p in migrate.view_files()} <= _views(engine)
    assert query(engine, "SELECT COUNT(reviewed_by), COUNT(*) FROM fact_ledger_line") == [(0, 6)]
    assert query(engine, "SELECT local_code FROM v_unmapped_codes") == [("999999",)]
    engine.dispose()


def test_a_failing_revision_leaves_the_warehouse_as_it_was(warehouse_url, tmp_path):
    migrate.upgrade(warehouse_url)
    engine = make_engine(warehouse_url)
    _load_some_history(engine)
    before = (fact_checksum(engine), _views(engine))
    location = _revision_dir(tmp_path, '''
        op.execute("ALTER TABLE fact_ledger_line ADD COLUMN reviewed_by text")
        op.execute("ALTER TABLE no_such_table ADD COLUMN x text")
        ''')
    with pytest.raises(sa.exc.SQLAlchemyError, match="no_such_table"):
        migrate.upgrade(warehouse_url, script_location=location)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    assert (fact_checksum(engine), _views(engine)) == before
    columns = {c["name"] for c in sa.inspect(engine).get_columns(
        "fact_ledger_line", schema="alliance" if engine.dialect.name == "postgresql" else None)}
    assert "reviewed_by" not in columns
    engine.dispose()



def test_the_head_read_without_alembic_is_alembics_or_none(tmp_path):
    """A warehouse at head is recognised without importing Alembic (:func:`migrate.declared_head`): it
    agrees with Alembic on the project's revisions and with one more on top, and gives up (None, Alembic
    decides) on anything less simple, such as a merge revision."""
    assert migrate.declared_head() == migrate.head_revision()
    location = _revision_dir(tmp_path, "pass\n")
    assert migrate.declared_head(location) == migrate.head_revision(location) == "9001"
    merge = location / "versions" / "9002_merge.py"
    merge.write_text(f'revision = "9002"\ndown_revision = ("9001", "{migrate.head_revision()}")\n', encoding="utf-8")
    assert migrate.declared_head(location) is None


def test_the_revision_read_from_the_warehouse_is_alembics(warehouse_url):
    engine = make_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            assert migrate.current_revision(conn) is None  # empty: no version table yet
        migrate.upgrade(engine, revision="0002")
        with engine.connect() as conn:
            schema = PG_SCHEMA if conn.dialect.name == "postgresql" else None
            alembic_says = MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_revision()
            assert migrate.current_revision(conn) == alembic_says == "0002"
    finally:
        engine.dispose()
