"""Board packs: what a report showed, recorded so that it can be reproduced and compared later.

Every ``alliance-finance report`` records one row in ``board_pack``: the moment its figures are as at,
the last batch of each force it read, the data version (and digest) of the reference data, the forces
and finance's own data, and its figures with their SHA-256. The report prints the pack's stamp.

* The moment a pack is as at is the warehouse's latest change the report could see (a batch finished,
  a data version recorded, a restatement, a period close), or the ``--as-of`` moment given: the
  warehouse as of that moment (:mod:`.as_of`) shows exactly the figures the report read.
* A report of a warehouse that has not changed since a pack finds that pack again (same moment, same
  figures) instead of recording another: rerunning a report gives the same pack, page and workbook.
* :func:`reproduce` rebuilds a pack's figures as of its moment and compares them with the recorded ones.

Figures are stored as canonical JSON (money as exact decimal text), gzip-compressed and base64-encoded
text (a five-year warehouse at scale 10 packs to about a megabyte).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from alliance_finance.marts import as_of as as_of_module
from alliance_finance.marts.figures import BoardFigures, read_figures
from alliance_finance.warehouse import history
from alliance_finance.warehouse.meta import utcnow

log = logging.getLogger(__name__)


class PackError(Exception):
    """A pack that does not exist, or cannot be reproduced."""


@dataclasses.dataclass(frozen=True)
class PackStamp:
    """What the report shows of its pack."""

    pack_id: int | None
    as_at: dt.datetime
    high_water: dict[str, int]
    data_versions: dict[str, int]
    reference_digest: str
    finance_digest: str
    figures_digest: str
    created_at: dt.datetime | None = None
    created_by: str | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dt.datetime):
        return {"$ts": value.isoformat(sep=" ")}
    if isinstance(value, dt.date):
        return {"$day": value.isoformat()}
    return value


def figures_document(figures: BoardFigures) -> dict[str, Any]:
    """The figures as a JSON-ready document, every value exact and typed, in a canonical order."""
    return {
        "views": {name: [{c: _plain(v) for c, v in row.items()} for row in rows]
                  for name, rows in figures.views.items()},
        "nre_by_function": [[fy, force, fn, pence] for (fy, force, fn), pence in sorted(figures.nre_by_function.items())],
        "function_names": figures.function_names,
        "rejected_batches": [{c: _plain(v) for c, v in row.items()} for row in figures.rejected_batches],
        "force_names": figures.force_names,
        "targets": [{c: _plain(v) for c, v in row.items()} for row in figures.targets],
    }


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def digest(figures: BoardFigures) -> str:
    return document_digest(figures_document(figures))


def document_digest(document: dict[str, Any]) -> str:
    """The SHA-256 a pack's figures are checked by."""
    return hashlib.sha256(canonical(document).encode()).hexdigest()


def _pack_text(document: dict[str, Any]) -> str:
    return base64.b64encode(gzip.compress(canonical(document).encode(), mtime=0)).decode()


def _unpack_text(text: str) -> dict[str, Any]:
    return json.loads(gzip.decompress(base64.b64decode(text)))


def _stamp(conn: sa.Connection, as_at: dt.datetime, figures_digest: str) -> PackStamp:
    """The pack's stamp read on the report's own connection (its snapshot, or the moment's tables)."""
    high_water = {r[0]: int(r[1]) for r in conn.execute(sa.text(
        "SELECT force_code, MAX(batch_id) FROM etl_batch GROUP BY force_code ORDER BY force_code"))}
    versions, digests = {}, {}
    for dataset in history.DATASETS:
        version = history.version_at(conn, dataset, as_at)
        versions[dataset] = version
        digests[dataset] = conn.execute(sa.text("SELECT digest FROM data_version WHERE version_id = :v"),
                                        {"v": version}).scalar_one()
    return PackStamp(None, as_at, high_water, versions, digests["reference"], digests["finance"], figures_digest)


def read_with_stamp(engine: sa.Engine, moment: dt.datetime | None = None) -> tuple[BoardFigures, PackStamp]:
    """The board's figures and their pack stamp, in one snapshot: now, or as of ``moment``."""
    with as_of_module.connection_as_of(engine, moment) as conn:
        figures = read_figures(conn)
        as_at = moment or history.latest_change(conn) or history.history_start(conn) or utcnow()
        return figures, _stamp(conn, as_at, digest(figures))


def record(engine: sa.Engine, figures: BoardFigures, stamp: PackStamp, *, by: str | None = None) -> PackStamp:
    """Record the pack (or find the same one already recorded); returns the stamp with its id."""
    with engine.begin() as conn:
        existing = conn.execute(sa.text(
            "SELECT pack_id, created_at, created_by FROM board_pack WHERE as_at = :t AND figures_digest = :d "
            "ORDER BY pack_id LIMIT 1"), {"t": stamp.as_at, "d": stamp.figures_digest}).first()
        if existing is not None:
            return dataclasses.replace(stamp, pack_id=int(existing[0]), created_at=history.as_datetime(existing[1]),
                                       created_by=existing[2])
        created_at, created_by = utcnow(), by or history.who()
        pack_id = conn.execute(sa.text(
            "INSERT INTO board_pack (as_at, created_at, created_by, high_water, data_versions, reference_digest, "
            "finance_digest, figures_digest, figures_json) VALUES (:as_at, :created_at, :by, :hw, :versions, "
            ":ref, :fin, :digest, :figures) RETURNING pack_id"),
            {"as_at": stamp.as_at, "created_at": created_at, "by": created_by,
             "hw": json.dumps(stamp.high_water, sort_keys=True), "versions": json.dumps(stamp.data_versions, sort_keys=True),
             "ref": stamp.reference_digest, "fin": stamp.finance_digest, "digest": stamp.figures_digest,
             "figures": _pack_text(figures_document(figures))}).scalar_one()
    return dataclasses.replace(stamp, pack_id=int(pack_id), created_at=created_at, created_by=created_by)


@dataclasses.dataclass(frozen=True)
class Pack:
    stamp: PackStamp
    document: dict[str, Any]


def load(engine: sa.Engine, pack_id: int) -> Pack:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT pack_id, as_at, created_at, created_by, high_water, data_versions, reference_digest, "
            "finance_digest, figures_digest, figures_json FROM board_pack WHERE pack_id = :id"), {"id": pack_id}).first()
    if row is None:
        raise PackError(f"board pack {pack_id} does not exist in this warehouse")
    stamp = PackStamp(int(row.pack_id), history.as_datetime(row.as_at), json.loads(row.high_water), json.loads(row.data_versions),
                      row.reference_digest, row.finance_digest, row.figures_digest, history.as_datetime(row.created_at),
                      row.created_by)
    return Pack(stamp, _unpack_text(row.figures_json))


def differences(recorded: dict[str, Any], rebuilt: dict[str, Any], limit: int = 20) -> list[str]:
    """Where two figure documents differ, in words (at most ``limit`` lines)."""
    out: list[str] = []
    for part in sorted(set(recorded) | set(rebuilt)):
        a, b = recorded.get(part), rebuilt.get(part)
        if a == b:
            continue
        if part == "views":
            for view in sorted(set(a or {}) | set(b or {})):
                rows_a, rows_b = (a or {}).get(view, []), (b or {}).get(view, [])
                if rows_a != rows_b:
                    only_a = [r for r in rows_a if r not in rows_b]
                    only_b = [r for r in rows_b if r not in rows_a]
                    out.append(f"{view}: {len(only_a)} row(s) recorded are not rebuilt, {len(only_b)} rebuilt were "
                               f"not recorded" + (f"; first recorded: {canonical(only_a[0])}" if only_a else ""))
        else:
            out.append(f"{part} differs")
        if len(out) >= limit:
            break
    return out[:limit]


def reproduce(engine: sa.Engine, pack_id: int) -> tuple[Pack, BoardFigures, PackStamp, list[str]]:
    """Rebuild a pack's figures as of its moment: (the pack, the figures rebuilt, their stamp, the
    differences from the recorded figures: empty when identical)."""
    pack = load(engine, pack_id)
    figures, stamp = read_with_stamp(engine, pack.stamp.as_at)
    stamp = dataclasses.replace(stamp, pack_id=pack.stamp.pack_id, created_at=pack.stamp.created_at,
                                created_by=pack.stamp.created_by)
    rebuilt = figures_document(figures)
    # a view the report reads since the pack was taken (a later release added it) is no recorded figure:
    # the pack is checked on the figures it holds
    added = sorted(set(rebuilt["views"]) - set(pack.document["views"]))
    rebuilt["views"] = {name: rows for name, rows in rebuilt["views"].items() if name in pack.document["views"]}
    compared = document_digest(rebuilt)
    found = [] if compared == pack.stamp.figures_digest else \
        differences(pack.document, rebuilt) or ["the figures' digests differ"]
    if not found:  # the same figures: the pack's own digest (the rebuilt page may show views added since)
        stamp = dataclasses.replace(stamp, figures_digest=pack.stamp.figures_digest)
    if added:
        log.info("board pack %s holds no %s (read by the report since): not compared", pack_id, ", ".join(added))
    if stamp.high_water != pack.stamp.high_water:
        found.append(f"last batch read per force: recorded {pack.stamp.high_water}, rebuilt {stamp.high_water}")
    return pack, figures, stamp, found
