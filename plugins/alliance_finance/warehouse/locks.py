"""Who may write what, when: one run per force at a time, and mapping that never races a load.

PostgreSQL: advisory locks in one namespace.
  - ``(namespace, force key)`` session lock: held by a run of that force for its whole pass.
  - ``(namespace, 0)`` transaction lock: schema migrations, one at a time.
  - ``(namespace, 1)`` transaction lock: taken *exclusive* when the reference data is reseeded and
    history restated, *shared* by every batch load, so no batch is mapped with half-changed maps
    and no restatement misses lines a load was inserting.
SQLite: a lock file per force next to the database file (``fcntl.flock``), and SQLite's own single
writer (loads and reseeding open ``BEGIN IMMEDIATE`` transactions) for the rest.

A run that finds its force's lock held waits a short while (``wait_seconds``), then fails with
:class:`~alliance_finance.core.errors.ConcurrentRunError` naming who holds it and since when. It does
not queue: the holder is doing the same work, and Airflow retries the task later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
import time
import zlib
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

from alliance_finance.core.errors import ConcurrentRunError

#: advisory lock namespace of this project (the bytes "ALLY")
LOCK_NAMESPACE = 0x414C4C59
MIGRATION_KEY = 0
REFERENCE_KEY = 1

DEFAULT_WAIT_SECONDS = 10.0


def force_key(force_code: str) -> int:
    """A stable advisory-lock key for a force (never 0 or 1, which are taken)."""
    return 2 + zlib.crc32(force_code.encode("utf-8")) % 0x7FFFFFF0


def lock_file_path(database: str, force_code: str) -> Path:
    """The lock file beside a SQLite warehouse file."""
    path = Path(database)
    return path.with_name(f"{path.name}.{force_code}.lock")


@contextlib.contextmanager
def force_load_lock(engine: sa.Engine, force_code: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS,
                    poll_seconds: float = 0.2) -> Iterator[None]:
    """Hold the load lock of one force for the duration of the ``with`` block.

    Raises :class:`ConcurrentRunError` when another run still holds it after ``wait_seconds``.
    """
    if engine.dialect.name == "postgresql":
        with _pg_session_lock(engine, force_code, wait_seconds, poll_seconds):
            yield
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(lock_file_path(engine.url.database, force_code), force_code, wait_seconds, poll_seconds):
            yield
    else:  # an in-memory SQLite database is private to its process
        yield


def pg_xact_lock(conn: sa.Connection, key: int, *, shared: bool = False) -> None:
    """Take a transaction-scoped advisory lock (PostgreSQL; a no-op elsewhere)."""
    if conn.dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.exec_driver_sql(f"SELECT {fn}({LOCK_NAMESPACE}, {int(key)})")


@contextlib.contextmanager
def _pg_session_lock(engine, force_code, wait_seconds, poll_seconds):
    key = force_key(force_code)
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            if conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LOCK_NAMESPACE}, {key})").scalar():
                break
            if time.monotonic() >= deadline:
                raise ConcurrentRunError(
                    f"another run for {force_code} holds the load lock {_pg_holder(conn, key)}; "
                    f"waited {wait_seconds:g} s. It is loading the same deliveries: let it finish, then run again."
                )
            time.sleep(poll_seconds)
        # name the session so that an operator (and a refused run) can see who holds the lock
        conn.execute(sa.text("SELECT set_config('application_name', :name, false)"),
                     {"name": f"alliance-finance load {force_code} pid {os.getpid()} on {socket.gethostname()}"[:63]})
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_NAMESPACE}, {key})")
    finally:
        conn.close()


def _pg_holder(conn, key) -> str:
    row = conn.exec_driver_sql(
        "SELECT a.pid, a.backend_start, a.application_name, a.client_addr "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        f"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {LOCK_NAMESPACE} "
        f"AND l.objid = {key} AND l.objsubid = 2"
    ).first()
    if row is None:
        return "(it has just let go)"
    # another role's session may hide its details without pg_read_all_stats
    since = (row.backend_start.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
             if row.backend_start else "an unknown time")
    who = row.application_name or "a session of another role"
    return f"since {since} ({who}, server pid {row.pid}{', from ' + str(row.client_addr) if row.client_addr else ''})"


@contextlib.contextmanager
def _file_lock(path: Path, force_code: str, wait_seconds: float, poll_seconds: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    # the file is never deleted: removing a lock file while another process waits on it would let
    # two processes hold "the" lock on two different files
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text(encoding="utf-8", errors="replace").strip() or "an unnamed process"
                    raise ConcurrentRunError(
                        f"another run for {force_code} holds the load lock {holder} (lock file {path}); "
                        f"waited {wait_seconds:g} s. It is loading the same deliveries: let it finish, then run again."
                    ) from None
                time.sleep(poll_seconds)
        since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"since {since} (pid {os.getpid()} on {socket.gethostname()})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
