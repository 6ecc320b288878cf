"""The board's figures: the finance views read in one snapshot, money exact throughout.

The views in ``sql/views/`` (``v_nre_line``, ``v_consolidated_spend``, ``v_savings_tracker``,
``v_local_policing``, ``v_cost_share``, ``v_settlement``, ``v_intra_alliance_reconciliation``, ``v_ledger_freshness``,
``v_unmapped_codes``) are the one statement of every rule; :func:`read_view` and
:func:`read_board_figures` only read them, turning each money column into an exact
:class:`~decimal.Decimal` from its integer twin (``amount`` from ``amount_pence``), so a figure is the
same to the penny on PostgreSQL and SQLite. Finance's own data, which the views join, is
:mod:`.seeds`. docs/finance.md explains every figure, its SQL and its rounding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from alliance_finance.marts import as_of as as_of_module

# ALL_FORCES (the rows standing for every force together) and BASELINE_FY are re-exported for the report
from alliance_finance.config.forces import ALL_FORCES  # noqa: F401
from alliance_finance.core.fiscal import BASELINE_FY  # noqa: F401
from alliance_finance.marts.drill_lines import SummaryRows, load_summaries

#: Integer columns that carry an exact decimal, by suffix, with the decimal places they hold. The
#: view's decimal column of the same name without the suffix is rebuilt from them.
_SCALED_SUFFIXES = {"_pence": 2, "_hundredths": 2, "_ten_thousandths": 4, "_ppm": 6}
#: Decimal columns whose integer twin does not share their name's stem.
_DECIMAL_TWINS = {"key_share": "key_ppm"}


def _as_date(value: Any) -> Any:
    """ISO text (SQLite) -> date/datetime, so both dialects give the same Python values."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def exact_row(row: dict[str, Any]) -> dict[str, Any]:
    """One view row with exact values: each integer twin as ``int``, each decimal column rebuilt from it.

    ``amount`` comes from ``amount_pence``, ``key_weight`` from ``key_weight_hundredths``,
    ``deflator_index`` from ``deflator_index_ten_thousandths``, ``key_share`` from ``key_ppm``: exact
    :class:`Decimal` values, whatever the dialect returned (PostgreSQL numeric, SQLite text).
    """
    return _row_converter(tuple(row))(tuple(row.values()))


def _row_converter(columns: tuple[str, ...]):
    """What :func:`exact_row` does to a row of ``columns``, worked out once for the columns: a function
    from the row's values (in column order) to the exact row."""
    integers, decimals, dates = [], [], []
    position = {c: i for i, c in enumerate(columns)}
    for i, column in enumerate(columns):
        for suffix, places in _SCALED_SUFFIXES.items():
            if column.endswith(suffix):
                integers.append(i)
                stem = column[: -len(suffix)]
                for twin in [stem] + [d for d, t in _DECIMAL_TWINS.items() if t == column]:
                    if twin in position:
                        decimals.append((position[twin], i, -places))
                break
    for i, column in enumerate(columns):
        if column.endswith(("_date", "_at")):
            dates.append(i)

    def convert(values: tuple) -> dict[str, Any]:
        out = list(values)
        for i in integers:
            if out[i] is not None:
                out[i] = int(out[i])
        for d, i, exponent in decimals:
            units = out[i]
            out[d] = None if units is None else Decimal(units).scaleb(exponent)
        for i in dates:
            out[i] = _as_date(out[i])
        return dict(zip(columns, out))

    return convert


def row_converter(columns: tuple[str, ...]):
    """:func:`exact_row` for rows of these columns, worked out once: values (in column order) -> exact row."""
    return _row_converter(columns)


def read_view(conn: sa.Connection, relation: str, order_by: str) -> list[dict[str, Any]]:
    """Every row of a view (or table), ordered, with exact money (see :func:`exact_row`)."""
    result = conn.execute(sa.text(f"SELECT * FROM {relation} ORDER BY {order_by}"))
    convert = _row_converter(tuple(result.keys()))
    return [convert(values) for values in result]


#: What the report and the workbook read, in the order they show it: view -> ORDER BY.
REPORT_VIEWS = {
    "v_savings_tracker": "fiscal_year, CASE force_code WHEN 'ALL' THEN 1 ELSE 0 END, force_code, alliance_scope",
    "v_local_policing": "fiscal_year, CASE force_code WHEN 'ALL' THEN 1 ELSE 0 END, force_code",
    "v_cost_share": "fiscal_year, force_code",
    # the sharing statement carried forward across years: what is owed to date after every payment
    "v_settlement": "fiscal_year, force_code",
    # a flow whose other side is unknown (NULL) after the pairs, the same on both dialects
    "v_intra_alliance_reconciliation": "fiscal_year, COALESCE(payer_force, '~'), COALESCE(payee_force, '~')",
    "v_consolidated_spend": "fiscal_year, period, force_code, function_code, objective_code, subjective_code",
    "v_ledger_freshness": "force_code",
    "v_unmapped_codes": "force_code, code_type, local_code",
    # in-year (CHART.md): how far each year runs, budget against outturn, savings shared, late money
    "v_fiscal_year_status": "fiscal_year, CASE force_code WHEN 'ALL' THEN 1 ELSE 0 END, force_code",
    "v_budget_vs_outturn": "fiscal_year, CASE force_code WHEN 'ALL' THEN 1 ELSE 0 END, force_code, function_code",
    "v_savings_share": "fiscal_year, force_code",
    "v_post_close_adjustments": "force_code, fiscal_year, period, batch_id",
}


@dataclasses.dataclass
class BoardFigures:
    """Everything the board report shows, read in one snapshot of the warehouse."""

    #: view name -> its rows (exact_row), as REPORT_VIEWS orders them
    views: dict[str, list[dict[str, Any]]]
    #: NRE by fiscal year, force and function, to the period the year runs to (v_fiscal_year_status):
    #: (fiscal_year, force_code, function_code) -> pence
    nre_by_function: dict[tuple[int, str, str], int]
    #: function_code -> function_name (UNMAPPED included)
    function_names: dict[str, str]
    #: rejected batches, newest first: force_code, source_ref, business_date, error
    rejected_batches: list[dict[str, Any]]
    #: force_code -> force_name, every force of the warehouse (dim_force), by code
    force_names: dict[str, str]
    #: savings_target rows (fiscal_year, force_code, alliance_scope, target_pence, note): the trajectory
    targets: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: the board pack these figures are recorded as (:class:`.packs.PackStamp`), shown by the report;
    #: not a figure, so two readings compare equal whatever pack they were recorded as
    pack: Any = dataclasses.field(default=None, compare=False)
    #: the summaries the workbook's drill-down sheet counts each figure's lines from (drill_lines);
    #: not a figure (and a cache fills as the sheet is worked out)
    drill_summaries: SummaryRows | None = dataclasses.field(default=None, compare=False)

    @property
    def has_ledger(self) -> bool:
        """Whether any ledger line is loaded yet."""
        return any(r["lines_loaded"] for r in self.views.get("v_ledger_freshness", []))

    def savings(self, force_code: str, alliance_scope: str = "alliance") -> list[dict[str, Any]]:
        """v_savings_tracker rows of one force (or ALL) and scope, by fiscal year."""
        return [r for r in self.views["v_savings_tracker"]
                if r["force_code"] == force_code and r["alliance_scope"] == alliance_scope]

    def fiscal_years(self) -> list[int]:
        """The fiscal years with ledger in the warehouse."""
        return sorted({r["fiscal_year"] for r in self.views["v_savings_tracker"]})

    def through_period(self, fiscal_year: int, force_code: str = ALL_FORCES) -> int:
        """How far the year's figures run for a force or ALL (v_fiscal_year_status): 1-12, 16 when the
        year is complete, 0 when nothing of it is closed (or it has no ledger)."""
        for r in self.views.get("v_fiscal_year_status", []):
            if r["fiscal_year"] == fiscal_year and r["force_code"] == force_code:
                return int(r["through_period"])
        return 0

    def year_complete(self, fiscal_year: int) -> bool:
        """Whether the year is complete for every force together: period 12 closed (CHART.md)."""
        return self.through_period(fiscal_year) == 16

    def headline_year(self) -> int | None:
        """The year the headline reports: the latest year every force has ledger in (the current one,
        to date when it is not complete), else None."""
        years = [r["fiscal_year"] for r in self.savings(ALL_FORCES)]
        return max(years) if years else None

    def ledger_complete_to(self) -> dt.date | None:
        """The day the ledger is complete to: the earliest of the forces' latest posting dates."""
        days = [_day(r["last_posting_date"]) for r in self.views.get("v_ledger_freshness", [])]
        return min(days) if days and None not in days else None

    def report_year(self) -> int | None:
        """The year the breakdowns show: the headline year, else (no year every force has delivered,
        e.g. the first night) the latest year any force has net revenue expenditure in; None without any."""
        headline = self.headline_year()
        if headline is not None:
            return headline
        years = {fy for (fy, _, _) in self.nre_by_function}
        return max(years) if years else None

    def forces_without_ledger(self) -> list[str]:
        """The codes of the forces in the warehouse with no ledger line loaded yet, by code."""
        return [r["force_code"] for r in self.views.get("v_ledger_freshness", []) if not r["lines_loaded"]]


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def read_board_figures(engine: sa.Engine, as_of: dt.datetime | None = None) -> BoardFigures:
    """Read every figure of the board report from the warehouse, in one consistent snapshot: as it
    stands, or as it stood at the moment ``as_of`` (UTC; :mod:`.as_of`)."""
    with as_of_module.connection_as_of(engine, as_of) as conn:
        return read_figures(conn)


def read_figures(conn: sa.Connection) -> BoardFigures:
    """Every figure of the board report, read on ``conn`` (in its transaction)."""
    views = {name: read_view(conn, name, order) for name, order in REPORT_VIEWS.items()}
    nre_by_function = {
        (int(r.fiscal_year), r.force_code, r.function_code): int(r.nre_pence)
        for r in conn.execute(sa.text(
            # v_nre_line's lines as nre_summary keeps them summed (never a scan of the lines), to the
            # period the year runs to for every force together (else the force's own): like with like
            "SELECT n.fiscal_year, n.force_code, n.function_code, CAST(SUM(n.amount_pence) AS bigint) AS nre_pence "
            "FROM nre_summary AS n "
            "LEFT JOIN v_fiscal_year_status AS a ON a.fiscal_year = n.fiscal_year AND a.force_code = 'ALL' "
            # every force together only where every force has ledger that year (the first nights
            # of a force show its own lines to its own closed period)
            "AND (SELECT COUNT(*) FROM force_year_summary AS y WHERE y.fiscal_year = n.fiscal_year) "
            "= (SELECT COUNT(*) FROM dim_force) "
            "LEFT JOIN v_fiscal_year_status AS f ON f.fiscal_year = n.fiscal_year AND f.force_code = n.force_code "
            "WHERE n.period <= COALESCE(a.through_period, f.through_period, 16) "
            "GROUP BY n.fiscal_year, n.force_code, n.function_code"
        ))
    }
    function_names = {
        r.function_code: r.function_name
        for r in conn.execute(sa.text(
            "SELECT DISTINCT function_code, function_name FROM dim_objective ORDER BY function_code"))
    }
    rejected = [
        exact_row(dict(r._mapping))
        for r in conn.execute(sa.text(
            "SELECT force_code, source_ref, business_date, finished_at, error FROM etl_batch "
            "WHERE status = 'rejected' ORDER BY batch_id DESC"
        ))
    ]
    force_names = {r.force_code: r.force_name
                   for r in conn.execute(sa.text("SELECT force_code, force_name FROM dim_force ORDER BY force_code"))}
    targets = read_view(conn, "savings_target", "force_code, alliance_scope, fiscal_year")
    drill_summaries = load_summaries(conn)
    return BoardFigures(views=views, nre_by_function=nre_by_function, function_names=function_names,
                        rejected_batches=rejected, force_names=force_names, targets=targets,
                        drill_summaries=drill_summaries)
