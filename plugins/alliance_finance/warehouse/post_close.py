"""Post-close adjustments: a batch's money posted into periods already closed when it loaded.

CHART.md: "A line posted into a period after finance recorded it closed is still ledger: it is loaded
and shown as a post-close adjustment, so a figure reported for a closed period never moves silently."
The loader asks :func:`closed_periods` how the force's periods stand *before* the batch (its own
postings close nothing for itself: they are in the same delivery), and after inserting the batch's
lines :func:`record` writes, in the same transaction, one ``post_close_adjustment`` row per closed
period the batch touched: its net pence and line count, and how the period stood (``recorded`` by
finance on ``closed_on``, or ``inferred`` from the ledger). A superseded delivery's rows stay, like its
lines (:mod:`.history`): ``v_post_close_adjustments`` shows those of loaded batches only.
"""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa
import sqlalchemy as sa

#: (fiscal year, period) -> (basis, closed_on) of the force's closed periods
ClosedPeriods = dict[tuple[int, int], tuple[str, object]]


def closed_periods(conn: sa.Connection, force_code: str, fiscal_years: Sequence[int] | None = None) -> ClosedPeriods:
    """The force's periods closed now (v_period_status): recorded or inferred; only those of
    ``fiscal_years`` when given (the years a batch posts into: the others cannot take its lines)."""
    query = "SELECT fiscal_year, period, basis, closed_on FROM v_period_status WHERE force_code = :force AND closed = 1"
    params: dict = {"force": force_code}
    statement = sa.text(query)
    if fiscal_years is not None:
        if not fiscal_years:
            return {}
        statement = sa.text(query + " AND fiscal_year IN :years").bindparams(sa.bindparam("years", expanding=True))
        params["years"] = sorted({int(year) for year in fiscal_years})
    rows = conn.execute(statement, params)
    return {(int(r.fiscal_year), int(r.period)): (r.basis, r.closed_on) for r in rows}


def record(conn: sa.Connection, batch_id: int, force_code: str, lines: pa.Table, closed: ClosedPeriods) -> int:
    """Write the batch's post-close adjustments; returns how many closed periods it posted into."""
    if not closed or lines.num_rows == 0:
        return 0
    sums = lines.group_by(["fiscal_year", "period"]).aggregate([("amount_pence", "sum"), ("amount_pence", "count")])
    rows = []
    for fiscal_year, period, pence, count in zip(*(sums.column(n).to_pylist() for n in (
            "fiscal_year", "period", "amount_pence_sum", "amount_pence_count"))):
        state = closed.get((int(fiscal_year), int(period)))
        if state is not None:
            rows.append({"batch_id": batch_id, "force": force_code, "fy": fiscal_year, "period": period,
                         "basis": state[0], "closed_on": state[1], "pence": int(pence), "count": int(count)})
    if rows:
        conn.execute(sa.text(
            "INSERT INTO post_close_adjustment (batch_id, force_code, fiscal_year, period, basis, closed_on, "
            "amount_pence, line_count) VALUES (:batch_id, :force, :fy, :period, :basis, :closed_on, :pence, :count)"),
            rows)
    return len(rows)
