"""Who may do what in the PostgreSQL warehouse: roles, grants and row-level security.

The rules are plain SQL in ``sql/security/`` (one file each for roles, grants and row-level
security), rendered with :mod:`.sqlfiles`; docs/security.md explains them. This module decides when
to apply them and whether the connected role may:

- :func:`apply_security` runs at the end of :func:`.migrate.upgrade`, in its transaction, when the
  upgrading role may create roles and owns the schema (an administrator): always after views were
  recreated (their grants went with them), else only when the files, the revision, the roles or the
  tables' row-level security differ from what was applied last (digest in ``warehouse_meta``), so a
  routine upgrade takes none of the table locks that ``ENABLE ROW LEVEL SECURITY`` needs.
- Connected as ``alliance_loader`` it changes nothing: the loader owns no table, so it can neither
  migrate nor grant. :func:`may_change_schema` lets ``upgrade`` refuse a pending revision clearly
  instead (:class:`SchemaChangeNotPermitted`).
- :func:`set_login_password` gives a role its LOGIN password as a SCRAM verifier computed on the
  client: the clear text never reaches the server, its logs or ours.

SQLite has no roles: everything here is a no-op there.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Sequence

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig, load_forces
from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.core.paths import SQL_DIR
from alliance_finance.warehouse import meta, sqlfiles
from alliance_finance.warehouse.engine import PG_SCHEMA

log = logging.getLogger(__name__)

LOADER = "alliance_loader"
READER = "alliance_reader"
#: the consolidated views every force's finance role reads, both forces' figures in them
CONSOLIDATED_VIEWS = ("v_consolidated_spend", "v_savings_tracker", "v_cost_share", "v_settlement", "v_savings_share",
                      "v_intra_alliance_reconciliation", "v_local_policing", "v_ledger_freshness",
                      "v_period_status", "v_fiscal_year_status", "v_budget_profile", "v_budget_vs_outturn")
#: the tables whose rows row-level security gives each force's role only of its own force
FORCE_TABLES = ("fact_ledger_line", "quarantine_line")
SECURITY_DIGEST = "security_digest"

_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FORCE_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


class SchemaChangeNotPermitted(AllianceFinanceError):
    """The warehouse needs a change (a revision, its views, its grants) that only its administrator may make."""


def force_roles(forces: Sequence[ForceConfig] | None = None) -> dict[str, str]:
    """Each force's finance role (``finance_role``), by force code, from ``forces`` (default
    ``dags/forces.yaml``): ``{"ASC": "asc_finance", ...}``."""
    roles = {}
    for force in (load_forces() if forces is None else forces):
        role = force.finance_role
        if not _FORCE_CODE.match(force.code) or not _ROLE_NAME.match(role) or role in (LOADER, READER):
            raise ValueError(f"forces file: force {force.code!r} cannot have the PostgreSQL role {role!r} "
                             "(expected a code of capital letters and digits, at most 8, and a role name of "
                             f"lower-case letters, digits and _, not {LOADER} or {READER})")
        roles[force.code] = role
    return roles


def roles(forces: Sequence[ForceConfig] | None = None) -> tuple[str, ...]:
    """Every role the project creates: the loader, the reader, then each force's finance role."""
    return (LOADER, READER, *force_roles(forces).values())


def security_files(sql_dir: Path | None = None) -> list[Path]:
    """``sql/security/*.sql`` in the order they run (roles, grants, row-level security)."""
    return sorted((Path(sql_dir or SQL_DIR) / "security").glob("*.sql"))


def _render(path: Path, forces: Sequence[ForceConfig] | None = None) -> str:
    return sqlfiles.render(path, "postgresql", force_roles=force_roles(forces), all_roles=list(roles(forces)),
                           consolidated_views=CONSOLIDATED_VIEWS)


def render_security_sql(sql_dir: Path | None = None, forces: Sequence[ForceConfig] | None = None) -> str:
    """The security SQL exactly as it runs on PostgreSQL (for a DBA to read, or to run by hand)."""
    return "\n".join(f"-- {path.name}\n{_render(path, forces)}" for path in security_files(sql_dir))


# --- what the connected role may do ---------------------------------------------------------------

def may_change_schema(conn: sa.Connection) -> bool:
    """Whether the connected role may run revisions and recreate views: a superuser, the owner of
    schema ``alliance`` or a member of it (or, before the schema exists, a role that may create it)."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(sa.text(
        "SELECT r.rolsuper OR COALESCE(pg_has_role(current_user, n.nspowner, 'USAGE'), "
        "       has_database_privilege(current_database(), 'CREATE')) "
        "FROM pg_roles AS r LEFT JOIN pg_namespace AS n ON n.nspname = :schema "
        "WHERE r.rolname = current_user"), {"schema": PG_SCHEMA}).scalar())


def may_manage_security(conn: sa.Connection) -> bool:
    """Whether the connected role may create the roles and grant on the schema: a superuser, or a role
    with CREATEROLE that may change the schema."""
    if conn.dialect.name != "postgresql":
        return False
    privileged = conn.execute(sa.text(
        "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")).one()
    return bool(privileged.rolsuper or (privileged.rolcreaterole and may_change_schema(conn)))


# --- applying the rules ------------------------------------------------------------------------------

def _digest(sql: str, revision: str | None) -> str:
    return hashlib.sha256(f"revision={revision}\n{sql}".encode()).hexdigest()


def security_current(conn: sa.Connection, *, revision: str | None = None, sql_dir: Path | None = None,
                     forces: Sequence[ForceConfig] | None = None) -> bool:
    """Whether the warehouse carries exactly today's rules: same files and revision as last applied,
    every role present, row-level security on for the force tables, the loader without any power
    over roles, databases or row-level security."""
    if meta.get_meta(conn, SECURITY_DIGEST) != _digest(render_security_sql(sql_dir, forces), revision):
        return False
    wanted = roles(forces)
    present = conn.execute(sa.text("SELECT COUNT(*) FROM pg_roles WHERE rolname IN :names")
                           .bindparams(sa.bindparam("names", expanding=True)), {"names": list(wanted)}).scalar()
    secured = conn.execute(sa.text(
        "SELECT COUNT(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND c.relname IN :tables AND c.relrowsecurity")
        .bindparams(sa.bindparam("tables", expanding=True)),
        {"schema": PG_SCHEMA, "tables": list(FORCE_TABLES)}).scalar()
    loader_tamed = not conn.execute(sa.text(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls "
        "FROM pg_roles WHERE rolname = :loader"), {"loader": LOADER}).scalar()
    return present == len(wanted) and secured == len(FORCE_TABLES) and loader_tamed


def apply_security(conn: sa.Connection, *, force: bool = False, revision: str | None = None,
                   sql_dir: Path | None = None, forces: Sequence[ForceConfig] | None = None) -> bool:
    """Create the roles, grants and row-level security of ``sql/security/`` when needed and permitted.

    In the caller's transaction (the upgrade's), after the views exist. ``force``: the views were
    just recreated, so their grants must be given again. Returns True when the rules were applied.
    Raises :class:`SchemaChangeNotPermitted` when the views were recreated by a role that cannot give
    their grants back; a role that may not manage security otherwise changes nothing (logged).
    """
    if conn.dialect.name != "postgresql":
        return False
    if not force and security_current(conn, revision=revision, sql_dir=sql_dir, forces=forces):
        return False
    if not may_manage_security(conn):
        user = conn.execute(sa.text("SELECT current_user")).scalar()
        applied_before = meta.get_meta(conn, SECURITY_DIGEST) is not None
        if force and applied_before:
            raise SchemaChangeNotPermitted(
                f"the views were recreated, which drops their grants, but {user} may not grant them again "
                "(it needs CREATEROLE or superuser): upgrade as the warehouse's administrator")
        if applied_before:
            log.warning("the warehouse's roles, grants or row-level security differ from sql/security/, but %s may "
                        "not change them: an administrator should run `python -m alliance_finance.warehouse.migrate`",
                        user)
        else:
            log.info("roles, grants and row-level security not created: %s may not create roles "
                     "(connect as a superuser or a role with CREATEROLE to create them)", user)
        return False
    sql = render_security_sql(sql_dir, forces)
    for path in security_files(sql_dir):
        try:
            sqlfiles.execute_statements(conn, _render(path, forces))
        except Exception as exc:
            raise RuntimeError(f"applying sql/security/{path.name} failed: {exc}") from exc
    meta.set_meta(conn, SECURITY_DIGEST, _digest(sql, revision))
    log.info("warehouse roles, grants and row-level security applied (%s)", ", ".join(roles(forces)))
    return True


def drop_policies(conn: sa.Connection) -> None:
    """Drop the row-level security policies (not RLS itself) before revisions run, so that a revision
    may change a column a policy reads; :func:`apply_security` creates them again at the end of the
    same transaction. Only for a role that may: otherwise the policies stay."""
    if conn.dialect.name != "postgresql" or not may_manage_security(conn):
        return
    for name, table in conn.execute(sa.text(
            "SELECT policyname, tablename FROM pg_policies WHERE schemaname = :schema"), {"schema": PG_SCHEMA}):
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"DROP POLICY {quote(name)} ON {PG_SCHEMA}.{quote(table)}")


# --- passwords ---------------------------------------------------------------------------------------

def set_login_password(conn: sa.Connection, role: str, password: str) -> None:
    """Let ``role`` log in with ``password`` (in the caller's transaction; needs CREATEROLE or superuser).

    The server receives only the SCRAM-SHA-256 verifier that libpq computes here, never the clear
    text: a server logging statements logs no password, and nothing here logs or prints it.
    """
    if conn.dialect.name != "postgresql":
        raise ValueError("only a PostgreSQL warehouse has login roles")
    if not password:
        raise ValueError(f"refusing an empty password for {role}")
    # deferred: only a PostgreSQL warehouse needs psycopg; a SQLite one never loads it
    from psycopg import sql

    driver = conn.connection.driver_connection
    verifier = driver.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    with driver.cursor() as cursor:
        cursor.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                                sql.Literal(verifier)))
    log.info("%s may log in with its new password", role)
