"""Finance's own data: savings targets, sharing keys, deflators, programme cost centres, budgets, closes.

The files in ``seeds/`` are CSV files finance edits. :func:`read_finance_seeds` validates them (every
error names the file, the line and the reason), :func:`load_finance_seeds` replaces the rows of the
tables revision 0002 creates (``sql/migrations/0002_finance.sql``) in one transaction, and
:func:`sync_finance_seeds` does it at every run when the files changed (their digest, kept in
``warehouse_meta``). The board's figures read these tables through the views (:mod:`.figures`).
docs/finance.md explains every table and rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alliance_finance.config.forces import ALL_FORCES
from alliance_finance.config.forces import force_codes as configured_force_codes
from alliance_finance.core.fiscal import BASELINE_FY
from alliance_finance.core.money import format_gbp
from alliance_finance.core.paths import PROJECT_ROOT
from alliance_finance.marts import budgets, closes
from alliance_finance.marts.seedfile import FinanceSeedError, SeedFile
from alliance_finance.warehouse import history, meta

#: Finance's editable data. ``ALLIANCE_SEEDS_DIR`` points elsewhere for a deployment that keeps it apart.
SEEDS_DIR = Path(os.environ.get("ALLIANCE_SEEDS_DIR", PROJECT_ROOT / "seeds"))

#: ``warehouse_meta`` key of the digest of the seed files last loaded (see :func:`sync_finance_seeds`).
FINANCE_SEEDS_DIGEST = "finance_seeds_digest"

#: The alliance scopes of CHART.md, and ``unmapped`` for lines in suspense.
ALLIANCE_SCOPES = frozenset({"alliance", "local", "central", "governance", "none", "unmapped"})

#: The finance tables, each with the seed file that fills it.
SEED_FILES = {
    "savings_target": "savings_targets.csv",
    "sharing_key": "sharing_key.csv",
    "deflator": "deflators.csv",
    "programme_cost_centre": "programme_cost_centres.csv",
}

# ---------------------------------------------------------------------------------------------
# Finance's data: seeds/*.csv -> finance tables
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FinanceSeeds:
    """The validated rows of the four seed files, ready to insert (money in pence, ratios as integers)."""

    savings_target: list[dict[str, Any]]
    sharing_key: list[dict[str, Any]]
    deflator: list[dict[str, Any]]
    programme_cost_centre: list[dict[str, Any]]
    #: (force, cost centre) -> its line in programme_cost_centres.csv, for messages
    programme_lines: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)


def read_finance_seeds(seeds_dir: Path | None = None, *, force_codes: set[str] | None = None) -> FinanceSeeds:
    """Read and validate the four seed files (see docs/finance.md for their columns).

    ``force_codes`` are the forces the warehouse knows (``dim_force``; default the configured forces,
    ``dags/forces.yaml``); a seed naming another force
    or an unknown alliance scope is refused, since its row would silently match nothing.
    Raises :class:`FinanceSeedError` naming the file, line and column.
    """
    directory = Path(seeds_dir or SEEDS_DIR)
    force_codes = set(force_codes or configured_force_codes())

    f = SeedFile(directory / SEED_FILES["savings_target"],
                  ("fiscal_year", "force_code", "alliance_scope", "cumulative_target", "note"))
    targets, seen = [], {}
    for line, row in f.rows():
        record = {
            "fiscal_year": f.fiscal_year(line, row, "fiscal_year"),
            "force_code": f.text(line, row, "force_code", force_codes | {ALL_FORCES}),
            "alliance_scope": f.text(line, row, "alliance_scope", set(ALLIANCE_SCOPES)),
            "target_pence": f.scaled(line, row, "cumulative_target", 2, signed=True),
            "note": row["note"] or None,
        }
        key = (record["fiscal_year"], record["force_code"], record["alliance_scope"])
        if key in seen:
            raise f.fail(line, "fiscal_year", f"one target per fiscal year, force and scope (line {seen[key]} "
                         f"already sets {key[0]} {key[1]} {key[2]})", row["fiscal_year"])
        seen[key] = line
        targets.append(record)

    f = SeedFile(directory / SEED_FILES["sharing_key"], ("valid_from_fy", "force_code", "weight", "basis"))
    keys, seen, lines_of = [], {}, {}
    for line, row in f.rows():
        record = {
            "valid_from_fy": f.fiscal_year(line, row, "valid_from_fy"),
            "force_code": f.text(line, row, "force_code", force_codes),
            "weight_hundredths": f.scaled(line, row, "weight", 2),
            "basis": f.text(line, row, "basis"),
        }
        key = (record["valid_from_fy"], record["force_code"])
        if key in seen:
            raise f.fail(line, "force_code", f"one weight per force and valid_from_fy (line {seen[key]} already "
                         f"gives {key[1]} from {key[0]})", row["force_code"])
        seen[key] = line
        lines_of.setdefault(record["valid_from_fy"], []).append((line, record))
        keys.append(record)
    for year, records in sorted(lines_of.items()):
        named = {r["force_code"] for _, r in records}
        if named != force_codes:
            raise f.fail(records[0][0], "force_code",
                         f"a weight for every force ({', '.join(sorted(force_codes))}) from {year}",
                         ", ".join(sorted(named)))
        if sum(r["weight_hundredths"] for _, r in records) <= 0:
            raise f.fail(records[0][0], "weight", f"weights from {year} that add up to more than zero", "0")

    f = SeedFile(directory / SEED_FILES["deflator"], ("fiscal_year", "index", "source"))
    deflators, seen = [], {}
    for line, row in f.rows():
        record = {
            "fiscal_year": f.fiscal_year(line, row, "fiscal_year"),
            "index_ten_thousandths": f.scaled(line, row, "index", 4, positive=True),
            "source": row["source"] or None,
        }
        if record["fiscal_year"] in seen:
            raise f.fail(line, "fiscal_year", f"one index per fiscal year (line {seen[record['fiscal_year']]} "
                         "already gives it)", row["fiscal_year"])
        seen[record["fiscal_year"]] = line
        deflators.append(record)
    if deflators and BASELINE_FY not in seen:
        raise FinanceSeedError(
            f"{f.path}: expected an index for the base year FY {BASELINE_FY} (real terms are stated in its "
            f"prices); found only {', '.join(str(y) for y in sorted(seen))}"
        )

    f = SeedFile(directory / SEED_FILES["programme_cost_centre"],
                  ("force_code", "cost_centre", "cost_centre_name", "programme"))
    centres, seen = [], {}
    for line, row in f.rows():
        # valid_from_fy / valid_to_fy: optional columns (a file without them lists open-ended rows)
        low = f.fiscal_year(line, row, "valid_from_fy") if row.get("valid_from_fy") else None
        high = f.fiscal_year(line, row, "valid_to_fy") if row.get("valid_to_fy") else None
        if low is not None and high is not None and high < low:
            raise f.fail(line, "valid_to_fy", f"a fiscal year not before valid_from_fy {low}", row["valid_to_fy"])
        record = {
            "force_code": f.text(line, row, "force_code", force_codes),
            "cost_centre": f.text(line, row, "cost_centre"),
            "cost_centre_name": f.text(line, row, "cost_centre_name"),
            "programme": f.text(line, row, "programme"),
            "valid_from_fy": low,
            "valid_to_fy": high,
        }
        key = (record["force_code"], record["cost_centre"])
        if key in seen:
            raise f.fail(line, "cost_centre", f"each cost centre once (line {seen[key]} already lists it)",
                         record["cost_centre"])
        seen[key] = line
        centres.append(record)

    return FinanceSeeds(savings_target=targets, sharing_key=keys, deflator=deflators,
                        programme_cost_centre=centres, programme_lines=seen)


def load_finance_seeds(conn: sa.Connection, seeds_dir: Path | None = None) -> dict[str, int]:
    """Replace the finance tables' rows with the seed files' contents, in the caller's transaction.

    Validates every file first (against the forces and, for budgets, the objectives and subjectives
    in the warehouse), so a bad edit changes nothing. Budgets (:mod:`.budgets`) are replaced like the
    four tables; period closes (:mod:`.closes`) are appended when not yet recorded. Returns the number
    of rows per table (for ``period_close_event``, the events added). Running it twice gives the same
    tables.
    """
    force_codes = {r[0] for r in conn.execute(sa.text("SELECT force_code FROM dim_force"))}
    seeds = read_finance_seeds(seeds_dir, force_codes=force_codes or None)
    directory = Path(seeds_dir or SEEDS_DIR)
    force_codes = force_codes or set(configured_force_codes())
    objectives = dict(conn.execute(sa.text("SELECT objective_code, alliance_scope FROM dim_objective")).all())
    subjectives = dict(conn.execute(sa.text("SELECT subjective_code, kind FROM dim_subjective")).all())
    budget_rows = budgets.read_budgets(directory, force_codes=force_codes, objectives=objectives or None,
                                       subjectives=subjectives or None)
    close_events = closes.read_period_closes(directory, force_codes)
    check_programme_cost_centres(conn, seeds, directory / SEED_FILES["programme_cost_centre"])
    counts = {}
    for table in SEED_FILES:
        rows = getattr(seeds, table)
        conn.execute(sa.text(f"DELETE FROM {table}"))
        if rows:
            columns = list(rows[0])
            conn.execute(
                sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"),
                rows,
            )
        counts[table] = len(rows)
    counts["budget"] = budgets.replace_budgets(conn, budget_rows)
    # events are appended, never replaced: a row gone from the file leaves its event (docs/finance.md)
    counts["period_close_event"] = closes.add_seed_closes(conn, close_events)
    return counts


def check_programme_cost_centres(conn: sa.Connection, seeds: FinanceSeeds, path: Path) -> None:
    """Each programme cost centre against the force's cost-centre map (reference files + finance's
    mapping decisions) for its years; :class:`FinanceSeedError` naming the file line and the reason.

    Refused: a cost centre the map gives no objective in any year of the row's range (unknown, a
    typo, or mapped only in other years), and one with ledger lines in suspense (no objective) in a
    year of its range: finance records the mapping first (``alliance-finance mapping import``).
    """
    maps: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for force, cc, low, high in conn.execute(sa.text(
            "SELECT force_code, cost_centre, valid_from_fy, valid_to_fy FROM map_cost_centre")):
        maps.setdefault((force, cc), []).append(_span(low, high))
    suspense: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for force, cc, fy, pence in conn.execute(sa.text(
            "SELECT force_code, local_code, fiscal_year, amount_pence FROM v_unmapped_code_years "
            "WHERE code_type = 'cost_centre'")):
        suspense.setdefault((force, cc), []).append((int(fy), int(pence)))
    for r in seeds.programme_cost_centre:
        key = (r["force_code"], r["cost_centre"])
        low, high = _span(r["valid_from_fy"], r["valid_to_fy"])
        where = f"{path} line {seeds.programme_lines.get(key, '?')}, column cost_centre"
        what = f"{r['force_code']} cost centre {r['cost_centre']}"
        spans = maps.get(key, [])
        if not spans:
            raise FinanceSeedError(
                f"{where}: {what} is not in the force's cost-centre map (its reference file and finance's mapping "
                "decisions): a typo, or a code finance has not mapped yet (alliance-finance mapping export, then "
                "mapping import)")
        if not any(a <= high and low <= b for a, b in spans):
            raise FinanceSeedError(
                f"{where}: {what} has no objective in the cost-centre map in any year of {_years(low, high)} "
                f"(mapped for {', '.join(_years(a, b) for a, b in sorted(spans))})")
        for fy, pence in sorted(suspense.get(key, [])):
            if low <= fy <= high:
                raise FinanceSeedError(
                    f"{where}: {what} has {format_gbp(pence, pence_shown=True)} of ledger lines in suspense in FY {fy} "
                    "(no objective for that year): record finance's mapping first (alliance-finance mapping import)")


def _span(low: int | None, high: int | None) -> tuple[int, int]:
    return (-1 if low is None else int(low), 9999 if high is None else int(high))


def _years(low: int, high: int) -> str:
    return f"FY {'open' if low == -1 else low}-{'open' if high == 9999 else high}"


# ---------------------------------------------------------------------------------------------
# Keeping the finance tables (created by revision 0002) in step with seeds/
# ---------------------------------------------------------------------------------------------


def seeds_digest(seeds_dir: Path | None = None) -> str:
    """SHA-256 over the seed files: a change means the finance tables need reloading."""
    directory = Path(seeds_dir or SEEDS_DIR)
    digest = hashlib.sha256()
    for name in sorted([*SEED_FILES.values(), *budgets.BUDGET_FILES, closes.CLOSES_FILE]):
        path = directory / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"(missing)")
        digest.update(b"\0")
    return digest.hexdigest()


def sync_finance_seeds(conn: sa.Connection, seeds_dir: Path | None = None) -> bool:
    """Reload the finance tables when the seed files changed since the last load; True if reloaded.

    Meant for the start of every pipeline run (in its transaction), so finance's edits reach the
    views by the next night without anyone touching the database. The digest of the files loaded is
    kept in ``warehouse_meta`` under ``finance_seeds_digest``.
    """
    digest = seeds_digest(seeds_dir)
    if meta.get_meta(conn, FINANCE_SEEDS_DIGEST) == digest:
        return False
    load_finance_seeds(conn, seeds_dir)
    # the version replaced is kept, with when it was current (warehouse/history.py)
    history.record(conn, "finance", reason=f"finance's seed files changed (digest {digest[:12]})")
    meta.set_meta(conn, FINANCE_SEEDS_DIGEST, digest)
    return True
