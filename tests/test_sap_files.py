"""The Avon and Somerset reader: discovery, the happy path, and every defect SOURCES.md implies.

Deliveries are written in code by ``asc_fixtures.write_delivery`` from the contract; each defect
test breaks one thing and asserts the rejection names the file, the line where there is one, and
what was found.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import io
import logging

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_finance.core.ledger import CONFORMED_SCHEMA
from alliance_finance.sources.sap_files import HEADER, Delivery, discover_deliveries, file_digest, read_delivery
from asc_fixtures import asc_line, csv_record, delivery_name, happy_lines, write_delivery

NAME = delivery_name()


@pytest.fixture
def inbound(tmp_path):
    folder = tmp_path / "avon_somerset" / "inbound"
    folder.mkdir(parents=True)
    return folder


def read(data_path):
    """Discover the one delivery in the folder and read it."""
    [delivery] = discover_deliveries(data_path.parent)
    return read_delivery(delivery)


def rejected(data_path, *fragments: str) -> str:
    """Read a delivery that must be rejected whole; check the message names the file and each fragment."""
    batch = read(data_path)
    assert batch.rejected, "expected a rejection"
    assert batch.error.startswith(f"{data_path.name}: "), batch.error
    for fragment in fragments:
        assert fragment in batch.error, f"{fragment!r} not in {batch.error!r}"
    assert batch.lines.num_rows == 0
    assert batch.lines.schema.equals(CONFORMED_SCHEMA)
    assert batch.raw is None
    return batch.error


# --- the happy path ---------------------------------------------------------------------------


def test_a_valid_delivery_is_conformed_line_for_line(inbound):
    path = write_delivery(inbound)
    batch = read(path)

    assert batch.error is None
    assert batch.lines.schema.equals(CONFORMED_SCHEMA)
    assert (batch.force_code, batch.source_ref, batch.business_date, batch.sequence) == (
        "ASC", NAME, dt.date(2016, 4, 5), 1)
    assert batch.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch.rows_read == batch.lines.num_rows == 6
    assert batch.total_debit_pence == batch.total_credit_pence == 1234567 + 5 + 123456789

    lines = batch.lines.to_pylist()
    first, second, blank_date, _, adjustment, _ = lines
    assert first == {
        "force_code": "ASC", "source_line_ref": "ASC1/2016/1000000001/1",
        "document_ref": "ASC1/2016/1000000001", "source_line_number": 2, "fiscal_year": 2016,
        "period": 1, "posting_date": dt.date(2016, 4, 5), "cost_centre": "AS100200",
        "local_account": "510000", "amount_pence": 1234567, "document_type": "KR",
        "line_text": 'Boots, size 9 "steel" toe', "vendor": "100234 ACME SUPPLIES LTD",
        "reference": "INV-77,A",
    }
    # H is a credit: negative; a blank cost centre on a balance-sheet account is null
    assert second["amount_pence"] == -1234567
    assert second["cost_centre"] is None and second["local_account"] == "210000"
    assert second["line_text"] == "Créditeur Łódź Ærø"
    # line item "001" is line 1 of its document; blanks are nulls
    assert blank_date["source_line_ref"] == "ASC1/2016/1000000002/1"
    assert (blank_date["line_text"], blank_date["vendor"], blank_date["reference"]) == (None, None, None)
    assert adjustment["source_line_ref"] == "ASP1/2015/4900000001/999"
    assert (adjustment["fiscal_year"], adjustment["period"], adjustment["amount_pence"]) == (2015, 13, 123456789)
    assert [line["source_line_number"] for line in lines] == [2, 3, 4, 5, 6, 7]
    assert sum(line["amount_pence"] for line in lines) == 0


def test_raw_columns_are_the_text_as_read(inbound):
    batch = read(write_delivery(inbound))
    assert batch.raw.column_names == [*HEADER, "source_line_number"]
    assert all(batch.raw.schema.field(name).type == pa.string() for name in HEADER)
    assert batch.raw.schema.field("source_line_number").type == pa.int64()
    raw = batch.raw.to_pylist()
    assert raw[0]["Amount"] == "12,345.67" and raw[0]["Line Item"] == "1"
    assert raw[2]["Line Item"] == "001" and raw[2]["Document Date"] is None
    assert raw[1]["Cost Centre"] is None
    assert [row["source_line_number"] for row in raw] == [2, 3, 4, 5, 6, 7]


def test_no_float_anywhere(inbound):
    batch = read(write_delivery(inbound))
    for table in (batch.lines, batch.raw):
        assert not any(pa.types.is_floating(field.type) for field in table.schema)
    assert isinstance(batch.total_debit_pence, int) and isinstance(batch.total_credit_pence, int)


def test_control_file_values_are_kept(inbound):
    batch = read(write_delivery(inbound))
    control = batch.meta["control"]
    assert control["file"] == NAME and control["rows"] == 6
    assert control["total_debit"] == "1246913.61" and control["sha256"] == batch.digest


def test_an_empty_delivery_loads_with_no_lines(inbound):
    batch = read(write_delivery(inbound, []))
    assert batch.error is None
    assert batch.lines.num_rows == 0 and batch.lines.schema.equals(CONFORMED_SCHEMA)
    assert batch.raw.num_rows == 0 and batch.raw.column_names == [*HEADER, "source_line_number"]
    assert (batch.rows_read, batch.total_debit_pence, batch.total_credit_pence) == (0, 0, 0)
    assert batch.meta["control"]["total_debit"] == "0.00"


def test_a_last_record_without_crlf_still_loads_when_complete(inbound):
    batch = read(write_delivery(inbound, final_line_end=False))
    assert batch.error is None and batch.lines.num_rows == 6


def test_content_problems_are_left_to_validation(inbound):
    """Unbalanced documents, duplicate keys, dates outside the period, revenue without cost centre:
    the validation suites report these; the reader conforms them faithfully."""
    lines = [
        asc_line(Amount="10.00", DC="S"),  # its document never balances
        asc_line(Amount="10.00", DC="S"),  # same key as the line above
        asc_line(Document_Number="1000000009", Posting_Date="01.09.2016", Posting_Period="1"),
        asc_line(Document_Number="1000000010", Cost_Centre="", GL_Account="510000"),
    ]
    batch = read(write_delivery(inbound, lines))
    assert batch.error is None and batch.lines.num_rows == 4
    refs = batch.lines.column("source_line_ref").to_pylist()
    assert refs[0] == refs[1] == "ASC1/2016/1000000001/1"


def test_reading_twice_gives_the_same_batch(inbound):
    path = write_delivery(inbound)
    first, second = read(path), read(path)
    assert first.lines.equals(second.lines) and first.raw.equals(second.raw)
    assert first.digest == second.digest


def test_file_digest_is_the_sha256_of_the_bytes(inbound):
    path = write_delivery(inbound)
    assert file_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(min_value=0, max_value=10**15 - 1), min_size=1, max_size=30),
       separators=st.booleans())
def test_amounts_become_exact_pence(tmp_path_factory, amounts, separators):
    inbound = tmp_path_factory.mktemp("inbound")

    def text(pence):
        whole, fraction = divmod(pence, 100)
        return f"{whole:,}.{fraction:02d}" if separators else f"{whole}.{fraction:02d}"

    lines = [asc_line(Line_Item=str(i + 1), Amount=text(p), DC="S" if i % 2 else "H")
             for i, p in enumerate(amounts)]
    batch = read(write_delivery(inbound, lines))
    assert batch.error is None
    assert batch.lines.column("amount_pence").to_pylist() == [
        p if i % 2 else -p for i, p in enumerate(amounts)]


def test_totals_are_exact_beyond_the_int64_range(inbound):
    # 10,000 debits of 9,999,999,999,999.99: the sum overflows int64 (and a float's 53 bits)
    lines = [asc_line(Document_Number=f"{1000000000 + i}", Amount="9,999,999,999,999.99")
             for i in range(10_000)]
    batch = read(write_delivery(inbound, lines))
    assert batch.error is None
    assert batch.total_debit_pence == 10_000 * 999_999_999_999_999 > 2**63
    assert batch.total_credit_pence == 0


def test_twenty_thousand_lines_read_whole(inbound):
    """A large delivery reads completely and exactly (its speed is measured by `make bench`, not here)."""
    lines = [asc_line(Document_Number=f"{1000000000 + i // 2}", Line_Item=str(i % 2 + 1),
                      DC="SH"[i % 2], Amount="1,234.56", Text='Fuel, "diesel"')
             for i in range(20_000)]
    [delivery] = discover_deliveries(write_delivery(inbound, lines).parent)
    batch = read_delivery(delivery)
    assert batch.error is None and batch.lines.num_rows == 20_000
    assert batch.total_debit_pence == batch.total_credit_pence == 10_000 * 123456
    assert batch.lines.column("line_text").to_pylist()[:1] == ['Fuel, "diesel"']


# --- discovery --------------------------------------------------------------------------------


def test_a_data_file_without_its_control_file_is_left_alone(inbound, caplog):
    path = write_delivery(inbound, write_control=False)
    before = path.read_bytes()
    with caplog.at_level(logging.DEBUG, logger="alliance_finance.sources.sap_files"):
        assert discover_deliveries(inbound) == []
    assert path.read_bytes() == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("still being written" in r.getMessage() for r in caplog.records)


def test_deliveries_come_in_date_then_sequence_order(inbound):
    for day, sequence in [(6, 1), (5, 2), (5, 1), (5, 10)]:
        write_delivery(inbound, business_date=dt.date(2016, 4, day), sequence=sequence)
    deliveries = discover_deliveries(inbound)
    assert [(d.business_date.day, d.sequence) for d in deliveries] == [(5, 1), (5, 2), (5, 10), (6, 1)]
    first = deliveries[0]
    assert first == Delivery(name="ASC_GL_20160405_001.csv", data_path=inbound / "ASC_GL_20160405_001.csv",
                             control_path=inbound / "ASC_GL_20160405_001.ctl",
                             business_date=dt.date(2016, 4, 5), sequence=1)


@pytest.mark.parametrize("stray", [
    "asc_gl_20160405_001.csv", "ASC_GL_2016045_001.csv", "ASC_GL_20160405_1.csv",
    "ASC_GL_20160405_001.csv.part", "ASC_GL_20160405_001.CSV", "notes.txt", "ASC_GL_20161332_001.csv",
    "ASC_GL_２０１６０４０５_001.csv",
])
def test_stray_names_are_ignored_with_a_warning(inbound, caplog, stray):
    (inbound / stray).write_bytes(b"not a delivery")
    (inbound / (stray.rsplit(".", 1)[0] + ".ctl")).write_text(f"file={stray}\n")
    with caplog.at_level(logging.WARNING, logger="alliance_finance.sources.sap_files"):
        assert discover_deliveries(inbound) == []
    assert any(stray in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_discovery_opens_no_file(inbound, monkeypatch):
    write_delivery(inbound)
    (inbound / "report.html").write_text("<html>")

    def refuse(*args, **kwargs):
        raise AssertionError(f"discovery opened {args[0]!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    assert [d.name for d in discover_deliveries(inbound)] == [NAME]


def test_a_symlink_out_of_the_inbound_folder_is_ignored(inbound, tmp_path, caplog):
    outside = write_delivery(tmp_path / "elsewhere")
    (inbound / NAME).symlink_to(outside)
    (inbound / NAME.replace(".csv", ".ctl")).write_bytes(outside.with_suffix(".ctl").read_bytes())
    other = delivery_name(sequence=2)
    write_delivery(inbound, sequence=2)
    (inbound / other.replace(".csv", ".ctl")).unlink()
    (inbound / other.replace(".csv", ".ctl")).symlink_to(outside.with_suffix(".ctl"))
    with caplog.at_level(logging.WARNING, logger="alliance_finance.sources.sap_files"):
        assert discover_deliveries(inbound) == []
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "outside the inbound folder" in messages
    assert NAME in messages and other.replace(".csv", ".ctl") in messages


def test_a_control_file_without_data_is_reported(inbound, caplog):
    (inbound / "ASC_GL_20160405_001.ctl").write_text("file=ASC_GL_20160405_001.csv\n")
    with caplog.at_level(logging.WARNING, logger="alliance_finance.sources.sap_files"):
        assert discover_deliveries(inbound) == []
    assert any("without its data file" in r.getMessage() for r in caplog.records)


def test_a_vanished_file_is_an_os_error(inbound):
    path = write_delivery(inbound)
    [delivery] = discover_deliveries(inbound)
    path.unlink()
    with pytest.raises(FileNotFoundError):
        read_delivery(delivery)


# --- stage 1 and 2: the control file ------------------------------------------------------------


def test_control_rows_disagree(inbound):
    rejected(write_delivery(inbound, control={"rows": "7"}), "6 data rows", "expected 7", "ASC_GL_20160405_001.ctl")


@pytest.mark.parametrize("key,label", [("total_debit", "total debit"), ("total_credit", "total credit")])
def test_control_total_disagrees(inbound, key, label):
    error = rejected(write_delivery(inbound, control={key: "1246913.62"}), label,
                     "is 1,246,913.61", "expected 1,246,913.62", "difference of -0.01")
    assert "rows" not in error


def test_control_digest_disagrees(inbound):
    rejected(write_delivery(inbound, control={"sha256": "ab" * 32}), "SHA-256", "expected " + "ab" * 32)


def test_control_file_names_another_file(inbound):
    rejected(write_delivery(inbound, control={"file": "ASC_GL_20160406_001.csv"}),
             "control file ASC_GL_20160405_001.ctl line 1", "'ASC_GL_20160406_001.csv'", "another delivery")


@pytest.mark.parametrize("key", ["file", "rows", "total_debit", "total_credit", "sha256"])
def test_control_key_missing(inbound, key):
    rejected(write_delivery(inbound, omit_control=[key]), f"missing {key}")


@pytest.mark.parametrize("key,value,found", [
    ("rows", "six", "rows='six'"), ("rows", "-6", "rows='-6'"),
    ("total_debit", "1246913.6", "total_debit='1246913.6'"),
    ("total_credit", "1,246,913.61", "total_credit='1,246,913.61'"),
    ("sha256", "xyz", "sha256='xyz'"),
])
def test_control_value_malformed(inbound, key, value, found):
    rejected(write_delivery(inbound, control={key: value}), "control file ASC_GL_20160405_001.ctl line", found)


@pytest.mark.parametrize("text,fragments", [
    (b"file=ASC_GL_20160405_001.csv\nrows=6\nnote=caf\xe9\n", ["line 3", "not valid UTF-8", "0xE9"]),
    (b"file=ASC_GL_20160405_001.csv\nrows 6\n", ["line 2", "expected key=value", "'rows 6'"]),
    (b"rows=6\nfile=ASC_GL_20160405_001.csv\nrows=7\n", ["line 3", "rows given twice", "'6' on line 1"]),
    (b"", ["missing file, rows, total_debit, total_credit, sha256", "found none"]),
], ids=["latin1", "no-equals", "key-twice", "empty"])
def test_control_file_unreadable(inbound, text, fragments):
    path = write_delivery(inbound)
    path.with_suffix(".ctl").write_bytes(text)
    rejected(path, "control file ASC_GL_20160405_001.ctl", *fragments)


def test_control_keys_in_any_order_with_blank_lines(inbound):
    path = write_delivery(inbound)
    control = path.with_suffix(".ctl")
    control.write_text("\n".join(reversed(control.read_text().splitlines())) + "\n\n")
    assert read(path).error is None


# --- stage 3: encoding and line ends -------------------------------------------------------------


def test_a_file_without_byte_order_mark(inbound):
    rejected(write_delivery(inbound, bom=False), "line 1", "expected a UTF-8 byte-order mark",
             "found 'Company Code,")


def test_a_utf16_file(inbound):
    rejected(write_delivery(inbound, bom=False, encoding="utf-16"), "line 1", "UTF-16")


def test_a_utf16_file_without_its_own_mark(inbound):
    rejected(write_delivery(inbound, encoding="utf-16-le"), "line 1", "NUL byte")


def test_latin1_bytes(inbound):
    lines = happy_lines()[:2] + [asc_line(Document_Number="1000000003", Text="Café au lait"),
                                 asc_line(Document_Number="1000000003", DC="H")]
    path = write_delivery(inbound, lines, mutate=lambda b: b.replace("Café".encode(), "Café".encode("latin-1")))
    rejected(path, "line 4:", "expected UTF-8 text", "found byte 0xE9", "Caf")


@pytest.mark.parametrize("ending,word", [("\n", "bare LF"), ("\r", "bare CR")])
def test_a_line_end_other_than_crlf(inbound, ending, word):
    # the fourth line (third data line) ends wrongly
    def break_fourth(data: bytes) -> bytes:
        at = -1
        for _ in range(4):
            at = data.index(b"\r\n", at + 1)
        return data[:at] + ending.encode() + data[at + 2:]

    rejected(write_delivery(inbound, mutate=break_fourth), "line 4:", "expected CRLF line ends", word)


def test_lf_line_ends_throughout(inbound):
    rejected(write_delivery(inbound, line_end="\n"), "line 1:", "bare LF", "7 line(s)")


# --- stage 4: the header -------------------------------------------------------------------------


def test_a_missing_column(inbound):
    header = [name for name in HEADER if name != "Cost Centre"]
    rejected(write_delivery(inbound, header=header), "line 1 (header)", "missing column 'Cost Centre'")


def test_a_renamed_column(inbound):
    header = ["Cost Center" if name == "Cost Centre" else name for name in HEADER]
    rejected(write_delivery(inbound, header=header), "line 1 (header)",
             "column 9 is 'Cost Center' where 'Cost Centre' was expected")


def test_columns_in_another_order(inbound):
    header = list(HEADER)
    header[0], header[1] = header[1], header[0]
    rejected(write_delivery(inbound, header=header), "line 1 (header)", "another order")


@pytest.mark.parametrize("page", [
    "\ufeff<!DOCTYPE html>\r\n<html><body><h1>502 Bad Gateway</h1></body></html>\r\n",
    "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>\n",
    "  <!-- proxy -->\n<html></html>",
], ids=["with-bom-and-crlf", "plain", "comment-first"])
def test_an_html_error_page(inbound, page):
    rejected(write_delivery(inbound, data_bytes=page.encode()), "line 1 (header)", "an HTML page",
             "not a CSV ledger file", "expected the header row 'Company Code,")


def test_text_that_mentions_html_is_not_mistaken_for_a_page(inbound):
    batch = read(write_delivery(inbound, [asc_line(Text="<html> course, <b>bold</b>")]))
    assert batch.error is None and batch.lines.column("line_text")[0].as_py() == "<html> course, <b>bold</b>"


# --- stage 5 and 6: CSV structure and row count ---------------------------------------------------


def test_an_unquoted_comma_makes_an_extra_field(inbound):
    broken = csv_record(asc_line(Document_Number="1000000002", Amount="12,345.67").values())
    broken = broken.replace('"12,345.67"', "12,345.67")
    lines = happy_lines()[:2] + [broken]
    rejected(write_delivery(inbound, lines), "1 malformed record(s)", "line 4: expected 15 fields, found 16",
             "unquoted comma", "12,345.67")


def test_a_missing_field(inbound):
    short = ",".join(list(asc_line().values())[:14])
    rejected(write_delivery(inbound, [asc_line(), short]), "line 3: expected 15 fields, found 14")


def test_malformed_quotes(inbound):
    record = csv_record(asc_line().values()).replace("Stationery", '"Station"ery')
    rejected(write_delivery(inbound, [record]), "line 2: malformed quotes")


def test_a_line_break_inside_a_field(inbound):
    rejected(write_delivery(inbound, [asc_line(Text="two\r\nlines")]), "line 2: a quoted field is never closed")


def test_an_empty_line_between_records(inbound):
    rejected(write_delivery(inbound, [asc_line(), "", asc_line(Line_Item="2")]), "line 3: expected a record")


def test_many_malformed_records_show_five_and_the_count(inbound):
    broken = ",".join(list(asc_line().values())[:10])
    error = rejected(write_delivery(inbound, [asc_line()] + [broken] * 8), "8 malformed record(s)",
                     "line 3:", "line 7:")
    assert "line 8:" not in error


def test_a_file_truncated_mid_record(inbound):
    path = write_delivery(inbound, mutate=lambda data: data[:-40])  # digest and rows still agree
    rejected(path, "line 7:", "expected 15 fields, found", "the file looks truncated")


def test_a_file_truncated_inside_a_quoted_field(inbound):
    cut = lambda data: data[: data.rindex(b'"INV-77') + len(b'"INV-77')]  # noqa: E731
    lines = happy_lines()[:2]
    rejected(write_delivery(inbound, lines, mutate=cut), "line 3:", "never closed", "the file looks truncated")


def test_rows_disagree_with_the_lines_found(inbound):
    rejected(write_delivery(inbound, happy_lines()[:4], control={"rows": "6"}), "4 data rows", "expected 6")


# --- stage 7: typed columns ----------------------------------------------------------------------


@pytest.mark.parametrize("column,value,found", [
    ("Amount", "abc", "'abc' (not a number)"),
    ("Amount", "-5.00", "'-5.00' (negative"),
    ("Amount", "1,23.45", "'1,23.45' (thousands separators out of place)"),
    ("Amount", "12.5", "'12.5' (not exactly 2 decimals)"),
    ("Amount", "12345678901234.00", "'12345678901234.00' (more than 13 digits"),
    ("Amount", "", "a blank"),
    ("D/C", "X", "'X'"),
    ("Posting Date", "31.02.2016", "'31.02.2016'"),
    ("Posting Date", "2016-04-05", "'2016-04-05'"),
    ("Posting Date", "", "a blank"),
    ("Document Date", "30.02.2016", "'30.02.2016'"),
    ("Posting Period", "17", "'17'"),
    ("Posting Period", "0", "'0'"),
    ("Company Code", "WP01", "'WP01'"),
    ("Fiscal Year", "16", "'16'"),
    ("Document Number", "123", "'123'"),
    ("Line Item", "0", "'0'"),
    ("Line Item", "1000", "'1000'"),
    ("Document Type", "ZZ", "'ZZ'"),
    ("Cost Centre", "XX100200", "'XX100200'"),
    ("Cost Centre", "AS10020", "'AS10020'"),
    ("GL Account", "51000", "'51000'"),
])
def test_an_invalid_value_names_line_column_and_value(inbound, column, value, found):
    lines = happy_lines()
    lines[3] = dict(lines[3], **{column: value})
    error = rejected(write_delivery(inbound, lines), f"line 5, {column}: expected", f"found {found}",
                     "1 invalid value(s) on 1 line(s)")
    assert "total" not in error


def test_invalid_values_deep_in_a_large_file_name_their_lines(inbound):
    # 20,000 lines: pyarrow reads them in several chunks; line numbers must still be physical lines
    lines = [asc_line(Document_Number=f"{1000000000 + i // 2}", Line_Item=str(i % 2 + 1), DC="SH"[i % 2])
             for i in range(20_000)]
    lines[15_000] = dict(lines[15_000], **{"Posting Date": "30.02.2016"})
    lines[19_998] = dict(lines[19_998], **{"Cost Centre": "XX"})
    rejected(write_delivery(inbound, lines), "2 invalid value(s) on 2 line(s)",
             "line 15002, Posting Date: expected a real date DD.MM.YYYY, found '30.02.2016'",
             "line 20000, Cost Centre: expected AS and 6 digits, or a blank, found 'XX'")


def test_several_invalid_values_show_five_in_line_order_and_the_count(inbound):
    lines = [asc_line(Line_Item=str(i), Amount="abc", DC="X" if i == 2 else "S") for i in range(1, 9)]
    error = rejected(write_delivery(inbound, lines), "9 invalid value(s) on 8 line(s)",
                     "line 2, Amount", "line 3, D/C", "line 5, Amount")
    assert error.count("line ") == 5 and "line 7," not in error


def test_period_sixteen_and_blank_optional_fields_are_fine(inbound):
    lines = [asc_line(Posting_Period="16", Document_Date="", Cost_Centre="", Text="", Vendor="",
                      Reference="", Amount="0.00")]
    batch = read(write_delivery(inbound, lines))
    assert batch.error is None
    assert batch.lines.to_pylist()[0]["period"] == 16
