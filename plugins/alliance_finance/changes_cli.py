"""``alliance-finance changes --since-pack ID``: what changed since a board pack, each with its money.

Prints every section of :func:`alliance_finance.marts.changes.changes_since` as text, money exact in
pounds; ``--out FILE.xlsx`` writes one sheet per section, ``--out FILE.csv`` one CSV with a ``section``
column. Exit status 0 when listed (and every NRE difference is explained by a change listed), 1 when
the pack does not exist or a difference is left unexplained.
"""

from __future__ import annotations

import csv
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alliance_finance.core.money import format_gbp
from alliance_finance.core.urls import mask_url
from alliance_finance.marts.changes import Changes, changes_since
from alliance_finance.marts.packs import PackError
from alliance_finance.warehouse.engine import make_engine

PROG = "alliance-finance changes"


def _gbp(pence: int | None) -> str:
    return "-" if pence is None else format_gbp(pence, pence_shown=True)


def flat_rows(changes: Changes) -> dict[str, list[dict[str, Any]]]:
    """Each section as flat rows (money in pounds, exact), for a sheet or CSV."""
    out: dict[str, list[dict[str, Any]]] = {}
    for section, rows in changes.sections().items():
        flat = []
        for row in rows:
            item: dict[str, Any] = {}
            for key, value in row.items():
                if key.endswith("_pence"):
                    item[key[:-6]] = None if value is None else Decimal(value).scaleb(-2)
                elif isinstance(value, (dict, list)):
                    item[key] = json.dumps(value, sort_keys=True, default=str)
                else:
                    item[key] = value
            flat.append(item)
        out[section] = flat
    return out


def describe(changes: Changes) -> str:
    p = changes.pack
    lines = [f"Changes since board pack {p.pack_id} (figures as at {p.as_at:%Y-%m-%d %H:%M:%S} UTC) "
             f"to {changes.until:%Y-%m-%d %H:%M:%S} UTC"]
    lines.append(f"\nBatches loaded since ({len(changes.batches)}):")
    for b in changes.batches:
        money = "" if b["kind"] == "rejected" else (
            f" +{b['lines_in']} lines {_gbp(b['net_in_pence'])}"
            + (f", -{b['lines_out']} superseded lines {_gbp(b['net_out_pence'])}" if b["lines_out"] else "")
            + f"; NRE {_gbp(b['nre_change_pence'])}")
        lines.append(f"  {b['force_code']} {b['source_ref']} ({b['kind']}, {b['finished_at']}){money}"
                     + (f": {b['error']}" if b["error"] else ""))
    lines.append(f"\nPosted into periods already closed ({len(changes.post_close)}):")
    for a in changes.post_close:
        lines.append(f"  {a['force_code']} FY {a['fiscal_year']} P{a['period']} ({a['basis']}): {a['line_count']} lines "
                     f"{_gbp(a['amount_pence'])} from {a['source_ref']}")
    lines.append(f"\nLines restated to other codes ({len(changes.restatements)}):")
    for r in changes.restatements:
        lines.append(f"  {r['force_code']} {r['from_objective']}/{r['from_subjective']} ({r['from_scope']}) -> "
                     f"{r['to_objective']}/{r['to_subjective']} ({r['to_scope']}): {r['lines']} lines "
                     f"{_gbp(r['amount_pence'])} at {r['restated_at']}")
    lines.append(f"\nMapping decisions recorded ({len(changes.mapping_decisions)}):")
    for d in changes.mapping_decisions:
        years = "every year" if d["valid_from_fy"] is None else (
            f"FY {d['valid_from_fy']}-" + ("" if d["valid_to_fy"] is None else str(d["valid_to_fy"])))
        lines.append(f"  {d['force_code']} {d['code_type']} {d['local_code']} -> {d['common_code']} ({years}) by "
                     f"{d['decided_by']} at {d['decided_at']}: {d['reason']}; moved {d['lines_moved'] or 0} lines "
                     f"{_gbp(d['amount_moved_pence'] or 0)}")
    lines.append(f"\nData versions recorded ({len(changes.data_versions)}):")
    for v in changes.data_versions:
        detail = "; ".join(f"{t}: {len(c['removed'])} rows out, {len(c['added'])} in" for t, c in v["changes"].items())
        lines.append(f"  {v['dataset']} version {v['version_id']} at {v['valid_from']} by {v['recorded_by']} "
                     f"({v['reason']}){': ' + detail if detail else ''}")
    lines.append(f"\nPeriod closes recorded ({len(changes.period_closes)}):")
    for c in changes.period_closes:
        lines.append(f"  {c['force_code']} FY {c['fiscal_year']} P{c['period']} {c['action']} on {c['closed_on']} "
                     f"by {c['recorded_by']}")
    lines.append(f"\nFigures that moved ({len(changes.figures)}):")
    for f in changes.figures:
        key = ", ".join(f"{k}={v}" for k, v in f.items()
                        if k not in ("view", "measure", "before_pence", "after_pence", "difference_pence"))
        lines.append(f"  {f['view']} [{key}] {f['measure']}: {_gbp(f['before_pence'])} -> {_gbp(f['after_pence'])}"
                     + (f" ({_gbp(f['difference_pence'])})" if f["difference_pence"] is not None else ""))
    lines.append("\nNRE by force, year and scope, pack against now, explained by the changes above:")
    for r in changes.reconciliation:
        lines.append(f"  FY {r['fiscal_year']} {r['force_code']} {r['alliance_scope']}: {_gbp(r['nre_pack_pence'])} -> "
                     f"{_gbp(r['nre_now_pence'])}, difference {_gbp(r['difference_pence'])} = lines "
                     f"{_gbp(r['lines_pence'])} + restated {_gbp(r['restated_pence'])}"
                     + (f"; UNEXPLAINED {_gbp(r['unexplained_pence'])}" if r["unexplained_pence"] else ""))
    return "\n".join(lines)


def write(changes: Changes, path: Path) -> None:
    sections = flat_rows(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        columns = ["section"] + sorted({k for rows in sections.values() for r in rows for k in r})
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            for section, rows in sections.items():
                for r in rows:
                    writer.writerow({"section": section, **{k: "" if v is None else v for k, v in r.items()}})
        return
    import xlsxwriter  # deferred: only --out .xlsx needs it

    wb = xlsxwriter.Workbook(str(path))
    money = wb.add_format({"num_format": "£#,##0.00"})
    bold = wb.add_format({"bold": True})
    for section, rows in sections.items():
        ws = wb.add_worksheet(section[:31])
        columns = sorted({k for r in rows for k in r}, key=lambda c: list(rows[0]).index(c) if c in rows[0] else 99) \
            if rows else ["nothing changed"]
        for i, c in enumerate(columns):
            ws.write_string(0, i, c, bold)
            ws.set_column(i, i, max(12, min(50, len(c) + 2)))
        for n, r in enumerate(rows, start=1):
            for i, c in enumerate(columns):
                v = r.get(c)
                if isinstance(v, Decimal):
                    ws.write_number(n, i, v, money)  # exact: at most 15 significant digits (format_gbp range)
                elif v is not None:
                    ws.write_string(n, i, str(v))
        ws.freeze_panes(1, 0)
    wb.close()


def changes_cli(warehouse_url: str, pack_id: int, out: Path | None = None) -> int:
    engine = make_engine(warehouse_url)
    try:
        changes = changes_since(engine, pack_id)
    except PackError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as exc:
        print(f"{PROG}: could not read {mask_url(warehouse_url)}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(describe(changes))
    if out is not None:
        write(changes, out)
        print(f"\nWritten to {out}")
    unexplained = [r for r in changes.reconciliation if r["unexplained_pence"]]
    if unexplained:
        print(f"{PROG}: {len(unexplained)} NRE difference(s) not explained by the warehouse's history", file=sys.stderr)
        return 1
    return 0
