"""The verdicts: one :class:`CheckFailure` per failed check and batch, one :class:`BatchValidation`
per batch, and the operator's text they are shown in (``etl_batch.error``, the log, the result JSON)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from alliance_finance.core.money import format_pence

#: failing rows shown per failure and batch
SAMPLE_ROWS = 5


@dataclasses.dataclass
class CheckFailure:
    """One failed check on one batch: an expectation of a suite, or a check run before the suites.

    ``samples`` are up to :data:`SAMPLE_ROWS` failing rows: ``source_line_number`` (ASC the line in
    the file, WP the journal's line_no), ``document_ref`` (the document or WP journal) where known,
    and ``values``, the row's values in the columns the check reads. ``documents`` lists the
    documents (WP: journals) the failing rows belong to, in order of first failure; a failure with
    ``batch_level`` set names no row (a control total, the columns) and rejects the batch whole.
    """

    suite: str
    check: str
    column: str | None
    expected: str
    unexpected_count: int
    found: str
    samples: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    documents: list[str] = dataclasses.field(default_factory=list)
    batch_level: bool = False
    #: WP: per journal, its first failing line as text (the journal's quarantine reason)
    found_by_document: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """One line for an operator: suite, check, column, what was expected and what was found."""
        on = f" on {self.column}" if self.column else ""
        return f"{self.suite}: {self.check}{on}: expected {self.expected}; found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; ``documents`` is cut to the first 20 (``document_count`` says how many)."""
        return {
            "suite": self.suite,
            "check": self.check,
            "column": self.column,
            "expected": self.expected,
            "unexpected_count": self.unexpected_count,
            "found": self.found,
            "samples": self.samples,
            "documents": self.documents[:20],
            "document_count": len(self.documents),
            "batch_level": self.batch_level,
        }


@dataclasses.dataclass
class BatchValidation:
    """The verdict on one batch, in the order the batches were given to :meth:`Validator.validate`.

    ``success`` is true only when every check passed. A WP batch whose failures all name journals
    is not rejected: those journals are in ``quarantined_documents`` (and ``batch.quarantine``) and
    the rest of the batch loads. ``error`` is the reader's reason for a batch that arrived rejected.
    """

    force_code: str
    source_ref: str
    success: bool
    failures: list[CheckFailure] = dataclasses.field(default_factory=list)
    rows_checked: int = 0
    suites: list[str] = dataclasses.field(default_factory=list)
    rejected: bool = False
    quarantined_documents: list[str] = dataclasses.field(default_factory=list)
    lines_quarantined: int = 0
    error: str | None = None
    run_name: str | None = None

    def summary(self) -> str:
        """The operator's text for ``etl_batch.error`` and the log: names the file or journal, the
        lines, what was expected and what was found."""
        if self.error is not None and not self.failures:
            return self.error
        if self.success:
            return (f"{self.source_ref}: passed validation ({self.rows_checked} lines; "
                    f"{', '.join(self.suites)})")
        failed = f"{len(self.failures)} check{'s' if len(self.failures) != 1 else ''} failed"
        if self.rejected:
            head = f"{self.source_ref}: rejected whole by validation, {failed}:"
        else:
            journals = len(self.quarantined_documents)
            head = (f"{self.source_ref}: {journals} journal{'s' if journals != 1 else ''} "
                    f"({self.lines_quarantined} line{'s' if self.lines_quarantined != 1 else ''}) "
                    f"quarantined whole by validation, the rest passed; {failed}:")
        return "\n".join([head] + [f"  - {failure.describe()}" for failure in self.failures])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the run's result file and the logs."""
        return {
            "force_code": self.force_code,
            "source_ref": self.source_ref,
            "success": self.success,
            "rejected": self.rejected,
            "rows_checked": self.rows_checked,
            "suites": self.suites,
            "failures": [failure.to_dict() for failure in self.failures],
            "quarantined_documents": self.quarantined_documents,
            "lines_quarantined": self.lines_quarantined,
            "error": self.error,
            "run_name": self.run_name,
            "summary": self.summary(),
        }


def sample_text(sample: dict, *, numbered_in_document: bool) -> str:
    """``journal J line N: column=value, ...`` where the source numbers lines within a document
    (the journal's line_no), else ``line N (source_line_ref): ...``."""
    values = ", ".join(f"{name}={show_value(name, value)}" for name, value in sample["values"].items())
    line = sample.get("source_line_number")
    if numbered_in_document and sample.get("document_ref") is not None:
        where = f"journal {sample['document_ref']} line {line}"
    elif "source_line_ref" in sample:
        where = f"line {line} ({sample['source_line_ref']})"
    else:
        where = f"line {line}"
    return f"{where}: {values}"


#: a found value longer than this is cut in the operator's text
SHOWN_CHARS = 80


def show_value(name: str, value: Any) -> str:
    if value is None:
        return "blank"
    if name.endswith("_pence") and isinstance(value, int):
        return format_pence(value)
    text = repr(value)
    # a found value is quoted to identify it, not to copy it: a 500 KB text stays out of etl_batch.error
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(str(value)):,} characters)"


def jsonable(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in values.items()}


def batch_failure(suite: str, check: str, column: str | None, expected: str, found: str) -> CheckFailure:
    """A failure that names no row: it rejects the batch whole."""
    return CheckFailure(suite=suite, check=check, column=column, expected=expected, unexpected_count=1,
                        found=found, batch_level=True)
