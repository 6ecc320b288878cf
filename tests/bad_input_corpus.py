"""A corpus of defective deliveries and journals, each one built in code, with what must happen to it.

Beyond the reader tests' own list (control-file mismatches, missing or renamed columns, bad amounts,
dates and periods, duplicate lines, unbalanced documents, non-UTF-8, truncated files, HTML pages, empty
deliveries, bad WP journals), these are what a night can bring: files renamed or re-delivered out of
order, names and links that lead out of the inbound folder, encodings and sizes nobody planned for,
texts that are formulas or SQL, the largest amounts, and a Wiltshire journal edited after posting.

Each :class:`Defect` has one or more steps; each step writes into a fresh source folder
(:class:`Sources`) and is followed by one pass of the defect's force. ``expect`` says what the last pass
must do, ``fragments`` what its message must say (the file, line or journal, what was expected and
what was found), and ``check`` anything more about the warehouse. tests/test_reliability_bad_input.py
runs them, one test case per entry, and checks row accounting after every pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

import asc_fixtures as asc
import wp_fixtures as wp

DAY = dt.date(2016, 4, 5)
NEXT_DAY = dt.date(2016, 4, 6)
DATA_NAME = asc.delivery_name(DAY)

#: the documents of the good delivery and journal every case's warehouse already holds
BASELINE_DAY = dt.date(2016, 4, 1)
BASELINE_DOCUMENTS = "('ASC1/2016/1000009999', '999999')"


class Sources:
    """A source folder: ``avon_somerset/inbound/`` and the Wiltshire ERP ``wiltshire/erp.db``."""

    def __init__(self, root: Path):
        self.root = root
        self.inbound = root / "avon_somerset" / "inbound"
        self.inbound.mkdir(parents=True)
        (root / "wiltshire").mkdir()
        self.erp_path = root / "wiltshire" / "erp.db"
        self.erp_url = wp.create_erp_database(f"sqlite:///{self.erp_path}")

    def deliver(self, lines=None, **kw) -> Path:
        """Write an ASC delivery (asc_fixtures.write_delivery: BOM, CRLF, control file last)."""
        return asc.write_delivery(self.inbound, lines, **kw)

    def post(self, *journals: wp.Journal) -> None:
        wp.insert_journals(self.erp_url, journals)

    def execute(self, sql: str, **params) -> None:
        wp.execute(self.erp_url, sql, **params)


def document(number: str, pence: int, *, text: str = "Stationery", vendor: str = "", reference: str = "",
             day: dt.date = DAY, lines: int = 1) -> list[dict]:
    """A balanced document: ``lines`` debits on a revenue account, one credit to creditors."""
    posted = day.strftime("%d.%m.%Y")
    debits = [asc.asc_line(Document_Number=number, Line_Item=str(item), Posting_Date=posted,
                           Amount=_amount(pence), DC="S", Text=text, Vendor=vendor, Reference=reference)
              for item in range(1, lines + 1)]
    credit = asc.asc_line(Document_Number=number, Line_Item=str(lines + 1), Posting_Date=posted,
                          Amount=_amount(pence * lines), DC="H", Cost_Centre="", GL_Account="210000",
                          Text=text, Vendor=vendor, Reference=reference)
    return debits + [credit]


def _amount(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def good_journal(journal_id: int, amount: str = "250.00", **kw) -> wp.Journal:
    return wp.invoice(journal_id, "APR-16", DAY, amount, **kw)


def baseline(s: Sources) -> None:
    """The good delivery and journal loaded before any defect arrives (they must come through intact)."""
    s.deliver(document("1000009999", 123_45, day=BASELINE_DAY), business_date=BASELINE_DAY)
    s.post(wp.invoice(999999, "APR-16", BASELINE_DAY, "543.21"))


def _rewrite_control(path: Path, **values: str) -> None:
    control = path.with_suffix(".ctl")
    lines = [line.split("=", 1) for line in control.read_text(encoding="utf-8").splitlines() if line]
    merged = {key: values.get(key, value) for key, value in lines}
    control.write_text("".join(f"{k}={v}\n" for k, v in merged.items()), encoding="utf-8")


def rows(engine: sa.Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def texts_loaded(engine: sa.Engine, force: str) -> dict[str, tuple]:
    """source_line_ref -> (line_text, vendor, reference) of a force's loaded lines."""
    return {r[0]: r[1:] for r in rows(engine, "SELECT source_line_ref, line_text, vendor, reference "
                                              "FROM fact_ledger_line WHERE force_code = :f", f=force)}


@dataclasses.dataclass(frozen=True)
class Defect:
    name: str
    force: str
    what: str
    steps: tuple[Callable[[Sources], None], ...]
    #: rejected | refused | ignored | loaded | quarantined | unchanged | run_failed
    expect: str
    fragments: tuple[str, ...] = ()
    check: Callable[[sa.Engine], None] | None = None
    #: the warehouse dialects it runs on (a defect whose outcome cannot depend on the dialect, and that
    #: is costly, runs on one)
    dialects: tuple[str, ...] = ("postgresql", "sqlite")


# -- the steps -------------------------------------------------------------------------------------


def _control_names_another_file(s: Sources) -> None:
    s.deliver(control={"file": asc.delivery_name(NEXT_DAY)})


def _control_path_traversal(s: Sources) -> None:
    s.deliver(control={"file": "../../../../etc/passwd"})


def _symlink_escaping_inbound(s: Sources) -> None:
    outside = s.root / "elsewhere"
    outside.mkdir()
    data = s.deliver()
    target = outside / data.name
    data.rename(target)
    data.symlink_to(Path("..") / ".." / "elsewhere" / data.name)


def _data_file_is_a_directory(s: Sources) -> None:
    data = s.deliver()
    data.unlink()
    data.mkdir()


def _impossible_date_in_name(s: Sources) -> None:
    data = s.deliver()
    bad = s.inbound / "ASC_GL_20160230_001.csv"
    data.rename(bad)
    data.with_suffix(".ctl").rename(bad.with_suffix(".ctl"))
    _rewrite_control(bad, file=bad.name)


def _first_delivery(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00), sequence=1)


def _third_sequence(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00), sequence=3)


def _second_sequence_after_third(s: Sources) -> None:
    s.deliver(document("1000000001", 200_00), sequence=2)


def _renamed_to_next_day(s: Sources) -> None:
    old = s.inbound / DATA_NAME
    new = s.inbound / asc.delivery_name(NEXT_DAY)
    old.rename(new)
    old.with_suffix(".ctl").rename(new.with_suffix(".ctl"))
    _rewrite_control(new, file=new.name)


def _renamed_control_untouched(s: Sources) -> None:
    old = s.inbound / DATA_NAME
    new = s.inbound / asc.delivery_name(NEXT_DAY)
    old.rename(new)
    old.with_suffix(".ctl").rename(new.with_suffix(".ctl"))


def _same_lines_redelivered(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00), sequence=2)


def _no_bom(s: Sources) -> None:
    s.deliver(bom=False)


def _utf16(s: Sources) -> None:
    s.deliver(bom=False, encoding="utf-16")


def _text_of_100_mb(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00, text="A" * 100_000_000))


def _text_of_51_characters(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00, text="x" * 51))


FORMULAS = ('=HYPERLINK("http://example.invalid/x","click")', "+1+1", "-1+1", "@SUM(A1:A9)",
            "=cmd|' /C calc'!A0", "\t=1+1")


def _formulas_in_texts(s: Sources) -> None:
    lines = []
    for number, formula in enumerate(FORMULAS, start=1):
        lines += document(f"100000000{number}", 10_00 * number, text=formula, vendor=formula, reference=formula)
    s.deliver(lines)


SQL_TEXTS = ("'; DROP TABLE fact_ledger_line; --", 'Robert"); DROP TABLE etl_batch;--',
             "O'Brien \\ Sons \\\\ Ltd", "\\N", "\\.", "%_ NULL $$ $1 ?", "'' \"\" ``")


def _sql_in_texts(s: Sources) -> None:
    lines = []
    for number, text in enumerate(SQL_TEXTS, start=1):
        lines += document(f"100000000{number}", 5_00 * number, text=text, vendor=f"100{number} {text}",
                          reference=text)
    s.deliver(lines)


def _nul_in_text(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00, text="Stationery"),
              mutate=lambda data: data.replace(b"Stationery", b"Station\x00ry", 1))


def _control_file_crlf_and_bom(s: Sources) -> None:
    data = s.deliver(document("1000000001", 100_00))
    control = data.with_suffix(".ctl")
    text = control.read_text(encoding="utf-8")
    control.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))


def _document_of_999_lines(s: Sources) -> None:
    s.deliver(document("1000000001", 1, lines=998))


def _largest_amount(s: Sources) -> None:
    s.deliver([asc.asc_line(Document_Number="1000000001", Line_Item="1", Amount="9,999,999,999,999.99", DC="S"),
               asc.asc_line(Document_Number="1000000001", Line_Item="2", Amount="9999999999999.99", DC="H",
                            Cost_Centre="", GL_Account="210000")])


def _amount_of_14_digits(s: Sources) -> None:
    s.deliver([asc.asc_line(Document_Number="1000000001", Line_Item="1", Amount="12345678901234.00", DC="S"),
               asc.asc_line(Document_Number="1000000001", Line_Item="2", Amount="12345678901234.00", DC="H",
                            Cost_Centre="", GL_Account="210000")])


def _totals_beyond_largest_amount(s: Sources) -> None:
    lines = []
    for number in ("1000000001", "1000000002"):
        lines += [asc.asc_line(Document_Number=number, Line_Item="1", Amount="9999999999999.99", DC="S"),
                  asc.asc_line(Document_Number=number, Line_Item="2", Amount="9999999999999.99", DC="H",
                               Cost_Centre="", GL_Account="210000")]
    s.deliver(lines)


def _zero_byte_data_file(s: Sources) -> None:
    s.deliver([], data_bytes=b"")


UNICODE_TEXT = "Zoë Łódź 👮‍♀️ مرحبا \u202eTXT.exe \u200b"


def _unicode_and_bidi(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00, text=UNICODE_TEXT, vendor=UNICODE_TEXT, reference=UNICODE_TEXT))


CONTROL_TEXT = "tab\there bell\x07 esc\x1b[31m vt\x0b ff\x0c"


def _control_characters(s: Sources) -> None:
    s.deliver(document("1000000001", 100_00, text=CONTROL_TEXT, reference=CONTROL_TEXT))


# WP --------------------------------------------------------------------------------------------------


def _journal_posted(s: Sources) -> None:
    s.post(good_journal(501, "100.00"))


def _journal_edited_after_posting(s: Sources) -> None:
    s.execute("UPDATE gl_journal_line SET entered_dr = 150.00 WHERE journal_id = 501 AND entered_dr IS NOT NULL")
    s.execute("UPDATE gl_journal_line SET entered_cr = 150.00 WHERE journal_id = 501 AND entered_cr IS NOT NULL")
    s.execute("UPDATE gl_journal SET description = 'edited after posting' WHERE journal_id = 501")


def _journal_of_10000_lines(s: Sources) -> None:
    lines = [wp.Line(wp.EXPENSE_ACCOUNT, entered_dr="0.01", line_description=f"item {n}") for n in range(9_999)]
    lines.append(wp.Line(wp.CREDITOR_ACCOUNT, entered_cr="99.99", line_description="creditors"))
    s.post(wp.Journal(501, "APR-16", DAY, dt.datetime(2016, 4, 5, 18), lines, source="PAY"))


def _cost_centre_of_letters(s: Sources) -> None:
    bad = good_journal(501, account="WP.ABCD.42000.0000")
    s.post(bad, good_journal(502))


def _nul_in_line_description(s: Sources) -> None:
    bad = good_journal(501)
    bad.lines[0].line_description = "goods\x00and services"
    s.post(bad, good_journal(502))


def _invalid_utf8_in_wp_texts(s: Sources) -> None:
    # SQLite keeps any bytes as TEXT: "Goods \xff and" in a line, a Latin-1 "caf\xe9" in a header
    s.post(good_journal(501), good_journal(502), good_journal(503))
    s.execute("UPDATE gl_journal_line SET line_description = CAST(X'476f6f647320ff20616e64' AS TEXT) "
              "WHERE journal_id = 501 AND line_no = 1")
    s.execute("UPDATE gl_journal SET description = CAST(X'636166e9' AS TEXT) WHERE journal_id = 503")


def _check_journal_503_not_utf8(engine) -> None:
    [(reason,)] = rows(engine, "SELECT DISTINCT reason FROM quarantine_line WHERE document_ref = '503'")
    assert "journal 503 quarantined whole" in reason, reason
    assert "description: not valid UTF-8 text (4 bytes: b'caf\\xe9')" in reason, reason
    assert rows(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE document_ref = '503'") == [(0,)]


WP_TEXTS = ("Robert'); DROP TABLE fact_ledger_line;--", "a\n\\.\nb", "\\N", "''\"\"\\\\", "x\r\ny")


def _sql_in_wp_texts(s: Sources) -> None:
    journals = []
    for number, text in enumerate(WP_TEXTS, start=1):
        journal = good_journal(500 + number, supplier=text, description=text)
        journal.lines[0].line_description = text
        journals.append(journal)
    s.post(*journals)


def _largest_wp_amount(s: Sources) -> None:
    s.post(good_journal(501, "999999999999.99"))


def _wp_amount_beyond_warehouse(s: Sources) -> None:
    s.post(good_journal(501, "12345678901234567.89"), good_journal(502))


def _negative_line_number(s: Sources) -> None:
    bad = good_journal(501)
    bad.lines[0].line_no = -1
    s.post(bad, good_journal(502))


def _unposted_journal_with_defects(s: Sources) -> None:
    bad = good_journal(501, status="U", account="WP.ABCD.42000.0000")
    bad.lines[0].line_description = "nul\x00"
    s.post(bad)


def _reversal_of_unknown_journal(s: Sources) -> None:
    original = good_journal(999_001)
    s.post(wp.reversal(original, 501))


def _supplier_name_of_10000_characters(s: Sources) -> None:
    s.post(good_journal(501, supplier="S" * 10_000))


# -- checks --------------------------------------------------------------------------------------------


def _check_formulas(engine) -> None:
    loaded = texts_loaded(engine, "ASC")
    for number, formula in enumerate(FORMULAS, start=1):
        assert loaded[f"ASC1/2016/100000000{number}/1"] == (formula, formula, formula)


def _check_sql_texts(engine) -> None:
    loaded = texts_loaded(engine, "ASC")
    for number, text in enumerate(SQL_TEXTS, start=1):
        assert loaded[f"ASC1/2016/100000000{number}/2"] == (text, f"100{number} {text}", text)
    assert rows(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE force_code = 'ASC'")[0][0] >= 14


def _check_line_count(count: int, force: str = "ASC") -> Callable:
    def check(engine) -> None:
        [(lines, net)] = rows(engine, "SELECT COUNT(*), SUM(amount_pence) FROM fact_ledger_line "
                                      f"WHERE force_code = :f AND document_ref NOT IN {BASELINE_DOCUMENTS}",
                              f=force)
        assert (lines, net) == (count, 0)
    return check


def _check_largest_amount(engine) -> None:
    found = rows(engine, "SELECT amount_pence, amount FROM fact_ledger_line "
                         "WHERE source_line_ref = 'ASC1/2016/1000000001/1'")
    [(pence, amount)] = found
    assert pence == 999_999_999_999_999 and str(amount) == "9999999999999.99"


def _check_texts(text: str, columns=(0, 2)) -> Callable:
    def check(engine) -> None:
        values = texts_loaded(engine, "ASC")["ASC1/2016/1000000001/1"]
        assert all(values[c] == text for c in columns), values
    return check


def _check_redelivered(engine) -> None:
    assert rows(engine, "SELECT source_ref, status FROM etl_batch WHERE business_date IS NOT NULL "
                        "AND source_ref LIKE 'ASC_GL_20160405%' ORDER BY source_ref") == [
        ("ASC_GL_20160405_001.csv", "superseded"), ("ASC_GL_20160405_002.csv", "loaded")]


def _check_journal_unchanged(engine) -> None:
    assert sorted(rows(engine, "SELECT source_line_ref, amount_pence, reference FROM fact_ledger_line "
                               "WHERE document_ref = '501'")) == [
        ("501/1", 100_00, "invoice 501"), ("501/2", -100_00, "invoice 501")]


def _check_wp_texts(engine) -> None:
    loaded = texts_loaded(engine, "WP")
    for number, text in enumerate(WP_TEXTS, start=1):
        assert loaded[f"{500 + number}/1"] == (text, text, text)


def _check_largest_wp_amount(engine) -> None:
    [(pence, amount)] = rows(engine, "SELECT amount_pence, amount FROM fact_ledger_line WHERE source_line_ref = '501/1'")
    assert pence == 99_999_999_999_999 and str(amount) == "999999999999.99"


def _check_supplier(engine) -> None:
    assert texts_loaded(engine, "WP")["501/1"][1] == "S" * 10_000


def _check_nothing_for_501(engine) -> None:
    assert rows(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE document_ref = '501'") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM quarantine_line WHERE document_ref = '501'") == [(0,)]


def _check_reversal(engine) -> None:
    assert sorted(rows(engine, "SELECT source_line_ref, amount_pence FROM fact_ledger_line "
                               "WHERE document_ref = '501'")) == [("501/1", -250_00), ("501/2", 250_00)]


# -- the corpus ----------------------------------------------------------------------------------------

CORPUS: tuple[Defect, ...] = (
    Defect("control_file_names_another_file", "ASC", "the .ctl says file= another day's data file",
           (_control_names_another_file,), "rejected",
           (DATA_NAME, "control file ASC_GL_20160405_001.ctl line 1", "names file='ASC_GL_20160406_001.csv'",
            "expected 'ASC_GL_20160405_001.csv'")),
    Defect("control_file_path_traversal", "ASC", "the .ctl's file= climbs out of the inbound folder",
           (_control_path_traversal,), "rejected",
           (DATA_NAME, "names file='../../../../etc/passwd'", "expected 'ASC_GL_20160405_001.csv'")),
    Defect("symlink_escaping_inbound", "ASC", "the data file is a symlink to a file outside the inbound folder",
           (_symlink_escaping_inbound,), "ignored", (DATA_NAME, "outside the inbound folder")),
    Defect("data_file_is_a_directory", "ASC", "a folder carries the data file's name, its .ctl beside it",
           (_data_file_is_a_directory,), "ignored", (DATA_NAME, "not a regular file")),
    Defect("impossible_date_in_file_name", "ASC", "ASC_GL_20160230_001.csv: 30 February",
           (_impossible_date_in_name,), "ignored", ("ASC_GL_20160230_001.csv", "20160230 is not a real date")),
    Defect("redelivery_with_a_lower_sequence", "ASC", "_002 arrives after _003 of the same day was loaded",
           (_third_sequence, _second_sequence_after_third), "rejected",
           ("ASC_GL_20160405_002.csv", "sequence 002 is lower than ASC_GL_20160405_003.csv",
            "a re-delivery must carry a higher sequence")),
    Defect("file_renamed_after_processing", "ASC", "a processed file renamed to the next day, control fixed up",
           (_first_delivery, _renamed_to_next_day), "rejected",
           ("ASC_GL_20160406_001.csv", "already loaded from another delivery", "from ASC_GL_20160405_001.csv")),
    Defect("file_renamed_control_untouched", "ASC", "a processed file and its .ctl renamed, the .ctl not edited",
           (_first_delivery, _renamed_control_untouched), "rejected",
           ("ASC_GL_20160406_001.csv", "names file='ASC_GL_20160405_001.csv'")),
    Defect("same_lines_redelivered", "ASC", "_002 repeats _001 byte for byte but for its name",
           (_first_delivery, _same_lines_redelivered), "loaded", check=_check_redelivered),
    Defect("no_byte_order_mark", "ASC", "UTF-8 without the BOM", (_no_bom,), "rejected",
           (DATA_NAME, "line 1: expected a UTF-8 byte-order mark (EF BB BF)")),
    Defect("utf16_file", "ASC", "the file is UTF-16 with its own BOM", (_utf16,), "rejected",
           (DATA_NAME, "the file is UTF-16")),
    Defect("text_field_of_100_mb", "ASC", "one Text field of 100,000,000 characters", (_text_of_100_mb,),
           "rejected", (DATA_NAME, "line 2: 100,000,", "longest field is 'Text' with 100,000,000 characters"),
           dialects=("sqlite",)),
    Defect("text_of_51_characters", "ASC", "Text one character over the contract's 50", (_text_of_51_characters,),
           "rejected", (DATA_NAME, "Text", "50")),
    Defect("formulas_in_texts", "ASC", "=HYPERLINK(...), +, -, @, DDE and tab-prefixed formulas in Text, "
           "Vendor and Reference", (_formulas_in_texts,), "loaded", check=_check_formulas),
    Defect("sql_metacharacters_in_texts_and_vendors", "ASC", "quotes, ; DROP TABLE, backslashes, \\N, \\., $$",
           (_sql_in_texts,), "loaded", check=_check_sql_texts),
    Defect("nul_byte_in_a_text", "ASC", "a NUL byte inside Text", (_nul_in_text,), "rejected",
           (DATA_NAME, "line 2: expected UTF-8 text, found a NUL byte")),
    Defect("control_file_with_crlf_and_bom", "ASC", "the .ctl written by a Windows tool", (_control_file_crlf_and_bom,),
           "loaded", check=_check_line_count(2)),
    Defect("document_of_999_lines", "ASC", "one document with the most line items SAP allows",
           (_document_of_999_lines,), "loaded", check=_check_line_count(999)),
    Defect("largest_amount_a_line_holds", "ASC", "9,999,999,999,999.99 on a line", (_largest_amount,), "loaded",
           check=_check_largest_amount),
    Defect("amount_of_14_digits", "ASC", "12345678901234.00: 14 digits before the point", (_amount_of_14_digits,),
           "rejected", (DATA_NAME, "line 2, Amount", "more than 13 digits before the point")),
    Defect("totals_beyond_the_largest_amount", "ASC", "two lines of 9,999,999,999,999.99: the file's total "
           "debit outgrows numeric(15,2)", (_totals_beyond_largest_amount,), "rejected",
           (DATA_NAME, "total debit £19,999,999,999,999.98 is beyond £9,999,999,999,999.99")),
    Defect("zero_byte_data_file", "ASC", "an empty data file with a consistent .ctl", (_zero_byte_data_file,),
           "rejected", (DATA_NAME, "expected a UTF-8 byte-order mark (EF BB BF) at the start, found an empty file")),
    Defect("unicode_beyond_the_bmp_and_bidi_controls", "ASC", "emoji, Arabic, a right-to-left override, a "
           "zero-width space", (_unicode_and_bidi,), "loaded", check=_check_texts(UNICODE_TEXT)),
    Defect("control_characters_in_texts", "ASC", "tab, bell, escape sequences, VT and FF in Text",
           (_control_characters,), "loaded", check=_check_texts(CONTROL_TEXT)),
    Defect("wp_journal_edited_after_posting", "WP", "a loaded journal's amounts and description changed in the ERP",
           (_journal_posted, _journal_edited_after_posting), "unchanged", check=_check_journal_unchanged),
    Defect("wp_journal_of_10000_lines", "WP", "a payroll journal of 10,000 lines", (_journal_of_10000_lines,),
           "loaded", check=_check_line_count(10_000, "WP")),
    Defect("wp_cost_centre_of_letters", "WP", "account string WP.ABCD.42000.0000", (_cost_centre_of_letters,),
           "quarantined", ("journal 501 quarantined whole", "malformed account string 'WP.ABCD.42000.0000'",
                           "expected WP.<4 digits>.<5 digits>.<4 digits>")),
    Defect("wp_nul_in_a_line_description", "WP", "a NUL character in line_description",
           (_nul_in_line_description,), "quarantined",
           ("journal 501 quarantined whole", "line 1 line_description: contains a NUL character")),
    Defect("wp_invalid_utf8_in_texts", "WP", "bytes that are not UTF-8 in a line description and in a journal "
           "description (SQLite stores them as TEXT)", (_invalid_utf8_in_wp_texts,), "quarantined",
           ("journal 501 quarantined whole", "line 1 line_description: not valid UTF-8 text (11 bytes: "
            "b'Goods \\xff and')"), check=_check_journal_503_not_utf8),
    Defect("wp_sql_metacharacters_and_copy_markers", "WP", "quotes, DROP TABLE, \\N, and \\. alone on a line "
           "(COPY's end-of-data marker) in supplier, description and line text", (_sql_in_wp_texts,), "loaded",
           check=_check_wp_texts),
    Defect("wp_largest_amount", "WP", "999,999,999,999.99: the most numeric(14,2) holds", (_largest_wp_amount,),
           "loaded", check=_check_largest_wp_amount),
    Defect("wp_amount_beyond_the_warehouse", "WP", "12345678901234567.89 in a SQLite source",
           (_wp_amount_beyond_warehouse,), "quarantined",
           ("journal 501 quarantined whole", "line 1 entered_dr: expected at most 9999999999999.99")),
    Defect("wp_negative_line_number", "WP", "line_no -1", (_negative_line_number,), "quarantined",
           ("501", "line_no")),
    Defect("wp_unposted_journal_with_defects", "WP", "an unposted journal, malformed and with a NUL: not ledger yet",
           (_unposted_journal_with_defects,), "unchanged", check=_check_nothing_for_501),
    Defect("wp_reversal_of_an_unknown_journal", "WP", "a reversal naming a journal the ERP does not have",
           (_reversal_of_unknown_journal,), "loaded", check=_check_reversal),
    Defect("wp_supplier_name_of_10000_characters", "WP", "supplier_name of 10,000 characters",
           (_supplier_name_of_10000_characters,), "loaded", check=_check_supplier),
)

assert len({d.name for d in CORPUS}) == len(CORPUS)

