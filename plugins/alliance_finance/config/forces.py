"""The forces, described once (``dags/forces.yaml``): the only place the pipeline learns who they are.

Every load checks the file against ``dags/forces.schema.json`` and the rules a schema cannot say
(codes unique, partners named by code are configured forces, a reader exists for each format), so a
mistake fails at once naming the file and the entry, not later inside a reader. Reading it is cheap
(PyYAML and jsonschema only): the DAG files call it at parse time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import types
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.core.paths import PROJECT_ROOT

FORCES_FILE = PROJECT_ROOT / "dags" / "forces.yaml"
FORCES_SCHEMA_FILE = PROJECT_ROOT / "dags" / "forces.schema.json"

#: the source formats a reader exists for (alliance_finance.sources, one package per format)
SOURCE_FORMATS = ("sap_files", "erp_sql")

#: the force code the warehouse's views use for "every force together"
ALL_FORCES = "ALL"


class ForcesFileError(AllianceFinanceError):
    """The forces file is missing, not YAML, or breaks its schema or the rules beside it."""


@dataclasses.dataclass(frozen=True)
class ReferenceFiles:
    """A force's local charts: file names in the reference folder."""

    cost_centres: str
    accounts: str


@dataclasses.dataclass(frozen=True)
class ForceDeadline:
    """When a night's run must have loaded the force's ledger (``deadline`` in forces.yaml): exactly one of

    - ``loaded_by``: a wall-clock time in the force's timezone on the morning the run is due (the first
      such time at or after the end of the run's data interval: ``"07:00"`` with the 02:00 schedule is
      07:00 the same morning);
    - ``within``: a duration after the run was queued (ISO 8601, e.g. ``PT6H``).
    """

    loaded_by: dt.time | None = None
    within: dt.timedelta | None = None

    def describe(self, timezone: str) -> str:
        if self.loaded_by is not None:
            return f"loaded by {self.loaded_by:%H:%M} {timezone} the morning the run is due"
        return f"finished within {_format_duration(self.within)} of the run being queued"


@dataclasses.dataclass(frozen=True)
class ForceConfig:
    code: str
    name: str
    source_format: str
    #: what the force's reader needs (keys depend on source_format; see forces.schema.json)
    source: Mapping[str, Any]
    reference: ReferenceFiles
    #: local account -> code of the alliance force the flow is with (payments to, income from)
    partner_accounts: Mapping[str, str]
    finance_role: str
    report_colour: str
    schedule: str
    timezone: str
    owner: str
    warehouse_conn_id: str
    source_conn_id: str | None
    tags: tuple[str, ...]
    #: when the nightly run must have loaded the ledger; None: no deadline alert
    deadline: ForceDeadline | None = None

    @property
    def dag_id(self) -> str:
        return f"alliance_ledger_{self.code.lower()}"

    @property
    def asset_uri(self) -> str:
        """The Asset a force's DAG updates when its ledger changed: the consolidation listens to it."""
        return f"alliance://ledger/{self.code.lower()}"

    @property
    def partners(self) -> tuple[str, ...]:
        """The forces this one records flows with, in the order first named."""
        return tuple(dict.fromkeys(self.partner_accounts.values()))


#: default colours for forces whose entry gives none, in order of appearance
_PALETTE = ("#1f5fa8", "#2e8540", "#8e44ad", "#c0392b", "#16a085", "#d35400")

_cache: dict[tuple[str, int, int], tuple[ForceConfig, ...]] = {}


def load_forces(path: Path | str | None = None) -> tuple[ForceConfig, ...]:
    """The forces of ``path`` (default ``dags/forces.yaml``), checked; cached while the file is unchanged."""
    path = Path(path or FORCES_FILE)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ForcesFileError(f"{path}: cannot read the forces file ({exc.strerror or exc})") from exc
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        _cache[key] = _parse(path)
    return _cache[key]


def validate_forces_file(path: Path | str | None = None) -> None:
    """Raise :class:`ForcesFileError` when the forces file breaks its schema or the rules beside it."""
    _parse(Path(path or FORCES_FILE))


def force_by_code(code: str, path: Path | str | None = None) -> ForceConfig:
    for force in load_forces(path):
        if force.code == code:
            return force
    raise ForcesFileError(f"{path or FORCES_FILE}: no force {code!r} (configured: "
                          f"{', '.join(f.code for f in load_forces(path))})")


def force_codes(path: Path | str | None = None) -> tuple[str, ...]:
    return tuple(f.code for f in load_forces(path))


def _parse(path: Path) -> tuple[ForceConfig, ...]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ForcesFileError(f"{path}: cannot read the forces file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ForcesFileError(f"{path}: not valid YAML: {exc}") from exc
    _unquoted_times(path, doc)
    schema = json.loads(FORCES_SCHEMA_FILE.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise ForcesFileError(f"{path}: {where}: {first.message}")
    entries = doc["forces"]
    codes = [e["code"] for e in entries]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ForcesFileError(f"{path}: force code {', '.join(repeated)} appears more than once")
    if ALL_FORCES in codes:
        raise ForcesFileError(f"{path}: {ALL_FORCES!r} cannot be a force code (the views use it for all forces)")
    forces = []
    for index, entry in enumerate(entries):
        where = f"{path}: forces/{index} ({entry['code']})"
        if entry["source_format"] not in SOURCE_FORMATS:
            raise ForcesFileError(f"{where}: no reader for source_format {entry['source_format']!r} "
                                  f"(readers: {', '.join(SOURCE_FORMATS)})")
        for account, partner in entry["partner_accounts"].items():
            if partner not in codes or partner == entry["code"]:
                raise ForcesFileError(f"{where}: partner_accounts {account}: {partner!r} is not another "
                                      "force of this file")
        deadline = _deadline(where, entry.get("deadline"))
        forces.append(ForceConfig(
            code=entry["code"], name=entry["name"], source_format=entry["source_format"],
            source=types.MappingProxyType(_frozen(entry["source"])),
            reference=ReferenceFiles(**entry["reference"]),
            partner_accounts=types.MappingProxyType(dict(entry["partner_accounts"])),
            finance_role=entry.get("finance_role") or f"{entry['code'].lower()}_finance",
            report_colour=entry.get("report_colour") or _PALETTE[index % len(_PALETTE)],
            schedule=entry["schedule"], timezone=entry["timezone"], owner=entry["owner"],
            warehouse_conn_id=entry["warehouse_conn_id"], source_conn_id=entry["source_conn_id"],
            tags=tuple(entry["tags"]), deadline=deadline,
        ))
    roles = [f.finance_role for f in forces]
    if len(roles) != len(set(roles)):
        raise ForcesFileError(f"{path}: two forces share a finance_role: {roles}")
    return tuple(forces)


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration of days, hours, minutes and seconds (``PT6H``, ``P1DT2H30M``) as a timedelta."""
    match = _DURATION.match(text)
    if not match or not any(match.groups()) or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT6H or PT90M")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _format_duration(value: dt.timedelta | None) -> str:
    seconds = int(value.total_seconds()) if value is not None else 0
    parts = [(seconds // 3600, "h"), (seconds % 3600 // 60, "min"), (seconds % 60, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"


def _deadline(where: str, entry: Mapping[str, Any] | None) -> ForceDeadline | None:
    if entry is None:
        return None
    if "loaded_by" in entry:
        hours, minutes = (int(p) for p in entry["loaded_by"].split(":"))
        return ForceDeadline(loaded_by=dt.time(hours, minutes))
    within = parse_duration(entry["within"])
    if within <= dt.timedelta(0):
        raise ForcesFileError(f"{where}: deadline within {entry['within']!r} must be longer than nothing")
    return ForceDeadline(within=within)


def _unquoted_times(path: Path, doc: Any) -> None:
    """PyYAML reads an unquoted 17:30 as the base-60 number 1050: say so instead of 'not a string'."""
    for index, entry in enumerate(doc.get("forces") or [] if isinstance(doc, dict) else []):
        deadline = entry.get("deadline") if isinstance(entry, dict) else None
        if isinstance(deadline, dict) and isinstance(deadline.get("loaded_by"), int):
            minutes = deadline["loaded_by"]
            raise ForcesFileError(f"{path}: forces/{index}/deadline/loaded_by: write the time in quotes, "
                                  f"e.g. loaded_by: \"{minutes // 60:02d}:{minutes % 60:02d}\" (YAML reads an "
                                  "unquoted one as a number)")


def _frozen(value: Any) -> Any:
    """Lists become tuples, so a ForceConfig cannot be changed by whoever reads it."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value
