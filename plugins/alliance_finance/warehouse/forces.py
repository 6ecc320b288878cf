"""The forces in the warehouse, kept in step with ``dags/forces.yaml``.

The warehouse learns who the forces are from the configuration, never from a revision: at every run
(the runner's ``prepare_warehouse``, the administrator's ``python -m alliance_finance.warehouse.migrate``)
:func:`sync_forces` makes ``dim_force`` hold each configured force (code and name) and
``map_partner_account`` each force's partner accounts (local account -> the alliance force the flow
is with). The views read both, so a third force needs no SQL edit. The finance roles, the other
per-force thing in the warehouse, come from the same configuration through :mod:`.security`.

A force that is no longer configured leaves ``dim_force`` when nothing was ever loaded for it (its
history keeps it) and the syncing role may delete (the administrator; the loader may only add and
rename); its partner accounts go at once.
"""

from __future__ import annotations

import logging
from typing import Sequence

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig, load_forces
from alliance_finance.warehouse import history, locks
from alliance_finance.warehouse.engine import make_engine

log = logging.getLogger(__name__)

#: the tables besides dim_force that name a force and are rebuilt from configuration or reference data
_DERIVED_MAPS = ("map_partner_account", "map_cost_centre", "map_local_account")


def _wanted(forces: Sequence[ForceConfig]) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]]]:
    names = {(f.code, f.name) for f in forces}
    partners = {(f.code, account, partner) for f in forces for account, partner in f.partner_accounts.items()}
    return names, partners


def _present(conn: sa.Connection) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]]]:
    names = {(r[0], r[1]) for r in conn.execute(sa.text("SELECT force_code, force_name FROM dim_force"))}
    partners = {(r[0], r[1], r[2]) for r in conn.execute(sa.text(
        "SELECT force_code, local_account, partner_force FROM map_partner_account"))}
    return names, partners


def sync_forces_in(conn: sa.Connection, forces: Sequence[ForceConfig]) -> bool:
    """:func:`sync_forces` in the caller's transaction; True when something changed."""
    names, partners = _wanted(forces)
    if _present(conn) == (names, partners):
        return False
    locks.pg_xact_lock(conn, locks.REFERENCE_KEY)
    conn.execute(sa.text(
        "INSERT INTO dim_force (force_code, force_name) VALUES (:code, :name) "
        "ON CONFLICT (force_code) DO UPDATE SET force_name = excluded.force_name"),
        [{"code": code, "name": name} for code, name in sorted(names)])
    conn.exec_driver_sql("DELETE FROM map_partner_account")
    if partners:
        conn.execute(sa.text(
            "INSERT INTO map_partner_account (force_code, local_account, partner_force) "
            "VALUES (:force, :account, :partner)"),
            [{"force": f, "account": a, "partner": p} for f, a, p in sorted(partners)])
    configured = sorted(code for code, _ in names)
    gone = [] if not _may_delete_forces(conn) else [r[0] for r in conn.execute(
        sa.text("SELECT force_code FROM dim_force WHERE force_code NOT IN :codes "
                "AND force_code NOT IN (SELECT force_code FROM etl_batch) "
                # finance's recorded closes and budgets name it too: kept while they do
                "AND force_code NOT IN (SELECT force_code FROM period_close_event) "
                "AND force_code NOT IN (SELECT force_code FROM budget)")
        .bindparams(sa.bindparam("codes", expanding=True)), {"codes": configured})]
    for code in gone:
        for table in _DERIVED_MAPS:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE force_code = :code"), {"code": code})
        conn.execute(sa.text("DELETE FROM dim_force WHERE force_code = :code"), {"code": code})
    history.record(conn, "forces", reason="forces configuration (dags/forces.yaml) changed")
    log.info("forces synchronised from configuration: %s%s", ", ".join(configured),
             f" (no longer configured, removed: {', '.join(gone)})" if gone else "")
    return True


def _may_delete_forces(conn: sa.Connection) -> bool:
    # the loader may add and rename forces, never delete one (docs/security.md)
    return conn.dialect.name != "postgresql" or bool(conn.execute(sa.text(
        "SELECT has_table_privilege(current_user, 'dim_force', 'DELETE')")).scalar())


def sync_forces(url_or_engine: str | sa.Engine, forces: Sequence[ForceConfig] | None = None) -> bool:
    """Make ``dim_force`` and ``map_partner_account`` match ``forces`` (default: ``dags/forces.yaml``).

    One transaction; nothing is written when they already match. Returns True when something changed.
    """
    forces = tuple(load_forces() if forces is None else forces)
    engine = make_engine(url_or_engine) if not isinstance(url_or_engine, sa.Engine) else url_or_engine
    try:
        with engine.connect() as conn:
            with conn.begin():
                if _present(conn) == _wanted(forces):
                    return False
            conn = conn.execution_options(sqlite_begin="immediate")
            with conn.begin():
                return sync_forces_in(conn, forces)
    finally:
        if not isinstance(url_or_engine, sa.Engine):
            engine.dispose()


def warehouse_forces(conn: sa.Connection) -> dict[str, str]:
    """force_code -> force_name of the forces the warehouse knows (``dim_force``), by code."""
    return {r[0]: r[1] for r in conn.execute(sa.text("SELECT force_code, force_name FROM dim_force ORDER BY 1"))}
