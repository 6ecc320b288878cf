"""Where the project's files are, and the defaults every entry point shares."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (this package lives in ``<root>/plugins/alliance_finance/core``).
PROJECT_ROOT = Path(__file__).resolve().parents[3]

#: The project's copy of the forces' reference data (the mapping seeds).
#: ``ALLIANCE_REFERENCE_DIR`` points elsewhere, for a deployment that keeps it apart.
REFERENCE_DIR = Path(os.environ.get("ALLIANCE_REFERENCE_DIR", PROJECT_ROOT / "reference"))

#: The Great Expectations project (suites and checkpoints as reviewable files).
EXPECTATIONS_DIR = Path(os.environ.get("ALLIANCE_EXPECTATIONS_DIR", PROJECT_ROOT / "expectations"))

#: Plain SQL a DBA can read: DDL, views, roles and grants.
SQL_DIR = Path(os.environ.get("ALLIANCE_SQL_DIR", PROJECT_ROOT / "sql"))

#: Run-time output: the embedded warehouse, Data Docs, Airflow metadata, the demo's sources.
VAR_DIR = Path(os.environ.get("ALLIANCE_VAR_DIR", PROJECT_ROOT / "var"))

DEFAULT_WAREHOUSE_URL = f"sqlite:///{VAR_DIR / 'warehouse.db'}"


def default_warehouse_url() -> str:
    """The warehouse when none is given: ``ALLIANCE_WAREHOUSE_URL``, else the embedded SQLite file."""
    return os.environ.get("ALLIANCE_WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL
