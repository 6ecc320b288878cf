"""The conformed ledger line: what every source format becomes before validation and loading.

Each source reader (one module per format: ``sap_files`` for Avon and Somerset, ``erp_sql`` for
Wiltshire) turns a delivery or an extract into :class:`Batch` objects whose ``lines`` is a
``pyarrow.Table`` with exactly :data:`CONFORMED_SCHEMA`. Money is ``amount_pence``: integer pence,
debit minus credit (spending positive, income negative). Nothing downstream knows which format a
line came from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Column order and types of a conformed batch (``Batch.lines``).
CONFORMED_SCHEMA = pa.schema(
    [
        # ASC or WP
        pa.field("force_code", pa.string(), nullable=False),
        # unique within a force, stable across re-deliveries of the same line:
        #   ASC  "<company code>/<fiscal year>/<document number>/<line item>"  e.g. "ASC1/2016/1000012345/2"
        #   WP   "<journal_id>/<line_no>"                                     e.g. "48213/3"
        pa.field("source_line_ref", pa.string(), nullable=False),
        # the document or journal the line belongs to; every document balances
        #   ASC  "<company code>/<fiscal year>/<document number>"    WP  "<journal_id>"
        pa.field("document_ref", pa.string(), nullable=False),
        # where an operator finds the line: ASC the physical line in the CSV file (header = 1),
        # WP the journal's line_no
        pa.field("source_line_number", pa.int64(), nullable=False),
        pa.field("fiscal_year", pa.int16(), nullable=False),
        pa.field("period", pa.int16(), nullable=False),
        pa.field("posting_date", pa.date32(), nullable=False),
        # the local cost centre; null on balance-sheet lines (ASC blank, WP "0000" is kept as "0000")
        pa.field("cost_centre", pa.string()),
        # the local account: ASC GL Account (6 digits), WP natural account (5 digits)
        pa.field("local_account", pa.string(), nullable=False),
        # debit minus credit, integer pence
        pa.field("amount_pence", pa.int64(), nullable=False),
        # ASC Document Type (KR, KG, SA, PR, DR, AB); WP journal source (AP, AR, GL, PAY, FA)
        pa.field("document_type", pa.string(), nullable=False),
        # ASC Text; WP line_description
        pa.field("line_text", pa.string()),
        # ASC Vendor; WP supplier_name
        pa.field("vendor", pa.string()),
        # ASC Reference; WP the journal description
        pa.field("reference", pa.string()),
    ]
)

CONFORMED_COLUMNS = tuple(CONFORMED_SCHEMA.names)


@dataclasses.dataclass
class QuarantinedLine:
    """A source line kept out of the fact table, with the original text and the reason."""

    source_line_ref: str
    document_ref: str
    source_line_number: int
    reason: str
    #: the original line exactly as read: the CSV record text, or the journal line's columns as JSON
    original: str


@dataclasses.dataclass
class Batch:
    """One delivery (an ASC file) or one extract (a WP run), ready to validate and load.

    A batch is loaded in one transaction with its ``etl_batch`` row and the removal of what it
    supersedes, or not at all.
    """

    force_code: str
    #: what the operator recognises: the data file's name, or the WP extract's description
    source_ref: str
    #: SHA-256 of the delivery's bytes (ASC), or of the extract's canonical content (WP)
    digest: str
    #: conformed lines that may load (CONFORMED_SCHEMA)
    lines: pa.Table
    #: lines (whole journals) kept out with their reason
    quarantine: list[QuarantinedLine] = dataclasses.field(default_factory=list)
    #: data lines read from the source (= loaded + quarantined for a batch that loads)
    rows_read: int = 0
    #: the source's own debit and credit totals over every line read, in pence
    total_debit_pence: int = 0
    total_credit_pence: int = 0
    #: ASC: the business date the delivery covers. A later delivery for the same date (higher
    #: sequence) supersedes every earlier one for that date.
    business_date: dt.date | None = None
    #: ASC: the delivery sequence (001, 002, ...)
    sequence: int | None = None
    #: set when the batch is rejected whole: the reason, naming file/line/journal, expected and found
    error: str | None = None
    #: the source's columns exactly as read, all strings (for the raw-format validation suite);
    #: dropped once validated, to keep memory bounded by the batch
    raw: pa.Table | None = None
    #: format-specific bookkeeping the loader stores with the batch (e.g. WP journal ids loaded)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the format that read it (forces.yaml ``source_format``): chooses its raw validation suite
    source_format: str | None = None

    @property
    def rejected(self) -> bool:
        return self.error is not None

    def reject(self, reason: str) -> None:
        """Reject the batch whole: no line of it may reach the warehouse."""
        self.error = reason if self.error is None else f"{self.error}; {reason}"


def empty_lines() -> pa.Table:
    """A conformed table with no rows."""
    return CONFORMED_SCHEMA.empty_table()


# --- handing batches from one task to the next ---------------------------------------------------
# The Airflow DAG validates in one task and loads in the next, possibly on another machine, so a
# validated batch is handed over as two parts: its lines as Parquet bytes (exact int64 pence and
# typed columns survive) and the rest as JSON text. warehouse/staging.py keeps them in the
# warehouse, which every worker reaches. The CLI keeps batches in memory and never calls these.

_BATCH_FIELDS = ("force_code", "source_ref", "digest", "rows_read", "total_debit_pence",
                 "total_credit_pence", "sequence", "error", "meta", "source_format")


def batch_to_parts(batch: Batch) -> tuple[str, bytes]:
    """``(metadata JSON, lines as Parquet bytes)``; :func:`batch_from_parts` gives the batch back
    (without ``raw``, which validation has consumed)."""
    buffer = io.BytesIO()
    pq.write_table(batch.lines.cast(CONFORMED_SCHEMA), buffer)
    doc = {name: getattr(batch, name) for name in _BATCH_FIELDS}
    doc["business_date"] = batch.business_date.isoformat() if batch.business_date else None
    doc["quarantine"] = [dataclasses.asdict(q) for q in batch.quarantine]
    return json.dumps(doc, default=str, ensure_ascii=False), buffer.getvalue()


def batch_from_parts(meta: str, lines: bytes) -> Batch:
    """The batch :func:`batch_to_parts` split."""
    doc = json.loads(meta)
    table = pq.read_table(io.BytesIO(lines)).cast(CONFORMED_SCHEMA)
    quarantine = [QuarantinedLine(**q) for q in doc.pop("quarantine")]
    business_date = doc.pop("business_date", None)
    return Batch(lines=table, quarantine=quarantine,
                 business_date=dt.date.fromisoformat(business_date) if business_date else None, **doc)

