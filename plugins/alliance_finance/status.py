"""``alliance-finance status``: what the warehouse holds, whether it adds up, and how fresh it is.

Read-only. Everything comes from ``etl_batch``, ``quarantine_line``, ``v_unmapped_codes`` and two
counts of ``fact_ledger_line``; money is shown exactly, to the penny.

Exit status: 0, or 1 when the warehouse cannot be read or the row accounting does not hold
(a batch whose rows read differ from rows loaded + quarantined, or fact lines that differ from what
the loaded batches say they loaded), so a monitor can alert on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from typing import Any

import sqlalchemy as sa

from alliance_finance.core.money import format_gbp
from alliance_finance.core.urls import mask_url
from alliance_finance.warehouse import meta, migrate
from alliance_finance.warehouse.engine import make_engine

#: how many quarantine reasons, rejected batches and unmapped codes are listed per force
LISTED = 10


@dataclasses.dataclass
class WarehouseStatus:
    """The figures ``status`` prints (also what tests and the report may read)."""

    revision: str | None
    reference_digest: str | None
    #: force -> status -> (batches, rows read, rows loaded, rows quarantined)
    batches: dict[str, dict[str, tuple[int, int, int, int]]]
    #: batches (not rejected) whose rows read != loaded + quarantined
    accounting_breaks: list[dict[str, Any]]
    #: force -> (lines the loaded batches recorded, lines in fact_ledger_line)
    fact_lines: dict[str, tuple[int, int]]
    #: force -> [(reason, lines)], most frequent first, and how many lines in all
    quarantine: dict[str, list[tuple[str, int]]]
    quarantined_lines: dict[str, int]
    rejected: list[dict[str, Any]]
    unmapped: list[dict[str, Any]]
    #: force -> freshness facts
    freshness: dict[str, dict[str, Any]]

    @property
    def accounting_holds(self) -> bool:
        return not self.accounting_breaks and all(a == b for a, b in self.fact_lines.values())


def collect_status(engine) -> WarehouseStatus:
    """Read the warehouse's state (one read transaction)."""
    with engine.connect() as conn, conn.begin():
        revision = migrate.current_revision(conn)
        if revision is None:
            raise LookupError("the warehouse has no schema yet: run `alliance-finance run` first")
        q = lambda sql, **p: conn.execute(sa.text(sql), p).mappings().all()  # noqa: E731
        batches: dict[str, dict[str, tuple[int, int, int, int]]] = {}
        for r in q("SELECT force_code, status, COUNT(*) AS n, SUM(rows_read) AS rr, SUM(rows_loaded) AS rl, "
                   "SUM(rows_quarantined) AS rq FROM etl_batch GROUP BY force_code, status"):
            batches.setdefault(r["force_code"], {})[r["status"]] = (
                int(r["n"]), int(r["rr"] or 0), int(r["rl"] or 0), int(r["rq"] or 0))
        breaks = [dict(r) for r in q(
            "SELECT batch_id, force_code, source_ref, status, rows_read, rows_loaded, rows_quarantined "
            "FROM etl_batch WHERE status <> 'rejected' AND rows_read <> rows_loaded + rows_quarantined "
            "ORDER BY batch_id")]
        recorded = {r["force_code"]: int(r["n"] or 0) for r in q(
            "SELECT force_code, SUM(rows_loaded) AS n FROM etl_batch WHERE status = 'loaded' GROUP BY force_code")}
        in_fact = {r["force_code"]: int(r["n"]) for r in q(
            "SELECT force_code, COUNT(*) AS n FROM fact_ledger_line GROUP BY force_code")}
        fact_lines = {f: (recorded.get(f, 0), in_fact.get(f, 0)) for f in sorted(set(recorded) | set(in_fact))}
        quarantine: dict[str, list[tuple[str, int]]] = {}
        quarantined: dict[str, int] = {}
        for r in q("SELECT q.force_code, q.reason, COUNT(*) AS n FROM quarantine_line AS q "
                   "JOIN etl_batch AS b ON b.batch_id = q.batch_id WHERE b.status = 'loaded' "
                   "GROUP BY q.force_code, q.reason ORDER BY q.force_code, COUNT(*) DESC, q.reason"):
            quarantine.setdefault(r["force_code"], []).append((r["reason"], int(r["n"])))
            quarantined[r["force_code"]] = quarantined.get(r["force_code"], 0) + int(r["n"])
        rejected = [dict(r) for r in q(
            "SELECT batch_id, force_code, source_ref, error, started_at FROM etl_batch "
            "WHERE status = 'rejected' ORDER BY batch_id DESC")]
        unmapped = [dict(r) for r in q(
            "SELECT force_code, code_type, local_code, first_posting_date, last_posting_date, line_count, "
            "amount_pence FROM v_unmapped_codes ORDER BY force_code, code_type, local_code")]
        freshness = {r["force_code"]: dict(r) for r in q(
            "SELECT force_code, MAX(business_date) AS last_business_date, "
            "COUNT(DISTINCT business_date) AS business_days, MAX(last_posting_date) AS last_posting_date, "
            "MAX(posted_through) AS posted_through, MAX(finished_at) AS last_loaded_at "
            "FROM etl_batch WHERE status = 'loaded' GROUP BY force_code")}
        return WarehouseStatus(revision, meta.get_meta(conn, meta.REFERENCE_DIGEST), batches, breaks, fact_lines,
                               quarantine, quarantined, rejected, unmapped, freshness)


def format_status(status: WarehouseStatus, where: str) -> str:
    """The terminal text of ``alliance-finance status``."""
    out = [f"Warehouse {where}: schema revision {status.revision}, "
           f"reference data {status.reference_digest[:12] if status.reference_digest else '(not applied yet)'}", ""]
    forces = sorted(set(status.batches) | set(status.freshness) | set(status.fact_lines))

    out.append("Batches")
    out.append(f"  {'force':<6}{'loaded':>8}{'rejected':>10}{'superseded':>12}{'lines loaded':>15}{'quarantined':>13}")
    for force in forces:
        by = status.batches.get(force, {})
        count = lambda s: by.get(s, (0, 0, 0, 0))[0]  # noqa: E731
        loaded = by.get("loaded", (0, 0, 0, 0))
        out.append(f"  {force:<6}{count('loaded'):>8,}{count('rejected'):>10,}{count('superseded'):>12,}"
                   f"{loaded[2]:>15,}{loaded[3]:>13,}")
    if not forces:
        out.append("  none yet")
    out.append("")

    out.append("Ledger complete to")
    for force in forces:
        f = status.freshness.get(force)
        if not f:
            out.append(f"  {force:<5}nothing loaded yet")
        elif f.get("last_business_date"):
            out.append(f"  {force:<5}business date {_day(f['last_business_date'])} "
                       f"({int(f['business_days']):,} business days loaded; last load {_when(f['last_loaded_at'])})")
        else:
            posted = f"posted through {_when(f['posted_through'], zone='')}; " if f.get("posted_through") else ""
            out.append(f"  {force:<5}{posted}latest accounting date {_day(f['last_posting_date'])} "
                       f"(last load {_when(f['last_loaded_at'])})")
    out.append("")

    if status.accounting_holds:
        out.append("Row accounting holds: every batch's rows read = loaded + quarantined, and the fact "
                   "table holds exactly the lines the loaded batches recorded.")
    else:
        out.append("ROW ACCOUNTING DOES NOT HOLD")
        for b in status.accounting_breaks:
            out.append(f"  batch {b['batch_id']} {b['force_code']} {b['source_ref']} ({b['status']}): "
                       f"read {b['rows_read']:,} != loaded {b['rows_loaded']:,} + quarantined {b['rows_quarantined']:,}")
        for force, (recorded, present) in status.fact_lines.items():
            if recorded != present:
                out.append(f"  {force}: loaded batches recorded {recorded:,} lines, fact_ledger_line holds {present:,}")
    out.append("")

    out.append("Quarantine (lines kept out of loaded batches)")
    if not status.quarantine:
        out.append("  none")
    for force, reasons in sorted(status.quarantine.items()):
        out.append(f"  {force}: {_count(status.quarantined_lines[force], 'line')}, {_count(len(reasons), 'reason')}")
        for reason, lines in reasons[:LISTED]:
            out.append(f"    {lines:>7,}  {_short(reason)}")
        if len(reasons) > LISTED:
            out.append(f"    ... and {len(reasons) - LISTED:,} more reasons")
    out.append("")

    out.append("Rejected batches (latest first)")
    if not status.rejected:
        out.append("  none")
    for r in status.rejected[:LISTED]:
        out.append(f"  {r['force_code']} {r['source_ref']} (batch {r['batch_id']}): {_short(r['error'] or '', 200)}")
    if len(status.rejected) > LISTED:
        out.append(f"  ... and {len(status.rejected) - LISTED:,} more")
    out.append("")

    out.append("Unmapped codes (in suspense until reference/ maps them or finance records a mapping: alliance-finance "
               "mapping export, then mapping import), largest first")
    if not status.unmapped:
        out.append("  none")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for u in status.unmapped:
        groups.setdefault((u["force_code"], u["code_type"]), []).append(u)
    for (force, code_type), codes in sorted(groups.items()):
        codes.sort(key=lambda u: (-abs(int(u["amount_pence"])), str(u["local_code"])))
        total = sum(int(u["amount_pence"]) for u in codes)
        lines = sum(int(u["line_count"]) for u in codes)
        out.append(f"  {force} {code_type.replace('_', ' ')}: {_count(len(codes), 'code')}, {_count(lines, 'line')}, "
                   f"net {format_gbp(total, pence_shown=True)}")
        out.append(f"    {'code':<12}{'first seen':<12}{'last seen':<12}{'lines':>8}{'amount':>20}")
        for u in codes[:LISTED]:
            out.append(f"    {u['local_code'] or '(blank)':<12}{_day(u['first_posting_date']):<12}"
                       f"{_day(u['last_posting_date']):<12}{int(u['line_count']):>8,}"
                       f"{format_gbp(int(u['amount_pence']), pence_shown=True):>20}")
        if len(codes) > LISTED:
            rest = codes[LISTED:]
            out.append(f"    ... and {len(rest):,} more codes: {sum(int(u['line_count']) for u in rest):,} lines, "
                       f"net {format_gbp(sum(int(u['amount_pence']) for u in rest), pence_shown=True)}")
    return "\n".join(out)


def status_cli(warehouse_url: str) -> int:
    """``alliance-finance status``: print the warehouse's state; 1 when it cannot be read or does not add up."""
    engine = make_engine(warehouse_url)
    try:
        status = collect_status(engine)
    except Exception as exc:  # noqa: BLE001 - an operator command: say what and where, masked
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"alliance-finance status: cannot read warehouse {mask_url(warehouse_url)}: "
              f"{text[0] if text else type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(format_status(status, mask_url(warehouse_url)))
    return 0 if status.accounting_holds else 1


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _day(value) -> str:
    if value is None:
        return "-"
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def _when(value, zone: str = " UTC") -> str:
    """A timestamp to the minute; the warehouse's own are UTC, a source's are as the source wrote them."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M") + zone


def _short(text: str, width: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
