"""Bringing a warehouse to the current schema without losing data.

Tables change through versioned Alembic revisions (``warehouse/migrations/versions``), each of which
executes plain SQL from ``sql/migrations/`` rendered for the dialect. Views are derived objects: they
live in ``sql/views/`` (one file per view, named after it) and after every upgrade to head they are
all dropped and created again in dependency order, so a revision may change any table under them.
Files in ``sql/grants/`` run after the views (grants on views are lost when a view is dropped).
On PostgreSQL, :mod:`.security` then applies ``sql/security/`` (roles, grants, row-level security)
when the upgrading role may; a role that may not change the schema (``alliance_loader``) gets
:class:`~.security.SchemaChangeNotPermitted` when a revision or the views are pending, not a
half-done upgrade.

The whole upgrade (schema, views) is one transaction: on PostgreSQL transactional DDL makes a failed
upgrade leave nothing behind; on SQLite the engine's ``BEGIN IMMEDIATE`` does the same. Concurrent
upgrades queue on an advisory lock (PostgreSQL) or SQLite's write lock.

See docs/warehouse.md for how to add a revision or a view.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import re
import sys
from pathlib import Path
from typing import Sequence

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.core import fiscal
from alliance_finance.core.paths import SQL_DIR, default_warehouse_url
from alliance_finance.core.urls import mask_secrets, mask_url
from alliance_finance.warehouse import history, locks, meta, security, sqlfiles
from alliance_finance.warehouse.engine import PG_SCHEMA, make_engine
from alliance_finance.warehouse.forces import sync_forces

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
HEAD = "head"


def execute_sql_file(conn: sa.Connection, relative_path: str, *, sql_dir: Path | None = None, **params) -> None:
    """Render a file under ``sql/`` for the connection's dialect and execute its statements in order."""
    path = Path(sql_dir or SQL_DIR) / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} not found (the warehouse's SQL lives under {sql_dir or SQL_DIR})")
    sqlfiles.execute_statements(conn, sqlfiles.render(path, conn.dialect.name, **params))


def _alembic_config(conn: sa.Connection | None, script_location: Path | None):
    # deferred on purpose (here and in the functions below): Alembic takes a good part of a second to
    # import, and a warehouse already at head (every night but an upgrade's) never needs it
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location or MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    cfg.attributes["version_table_schema"] = PG_SCHEMA if conn is not None and conn.dialect.name == "postgresql" else None
    return cfg


def head_revision(script_location: Path | None = None) -> str:
    """The newest revision this code knows (Alembic's own reading of the revision files)."""
    from alembic.script import ScriptDirectory  # deferred on purpose: see _alembic_config

    return ScriptDirectory.from_config(_alembic_config(None, script_location)).get_current_head()


_DECLARED = re.compile(r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:None|"([^"\n]*)"|'([^'\n]*)')\s*(?:#.*)?$""",
                       re.MULTILINE)


def declared_head(script_location: Path | None = None) -> str | None:
    """The head revision as the revision files declare it (``revision = "0004"``, ``down_revision =
    "0003"``, one line each), read without importing Alembic; None whenever the history is anything
    but that simple (a merge, a branch, a computed id), and Alembic decides (:func:`head_revision`).
    ``tests/test_migrations.py`` checks it agrees with Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((Path(script_location or MIGRATIONS_DIR) / "versions").glob("*.py")):
        found: dict[str, list[str | None]] = {}
        for match in _DECLARED.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), []).append(match.group(2) or match.group(3))
        if sorted(found) != ["down_revision", "revision"] or any(len(v) != 1 for v in found.values()):
            return None
        revision, parent = found["revision"][0], found["down_revision"][0]
        if not revision or revision in revisions:
            return None
        revisions.add(revision)
        if parent is not None:
            parents.add(parent)
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return heads.pop()


def current_revision(conn: sa.Connection) -> str | None:
    """The revision a warehouse is at (None when it has no schema yet)."""
    schema = PG_SCHEMA if conn.dialect.name == "postgresql" else None
    if not sa.inspect(conn).has_table("alembic_version", schema=schema):
        return None
    table = f"{schema}.alembic_version" if schema else "alembic_version"
    stored = [row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {table}")]
    if len(stored) <= 1:
        return stored[0] if stored else None
    # several heads stored: Alembic says what that means
    from alembic.runtime.migration import MigrationContext  # deferred on purpose: see _alembic_config

    return MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_revision()


def upgrade(url_or_engine: str | sa.Engine, *, revision: str = HEAD, script_location: Path | None = None,
            sql_dir: Path | None = None, forces: Sequence[ForceConfig] | None = None) -> str:
    """Bring the warehouse (empty or older) to ``revision`` keeping all data; returns the revision reached.

    At head the views are (re)created when any revision ran, when the view files changed, or when
    one is missing. At an older revision (tests, a DBA stepping through) views are dropped and not
    recreated, since today's views may need tables that revision does not have yet. ``forces`` (default
    ``dags/forces.yaml``) name the finance roles the security rules create; the forces' rows are
    :func:`.forces.sync_forces`'s job, after the upgrade.
    """
    engine = make_engine(url_or_engine) if not isinstance(url_or_engine, sa.Engine) else url_or_engine
    # Alembic narrates every context it opens at INFO; this module logs what matters instead
    alembic_log = logging.getLogger("alembic")
    alembic_level = alembic_log.level
    alembic_log.setLevel(max(logging.WARNING, alembic_level))
    try:
        with _privileges_explained(engine), engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="immediate")
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # before the schema: two first runs at once would both try to create it
                    locks.pg_xact_lock(conn, locks.MIGRATION_KEY)
                    _create_schema(conn)
                    conn.exec_driver_sql(f"SET LOCAL search_path = {PG_SCHEMA}, public")
                before = current_revision(conn)
                head = declared_head(script_location) or head_revision(script_location)
                target_is_head = revision in (HEAD, head)
                wanted = head if target_is_head else revision
                ran = before != wanted
                _check_may_change(conn, before, wanted, ran or (
                    target_is_head and not views_current(conn, sql_dir=sql_dir, revision=before)))
                if ran:
                    drop_views(conn)
                    if target_is_head:  # created again below; an older target would be left without them
                        security.drop_policies(conn)
                    from alembic import command  # deferred on purpose: see _alembic_config

                    command.upgrade(_alembic_config(conn, script_location), revision)
                reached = current_revision(conn)
                if target_is_head:
                    # the first version of every dataset: the warehouse's history starts here (history.py)
                    history.ensure_versions(conn)
                    recreated = ensure_views(conn, force=ran, sql_dir=sql_dir, revision=reached)
                    security.apply_security(conn, force=ran or recreated, revision=reached, sql_dir=sql_dir,
                                            forces=forces)
                if ran:
                    log.info("warehouse upgraded from revision %s to %s", before or "(empty)", reached)
        return reached
    finally:
        alembic_log.setLevel(alembic_level)
        if not isinstance(url_or_engine, sa.Engine):
            engine.dispose()


@contextlib.contextmanager
def _privileges_explained(engine: sa.Engine):
    """A privilege the upgrade lacks, said as what to do about it (the transaction is rolled back)."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        detail = str(exc.orig).strip().splitlines()[0]
        raise security.SchemaChangeNotPermitted(
            f"{engine.url.username or 'this role'} lacks a privilege the upgrade needs ({detail}): its administrator "
            "must upgrade the warehouse (python -m alliance_finance.warehouse.migrate --warehouse <admin URL>); "
            "nothing was changed") from exc


def _create_schema(conn: sa.Connection) -> None:
    # CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists, which
    # alliance_loader does not have: look first
    if conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": PG_SCHEMA}).first():
        return
    if not security.may_change_schema(conn):
        user = conn.execute(sa.text("SELECT current_user")).scalar()
        raise security.SchemaChangeNotPermitted(
            f"the warehouse has no schema {PG_SCHEMA} yet and {user} may not create it: its administrator "
            "creates it with the first upgrade (python -m alliance_finance.warehouse.migrate --warehouse <admin URL>)")
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")


def _check_may_change(conn: sa.Connection, before: str | None, wanted: str | None, changing: bool) -> None:
    """Refuse, before touching anything, an upgrade the connected role may not make."""
    if not changing or security.may_change_schema(conn):
        return
    user = conn.execute(sa.text("SELECT current_user")).scalar()
    what = (f"is at revision {before or '(none)'} and this code needs {wanted}" if before != wanted
            else "has views that differ from this code's sql/views/ (changed or missing)")
    raise security.SchemaChangeNotPermitted(
        f"the warehouse {what}, but {user} may not change its schema (it owns no table): its administrator "
        "must upgrade it first (python -m alliance_finance.warehouse.migrate --warehouse <admin URL>, or "
        "alliance-finance run as the administrator); nothing was changed")


# --- views --------------------------------------------------------------------------------------

def view_files(sql_dir: Path | None = None) -> list[Path]:
    """``sql/views/*.sql`` in dependency order (a view after every view its text names)."""
    files = {p.stem: p for p in sorted((Path(sql_dir or SQL_DIR) / "views").glob("*.sql"))}
    # one pattern for every view's name, each file read and searched once (a night upgrades three times)
    named = re.compile(r"\b(" + "|".join(re.escape(name) for name in sorted(files, key=len, reverse=True)) + r")\b")
    needs = {
        name: set(named.findall(_strip_comments(path.read_text(encoding="utf-8")))) - {name}
        for name, path in files.items()
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ValueError(f"views depend on each other in a cycle: {' -> '.join(chain + (name,))}")
        visiting.add(name)
        for other in sorted(needs[name]):
            visit(other, chain + (name,))
        visiting.discard(name)
        ordered.append(name)

    for name in files:
        visit(name, ())
    return [files[name] for name in ordered]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _existing_views(conn: sa.Connection) -> list[tuple[str, str]]:
    """(name, kind) of every view in the warehouse; kind is ``VIEW`` or ``MATERIALIZED VIEW``."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(sa.text(
            "SELECT viewname, 'VIEW' FROM pg_views WHERE schemaname = :s "
            "UNION ALL SELECT matviewname, 'MATERIALIZED VIEW' FROM pg_matviews WHERE schemaname = :s"),
            {"s": PG_SCHEMA})
    else:
        rows = conn.exec_driver_sql("SELECT name, 'VIEW' FROM sqlite_master WHERE type = 'view'")
    return [(r[0], r[1]) for r in rows]


def drop_views(conn: sa.Connection) -> None:
    """Drop every view of the warehouse (they are derived: ensure_views makes them again)."""
    for name, kind in _existing_views(conn):
        # the name comes from the catalogue: quoted as an identifier, whatever it holds
        quoted = conn.dialect.identifier_preparer.quote_identifier(name)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"DROP {kind} IF EXISTS {PG_SCHEMA}.{quoted} CASCADE")
        else:
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {quoted}")


def _views_digest(conn: sa.Connection, files: list[Path], grants: list[Path], revision: str | None) -> str:
    digest = hashlib.sha256(f"revision={revision}\n".encode())
    for path in files + grants:
        digest.update(path.name.encode() + b"\0")
        digest.update(sqlfiles.render(path, conn.dialect.name).encode() + b"\0")
    return digest.hexdigest()


def views_current(conn: sa.Connection, *, sql_dir: Path | None = None, revision: str | None = None) -> bool:
    """Whether the warehouse carries exactly today's views (same files and revision, none missing)."""
    files = view_files(sql_dir)
    grants = sorted((Path(sql_dir or SQL_DIR) / "grants").glob("*.sql"))
    if meta.get_meta(conn, meta.VIEWS_DIGEST) != _views_digest(conn, files, grants, revision):
        return False
    return {p.stem for p in files} <= {name for name, _ in _existing_views(conn)}


def ensure_views(conn: sa.Connection, *, force: bool = False, sql_dir: Path | None = None,
                 revision: str | None = None) -> bool:
    """Drop and recreate all views (then grants) unless they are already exactly today's; True if recreated."""
    files = view_files(sql_dir)
    grants = sorted((Path(sql_dir or SQL_DIR) / "grants").glob("*.sql"))
    digest = _views_digest(conn, files, grants, revision)
    if not force and views_current(conn, sql_dir=sql_dir, revision=revision):
        return False
    drop_views(conn)
    for path in files + grants:
        try:
            sqlfiles.execute_statements(conn, sqlfiles.render(path, conn.dialect.name))
        except Exception as exc:
            raise RuntimeError(f"creating {path.name} failed: {exc}") from exc
    meta.set_meta(conn, meta.VIEWS_DIGEST, digest)
    log.info("warehouse views recreated: %s", ", ".join(p.stem for p in files))
    return True


# --- seeds a revision needs ---------------------------------------------------------------------

def seed_fiscal_periods(conn: sa.Connection, first_fy: int = 2010, last_fy: int = 2035) -> None:
    """Fill dim_fiscal_period: periods 1-12 are the months April to March; 13-16 the year-end
    adjustment periods, which belong to March (their lines may be posted later)."""
    rows = []
    for fy in range(first_fy, last_fy + 1):
        for period in range(1, 17):
            year, month = fiscal.period_month(fy, period)
            start = fiscal.fy_start(fy).replace(year=year, month=month)
            end = fiscal.period_end(fy, period)
            label = f"{fiscal.fy_label(fy)} P{period:02d}" + (" (year-end adjustment)" if period >= 13 else "")
            rows.append({"fy": fy, "period": period, "label": label, "start": start, "end": end})
    conn.execute(sa.text("INSERT INTO dim_fiscal_period (fiscal_year, period, label, start_date, end_date) "
                         "VALUES (:fy, :period, :label, :start, :end)"), rows)


# --- the administrator's command ------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m alliance_finance.warehouse.migrate``: upgrade the warehouse as its administrator.

    Creates or upgrades the schema, the views and (PostgreSQL, as a role that may) the roles, grants
    and row-level security, and fills the force dimension from ``dags/forces.yaml``; with ``--loader-password-env VAR`` also lets ``alliance_loader`` log in
    with the password held in environment variable VAR (never printed). The docker-compose init step
    runs it. Exit 0 done, 1 failed (the message masks every password), 2 wrong usage.
    """
    parser = argparse.ArgumentParser(
        prog="python -m alliance_finance.warehouse.migrate",
        description="Bring the alliance finance warehouse up to date as its administrator: schema, views "
                    "and, on PostgreSQL, the roles, grants and row-level security (docs/security.md).")
    parser.add_argument("--warehouse", default=None,
                        help="SQLAlchemy URL of the warehouse, connecting as its administrator "
                             "(default $ALLIANCE_WAREHOUSE_URL, else sqlite:///var/warehouse.db)")
    parser.add_argument("--loader-password-env", metavar="VAR",
                        help="name of the environment variable holding alliance_loader's password "
                             "(the password itself is never given on the command line)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter hides what matters
    url = args.warehouse or default_warehouse_url()
    prog = parser.prog
    if url.count("@") > 1:
        # the URL parser would split the password at its first "@" and show the rest as the host
        print(f"{prog}: the password in --warehouse {mask_url(url)} must be percent-encoded "
              "(an @ in it is written %40)", file=sys.stderr)
        return 2
    password = None
    if args.loader_password_env:
        password = os.environ.get(args.loader_password_env)
        if not password:
            print(f"{prog}: environment variable {args.loader_password_env} is not set or empty: "
                  f"it must hold alliance_loader's password", file=sys.stderr)
            return 2
    try:
        engine = make_engine(url)
        try:
            reached = upgrade(engine)
            sync_forces(engine)
            with engine.connect() as conn:
                if conn.dialect.name != "postgresql":
                    secured = "no roles (not PostgreSQL)"
                elif security.security_current(conn, revision=reached):
                    secured = f"roles {', '.join(security.roles())}, their grants and row-level security in place"
                else:
                    secured = "roles, grants and row-level security NOT in place (connect as a role with CREATEROLE)"
            print(f"warehouse {mask_url(url)} at revision {reached}; {secured}")
            if password is not None:
                with engine.begin() as conn:
                    security.set_login_password(conn, security.LOADER, password)
                print(f"{security.LOADER} may log in with the password from ${args.loader_password_env}")
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - an operator command: say what and where, masked
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = text[0] if text else type(exc).__name__
        print(f"{prog}: warehouse {mask_url(url)} could not be brought up to date: "
              f"{mask_secrets(reason, (url, password))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in tests/test_security.py
    # run the package's own module, not this __main__ copy, which the revisions would import again
    from alliance_finance.warehouse.migrate import main as _main

    raise SystemExit(_main())
