"""Before a pass loads anything: the warehouse at head, the reference data and finance seeds current."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from alliance_finance.core.errors import TransientError
from alliance_finance.core.urls import mask_url
from alliance_finance.marts import budgets, seeds
from alliance_finance.runner.result import first_line
from alliance_finance.config.forces import ForceConfig
from alliance_finance.warehouse import forces as warehouse_forces
from alliance_finance.warehouse import locks, mapping, migrate
from alliance_finance.warehouse.engine import make_engine

_log = logging.getLogger(__name__)


def prepare_warehouse(warehouse: "str | sa.Engine", reference_dir: Path | None = None,
                      seeds_dir: Path | None = None, forces: "tuple[ForceConfig, ...] | None" = None) -> int:
    """Migrate to head, sync the forces (``forces``, default dags/forces.yaml) into dim_force and
    map_partner_account, apply changed reference data and finance seeds; returns lines restated."""
    engine, owned = (warehouse, False) if isinstance(warehouse, sa.Engine) else (make_engine(warehouse), True)
    try:
        migrate.upgrade(engine)
        warehouse_forces.sync_forces(engine, forces)
        restated = mapping.sync_reference(engine, reference_dir, forces).lines_restated
        sync_finance_seeds(engine, seeds_dir)
        refresh_budget_summary(engine)
        return restated
    finally:
        if owned:
            engine.dispose()


def sync_finance_seeds(engine: sa.Engine, seeds_dir: Path | None = None) -> None:
    """Reload the finance seeds the marts read when they changed."""
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="immediate")
        with conn.begin():
            # seeds feed views, not the mapping: two runs reloading them queue here, loads do not
            locks.pg_xact_lock(conn, locks.MIGRATION_KEY)
            if seeds.sync_finance_seeds(conn, seeds_dir):
                _log.info("finance seeds reloaded")


def refresh_budget_summary(warehouse: "str | sa.Engine") -> None:
    """Bring ``budget_summary`` up to date with the budgets, the reference data and the baseline year
    (:func:`alliance_finance.marts.budgets.refresh_budget_summary`): as a run prepares the warehouse,
    and again after its passes, whose baseline lines a budget without a profile takes its shape from."""
    engine, owned = (warehouse, False) if isinstance(warehouse, sa.Engine) else (make_engine(warehouse), True)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="immediate")
            with conn.begin():
                locks.pg_xact_lock(conn, locks.MIGRATION_KEY)
                if budgets.refresh_budget_summary(conn):
                    _log.info("budget summary refreshed")
    finally:
        if owned:
            engine.dispose()


def reachable(engine: sa.Engine, url: str) -> None:
    """Connect once, or TransientError naming the (masked) warehouse: the one failure worth retrying."""
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        raise TransientError(f"warehouse {mask_url(url)} unreachable: {first_line(exc)}") from exc
