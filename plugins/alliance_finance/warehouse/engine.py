"""Connecting to the warehouse: one place that knows the dialects.

PostgreSQL is the production warehouse; its relations live in schema ``alliance`` and every
connection made here has ``search_path`` set to it, so the same unqualified SQL serves PostgreSQL
and the embedded SQLite file.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

PG_SCHEMA = "alliance"


def normalise_url(url: str | URL) -> URL:
    """A plain ``postgresql://`` URL uses psycopg 3, the driver this project installs."""
    u = make_url(url) if isinstance(url, str) else url
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.drivername in ("mysql", "mariadb"):
        u = u.set(drivername="mysql+pymysql")
    return u


#: ``//user:password@`` in free text. A password may hold an unescaped ``@`` (or ``/``), so the
#: match runs to the last ``@`` of the word: it may hide a little more than the password, never less.
_CREDENTIALS = re.compile(r"(//[^:/@\s]*):\S*@")


def mask_url(url: str | URL) -> str:
    """The URL with any password replaced by ``***``: safe for logs and messages."""
    if isinstance(url, str) and url.count("@") > 1:
        # the parser would split such a password at its first "@" and show the rest as the host
        return mask_secrets(url)
    try:
        u = make_url(url) if isinstance(url, str) else url
        return u.render_as_string(hide_password=True)
    except Exception:  # not a URL at all: mask anything that looks like user:password@
        return mask_secrets(str(url))


def mask_secrets(text: str, *secrets: str | URL | None) -> str:
    """``text`` with each given URL masked, each given bare secret (a password) replaced by ``***``,
    and then any ``//user:password@`` left masked: for a message that may quote a connection string."""
    for secret in secrets:
        if isinstance(secret, URL):
            secret = secret.render_as_string(hide_password=False)
        if secret:
            text = text.replace(secret, mask_url(secret) if "://" in secret else "***")
    return _CREDENTIALS.sub(r"\1:***@", text)


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
        connect_args["options"] = f"{options} -c search_path={PG_SCHEMA},public".strip()
        return sa.create_engine(u, connect_args=connect_args, **kwargs)
    return sa.create_engine(u, **kwargs)


def dialect_of(engine_or_url) -> str:
    """``"postgresql"`` or ``"sqlite"`` (or another backend name)."""
    if isinstance(engine_or_url, sa.Engine):
        return engine_or_url.dialect.name
    return normalise_url(engine_or_url).get_backend_name()


class UnusableURL(ValueError):
    """A database URL that cannot work as given; the message never shows its password."""


def check_url(url: str, what: str = "--warehouse") -> URL:
    """Parse and check a database URL before anything connects with it.

    Refuses, with a message that names the problem and never the password: text that is not a URL,
    a port that is not a number, a driver this project does not install, and an ``@`` left
    unescaped in the user or password part (the URL would be split at the wrong ``@`` and a piece of
    the password would end up in the host name, and in the driver's error messages).
    """
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise UnusableURL(f"{what} is not a database URL (expected e.g. postgresql://user@host/db or sqlite:///file.db)")
    authority = rest.split("/", 1)[0]
    if authority.count("@") > 1:
        raise UnusableURL(f"{what}: the user or password holds an unescaped '@'; write it as %40")
    try:
        parsed = normalise_url(text)
        parsed.get_dialect()
    except ValueError as exc:
        raise UnusableURL(f"{what} {mask_url(text)}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. NoSuchModuleError for an unknown driver
        raise UnusableURL(f"{what} {mask_url(text)}: unknown database driver '{scheme}' "
                          f"({type(exc).__name__})") from None
    return parsed
