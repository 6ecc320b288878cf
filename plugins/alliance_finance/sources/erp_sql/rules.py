"""The rules of a journal's lines, stated once, on whole columns.

:func:`check_lines` checks lines (a batch's, or one journal's) against every rule a posted journal's
lines must keep: an integer line number, unique in its journal; exactly one of ``entered_dr`` and
``entered_cr``, each an exact non-negative amount within the warehouse's ``numeric(15,2)``
(:mod:`.amounts`); an account string of the force (:func:`~.layout.parse_account_string`, each
distinct text parsed once); texts that are text, without NUL. Both routes through a batch are built
on it: the column-wise path (:mod:`.columns`) conforms the journals none of whose lines breaks a
rule or holds an unusual value; the line-by-line reader (:func:`.journals._read_journal`) words what
it found for the others. Neither decides a rule of its own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.sources.erp_sql.amounts import _NONE, _pence_column
from alliance_finance.sources.erp_sql.layout import LINE_COLUMNS, Accounts, parse_account_string

#: line numbers the column-wise path works with (beyond them, still integers, a line is read line by line)
_LINE_NO_RANGE = 2**62


@dataclasses.dataclass
class LineChecks:
    """What :func:`check_lines` found, line by line (each array in the rows' order)."""

    #: the line number where it is an integer within :data:`_LINE_NO_RANGE`, else 0
    line_no: np.ndarray
    #: the line number is an integer (else a problem)
    line_no_int: np.ndarray
    #: the line number was used by an earlier line of the same journal (a problem)
    repeated: np.ndarray
    #: each amount column: pence (0 when not set or not valid), set, and valid (or not set)
    debit: np.ndarray
    debit_set: np.ndarray
    debit_ok: np.ndarray
    credit: np.ndarray
    credit_set: np.ndarray
    credit_ok: np.ndarray
    #: account strings as text (null where not text), each line's index into ``parsed``, and the
    #: parse of each distinct text: an AccountString or the problem with it
    account_text: pa.Array
    account_index: np.ndarray
    parsed: list
    #: the account string is text and the force's (else a problem)
    account_ok: np.ndarray
    #: the texts as text (null where not text), and where each is bytes (a problem), or holds a NUL (a problem)
    description: pa.Array
    supplier: pa.Array
    text_bytes: np.ndarray
    text_nul: np.ndarray
    #: a rule broken: the line's journal is quarantined whole
    problem: np.ndarray
    #: a value the column-wise path does not conform (a line number beyond :data:`_LINE_NO_RANGE`, a
    #: number in a text column, ...): its journal is read line by line
    unusual: np.ndarray


def check_lines(rows: list[tuple], accounts: Accounts, line_journal: np.ndarray | None = None, *,
                columns: list[tuple] | None = None) -> LineChecks:
    """Every rule of :mod:`this module <.rules>` on ``rows`` (LINE_COLUMNS order), lines of the
    journals ``line_journal`` numbers (by default one journal), in line order within a journal.
    ``columns``: the rows as columns, when the caller has them already."""
    n = len(rows)
    if columns is None:
        columns = list(zip(*rows)) if rows else [()] * len(LINE_COLUMNS)
    _, line_nos, account_strings, debits, credits, descriptions, suppliers = columns
    if line_journal is None:
        line_journal = np.zeros(n, dtype=np.int64)

    # line numbers: integers, unique within the journal
    line_no, line_no_int, line_no_usual = _line_numbers(line_nos, n)
    repeated = _repeated(line_nos, line_no, line_no_int, line_no_usual, line_journal)

    # amounts: exactly one side, each an exact non-negative amount in range
    debit, debit_set, debit_ok = _pence_column(debits, n)
    credit, credit_set, credit_ok = _pence_column(credits, n)

    # account strings: text, parsed once per distinct value
    account_text, account_not_text = _text_column(account_strings, n)
    account_not_text |= np.asarray(account_text.is_null(), dtype=bool)
    codes = pc.dictionary_encode(account_text)
    parsed = []
    for text in codes.dictionary.to_pylist():
        if text not in accounts:
            try:
                accounts[text] = parse_account_string(text, accounts.prefix)
            except ValueError as exc:
                accounts[text] = str(exc)
        parsed.append(accounts[text])
    valid_account = np.array([type(p) is not str for p in parsed], dtype=bool)
    account_index = np.asarray(codes.indices.fill_null(0), dtype=np.int64) if n else np.zeros(0, np.int64)
    account_ok = ~account_not_text & (valid_account[account_index] if len(parsed) else np.zeros(n, dtype=bool))

    # texts: text or nothing (bytes are not valid text), and no NUL (the warehouse cannot store it)
    description, description_other = _text_column(descriptions, n)
    supplier, supplier_other = _text_column(suppliers, n)
    text_bytes = _is_bytes(descriptions, description_other) | _is_bytes(suppliers, supplier_other)
    text_nul = np.zeros(n, dtype=bool)
    for texts in (description, supplier):
        text_nul |= np.asarray(pc.fill_null(pc.match_substring(texts, "\x00"), False), dtype=bool)

    problem = (~line_no_int | repeated | ~debit_ok | ~credit_ok | (debit_set == credit_set) | ~account_ok
               | text_bytes | text_nul)
    unusual = ~line_no_usual | description_other | supplier_other
    return LineChecks(line_no, line_no_int, repeated, debit, debit_set, debit_ok, credit, credit_set, credit_ok,
                      account_text, account_index, parsed, account_ok, description, supplier, text_bytes, text_nul,
                      problem, unusual)


def _line_numbers(values: tuple, n: int):
    """(line numbers, integer, usual): a line number is an integer (``bool`` is not), and usual
    within :data:`_LINE_NO_RANGE`."""
    if set(map(type, values)) <= {int}:  # one pass in C; the usual case
        try:
            numbers = np.asarray(pa.array(values, pa.int64()), dtype=np.int64)
            usual = (numbers > -_LINE_NO_RANGE) & (numbers < _LINE_NO_RANGE)
            return np.where(usual, numbers, 0), np.ones(n, dtype=bool), usual
        except (pa.ArrowInvalid, OverflowError):
            pass  # beyond int64: value by value
    integer = np.fromiter((type(v) is int for v in values), bool, n)
    usual = np.fromiter((type(v) is int and -_LINE_NO_RANGE < v < _LINE_NO_RANGE for v in values), bool, n)
    return np.fromiter((v if good else 0 for v, good in zip(values, usual)), np.int64, n), integer, usual


def _repeated(values: tuple, line_no: np.ndarray, integer: np.ndarray, usual: np.ndarray,
              line_journal: np.ndarray) -> np.ndarray:
    """Where an integer line number was used by an earlier line (in the rows' order) of its journal."""
    n = len(line_no)
    repeated = np.zeros(n, dtype=bool)
    if (integer == usual).all():
        candidates = np.flatnonzero(integer)
        by_line = candidates[np.lexsort((line_no[candidates], line_journal[candidates]))]  # stable: rows' order kept
        again = (line_journal[by_line][1:] == line_journal[by_line][:-1]) & (line_no[by_line][1:] == line_no[by_line][:-1])
        repeated[by_line[1:][again]] = True
        return repeated
    seen: set[tuple[int, int]] = set()  # a line number beyond int64: by Python's integers
    for index in np.flatnonzero(integer):
        key = (int(line_journal[index]), values[index])
        repeated[index] = key in seen
        seen.add(key)
    return repeated


def _text_column(values: tuple, n: int):
    """(string array, other): ``other`` where a value is neither text nor missing (null in the array)."""
    if set(map(type, values)) <= {str, _NONE}:
        return pa.array(values, pa.string()), np.zeros(n, dtype=bool)
    other = np.fromiter((v is not None and type(v) is not str for v in values), bool, n)
    return pa.array([v if type(v) is str else None for v in values], pa.string()), other


def _is_bytes(values: tuple, other: np.ndarray) -> np.ndarray:
    found = np.zeros(len(other), dtype=bool)
    for index in np.flatnonzero(other):
        found[index] = isinstance(values[index], (bytes, bytearray))
    return found


def account_problem(value: Any, accounts: Accounts) -> str:
    """The problem with an account string that is not the force's (text or not)."""
    if isinstance(value, str):
        return accounts[value]
    try:
        parse_account_string(value, accounts.prefix)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"account string {value!r} is not text, yet parses")  # pragma: no cover
