"""An independent reader of sample sources, checking them against SOURCES.md word by word.

Only the standard library (csv, sqlite3, decimal, hashlib, re): nothing from the generator or the
pipeline, so a mistake shared by the code that writes and the code that reads cannot hide here. It
reads the reference CSVs itself too. :func:`check_sources` returns a :class:`SourceReport`: every
breach of the contract (naming the file and line, or the journal, what was expected and what was
found) and the figures a finance reader would compute from the ledger (NRE, pay share, alliance and
local scope spending, partner flows), in integer pence.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import hashlib
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"

ASC_HEADER = ("Company Code,Fiscal Year,Posting Period,Document Number,Line Item,Document Type,Posting Date,"
              "Document Date,Cost Centre,GL Account,Amount,D/C,Text,Vendor,Reference")
ASC_DOCUMENT_TYPES = {"KR", "KG", "SA", "PR", "DR", "AB"}
WP_SOURCES = {"AP", "AR", "GL", "PAY", "FA"}
WP_JOURNAL_COLUMNS = [("journal_id", "integer"), ("source", "text"), ("period_name", "text"),
                      ("accounting_date", "date"), ("status", "text"), ("posted_at", "timestamp"),
                      ("reverses_journal_id", "integer"), ("description", "text")]
WP_LINE_COLUMNS = [("journal_id", "integer"), ("line_no", "integer"), ("account_string", "text"),
                   ("entered_dr", "numeric(14,2)"), ("entered_cr", "numeric(14,2)"),
                   ("line_description", "text"), ("supplier_name", "text")]
PAY_SUBJECTIVES = {"OFF_PAY", "OFF_OT", "STF_PAY", "STF_OT", "PCSO_PAY", "PEN"}
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

FILE_NAME = re.compile(r"ASC_GL_(\d{8})_(\d{3})\.csv")
AMOUNT = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{2}")
SAP_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")
ACCOUNT_STRING = re.compile(r"WP\.(\d{4})\.(\d{5})\.(\d{4})")
PERIOD_NAME = re.compile(r"([A-Z]{3})-(\d{2})")
MAX_ERRORS_KEPT = 60


# ------------------------------------------------------------------------------------ reference


class Reference:
    """The reference CSVs, read with csv alone."""

    def __init__(self, directory: Path = REFERENCE):
        def rows(name):
            with (directory / name).open(newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))

        self.kind = {r["subjective_code"]: r["kind"] for r in rows("common_subjectives.csv")}
        self.scope = {r["objective_code"]: r["alliance_scope"] for r in rows("common_objectives.csv")}
        self.accounts = {"ASC": {r["gl_account"]: r["subjective_code"] for r in rows("avon_somerset_gl_accounts.csv")},
                         "WP": {r["natural_account"]: r["subjective_code"] for r in rows("wiltshire_natural_accounts.csv")}}
        self.cost_centres = {"ASC": collections.defaultdict(list), "WP": collections.defaultdict(list)}
        for force, name in (("ASC", "avon_somerset_cost_centres.csv"), ("WP", "wiltshire_cost_centres.csv")):
            for r in rows(name):
                start = int(r["valid_from_fy"]) if r["valid_from_fy"].strip() else 0
                end = int(r["valid_to_fy"]) if r["valid_to_fy"].strip() else 9999
                self.cost_centres[force][r["cost_centre"]].append((start, end, r["objective_code"]))

    def objective(self, force: str, cost_centre: str, fiscal_year: int) -> str | None:
        for start, end, objective in self.cost_centres[force].get(cost_centre, ()):
            if start <= fiscal_year <= end:
                return objective
        return None


# ------------------------------------------------------------------------------------ report


@dataclasses.dataclass
class Figures:
    """A force's fiscal year as a finance reader computes it from the ledger (pence)."""

    lines: int = 0
    documents: int = 0
    nre: int = 0
    expenditure: int = 0
    pay: int = 0
    alliance: int = 0
    local: int = 0
    partner_paid: int = 0
    partner_received: int = 0
    unmapped_lines: int = 0
    unmapped_cost_centres: set = dataclasses.field(default_factory=set)
    unmapped_accounts: set = dataclasses.field(default_factory=set)
    restructure_lines: int = 0

    @property
    def pay_share(self) -> Decimal:
        return Decimal(self.pay) / Decimal(self.expenditure)


@dataclasses.dataclass
class SourceReport:
    errors: list[str] = dataclasses.field(default_factory=list)
    error_count: int = 0
    figures: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(Figures))
    asc_files: int = 0
    asc_data_lines: int = 0
    #: date -> (sequences, lines only in the earlier delivery, lines whose content changed)
    asc_redeliveries: dict = dataclasses.field(default_factory=dict)
    asc_document_types: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    asc_periods: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    asc_quoted_fields: int = 0
    asc_thousands_separators: int = 0
    asc_redacted_vendors: int = 0
    asc_non_ascii_texts: int = 0
    asc_weekend_deliveries: int = 0
    asc_blank_document_dates: int = 0
    wp_journals: int = 0
    wp_unposted: int = 0
    wp_unbalanced_unposted: int = 0
    wp_reversals: int = 0
    wp_late_commits: int = 0
    wp_periods: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    wp_sources: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    wp_storage_types: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    wp_redacted_suppliers: int = 0
    #: (company code, fiscal year, document number) -> how many final deliveries hold it
    asc_final_documents: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def lines_per_year(self, fiscal_year: int) -> int:
        return self.figures[("ASC", fiscal_year)].lines + self.figures[("WP", fiscal_year)].lines

    def savings(self, fiscal_year: int, forces=("ASC", "WP"), baseline: int = 2014) -> int:
        return sum(self.figures[(f, baseline)].alliance - self.figures[(f, fiscal_year)].alliance for f in forces)

    def partner_mismatch(self, fiscal_year: int) -> int:
        asc, wp = self.figures[("ASC", fiscal_year)], self.figures[("WP", fiscal_year)]
        return (wp.partner_paid - asc.partner_received) + (asc.partner_paid - wp.partner_received)


def _fiscal_year_of(day: dt.date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def _period_agrees(fiscal_year: int, period: int, day: dt.date) -> bool:
    if 1 <= period <= 12:
        month = (period + 2) % 12 + 1
        year = fiscal_year if month >= 4 else fiscal_year + 1
        return (day.year, day.month) == (year, month)
    if 13 <= period <= 16:
        return dt.date(fiscal_year + 1, 3, 1) <= day <= dt.date(fiscal_year + 1, 9, 30)
    return False


def _pence(text: str) -> int:
    whole, frac = text.replace(",", "").split(".")
    return int(whole) * 100 + int(frac)


def _count(report: SourceReport, ref: Reference, force: str, fiscal_year: int, cost_centre: str | None,
           account: str, pence: int) -> None:
    """Add a ledger line to the finance figures."""
    f = report.figures[(force, fiscal_year)]
    f.lines += 1
    subjective = ref.accounts[force].get(account)
    kind = ref.kind.get(subjective) if subjective else None
    if kind is None:
        kind = "balance_sheet" if account[0] in "123" else "unmapped"
        if kind == "unmapped":
            f.unmapped_accounts.add(account)
            f.unmapped_lines += 1
    objective = ref.objective(force, cost_centre, fiscal_year) if cost_centre else "BS00"
    if objective is None:
        f.unmapped_cost_centres.add(cost_centre)
        f.unmapped_lines += 1
    if cost_centre in ("AS230700", "3950"):
        f.restructure_lines += 1
    if kind == "balance_sheet":
        return
    f.nre += pence
    if kind == "expenditure":
        f.expenditure += pence
    if subjective in PAY_SUBJECTIVES:
        f.pay += pence
    if subjective == "PART_PAY":
        f.partner_paid += pence
    elif subjective == "INC_PART":
        f.partner_received -= pence
    elif objective is not None:
        scope = ref.scope.get(objective)
        if scope == "alliance":
            f.alliance += pence
        elif scope == "local":
            f.local += pence


# ------------------------------------------------------------------------------------ ASC


def _csv_field(field: str) -> str:
    return '"' + field.replace('"', '""') + '"' if ("," in field or '"' in field) else field


def _read_control(path: Path, report: SourceReport) -> dict[str, str] | None:
    if not path.exists():
        report.error(f"{path.name}: control file missing for its data file")
        return None
    values = {}
    for number, line in enumerate(path.read_bytes().decode("utf-8").splitlines(), start=1):
        key, sep, value = line.partition("=")
        if not sep:
            report.error(f"{path.name} line {number}: expected key=value, found {line!r}")
            continue
        values[key] = value
    expected = {"file", "rows", "total_debit", "total_credit", "sha256"}
    if set(values) != expected:
        report.error(f"{path.name}: expected keys {sorted(expected)}, found {sorted(values)}")
        return None
    return values


def _check_asc_file(path: Path, ref: Reference, report: SourceReport, final: bool, line_store: dict | None) -> None:
    name = path.name
    match = FILE_NAME.fullmatch(name)
    file_date = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    if file_date.weekday() >= 5:
        report.asc_weekend_deliveries += 1
    data = path.read_bytes()
    control = _read_control(path.with_suffix(".ctl"), report)
    if not data.startswith(b"\xef\xbb\xbf"):
        report.error(f"{name}: expected a UTF-8 byte-order mark, found {data[:3]!r}")
    try:
        text = data[3:].decode("utf-8")
    except UnicodeDecodeError as exc:
        report.error(f"{name}: not UTF-8 ({exc})")
        return
    if not text.endswith("\r\n"):
        report.error(f"{name}: expected the last line to end with CRLF")
    if text.replace("\r\n", "").count("\n") or text.replace("\r\n", "").count("\r"):
        report.error(f"{name}: a bare LF or CR: expected CRLF line ends only")
    records = text[:-2].split("\r\n") if text.endswith("\r\n") else text.split("\r\n")
    if records[0] != ASC_HEADER:
        report.error(f"{name} line 1: expected the header {ASC_HEADER!r}, found {records[0]!r}")
    debit = credit = 0
    documents: dict[tuple, list] = collections.defaultdict(list)
    for number, raw in enumerate(records[1:], start=2):
        where = f"{name} line {number}"
        fields = next(csv.reader([raw]))
        if len(fields) != 15:
            report.error(f"{where}: expected 15 fields, found {len(fields)}")
            continue
        if ",".join(_csv_field(f) for f in fields) != raw:
            report.error(f"{where}: quoting: expected quotes only around fields with a comma or quote, found {raw!r}")
        report.asc_quoted_fields += raw.count(',"') + raw.startswith('"')
        (company, fy_text, period_text, document, item, doc_type, posting, document_date, cost_centre,
         account, amount, dc, line_text, vendor, reference) = fields
        if company not in ("ASC1", "ASP1"):
            report.error(f"{where}: Company Code expected ASC1 or ASP1, found {company!r}")
        if not re.fullmatch(r"\d{4}", fy_text) or not re.fullmatch(r"\d{1,2}", period_text):
            report.error(f"{where}: Fiscal Year/Posting Period malformed: {fy_text!r}/{period_text!r}")
            continue
        fiscal_year, period = int(fy_text), int(period_text)
        if not re.fullmatch(r"\d{10}", document):
            report.error(f"{where}: Document Number expected 10 digits, found {document!r}")
        if not re.fullmatch(r"\d{1,3}", item) or not 1 <= int(item) <= 999:
            report.error(f"{where}: Line Item expected 1-999, found {item!r}")
        if doc_type not in ASC_DOCUMENT_TYPES:
            report.error(f"{where}: Document Type expected one of {sorted(ASC_DOCUMENT_TYPES)}, found {doc_type!r}")
        report.asc_document_types[doc_type] += final
        day = None
        m = SAP_DATE.fullmatch(posting)
        try:
            day = dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else None
        except ValueError:
            day = None
        if day is None:
            report.error(f"{where}: Posting Date expected DD.MM.YYYY, found {posting!r}")
        elif day != file_date:
            report.error(f"{where}: Posting Date {posting} is not the delivery's business date {file_date}")
        elif not _period_agrees(fiscal_year, period, day):
            report.error(f"{where}: Posting Date {posting} does not lie in FY {fiscal_year} period {period}")
        elif day.weekday() >= 5 and period <= 12:
            report.error(f"{where}: period {period} posted on a {day:%A}: expected business days only, "
                         "weekends being for year-end adjustments")
        if document_date == "":
            report.asc_blank_document_dates += 1
        elif not SAP_DATE.fullmatch(document_date):
            report.error(f"{where}: Document Date expected DD.MM.YYYY or blank, found {document_date!r}")
        if not re.fullmatch(r"\d{6}", account):
            report.error(f"{where}: GL Account expected 6 digits, found {account!r}")
            continue
        balance_sheet = account[0] in "123"
        if balance_sheet and cost_centre:
            report.error(f"{where}: balance-sheet account {account} expected a blank Cost Centre, found {cost_centre!r}")
        if not balance_sheet and not re.fullmatch(r"AS\d{6}", cost_centre):
            report.error(f"{where}: Cost Centre expected AS and 6 digits, found {cost_centre!r}")
        if cost_centre and (company == "ASP1") != cost_centre.startswith(("AS9501", "AS9502")):
            report.error(f"{where}: cost centre {cost_centre} booked in company code {company}")
        if not AMOUNT.fullmatch(amount):
            report.error(f"{where}: Amount expected non-negative with 2 decimals, found {amount!r}")
            continue
        if "," in amount:
            report.asc_thousands_separators += 1
        if dc not in ("S", "H"):
            report.error(f"{where}: D/C expected S or H, found {dc!r}")
            continue
        if len(line_text) > 50:
            report.error(f"{where}: Text longer than 50 characters ({len(line_text)})")
        if not line_text.isascii():
            report.asc_non_ascii_texts += 1
        if doc_type in ("KR", "KG"):
            if not re.fullmatch(r"\d{6} .+", vendor):
                report.error(f"{where}: Vendor expected '<number> <name>' on a {doc_type} line, found {vendor!r}")
            if vendor.endswith("REDACTED PERSONAL DATA"):
                report.asc_redacted_vendors += 1
        elif vendor:
            report.error(f"{where}: Vendor expected blank on a {doc_type} line, found {vendor!r}")
        pence = _pence(amount)
        signed = pence if dc == "S" else -pence
        debit += pence if dc == "S" else 0
        credit += pence if dc == "H" else 0
        key = (company, fiscal_year, document)
        documents[key].append((int(item), signed, doc_type))
        if final:
            _count(report, ref, "ASC", fiscal_year, cost_centre or None, account, signed)
            report.asc_periods[period] += 1
        if line_store is not None:
            line_store[(company, fiscal_year, document, int(item))] = raw
    report.asc_data_lines += len(records) - 1
    for key, lines in documents.items():
        if sum(s for _, s, _ in lines):
            report.error(f"{name}: document {'/'.join(map(str, key))} does not balance: "
                         f"debits minus credits {sum(s for _, s, _ in lines)} pence")
        items = sorted(i for i, _, _ in lines)
        if items != list(range(1, len(items) + 1)):
            report.error(f"{name}: document {'/'.join(map(str, key))} line items expected 1..{len(items)}, found {items[:10]}")
        if len({t for _, _, t in lines}) != 1:
            report.error(f"{name}: document {'/'.join(map(str, key))} mixes document types")
    if final:
        for key in documents:
            report.figures[("ASC", key[1])].documents += 1
        report.asc_final_documents.update(documents.keys())
    if control is not None:
        expected = {"file": name, "rows": str(len(records) - 1), "total_debit": f"{debit // 100}.{debit % 100:02d}",
                    "total_credit": f"{credit // 100}.{credit % 100:02d}", "sha256": hashlib.sha256(data).hexdigest()}
        for key, value in expected.items():
            if control[key] != value:
                report.error(f"{path.with_suffix('.ctl').name}: {key} expected {value}, found {control[key]}")


def check_asc(inbound: Path, ref: Reference, report: SourceReport) -> None:
    by_date: dict[str, list[Path]] = collections.defaultdict(list)
    for path in sorted(inbound.iterdir()):
        if path.suffix == ".ctl":
            if not path.with_suffix(".csv").exists():
                report.error(f"{path.name}: control file without its data file")
            continue
        match = FILE_NAME.fullmatch(path.name)
        if not match:
            report.error(f"{path.name}: expected ASC_GL_<YYYYMMDD>_<NNN>.csv")
            continue
        by_date[match.group(1)].append(path)
    for date_text, paths in sorted(by_date.items()):
        paths.sort()
        report.asc_files += len(paths)
        stores = []
        for n, path in enumerate(paths):
            store = {} if len(paths) > 1 else None
            _check_asc_file(path, ref, report, final=(n == len(paths) - 1), line_store=store)
            stores.append(store)
        if len(paths) > 1:
            earlier, final = stores[-2], stores[-1]
            dropped = len(set(earlier) - set(final))
            changed = sum(1 for k in set(earlier) & set(final) if earlier[k] != final[k])
            report.asc_redeliveries[date_text] = (len(paths), dropped, changed)
    duplicates = [k for k, n in report.asc_final_documents.items() if n > 1]
    for key in duplicates[:5]:
        report.error(f"ASC document {'/'.join(map(str, key))} appears in more than one day's delivery: "
                     "expected document numbers unique within company code and fiscal year")


# ------------------------------------------------------------------------------------ WP


def _period_of_name(name: str) -> tuple[int, int] | None:
    m = PERIOD_NAME.fullmatch(name or "")
    if not m:
        return None
    month, yy = m.group(1), 2000 + int(m.group(2))
    if month == "ADJ":
        return yy - 1, 13
    if month not in MONTHS:
        return None
    number = MONTHS.index(month) + 1
    fiscal_year = yy if number >= 4 else yy - 1
    return fiscal_year, (number - 4) % 12 + 1


def check_wp(database: Path, ref: Reference, report: SourceReport) -> None:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        for table, columns in (("gl_journal", WP_JOURNAL_COLUMNS), ("gl_journal_line", WP_LINE_COLUMNS)):
            found = [(r[1], r[2].lower()) for r in connection.execute(f"PRAGMA table_info({table})")]
            if found != columns:
                report.error(f"{database.name} {table}: expected columns {columns}, found {found}")
        journals = {}
        for row in connection.execute("SELECT journal_id, source, period_name, accounting_date, status, posted_at, "
                                      "reverses_journal_id, description FROM gl_journal ORDER BY journal_id"):
            journal_id, source, period_name, accounting_date, status, posted_at, reverses, _ = row
            where = f"journal {journal_id}"
            report.wp_journals += 1
            report.wp_sources[source] += 1
            if source not in WP_SOURCES:
                report.error(f"{where}: source expected one of {sorted(WP_SOURCES)}, found {source!r}")
            period = _period_of_name(period_name)
            if period is None:
                report.error(f"{where}: period_name expected MON-YY or ADJ-YY, found {period_name!r}")
                continue
            try:
                day = dt.date.fromisoformat(accounting_date)
            except (TypeError, ValueError):
                report.error(f"{where}: accounting_date expected an ISO date, found {accounting_date!r}")
                continue
            if not _period_agrees(*period, day):
                report.error(f"{where}: accounting_date {day} does not lie in {period_name}")
            if status not in ("P", "U"):
                report.error(f"{where}: status expected P or U, found {status!r}")
            if (status == "U") != (posted_at is None):
                report.error(f"{where}: posted_at expected null exactly when unposted, found status {status} "
                             f"posted_at {posted_at!r}")
            stamp = None
            if posted_at is not None:
                try:
                    stamp = dt.datetime.strptime(posted_at, "%Y-%m-%d %H:%M:%S")
                except (TypeError, ValueError):
                    report.error(f"{where}: posted_at expected 'YYYY-MM-DD HH:MM:SS', found {posted_at!r}")
                if stamp and stamp.date() < day - dt.timedelta(days=1) and period[1] != 13:
                    report.error(f"{where}: posted_at {posted_at} long before its accounting date {day}")
            report.wp_periods[period_name] += status == "P"
            journals[journal_id] = {"status": status, "period": period, "posted_at": stamp, "reverses": reverses,
                                    "lines": []}
        for row in connection.execute("SELECT journal_id, line_no, account_string, CAST(entered_dr AS TEXT), "
                                      "CAST(entered_cr AS TEXT), typeof(entered_dr), typeof(entered_cr), "
                                      "line_description, supplier_name FROM gl_journal_line "
                                      "ORDER BY journal_id, line_no"):
            journal_id, line_no, account_string, dr, cr, dr_type, cr_type, _, supplier = row
            where = f"journal {journal_id} line {line_no}"
            journal = journals.get(journal_id)
            if journal is None:
                report.error(f"{where}: no such journal in gl_journal")
                continue
            m = ACCOUNT_STRING.fullmatch(account_string or "")
            if not m:
                report.error(f"{where}: account_string expected WP.<cc 4>.<account 5>.<analysis 4>, found {account_string!r}")
                continue
            cost_centre, account = m.group(1), m.group(2)
            if (cost_centre == "0000") != (account[0] in "123"):
                report.error(f"{where}: cost centre expected 0000 exactly on balance-sheet accounts, found {account_string}")
            if (dr is None) == (cr is None):
                report.error(f"{where}: expected exactly one of entered_dr and entered_cr, found {dr!r} and {cr!r}")
                continue
            text, storage = (dr, dr_type) if dr is not None else (cr, cr_type)
            report.wp_storage_types[storage] += 1
            value = Decimal(text)
            if value < 0 or value != value.quantize(Decimal("0.01")):
                report.error(f"{where}: amount expected non-negative with at most 2 decimals, found {text}")
                continue
            pence = int(value * 100)
            journal["lines"].append((account_string, pence if dr is not None else -pence))
            if supplier == "REDACTED PERSONAL DATA":
                report.wp_redacted_suppliers += 1
        latest = None
        for journal_id, journal in journals.items():
            where = f"journal {journal_id}"
            if not journal["lines"]:
                report.error(f"{where}: has no lines")
            if journal["status"] != "P":
                report.wp_unposted += 1
                report.wp_unbalanced_unposted += sum(p for _, p in journal["lines"]) != 0
                continue
            total = sum(p for _, p in journal["lines"])
            if total:
                report.error(f"{where}: posted but does not balance: debits minus credits {total} pence")
            if latest is not None and journal["posted_at"] < latest:
                report.wp_late_commits += 1
            latest = max(latest or journal["posted_at"], journal["posted_at"])
            if journal["reverses"] is not None:
                report.wp_reversals += 1
                original = journals.get(journal["reverses"])
                if original is None or original["status"] != "P":
                    report.error(f"{where}: reverses_journal_id {journal['reverses']} is not a posted journal")
                elif sorted((a, -p) for a, p in original["lines"]) != sorted(journal["lines"]):
                    report.error(f"{where}: expected the opposite amounts of journal {journal['reverses']}")
            fiscal_year = journal["period"][0]
            report.figures[("WP", fiscal_year)].documents += 1
            for account_string, pence in journal["lines"]:
                _, cost_centre, account, _ = account_string.split(".")
                _count(report, ref, "WP", fiscal_year, None if cost_centre == "0000" else cost_centre, account, pence)
    finally:
        connection.close()


def check_sources(out: Path, reference: Path = REFERENCE) -> SourceReport:
    """Check both forces' sources under ``out`` against SOURCES.md; figures from the ledger as loaded
    (ASC: the last delivery of each day; WP: posted journals)."""
    ref = Reference(reference)
    report = SourceReport()
    check_asc(Path(out) / "avon_somerset" / "inbound", ref, report)
    check_wp(Path(out) / "wiltshire" / "erp.db", ref, report)
    return report
