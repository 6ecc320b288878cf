"""A journal read line by line: what :func:`.rules.check_lines` found, worded, and its quarantine.

The column-wise path (:mod:`.columns`) hands any journal that breaks a rule, or holds a value it does
not conform, to :func:`_read_journal`, which words its problems from the same checks: so the two
routes cannot disagree about what is quarantined, or why.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import sqlalchemy as sa

from alliance_finance.core.ledger import QuarantinedLine
from alliance_finance.core.money import format_pence
from alliance_finance.sources.erp_sql.amounts import amount_to_pence
from alliance_finance.sources.erp_sql.connection import _not_utf8
from alliance_finance.sources.erp_sql.headers import _Journal, _text
from alliance_finance.sources.erp_sql.layout import _NUL_PROBLEM, JOURNAL_COLUMNS, RAW_COLUMNS, AccountString, Accounts
from alliance_finance.sources.erp_sql.rules import account_problem, check_lines


class _Line(NamedTuple):
    """One journal line as read: its number, its raw text (RAW_COLUMNS order) and what it means."""

    line_no: int | None
    raw: tuple[str | None, ...]
    account: AccountString | None
    amount_pence: int


def _read_journal(journal: _Journal, rows: list[sa.Row], accounts: Accounts) -> tuple[list[_Line], list[str], int, int]:
    """(the journal's lines in line order, every problem found, debit pence, credit pence).

    The rules are :func:`.rules.check_lines`'s; this words what they found, line by line. The journal
    may load only when the problem list is empty; otherwise it is quarantined whole.
    """
    problems = list(journal.problems)
    header = journal.raw_header
    rows = _in_line_order(rows)
    checks = check_lines(rows, accounts)
    lines: list[_Line] = []
    for i, (_, line_no, account_string, dr_value, cr_value, line_description, supplier_name) in enumerate(rows):
        label = f"line {line_no}"
        if not checks.line_no_int[i]:
            problems.append(f"a line has line_no {line_no!r}: expected an integer")
            line_no = None
        elif checks.repeated[i]:
            problems.append(f"line_no {line_no} is used twice: expected (journal_id, line_no) unique")

        dr_pence, dr_text = _amount(dr_value, checks.debit_set[i], checks.debit_ok[i], checks.debit[i])
        cr_pence, cr_text = _amount(cr_value, checks.credit_set[i], checks.credit_ok[i], checks.credit[i])
        for column, value, ok in (("entered_dr", dr_value, checks.debit_ok[i]),
                                  ("entered_cr", cr_value, checks.credit_ok[i])):
            if not ok:
                problems.append(f"{label} {column}: {_amount_problem(value)}")
        if checks.debit_set[i] == checks.credit_set[i]:
            found = "neither" if dr_value is None else f"both ({dr_text} and {cr_text})"
            problems.append(f"{label}: expected exactly one of entered_dr and entered_cr, found {found}")

        if checks.text_bytes[i]:
            for column, value in (("line_description", line_description), ("supplier_name", supplier_name)):
                problem = _not_utf8(column, value)
                if problem:
                    problems.append(f"{label} {problem}")
        if checks.text_nul[i]:
            column = "line_description" if "\x00" in (line_description or "") else "supplier_name"
            problems.append(f"{label} {column}: {_NUL_PROBLEM}")

        account = checks.parsed[checks.account_index[i]] if checks.account_ok[i] else None
        if account is None:
            problems.append(f"{label}: {account_problem(account_string, accounts)}")

        raw = (header[0], str(line_no) if type(line_no) is int else _text(line_no), header[1], header[2],
               header[3], header[4], header[5], header[6],
               account_string if type(account_string) is str else _text(account_string), dr_text, cr_text,
               line_description if type(line_description) is str else _text(line_description),
               supplier_name if type(supplier_name) is str else _text(supplier_name))
        lines.append(_Line(line_no, raw, account, (dr_pence or 0) - (cr_pence or 0)))

    # Python's integers: no sum overflows
    debit = sum(int(p) for p in checks.debit[checks.debit_set & checks.debit_ok])
    credit = sum(int(p) for p in checks.credit[checks.credit_set & checks.credit_ok])
    if not lines:
        problems.append("the journal has no lines: expected at least two balancing lines")
    elif (checks.debit_ok & checks.credit_ok & (checks.debit_set != checks.credit_set)).all() and debit != credit:
        problems.append(f"debits {format_pence(debit)} and credits {format_pence(credit)} differ by "
                        f"{format_pence(abs(debit - credit))}: expected every posted journal to balance")
    return lines, problems, debit, credit


def _amount(value, is_set: bool, ok: bool, pence) -> tuple[int | None, str | None]:
    """(pence, text) of one side of a line: ``None`` pence for no amount or a bad one, whose text is
    the value as read."""
    if not is_set:
        return None, None
    if not ok:
        return None, _text(value)
    return int(pence), format_pence(int(pence))


def _amount_problem(value) -> str:
    """What is wrong with an amount :func:`.rules.check_lines` found not valid, in
    :func:`~.amounts.amount_to_pence`'s words."""
    try:
        amount_to_pence(value)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"amount {value!r} is valid by amount_to_pence but not by the column check")


def _line_order(row: sa.Row) -> tuple:
    line_no = row[1]
    return (line_no is None, line_no if type(line_no) is int else 0)


def _in_line_order(rows: list[sa.Row]) -> list[sa.Row]:
    """By line_no; where line numbers repeat or are missing (a defect), ties are broken by content,
    so that the quarantine and the digest do not depend on the order the database returned rows."""
    if len({row[1] for row in rows}) == len(rows) and all(type(row[1]) is int for row in rows):
        return sorted(rows, key=_line_order)
    return sorted(rows, key=lambda row: (_line_order(row), tuple(_text(v) or "" for v in row)))



def _canonical(journal: _Journal, raw: tuple | None) -> str:
    """One line's canonical text for the batch digest: every column as text (the journal's
    description too), each written ``<length>:<text>`` (``-`` for none) and comma-separated, which
    tells None from "" and needs no escaping; :func:`_canonical_column` writes the same on columns."""
    fields = (*raw, journal.raw_header[7]) if raw is not None else journal.raw_header
    return ",".join("-" if value is None else f"{len(value)}:{value}" for value in fields)


def _quarantined(journal: _Journal, lines: list[_Line], reason: str) -> list[QuarantinedLine]:
    names = (*RAW_COLUMNS, "description")
    if not lines:
        return [QuarantinedLine(
            source_line_ref=f"{journal.journal_id}/-", document_ref=str(journal.journal_id),
            source_line_number=0, reason=reason,
            original=json.dumps(dict(zip(JOURNAL_COLUMNS, journal.raw_header)), ensure_ascii=False),
        )]
    return [
        QuarantinedLine(
            source_line_ref=f"{journal.journal_id}/{'-' if line.line_no is None else line.line_no}",
            document_ref=str(journal.journal_id),
            source_line_number=line.line_no or 0,
            reason=reason,
            original=json.dumps(dict(zip(names, (*line.raw, journal.raw_header[7]))), ensure_ascii=False),
        )
        for line in lines
    ]

