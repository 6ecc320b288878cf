"""Budgets as data: finance's approved revenue budget per force, fiscal year, objective and subjective.

From ``seeds/budgets.csv`` or ``seeds/budgets.xlsx`` (first sheet), the same columns either way::

    force_code,fiscal_year,objective_code,subjective_code,budget,p01,p02,...,p12

Money in pounds with up to two decimals, the ledger's sign (spending positive, income negative). The
twelve profile columns are all given (they must add up to the budget) or all blank (the default
profile applies: the baseline's own monthly shape, ``v_budget_profile``). :func:`read_budgets`
validates the whole file, naming the file, the line (CSV) or sheet row (XLSX) and the reason;
:func:`replace_budgets` replaces tables ``budget`` and ``budget_profile`` with it in the caller's
transaction (with the other seeds, :func:`.seeds.load_finance_seeds`), so a bad file changes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import sqlalchemy as sa

from alliance_finance.config.reference import load_reference
from alliance_finance.core.fiscal import BASELINE_FY
from alliance_finance.warehouse import meta
from alliance_finance.marts.seedfile import FinanceSeedError, SeedFile, XlsxSeedFile

BUDGET_FILES = ("budgets.csv", "budgets.xlsx")
PERIOD_COLUMNS = tuple(f"p{p:02d}" for p in range(1, 13))
BUDGET_COLUMNS = ("force_code", "fiscal_year", "objective_code", "subjective_code", "budget", *PERIOD_COLUMNS)
#: the largest budget a row may carry, in pence (£1bn): keeps the default profile's integer
#: arithmetic within 64 bits on SQLite (v_budget_profile)
MAX_BUDGET_PENCE = 100_000_000_000
#: subjective kinds a revenue budget may be set on
BUDGET_KINDS = ("expenditure", "income")


@dataclasses.dataclass(frozen=True)
class Budgets:
    """Validated rows: ``budget`` (annual pence) and ``budget_profile`` (the profiles given, long format)."""

    budget: list[dict]
    budget_profile: list[dict]


def budget_file(seeds_dir: Path) -> SeedFile | None:
    """The budget file of a seeds folder (CSV or XLSX), None when there is neither; both is refused."""
    present = [Path(seeds_dir) / name for name in BUDGET_FILES if (Path(seeds_dir) / name).exists()]
    if len(present) > 1:
        raise FinanceSeedError(f"{present[0]} and {present[1]}: both present; finance's budgets must be in one "
                               "of them (remove the other)")
    if not present:
        return None
    kind = XlsxSeedFile if present[0].suffix == ".xlsx" else SeedFile
    return kind(present[0], BUDGET_COLUMNS)


def read_budgets(seeds_dir: Path, *, force_codes: set[str], objectives: dict[str, str] | None = None,
                 subjectives: dict[str, str] | None = None) -> Budgets:
    """Read and validate the budget file (none: no budgets).

    ``objectives`` maps each objective code to its alliance scope and ``subjectives`` each subjective
    code to its kind, as the warehouse's dimensions hold them (default: the common chart in
    ``reference/``). Refused, naming the file, row and column: an unknown force, objective or
    subjective; a balance-sheet, partner or suspense code; malformed money or a budget beyond
    £1,000,000,000.00; a profile partly filled or not adding up to the budget; the same force, year,
    objective and subjective twice.
    """
    f = budget_file(seeds_dir)
    if f is None:
        return Budgets([], [])
    if objectives is None or subjectives is None:
        ref = load_reference()
        objectives = objectives or {o["objective_code"]: o["alliance_scope"] for o in ref.objectives}
        subjectives = subjectives or {s["subjective_code"]: s["kind"] for s in ref.subjectives}
    budgets, profiles, seen = [], [], {}
    for line, row in f.rows():
        record = {
            "force_code": f.text(line, row, "force_code", force_codes),
            "fiscal_year": f.fiscal_year(line, row, "fiscal_year"),
            "objective_code": _objective(f, line, row, objectives),
            "subjective_code": _subjective(f, line, row, subjectives),
            "budget_pence": _money(f, line, row, "budget"),
        }
        key = (record["force_code"], record["fiscal_year"], record["objective_code"], record["subjective_code"])
        if key in seen:
            raise f.fail(line, "subjective_code", f"one budget per force, fiscal year, objective and subjective "
                         f"({f.where} {seen[key]} already sets {' '.join(map(str, key))})", row["subjective_code"])
        seen[key] = line
        filled = [c for c in PERIOD_COLUMNS if row[c]]
        if filled and len(filled) < len(PERIOD_COLUMNS):
            blank = [c for c in PERIOD_COLUMNS if not row[c]]
            raise f.fail(line, blank[0], "all twelve profile columns p01-p12 filled, or all blank for the "
                         f"default profile (blank: {', '.join(blank)})", row[blank[0]])
        record["profile_given"] = 1 if filled else 0
        if filled:
            amounts = [_money(f, line, row, c) for c in PERIOD_COLUMNS]
            if sum(amounts) != record["budget_pence"]:
                raise f.fail(line, "p12", f"a profile adding up to the budget {_pounds(record['budget_pence'])}",
                             f"p01-p12 add up to {_pounds(sum(amounts))}")
            profiles += [{**{k: record[k] for k in ("force_code", "fiscal_year", "objective_code", "subjective_code")},
                          "period": period, "amount_pence": pence}
                         for period, pence in enumerate(amounts, start=1)]
        budgets.append(record)
    return Budgets(budgets, profiles)


def replace_budgets(conn: sa.Connection, budgets: Budgets) -> int:
    """Replace ``budget`` and ``budget_profile`` with ``budgets`` (caller's transaction); returns budgets."""
    conn.exec_driver_sql("DELETE FROM budget_profile")
    conn.exec_driver_sql("DELETE FROM budget")
    for table, rows in (("budget", budgets.budget), ("budget_profile", budgets.budget_profile)):
        if rows:
            columns = list(rows[0])
            conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) "
                                 f"VALUES ({', '.join(':' + c for c in columns)})"), rows)
    return len(budgets.budget)


def _objective(f: SeedFile, line: int, row: dict[str, str], objectives: dict[str, str]) -> str:
    code = row["objective_code"]
    scope = objectives.get(code)
    if scope is None or scope in ("none", "unmapped"):
        why = ("an objective code of the common chart (reference/common_objectives.csv)" if scope is None
               else "a revenue objective (not the balance sheet or suspense)")
        raise f.fail(line, "objective_code", why, code)
    return code


def _subjective(f: SeedFile, line: int, row: dict[str, str], subjectives: dict[str, str]) -> str:
    code = row["subjective_code"]
    kind = subjectives.get(code)
    if kind not in BUDGET_KINDS:
        why = ("a subjective code of the common chart (reference/common_subjectives.csv)" if kind is None
               else f"a revenue subjective (expenditure or income), not a {kind.replace('_', '-')} one")
        raise f.fail(line, "subjective_code", why, code)
    return code


def _money(f: SeedFile, line: int, row: dict[str, str], column: str) -> int:
    if not row[column]:
        raise f.fail(line, column, "an amount in pounds", "")
    pence = f.scaled(line, row, column, 2, signed=True)
    if abs(pence) > MAX_BUDGET_PENCE:
        raise f.fail(line, column, f"an amount within ±{_pounds(MAX_BUDGET_PENCE)}", row[column])
    return pence


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


#: ``warehouse_meta`` key: the digest of what budget_summary was last computed from
BUDGET_SUMMARY_DIGEST = "budget_summary_digest"

_INPUTS = (
    # the budgets, the mapping of objectives to functions and scopes, and the baseline year's ledger
    "SELECT 'b', COUNT(*), COALESCE(SUM(budget_pence), 0), COALESCE(SUM(profile_given), 0) FROM budget "
    "UNION ALL SELECT 'p', COUNT(*), COALESCE(SUM(amount_pence), 0), COALESCE(SUM(period * amount_pence % 1000003), 0) "
    "FROM budget_profile "
    "UNION ALL SELECT 'l', COUNT(*), COALESCE(SUM(amount_pence), 0), COALESCE(SUM(period * amount_pence % 1000003), 0) "
    "FROM ledger_summary WHERE fiscal_year = :baseline"
)


def refresh_budget_summary(conn: sa.Connection, *, force: bool = False) -> bool:
    """Recompute ``budget_summary`` from ``v_budget_profile`` when its inputs changed (caller's
    transaction); returns whether it did. A night that changed no budget, no reference data and no
    baseline line reads a few summary rows and does nothing."""
    reference = meta.get_meta(conn, meta.REFERENCE_DIGEST) or ""
    rows = conn.execute(sa.text(_INPUTS), {"baseline": BASELINE_FY}).all()
    digest = hashlib.sha256((reference + repr(sorted(tuple(r) for r in rows))).encode()).hexdigest()
    if not force and meta.get_meta(conn, BUDGET_SUMMARY_DIGEST) == digest:
        return False
    fill_budget_summary(conn)
    meta.set_meta(conn, BUDGET_SUMMARY_DIGEST, digest)
    return True


def fill_budget_summary(conn: sa.Connection) -> None:
    """Recompute ``budget_summary`` from ``v_budget_profile`` (caller's transaction), unconditionally."""
    conn.exec_driver_sql("DELETE FROM budget_summary")
    conn.exec_driver_sql(
        "INSERT INTO budget_summary (force_code, fiscal_year, function_code, alliance_scope, period, amount_pence) "
        "SELECT p.force_code, p.fiscal_year, o.function_code, o.alliance_scope, p.period, "
        "CAST(SUM(p.amount_pence) AS bigint) FROM v_budget_profile AS p "
        "JOIN dim_objective AS o ON o.objective_code = p.objective_code "
        "GROUP BY p.force_code, p.fiscal_year, o.function_code, o.alliance_scope, p.period")
