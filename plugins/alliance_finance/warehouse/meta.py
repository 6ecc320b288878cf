"""The warehouse's notes about itself (``warehouse_meta``): reference digest, views digest."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

REFERENCE_DIGEST = "reference_digest"
VIEWS_DIGEST = "views_digest"


def get_meta(conn: sa.Connection, key: str) -> str | None:
    """The value stored under ``key``, or None."""
    return conn.execute(sa.text("SELECT meta_value FROM warehouse_meta WHERE meta_key = :key"),
                        {"key": key}).scalar()


def set_meta(conn: sa.Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (in the caller's transaction)."""
    conn.execute(
        sa.text(
            "INSERT INTO warehouse_meta (meta_key, meta_value, updated_at) VALUES (:key, :value, :now) "
            "ON CONFLICT (meta_key) DO UPDATE SET meta_value = excluded.meta_value, updated_at = excluded.updated_at"
        ),
        {"key": key, "value": value, "now": utcnow()},
    )


def utcnow() -> dt.datetime:
    """Now in UTC, naive: every warehouse timestamp is UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
