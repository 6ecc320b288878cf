"""``alliance-finance mapping export | import | list``: finance's mapping decisions, without editing a file.

- ``export --out FILE.xlsx``: the workbook of codes in suspense to fill in (:mod:`.marts.mapping_export`);
- ``import FILE.xlsx --by NAME --reason TEXT``: every row validated, then recorded, the maps re-seeded
  and the ledger restated in one transaction (:mod:`.warehouse.decisions`); prints each decision
  with the lines and money it moved;
- ``list``: every decision recorded (``v_mapping_decisions``).

Exit status: 0 done; 1 refused (every problem printed, naming its row; nothing recorded) or the
warehouse unusable; 2 wrong usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.config.reference import load_reference
from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.core.money import format_gbp
from alliance_finance.core.urls import mask_url
from alliance_finance.marts import mapping_export
from alliance_finance.runner.prepare import refresh_budget_summary
from alliance_finance.warehouse import decisions, locks, migrate
from alliance_finance.warehouse.engine import make_engine
from alliance_finance.warehouse.overlay import Decision, bounds, years_text

EXIT_OK, EXIT_FAILED = 0, 1
PROG = "alliance-finance mapping"


def _fail(what: str, message: str) -> int:
    print(f"{PROG} {what}: {message}", file=sys.stderr)
    return EXIT_FAILED


def _ready(engine: sa.Engine, warehouse_url: str) -> str | None:
    """None when the warehouse has a schema (upgraded to head), else why not."""
    with engine.connect() as conn:
        if migrate.current_revision(conn) is None:
            return (f"the warehouse {mask_url(warehouse_url)} has no schema yet (alliance-finance run creates it "
                    "and loads the ledgers)")
    migrate.upgrade(engine)
    return None


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def export_cli(warehouse_url: str, out: Path) -> int:
    engine = make_engine(warehouse_url)
    try:
        problem = _ready(engine, warehouse_url)
        if problem:
            return _fail("export", problem + ": nothing written")
        with engine.connect() as conn, conn.begin():
            listed = mapping_export.write_workbook(conn, out)
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        return _fail("export", f"{_first_line(exc)}: nothing written")
    finally:
        engine.dispose()
    print(f"{out}: {listed} unmapped code(s) to decide; fill in common_code (and valid_from_fy for a cost centre), "
          "then: alliance-finance mapping import " + str(out) + " --by NAME --reason TEXT")
    return EXIT_OK


def import_cli(warehouse_url: str, path: Path, *, by: str, reason: str, reference_dir: Path | None = None,
               forces: Sequence[ForceConfig] | None = None) -> int:
    if not path.is_file():
        return _fail("import", f"{path}: no such file; nothing recorded")
    engine = make_engine(warehouse_url)
    try:
        problem = _ready(engine, warehouse_url)
        if problem:
            return _fail("import", problem + ": nothing recorded")
        ref = load_reference(reference_dir, forces)
        rows = mapping_export.read_decisions_file(path)
        with engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="immediate")
            with conn.begin():
                # no batch is mapped with half-replaced maps, nor a restatement run twice at once
                locks.pg_xact_lock(conn, locks.REFERENCE_KEY)
                recorded = decisions.record_decisions(conn, ref, rows, by=by, reason=reason,
                                                      source_file=path.name)
        refresh_budget_summary(engine)
    except decisions.MappingDecisionError as exc:
        return _fail("import", f"{path}: {exc}")
    except AllianceFinanceError as exc:
        return _fail("import", f"{exc}; nothing recorded")
    except sa.exc.SQLAlchemyError as exc:
        return _fail("import", f"warehouse {mask_url(warehouse_url)}: {_first_line(exc)}: nothing recorded")
    finally:
        engine.dispose()
    print(f"{len(recorded)} mapping decision(s) recorded from {path.name} by {by}; the ledger is restated:")
    print(describe(recorded))
    return EXIT_OK


def list_cli(warehouse_url: str) -> int:
    engine = make_engine(warehouse_url)
    try:
        problem = _ready(engine, warehouse_url)
        if problem:
            return _fail("list", problem)
        with engine.connect() as conn:
            from alliance_finance.warehouse.overlay import read_decisions

            recorded = read_decisions(conn)
            superseded = {int(r[0]) for r in conn.execute(sa.text(
                "SELECT supersedes_id FROM mapping_decision WHERE supersedes_id IS NOT NULL"))}
    except sa.exc.SQLAlchemyError as exc:
        return _fail("list", f"warehouse {mask_url(warehouse_url)}: {_first_line(exc)}")
    finally:
        engine.dispose()
    if not recorded:
        print("no mapping decisions recorded yet (alliance-finance mapping export, then mapping import)")
        return EXIT_OK
    print(describe(recorded, superseded=superseded))
    return EXIT_OK


def describe(recorded: Sequence[Decision], *, superseded: set[int] = frozenset()) -> str:
    """A table of decisions: the code, its common code and years, who and when, what it moved."""
    header = (f"  {'#':>4}  {'force':<5} {'code':<24} {'to':<9} {'years':<17} {'decided by':<20} {'on':<10} "
              f"{'lines':>7} {'money moved':>15}")
    out = [header]
    for d in recorded:
        kind = "cost centre" if d.code_type == "cost_centre" else "account"
        years = years_text(*bounds(d.valid_from_fy, d.valid_to_fy))
        money = "-" if d.amount_moved_pence is None else format_gbp(d.amount_moved_pence, pence_shown=True)
        lines = "-" if d.lines_moved is None else f"{d.lines_moved:,}"
        note = "  (superseded)" if d.decision_id in superseded else ""
        out.append(f"  {d.decision_id:>4}  {d.force_code:<5} {kind + ' ' + d.local_code:<24} {d.common_code:<9} "
                   f"{years:<17} {d.decided_by[:20]:<20} {d.decided_at:%Y-%m-%d} {lines:>7} {money:>15}{note}")
        out.append(f"        why: {d.reason}   ({d.source_file} row {d.source_row})")
    return "\n".join(out)
