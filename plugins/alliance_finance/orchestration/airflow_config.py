"""A task's :class:`~alliance_finance.config.settings.Settings`, from Airflow's connections and variables.

Built once at the start of each task (:func:`settings_for`) and passed down; nothing below reads
Airflow. All optional for the embedded demo:

- warehouse: the force's ``warehouse_conn_id`` connection (dags/forces.yaml; the consolidation uses
  ``alliance_warehouse``), e.g. ``AIRFLOW_CONN_ALLIANCE_WAREHOUSE``; else ``ALLIANCE_WAREHOUSE_URL``;
  else ``sqlite:///<var>/warehouse.db``;
- sources folder: Airflow variable ``alliance_sources_dir``, else ``ALLIANCE_SOURCES_DIR``, else ``<var>/sources``;
- a force's source database: its ``source_conn_id`` connection, else the sample file under the sources folder;
- publication base of the report and Data Docs: Airflow variable ``alliance_publish_base``, else
  ``ALLIANCE_PUBLISH_BASE``, else none (they stay on the worker's disk; :func:`publish_base`);
- the rest (``ALLIANCE_VAR_DIR``, ``ALLIANCE_REFERENCE_DIR``, ...) as for every entry point
  (:meth:`Settings.from_environment <alliance_finance.config.settings.Settings.from_environment>`).
"""

from __future__ import annotations

import os
from pathlib import Path

from alliance_finance.config.settings import Settings

#: the warehouse connection of the tasks that serve every force (the consolidation DAG)
WAREHOUSE_CONN_ID = "alliance_warehouse"


def settings_for(force_code: str | None = None) -> Settings:
    """The settings of a task of ``force_code``'s DAG (None: the consolidation DAG)."""
    base = Settings.from_environment()
    force = base.force(force_code) if force_code else None
    warehouse = connection_url(force.warehouse_conn_id if force else WAREHOUSE_CONN_ID) or base.warehouse
    sources = variable("alliance_sources_dir") or os.environ.get("ALLIANCE_SOURCES_DIR")
    source_url = connection_url(force.source_conn_id) if force else None
    return Settings.from_environment(
        warehouse=warehouse,
        sources_dir=Path(sources) if sources else base.var_dir / "sources",
        source_urls={force_code: source_url} if source_url else {},
    )


def report_dir(settings: Settings) -> Path:
    """Where the consolidation writes the board report: ``ALLIANCE_REPORT_DIR``, else ``<var>/report``."""
    return Path(os.environ.get("ALLIANCE_REPORT_DIR") or settings.report_dir)


def publish_base():
    """Where the consolidation publishes the report and the Data Docs, for every reader: an
    :class:`~airflow.sdk.ObjectStoragePath` from the Airflow variable ``alliance_publish_base``, else
    ``ALLIANCE_PUBLISH_BASE`` (``file:///srv/alliance/published``, ``s3://bucket/alliance``; a plain
    folder path means ``file://``), with the connection of ``alliance_publish_conn_id`` /
    ``ALLIANCE_PUBLISH_CONN_ID`` if set (or one named in the URL: ``s3://aws_default@bucket/alliance``).
    None when unset: the report and Data Docs stay on the worker's disk (a single-machine setup)."""
    base = variable("alliance_publish_base") or os.environ.get("ALLIANCE_PUBLISH_BASE")
    if not base:
        return None
    # deferred: Airflow's object storage (fsspec) loads only where a publish base is set
    from alliance_finance.orchestration.publication import as_base

    conn_id = variable("alliance_publish_conn_id") or os.environ.get("ALLIANCE_PUBLISH_CONN_ID")
    return as_base(base, conn_id)


def connection_url(conn_id: str | None) -> str | None:
    """The SQLAlchemy URL of an Airflow connection, or None when there is no such connection."""
    if not conn_id:
        return None
    try:  # deferred: without Airflow installed this answers None instead of failing at import
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - the package is usable without Airflow
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.schema or conn.host}"
    return conn.get_uri()


def variable(name: str) -> str | None:
    """An Airflow variable (``AIRFLOW_VAR_<NAME>`` first), or None."""
    value = os.environ.get(f"AIRFLOW_VAR_{name.upper()}")
    if value:
        return value
    try:  # deferred, as in connection_url: without Airflow installed, the environment alone
        from airflow.sdk import Variable

        return Variable.get(name, default=None)
    except Exception:  # noqa: BLE001 - no Airflow metadata reachable: fall back to the environment
        return None
