"""PostgreSQL security, proven over real connections as each role (docs/security.md).

Every test has a fresh database (conftest ``pg_url``); an administrator (the local superuser)
upgrades it, which creates the roles, grants and row-level security. Roles belong to the whole
cluster, so they may exist already (from another test or database): that must be no error. The
reading roles are NOLOGIN groups; the tests connect as people who are members of them, created the
way docs/security.md tells an operator to (``CREATE ROLE ... LOGIN IN ROLE asc_finance``), over
127.0.0.1, which the local server trusts.

The ledger is loaded by the real pipeline (``alliance-finance run``) connecting as
``alliance_loader``; only the Great Expectations run is replaced by the readers' own checks (as
tests/test_pipeline.py does), to stay fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.engine import make_url

import asc_fixtures as asc
from asc_fixtures import asc_document
import wp_fixtures as wp
from alliance_finance.runner import validators
from alliance_finance.cli import main as cli_main
from alliance_finance.report import HTML_NAME
from alliance_finance.warehouse import summaries
from alliance_finance.warehouse import migrate, security
from alliance_finance.warehouse.engine import make_engine
from alliance_finance.warehouse.forces import sync_forces

ROOT = Path(__file__).resolve().parents[1]
APRIL_5, APRIL_6 = dt.date(2016, 4, 5), dt.date(2016, 4, 6)
#: one person per reading role, made as an operator would
PEOPLE = {"alliance_reader": "alliance_test_analyst", "asc_finance": "alliance_test_asc_accountant",
          "wp_finance": "alliance_test_wp_accountant"}
READING_ROLES = tuple(PEOPLE)


class ReadersOnly:
    """The readers' own checks only (Great Expectations costs seconds; it is tested elsewhere)."""

    def validate(self, batches):
        return [None for _ in batches]


# --- helpers ---------------------------------------------------------------------------------------

def as_role(pg_url: str, role: str) -> str:
    """The same database, logging in as ``role`` (no password: the local server trusts 127.0.0.1)."""
    return make_url(pg_url).set(username=role, password=None).render_as_string(hide_password=False)


def connect(pg_url: str, role: str) -> psycopg.Connection:
    """A real connection as ``role``, autocommit, searching schema alliance like the package's engine."""
    u = make_url(pg_url)
    return psycopg.connect(host=u.host, port=u.port or 5432, dbname=u.database, user=role, autocommit=True,
                           options="-c search_path=alliance,public", connect_timeout=5)


def rows(conn: psycopg.Connection, sql: str, params=None) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def admin(pg_url: str) -> psycopg.Connection:
    return connect(pg_url, make_url(pg_url).username or "postgres")


def ensure_person(pg_url: str, person: str, group: str) -> None:
    """A LOGIN role that is a member of ``group``, created only if missing (roles are cluster-wide)."""
    with admin(pg_url) as conn:
        conn.execute(f"""
            DO $$
            BEGIN
                CREATE ROLE {person} LOGIN IN ROLE {group};
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$""")
        if not rows(conn, "SELECT pg_has_role(%s, %s, 'MEMBER')", (person, group))[0][0]:
            conn.execute(f"GRANT {group} TO {person}")


@pytest.fixture
def secured(pg_url) -> str:
    """A warehouse upgraded by its administrator, holding the configured forces, with a person in each
    reading role."""
    assert migrate.upgrade(pg_url) == migrate.head_revision()
    sync_forces(pg_url)
    for group, person in PEOPLE.items():
        ensure_person(pg_url, person, group)
    return pg_url


@pytest.fixture
def sources(tmp_path) -> Path:
    """Two ASC days; a Wiltshire ERP with two good journals and one whose account string is malformed."""
    root = tmp_path / "sources"
    inbound = root / "avon_somerset" / "inbound"
    asc.write_delivery(inbound, asc_document("1000000001", "1,234.56", APRIL_5), business_date=APRIL_5)
    asc.write_delivery(inbound, asc_document("1000000002", "99.99", APRIL_6), business_date=APRIL_6)
    (root / "wiltshire").mkdir()
    url = wp.create_erp_database(f"sqlite:///{root / 'wiltshire' / 'erp.db'}")
    wp.insert_journals(url, [
        wp.invoice(101, "APR-16", APRIL_5, "500.00"),
        wp.invoice(102, "APR-16", APRIL_6, "25.50"),
        wp.invoice(103, "APR-16", APRIL_6, "7.00", account="WP.22OO.42000.0000"),
    ])
    return root


def denied(conn: psycopg.Connection, sql: str) -> bool:
    """True when PostgreSQL refuses the statement for lack of privilege (or ownership)."""
    try:
        conn.execute(sql)
    except errors.InsufficientPrivilege:
        return True
    return False


# --- the pipeline as the loader, and what each role then sees ----------------------------------------

def test_the_pipeline_runs_as_the_loader_and_each_role_sees_what_it_may(secured, sources, monkeypatch, capsys,
                                                                        tmp_path):
    pg_url = secured
    monkeypatch.setattr(validators, "default_validator", lambda url, var_dir=None, settings=None: ReadersOnly())
    loader_url = as_role(pg_url, security.LOADER)

    # the nightly run, as alliance_loader: an up-to-date warehouse needs nothing it may not do
    assert cli_main(["run", "--sources", str(sources), "--warehouse", loader_url]) == 0
    out = capsys.readouterr().out
    assert "ASC: 2 batches loaded" in out and "WP: 1 batch loaded" in out and "4 lines loaded, 2 quarantined" in out
    with connect(pg_url, security.LOADER) as loader:
        assert rows(loader, "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user") \
            == [("alliance_loader", False, False)]
        # it owns nothing in the warehouse, so it can change none of it (its temporary staging tables
        # are its own, and a backend that just closed may still be dropping them)
        assert rows(loader, "SELECT COUNT(*) FROM pg_class WHERE relowner = 'alliance_loader'::regrole "
                            "AND relpersistence <> 't'") == [(0,)]
    # the lines are there, both forces, and a second run as the loader changes nothing
    with admin(pg_url) as conn:
        everything = rows(conn, "SELECT force_code, COUNT(*) FROM fact_ledger_line GROUP BY 1 ORDER BY 1")
        assert everything == [("ASC", 4), ("WP", 4)]
        # an ASC quarantined line too (ASC batches are rejected whole, so none came from the pipeline)
        conn.execute("INSERT INTO quarantine_line (batch_id, force_code, source_line_ref, reason, original) "
                     "SELECT MIN(batch_id), 'ASC', 'x/1', 'test', 'original' FROM etl_batch WHERE force_code = 'ASC'")
        quarantined = rows(conn, "SELECT force_code, COUNT(*) FROM quarantine_line GROUP BY 1 ORDER BY 1")
        assert quarantined == [("ASC", 1), ("WP", 2)]
        consolidated = {view: sorted(rows(conn, f"SELECT * FROM {view}")) for view in security.CONSOLIDATED_VIEWS}
        every_relation = [r[0] for r in rows(conn, "SELECT c.relname FROM pg_class c WHERE c.relnamespace = "
                                                   "'alliance'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1")]
    assert cli_main(["run", "--sources", str(sources), "--warehouse", loader_url]) == 0
    assert "nothing new to load" in capsys.readouterr().out

    # both forces' figures are in the consolidated views the force roles read
    assert {r[2] for r in consolidated["v_consolidated_spend"]} == {"ASC", "WP"}

    for force_code, group in (("ASC", "asc_finance"), ("WP", "wp_finance")):
        with connect(pg_url, PEOPLE[group]) as person:
            # row-level security: its own force's lines and quarantine only
            assert rows(person, "SELECT force_code, COUNT(*) FROM fact_ledger_line GROUP BY 1") == \
                [r for r in everything if r[0] == force_code]
            assert rows(person, "SELECT force_code, COUNT(*) FROM quarantine_line GROUP BY 1") == \
                [r for r in quarantined if r[0] == force_code]
            assert rows(person, "SELECT COUNT(*) FROM fact_ledger_line WHERE force_code <> %s", (force_code,)) == [(0,)]
            # the consolidated views: exactly what the administrator sees, both forces
            for view, expected in consolidated.items():
                assert sorted(rows(person, f"SELECT * FROM {view}")) == expected, view
            # the line level of both forces and the batch records are not theirs to read
            for relation in ("v_nre_line", "etl_batch", "v_unmapped_codes", "map_cost_centre"):
                assert denied(person, f"SELECT 1 FROM {relation} LIMIT 1"), relation

    with connect(pg_url, PEOPLE["alliance_reader"]) as analyst:
        assert rows(analyst, "SELECT force_code, COUNT(*) FROM fact_ledger_line GROUP BY 1 ORDER BY 1") == everything
        assert rows(analyst, "SELECT force_code, COUNT(*) FROM quarantine_line GROUP BY 1 ORDER BY 1") == quarantined
        for relation in every_relation:
            analyst.execute(f"SELECT * FROM {relation} LIMIT 1").fetchall()
    # the reader's commands work as alliance_reader
    analyst_url = as_role(pg_url, PEOPLE["alliance_reader"])
    assert cli_main(["status", "--warehouse", analyst_url]) == 0
    assert "alliance_test_analyst@" in capsys.readouterr().out
    assert cli_main(["report", "--warehouse", analyst_url, "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / HTML_NAME).is_file()


def insert_a_line_per_force(conn) -> None:
    """One loaded batch and one fact line for each force, written directly (no pipeline run), and the
    summaries brought up to date from them as the loader does."""
    conn.execute("INSERT INTO etl_batch (force_code, source_ref, status, rows_read, started_at) "
                 "VALUES ('ASC', 'a', 'loaded', 1, now()), ('WP', 'w', 'loaded', 1, now())")
    conn.execute("INSERT INTO fact_ledger_line (force_code, fiscal_year, period, posting_date, source_line_ref, "
                 "document_ref, source_line_number, local_account, objective_code, subjective_code, "
                 "amount_pence, document_type, batch_id) "
                 "SELECT force_code, 2016, 1, DATE '2016-04-05', force_code || '/1', 'd', 1, 'x', 'UNMAPPED', "
                 "'UNMAPPED', 100, 'KR', batch_id FROM etl_batch")
    for table in summaries.SUMMARIES:
        conn.execute(f"INSERT INTO {table} " + summaries.summary_select(table, "postgresql"))


def test_the_consolidated_views_read_the_summaries_with_their_owners_rights(secured):
    """A force's finance team sees both forces in the consolidated views, read from summary tables it is
    granted nothing on: the views run with their owner's rights. Were one to check the querying role's
    rights instead (security_invoker), the team could not read it at all."""
    pg_url = secured
    with admin(pg_url) as conn:
        insert_a_line_per_force(conn)
    query = "SELECT force_code FROM v_consolidated_spend ORDER BY 1"
    with connect(pg_url, PEOPLE["asc_finance"]) as person:
        assert rows(person, query) == [("ASC",), ("WP",)]
        with pytest.raises(errors.InsufficientPrivilege):
            rows(person, "SELECT * FROM ledger_summary")
    with connect(pg_url, PEOPLE["asc_finance"]) as person:
        with admin(pg_url) as conn:
            conn.execute("ALTER VIEW v_consolidated_spend SET (security_invoker = true)")
        with pytest.raises(errors.InsufficientPrivilege):
            rows(person, query)


def test_a_view_over_a_security_invoker_view_would_hide_the_other_force(secured):
    """Why sql/security/ turns v_nre_line to its owner's rights: PostgreSQL checks the tables under a
    security-invoker view as the user running the query, even when an owner's-rights view reads it
    (here an analyst's view of NRE by force built on v_nre_line, granted to a force's team)."""
    pg_url = secured
    with admin(pg_url) as conn:
        insert_a_line_per_force(conn)
        conn.execute("CREATE VIEW nre_by_force AS SELECT force_code FROM v_nre_line GROUP BY force_code")
        conn.execute(f"GRANT SELECT ON nre_by_force TO {PEOPLE['asc_finance']}")
    query = "SELECT force_code FROM nre_by_force ORDER BY 1"
    with connect(pg_url, PEOPLE["asc_finance"]) as person:
        assert rows(person, query) == [("ASC",), ("WP",)]
        with admin(pg_url) as conn:
            conn.execute("ALTER VIEW v_nre_line SET (security_invoker = true)")
        assert rows(person, query) == [("ASC",)]


def test_an_administrator_with_createrole_needs_no_superuser(pg_url):
    """The rules hold when the administrator is an ordinary role with CREATEROLE (a managed
    PostgreSQL gives no superuser): it owns the tables and views, so its views see both forces."""
    admin_role = "alliance_test_admin"
    with admin(pg_url) as conn:
        conn.execute(f"""
            DO $$
            BEGIN
                CREATE ROLE {admin_role} LOGIN CREATEROLE;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$""")
        conn.execute(f'GRANT CREATE ON DATABASE "{make_url(pg_url).database}" TO {admin_role}')
    try:
        _createrole_administrator_secures(pg_url, admin_role)
    finally:  # no stray role with CREATEROLE left in the cluster
        with admin(pg_url) as conn:
            conn.execute(f"REASSIGN OWNED BY {admin_role} TO CURRENT_USER")
            conn.execute(f"DROP OWNED BY {admin_role}")
            conn.execute(f"DROP ROLE {admin_role}")


def _createrole_administrator_secures(pg_url: str, admin_role: str) -> None:
    admin_url = as_role(pg_url, admin_role)
    assert migrate.upgrade(admin_url) == migrate.head_revision()
    sync_forces(admin_url)
    ensure_person(pg_url, PEOPLE["asc_finance"], "asc_finance")
    with connect(pg_url, admin_role) as conn:
        assert rows(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [(False,)]
        assert rows(conn, "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                          "WHERE relnamespace = 'alliance'::regnamespace") == [(admin_role,)]
        insert_a_line_per_force(conn)
    with connect(pg_url, PEOPLE["asc_finance"]) as person:
        assert rows(person, "SELECT force_code FROM fact_ledger_line") == [("ASC",)]
        assert rows(person, "SELECT force_code FROM v_consolidated_spend ORDER BY 1") == [("ASC",), ("WP",)]
    # the loader loads under this administrator's grants too
    with connect(pg_url, security.LOADER) as loader:
        loader.execute("UPDATE fact_ledger_line SET amount_pence = amount_pence")
        assert rows(loader, "SELECT COUNT(*) FROM fact_ledger_line") == [(2,)]


# --- nobody reading may write or change anything ----------------------------------------------------

def test_readers_can_neither_write_nor_change_the_schema(secured):
    pg_url = secured
    with admin(pg_url) as conn:
        # a column each UPDATE may name (identity and generated columns are refused before privileges)
        tables = rows(conn, "SELECT c.relname, (SELECT MIN(attname) FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 "
                            "AND attidentity = '' AND attgenerated = '' AND NOT attisdropped) "
                            "FROM pg_class c WHERE c.relnamespace = 'alliance'::regnamespace AND c.relkind = 'r'")
        views = [r[0] for r in rows(conn, "SELECT viewname FROM pg_views WHERE schemaname = 'alliance'")]
    assert len(tables) >= 14 and len(views) >= 8
    for group in READING_ROLES:
        with connect(pg_url, PEOPLE[group]) as person:
            for table, column in tables:
                for statement in (f"INSERT INTO {table} DEFAULT VALUES", f"UPDATE {table} SET {column} = {column}",
                                  f"DELETE FROM {table}", f"TRUNCATE {table}",
                                  f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY", f"DROP TABLE {table}"):
                    assert denied(person, statement), (group, statement)
            for view in views:
                assert denied(person, f"DROP VIEW {view}"), (group, view)
                assert denied(person, f"ALTER VIEW {view} SET (security_invoker = true)"), (group, view)
            for statement in ("CREATE TABLE alliance.mine (x int)", "CREATE VIEW alliance.mine AS SELECT 1",
                              "CREATE SCHEMA mine", "CREATE ROLE alliance_test_intruder",
                              "SET ROLE alliance_loader", "DROP POLICY loader_all_lines ON fact_ledger_line"):
                assert denied(person, statement), (group, statement)


def test_the_loader_may_load_but_not_administer(secured):
    pg_url = secured
    with connect(pg_url, security.LOADER) as loader:
        assert rows(loader, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                            "FROM pg_roles WHERE rolname = current_user") == [(False,) * 5]
        for statement in ("CREATE ROLE alliance_test_intruder", "ALTER ROLE alliance_loader BYPASSRLS",
                          "ALTER ROLE alliance_loader CREATEROLE", "GRANT alliance_reader TO alliance_loader",
                          "SET ROLE postgres", "CREATE SCHEMA mine", "CREATE TABLE alliance.mine (x int)",
                          "DROP TABLE fact_ledger_line", "TRUNCATE fact_ledger_line", "TRUNCATE etl_batch",
                          "ALTER TABLE fact_ledger_line DISABLE ROW LEVEL SECURITY",
                          "DROP POLICY asc_finance_own_lines ON fact_ledger_line",
                          "CREATE POLICY mine ON fact_ledger_line FOR SELECT TO wp_finance USING (true)",
                          "DROP VIEW v_consolidated_spend", "DELETE FROM dim_force", "UPDATE dim_fiscal_period SET label = ''",
                          "DELETE FROM etl_batch", "DELETE FROM quarantine_line", "DELETE FROM source_document_loaded"):
            assert denied(loader, statement), statement
        # it holds no grant option: granting is a no-op with a warning, never a privilege given
        loader.execute("GRANT SELECT ON etl_batch TO asc_finance")
        assert rows(loader, "SELECT has_table_privilege('asc_finance', 'alliance.etl_batch', 'SELECT')") == [(False,)]
        # what a pass needs: a temporary staging table, COPY into it, INSERT ... SELECT into the fact table
        with loader.transaction():
            loader.execute("CREATE TEMPORARY TABLE stage (force_code text) ON COMMIT DROP")
            with loader.cursor().copy("COPY stage FROM STDIN") as copy:
                copy.write_row(("WP",))
            assert rows(loader, "SELECT COUNT(*) FROM stage") == [(1,)]


# --- upgrades: the loader never changes the schema ----------------------------------------------------

def test_a_pending_revision_or_view_change_fails_clearly_for_the_loader_and_changes_nothing(secured, tmp_path):
    pg_url = secured
    loader_url = as_role(pg_url, security.LOADER)
    assert migrate.upgrade(loader_url) == migrate.head_revision()  # up to date: nothing to refuse

    head = migrate.head_revision()
    location = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "9001_more.py").write_text(
        f'revision = "9001"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n\n'
        "def upgrade():\n    from alembic import op\n    op.execute('CREATE TABLE extra (x int)')\n", encoding="utf-8")
    with pytest.raises(security.SchemaChangeNotPermitted,
                       match=f"is at revision {head} and this code needs 9001, but alliance_loader may not change"):
        migrate.upgrade(loader_url, script_location=location)

    sql_dir = tmp_path / "sql"
    shutil.copytree(ROOT / "sql", sql_dir)
    view = sql_dir / "views" / "v_ledger_freshness.sql"
    view.write_text(view.read_text(encoding="utf-8") + "\n-- changed\n", encoding="utf-8")
    with pytest.raises(security.SchemaChangeNotPermitted, match="views that differ from this code's sql/views/"):
        migrate.upgrade(loader_url, sql_dir=sql_dir)

    with admin(pg_url) as conn:
        assert rows(conn, "SELECT version_num FROM alembic_version") == [(head,)]
        assert rows(conn, "SELECT to_regclass('alliance.extra')") == [(None,)]
    # the administrator then upgrades, and the loader runs again
    assert migrate.upgrade(pg_url, script_location=location) == "9001"
    with connect(pg_url, security.LOADER) as loader:
        assert rows(loader, "SELECT COUNT(*) FROM v_consolidated_spend") == [(0,)]


def test_a_loader_on_a_warehouse_the_administrator_never_created_is_told_so(pg_url):
    migrate.upgrade(pg_url)  # the roles exist (cluster-wide)...
    with admin(pg_url) as conn:  # ...but this database has no warehouse yet
        conn.execute("DROP SCHEMA alliance CASCADE")
    with pytest.raises(security.SchemaChangeNotPermitted, match="no schema alliance yet and alliance_loader may not"):
        migrate.upgrade(as_role(pg_url, security.LOADER))


def test_security_is_applied_when_needed_only_and_tolerates_existing_roles(secured, caplog):
    pg_url = secured
    with admin(pg_url) as conn:
        applied = rows(conn, "SELECT updated_at FROM warehouse_meta WHERE meta_key = %s", (security.SECURITY_DIGEST,))
        assert applied
    migrate.upgrade(pg_url)  # nothing changed: no role, grant or lock touched
    with admin(pg_url) as conn:
        assert rows(conn, "SELECT updated_at FROM warehouse_meta WHERE meta_key = %s", (security.SECURITY_DIGEST,)) \
            == applied
    # roles already there (cluster-wide) and applying again are no error; a loader given powers by
    # hand loses them at the next upgrade
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER ROLE alliance_loader CREATEDB")
            assert not security.security_current(conn, revision=migrate.head_revision())
            assert security.apply_security(conn, revision=migrate.head_revision())
            assert security.apply_security(conn, force=True, revision=migrate.head_revision())
            assert conn.exec_driver_sql("SELECT rolcreatedb FROM pg_roles WHERE rolname = 'alliance_loader'").scalar() \
                is False
            assert security.security_current(conn, revision=migrate.head_revision())
    finally:
        engine.dispose()


# --- passwords: set from the environment, never shown ---------------------------------------------------

def _scram_matches(verifier: str, password: str) -> bool:
    """Whether a PostgreSQL SCRAM-SHA-256 verifier was made from ``password`` (RFC 5802/7677)."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, _server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return method == "SCRAM-SHA-256" and base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key


def test_the_init_step_upgrades_and_sets_the_loaders_password_without_showing_it(pg_url):
    password = "Loader-Pw-5ecret!"
    env = dict(os.environ, ALLIANCE_TEST_LOADER_PW=password, PYTHONPATH=str(ROOT / "plugins"))
    command = [sys.executable, "-m", "alliance_finance.warehouse.migrate", "--warehouse", pg_url,
               "--loader-password-env", "ALLIANCE_TEST_LOADER_PW"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert password not in done.stdout + done.stderr
        assert f"at revision {migrate.head_revision()}; roles alliance_loader, alliance_reader" in done.stdout
        assert "alliance_loader may log in with the password from $ALLIANCE_TEST_LOADER_PW" in done.stdout
        with admin(pg_url) as conn:
            [(verifier, can_login)] = rows(conn, "SELECT rolpassword, rolcanlogin FROM pg_authid "
                                                 "WHERE rolname = 'alliance_loader'")
        assert can_login and verifier.startswith("SCRAM-SHA-256$") and _scram_matches(verifier, password)
        assert not _scram_matches(verifier, password + "x")
    finally:
        with admin(pg_url) as conn:  # the cluster's other tests log in by trust; leave no password behind
            conn.execute("ALTER ROLE alliance_loader PASSWORD NULL")

    missing = subprocess.run(command[:-1] + ["ALLIANCE_TEST_NO_SUCH_VAR"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 2
    assert "environment variable ALLIANCE_TEST_NO_SUCH_VAR is not set or empty" in missing.stderr


def test_no_command_shows_a_password(tmp_path, capsys, caplog):
    secret_url = "postgresql://alliance_loader:S3cretPw@127.0.0.1:1/x"
    masked = "postgresql://alliance_loader:***@127.0.0.1:1/x"
    for argv in (["run", "--sources", str(tmp_path), "--warehouse", secret_url],
                 ["status", "--warehouse", secret_url],
                 ["report", "--warehouse", secret_url, "--out", str(tmp_path / "report")]):
        assert cli_main(argv) == 1, argv
        captured = capsys.readouterr()
        assert "S3cretPw" not in captured.out + captured.err, argv
        assert masked in captured.err, argv
    assert migrate.main(["--warehouse", secret_url]) == 1
    captured = capsys.readouterr()
    assert "S3cretPw" not in captured.out + captured.err and masked in captured.err
    # a password holding an unescaped "@" is masked whole, not split at the "@"
    assert migrate.main(["--warehouse", "postgresql://alliance_loader:S3c@ret/Pw@127.0.0.1:1/x"]) == 2
    captured = capsys.readouterr()
    assert "must be percent-encoded" in captured.err
    assert "S3c" not in captured.out + captured.err and "ret/Pw" not in captured.out + captured.err
    assert all("S3cretPw" not in record.getMessage() for record in caplog.records)
