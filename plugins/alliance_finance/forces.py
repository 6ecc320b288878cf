"""The forces, described once (``dags/forces.yaml``), and the source formats that read them.

Reading the description is cheap (PyYAML only) because the DAG files call it at parse time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .paths import PROJECT_ROOT

FORCES_FILE = PROJECT_ROOT / "dags" / "forces.yaml"
FORCES_SCHEMA_FILE = PROJECT_ROOT / "dags" / "forces.schema.json"

#: source_format -> the reader module in this package (one module per format)
SOURCE_FORMATS = {
    "sap_files": "alliance_finance.sap_files",
    "erp_sql": "alliance_finance.erp_sql",
}


@dataclasses.dataclass(frozen=True)
class ForceConfig:
    code: str
    name: str
    source_format: str
    schedule: str
    timezone: str
    owner: str
    warehouse_conn_id: str
    source_conn_id: str | None
    tags: tuple[str, ...]

    @property
    def dag_id(self) -> str:
        return f"alliance_ledger_{self.code.lower()}"

    @property
    def asset_uri(self) -> str:
        """The Asset a force's DAG updates when its ledger changed: the consolidation listens to it."""
        return f"alliance://ledger/{self.code.lower()}"


def load_forces(path: Path | None = None) -> list[ForceConfig]:
    """The forces of ``dags/forces.yaml`` (validated against its schema by the test suite)."""
    import yaml

    doc = yaml.safe_load(Path(path or FORCES_FILE).read_text(encoding="utf-8"))
    forces = []
    for entry in doc["forces"]:
        entry = dict(entry)
        entry["tags"] = tuple(entry.get("tags") or ())
        forces.append(ForceConfig(**entry))
    return forces


def validate_forces_file(path: Path | None = None) -> None:
    """Raise ``jsonschema.ValidationError`` when the forces file does not follow its schema."""
    import json

    import jsonschema
    import yaml

    doc = yaml.safe_load(Path(path or FORCES_FILE).read_text(encoding="utf-8"))
    schema = json.loads(FORCES_SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    codes = [f["code"] for f in doc["forces"]]
    if len(codes) != len(set(codes)):
        raise jsonschema.ValidationError(f"force codes repeat: {codes}")
    unknown = {f["source_format"] for f in doc["forces"]} - set(SOURCE_FORMATS)
    if unknown:
        raise jsonschema.ValidationError(f"no reader module for source_format {sorted(unknown)}")


def force_by_code(code: str) -> ForceConfig:
    for force in load_forces():
        if force.code == code:
            return force
    raise KeyError(f"no force {code!r} in {FORCES_FILE}")
