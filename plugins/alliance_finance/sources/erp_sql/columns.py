"""A batch's lines read column-wise (numpy and pyarrow): the journals whose lines pass every check,
conformed without a Python step per line, and the Arrow columns of the batch."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.ledger import CONFORMED_SCHEMA
from alliance_finance.sources.erp_sql.amounts import _pence_text
from alliance_finance.sources.erp_sql.headers import _Journal, _str_or_none
from alliance_finance.sources.erp_sql.layout import LINE_COLUMNS, RAW_SCHEMA, Accounts
from alliance_finance.sources.erp_sql.rules import check_lines


class _FastLines:
    """A batch's lines read column-wise, on the rules of :func:`.rules.check_lines`.

    A journal whose lines all keep every rule (the usual case) is conformed here without a Python step
    per line. Any journal with a header problem, no lines, a line that breaks a rule or holds a value
    the columns do not conform (:attr:`.rules.LineChecks.unusual`), or debits and credits that differ
    is left to :func:`.journals._read_journal` (``slow_journals``), which words its problems from the
    same checks: so the two routes cannot disagree about what is quarantined, or why.
    """

    def __init__(self, journals: list[_Journal], rows: list[tuple], accounts: Accounts, force_code: str, *,
                 line_by_line: bool = False):
        self.rank_of = {journal.journal_id: rank for rank, journal in enumerate(journals)}
        n = len(rows)
        columns = list(zip(*rows)) if rows else [()] * len(LINE_COLUMNS)
        by_id = sorted(self.rank_of)
        rank_by_id = np.array([self.rank_of[journal_id] for journal_id in by_id], dtype=np.int64)
        line_journal = rank_by_id[np.searchsorted(np.array(by_id, dtype=np.int64), _integers(columns[0]))]
        checks = check_lines(rows, accounts, line_journal, columns=columns)
        suspect = checks.problem | checks.unusual
        line_no, debit, credit = checks.line_no, checks.debit, checks.credit
        debit_set, credit_set = checks.debit_set, checks.credit_set
        account_text, indices, parsed = checks.account_text, checks.account_index, checks.parsed
        description, supplier = checks.description, checks.supplier
        cost_centres = pa.array([p.cost_centre if type(p) is not str else None for p in parsed], pa.string())
        natural_accounts = pa.array([p.natural_account if type(p) is not str else None for p in parsed], pa.string())

        # whole journals: a problem in the header, no lines, any suspect line, or unbalanced
        slow = np.array([bool(journal.problems) or not all(
            type(journal.row[name]) is str or journal.row[name] is None for name in ("source", "description"))
            for journal in journals], dtype=bool)
        counts = np.bincount(line_journal, minlength=len(journals))
        slow |= counts == 0
        np.logical_or.at(slow, line_journal, suspect)
        if line_by_line or n and max(int(debit.max()), int(credit.max())) * n >= 2**62:
            slow[:] = True  # asked for; or sums that could overflow int64, left to Python's integers
        debit_sums = np.zeros(len(journals), np.int64)
        credit_sums = np.zeros(len(journals), np.int64)
        np.add.at(debit_sums, line_journal, debit)
        np.add.at(credit_sums, line_journal, credit)
        slow |= debit_sums != credit_sums

        self.slow_journals = [journal for journal, is_slow in zip(journals, slow) if is_slow]
        self.slow_lines_of: dict[int, list[tuple]] = {journal.journal_id: [] for journal in self.slow_journals}
        keep = ~slow[line_journal]
        for index in np.flatnonzero(~keep):
            self.slow_lines_of[journals[line_journal[index]].journal_id].append(rows[index])
        self.rows_read = int(keep.sum())
        self.debit = int(debit_sums[~slow].sum())
        self.credit = int(credit_sums[~slow].sum())

        # the fast journals' lines, in load order: journal rank, then line number
        fast_rows = np.flatnonzero(keep)
        fast_rows = fast_rows[np.lexsort((line_no[fast_rows], line_journal[fast_rows]))]
        take = pa.array(fast_rows, pa.int64())
        rank = line_journal[fast_rows]
        self.rank = pa.array(rank, pa.int64())
        self.sequence = pa.array(line_no[fast_rows], pa.int64())
        headers = [journal.raw_header for journal in journals]
        header = [pa.array(column, pa.string()).take(self.rank) for column in zip(*headers)] if headers else []
        ids = pa.array([journal.journal_id for journal in journals], pa.int64()).take(self.rank)
        line_numbers = pa.array(line_no[fast_rows], pa.int64())
        line_text = pc.cast(line_numbers, pa.string())
        account_index = pa.array(indices[fast_rows], pa.int64())
        amount = pa.array(debit[fast_rows] - credit[fast_rows], pa.int64())
        debit_text = _pence_text(debit[fast_rows], debit_set[fast_rows])
        credit_text = _pence_text(credit[fast_rows], credit_set[fast_rows])
        line_description, supplier_name = description.take(take), supplier.take(take)

        def per_journal(values, kind):
            return pa.array(values, kind).take(self.rank)

        self.lines = pa.Table.from_arrays([
            pa.array([force_code] * len(fast_rows), pa.string()),
            pc.binary_join_element_wise(header[0], line_text, "/") if headers else pa.array([], pa.string()),
            header[0] if headers else pa.array([], pa.string()),
            line_numbers,
            per_journal([j.fiscal_year for j in journals], pa.int16()),
            per_journal([j.period for j in journals], pa.int16()),
            per_journal([j.accounting_date for j in journals], pa.date32()),
            cost_centres.take(account_index),
            natural_accounts.take(account_index),
            amount,
            per_journal([_str_or_none(j.row["source"]) for j in journals], pa.string()),
            line_description,
            supplier_name,
            per_journal([_str_or_none(j.row["description"]) for j in journals], pa.string()),
        ], schema=CONFORMED_SCHEMA)
        raw_columns = ([header[0], line_text] + header[1:7] if headers else [pa.array([], pa.string())] * 8) + [
            account_text.take(take), debit_text, credit_text, line_description, supplier_name]
        self.raw = pa.Table.from_arrays(raw_columns + [line_numbers], schema=RAW_SCHEMA)
        description_of_journal = header[7] if headers else pa.array([], pa.string())
        self.canonical = pa.table({
            "journal_id": ids,
            "sequence": self.sequence,
            "text": _canonical_column(raw_columns + [description_of_journal]),
        })



def _integers(values: tuple):
    """Journal ids as int64 (a driver may hand back another integral type)."""
    try:
        return np.asarray(pa.array(values, pa.int64()), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return np.array([int(v) for v in values], dtype=np.int64)


def _canonical_column(columns: list[pa.Array]) -> pa.Array:
    """Each row's canonical text (see :func:`_canonical`), built on whole columns."""
    parts = []
    for column in columns:
        prefixed = pc.binary_join_element_wise(pc.cast(pc.utf8_length(column), pa.string()), column, ":")
        parts.append(pc.fill_null(prefixed, "-"))
    return pc.binary_join_element_wise(*parts, ",")


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """Row tuples (in the schema's column order) as one pyarrow table, built column-wise."""
    columns = list(zip(*rows)) if rows else [()] * len(schema)
    return pa.Table.from_arrays([pa.array(column, type=field.type) for column, field in zip(columns, schema)],
                                schema=schema)

