"""A batch's lines read column-wise (numpy and pyarrow): the journals whose lines pass every check,
conformed without a Python step per line, and the Arrow columns of the batch."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.ledger import CONFORMED_SCHEMA
from alliance_finance.sources.erp_sql.amounts import _NONE, _pence_column, _pence_text
from alliance_finance.sources.erp_sql.headers import _Journal, _str_or_none
from alliance_finance.sources.erp_sql.layout import LINE_COLUMNS, RAW_SCHEMA, Accounts, parse_account_string


class _FastLines:
    """A batch's lines read column-wise: every check of :func:`_read_journal` done on whole columns.

    A journal whose lines all pass (the usual case) is conformed here without a Python step per line.
    Any journal with a header problem, no lines, or a line that fails a check or holds a value of an
    unusual type (a ``Decimal``, text where a number belongs, a missing line number, ...) is left to
    :func:`_read_journal` (``slow_journals``), which reads it line by line and words its problems: so
    the two paths cannot disagree about what is quarantined, or why.
    """

    def __init__(self, journals: list[_Journal], rows: list[tuple], accounts: Accounts, force_code: str, *,
                 line_by_line: bool = False):
        self.rank_of = {journal.journal_id: rank for rank, journal in enumerate(journals)}
        n = len(rows)
        columns = list(zip(*rows)) if rows else [()] * len(LINE_COLUMNS)
        journal_ids, line_nos, account_strings, debits, credits, descriptions, suppliers = columns
        by_id = sorted(self.rank_of)
        rank_by_id = np.array([self.rank_of[journal_id] for journal_id in by_id], dtype=np.int64)
        line_journal = rank_by_id[np.searchsorted(np.array(by_id, dtype=np.int64), _integers(journal_ids))]
        suspect = np.zeros(n, dtype=bool)

        # line numbers: integers, unique within the journal
        line_no, line_no_ok = _line_numbers(line_nos, n)
        suspect |= ~line_no_ok
        by_line = np.lexsort((line_no, line_journal))
        repeated = (line_journal[by_line][1:] == line_journal[by_line][:-1]) & (
            line_no[by_line][1:] == line_no[by_line][:-1])
        suspect[by_line[1:][repeated]] = True

        # amounts: exactly one side, each an exact non-negative amount in range
        debit, debit_set, debit_ok = _pence_column(debits, n)
        credit, credit_set, credit_ok = _pence_column(credits, n)
        suspect |= ~debit_ok | ~credit_ok | (debit_set == credit_set)

        # account strings, parsed once per distinct value
        account_text, account_bad = _text_column(account_strings, n, nullable=False)
        suspect |= account_bad
        codes = pc.dictionary_encode(account_text)
        parsed = [accounts.get(text) for text in codes.dictionary.to_pylist()]
        for index, text in enumerate(codes.dictionary.to_pylist()):
            if parsed[index] is None:
                try:
                    parsed[index] = accounts[text] = parse_account_string(text, accounts.prefix)
                except ValueError as exc:
                    parsed[index] = accounts[text] = str(exc)
        valid_account = np.array([type(p) is not str for p in parsed], dtype=bool)
        indices = np.asarray(codes.indices.fill_null(0), dtype=np.int64) if n else np.zeros(0, np.int64)
        if len(parsed):
            suspect |= ~valid_account[indices]
        cost_centres = pa.array([p.cost_centre if type(p) is not str else None for p in parsed], pa.string())
        natural_accounts = pa.array([p.natural_account if type(p) is not str else None for p in parsed], pa.string())

        # texts: text or nothing, and no NUL (the warehouse cannot store it)
        description, description_bad = _text_column(descriptions, n)
        supplier, supplier_bad = _text_column(suppliers, n)
        suspect |= description_bad | supplier_bad
        for texts in (description, supplier):
            suspect |= np.asarray(pc.fill_null(pc.match_substring(texts, "\x00"), False), dtype=bool)

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


def _line_numbers(values: tuple, n: int):
    """(line numbers, ok): ``ok`` where the line number is an integer (what _read_journal requires)."""
    if set(map(type, values)) <= {int}:  # one pass in C; the usual case
        try:
            return np.asarray(pa.array(values, pa.int64()), dtype=np.int64), np.ones(n, dtype=bool)
        except (pa.ArrowInvalid, OverflowError):
            pass  # beyond int64: value by value
    ok = np.fromiter((type(v) is int and -2**62 < v < 2**62 for v in values), bool, n)
    return np.fromiter((v if good else 0 for v, good in zip(values, ok)), np.int64, n), ok



def _text_column(values: tuple, n: int, *, nullable: bool = True):
    """(string array, bad): ``bad`` where a value is not text (or, unless ``nullable``, is missing)."""
    if set(map(type, values)) <= {str, _NONE}:
        texts, bad = pa.array(values, pa.string()), np.zeros(n, dtype=bool)
    else:
        bad = np.fromiter((v is not None and type(v) is not str for v in values), bool, n)
        texts = pa.array([v if type(v) is str else None for v in values], pa.string())
    if not nullable:
        bad |= np.asarray(texts.is_null(), dtype=bool)
    return texts, bad



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

