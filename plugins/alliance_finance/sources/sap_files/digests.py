"""The SHA-256 of processed delivery files, remembered so that a night's run need not read the history."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from alliance_finance.core.paths import VAR_DIR
from alliance_finance.sources.sap_files.deliveries import file_digest

_log = logging.getLogger("alliance_finance.sources.sap_files")


class FileDigests:
    """The SHA-256 of processed delivery files, remembered with each file's identity.

    A processed delivery must never change (a run refuses one that did). Hashing every processed
    file again to know it made each night read the whole history: five years are 1,300 files and
    660 MB, most of a nightly run's reading. A file's digest is remembered here with its identity:
    device, inode, size, and the modification and inode-change times to the nanosecond. Writing to
    the file, truncating it, replacing it (a new inode), ``touch`` or ``chmod`` all change its
    inode-change time (ctime), which no system call lets a user set, so while the identity is the
    same the bytes are the same; a file whose identity changed in any way is hashed again (and
    refused if its bytes differ). The identity is taken before and after hashing and the digest is
    remembered only when both agree. Kept in ``VAR_DIR/inbound-digests/`` (one JSON file per inbound
    folder, replaced atomically); a lost or unreadable file only means hashing everything once more.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._entries: dict[str, list] = {}
        self._seen: set[str] = set()
        self._changed = False
        if path is not None and path.is_file():
            try:
                self._entries = {name: list(entry) for name, entry in json.loads(path.read_text()).items()
                                 if isinstance(entry, list) and len(entry) == 6}
            except (OSError, ValueError, AttributeError):
                self._entries = {}

    @classmethod
    def for_folder(cls, inbound: Path, var_dir: Path | None = None) -> "FileDigests":
        """The remembered digests of the files in ``inbound`` (kept under ``var_dir``, by default VAR_DIR)."""
        key = hashlib.sha256(str(Path(inbound).resolve()).encode()).hexdigest()[:16]
        return cls(Path(var_dir or VAR_DIR) / "inbound-digests" / f"{key}.json")

    def digest(self, path: Path) -> str:
        """SHA-256 (hex) of the file's bytes: remembered while its identity is unchanged, else hashed."""
        name = str(path)
        self._seen.add(name)
        identity = file_identity(path)
        known = self._entries.get(name)
        if known is not None and tuple(known[:5]) == identity:
            return known[5]
        digest = file_digest(path)
        self.remember(path, identity, digest)
        return digest

    def remember(self, path: Path, identity: tuple, digest: str) -> None:
        """Remember ``digest``, computed from the bytes read after ``identity`` was taken, if the file
        still has that identity (a reader that hashed the file anyway saves the next run a read)."""
        if file_identity(path) == identity:
            self._entries[str(path)] = [*identity, digest]
            self._seen.add(str(path))
            self._changed = True

    def save(self) -> None:
        """Write the memory back (only what was seen this time: a removed file is forgotten)."""
        if self.path is None or not (self._changed or set(self._entries) - self._seen):
            return
        entries = {name: entry for name, entry in self._entries.items() if name in self._seen}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entries))
            temporary.replace(self.path)
        except OSError as exc:  # nothing is lost: the files are hashed again next time
            _log.warning("could not keep the processed files' digests in %s: %s", self.path, exc)


def file_identity(path: Path) -> tuple[int, int, int, int, int]:
    status = os.stat(path)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
