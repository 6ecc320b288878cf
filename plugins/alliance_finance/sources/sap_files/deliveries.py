"""Which deliveries are ready in a force's inbound folder, in the order they must load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from pathlib import Path

from alliance_finance.sources.sap_files.layout import SapLayout

log = logging.getLogger("alliance_finance.sources.sap_files")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One delivery whose control file has arrived: the data file and its control file.

    ``name`` is the data file's name as delivered; the paths are resolved (symlinks followed, and
    checked to stay inside the inbound folder).
    """

    name: str
    data_path: Path
    control_path: Path
    business_date: dt.date
    sequence: int

    #: the force's file layout (None: :meth:`SapLayout.default`)
    layout: SapLayout | None = dataclasses.field(default=None, compare=False, repr=False)


def discover_deliveries(inbound: Path, layout: SapLayout | None = None) -> list[Delivery]:
    """The deliveries ready in ``inbound``, in the order they must load: (business_date, sequence).

    A data file counts only once its control file is there (SAP writes the control file last);
    one without is still being written and is left alone. Names that are not
    ``<file_prefix>_<YYYYMMDD>_<NNN>.csv`` (``layout``: the force's; by default the one
    ``sap_files`` force's) are ignored with a warning and never opened, and so is a name that
    resolves (through a symlink) outside ``inbound``.
    """
    layout = layout or SapLayout.default()
    data_pattern, control_pattern = layout.data_name, layout.control_name
    root = Path(inbound).resolve(strict=True)
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    names = {p.name for p in entries}
    deliveries: list[Delivery] = []
    for entry in entries:
        name = entry.name
        match = data_pattern.fullmatch(name)
        if match is None:
            control_match = control_pattern.fullmatch(name)
            if control_match is not None:
                if name[: -len(".ctl")] + ".csv" not in names:
                    log.warning("%s: control file without its data file %s.csv in %s; ignored",
                                name, name[: -len(".ctl")], root)
            elif entry.is_dir():
                log.debug("%s: folder in %s; ignored", name, root)
            else:
                log.warning("%s: not a %s delivery name (expected %s_<YYYYMMDD>_<NNN>.csv or "
                            ".ctl) in %s; ignored", name, layout.force_code, layout.file_prefix, root)
            continue
        try:
            business_date = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            log.warning("%s: %s is not a real date (expected YYYYMMDD); ignored", name, match.group(1))
            continue
        data_path = _inside(root, name)
        if data_path is None:
            continue
        control_name = name[: -len(".csv")] + ".ctl"
        if control_name not in names:
            log.debug("%s: no control file %s yet, still being written; left alone", name, control_name)
            continue
        control_path = _inside(root, control_name)
        if control_path is None:
            continue
        deliveries.append(Delivery(name=name, data_path=data_path, control_path=control_path,
                                   business_date=business_date, sequence=int(match.group(2)), layout=layout))
    deliveries.sort(key=lambda d: (d.business_date, d.sequence))
    return deliveries


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` resolved, or None (with a warning) when it leaves ``root`` or is no file."""
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        log.warning("%s: resolves to %s, outside the inbound folder %s; ignored", name, path, root)
        return None
    if not path.is_file():
        log.warning("%s: not a regular file in %s; ignored", name, root)
        return None
    return path


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes as lowercase hex, read in chunks (the file is never held whole)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()

