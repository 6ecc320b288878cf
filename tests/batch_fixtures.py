"""Batches built in code from the contract (docs/contracts.md), for the validation tests: conformed
lines of ``ledger.CONFORMED_SCHEMA`` and the ``raw`` table of strings the readers keep. Each builder
makes a valid batch; a test breaks one thing through the line's fields or its ``raw`` overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch
from alliance_finance.core.money import format_pence

ASC_HEADER = ("Company Code", "Fiscal Year", "Posting Period", "Document Number", "Line Item",
              "Document Type", "Posting Date", "Document Date", "Cost Centre", "GL Account", "Amount",
              "D/C", "Text", "Vendor", "Reference")
WP_RAW_COLUMNS = ("journal_id", "line_no", "source", "period_name", "accounting_date", "status",
                  "posted_at", "reverses_journal_id", "account_string", "entered_dr", "entered_cr",
                  "line_description", "supplier_name")


@dataclasses.dataclass
class AscLine:
    """One SAP line item; ``pence`` is signed (debit positive). ``raw`` overrides text as read."""

    document: str
    item: int
    pence: int
    gl_account: str = "510000"
    cost_centre: str | None = "AS100200"
    fiscal_year: int = 2016
    period: int = 1
    posting_date: dt.date = dt.date(2016, 4, 5)
    document_type: str = "SA"
    text: str = "Stationery"
    raw: dict = dataclasses.field(default_factory=dict)


def balanced_document(document: str, pence: int, cost_centre: str | None = "AS100200", **common) -> list[AscLine]:
    """A spending line and its creditor (balance sheet, no cost centre)."""
    return [AscLine(document, 1, pence, cost_centre=cost_centre, **common),
            AscLine(document, 2, -pence, gl_account="210000", cost_centre=None, **common)]


def asc_batch(lines: list[AscLine], name: str = "ASC_GL_20160405_001.csv", *, control: bool = True) -> Batch:
    raw_rows, conformed = [], []
    for number, line in enumerate(lines, start=2):
        document_ref = f"ASC1/{line.fiscal_year}/{line.document}"
        raw = {
            "Company Code": "ASC1", "Fiscal Year": str(line.fiscal_year), "Posting Period": str(line.period),
            "Document Number": line.document, "Line Item": str(line.item),
            "Document Type": line.document_type, "Posting Date": f"{line.posting_date:%d.%m.%Y}",
            "Document Date": None, "Cost Centre": line.cost_centre, "GL Account": line.gl_account,
            "Amount": format_pence(abs(line.pence)), "D/C": "S" if line.pence >= 0 else "H",
            "Text": line.text, "Vendor": None, "Reference": None,
        }
        raw.update(line.raw)
        raw_rows.append({**raw, "source_line_number": number})
        conformed.append({
            "force_code": "ASC", "source_line_ref": f"{document_ref}/{line.item}", "document_ref": document_ref,
            "source_line_number": number, "fiscal_year": line.fiscal_year, "period": line.period,
            "posting_date": line.posting_date, "cost_centre": line.cost_centre,
            "local_account": line.gl_account, "amount_pence": line.pence,
            "document_type": line.document_type, "line_text": line.text, "vendor": None, "reference": None,
        })
    debit = sum(line.pence for line in lines if line.pence > 0)
    credit = -sum(line.pence for line in lines if line.pence < 0)
    raw_schema = pa.schema([pa.field(n, pa.string()) for n in ASC_HEADER] + [pa.field("source_line_number", pa.int64())])
    meta = {"control": {"file": name, "rows": len(lines), "total_debit": format_pence(debit),
                        "total_credit": format_pence(credit), "total_debit_pence": debit,
                        "total_credit_pence": credit}} if control else {}
    return Batch(
        force_code="ASC", source_ref=name, digest="0" * 64,
        lines=pa.Table.from_pylist(conformed, schema=CONFORMED_SCHEMA),
        raw=pa.Table.from_pylist(raw_rows, schema=raw_schema),
        rows_read=len(lines), total_debit_pence=debit, total_credit_pence=credit,
        business_date=dt.date(2016, 4, 5), sequence=1, meta=meta,
    )


@dataclasses.dataclass
class WpLine:
    account_string: str
    pence: int
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class WpJournal:
    journal_id: int
    lines: list[WpLine]
    period_name: str = "APR-16"
    fiscal_year: int = 2016
    period: int = 1
    accounting_date: dt.date = dt.date(2016, 4, 12)
    source: str = "AP"


def invoice(journal_id: int, pence: int, account: str = "WP.2200.42000.0000", **common) -> WpJournal:
    return WpJournal(journal_id, [WpLine(account, pence), WpLine("WP.0000.21000.0000", -pence)], **common)


def wp_batch(journals: list[WpJournal], ref: str = "WP ERP gl_journal FY2016 P01", *,
             force_code: str = "WP") -> Batch:
    """An erp_sql batch of ``journals``; ``force_code`` names another force on the same format."""
    raw_rows, conformed = [], []
    for journal in journals:
        for line_no, line in enumerate(journal.lines, start=1):
            _, cost_centre, account, _ = line.account_string.split(".") + [""] * (4 - len(line.account_string.split(".")))
            raw = {
                "journal_id": str(journal.journal_id), "line_no": str(line_no), "source": journal.source,
                "period_name": journal.period_name, "accounting_date": journal.accounting_date.isoformat(),
                "status": "P", "posted_at": f"{journal.accounting_date.isoformat()}T18:00:00",
                "reverses_journal_id": None, "account_string": line.account_string,
                "entered_dr": format_pence(line.pence) if line.pence >= 0 else None,
                "entered_cr": format_pence(-line.pence) if line.pence < 0 else None,
                "line_description": "goods", "supplier_name": None,
            }
            raw.update(line.raw)
            raw_rows.append({**raw, "source_line_number": line_no})
            conformed.append({
                "force_code": force_code, "source_line_ref": f"{journal.journal_id}/{line_no}",
                "document_ref": str(journal.journal_id), "source_line_number": line_no,
                "fiscal_year": journal.fiscal_year, "period": journal.period,
                "posting_date": journal.accounting_date, "cost_centre": cost_centre,
                "local_account": account, "amount_pence": line.pence, "document_type": journal.source,
                "line_text": "goods", "vendor": None, "reference": f"invoice {journal.journal_id}",
            })
    raw_schema = pa.schema([pa.field(n, pa.string()) for n in WP_RAW_COLUMNS] + [pa.field("source_line_number", pa.int64())])
    amounts = [line.pence for journal in journals for line in journal.lines]
    return Batch(
        force_code=force_code, source_ref=ref, digest="1" * 64,
        lines=pa.Table.from_pylist(conformed, schema=CONFORMED_SCHEMA),
        raw=pa.Table.from_pylist(raw_rows, schema=raw_schema),
        rows_read=len(raw_rows), total_debit_pence=sum(p for p in amounts if p > 0),
        total_credit_pence=-sum(p for p in amounts if p < 0),
        meta={"journal_ids": [j.journal_id for j in journals], "fiscal_year": 2016, "period": 1},
    )


def happy_asc(name: str = "ASC_GL_20160405_001.csv", documents: int = 3) -> Batch:
    lines = [line for d in range(documents) for line in balanced_document(f"{1000000001 + d}", 1234567 + d)]
    return asc_batch(lines, name)
