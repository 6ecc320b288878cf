"""The tables the suites run over: many batches back to back, with the columns the suites expect.

Each suite runs once over a chunk of batches (:func:`chunks`, bounded by a row budget): the raw
tables of one format (:func:`raw_frame`), the conformed lines (:func:`conformed_frame`, with the
derived columns that express rules across columns or lines) and one control row per batch
(:func:`controls_frame`). A ``batch_index`` column and the returned offsets let the failing rows be
attributed back to their batches (``locate``). Everything here is vectorised pyarrow/numpy: nothing
runs per row in Python except the one row per batch of the controls.
"""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch
from alliance_finance.core.money import parse_amount_to_pence
from alliance_finance.validation.suites import PIPELINE_COLUMNS

log = logging.getLogger(__name__)


def chunks(batches: list[Batch], candidates: list[int], budget: int) -> Iterable[list[int]]:
    """Consecutive candidates grouped so that each group's rows stay within ``budget``."""
    chunk: list[int] = []
    rows = 0
    for index in candidates:
        batch = batches[index]
        size = max(batch.lines.num_rows, batch.raw.num_rows if batch.raw is not None else 0)
        if chunk and rows + size > budget:
            yield chunk
            chunk, rows = [], 0
        chunk.append(index)
        rows += size
    if chunk:
        yield chunk


def _offsets(tables: list[pa.Table]) -> list[int]:
    offsets = [0]
    for table in tables:
        offsets.append(offsets[-1] + table.num_rows)
    return offsets


def _batch_index_column(tables: list[pa.Table], members: list[int]) -> pa.Array:
    counts = [t.num_rows for t in tables]
    return pa.array(np.repeat(np.asarray(members, dtype=np.int32), counts), pa.int32())


def raw_frame(suite: str, raws: list[pa.Table], members: list[int], source_columns: Sequence[str]
              ) -> tuple[pa.Table, list[int]]:
    """The raw tables back to back: source columns as text, ``source_line_number``, ``batch_index``
    (and where the suite expects it, ``entered_sides``, how many of entered_dr and entered_cr are set)."""
    names = list(source_columns) + ["source_line_number"]
    schema = pa.schema([pa.field(n, pa.string()) for n in source_columns]
                       + [pa.field("source_line_number", pa.int64())])
    parts = []
    for raw in raws:
        part = raw.select(names)
        parts.append(part if part.schema.equals(schema) else part.cast(schema))
    # left in chunks (one per batch): with each column's expectations filtering that column only
    # (gx_compat.patched), combining them into one buffer costs more than it saves
    # (docs/performance.md, "Measured and kept out")
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    table = table.append_column("batch_index", _batch_index_column(parts, members))
    if "entered_sides" in PIPELINE_COLUMNS.get(suite, ()):  # erp_sql: how many of debit and credit are set
        sides = pc.add(pc.cast(pc.is_valid(table.column("entered_dr")), pa.int8()),
                       pc.cast(pc.is_valid(table.column("entered_cr")), pa.int8()))
        table = table.append_column("entered_sides", sides)
    return table, _offsets(parts)


def conformed_frame(lines: list[pa.Table], members: list[int]) -> tuple[pa.Table, list[int]]:
    """The conformed lines back to back, with ``batch_index`` and the derived columns."""
    parts = [t.cast(CONFORMED_SCHEMA) for t in lines]
    # left in chunks too: combining them measured slower (docs/performance.md)
    table = pa.concat_tables(parts) if parts else CONFORMED_SCHEMA.empty_table()
    table = table.append_column("batch_index", _batch_index_column(parts, members))
    table = table.append_column("posting_date_agrees", posting_date_agrees(
        table.column("fiscal_year"), table.column("period"), table.column("posting_date")))
    table = table.append_column("revenue_line_has_cost_centre", revenue_line_has_cost_centre(
        table.column("local_account"), table.column("cost_centre")))
    table = table.append_column("document_net_pence", document_net_pence(
        table.column("batch_index"), table.column("document_ref"), table.column("amount_pence")))
    return table, _offsets(parts)


def posting_date_agrees(fiscal_year, period, posting_date) -> pa.Array:
    """Vectorised :func:`alliance_finance.core.fiscal.posting_date_agrees`: periods 1-12, the date lies
    in that month; 13-16, in March of the fiscal year or later; anything else (or null) is false."""
    year = pc.cast(fiscal_year, pa.int32())
    p = pc.cast(period, pa.int32())
    date_year = pc.cast(pc.year(posting_date), pa.int32())
    date_month = pc.cast(pc.month(posting_date), pa.int32())
    early = pc.less_equal(p, 9)  # April..December lie in the calendar year the fiscal year begins
    month = pc.if_else(early, pc.add(p, 3), pc.subtract(p, 9))
    calendar_year = pc.if_else(early, year, pc.add(year, 1))
    ordinary = pc.and_(pc.and_(pc.greater_equal(p, 1), pc.less_equal(p, 12)),
                       pc.and_(pc.equal(date_year, calendar_year), pc.equal(date_month, month)))
    months = pc.add(pc.multiply(date_year, 12), date_month)
    march_after = pc.add(pc.multiply(pc.add(year, 1), 12), 3)
    adjustment = pc.and_(pc.and_(pc.greater_equal(p, 13), pc.less_equal(p, 16)),
                         pc.greater_equal(months, march_after))
    return _array(pc.fill_null(pc.or_(ordinary, adjustment), False))


def revenue_line_has_cost_centre(local_account, cost_centre) -> pa.Array:
    """False for a revenue line (account not starting 1, 2 or 3) whose cost centre is blank or
    Wiltshire's ``0000``; true otherwise (a missing account is the not-null check's to report)."""
    balance_sheet = pc.match_substring_regex(local_account, "^[123]")
    blank = pc.or_kleene(pc.is_null(cost_centre),
                         pc.is_in(pc.utf8_trim_whitespace(cost_centre), pa.array(["", "0000"])))
    return _array(pc.fill_null(pc.or_kleene(balance_sheet, pc.invert(blank)), True))


def document_net_pence(batch_index, document_ref, amount_pence) -> pa.Array:
    """Each line's document total (debits minus credits, pence) within its batch: 0 when balanced."""
    batch_index, document_ref, amount_pence = _array(batch_index), _array(document_ref), _array(amount_pence)
    if len(amount_pence) == 0:
        return pa.array([], pa.int64())
    codes = pc.dictionary_encode(document_ref).indices
    documents = np.asarray(pc.fill_null(codes, -1), dtype=np.int64) + 1
    key = np.asarray(batch_index, dtype=np.int64) * (int(documents.max()) + 1) + documents
    _, group = np.unique(key, return_inverse=True)
    amounts = np.asarray(pc.fill_null(amount_pence, 0), dtype=np.int64)
    sums = np.zeros(int(group.max()) + 1, dtype=np.int64)
    np.add.at(sums, group, amounts)  # integer sums: exact
    return pa.array(sums[group], pa.int64())


def _array(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def controls_frame(batches: list[Batch], members: list[int]) -> pa.Table:
    """One row per batch: what was read, what the lines add up to, what the control file says."""
    rows = []
    for index in members:
        batch = batches[index]
        amounts = batch.lines.column("amount_pence")
        clean = len(batch.quarantine) == 0  # the totals cover quarantined lines, the lines do not
        control = batch.meta.get("control") or {} if isinstance(batch.meta, dict) else {}
        rows.append({
            "batch_index": index,
            "force_code": batch.force_code,
            "source_ref": batch.source_ref,
            "rows_read": batch.rows_read,
            "lines_and_quarantine": batch.lines.num_rows + len(batch.quarantine),
            "lines": batch.lines.num_rows,
            "raw_rows": batch.raw.num_rows if batch.raw is not None else None,
            "total_debit_pence": batch.total_debit_pence,
            "total_credit_pence": batch.total_credit_pence,
            "lines_debit_pence": _exact_sum(pc.filter(amounts, pc.greater(amounts, 0))) if clean else None,
            "lines_credit_pence": -_exact_sum(pc.filter(amounts, pc.less(amounts, 0))) if clean else None,
            "control_rows": _control_int(control, "rows"),
            "control_total_debit_pence": _control_pence(control, "total_debit"),
            "control_total_credit_pence": _control_pence(control, "total_credit"),
        })
    schema = pa.schema([("batch_index", pa.int32()), ("force_code", pa.string()), ("source_ref", pa.string())]
                       + [(name, pa.int64()) for name in (
                           "rows_read", "lines_and_quarantine", "lines", "raw_rows", "total_debit_pence",
                           "total_credit_pence", "lines_debit_pence", "lines_credit_pence", "control_rows",
                           "control_total_debit_pence", "control_total_credit_pence")])
    return pa.Table.from_pylist(rows, schema=schema)


def _exact_sum(pence) -> int:
    """Sum of int64 pence in Python integers (arrow's int64 sum would wrap silently)."""
    values = np.asarray(pc.fill_null(_array(pence), 0), dtype=np.int64)
    if len(values) == 0:
        return 0
    if int(np.abs(values).max()) * len(values) < 2**63:
        return int(values.sum())
    return sum(int(v) for v in values)


def _control_int(control: dict, key: str) -> int | None:
    value = control.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        log.warning("control file %s=%r is not a whole number; not compared", key, value)
        return None


def _control_pence(control: dict, key: str) -> int | None:
    if control.get(f"{key}_pence") is not None:
        return int(control[f"{key}_pence"])
    value = control.get(key)
    if value is None:
        return None
    try:
        return parse_amount_to_pence(str(value))
    except ValueError:
        log.warning("control file %s=%r is not an amount; not compared", key, value)
        return None


