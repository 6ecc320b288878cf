"""Validation: the Great Expectations suites and the checks beside them, on batches built in code.

Batches are made from the contract (tests/batch_fixtures.py: conformed lines of CONFORMED_SCHEMA
and the ``raw`` table of strings the readers keep). Each defect test breaks one thing and asserts
the failure names the right expectation, the count and the line. One Validator serves the whole
module: importing Great Expectations and building its context costs seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys

import pyarrow as pa
import pytest

from alliance_finance.config.forces import SOURCE_FORMATS, force_by_code, load_forces
from alliance_finance.core import fiscal
from alliance_finance.core.ledger import Batch, QuarantinedLine
from alliance_finance.core.money import format_pence
from alliance_finance.core.paths import PROJECT_ROOT
from alliance_finance.validation import (
    ASC_RAW,
    CONFORMED,
    CONTROLS,
    FORMAT_RULES,
    SUITES,
    WP_RAW,
    BatchValidation,
    Validator,
    document_net_pence,
    posting_date_agrees,
    revenue_line_has_cost_centre,
)

from batch_fixtures import (
    WpLine,
    asc_batch,
    balanced_document,
    happy_asc,
    invoice,
    wp_batch,
)

# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator():
    with Validator() as shared:
        yield shared


def failure(result: BatchValidation, suite: str, check: str, column: str | None = None):
    """The one failure of ``check`` (on ``column``) in ``suite``; fails the test listing what there is."""
    found = [f for f in result.failures if f.suite == suite and f.check == check
             and (column is None or f.column == column)]
    assert len(found) == 1, f"expected one {suite} {check} on {column}, found: " + "; ".join(
        f.describe() for f in result.failures)
    return found[0]


def assert_asc_rejected(batch: Batch, result: BatchValidation) -> None:
    assert not result.success and result.rejected
    assert batch.rejected and batch.error == result.summary()
    assert batch.error.startswith(f"{batch.source_ref}: rejected whole by validation")


# --- the happy path --------------------------------------------------------------------------------


def test_a_valid_asc_batch_passes_untouched(validator):
    batch = happy_asc()
    lines_before = batch.lines
    [result] = validator.validate([batch])

    assert result.success, result.summary()
    assert result.failures == [] and not result.rejected and not batch.rejected
    assert result.suites == [ASC_RAW, CONFORMED, CONTROLS]
    assert result.rows_checked == 6
    assert batch.lines.equals(lines_before)
    assert batch.raw is None  # dropped once validated (ledger.Batch)
    assert result.summary() == (f"{batch.source_ref}: passed validation (6 lines; "
                                f"asc_sap_raw, conformed_ledger_line, batch_controls)")
    json.dumps(result.to_dict())


def test_a_valid_wp_batch_passes_untouched(validator):
    batch = wp_batch([invoice(101, 1234567), invoice(102, 5),
                      invoice(103, 100, "WP.0000.11000.0000")])  # balance sheet both sides: 0000 is fine
    [result] = validator.validate([batch])

    assert result.success, result.summary()
    assert result.suites == [WP_RAW, CONFORMED, CONTROLS]
    assert batch.lines.num_rows == 6 and batch.quarantine == []


def test_year_end_adjustment_periods_accept_march_or_later(validator):
    lines = (balanced_document("1000000001", 500, period=13, posting_date=dt.date(2017, 3, 31))
             + balanced_document("1000000002", 700, period=16, posting_date=dt.date(2017, 5, 2))
             + balanced_document("1000000003", 900, period=12, posting_date=dt.date(2017, 3, 1)))
    [result] = validator.validate([asc_batch(lines)])
    assert result.success, result.summary()


def test_an_empty_delivery_passes(validator):
    """A business day with nothing posted: SAP still writes a file with its header only."""
    batch = asc_batch([], "ASC_GL_20160410_001.csv")
    [result] = validator.validate([batch])
    assert result.success, result.summary()
    assert result.rows_checked == 0 and not batch.rejected


# --- each defect: the right expectation, the count, the line ---------------------------------------


def test_a_posting_date_outside_its_period_rejects_the_asc_batch(validator):
    lines = balanced_document("1000000001", 1000) + balanced_document(
        "1000000002", 2000, period=2, posting_date=dt.date(2016, 4, 30))  # period 2 is May
    batch = asc_batch(lines)
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    found = failure(result, CONFORMED, "expect_column_values_to_be_in_set", "posting_date_agrees")
    assert found.unexpected_count == 2
    assert [s["source_line_number"] for s in found.samples] == [4, 5]
    assert found.samples[0]["values"] == {"fiscal_year": 2016, "period": 2, "posting_date": "2016-04-30"}
    assert "line 4 (ASC1/2016/1000000002/1): fiscal_year=2016, period=2, posting_date='2016-04-30'" in batch.error
    assert "expected a posting date inside its fiscal period" in batch.error
    assert batch.lines.num_rows == 4  # rejected whole: the loader loads none of them


def test_period_17_fails_the_conformed_suite(validator):
    lines = balanced_document("1000000001", 1000, period=17, posting_date=dt.date(2017, 4, 3))
    batch = asc_batch(lines)
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    period = failure(result, CONFORMED, "expect_column_values_to_be_in_set", "period")
    assert period.unexpected_count == 2
    assert [(s["source_line_number"], s["values"]) for s in period.samples] == [(2, {"period": 17}), (3, {"period": 17})]
    assert "expected a period 1 to 16" in batch.error and "period=17" in batch.error


def test_a_duplicate_line_fails_uniqueness(validator):
    lines = balanced_document("1000000001", 1000) + balanced_document("1000000002", 50)
    lines[3] = dataclasses.replace(lines[3], item=1)  # 1000000002 line 2 now claims to be line 1 too
    batch = asc_batch(lines)
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    duplicate = failure(result, CONFORMED, "expect_compound_columns_to_be_unique")
    assert duplicate.unexpected_count == 2
    assert [s["source_line_number"] for s in duplicate.samples] == [4, 5]
    assert {s["values"]["source_line_ref"] for s in duplicate.samples} == {"ASC1/2016/1000000002/1"}


def test_an_unbalanced_document_fails_with_its_difference(validator):
    lines = balanced_document("1000000001", 1000) + balanced_document("1000000002", 2500)
    lines[3] = dataclasses.replace(lines[3], pence=-2400)
    batch = asc_batch(lines)
    batch.total_credit_pence = 1000 + 2400  # the reader's own totals agree with the lines
    batch.meta["control"]["total_credit_pence"] = 1000 + 2400
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    unbalanced = failure(result, CONFORMED, "expect_column_values_to_be_in_set", "document_net_pence")
    assert unbalanced.unexpected_count == 2  # both lines of the one document
    assert unbalanced.documents == ["ASC1/2016/1000000002"]
    assert unbalanced.samples[0]["values"]["document_net_pence"] == 100
    assert "every document balances" in batch.error and "document_net_pence=1.00" in batch.error
    assert [f.check for f in result.failures] == ["expect_column_values_to_be_in_set"]


def test_a_revenue_line_without_a_cost_centre_fails(validator):
    lines = balanced_document("1000000001", 1000) + balanced_document("1000000002", 2000, cost_centre=None)
    batch = asc_batch(lines)
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    missing = failure(result, CONFORMED, "expect_column_values_to_be_in_set", "revenue_line_has_cost_centre")
    assert missing.unexpected_count == 1  # the creditor line is balance sheet: blank is right there
    assert missing.samples == [{
        "source_line_number": 4, "document_ref": "ASC1/2016/1000000002", "force_code": "ASC",
        "source_line_ref": "ASC1/2016/1000000002/1",
        "values": {"local_account": "510000", "cost_centre": None}}]
    assert "line 4 (ASC1/2016/1000000002/1): local_account='510000', cost_centre=blank" in batch.error


@pytest.mark.parametrize("column, bad, check", [
    ("Posting Date", "2016-04-05", "expect_column_values_to_match_regex"),
    ("D/C", "X", "expect_column_values_to_be_in_set"),
    ("Amount", "12.3", "expect_column_values_to_match_regex"),
    ("Cost Centre", "AS12", "expect_column_values_to_match_regex"),
    ("Text", "x" * 51, "expect_column_value_lengths_to_be_between"),
    ("Company Code", "ASC2", "expect_column_values_to_be_in_set"),
    ("GL Account", None, "expect_column_values_to_not_be_null"),
])
def test_a_raw_format_violation_names_column_and_line(validator, column, bad, check):
    lines = balanced_document("1000000001", 1000) + balanced_document("1000000002", 2000)
    lines[2] = dataclasses.replace(lines[2], raw={column: bad})
    batch = asc_batch(lines)
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    raw = failure(result, ASC_RAW, check, column)
    assert raw.unexpected_count == 1
    assert raw.samples == [{"source_line_number": 4, "values": {column: bad}}]
    shown = "blank" if bad is None else repr(bad)
    assert f"line 4: {column}={shown}" in batch.error
    assert [f.suite for f in result.failures] == [ASC_RAW]


def test_wp_raw_formats_are_checked(validator):
    bad = invoice(202, 700)
    bad.lines[0].raw.update({"account_string": "WP.22.42000.0000", "period_name": "April-16"})
    bad.lines[1].raw.update({"entered_dr": "7.00"})  # both debit and credit set
    batch = wp_batch([invoice(201, 500), bad])
    [result] = validator.validate([batch])

    assert not result.success and not result.rejected
    account = failure(result, WP_RAW, "expect_column_values_to_match_regex", "account_string")
    assert account.samples == [{"source_line_number": 1, "document_ref": "202",
                                "values": {"account_string": "WP.22.42000.0000"}}]
    assert failure(result, WP_RAW, "expect_column_values_to_match_regex", "period_name").unexpected_count == 1
    sides = failure(result, WP_RAW, "expect_column_values_to_be_in_set", "entered_sides")
    assert sides.samples[0]["values"] == {"entered_dr": "7.00", "entered_cr": "7.00", "entered_sides": 2}
    assert result.quarantined_documents == ["202"]


# --- outcomes ---------------------------------------------------------------------------------------


def test_a_failing_wp_journal_is_quarantined_whole_and_the_rest_loads(validator):
    batch = wp_batch([invoice(301, 1000), invoice(302, 2000, "WP.0000.42000.0000"), invoice(303, 3000)])
    [result] = validator.validate([batch])

    assert not result.success and not result.rejected and not batch.rejected
    assert result.quarantined_documents == ["302"] and result.lines_quarantined == 2
    assert batch.lines.column("document_ref").to_pylist() == ["301", "301", "303", "303"]
    assert [q.source_line_ref for q in batch.quarantine] == ["302/1", "302/2"]
    assert batch.rows_read == batch.lines.num_rows + len(batch.quarantine)
    first = batch.quarantine[0]
    assert isinstance(first, QuarantinedLine) and first.document_ref == "302" and first.source_line_number == 1
    assert first.reason.startswith("journal 302 quarantined whole by validation: conformed_ledger_line "
                                   "expect_column_values_to_be_in_set on revenue_line_has_cost_centre")
    assert "local_account='42000', cost_centre='0000'" in first.reason
    assert batch.quarantine[1].reason == first.reason  # the balancing line goes with its journal
    assert json.loads(first.original)["account_string"] == "WP.0000.42000.0000"
    assert json.loads(batch.quarantine[1].original)["entered_cr"] == "20.00"
    assert result.summary().startswith(f"{batch.source_ref}: 1 journal (2 lines) quarantined whole by validation")
    assert "journal 302 line 1" in result.summary()


def test_an_unbalanced_wp_journal_is_quarantined(validator):
    broken = invoice(402, 2000)
    broken.lines[1] = WpLine("WP.0000.21000.0000", -1999)
    batch = wp_batch([invoice(401, 1000), broken])
    [result] = validator.validate([batch])

    assert result.quarantined_documents == ["402"]
    assert failure(result, CONFORMED, "expect_column_values_to_be_in_set", "document_net_pence").documents == ["402"]
    assert batch.lines.num_rows == 2 and len(batch.quarantine) == 2


def test_each_quarantined_journal_says_what_its_own_line_was(validator):
    """More failing journals than samples (and than GX's 20): each reason names its own line."""
    journals = [invoice(700 + n, 100 + n, f"WP.{n:04d}.42000.0000" if n % 2 else "WP.22.42000.0000")
                for n in range(1, 51)]
    batch = wp_batch(journals)
    [result] = validator.validate([batch])

    assert len(result.quarantined_documents) == 25 and batch.lines.num_rows == 50
    account = failure(result, WP_RAW, "expect_column_values_to_match_regex", "account_string")
    assert account.unexpected_count == 25 and len(account.samples) == 5
    by_journal = {q.document_ref: q.reason for q in batch.quarantine}
    assert "found journal 750 line 1: account_string='WP.22.42000.0000'" in by_journal["750"]
    assert all(f"found journal {j} line 1" in reason for j, reason in by_journal.items())


def test_a_wp_failure_that_names_no_journal_rejects_the_batch(validator):
    batch = wp_batch([invoice(501, 1000)])
    batch.rows_read = 3  # a line read but neither loaded nor quarantined
    [result] = validator.validate([batch])

    assert result.rejected and batch.rejected and batch.quarantine == []
    accounting = failure(result, CONTROLS, "expect_column_pair_values_to_be_equal", "rows_read, lines_and_quarantine")
    assert accounting.batch_level and accounting.found == "rows_read=3, lines_and_quarantine=2"
    assert "row accounting: rows read = lines + quarantined lines" in batch.error


def test_control_totals_are_checked_against_the_lines_and_the_control_file(validator):
    batch = happy_asc()
    batch.total_debit_pence += 1
    batch.meta["control"]["rows"] = 7
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    debit = failure(result, CONTROLS, "expect_column_pair_values_to_be_equal", "total_debit_pence, lines_debit_pence")
    assert debit.found == f"total_debit_pence={format_pence(3 * 1234567 + 3 + 1)}, lines_debit_pence={format_pence(3 * 1234567 + 3)}"
    failure(result, CONTROLS, "expect_column_pair_values_to_be_equal", "total_debit_pence, control_total_debit_pence")
    failure(result, CONTROLS, "expect_column_pair_values_to_be_equal", "rows_read, control_rows")
    assert len(result.failures) == 3


def test_a_batch_already_rejected_is_not_validated_again(validator):
    batch = happy_asc()
    batch.reject("ASC_GL_20160405_001.csv: line 7: expected CRLF line ends, found a bare LF")
    [result] = validator.validate([batch])

    assert not result.success and result.rejected and result.failures == []
    assert result.summary() == batch.error == "ASC_GL_20160405_001.csv: line 7: expected CRLF line ends, found a bare LF"


def test_columns_that_break_the_contract_reject_the_batch_before_the_suites(validator):
    batch = happy_asc()
    batch.raw = batch.raw.rename_columns(["Company"] + batch.raw.column_names[1:])
    [result] = validator.validate([batch])

    assert_asc_rejected(batch, result)
    columns = failure(result, ASC_RAW, "expect_table_columns_to_match_ordered_list")
    assert columns.found.startswith("columns Company, Fiscal Year")


# --- many batches in one call -------------------------------------------------------------------------


def test_each_batch_of_a_call_gets_its_own_verdict(validator):
    batches = [happy_asc(f"ASC_GL_2016040{day}_001.csv") for day in range(1, 5)]
    bad_lines = balanced_document("1000000001", 1000) + balanced_document("1000000002", 2000)
    bad_lines[2] = dataclasses.replace(bad_lines[2], raw={"D/C": "X"})
    batches[2] = asc_batch(bad_lines, "ASC_GL_20160403_001.csv")
    batches.insert(1, wp_batch([invoice(601, 10), invoice(602, 20, "WP.0000.51000.0000")]))
    results = validator.validate(batches)

    assert [r.source_ref for r in results] == [b.source_ref for b in batches]
    assert [r.success for r in results] == [True, False, True, False, True]
    assert [b.rejected for b in batches] == [False, False, False, True, False]
    assert results[1].quarantined_documents == ["602"]
    [dc] = results[3].failures
    assert (dc.check, dc.column, dc.samples[0]["source_line_number"]) == ("expect_column_values_to_be_in_set", "D/C", 4)
    assert len({r.run_name for r in results}) == 1  # one GX run for all of them


def test_failures_beyond_the_samples_are_attributed_row_by_row(validator):
    """More failing rows than GX's 20 samples, spread over batches and over several runs."""
    batches = []
    for day in range(1, 4):
        lines = [line for d in range(15) for line in balanced_document(f"{1000000001 + d}", 100 + d)]
        for line in lines[day * 3:]:
            line.raw = {"D/C": "?"}
        batches.append(asc_batch(lines, f"ASC_GL_2016040{day}_001.csv"))
    batches.append(happy_asc("ASC_GL_20160404_001.csv"))
    previous, validator.row_budget = validator.row_budget, 70  # two batches a run: two runs
    try:
        results = validator.validate(batches)
    finally:
        validator.row_budget = previous

    counts = [failure(r, ASC_RAW, "expect_column_values_to_be_in_set", "D/C").unexpected_count
              for r in results[:3]]
    assert counts == [27, 24, 21]
    assert [s["source_line_number"] for s in results[1].failures[0].samples] == [8, 9, 10, 11, 12]
    assert results[3].success
    assert len({r.run_name for r in results}) == 2


# --- batches as the real readers make them -------------------------------------------------------------


def test_an_asc_delivery_read_by_sap_files_passes_or_fails_as_its_content_says(validator, tmp_path):
    """The reader's Batch (raw and lines) is what the suites expect: a clean file passes, and a line
    the reader conforms faithfully but that breaks a rule is caught here, by line number."""
    from alliance_finance.sources.sap_files import discover_deliveries, read_delivery
    from asc_fixtures import asc_line, happy_lines, write_delivery

    inbound = tmp_path / "inbound"
    inbound.mkdir()
    write_delivery(inbound)
    wrong_period = happy_lines() + [
        asc_line(Document_Number="1000000009", Line_Item="1", Posting_Period="2", Amount="1.00", DC="S"),
        asc_line(Document_Number="1000000009", Line_Item="2", Posting_Period="2", Amount="1.00", DC="H",
                 GL_Account="210000", Cost_Centre=""),
    ]
    write_delivery(inbound, wrong_period, sequence=2)
    batches = [read_delivery(delivery) for delivery in discover_deliveries(inbound)]
    assert not any(b.rejected for b in batches), [b.error for b in batches]

    clean, broken = validator.validate(batches)

    assert clean.success, clean.summary()
    assert broken.rejected
    posting = failure(broken, CONFORMED, "expect_column_values_to_be_in_set", "posting_date_agrees")
    assert [s["source_line_number"] for s in posting.samples] == [len(wrong_period), len(wrong_period) + 1]


def test_wp_batches_extracted_by_erp_sql_pass(validator, tmp_path):
    from alliance_finance.sources.erp_sql import extract_new_journals
    from wp_fixtures import create_erp_database, history, insert_journals

    url = create_erp_database(f"sqlite:///{tmp_path / 'erp.db'}")
    insert_journals(url, history(2016, 2016, 300))
    batches = list(extract_new_journals(url, set()))
    assert batches and all(b.raw is not None for b in batches)

    results = validator.validate(batches)

    assert all(r.success for r in results), [r.summary() for r in results if not r.success]
    assert sum(r.rows_checked for r in results) == sum(b.rows_read for b in batches) >= 300


# --- the derived columns agree with the rules they stand for ------------------------------------------


def test_posting_date_agrees_matches_the_fiscal_rule_everywhere():
    days = [dt.date(2016, 1, 1) + dt.timedelta(days=n) for n in range(0, 900, 3)]
    cases = [(fy, period, day) for fy in (2015, 2016) for period in range(0, 18) for day in days]
    vectorised = posting_date_agrees(pa.array([c[0] for c in cases], pa.int16()),
                                     pa.array([c[1] for c in cases], pa.int16()),
                                     pa.array([c[2] for c in cases], pa.date32())).to_pylist()
    assert vectorised == [fiscal.posting_date_agrees(*case) for case in cases]
    assert sum(vectorised) > 500


def test_revenue_and_balance_sheet_lines():
    accounts = ["510000", "210000", "42000", "21000", "42000", "42000", "310000", "400000"]
    centres = [None, None, "0000", "0000", "2200", " ", None, "AS100200"]
    assert revenue_line_has_cost_centre(pa.array(accounts), pa.array(centres)).to_pylist() == [
        False, True, False, True, True, False, True, True]


def test_document_totals_are_exact_and_kept_within_each_batch():
    big = 2**62  # far beyond what a float holds exactly
    nets = document_net_pence(pa.array([0, 0, 1, 1, 1], pa.int32()), pa.array(["A", "A", "A", "B", "B"]),
                              pa.array([big, 1, -7, big, -big], pa.int64())).to_pylist()
    assert nets == [big + 1, big + 1, -7, 0, 0]


# --- Data Docs and result files --------------------------------------------------------------------


def test_data_docs_and_results_are_written(tmp_path):
    docs = tmp_path / "data_docs"
    batch = asc_batch(balanced_document("1000000001", 1000, period=17))
    with Validator(docs) as validator:
        validator.validate([happy_asc("ASC_GL_20160404_001.csv"), batch])

    assert (docs / "index.html").is_file()
    [verdicts] = (docs / "results" / "batches").glob("*.json")
    document = json.loads(verdicts.read_text(encoding="utf-8"))
    assert [b["success"] for b in document["batches"]] == [True, False]
    assert document["batches"][1]["failures"][0]["samples"][0]["source_line_number"] == 2
    stored = {path.parts[-4]: json.loads(path.read_text()) for path in (docs / "results" / "gx").rglob("*.json")
              if not path.name.startswith(".")}
    assert set(stored) == {ASC_RAW, CONFORMED, CONTROLS}
    conformed = stored[CONFORMED]
    assert [b["source_ref"] for b in conformed["meta"]["alliance_batches"]] == [
        "ASC_GL_20160404_001.csv", "ASC_GL_20160405_001.csv"]
    [period] = [r for r in conformed["results"] if r["expectation_config"]["kwargs"].get("column") == "period"
                and r["expectation_config"]["type"] == "expect_column_values_to_be_in_set"]
    assert not period["success"]
    assert period["result"]["partial_unexpected_index_list"][0] == {
        "batch": "ASC_GL_20160405_001.csv", "source_line_number": 2, "period": 17}
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 3
    assert "ASC_GL_20160405_001.csv" in next(p for p in pages if CONFORMED in str(p)).read_text(encoding="utf-8")


def test_build_data_docs_renders_what_is_new_once(tmp_path):
    """The pipeline validates with build_docs=False and builds once at the end of a run: that
    build renders the results no page shows yet, and leaves the pages already rendered alone."""
    from alliance_finance.validation import build_data_docs

    docs = tmp_path / "data_docs"
    with Validator(docs) as first:
        first.validate([happy_asc("ASC_GL_20160404_001.csv")])
    old_pages = {p: p.stat().st_mtime_ns for p in (docs / "validations").rglob("*.html")}
    with Validator(docs, build_docs=False) as second:
        second.validate([happy_asc("ASC_GL_20160405_001.csv")])
    assert set((docs / "validations").rglob("*.html")) == set(old_pages)

    assert build_data_docs(docs) == (docs / "index.html").resolve()

    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 2 * len(old_pages) == 6
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in old_pages.items())
    assert "ASC_GL_20160405_001.csv" in (docs / "index.html").read_text(encoding="utf-8")


def test_suite_pages_are_rendered_again_only_when_a_suite_or_its_page_changed(tmp_path):
    """A run's Data Docs build renders the suites' pages only when what they show changed (the suite
    as applied, or GX) or a page is missing; else they stay as they are, and so does what they say."""
    import shutil

    from alliance_finance.core.paths import EXPECTATIONS_DIR
    from alliance_finance.validation import build_data_docs

    docs = tmp_path / "data_docs"
    with Validator(docs) as first:
        first.validate([happy_asc("ASC_GL_20160404_001.csv")])
    pages = {suite: docs / "expectations" / f"{suite}.html" for suite in SUITES}
    rendered = {suite: page.stat().st_mtime_ns for suite, page in pages.items()}
    with Validator(docs, build_docs=False) as second:
        second.validate([happy_asc("ASC_GL_20160405_001.csv")])
    build_data_docs(docs)
    assert {suite: page.stat().st_mtime_ns for suite, page in pages.items()} == rendered
    assert "ASC_GL_20160405_001.csv" in (docs / "index.html").read_text(encoding="utf-8")  # the index is

    # one suite changed (an operator's text): its page only is rendered again, and shows the change
    changed = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS_DIR, changed, ignore=shutil.ignore_patterns("uncommitted"))
    suite_file = changed / "gx" / "expectations" / f"{CONTROLS}.json"
    document = json.loads(suite_file.read_text(encoding="utf-8"))
    document["expectations"][0]["kwargs"]["column_list"].append("a_column_renamed_for_the_test")
    suite_file.write_text(json.dumps(document, indent=2), encoding="utf-8")
    build_data_docs(docs, expectations_dir=changed)
    assert "a_column_renamed_for_the_test" in pages[CONTROLS].read_text(encoding="utf-8")
    assert {s: p.stat().st_mtime_ns for s, p in pages.items() if s != CONTROLS} == {
        s: m for s, m in rendered.items() if s != CONTROLS}

    # a page removed is rendered again; the same suites again render nothing
    pages[CONFORMED].unlink()
    build_data_docs(docs)
    assert pages[CONFORMED].is_file() and "a_column_renamed_for_the_test" not in pages[CONTROLS].read_text(encoding="utf-8")
    again = {suite: page.stat().st_mtime_ns for suite, page in pages.items()}
    build_data_docs(docs)
    assert {suite: page.stat().st_mtime_ns for suite, page in pages.items()} == again


# --- the suites themselves ------------------------------------------------------------------------------


def test_the_project_holds_every_suite_with_an_operator_text():
    root = PROJECT_ROOT / "expectations" / "gx"
    for suite in SUITES:
        document = json.loads((root / "expectations" / f"{suite}.json").read_text(encoding="utf-8"))
        assert document["name"] == suite
        for expectation in document["expectations"]:
            assert expectation["meta"].get("expected"), expectation
        checkpoint = json.loads((root / "checkpoints" / f"{suite}.json").read_text(encoding="utf-8"))
        assert checkpoint["result_format"]["result_format"] == "SUMMARY"
        assert [v["name"] for v in checkpoint["validation_definitions"]] == [suite]


def test_importing_validation_does_not_import_great_expectations():
    code = ("import sys, alliance_finance.validation\n"
            "heavy = [m for m in ('great_expectations', 'pandas') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


# --- forces as configuration --------------------------------------------------------------------------


def test_every_source_format_has_validation_rules():
    assert set(FORMAT_RULES) == set(SOURCE_FORMATS)


def test_a_third_force_is_validated_by_its_configuration_alone():
    """A force added to the configuration on the erp_sql format gets the erp_sql suite and rules, and
    the suites take its code and account prefix from the configuration, not from their JSON. (The suite
    accepts the prefix of any erp_sql force: that a line carries its own force's prefix is the
    reader's check, which knows the force.)"""
    wp = force_by_code("WP")
    third = dataclasses.replace(wp, code="GLO", name="Gloucestershire Constabulary", finance_role="glo_finance",
                                source={**wp.source, "account_prefix": "GLO"})
    journals = [invoice(201, 1500, "GLO.2200.42000.0000"), invoice(202, 900, "GLO.2200.42000.0000")]
    journals[1].lines[1] = WpLine("XX.0000.21000.0000", journals[1].lines[1].pence)  # no force's prefix
    with Validator(forces=load_forces() + (third,)) as validator:
        [result] = validator.validate([wp_batch(journals, "GLO ERP gl_journal FY2016 P01", force_code="GLO")])
        [wp_result] = validator.validate([wp_batch([invoice(101, 1234567)])])

    assert result.suites == [WP_RAW, CONFORMED, CONTROLS]
    assert not result.success and not result.rejected, result.summary()
    account = failure(result, WP_RAW, "expect_column_values_to_match_regex", "account_string")
    assert account.expected.startswith("WP or GLO.<cost centre")
    assert result.quarantined_documents == ["202"] and result.lines_quarantined == 2
    assert wp_result.success, wp_result.summary()


def test_a_second_sap_files_force_gets_its_cost_centre_prefix_from_the_configuration():
    """asc_sap_raw's cost-centre pattern is the cost_centre_prefix of every sap_files force: a second
    such force's cost centres pass it by configuration alone, and a cost centre of no force fails it,
    the operator's text naming both prefixes."""
    asc = force_by_code("ASC")
    second = dataclasses.replace(asc, code="GSP", name="Gloucestershire Constabulary", finance_role="gsp_finance",
                                 source={**asc.source, "cost_centre_prefix": "GS", "file_prefix": "GSP_GL"})
    ours = balanced_document("1000000001", 1000) + balanced_document("1000000002", 2000)
    ours[2] = dataclasses.replace(ours[2], raw={"Cost Centre": "GS100200"})
    nobodys = balanced_document("1000000001", 1000) + balanced_document("1000000002", 2000)
    nobodys[2] = dataclasses.replace(nobodys[2], raw={"Cost Centre": "XX100200"})
    with Validator(forces=load_forces() + (second,)) as validator:
        [passed, failed] = validator.validate([asc_batch(ours), asc_batch(nobodys, "ASC_GL_20160405_002.csv")])

    assert passed.success, passed.summary()
    assert not failed.success and failed.rejected
    cost_centre = failure(failed, ASC_RAW, "expect_column_values_to_match_regex", "Cost Centre")
    assert cost_centre.expected == "AS or GS and 6 digits, or a blank (balance-sheet lines)"
    assert cost_centre.samples == [{"source_line_number": 4, "values": {"Cost Centre": "XX100200"}}]


def test_a_force_not_in_the_configuration_fails_the_conformed_suite(validator):
    [result] = validator.validate([wp_batch([invoice(201, 1500)], "GLO ERP", force_code="GLO")])

    assert result.suites == [CONFORMED, CONTROLS]  # no format known: no raw suite
    force = failure(result, CONFORMED, "expect_column_values_to_be_in_set", "force_code")
    assert force.expected == "a force code ASC or WP"
    assert result.rejected
