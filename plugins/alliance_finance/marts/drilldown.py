"""Drill-down: from any figure of the finance views to the ledger lines behind it (issue #16).

A figure is named by a :class:`FigureSpec`: the view, the measure (a column) and the key of its row
(``fiscal_year``, ``force_code`` including ``ALL``, ``alliance_scope``, ``function_code``...).
:data:`VIEWS` says, for each view and measure, which lines make it, following the view's own rule
(docs/finance.md): one or more parts (:class:`~.drill_lines.Part`), each a filter on the lines and
a sign, so that the signed sum of the lines is the figure exactly. Savings = baseline NRE - NRE: the
baseline's lines with sign +1, the year's with -1; a year to date runs to the row's own
``through_period``; an ``ALL`` row takes every force's lines; a forecast by budget is the lines to
date and the budget's months still to come (``v_budget_profile``, whose rows stand in for lines, with
no source line). A figure that is not such a sum (a target, a key, a fair share rounded by key, a
real-terms figure, a forecast by run rate) is refused, with the reason.

:func:`drill` reads the figure from its view and returns its parts; :func:`iter_lines` streams the
lines (:data:`~.drill_lines.LINE_COLUMNS`: where each came from and the map rows that coded it).
Both take an open connection and name relations unqualified (``--as-of`` shadows them), and create
no engine. ``tests/test_drilldown.py`` holds every figure of every view equal to its lines' sum.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from alliance_finance.config.forces import ALL_FORCES
from alliance_finance.core.fiscal import BASELINE_FY
from alliance_finance.marts.drill_lines import BUDGET, LEDGER, LINE_COLUMNS, NRE, PARTNER, LineFilter, Part, lines_sql
from alliance_finance.marts.figures import exact_row, row_converter


class DrilldownRefused(Exception):
    """The figure cannot be drilled into: no such view, measure or row, or it is no sum of lines.
    ``usage`` is True when the request itself is wrong (an unknown view or measure, a key missing)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    """A figure: a view's measure on the row with this key (column -> value; None for a NULL key)."""

    view: str
    measure: str
    key: dict[str, Any]

    def describe(self) -> str:
        where = ", ".join(f"{k} {'(none)' if v is None else v}" for k, v in self.key.items())
        return f"{self.view}.{self.measure} [{where}]"


@dataclasses.dataclass
class Drilldown:
    """A figure read from its view, and the parts whose lines make it."""

    spec: FigureSpec
    #: the view's row, exact (figures.exact_row)
    row: dict[str, Any]
    #: the figure in pence, as the view shows it
    figure_pence: int
    parts: list[Part]


def iter_lines(conn: sa.Connection, drilldown: Drilldown, batch_rows: int = 5000) -> Iterator[dict[str, Any]]:
    """Every line behind the figure, exact: ``amount`` and ``signed_amount`` as Decimal pounds."""
    sql, params = lines_sql(drilldown.parts)
    # streamed (a server-side cursor on PostgreSQL) for this statement only: the caller's connection keeps its options
    result = conn.execute(sa.text(sql).execution_options(stream_results=True), params)
    convert = row_converter(tuple(result.keys()))
    while chunk := result.fetchmany(batch_rows):
        for values in chunk:
            row = convert(values)
            row["amount"] = Decimal(row["amount_pence"]).scaleb(-2)
            row["signed_amount"] = Decimal(row["signed_amount_pence"]).scaleb(-2)
            yield {c: row.get(c) for c in LINE_COLUMNS}


def drill(conn: sa.Connection, spec: FigureSpec) -> Drilldown:
    """The figure ``spec`` names, read from its view, and the parts whose lines make it; raises
    :class:`DrilldownRefused` naming the row and the reason when there is none to drill into."""
    drillable = VIEWS.get(spec.view)
    if drillable is None:
        raise DrilldownRefused(f"no drill-down for view {spec.view!r}: one of {', '.join(VIEWS)}", usage=True)
    missing = [k for k in drillable.keys if k not in spec.key]
    if missing:
        raise DrilldownRefused(f"{spec.view}'s rows are named by {', '.join(KEY_OPTIONS.get(k, k) for k in drillable.keys)}: "
                               f"{', '.join(KEY_OPTIONS.get(m, m) for m in missing)} missing", usage=True)
    extra = [k for k in spec.key if k not in drillable.keys]
    if extra:
        raise DrilldownRefused(f"{spec.view}'s rows are named by {', '.join(KEY_OPTIONS.get(k, k) for k in drillable.keys)}, "
                               f"not by {', '.join(KEY_OPTIONS.get(k, k) for k in extra)}", usage=True)
    if spec.measure not in drillable.measures:
        raise DrilldownRefused(
            f"{spec.view}.{spec.measure} is not a sum of ledger lines (or no column of the view): the measures "
            f"that are: {', '.join(drillable.measures)}", usage=True)
    key = {k: spec.key[k] for k in drillable.keys}
    spec = FigureSpec(spec.view, spec.measure, key)
    row = read_row(conn, spec.view, key)
    if row is None:
        raise DrilldownRefused(f"{spec.describe()}: {spec.view} has no such row")
    figure = figure_pence(row, spec.measure)
    if figure is None:
        raise DrilldownRefused(f"{spec.describe()}: the view shows no figure (NULL) there, so no lines make it")
    return Drilldown(spec=spec, row=row, figure_pence=int(figure), parts=figure_parts(spec, row))


def read_row(conn: sa.Connection, view: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The view's row with this key (exact), or None."""
    params: dict[str, Any] = {}
    where = []
    for i, (column, value) in enumerate(key.items()):
        if value is None:
            where.append(f"{column} IS NULL")
        else:
            params[f"k{i}"] = value
            where.append(f"{column} = :k{i}")
    rows = conn.execute(sa.text(f"SELECT * FROM {view} WHERE {' AND '.join(where)}"), params).mappings().all()
    if len(rows) > 1:
        raise DrilldownRefused(f"{view}: {len(rows)} rows with key {key}: name the row fully", usage=True)
    return exact_row(dict(rows[0])) if rows else None


# --- the views' rules -------------------------------------------------------------------------

#: a part's rule: (the figure's key, the view's row) -> its lines, or None when it has none
PartRule = Callable[[dict[str, Any], dict[str, Any]], "LineFilter | None"]
#: a measure: ((part, sign), ...), the parts' lines summed with these signs; or, when it depends on
#: the row (a forecast's method), row -> those parts, or the reason this row's figure is no such sum
Signed = tuple[tuple[str, int], ...]
Measure = Signed | Callable[[dict[str, Any]], "Signed | str"]


@dataclasses.dataclass(frozen=True)
class Drillable:
    """A view's drillable figures: its row key, its parts, and each measure as parts with signs."""

    keys: tuple[str, ...]
    parts: dict[str, PartRule]
    measures: dict[str, Measure]


def _forces(force_code: str | None) -> tuple[str, ...] | None:
    """A row's forces: None (every force of dim_force) for ALL."""
    return None if force_code == ALL_FORCES else (force_code,)


def _nre(fiscal_year: int, force_code: str, **conditions) -> LineFilter:
    return LineFilter(NRE, fiscal_year=fiscal_year, forces=_forces(force_code), **conditions)


def _forecast(outturn: Signed, budget: Signed) -> Callable[[dict[str, Any]], Signed | str]:
    """A forecast's parts by its method: the year's lines (outturn), or the lines to date and the
    budget's months still to come (budget); a run rate is a projection, no sum."""
    def parts(row: dict[str, Any]) -> Signed | str:
        method = row.get("forecast_method")
        if method == "outturn":
            return outturn
        if method == "budget":
            return budget
        return (f"the forecast is by {method or 'nothing (no period closed, no budget)'}: the lines to date "
                "scaled by the baseline's, a projection (its year to date is a sum of lines)")
    return parts


def _tracker_parts(scope: str | None) -> dict[str, PartRule]:
    def s(k: dict[str, Any]) -> str:
        return scope or k["alliance_scope"]
    return {
        "nre": lambda k, r: _nre(k["fiscal_year"], k["force_code"], alliance_scope=s(k)),
        "baseline_nre": lambda k, r: _nre(BASELINE_FY, k["force_code"], alliance_scope=s(k)),
        "ytd_nre": lambda k, r: _nre(k["fiscal_year"], k["force_code"], alliance_scope=s(k),
                                     through_period=r["through_period"]),
        "ytd_baseline_nre": lambda k, r: _nre(BASELINE_FY, k["force_code"], alliance_scope=s(k),
                                              through_period=r["through_period"]),
        "budget_rest": lambda k, r: LineFilter(BUDGET, fiscal_year=k["fiscal_year"], forces=_forces(k["force_code"]),
                                               alliance_scope=s(k), after_period=r["through_period"]),
    }


_SAVINGS = (("baseline_nre", 1), ("nre", -1))
_YTD_SAVINGS = (("ytd_baseline_nre", 1), ("ytd_nre", -1))
_CHANGE = (("nre", 1), ("baseline_nre", -1))
_BUDGET_FORECAST = (("ytd_nre", 1), ("budget_rest", 1))


def _partner(subjective: str, fiscal_year: int, force_code: str | None, partner: str | None,
             **conditions) -> LineFilter | None:
    """A force's partner flows on accounts naming ``partner`` (None: naming none); no force, no lines."""
    if force_code is None:
        return None
    return LineFilter(PARTNER, fiscal_year=fiscal_year, forces=(force_code,), subjective_code=subjective,
                      partner_force=partner, partner_known=None if partner else False, **conditions)


def _default_key(row: dict[str, Any]) -> Signed | str:
    if str(row.get("key_basis") or "").endswith("(default key)"):
        return (("key_weight", 1),)
    return f"the key is finance's ({row.get('key_basis')}), not the baseline's NRE"


def _budget(key: dict[str, Any], **periods) -> LineFilter:
    """The budget's months of a v_budget_vs_outturn row (its function; ALL: every force's)."""
    return LineFilter(BUDGET, fiscal_year=key["fiscal_year"], forces=_forces(key["force_code"]),
                      function_code=key["function_code"], **periods)


#: v_cost_share's programme parts of a force, any year: its incurred cost and the payments either way
_PROGRAMME: dict[str, Callable[[str], LineFilter]] = {
    "incurred": lambda force: LineFilter(NRE, forces=(force,), programme=True),
    "paid_to_partner": lambda force: LineFilter(PARTNER, forces=(force,), subjective_code="PART_PAY", programme=True,
                                                partner_known=True),
    "paid_by_partner": lambda force: LineFilter(PARTNER, subjective_code="PART_PAY", programme=True,
                                                partner_force=force),
}


def _year_or_to_date(rule: Callable[[str], LineFilter], to_date: bool) -> PartRule:
    """A programme part of the row's year, or (life to date) of every year up to it."""
    def part(k: dict[str, Any], r: dict[str, Any]) -> LineFilter:
        year = {"through_year" if to_date else "fiscal_year": k["fiscal_year"]}
        return dataclasses.replace(rule(k["force_code"]), **year)
    return part


VIEWS: dict[str, Drillable] = {
    "v_savings_tracker": Drillable(
        keys=("fiscal_year", "force_code", "alliance_scope"),
        parts=_tracker_parts(None),
        measures={"nre": (("nre", 1),), "baseline_nre": (("baseline_nre", 1),), "savings": _SAVINGS,
                  "ytd_nre": (("ytd_nre", 1),), "ytd_baseline_nre": (("ytd_baseline_nre", 1),),
                  "ytd_savings": _YTD_SAVINGS, "forecast_nre": _forecast((("nre", 1),), _BUDGET_FORECAST),
                  "forecast_savings": _forecast(_SAVINGS, (("baseline_nre", 1), ("ytd_nre", -1), ("budget_rest", -1)))}),
    "v_local_policing": Drillable(
        keys=("fiscal_year", "force_code"),
        parts=_tracker_parts("local"),
        measures={"nre": (("nre", 1),), "baseline_nre": (("baseline_nre", 1),), "change_from_baseline": _CHANGE,
                  "ytd_nre": (("ytd_nre", 1),), "ytd_baseline_nre": (("ytd_baseline_nre", 1),),
                  "ytd_change_from_baseline": (("ytd_nre", 1), ("ytd_baseline_nre", -1)),
                  "forecast_nre": _forecast((("nre", 1),), _BUDGET_FORECAST),
                  "forecast_change_from_baseline": _forecast(_CHANGE, _BUDGET_FORECAST + (("baseline_nre", -1),))}),
    "v_consolidated_spend": Drillable(
        keys=("fiscal_year", "period", "force_code", "objective_code", "subjective_code"),
        parts={"amount": lambda k, r: _nre(k["fiscal_year"], k["force_code"], period=k["period"],
                                           objective_code=k["objective_code"], subjective_code=k["subjective_code"])},
        measures={"amount": (("amount", 1),)}),
    "v_cost_share": Drillable(
        keys=("fiscal_year", "force_code"),
        parts={
            "incurred": lambda k, r: _nre(k["fiscal_year"], k["force_code"], programme=True),
            "programme_cost_total": lambda k, r: _nre(k["fiscal_year"], ALL_FORCES, programme=True),
            "paid_to_partner": lambda k, r: LineFilter(PARTNER, fiscal_year=k["fiscal_year"], forces=(k["force_code"],),
                                                       subjective_code="PART_PAY", programme=True, partner_known=True),
            "paid_by_partner": lambda k, r: LineFilter(PARTNER, fiscal_year=k["fiscal_year"], subjective_code="PART_PAY",
                                                       programme=True, partner_force=k["force_code"]),
            "key_weight": lambda k, r: _nre(BASELINE_FY, k["force_code"], alliance_scope="alliance"),
        },
        measures={"incurred": (("incurred", 1),), "programme_cost_total": (("programme_cost_total", 1),),
                  "paid_to_partner": (("paid_to_partner", 1),), "paid_by_partner": (("paid_by_partner", 1),),
                  "net_cost": (("incurred", 1), ("paid_to_partner", 1), ("paid_by_partner", -1)),
                  "key_weight": _default_key}),
    "v_settlement": Drillable(
        keys=("fiscal_year", "force_code"),
        parts={**{name: _year_or_to_date(rule, False) for name, rule in _PROGRAMME.items()},
               **{f"ltd_{name}": _year_or_to_date(rule, True) for name, rule in _PROGRAMME.items()}},
        measures={"incurred": (("incurred", 1),), "paid_to_partner": (("paid_to_partner", 1),),
                  "paid_by_partner": (("paid_by_partner", 1),),
                  "paid_net": (("paid_to_partner", 1), ("paid_by_partner", -1)),
                  "ltd_incurred": (("ltd_incurred", 1),), "ltd_paid_to_partner": (("ltd_paid_to_partner", 1),),
                  "ltd_paid_by_partner": (("ltd_paid_by_partner", 1),),
                  "ltd_net_cost": (("ltd_incurred", 1), ("ltd_paid_to_partner", 1), ("ltd_paid_by_partner", -1))}),
    "v_savings_share": Drillable(
        keys=("fiscal_year", "force_code"),
        parts={
            "ytd_baseline_nre": lambda k, r: _nre(BASELINE_FY, k["force_code"], alliance_scope="alliance",
                                                  through_period=r["through_period"]),
            "ytd_nre": lambda k, r: _nre(k["fiscal_year"], k["force_code"], alliance_scope="alliance",
                                         through_period=r["through_period"]),
            "alliance_ytd_baseline_nre": lambda k, r: _nre(BASELINE_FY, ALL_FORCES, alliance_scope="alliance",
                                                           through_period=r["through_period"]),
            "alliance_ytd_nre": lambda k, r: _nre(k["fiscal_year"], ALL_FORCES, alliance_scope="alliance",
                                                  through_period=r["through_period"]),
        },
        measures={"realised_savings": _YTD_SAVINGS,
                  "alliance_savings": (("alliance_ytd_baseline_nre", 1), ("alliance_ytd_nre", -1))}),
    "v_budget_vs_outturn": Drillable(
        keys=("fiscal_year", "force_code", "function_code"),
        parts={
            "actual_to_date": lambda k, r: _nre(k["fiscal_year"], k["force_code"], function_code=k["function_code"],
                                                through_period=r["through_period"]),
            "actual": lambda k, r: _nre(k["fiscal_year"], k["force_code"], function_code=k["function_code"]),
            "budget": lambda k, r: _budget(k),
            "budget_to_date": lambda k, r: _budget(k, through_period=r["through_period"]),
            "budget_rest": lambda k, r: _budget(k, after_period=r["through_period"]),
        },
        measures={"actual_to_date": (("actual_to_date", 1),), "budget": (("budget", 1),),
                  "budget_to_date": (("budget_to_date", 1),),
                  "variance_to_date": (("budget_to_date", 1), ("actual_to_date", -1)),
                  "forecast": _forecast((("actual", 1),), (("actual_to_date", 1), ("budget_rest", 1)))}),
    "v_intra_alliance_reconciliation": Drillable(
        keys=("fiscal_year", "payer_force", "payee_force"),
        parts={
            "paid": lambda k, r: _partner("PART_PAY", k["fiscal_year"], k["payer_force"], k["payee_force"]),
            # income is negative in the ledger: received is its amount with the sign reversed
            "received": lambda k, r: _partner("INC_PART", k["fiscal_year"], k["payee_force"], k["payer_force"]),
        },
        measures={"paid": (("paid", 1),), "received": (("received", -1),),
                  "mismatch": (("paid", 1), ("received", 1))}),
    "v_unmapped_codes": Drillable(
        keys=("force_code", "code_type", "local_code"),
        parts={"amount": lambda k, r: LineFilter(LEDGER, forces=(k["force_code"],),
                                                 unmapped=(k["code_type"], k["local_code"]))},
        measures={"amount": (("amount", 1),)}),
    "v_post_close_adjustments": Drillable(
        keys=("batch_id", "fiscal_year", "period"),
        parts={"amount": lambda k, r: LineFilter(LEDGER, fiscal_year=k["fiscal_year"], forces=(r["force_code"],),
                                                 period=k["period"], batch_id=k["batch_id"])},
        measures={"amount": (("amount", 1),)}),
    "v_ledger_freshness": Drillable(
        keys=("force_code",),
        parts={"suspense": lambda k, r: LineFilter(LEDGER, forces=(k["force_code"],), suspense=True)},
        measures={"suspense": (("suspense", 1),)}),
}


def figure_parts(spec: FigureSpec, row: dict[str, Any]) -> list[Part]:
    """The parts whose lines, signed, sum to the figure (refused when this row's figure is none)."""
    drillable = VIEWS[spec.view]
    signed = drillable.measures[spec.measure]
    if callable(signed):
        signed = signed(row)
    if isinstance(signed, str):
        raise DrilldownRefused(f"{spec.describe()}: not a sum of ledger lines: {signed}")
    parts = []
    for name, sign in signed:
        lines = drillable.parts[name](spec.key, row)
        if lines is not None:
            parts.append(Part(name, sign, lines))
    return parts


def figure_pence(row: dict[str, Any], measure: str) -> int | None:
    """The figure of a view's row in pence (its ``_pence`` twin; a default key weight's hundredths)."""
    for twin in (f"{measure}_pence", f"{measure}_hundredths"):
        if twin in row:
            return None if row[twin] is None else int(row[twin])
    return None


#: the command-line option of each key column (``alliance-finance explain``)
KEY_OPTIONS = {
    "fiscal_year": "--fiscal-year", "force_code": "--force", "alliance_scope": "--scope",
    "function_code": "--function", "objective_code": "--objective", "subjective_code": "--subjective",
    "period": "--period", "payer_force": "--payer", "payee_force": "--payee", "code_type": "--code-type",
    "local_code": "--code", "batch_id": "--batch",
}
#: how a NULL key (a partner not named, a line without cost centre) is written on the command line
NO_VALUE = "none"


def explain_command(spec: FigureSpec, out: str) -> str:
    """The ``alliance-finance explain`` command that writes this figure's lines to ``out``."""
    import shlex

    words = ["alliance-finance", "explain", "--view", spec.view, "--measure", spec.measure]
    for column, value in spec.key.items():
        words += [KEY_OPTIONS[column], NO_VALUE if value is None else str(value)]
    return " ".join(shlex.quote(w) for w in words + ["--out", out])
