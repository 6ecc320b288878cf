"""The Wiltshire ERP reader, on a SQLite file and on a real MariaDB database with the same test bodies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from alliance_finance.sources.erp_sql import (
    AccountString,
    amount_to_pence,
    extract_new_journals,
    parse_account_string,
    parse_period_name,
)
from alliance_finance.core.errors import SourceSchemaError
from alliance_finance.core.ledger import CONFORMED_SCHEMA
from wp_fixtures import (
    CREDITOR_ACCOUNT,
    EXPENSE_ACCOUNT,
    Journal,
    Line,
    create_erp_database,
    execute,
    insert_journals,
    insert_journals_on,
    invoice,
    reversal,
    source_engine,
)

D = dt.date
T = dt.datetime


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def erp_url(request, tmp_path):
    """An empty database (no tables yet) on each source dialect in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'erp.db'}"
    return request.getfixturevalue("mariadb_url")


def erp(url: str, journals: list[Journal], **schema) -> str:
    create_erp_database(url, **schema)
    insert_journals(url, journals)
    return url


def extract(url: str, loaded: set[int] | None = None, **kwargs):
    return list(extract_new_journals(url, loaded or set(), **kwargs))


def loaded_ids(batches) -> set[int]:
    return {journal_id for batch in batches for journal_id in batch.meta["journal_ids"]}


def refs(batches) -> list[str]:
    return [ref for batch in batches for ref in batch.lines.column("source_line_ref").to_pylist()]


def assert_row_accounting(batch):
    assert batch.rows_read == batch.lines.num_rows + len(batch.quarantine)
    assert batch.raw.num_rows == batch.lines.num_rows


# -- the happy path -------------------------------------------------------------------------------

def test_posted_journals_become_conformed_lines_by_period(erp_url):
    apr = invoice(101, "APR-16", D(2016, 4, 5), "1234.56", posted_at=T(2016, 4, 5, 18))
    journals = [
        apr,
        reversal(apr, 102, posted_at=T(2016, 4, 6, 9)),
        invoice(103, "MAY-16", D(2016, 5, 31), "0.07"),
        invoice(104, "MAR-17", D(2017, 3, 31), "99.00"),
        # year-end adjustment after the year closed: FY2016 period 13
        invoice(105, "ADJ-17", D(2017, 4, 20), "10.10", posted_at=T(2017, 4, 21, 7, 30)),
    ]
    batches = extract(erp(erp_url, journals))

    assert [(b.meta["fiscal_year"], b.meta["period"]) for b in batches] == [(2016, 1), (2016, 2), (2016, 12), (2016, 13)]
    first = batches[0]
    assert first.source_ref == "WP ERP gl_journal FY2016 P01 (2 journals, ids 101-102)"
    assert first.meta == {"journal_ids": [101, 102], "fiscal_year": 2016, "period": 1,
                          "max_posted_at": "2016-04-06T09:00:00"}
    assert first.lines.schema == CONFORMED_SCHEMA
    assert first.lines.to_pylist() == [
        {"force_code": "WP", "source_line_ref": "101/1", "document_ref": "101", "source_line_number": 1,
         "fiscal_year": 2016, "period": 1, "posting_date": D(2016, 4, 5), "cost_centre": "2200",
         "local_account": "42000", "amount_pence": 123456, "document_type": "AP", "line_text": "goods",
         "vendor": "ACME LTD", "reference": "invoice 101"},
        {"force_code": "WP", "source_line_ref": "101/2", "document_ref": "101", "source_line_number": 2,
         "fiscal_year": 2016, "period": 1, "posting_date": D(2016, 4, 5), "cost_centre": "0000",
         "local_account": "21000", "amount_pence": -123456, "document_type": "AP", "line_text": "creditors",
         "vendor": "ACME LTD", "reference": "invoice 101"},
        {"force_code": "WP", "source_line_ref": "102/1", "document_ref": "102", "source_line_number": 1,
         "fiscal_year": 2016, "period": 1, "posting_date": D(2016, 4, 5), "cost_centre": "2200",
         "local_account": "42000", "amount_pence": -123456, "document_type": "AP", "line_text": "goods",
         "vendor": "ACME LTD", "reference": "reversal of 101"},
        {"force_code": "WP", "source_line_ref": "102/2", "document_ref": "102", "source_line_number": 2,
         "fiscal_year": 2016, "period": 1, "posting_date": D(2016, 4, 5), "cost_centre": "0000",
         "local_account": "21000", "amount_pence": 123456, "document_type": "AP", "line_text": "creditors",
         "vendor": "ACME LTD", "reference": "reversal of 101"},
    ]
    assert (first.rows_read, first.total_debit_pence, first.total_credit_pence) == (4, 246912, 246912)
    assert first.raw.column_names == [
        "journal_id", "line_no", "source", "period_name", "accounting_date", "status", "posted_at",
        "reverses_journal_id", "account_string", "entered_dr", "entered_cr", "line_description",
        "supplier_name", "source_line_number"]
    assert first.raw.to_pylist()[2] == {
        "journal_id": "102", "line_no": "1", "source": "AP", "period_name": "APR-16",
        "accounting_date": "2016-04-05", "status": "P", "posted_at": "2016-04-06T09:00:00",
        "reverses_journal_id": "101", "account_string": EXPENSE_ACCOUNT, "entered_dr": None,
        "entered_cr": "1234.56", "line_description": "goods", "supplier_name": "ACME LTD",
        "source_line_number": 1}
    assert batches[1].lines.column("amount_pence").to_pylist() == [7, -7]
    adjustment = batches[3]
    assert adjustment.source_ref == "WP ERP gl_journal FY2016 P13 (1 journal, ids 105-105)"
    assert adjustment.lines.column("period").to_pylist() == [13, 13]
    assert adjustment.lines.column("posting_date").to_pylist() == [D(2017, 4, 20)] * 2
    assert adjustment.meta["max_posted_at"] == "2017-04-21T07:30:00"
    for batch in batches:
        assert_row_accounting(batch)
        assert not batch.quarantine and not batch.rejected
        assert len(batch.digest) == 64


def test_journals_ordered_by_posted_at_then_id_within_a_period(erp_url):
    # ids increase over time but not in posting order
    journals = [
        invoice(7, "JUN-16", D(2016, 6, 1), "1.00", posted_at=T(2016, 6, 3)),
        invoice(5, "JUN-16", D(2016, 6, 1), "1.00", posted_at=T(2016, 6, 2)),
        invoice(9, "JUN-16", D(2016, 6, 1), "1.00", posted_at=T(2016, 6, 2)),
        invoice(3, "JUN-16", D(2016, 6, 1), "1.00", posted_at=T(2016, 6, 4)),
    ]
    batches = extract(erp(erp_url, journals))
    assert [ref for ref in refs(batches) if ref.endswith("/1")] == ["5/1", "9/1", "7/1", "3/1"]


def test_unposted_journals_are_not_ledger(erp_url):
    journals = [
        invoice(1, "APR-16", D(2016, 4, 1), "5.00"),
        invoice(2, "APR-16", D(2016, 4, 1), "6.00", status="U"),
        # not 'P': MariaDB's default collation would call it equal to 'P'; it is not posted
        invoice(3, "APR-16", D(2016, 4, 1), "7.00", status="p", posted_at=T(2016, 4, 1, 12)),
    ]
    batches = extract(erp(erp_url, journals))
    assert loaded_ids(batches) == {1}
    assert refs(batches) == ["1/1", "1/2"]


# -- incremental and complete ----------------------------------------------------------------------

def test_incremental_runs_find_late_and_new_journals_and_nothing_twice(erp_url):
    url = erp(erp_url, [invoice(10, "APR-16", D(2016, 4, 10), "10.00", posted_at=T(2016, 4, 10, 12)),
                        invoice(11, "MAY-16", D(2016, 5, 10), "11.00", posted_at=T(2016, 5, 10, 12))])
    first = extract(url)
    loaded = loaded_ids(first)
    assert loaded == {10, 11}
    assert extract(url, loaded) == []

    # a long transaction commits late: its posted_at is older than journals already loaded
    insert_journals(url, [invoice(12, "APR-16", D(2016, 4, 9), "12.00", posted_at=T(2016, 4, 9, 8)),
                          invoice(13, "JUN-16", D(2016, 6, 1), "13.00", posted_at=T(2016, 6, 1, 8))])
    second = extract(url, loaded)
    assert loaded_ids(second) == {12, 13}
    assert refs(second) == ["12/1", "12/2", "13/1", "13/2"]
    assert not set(refs(first)) & set(refs(second))
    loaded |= loaded_ids(second)
    assert extract(url, loaded) == []


def test_a_journal_committing_during_a_run_is_found_by_the_next(erp_url):
    url = erp(erp_url, [invoice(20, "APR-16", D(2016, 4, 20), "20.00", posted_at=T(2016, 4, 20, 12))])
    writer = source_engine(url)
    try:
        with writer.connect() as erp_session:
            transaction = erp_session.begin()
            # posted, with an older posted_at, but not yet committed when the pipeline reads
            insert_journals_on(erp_session, [invoice(19, "APR-16", D(2016, 4, 2), "19.00", posted_at=T(2016, 4, 2, 8))])
            first = extract(url)
            assert loaded_ids(first) == {20}
            transaction.commit()
    finally:
        writer.dispose()
    second = extract(url, loaded_ids(first))
    assert loaded_ids(second) == {19}
    assert refs(second) == ["19/1", "19/2"]


def test_an_unposted_journal_is_picked_up_once_posted(erp_url):
    url = erp(erp_url, [invoice(30, "JUL-16", D(2016, 7, 1), "30.00"),
                        invoice(31, "JUL-16", D(2016, 7, 1), "31.00", status="U")])
    first = extract(url)
    assert loaded_ids(first) == {30}
    execute(url, "UPDATE gl_journal SET status = 'P', posted_at = :posted_at WHERE journal_id = 31",
            posted_at=T(2016, 7, 2, 10))
    second = extract(url, loaded_ids(first))
    assert loaded_ids(second) == {31}
    assert second[0].lines.column("amount_pence").to_pylist() == [3100, -3100]


def test_reads_one_snapshot_across_the_batches_of_a_run(erp_url):
    url = erp(erp_url, [invoice(40, "APR-16", D(2016, 4, 1), "40.00"),
                        invoice(41, "MAY-16", D(2016, 5, 1), "41.00")])
    if url.startswith("sqlite"):
        execute(url, "PRAGMA journal_mode=WAL")  # lets the ERP commit while the pipeline reads
    run = extract_new_journals(url, set())
    april = next(run)
    assert april.meta["journal_ids"] == [40]
    # committed after the run started: a new journal, and (against the contract) a line added to
    # a journal the run has listed but not read yet; the run must see neither
    insert_journals(url, [invoice(42, "APR-16", D(2016, 4, 2), "42.00")])
    execute(url, "INSERT INTO gl_journal_line (journal_id, line_no, account_string, entered_dr) "
                 "VALUES (41, 3, :account, :amount)", account=EXPENSE_ACCOUNT, amount="1.00")
    may = list(run)
    assert [b.meta["journal_ids"] for b in may] == [[41]]
    assert may[0].lines.num_rows == 2 and not may[0].quarantine
    later = extract(url, {40, 41})
    assert loaded_ids(later) == {42}


def test_loaded_ids_unknown_to_the_source_are_harmless(erp_url):
    url = erp(erp_url, [invoice(50, "APR-16", D(2016, 4, 1), "1.00")])
    assert loaded_ids(extract(url, {1, 2, 3, 999999})) == {50}


# -- batches ----------------------------------------------------------------------------------------

def _journal_of(journal_id: int, lines: int, posted_at: dt.datetime) -> Journal:
    debits = [Line(EXPENSE_ACCOUNT, entered_dr="1.00") for _ in range(lines - 1)]
    return Journal(journal_id, "AUG-16", D(2016, 8, 1), posted_at,
                   debits + [Line(CREDITOR_ACCOUNT, entered_cr=f"{lines - 1}.00")])


def test_a_large_period_is_split_keeping_journals_whole(erp_url):
    journals = [_journal_of(60 + i, lines, T(2016, 8, 1, 8 + i)) for i, lines in enumerate((2, 2, 2, 3, 7, 2))]
    batches = extract(erp(erp_url, journals), max_lines_per_batch=5)
    assert [b.meta["journal_ids"] for b in batches] == [[60, 61], [62, 63], [64], [65]]
    assert [b.source_ref for b in batches] == [
        "WP ERP gl_journal FY2016 P05 part 1 of 4 (2 journals, ids 60-61)",
        "WP ERP gl_journal FY2016 P05 part 2 of 4 (2 journals, ids 62-63)",
        "WP ERP gl_journal FY2016 P05 part 3 of 4 (1 journal, ids 64-64)",
        "WP ERP gl_journal FY2016 P05 part 4 of 4 (1 journal, ids 65-65)",
    ]
    assert [b.rows_read for b in batches] == [4, 5, 7, 2]
    assert len({b.digest for b in batches}) == 4
    assert sum(b.lines.num_rows for b in batches) == 18


def test_the_digest_is_repeatable_and_follows_the_content(tmp_path):
    journals = [invoice(70, "SEP-16", D(2016, 9, 1), "70.00"), invoice(71, "SEP-16", D(2016, 9, 2), "71.00")]
    one = erp(f"sqlite:///{tmp_path / 'one.db'}", journals)
    assert [b.digest for b in extract(one)] == [b.digest for b in extract(one)]
    changed = [invoice(70, "SEP-16", D(2016, 9, 1), "70.00"), invoice(71, "SEP-16", D(2016, 9, 2), "71.01")]
    other = erp(f"sqlite:///{tmp_path / 'other.db'}", changed)
    assert extract(one)[0].digest != extract(other)[0].digest


@pytest.mark.mariadb
def test_sqlite_and_mariadb_give_identical_batches(tmp_path, mariadb_url):
    original = invoice(80, "OCT-16", D(2016, 10, 3), "1000000.01", posted_at=T(2016, 10, 3, 9, 15, 30))
    journals = [original, reversal(original, 81), invoice(82, "ADJ-17", D(2017, 3, 31), "12.00"),
                invoice(83, "OCT-16", D(2016, 10, 4), "0.10", supplier="REDACTED PERSONAL DATA",
                        description="Café Zoë, “quoted”, 50%")]
    on_sqlite = extract(erp(f"sqlite:///{tmp_path / 'erp.db'}", journals))
    on_mariadb = extract(erp(mariadb_url, journals))
    assert [b.digest for b in on_sqlite] == [b.digest for b in on_mariadb]
    for lite, maria in zip(on_sqlite, on_mariadb, strict=True):
        assert lite.lines.equals(maria.lines)
        assert lite.raw.equals(maria.raw)
        assert (lite.source_ref, lite.meta, lite.rows_read) == (maria.source_ref, maria.meta, maria.rows_read)


# -- a bad journal is quarantined whole; the others load ------------------------------------------

GOOD = invoice(900, "APR-16", D(2016, 4, 15), "900.00")


def _bad(lines=None, **header) -> Journal:
    values = dict(journal_id=500, period_name="APR-16", accounting_date=D(2016, 4, 12),
                  posted_at=T(2016, 4, 12, 17), source="GL", description="bad one")
    values.update(header)
    if lines is None:
        lines = [Line(EXPENSE_ACCOUNT, entered_dr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="10.00")]
    return Journal(lines=lines, **values)


BAD_JOURNALS = {
    "does not balance": (
        _bad([Line(EXPENSE_ACCOUNT, entered_dr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="9.99")]),
        "debits 10.00 and credits 9.99 differ by 0.01"),
    "both debit and credit": (
        _bad([Line(EXPENSE_ACCOUNT, entered_dr="10.00", entered_cr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="0.00")]),
        "line 1: expected exactly one of entered_dr and entered_cr, found both (10.00 and 10.00)"),
    "neither debit nor credit": (
        _bad([Line(EXPENSE_ACCOUNT, entered_dr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="10.00"),
              Line(EXPENSE_ACCOUNT)]),
        "line 3: expected exactly one of entered_dr and entered_cr, found neither"),
    "negative amount": (
        _bad([Line(EXPENSE_ACCOUNT, entered_dr="-10.00"), Line(CREDITOR_ACCOUNT, entered_dr="20.00"),
              Line(CREDITOR_ACCOUNT, entered_cr="10.00")]),
        "line 1 entered_dr: expected a non-negative amount, found -10.00"),
    "malformed account string": (
        _bad([Line("WP.2200.4200.0000", entered_dr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="10.00")]),
        "line 1: malformed account string 'WP.2200.4200.0000': expected WP.<4 digits>.<5 digits>.<4 digits>"),
    "account of another force": (
        _bad([Line("AS.2200.42000.0000", entered_dr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="10.00")]),
        "malformed account string 'AS.2200.42000.0000'"),
    "missing account string": (
        _bad([Line(None, entered_dr="10.00"), Line(CREDITOR_ACCOUNT, entered_cr="10.00")]),
        "line 1: malformed account string None"),
    "unknown period name": (
        _bad(period_name="APR-2016"),
        "unknown period name 'APR-2016': expected MON-YY (APR-16 ... MAR-17) or ADJ-YY"),
    "accounting date outside the period": (
        _bad(accounting_date=D(2016, 6, 3)),
        "accounting_date 2016-06-03 lies outside period APR-16 (FY2016 P01: expected a date in April 2016)"),
    "adjustment dated before March": (
        _bad(period_name="ADJ-17", accounting_date=D(2017, 2, 28)),
        "accounting_date 2017-02-28 lies outside period ADJ-17 (FY2016 P13: expected a date on or after 2017-03-01)"),
    "no lines": (
        _bad([]),
        "the journal has no lines: expected at least two balancing lines"),
    "line number used twice": (
        _bad([Line(EXPENSE_ACCOUNT, entered_dr="10.00", line_no=1), Line(CREDITOR_ACCOUNT, entered_cr="10.00", line_no=1)]),
        "line_no 1 is used twice"),
    "posted without posted_at": (
        _bad(posted_at=None),
        "posted_at: expected the timestamp it was posted at, found None"),
    "no accounting date": (
        _bad(accounting_date=None),
        "accounting_date: expected a date (YYYY-MM-DD), found None"),
    "no journal source": (
        _bad(source=None),
        "expected a journal source (AP, AR, GL, PAY, FA), found None"),
}


@pytest.mark.parametrize("defect", list(BAD_JOURNALS))
def test_a_bad_journal_is_quarantined_whole_and_the_good_ones_load(erp_url, defect):
    bad, expected_reason = BAD_JOURNALS[defect]
    batches = extract(erp(erp_url, [GOOD, bad]))

    assert refs(batches) == ["900/1", "900/2"]
    assert loaded_ids(batches) == {500, 900}
    quarantined = [q for b in batches for q in b.quarantine]
    assert {q.document_ref for q in quarantined} == {"500"}
    assert len(quarantined) == max(len(bad.lines), 1)
    for q in quarantined:
        assert q.reason.startswith("journal 500 quarantined whole: ")
        assert expected_reason in q.reason
        original = json.loads(q.original)
        assert original["journal_id"] == "500"
    if bad.lines:
        assert sorted(json.loads(q.original)["account_string"] or "" for q in quarantined) == sorted(
            line.account_string or "" for line in bad.lines)
        assert sorted(q.source_line_ref for q in quarantined) == sorted(
            f"500/{line.line_no or n}" for n, line in enumerate(bad.lines, start=1))
    else:
        assert quarantined[0].source_line_ref == "500/-"
    for batch in batches:
        assert_row_accounting(batch)


def test_a_journal_of_an_unknown_period_comes_last_in_a_batch_of_its_own(erp_url):
    batches = extract(erp(erp_url, [_bad(period_name="XYZ-16"), GOOD]))
    assert [b.meta["period"] for b in batches] == [1, None]
    unknown = batches[1]
    assert unknown.source_ref == "WP ERP gl_journal unknown period (1 journal, ids 500-500)"
    assert unknown.lines.num_rows == 0 and unknown.rows_read == len(unknown.quarantine) == 2
    assert unknown.meta["fiscal_year"] is None


def test_amounts_with_more_than_two_decimals_are_quarantined(erp_url):
    # numeric(14,2) would round a third decimal away on MariaDB; a wider column keeps it
    bad = _bad([Line(EXPENSE_ACCOUNT, entered_dr="10.005"), Line(CREDITOR_ACCOUNT, entered_cr="10.005")])
    good = invoice(900, "APR-16", D(2016, 4, 15), "900.0000")
    batches = extract(erp(erp_url, [good, bad], amount_type=sa.Numeric(16, 4)))
    assert batches[0].lines.column("amount_pence").to_pylist() == [90000, -90000]
    reasons = {q.reason for q in batches[0].quarantine}
    assert len(batches[0].quarantine) == 2 and len(reasons) == 1
    # MariaDB returns Decimal('10.0050'), SQLite the float nearest 10.005: both are refused
    reason = reasons.pop()
    assert "line 1 entered_dr: expected " in reason and "at most two decimals" in reason
    assert "10.005" in reason and "line 2 entered_cr" in reason
    # what was read is totalled only where it is a valid amount
    assert (batches[0].total_debit_pence, batches[0].total_credit_pence) == (90000, 90000)


def test_several_defects_are_all_named(erp_url):
    bad = _bad([Line("WP.X", entered_dr="10.00", entered_cr="1.00"), Line(CREDITOR_ACCOUNT)],
               accounting_date=D(2016, 5, 1))
    [batch] = extract(erp(erp_url, [bad]))
    reason = batch.quarantine[0].reason
    for part in ("outside period APR-16", "line 1: expected exactly one", "line 1: malformed account string 'WP.X'",
                 "line 2: expected exactly one of entered_dr and entered_cr, found neither"):
        assert part in reason
    assert "differ" not in reason  # no balance check on amounts that are themselves wrong


# -- exact money from SQLite's floating-point storage ----------------------------------------------

def test_sqlite_amounts_stored_as_float_integer_or_text_are_exact(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    # BLOB affinity: SQLite keeps each value as written (float, integer or text)
    create_erp_database(url, amount_type=sa.LargeBinary())
    insert_journals(url, [
        Journal(1, "APR-16", D(2016, 4, 1), T(2016, 4, 1, 9), [
            Line(EXPENSE_ACCOUNT, entered_dr=1234567890.12),  # a float, the nearest double
            Line(EXPENSE_ACCOUNT, entered_dr=7),  # an integer
            Line(EXPENSE_ACCOUNT, entered_dr="0.10"),  # text
            Line(CREDITOR_ACCOUNT, entered_cr=1234567897.22),
        ]),
        Journal(2, "APR-16", D(2016, 4, 1), T(2016, 4, 1, 9), [
            Line(EXPENSE_ACCOUNT, entered_dr=0.1 + 0.2),  # 0.30000000000000004: not a two-decimal amount
            Line(CREDITOR_ACCOUNT, entered_cr="0.30"),
        ]),
        Journal(3, "APR-16", D(2016, 4, 1), T(2016, 4, 1, 9), [
            Line(EXPENSE_ACCOUNT, entered_dr="ten pounds"),
            Line(CREDITOR_ACCOUNT, entered_cr="10.00"),
        ]),
    ])
    [batch] = extract(url)
    assert batch.lines.column("amount_pence").to_pylist() == [123456789012, 700, 10, -123456789722]
    assert batch.raw.column("entered_dr").to_pylist()[:3] == ["1234567890.12", "7.00", "0.10"]
    reasons = {q.document_ref: q.reason for q in batch.quarantine}
    assert "line 1 entered_dr: expected an exact amount with at most two decimals, found the binary " \
           "floating-point value 0.30000000000000004" in reasons["2"]
    assert "line 1 entered_dr: expected a number, found 'ten pounds'" in reasons["3"]
    assert json.loads(batch.quarantine[0].original)["entered_dr"] == "0.30000000000000004"


def test_sqlite_numeric_affinity_floats_are_read_exactly(tmp_path):
    # the usual case: numeric(14,2) under SQLite keeps cents as REAL; no float may leak through
    amounts = ["0.01", "0.10", "0.29", "1.15", "2.675", "999999999999.99", "123456789.07"]
    lines = [Line(EXPENSE_ACCOUNT, entered_dr=a) for a in amounts if a != "2.675"]
    lines.append(Line(CREDITOR_ACCOUNT, entered_cr=str(sum(Decimal(a) for a in amounts if a != "2.675"))))
    url = erp(f"sqlite:///{tmp_path / 'erp.db'}", [Journal(1, "APR-16", D(2016, 4, 1), T(2016, 4, 1), lines),
                                                    _bad([Line(EXPENSE_ACCOUNT, entered_dr="2.675"),
                                                          Line(CREDITOR_ACCOUNT, entered_cr="2.675")])])
    with source_engine(url).connect() as connection:
        stored = connection.exec_driver_sql("SELECT typeof(entered_dr) FROM gl_journal_line WHERE line_no = 1").scalars().all()
    assert "real" in stored  # what makes the test worth having
    [batch] = extract(url)
    assert batch.lines.column("amount_pence").to_pylist()[:-1] == [
        1, 10, 29, 115, 99999999999999, 12345678907]
    assert "found the binary floating-point value 2.675" in batch.quarantine[0].reason


def test_sqlite_dates_and_timestamps_as_text(tmp_path):
    def dated(journal_id, accounting_date, posted_at):
        return Journal(journal_id, "APR-16", accounting_date, posted_at,
                       [Line(EXPENSE_ACCOUNT, entered_dr="1.00"), Line(CREDITOR_ACCOUNT, entered_cr="1.00")])

    url = erp(f"sqlite:///{tmp_path / 'erp.db'}", [
        dated(1, "2016-04-01", "2016-04-01T10:00:00"),
        dated(2, "2016-04-02 00:00:00", "2016-04-01 09:00:00.000000"),
        dated(3, "2016-04-03", "2016-04-01T08:00:00+01:00"),  # 07:00 UTC
        dated(4, "2016-02-30", "2016-04-01 11:00"),
        dated(5, "01/04/2016", "2016-04-01 12:00"),
        dated(6, "2016-04-06", "yesterday"),
    ])
    [batch] = extract(url)
    assert batch.lines.column("document_ref").to_pylist() == ["3", "3", "2", "2", "1", "1"]
    assert batch.lines.column("posting_date").to_pylist()[::2] == [D(2016, 4, 3), D(2016, 4, 2), D(2016, 4, 1)]
    reasons = {q.document_ref: q.reason for q in batch.quarantine}
    assert "accounting_date: expected a date (YYYY-MM-DD), found '2016-02-30'" in reasons["4"]
    assert "accounting_date: expected a date (YYYY-MM-DD), found '01/04/2016'" in reasons["5"]
    assert "posted_at: expected the timestamp it was posted at, found 'yesterday'" in reasons["6"]
    assert batch.meta["max_posted_at"] == "2016-04-01T12:00:00"


@pytest.mark.parametrize("value,pence", [
    (Decimal("12.34"), 1234), (Decimal("12.3400"), 1234), (Decimal("0"), 0), (12, 1200), ("12.34", 1234),
    (12.34, 1234), (0.1, 10), (12.0, 1200), (999999999999.99, 99999999999999),
])
def test_amount_to_pence_exact(value, pence):
    assert amount_to_pence(value) == pence


@pytest.mark.parametrize("value,message", [
    (Decimal("12.345"), "at most two decimals"), (12.345, "binary floating-point value 12.345"),
    (0.1 + 0.2, "0.30000000000000004"), (float("nan"), "expected a number"), (float("inf"), "expected a number"),
    (Decimal("NaN"), "expected a number"), (-1, "non-negative"), (Decimal("-0.01"), "non-negative"),
    (-0.5, "non-negative"), ("1,234.00", "expected a number"), ("", "expected a number"), (True, "expected an amount"),
    (None, "expected an amount"), (b"12.00", "expected a number"),
])
def test_amount_to_pence_refuses(value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        amount_to_pence(value)


# -- the two routes through a batch: whole columns, and line by line ---------------------------------

def assert_same_batches(column_wise: list, line_by_line: list) -> None:
    """Batch for batch: the same lines, raw columns, quarantine, digest, totals and metadata."""
    assert len(column_wise) == len(line_by_line)
    for fast, slow in zip(column_wise, line_by_line, strict=True):
        assert fast.lines.equals(slow.lines), fast.source_ref
        assert fast.raw.equals(slow.raw), fast.source_ref
        assert fast.quarantine == slow.quarantine, fast.source_ref
        assert (fast.source_ref, fast.digest, fast.rows_read, fast.total_debit_pence, fast.total_credit_pence,
                fast.meta) == (slow.source_ref, slow.digest, slow.rows_read, slow.total_debit_pence,
                               slow.total_credit_pence, slow.meta)


def test_generated_journals_read_the_same_by_whole_columns_and_line_by_line(tmp_path_factory):
    """The column-wise path is the line-by-line reader's rules on whole columns: on the generator's
    ERP database (thousands of journals, reversals, every source) both routes give the same batches."""
    from conftest import make_sample_sources

    url = f"sqlite:///{make_sample_sources(tmp_path_factory, 2016, 2016) / 'wiltshire' / 'erp.db'}"
    column_wise = extract(url, max_lines_per_batch=5_000)
    assert sum(b.lines.num_rows for b in column_wise) > 5_000 and len(column_wise) > 2
    assert_same_batches(column_wise, extract(url, max_lines_per_batch=5_000, line_by_line=True))


def test_every_defect_reads_the_same_by_whole_columns_and_line_by_line(erp_url):
    """Every bad journal of BAD_JOURNALS in one database, among good ones: the quarantine (each reason
    word for word), the lines and the totals are the same whichever route read them."""
    bad = [dataclasses.replace(journal, journal_id=500 + n) for n, (journal, _) in enumerate(BAD_JOURNALS.values())]
    good = [GOOD, reversal(GOOD, 901), invoice(902, "ADJ-17", D(2017, 3, 31), "12.34", supplier="Café Zoë")]
    url = erp(erp_url, bad + good)
    column_wise = extract(url)
    assert {q.document_ref for b in column_wise for q in b.quarantine} == {str(j.journal_id) for j in bad}
    assert_same_batches(column_wise, extract(url, line_by_line=True))


# -- a broken source fails the extract before any data is read -------------------------------------

def schema_error(url: str, **schema) -> str:
    """The SourceSchemaError an extract of a database created with ``schema`` raises, before reading."""
    create_erp_database(url, **schema)
    with pytest.raises(SourceSchemaError) as failure:
        extract_new_journals(url, set())
    return str(failure.value)


def test_a_missing_table_fails_the_extract(erp_url):
    message = schema_error(erp_url, without_tables=["gl_journal_line"])
    assert "table gl_journal_line is missing (expected columns journal_id, line_no, account_string" in message
    assert "WP ERP database" in message


def test_missing_columns_fail_the_extract(erp_url):
    message = schema_error(erp_url, without_columns={"gl_journal": ["posted_at"],
                                                     "gl_journal_line": ["entered_dr", "entered_cr"]})
    assert "table gl_journal lacks column(s) posted_at" in message
    assert "table gl_journal_line lacks column(s) entered_dr, entered_cr" in message


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path):
    path = tmp_path / "wiltshire" / "erp.db"
    with pytest.raises(SourceSchemaError, match="no such SQLite file"):
        extract_new_journals(f"sqlite:///{path}", set())
    assert not path.exists()


def test_an_empty_source_gives_no_batches(erp_url):
    assert extract(erp(erp_url, [])) == []


# -- the small parsers -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("APR-16", (2016, 1)), ("MAY-16", (2016, 2)), ("DEC-16", (2016, 9)), ("JAN-17", (2016, 10)),
    ("FEB-17", (2016, 11)), ("MAR-17", (2016, 12)), ("ADJ-17", (2016, 13)), ("ADJ-15", (2014, 13)),
    ("APR-14", (2014, 1)), ("MAR-00", (1999, 12)), ("ADJ-00", (1999, 13)),
    # the ERP prints upper case; some screens print "Apr-16": the meaning is the same
    ("apr-16", (2016, 1)), ("Adj-17", (2016, 13)),
])
def test_parse_period_name(name, expected):
    assert parse_period_name(name) == expected


@pytest.mark.parametrize("name", ["XYZ-16", "ADJ-1", "APR-2016", "APR16", "APR-16 ", " APR-16", "APR_16",
                                  "APRIL-16", "", "ADJ", "13-16", "APR-1a", "APR-١٦", None, 16])
def test_parse_period_name_refuses(name):
    with pytest.raises(ValueError, match="unknown period name"):
        parse_period_name(name)


def test_parse_account_string():
    assert parse_account_string("WP.2200.42000.0000") == AccountString("2200", "42000", "0000")
    assert parse_account_string("WP.0000.21000.0000").cost_centre == "0000"
    assert parse_account_string("WP.1234.56789.0123").analysis == "0123"


@pytest.mark.parametrize("text", ["WP.2200.42000", "WP.220.42000.0000", "WP.2200.420000.0000", "wp.2200.42000.0000",
                                  "AS.2200.42000.0000", "WP-2200-42000-0000", " WP.2200.42000.0000",
                                  "WP.2200.42000.0000\n", "WP.22OO.42000.0000", "WP.２２００.42000.0000", "", None])
def test_parse_account_string_refuses(text):
    with pytest.raises(ValueError, match="malformed account string"):
        parse_account_string(text)


@pytest.mark.parametrize("column", [
    (12.34, 0.07, 0.1 + 0.2, 12.345, float("nan"), float("inf"), -1.0, -0.0, 1e15, 9999999999999.99, None),
    (12, 0, -3, 10**13, 10**13 - 1, 2**70, None),
    (Decimal("12.34"), Decimal("0.001"), Decimal("-1.00"), Decimal("99999999999999.99"), None),
    ("12.34", "1,234.00", "abc", None, 5, 1.5),
])
def test_the_column_path_reads_amounts_as_amount_to_pence_does(column):
    """The column-wise amounts (_pence_column) are amount_to_pence's rule on whole columns: the same
    pence where a value is an amount, and refused exactly where amount_to_pence refuses it."""
    from alliance_finance.sources.erp_sql.amounts import _pence_column

    pence, is_set, ok = _pence_column(column, len(column))
    for index, value in enumerate(column):
        assert bool(is_set[index]) == (value is not None)
        if value is None:
            continue
        try:
            expected = amount_to_pence(value)
        except ValueError:
            expected = None
        assert bool(ok[index]) == (expected is not None), value
        if expected is not None:
            assert int(pence[index]) == expected, value
