"""Property-based tests (Hypothesis): parsers keep every penny, and the SQL mapping is the reference rule.

- money: ``parse_amount_to_pence``/``format_pence`` and ``decimal_to_pence``/``pence_to_decimal``
  round-trip every amount a ledger can hold, with or without thousands separators;
- ASC: any delivery the contract allows (random lines written by tests/asc_fixtures.py: quoting,
  thousands separators, any Unicode text without line breaks, blanks) reads back through
  ``sap_files.read_delivery`` to the same pence per line, the same totals and the same texts;
- WP: any balanced journals (random accounts, periods, dates and amounts, stored in SQLite's NUMERIC
  affinity, which keeps most cents as binary floating point) extract through ``erp_sql`` to the same
  pence per line;
- period names and account strings parse back to what wrote them;
- mapping: for random cost centres, accounts and fiscal years (known codes, unknown codes, edges of
  the effective-dated ranges), what the warehouse's SQL mapping stores (PostgreSQL) equals
  ``reference.ReferenceData.objective_for/subjective_for`` with the balance-sheet rule (BS00).

Example counts stay modest (settings below) so the suite stays fast; ``--hypothesis-seed`` repeats a run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_finance.sources import erp_sql
from alliance_finance.sources import sap_files
from alliance_finance.core import fiscal
from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch
from alliance_finance.core.money import decimal_to_pence, format_pence, parse_amount_to_pence, pence_to_decimal
from alliance_finance.config.reference import UNMAPPED, load_reference
import asc_fixtures as asc
import wp_fixtures as wp

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=100, deadline=None)

#: the largest amount a line can carry (numeric(15,2) in the warehouse; 13 digits before the point)
MAX_PENCE = 10**15 - 1


def with_separators(pence: int) -> str:
    whole, fraction = divmod(pence, 100)
    return f"{whole:,}.{fraction:02d}"


# -- money -----------------------------------------------------------------------------------------


@SOME
@given(st.integers(min_value=-MAX_PENCE, max_value=MAX_PENCE))
def test_amount_text_round_trips_to_the_same_pence(pence):
    assert parse_amount_to_pence(format_pence(pence)) == pence
    assert decimal_to_pence(pence_to_decimal(pence)) == pence
    assert pence_to_decimal(pence) == Decimal(format_pence(pence))
    if pence >= 0:
        assert parse_amount_to_pence(with_separators(pence)) == pence


# -- Avon and Somerset: any delivery the contract allows ------------------------------------------

# free text: any character but line breaks, NUL and lone surrogates (not UTF-8); no control file
# or CSV rule forbids commas, quotes, tabs or other control characters
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00\x85\u2028\u2029"),
                max_size=50)
_day = st.dates(min_value=dt.date(2010, 4, 1), max_value=dt.date(2035, 3, 31))


@st.composite
def asc_lines(draw) -> tuple[dict, int]:
    """(line dict, signed pence) for one line SOURCES.md allows (balance is validation's concern)."""
    pence = draw(st.integers(min_value=0, max_value=MAX_PENCE))
    debit = draw(st.booleans())
    balance_sheet = draw(st.booleans())
    posting_date = draw(_day)
    line = asc.asc_line(
        Company_Code=draw(st.sampled_from(("ASC1", "ASP1"))),
        Fiscal_Year=str(fiscal.fiscal_year_of(posting_date)),
        Posting_Period=str(draw(st.integers(1, 16))),
        Document_Number=f"{draw(st.integers(0, 9_999_999_999)):010d}",
        Line_Item=draw(st.sampled_from(("{:d}", "{:03d}"))).format(draw(st.integers(1, 999))),
        Document_Type=draw(st.sampled_from(sap_files.DOCUMENT_TYPES)),
        Posting_Date=posting_date.strftime("%d.%m.%Y"),
        Document_Date=draw(st.one_of(st.just(""), _day.map(lambda d: d.strftime("%d.%m.%Y")))),
        Cost_Centre="" if balance_sheet else f"AS{draw(st.integers(0, 999_999)):06d}",
        GL_Account=f"{draw(st.integers(1, 3) if balance_sheet else st.integers(4, 9))}{draw(st.integers(0, 99_999)):05d}",
        Amount=with_separators(pence) if draw(st.booleans()) else format_pence(pence),
        DC="S" if debit else "H",
        Text=draw(_text), Vendor=draw(_text), Reference=draw(_text),
    )
    return line, pence if debit else -pence


@FEW
@given(st.lists(asc_lines(), min_size=0, max_size=40))
def test_any_asc_delivery_reads_back_to_the_same_pence_and_texts(drawn):
    lines = [line for line, _ in drawn]
    with tempfile.TemporaryDirectory() as folder:
        data = asc.write_delivery(Path(folder), lines)
        [delivery] = sap_files.discover_deliveries(Path(folder))
        batch = sap_files.read_delivery(delivery)
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert batch.error is None, batch.error
    assert batch.digest == digest
    assert batch.lines.schema == CONFORMED_SCHEMA
    assert batch.rows_read == batch.lines.num_rows == len(lines)
    assert batch.lines.column("amount_pence").to_pylist() == [pence for _, pence in drawn]
    assert batch.total_debit_pence == sum(max(p, 0) for _, p in drawn)
    assert batch.total_credit_pence == sum(-min(p, 0) for _, p in drawn)
    for column, key in (("line_text", "Text"), ("vendor", "Vendor"), ("reference", "Reference"),
                        ("cost_centre", "Cost Centre")):
        assert batch.lines.column(column).to_pylist() == [line[key] or None for line in lines]
    assert batch.lines.column("source_line_ref").to_pylist() == [
        f"{l['Company Code']}/{l['Fiscal Year']}/{l['Document Number']}/{int(l['Line Item'])}" for l in lines]
    assert batch.lines.column("source_line_number").to_pylist() == list(range(2, len(lines) + 2))


# -- Wiltshire: any balanced journals --------------------------------------------------------------


@st.composite
def wp_journals(draw) -> list[tuple[wp.Journal, list[int]]]:
    """Balanced posted journals with distinct ids, and each one's signed pence per line in line order."""
    ids = draw(st.lists(st.integers(1, 2**31 - 1), min_size=1, max_size=8, unique=True))
    journals = []
    for journal_id in ids:
        fiscal_year = draw(st.integers(2010, 2030))
        period = draw(st.integers(1, 13))
        year, month = fiscal.period_month(fiscal_year, min(period, 12))
        day = dt.date(year, month, draw(st.integers(1, 28)))
        # numeric(14,2): 12 digits before the point, exactly what a double keeps to the cent
        debits = draw(st.lists(st.integers(0, 10**14 // 8), min_size=1, max_size=6))
        account = st.builds("WP.{:04d}.{:05d}.{:04d}".format, st.integers(0, 9999), st.integers(0, 99999),
                            st.integers(0, 9999))
        lines = [wp.Line(draw(account), entered_dr=format_pence(p), line_description=draw(_text) or None)
                 for p in debits]
        lines.append(wp.Line(draw(account), entered_cr=format_pence(sum(debits)),
                             supplier_name=draw(_text) or None))
        posted_at = dt.datetime.combine(day, dt.time(draw(st.integers(0, 23)), draw(st.integers(0, 59))))
        journal = wp.Journal(journal_id, wp.period_name_of(fiscal_year, period), day, posted_at, lines,
                             source=draw(st.sampled_from(("AP", "AR", "GL", "PAY", "FA"))))
        journals.append((journal, debits + [-sum(debits)]))
    return journals


@FEW
@given(wp_journals())
def test_any_balanced_wp_journals_extract_to_the_same_pence(drawn):
    with tempfile.TemporaryDirectory() as folder:
        url = wp.create_erp_database(f"sqlite:///{Path(folder) / 'erp.db'}")
        wp.insert_journals(url, [journal for journal, _ in drawn])
        batches = list(erp_sql.extract_new_journals(url, set()))
    assert not any(b.quarantine for b in batches), [q.reason for b in batches for q in b.quarantine]
    got = {ref: pence for b in batches for ref, pence in zip(b.lines.column("source_line_ref").to_pylist(),
                                                             b.lines.column("amount_pence").to_pylist())}
    expected = {f"{journal.journal_id}/{number}": pence
                for journal, amounts in drawn for number, pence in enumerate(amounts, start=1)}
    assert got == expected
    assert sum(b.total_debit_pence for b in batches) == sum(p for _, amounts in drawn for p in amounts if p > 0)
    assert sum(b.rows_read for b in batches) == len(expected)


@SOME
@given(st.integers(2000, 2098), st.integers(1, 13))
def test_period_names_parse_back(fiscal_year, period):
    assert erp_sql.parse_period_name(wp.period_name_of(fiscal_year, period)) == (fiscal_year, period)


@SOME
@given(st.from_regex(r"\A[0-9]{4}\Z"), st.from_regex(r"\A[0-9]{5}\Z"), st.from_regex(r"\A[0-9]{4}\Z"))
def test_account_strings_parse_back(cost_centre, account, analysis):
    assert erp_sql.parse_account_string(f"WP.{cost_centre}.{account}.{analysis}") == (cost_centre, account, analysis)


# -- mapping: the SQL rule equals the reference data's rule ----------------------------------------

REFERENCE = load_reference()
KINDS = REFERENCE.subjective_kind()


def expected_codes(force: str, cost_centre: str | None, account: str, fiscal_year: int) -> tuple[str, str]:
    """The rule of CHART.md, from reference.py: subjective by account, objective by cost centre in
    its fiscal year, BS00 on a balance-sheet account whatever the cost centre."""
    subjective = REFERENCE.subjective_for(force, account)
    if KINDS.get(subjective) == "balance_sheet":
        return "BS00", subjective
    objective = REFERENCE.objective_for(force, cost_centre, fiscal_year) if cost_centre is not None else UNMAPPED
    return objective, subjective


def _codes_of(force: str, attribute: str) -> list[str]:
    return sorted({getattr(m, attribute) for m in (REFERENCE.cost_centres if attribute == "cost_centre"
                                                   else REFERENCE.accounts) if m.force_code == force})


_fiscal_years = sorted({y for m in REFERENCE.cost_centres for y in (m.valid_from_fy, m.valid_to_fy) if y}
                       | {2010, 2014, 2035})


@st.composite
def mapped_lines(draw) -> tuple[str, str | None, str, int]:
    force = draw(st.sampled_from(("ASC", "WP")))
    unknown_cc = "AS777777" if force == "ASC" else "7777"
    unknown_account = "777777" if force == "ASC" else "77777"
    cost_centre = draw(st.one_of(st.sampled_from(_codes_of(force, "cost_centre")), st.just(unknown_cc),
                                 st.none(), st.just("0000")))
    account = draw(st.one_of(st.sampled_from(_codes_of(force, "local_account")), st.just(unknown_account)))
    fiscal_year = draw(st.one_of(st.sampled_from(_fiscal_years), st.sampled_from(_fiscal_years).map(lambda y: y - 1),
                                 st.integers(2010, 2035)))
    return force, cost_centre, account, fiscal_year


@pytest.fixture(scope="module")
def mapping_warehouse():
    from conftest import drop_pg_database, new_pg_database
    from warehouse_batches import ready_warehouse

    url = new_pg_database()
    engine = ready_warehouse(url)
    yield engine
    engine.dispose()
    drop_pg_database(url)


_serial = itertools.count(1)


@pytest.mark.postgres
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=st.lists(mapped_lines(), min_size=1, max_size=40))
def test_the_sql_mapping_equals_the_reference_rule(mapping_warehouse, drawn):
    from alliance_finance.warehouse.load import load_batch
    from warehouse_batches import query

    batch_number = next(_serial)
    for force in ("ASC", "WP"):
        rows = [(f"P{batch_number}/{n}", cc, account, fy) for n, (f, cc, account, fy) in enumerate(drawn) if f == force]
        if not rows:
            continue
        lines = pa.Table.from_pylist([{
            "force_code": force, "source_line_ref": ref, "document_ref": ref.split("/")[0], "source_line_number": 2,
            "fiscal_year": fy, "period": 1, "posting_date": dt.date(fy, 4, 1), "cost_centre": cc,
            "local_account": account, "amount_pence": 1, "document_type": "SA", "line_text": None, "vendor": None,
            "reference": None} for ref, cc, account, fy in rows], schema=CONFORMED_SCHEMA)
        batch = Batch(force, f"mapping property {force} {batch_number}", "x", lines, rows_read=len(rows),
                      total_debit_pence=len(rows))
        assert load_batch(mapping_warehouse, batch).loaded
        stored = {r[0]: (r[1], r[2]) for r in query(
            mapping_warehouse, "SELECT source_line_ref, objective_code, subjective_code FROM fact_ledger_line "
                               "WHERE force_code = :f AND source_line_ref LIKE :p", f=force, p=f"P{batch_number}/%")}
        assert stored == {ref: expected_codes(force, cc, account, fy) for ref, cc, account, fy in rows}
