"""A journal read line by line: every rule of a journal's lines, worded, and its quarantine.

The column-wise path (:mod:`.columns`) checks the same rules on whole columns and hands any journal
that fails one, or holds a value of an unusual type, to :func:`_read_journal`, which words its
problems: so the two paths cannot disagree about what is quarantined, or why.
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
from alliance_finance.sources.erp_sql.layout import (_NUL_PROBLEM, JOURNAL_COLUMNS, RAW_COLUMNS, AccountString,
                                                     Accounts, parse_account_string)


class _Line(NamedTuple):
    """One journal line as read: its number, its raw text (RAW_COLUMNS order) and what it means."""

    line_no: int | None
    raw: tuple[str | None, ...]
    account: AccountString | None
    amount_pence: int


def _read_journal(journal: _Journal, rows: list[sa.Row], accounts: Accounts) -> tuple[list[_Line], list[str], int, int]:
    """(the journal's lines in line order, every problem found, debit pence, credit pence).

    The journal may load only when the problem list is empty; otherwise it is quarantined whole.
    """
    problems = list(journal.problems)
    header = journal.raw_header
    debit = credit = 0
    amounts_valid = True
    seen: set[int] = set()
    lines: list[_Line] = []
    for _, line_no, account_string, dr_value, cr_value, line_description, supplier_name in _in_line_order(rows):
        label = f"line {line_no}"
        if type(line_no) is not int:
            problems.append(f"a line has line_no {line_no!r}: expected an integer")
            line_no = None
        elif line_no in seen:
            problems.append(f"line_no {line_no} is used twice: expected (journal_id, line_no) unique")
        else:
            seen.add(line_no)

        (dr_pence, dr_text, dr_problem), (cr_pence, cr_text, cr_problem) = (
            _amount(dr_value, "entered_dr"), _amount(cr_value, "entered_cr"))
        for problem in (dr_problem, cr_problem):
            if problem:
                problems.append(f"{label} {problem}")
                amounts_valid = False
        debit += dr_pence or 0
        credit += cr_pence or 0

        if (dr_value is None) == (cr_value is None):
            found = "neither" if dr_value is None else f"both ({dr_text} and {cr_text})"
            problems.append(f"{label}: expected exactly one of entered_dr and entered_cr, found {found}")
            amounts_valid = False

        for column, value in (("line_description", line_description), ("supplier_name", supplier_name)):
            problem = _not_utf8(column, value)
            if problem:
                problems.append(f"{label} {problem}")
        if (type(line_description) is str and "\x00" in line_description) or (
                type(supplier_name) is str and "\x00" in supplier_name):
            column = "line_description" if "\x00" in (line_description or "") else "supplier_name"
            problems.append(f"{label} {column}: {_NUL_PROBLEM}")

        account = accounts.get(account_string)
        if account is None:
            try:
                account = parse_account_string(account_string, accounts.prefix)
            except ValueError as exc:
                account = str(exc)
            if isinstance(account_string, str):
                accounts[account_string] = account
        if type(account) is str:
            problems.append(f"{label}: {account}")
            account = None

        raw = (header[0], str(line_no) if type(line_no) is int else _text(line_no), header[1], header[2],
               header[3], header[4], header[5], header[6],
               account_string if type(account_string) is str else _text(account_string), dr_text, cr_text,
               line_description if type(line_description) is str else _text(line_description),
               supplier_name if type(supplier_name) is str else _text(supplier_name))
        lines.append(_Line(line_no, raw, account, (dr_pence or 0) - (cr_pence or 0)))

    if not lines:
        problems.append("the journal has no lines: expected at least two balancing lines")
    elif amounts_valid and debit != credit:
        problems.append(f"debits {format_pence(debit)} and credits {format_pence(credit)} differ by "
                        f"{format_pence(abs(debit - credit))}: expected every posted journal to balance")
    return lines, problems, debit, credit


def _amount(value, column: str) -> tuple[int | None, str | None, str | None]:
    """(pence, text, problem) of one side of a line: ``None`` pence for no amount or a bad one, whose
    problem names ``column`` and its text is the value as read."""
    if value is None:
        return None, None, None
    try:
        pence = amount_to_pence(value)
    except ValueError as exc:
        return None, _text(value), f"{column}: {exc}"
    return pence, format_pence(pence), None


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

