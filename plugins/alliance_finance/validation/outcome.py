"""What a verdict does to its batch (docs/contracts.md): rejected whole, or, for a format whose
failures are kept to their documents (erp_sql: journals), those documents moved whole to
``batch.quarantine`` with the failed checks as their reason and the raw row as their original."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.ledger import Batch, QuarantinedLine
from alliance_finance.validation.results import BatchValidation, CheckFailure, jsonable
from alliance_finance.validation.suites import FormatRules


def apply_outcome(batch: Batch, result: BatchValidation, rules: FormatRules | None) -> None:
    """Reject the batch whole, or (a format that quarantines documents, failures that all name
    one) quarantine the journals."""
    result.success = not result.failures
    if result.success:
        return
    keep_to_journals = (rules is not None and rules.quarantines_documents
                        and not any(f.batch_level for f in result.failures))
    if not keep_to_journals:
        result.rejected = True
        batch.reject(result.summary())
        return
    journals = list(dict.fromkeys(d for f in result.failures for d in f.documents))
    moved = _quarantine_journals(batch, journals, result.failures)
    result.quarantined_documents = journals
    result.lines_quarantined = moved


def _quarantine_journals(batch: Batch, journals: list[str], failures: list[CheckFailure]) -> int:
    """Move every line of ``journals`` from ``batch.lines`` to ``batch.quarantine``; returns how many."""
    wanted = pa.array(journals, pa.string())
    in_journal = pc.fill_null(pc.is_in(batch.lines.column("document_ref"), value_set=wanted), False)
    moving = batch.lines.filter(in_journal)
    reasons = _journal_reasons(journals, failures)
    originals = _raw_originals(batch, wanted)
    for line in moving.to_pylist():
        journal = line["document_ref"]
        original = originals.get(line["source_line_ref"])
        if original is None:
            original = json.dumps(jsonable(line), ensure_ascii=False)
        batch.quarantine.append(QuarantinedLine(
            source_line_ref=line["source_line_ref"], document_ref=journal,
            source_line_number=line["source_line_number"], reason=reasons[journal], original=original))
    batch.lines = batch.lines.filter(pc.invert(in_journal))
    return moving.num_rows


def _journal_reasons(journals: list[str], failures: list[CheckFailure]) -> dict[str, str]:
    """Per journal: which checks its lines failed, with what was found on the first such line."""
    reasons: dict[str, list[str]] = {journal: [] for journal in journals}
    for failure in failures:
        on = f" on {failure.column}" if failure.column else ""
        for journal in failure.documents:
            found = failure.found_by_document.get(journal, failure.found)
            reasons[journal].append(f"{failure.suite} {failure.check}{on}: expected {failure.expected}, "
                                    f"found {found}")
    return {journal: f"journal {journal} quarantined whole by validation: " + "; ".join(texts)
            for journal, texts in reasons.items()}


def _raw_originals(batch: Batch, journals: pa.Array) -> dict[str, str]:
    """The raw rows of ``journals`` as JSON, by ``source_line_ref`` (``<journal_id>/<line_no>``)."""
    raw = batch.raw
    if raw is None or "journal_id" not in raw.schema.names or "line_no" not in raw.schema.names:
        return {}
    rows = raw.filter(pc.fill_null(pc.is_in(raw.column("journal_id"), value_set=journals), False))
    columns = [name for name in rows.schema.names if name != "source_line_number"]
    return {f"{row['journal_id']}/{row['line_no']}": json.dumps({name: row[name] for name in columns},
                                                                ensure_ascii=False)
            for row in rows.to_pylist()}
