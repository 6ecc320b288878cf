"""One batch of the extract: the planned journals of one period (or part of one) read, checked and
conformed into a :class:`~alliance_finance.core.ledger.Batch` (Arrow columns), with its digest.

Apart from :mod:`.extract`, which finds what is new with SQL alone, so that a night with no new
journal imports neither pyarrow nor numpy.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch, QuarantinedLine
from alliance_finance.sources.erp_sql.columns import _FastLines, _table
from alliance_finance.sources.erp_sql.connection import _LINES_OF_JOURNALS, _chunks, _fetch
from alliance_finance.sources.erp_sql.headers import _read_journals
from alliance_finance.sources.erp_sql.journals import _canonical, _quarantined, _read_journal
from alliance_finance.sources.erp_sql.layout import RAW_SCHEMA, Accounts
from alliance_finance.sources.erp_sql.plan import _Planned


def build_batch(connection: sa.Connection, key: tuple, planned: list[_Planned],
                 part: int, parts: int, accounts: Accounts, force_code: str, line_by_line: bool) -> Batch:
    fiscal_year, period = key
    ids = sorted(j.journal_id for j in planned)
    headers = _read_journals(connection, ids)
    journals = [headers[j.journal_id] for j in planned]  # load order: (posted_at, journal_id)
    rows: list[tuple] = []
    for chunk in _chunks(ids):
        rows += _fetch(connection, _LINES_OF_JOURNALS, chunk)

    fast = _FastLines(journals, rows, accounts, force_code, line_by_line=line_by_line)
    del rows
    quarantine: list[QuarantinedLine] = []
    slow_rows: list[tuple] = []  # conformed + raw + (rank, sequence) of good journals read the careful way
    canonical = [fast.canonical]  # (journal_id, sequence, text) tables, in any order
    rows_read, total_debit, total_credit = fast.rows_read, fast.debit, fast.credit
    for journal in fast.slow_journals:
        lines, problems, debit, credit = _read_journal(journal, fast.slow_lines_of[journal.journal_id], accounts)
        rows_read += len(lines) or 1  # a journal without lines is one quarantine entry
        total_debit += debit
        total_credit += credit
        texts = [_canonical(journal, line.raw) for line in lines] if lines else [_canonical(journal, None)]
        canonical.append(pa.table({"journal_id": pa.array([journal.journal_id] * len(texts), pa.int64()),
                                   "sequence": pa.array(range(len(texts)), pa.int64()),
                                   "text": pa.array(texts, pa.string())}))
        if problems:
            reason = f"journal {journal.journal_id} quarantined whole: " + "; ".join(problems)
            quarantine.extend(_quarantined(journal, lines, reason))
            continue
        jid = journal.journal_id
        document_ref = str(jid)
        source, description = journal.row["source"], journal.row["description"]
        rank = fast.rank_of[jid]
        for sequence, line in enumerate(lines):
            slow_rows.append((
                force_code, f"{jid}/{line.line_no}", document_ref, line.line_no, journal.fiscal_year,
                journal.period, journal.accounting_date, line.account.cost_centre,
                line.account.natural_account, line.amount_pence, source, line.raw[11], line.raw[12],
                description, *line.raw, line.line_no, rank, sequence,
            ))

    lines_table, raw_table = fast.lines, fast.raw
    if slow_rows:
        # the journals read the careful way join the others in load order
        width = len(CONFORMED_SCHEMA)
        slow_lines = _table([r[:width] for r in slow_rows], CONFORMED_SCHEMA)
        slow_raw = _table([r[width:-2] for r in slow_rows], RAW_SCHEMA)
        order = pa.table({"rank": pa.concat_arrays([fast.rank, pa.array([r[-2] for r in slow_rows], pa.int64())]),
                          "sequence": pa.concat_arrays([fast.sequence,
                                                        pa.array([r[-1] for r in slow_rows], pa.int64())])})
        indices = pc.sort_indices(order, sort_keys=[("rank", "ascending"), ("sequence", "ascending")])
        lines_table = pa.concat_tables([lines_table, slow_lines]).take(indices)
        raw_table = pa.concat_tables([raw_table, slow_raw]).take(indices)

    label = "unknown period" if fiscal_year is None else f"FY{fiscal_year} P{period:02d}"
    if parts > 1:
        label += f" part {part} of {parts}"
    posted = [j.posted_at for j in journals if j.posted_at is not None]
    return Batch(
        force_code=force_code,
        source_ref=(f"{force_code} ERP gl_journal {label} ({len(journals)} journal{'s' if len(journals) != 1 else ''}, "
                    f"ids {ids[0]}-{ids[-1]})"),
        digest=_digest(canonical),
        lines=lines_table,
        quarantine=quarantine,
        rows_read=rows_read,
        total_debit_pence=total_debit,
        total_credit_pence=total_credit,
        raw=raw_table,
        meta={
            "journal_ids": ids,
            "fiscal_year": fiscal_year,
            "period": period,
            "max_posted_at": max(posted).isoformat() if posted else None,
        },
    )


def _digest(canonical: list[pa.Table]) -> str:
    """SHA-256 of every line's canonical text, in (journal_id, line) order, one line each."""
    table = pa.concat_tables(canonical)
    table = table.take(pc.sort_indices(table, sort_keys=[("journal_id", "ascending"), ("sequence", "ascending")]))
    digest = hashlib.sha256()
    texts = table.column("text").combine_chunks()
    if len(texts):
        joined = pc.binary_join_element_wise(texts, pa.scalar("\n"), "")  # each text ends its line
        _, offsets, data = joined.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int32)[joined.offset:joined.offset + len(joined) + 1]
        digest.update(memoryview(data)[int(offsets[0]):int(offsets[-1])])  # the texts back to back
    return digest.hexdigest()

