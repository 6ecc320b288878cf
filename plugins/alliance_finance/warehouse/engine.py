"""Connecting to the warehouse: one place that knows the dialects (URLs are read, checked and masked
by :mod:`alliance_finance.core.urls`).

PostgreSQL is the production warehouse; its relations live in schema ``alliance`` and every
connection made here has ``search_path`` set to it, so the same unqualified SQL serves PostgreSQL
and the embedded SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from alliance_finance.core.urls import normalise_url

PG_SCHEMA = "alliance"


def make_engine(url: str | URL, **kwargs) -> sa.Engine:
    """An engine for the warehouse URL; on SQLite the file's folder is created.

    SQLite connections run real transactions (DDL included), begun by SQLAlchemy; pass the execution
    option ``sqlite_begin="immediate"`` on a connection that will write, to take the write lock first.
    """
    u = normalise_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # Python's sqlite3 would open transactions only before DML and commit silently before
            # DDL; SQLAlchemy's documented recipe hands transaction control back to SQLAlchemy so
            # that a migration or a batch load is one real transaction (see _sqlite_begin).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            # A writer asks for BEGIN IMMEDIATE (execution option sqlite_begin="immediate"): it takes
            # the write lock up front, waiting up to busy_timeout, instead of failing with
            # SQLITE_BUSY when a read transaction later tries to become a write transaction.
            mode = conn.get_execution_options().get("sqlite_begin", "deferred").upper()
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if u.get_backend_name() == "postgresql":
        connect_args = kwargs.pop("connect_args", {})
        options = connect_args.get("options", "")
        # jit off: the warehouse's queries read summaries and a batch's lines, milliseconds of work, and
        # where the planner's estimate passes jit_above_cost (tables not analysed yet: a new warehouse,
        # the first minutes after a load) compiling a view's query took 1.7 s of a few milliseconds
        connect_args["options"] = f"{options} -c search_path={PG_SCHEMA},public -c jit=off".strip()
        return sa.create_engine(u, connect_args=connect_args, **kwargs)
    return sa.create_engine(u, **kwargs)


def dialect_of(engine_or_url) -> str:
    """``"postgresql"`` or ``"sqlite"`` (or another backend name)."""
    if isinstance(engine_or_url, sa.Engine):
        return engine_or_url.dialect.name
    return normalise_url(engine_or_url).get_backend_name()
