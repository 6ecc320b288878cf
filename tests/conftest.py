"""Shared fixtures.

Tests never write inside the repository: this module, imported before any test module, points
Airflow's home and the run-time folder (``ALLIANCE_VAR_DIR``: warehouse, Data Docs, report, staging)
at a temporary folder of the test session (one per xdist worker), removed when the session ends,
and drops every other ``ALLIANCE_*`` setting of the caller's shell (a developer's real warehouse,
sources or reference folder) except the test servers' ``ALLIANCE_TEST_*`` URLs below.

Databases: tests that need PostgreSQL or MariaDB use the servers on this machine
(PostgreSQL at 127.0.0.1:5432 with trust auth, MariaDB at 127.0.0.1:3306 as root), each test with a
throwaway database of its own that is dropped afterwards. Under ``CI=true`` a test that cannot reach
its server fails; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# Set before anything imports Airflow or alliance_finance (both read these at import).
SESSION_DIR = Path(tempfile.mkdtemp(prefix="alliance-tests-"))
atexit.register(shutil.rmtree, SESSION_DIR, ignore_errors=True)
for _name in [n for n in os.environ if n.startswith("ALLIANCE_") and not n.startswith("ALLIANCE_TEST_")]:
    del os.environ[_name]
os.environ["ALLIANCE_VAR_DIR"] = str(SESSION_DIR / "var")
# Away from the checkout's var/airflow (the Makefile's) and from any real Airflow home.
os.environ["AIRFLOW_HOME"] = str(SESSION_DIR / "airflow")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

PG_ADMIN_URL = os.environ.get("ALLIANCE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN_URL = os.environ.get("ALLIANCE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unreachable(what: str, exc: Exception):
    message = f"{what} unreachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a test that needs it fails, it does not skip)")
    pytest.skip(message)


def _pg_admin():
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_ADMIN_URL)
    return psycopg.connect(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
        dbname=u.database or "postgres", autocommit=True, connect_timeout=5,
    )


def new_pg_database() -> str:
    """Create an empty PostgreSQL database and return its URL (caller drops it with drop_pg_database)."""
    from sqlalchemy.engine import make_url

    name = f"af_test_{uuid.uuid4().hex[:12]}"
    try:
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unreachable("PostgreSQL", exc)
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def make_sample_sources(tmp_path_factory, from_fy: int, to_fy: int):
    """The sample generator's sources for fiscal years from_fy..to_fy, small (scale 0.1, seed 7)."""
    from decimal import Decimal

    from alliance_sample import generate_sources

    out = tmp_path_factory.mktemp("sources")
    generate_sources(out, from_fy=from_fy, to_fy=to_fy, scale=Decimal("0.1"), seed=7)
    return out


def drop_pg_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for this test (a plain postgresql:// URL)."""
    url = new_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def mariadb_url():
    """A fresh, empty MariaDB database for this test."""
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(MARIADB_ADMIN_URL)
    name = f"af_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = pymysql.connect(host=u.host or "127.0.0.1", port=u.port or 3306, user=u.username or "root",
                               password=u.password or "", connect_timeout=5, autocommit=True)
    except Exception as exc:  # noqa: BLE001
        _unreachable("MariaDB", exc)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield u.set(database=name).render_as_string(hide_password=False)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def sqlite_url(tmp_path):
    """A fresh SQLite warehouse file URL."""
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path):
    """Each warehouse dialect in turn: the embedded SQLite file and a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        url = new_pg_database()
        try:
            yield url
        finally:
            drop_pg_database(url)


@contextlib.contextmanager
def smtp_loopback(host: str = "127.0.0.1"):
    """A real SMTP server on a free loopback port (aiosmtpd), for as long as the block runs.

    Yields ``(host, port, messages)``: ``messages`` is a list that fills with each mail received, as an
    ``email.message.EmailMessage`` (headers, body; ``msg["X-Envelope-To"]`` holds the envelope's
    recipients). Point Airflow's SMTP connection at it with :func:`smtp_connection_uri`. Usable in a
    fixture of any scope (the ``smtp_sink`` fixture is the per-test form).
    """
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    messages: list = []

    class _Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            message = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            messages.append(message)
            return "250 OK"

    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    controller = Controller(_Handler(), hostname=host, port=port)
    controller.start()
    try:
        yield host, port, messages
    finally:
        controller.stop()


def smtp_connection_uri(host: str, port: int) -> str:
    """An Airflow connection URI (e.g. for ``AIRFLOW_CONN_SMTP_DEFAULT``) to a plain, unauthenticated
    SMTP server such as :func:`smtp_loopback`'s: no SSL, no STARTTLS, no retries."""
    extra = {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 10}
    return json.dumps({"conn_type": "smtp", "host": host, "port": port, "extra": extra})


@pytest.fixture
def smtp_sink():
    """A loopback SMTP server for this test: ``(host, port, messages)``, see :func:`smtp_loopback`."""
    with smtp_loopback() as sink:
        yield sink
