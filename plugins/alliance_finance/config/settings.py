"""One settings object, built once at an entry point (the CLI, an Airflow task, the demo, a test) and
passed down: where the warehouse, the sources, the reference data and the run-time output are.

Nothing below the entry points reads the environment or Airflow: they take a :class:`Settings`.
:meth:`Settings.from_environment` gives the defaults every entry point shares; an entry point overrides
what its user gave (``--warehouse``, an Airflow connection) with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping

from alliance_finance.config.forces import FORCES_FILE, ForceConfig, load_forces
from alliance_finance.core.paths import PROJECT_ROOT


@dataclasses.dataclass(frozen=True)
class Settings:
    #: SQLAlchemy URL of the warehouse (None: the embedded SQLite file under var_dir)
    warehouse: str | None = None
    #: the folder holding each force's file deliveries and sample databases (forces.yaml ``source``)
    sources_dir: Path | None = None
    #: force code -> URL of its source database, overriding the sample file under sources_dir
    source_urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: run-time output: the embedded warehouse, Data Docs, the report
    var_dir: Path = PROJECT_ROOT / "var"
    reference_dir: Path = PROJECT_ROOT / "reference"
    expectations_dir: Path = PROJECT_ROOT / "expectations"
    sql_dir: Path = PROJECT_ROOT / "sql"
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    forces_file: Path = FORCES_FILE

    @property
    def warehouse_url(self) -> str:
        return self.warehouse or f"sqlite:///{self.var_dir / 'warehouse.db'}"

    @property
    def data_docs_dir(self) -> Path:
        return self.var_dir / "data_docs"

    @property
    def report_dir(self) -> Path:
        return self.var_dir / "report"

    def forces(self) -> tuple[ForceConfig, ...]:
        return load_forces(self.forces_file)

    def force(self, code: str) -> ForceConfig:
        for force in self.forces():
            if force.code == code:
                return force
        raise KeyError(f"{self.forces_file}: no force {code!r}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Defaults from ``ALLIANCE_*`` variables (README, "Configuration"), then ``overrides``."""
        env = os.environ if environ is None else environ

        def path(name: str, default: Path) -> Path:
            return Path(env[name]) if env.get(name) else default

        var_dir = path("ALLIANCE_VAR_DIR", PROJECT_ROOT / "var")
        values = dict(
            warehouse=env.get("ALLIANCE_WAREHOUSE_URL") or None,
            sources_dir=path("ALLIANCE_SOURCES_DIR", var_dir / "sources") if env.get("ALLIANCE_SOURCES_DIR") else None,
            var_dir=var_dir,
            reference_dir=path("ALLIANCE_REFERENCE_DIR", PROJECT_ROOT / "reference"),
            expectations_dir=path("ALLIANCE_EXPECTATIONS_DIR", PROJECT_ROOT / "expectations"),
            sql_dir=path("ALLIANCE_SQL_DIR", PROJECT_ROOT / "sql"),
            seeds_dir=path("ALLIANCE_SEEDS_DIR", PROJECT_ROOT / "seeds"),
            forces_file=path("ALLIANCE_FORCES_FILE", FORCES_FILE),
        )
        values.update(overrides)
        return cls(**values)
