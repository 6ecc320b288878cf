"""Publish the consolidation's output (board report, Data Docs) to one store every reader sees.

Celery workers may run on different machines, each with its own disk: a report written to the
worker's ``<var>/report`` is seen only there, and stale elsewhere. With a publication base set
(Airflow variable ``alliance_publish_base`` or ``ALLIANCE_PUBLISH_BASE``: ``file:///srv/alliance/published``
on a shared mount, ``s3://bucket/alliance``...; see :func:`~alliance_finance.orchestration.airflow_config.publish_base`)
each output is built in a temporary folder on the worker and then published under the base with
Airflow's :class:`~airflow.sdk.ObjectStoragePath` (fsspec underneath)::

    <base>/report/<version>/...        one complete copy per publication, never changed afterwards
    <base>/report/LATEST               the name of the newest complete <version> (one small object)
    <base>/report/index.html           a page that redirects to <version>/index.html (for people)
    <base>/data_docs/<version>/...     likewise: the Data Docs site, index.html at its top
    <base>/data_docs/LATEST, index.html
    <base>/validation_results/         every worker's stored validation results (gx/, batches/), the
                                       Data Docs' input: they are validated on one machine, rendered on another

Why versions and a pointer, not a rename: an object store (S3, GCS, Azure) has no atomic rename of a
folder (a "move" copies object by object), but writing one object is atomic. So a version is
uploaded whole first, then ``LATEST`` is written (on a local or mounted disk: written beside and
renamed over, also atomic). A reader that reads ``LATEST`` then the files of the version it names
never sees half a report, and a reader that was reading the previous version keeps it: the
:data:`KEEP` newest versions stay, older ones are removed. A publication that fails halfway leaves a
version nobody points to; a later publication removes it. The next publication replaces the whole
tree: nothing of an earlier version is mixed in.

Nothing below the orchestration layer imports this module (it needs Airflow).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import has_fs

log = logging.getLogger("alliance_finance.orchestration.publication")

#: the file that names the newest complete version
POINTER = "LATEST"
#: how many complete versions stay (the newest and the ones a slow reader may still be reading)
KEEP = 3
#: what an operator installs for a scheme Airflow's object storage has no filesystem for here
PROVIDERS = {
    "s3": "pip install 'apache-airflow-providers-amazon[s3fs]' and an AWS connection",
    "gs": "pip install apache-airflow-providers-google and a Google Cloud connection",
    "gcs": "pip install apache-airflow-providers-google and a Google Cloud connection",
    "abfs": "pip install apache-airflow-providers-microsoft-azure and an Azure connection",
}
#: a version's name: ``<UTC time>-<run>``; names sort in publication order
_VERSION = re.compile(r"^\d{8}T\d{12}Z-[A-Za-z0-9._-]+$")


def as_base(base: ObjectStoragePath | str, conn_id: str | None = None) -> ObjectStoragePath:
    """``base`` as an ObjectStoragePath (a plain folder path is taken as ``file://``)."""
    if isinstance(base, ObjectStoragePath):
        return base
    text = str(base)
    if "://" not in text:
        text = Path(text).resolve().as_uri()
    path = ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)
    if not has_fs(path.protocol or "file"):
        raise ValueError(f"publication base {text}: no filesystem for {path.protocol}:// is installed in this "
                         f"Airflow ({PROVIDERS.get(path.protocol, 'install the provider that registers it')})")
    return path


def version_name(run_id: str | None, now: dt.datetime | None = None) -> str:
    """A new version's folder name: the UTC time to the microsecond, then the run id made path-safe."""
    now = now or dt.datetime.now(dt.timezone.utc)
    run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id or "adhoc").strip("_.")[:80] or "adhoc"
    return f"{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%S%f}Z-{run}"


def latest(target: ObjectStoragePath) -> ObjectStoragePath | None:
    """The newest complete version under ``target`` (what ``LATEST`` names), or None before the first."""
    pointer = target / POINTER
    if not pointer.exists():
        return None
    name = pointer.read_text().strip()
    return target / name if _VERSION.match(name) else None


def versions(target: ObjectStoragePath) -> list[str]:
    """The version folders under ``target``, oldest first (complete or not)."""
    if not target.exists():
        return []
    return sorted(p.name for p in target.iterdir() if _VERSION.match(p.name) and p.is_dir())


def publish_tree(local: Path, target: ObjectStoragePath, version: str) -> ObjectStoragePath:
    """Upload the folder ``local`` whole as ``target/<version>/``, then point ``LATEST`` at it.

    Returns the published version's path. Older versions beyond :data:`KEEP` are removed.
    """
    local = Path(local)
    if not _VERSION.match(version):
        raise ValueError(f"not a version name: {version!r}")
    dest = target / version
    fs = target.fs
    files = sorted(p for p in local.rglob("*") if p.is_file())
    if not files:
        raise ValueError(f"nothing to publish in {local}")
    parents = {p.parent.relative_to(local).as_posix() for p in files}
    folders = {dest.path} | {f"{dest.path}/{rel}" for rel in parents if rel != "."}
    for folder in sorted(folders):
        fs.makedirs(folder, exist_ok=True)
    for path in files:
        fs.put_file(str(path), f"{dest.path}/{path.relative_to(local).as_posix()}")
    current = latest(target)
    if current is not None and current.name > version:
        log.warning("%s: %s is newer than %s; the pointer stays", target, current.name, version)
        return dest
    _write_atomically(target, POINTER, version + "\n")
    _write_atomically(target, "index.html", _redirect(f"{version}/index.html"))
    _prune(target, keep_also=version)
    log.info("published %d files to %s (%s now names it)", len(files), dest, target / POINTER)
    return dest


def fetch_tree(source: ObjectStoragePath, local: Path) -> int:
    """Copy the folder ``source`` (a published version, say) into ``local``; returns the file count."""
    return _copy_missing(source, Path(local), down=True)


def sync_up(local: Path, remote: ObjectStoragePath) -> int:
    """Upload the files of ``local`` that ``remote`` lacks (or holds with another size); the count.

    For append-only folders whose files have unique names (stored validation results)."""
    return _copy_missing(remote, Path(local), down=False)


def sync_down(remote: ObjectStoragePath, local: Path) -> int:
    """Download the files of ``remote`` that ``local`` lacks (or holds with another size); the count."""
    return _copy_missing(remote, Path(local), down=True)


# --- helpers --------------------------------------------------------------------------------------

def _remote_files(remote: ObjectStoragePath) -> dict[str, int]:
    """Relative path -> size of every file under ``remote`` (one listing call)."""
    fs = remote.fs
    root = remote.path.rstrip("/")
    if not fs.exists(root):
        return {}
    found = fs.find(root, detail=True)
    return {name[len(root) + 1:]: int(info.get("size") or 0) for name, info in found.items()
            if info.get("type") == "file" and name.startswith(root + "/")}


def _copy_missing(remote: ObjectStoragePath, local: Path, *, down: bool) -> int:
    fs = remote.fs
    root = remote.path.rstrip("/")
    theirs = _remote_files(remote)
    if down:
        todo = [rel for rel, size in theirs.items()
                if not _skip(rel) and not ((local / rel).is_file() and (local / rel).stat().st_size == size)]
        for rel in todo:
            (local / rel).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{root}/{rel}", str(local / rel))
        return len(todo)
    mine = {p.relative_to(local).as_posix(): p.stat().st_size
            for p in (local.rglob("*") if local.is_dir() else []) if p.is_file()}
    todo = [rel for rel, size in mine.items() if not _skip(rel) and theirs.get(rel) != size]
    for rel in sorted(todo):
        parent = f"{root}/{rel}".rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        fs.put_file(str(local / rel), f"{root}/{rel}")
    return len(todo)


def _skip(rel: str) -> bool:
    """Half-written files (``*.tmp``: written beside, then renamed) are not copied."""
    return rel.endswith(".tmp")


def _write_atomically(target: ObjectStoragePath, name: str, text: str) -> None:
    """Write ``target/name`` so that a reader sees the old content or the new, never a part.

    Written under a temporary name beside it, then moved over it: on a local or mounted disk a
    rename (atomic); on an object store a copy (one object write, atomic)."""
    fs = target.fs
    fs.makedirs(target.path, exist_ok=True)
    tmp = f"{target.path}/.{name}.{dt.datetime.now(dt.timezone.utc):%H%M%S%f}.tmp"
    with fs.open(tmp, "wb") as handle:
        handle.write(text.encode("utf-8"))
    fs.mv(tmp, f"{target.path}/{name}")


def _redirect(href: str) -> str:
    return ("<!doctype html>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"refresh\" content=\"0; url={href}\">\n"
            f"<title>Latest</title>\n<p>The latest publication is <a href=\"{href}\">{href}</a>.</p>\n")


def _prune(target: ObjectStoragePath, *, keep_also: str) -> None:
    names = versions(target)
    keep = set(names[-KEEP:]) | {keep_also}
    for name in names:
        if name not in keep:
            try:
                target.fs.rm((target / name).path, recursive=True)
            except OSError as exc:  # another reader's lock on a mounted share, say: the next run retries
                log.warning("could not remove the old version %s: %s", target / name, exc)
