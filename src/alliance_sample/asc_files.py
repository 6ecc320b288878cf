"""Avon and Somerset's SAP deliveries: ``ASC_GL_<YYYYMMDD>_<NNN>.csv`` and its ``.ctl``, day by day.

The layout is SOURCES.md's, byte for byte: UTF-8 with a byte-order mark, CRLF line ends, the exact
header, fields quoted only where they contain a comma or a quote (a quote doubled), DD.MM.YYYY dates,
non-negative amounts with two decimals (about a third of those of £1,000 or more written with
thousands separators, as SAP's list output does), ``S``/``H`` for debit and credit, the cost centre
blank on balance-sheet accounts. Each control file is written after its data file is complete.

One business day is delivered twice: the ``_001`` file carried a wrong amount on one invoice line and
an invoice that was posted in error; ``_002`` is the corrected delivery and replaces it.

As of a night (``cutoff``, the day the night ends): only the deliveries of the days before it are
there; the corrected ``_002`` arrives with the next business day's delivery, so a night in between
holds only the wrong ``_001``. A file already in the folder with the same bytes is left alone (its
identity unchanged, as a real inbound folder's files stay), and the writer remembers every name it
delivered so that the caller can remove any other.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np

from alliance_sample.calendar import next_business_day
from alliance_sample.chart import Chart
from alliance_sample.documents import Documents

HEADER = ("Company Code,Fiscal Year,Posting Period,Document Number,Line Item,Document Type,Posting Date,"
          "Document Date,Cost Centre,GL Account,Amount,D/C,Text,Vendor,Reference")
COMPANY_CODES = ("ASC1", "ASP1")
DOCUMENT_TYPES = {
    "invoice": "KR", "duplicate": "KR", "credit": "KG", "payroll": "PR", "journal": "SA",
    "adjustment": "SA", "grant": "SA", "fees": "SA", "sps": "DR", "partner_in": "DR", "partner_out": "SA",
    "capf": "SA", "accrual": "SA", "accrual_reversal": "AB", "reversal": "AB",
}
#: SAP number ranges per document type: 10 digits, unique within company code and fiscal year
NUMBER_RANGES = {"SA": 1_000_000_000, "AB": 1_200_000_000, "DR": 1_800_000_000, "PR": 4_900_000_000,
                 "KR": 5_100_000_000, "KG": 5_150_000_000}
SEPARATOR_SHARE = 0.3


def escape(field: str) -> str:
    """CSV quoting as SAP writes it: quoted only when the field holds a comma or a quote."""
    if "," in field or '"' in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def amount_text(pence: int, separators: bool) -> str:
    whole, frac = divmod(pence, 100)
    if separators and whole >= 1000:
        return f'"{whole:,}.{frac:02d}"'
    return f"{whole}.{frac:02d}"


_DATES: dict[int, str] = {}


def date_text(ordinal: int) -> str:
    """``DD.MM.YYYY`` of a date ordinal; blank for 0."""
    text = _DATES.get(ordinal)
    if text is None:
        text = _DATES[ordinal] = dt.date.fromordinal(int(ordinal)).strftime("%d.%m.%Y") if ordinal > 0 else ""
    return text


class AscWriter:
    """Writes one force's posting months as daily deliveries into ``inbound``."""

    def __init__(self, inbound: Path, chart: Chart, redelivery_month: tuple[int, int] | None,
                 cutoff: dt.date | None = None):
        self.inbound = inbound
        #: as of the night that ends on this day: only deliveries that arrived before it (None: all)
        self.cutoff = cutoff
        self.names: set[str] = set()
        self.chart = chart
        self.redelivery_month = redelivery_month
        self.counters: dict[tuple[int, int, str], int] = {}
        self.files_written = 0
        self.files_by_fiscal_year: dict[int, int] = {}
        self.redelivered_day: dt.date | None = None
        self._escaped: dict[str, str] = {}
        self._cc_text = np.array(chart.cost_centres, dtype=object)
        self._account_text = np.array(chart.accounts, dtype=object)

    def _esc(self, text: str) -> str:
        cached = self._escaped.get(text)
        if cached is None:
            cached = self._escaped[text] = escape(text)
        return cached

    def write_month(self, d: Documents, deliver_days: list[dt.date], month: tuple[int, int],
                    rng: np.random.Generator) -> None:
        """Number the month's documents and write one delivery per day (an empty file on a quiet day)."""
        if len(self._escaped) > 100_000:
            self._escaped.clear()
        types = [DOCUMENT_TYPES[k] for k in d.kind]
        order = np.lexsort((rng.random(d.document_count), d.day))
        numbers = np.zeros(d.document_count, dtype=np.int64)
        for i in order.tolist():
            key = (int(d.company[i]), int(d.fiscal_year[i]), types[i])
            self.counters[key] = self.counters.get(key, 0) + 1
            numbers[i] = NUMBER_RANGES[types[i]] + self.counters[key]
        prefix, middle, tail = [], [], []
        esc = self._esc
        for i, (company, fiscal_year, period, number, doc_type, day, document_date, kind, vendor, reference,
                reverses) in enumerate(zip(d.company.tolist(), d.fiscal_year.tolist(), d.period.tolist(),
                                           numbers.tolist(), types, d.day.tolist(), d.document_date.tolist(),
                                           d.kind.tolist(), d.vendor.tolist(), d.reference.tolist(),
                                           d.reverses.tolist())):
            if kind == "reversal" and reverses >= 0:
                reference = str(numbers[reverses])
            if doc_type not in ("KR", "KG"):
                vendor = ""
            prefix.append(f"{COMPANY_CODES[company]},{fiscal_year},{period},{number}")
            middle.append(f"{doc_type},{date_text(day)},{date_text(document_date)}")
            tail.append(f"{esc(vendor)},{escape(reference)}")

        # lines of each day in (company code, fiscal year, document number) order
        doc_order = np.lexsort((numbers, d.fiscal_year, d.company, d.day))
        rank = np.empty(d.document_count, dtype=np.int64)
        rank[doc_order] = np.arange(d.document_count)
        line_order = np.lexsort((np.arange(d.line_count), rank[d.doc]))
        doc = d.doc[line_order]
        first_line = np.r_[True, doc[1:] != doc[:-1]] if len(doc) else np.empty(0, bool)
        starts = np.maximum.accumulate(np.where(first_line, np.arange(len(doc)), 0)) if len(doc) else doc
        item = np.arange(len(doc)) - starts + 1
        pence = d.pence[line_order]
        separators = (np.abs(pence) >= 100_000) & (rng.random(len(pence)) < SEPARATOR_SHARE)
        line_day = d.day[doc]

        redelivery = None
        if month == self.redelivery_month:
            redelivery = self._choose_redelivery(d, types, doc, pence, rng)

        cc_codes, account_codes = d.cost_centre[line_order], d.account[line_order]
        texts = d.text[line_order]
        magnitude = np.abs(pence)
        dc = np.where(pence > 0, "S", "H")

        def rows_between(lo: int, hi: int) -> list[str]:
            """One day's CSV records (rendered a day at a time so memory follows the day, not the month)."""
            amounts = [f"{w}.{f:02d}" for w, f in zip((magnitude[lo:hi] // 100).tolist(),
                                                       (magnitude[lo:hi] % 100).tolist())]
            for k in np.flatnonzero(separators[lo:hi]).tolist():
                amounts[k] = amount_text(int(magnitude[lo + k]), True)
            return [f"{prefix[k]},{i},{middle[k]},{c},{a},{m},{s},{esc(t)},{tail[k]}"
                    for k, i, c, a, m, s, t in zip(doc[lo:hi].tolist(), item[lo:hi].tolist(),
                                                   self._cc_text[cc_codes[lo:hi]].tolist(),
                                                   self._account_text[account_codes[lo:hi]].tolist(),
                                                   amounts, dc[lo:hi].tolist(), texts[lo:hi].tolist())]

        days = sorted(set(deliver_days) | {dt.date.fromordinal(int(x)) for x in np.unique(d.day)})
        bounds = np.searchsorted(line_day, [x.toordinal() for x in days] + [days[-1].toordinal() + 1]) if days else []
        for n, day in enumerate(days):
            lo, hi = int(bounds[n]), int(bounds[n + 1])
            debit = int(pence[lo:hi][pence[lo:hi] > 0].sum())
            credit = int(-pence[lo:hi][pence[lo:hi] < 0].sum())
            rows = rows_between(lo, hi)
            if redelivery is not None and redelivery["day"] == day.toordinal():
                first = self._first_delivery(rows, redelivery, lo, prefix, middle, tail, numbers, d, types)
                self._write(day, 1, *first)
                if self._write(day, 2, rows, debit, credit, arrives=next_business_day(day)):
                    self.redelivered_day = day
            else:
                self._write(day, 1, rows, debit, credit)

    # ------------------------------------------------------------------------------ re-delivery

    def _choose_redelivery(self, d: Documents, types, doc, pence, rng) -> dict | None:
        """An invoice with at least two expense lines, on an ordinary business day of the month."""
        counts = np.bincount(doc, minlength=d.document_count)
        candidates = [i for i in range(d.document_count) if types[i] == "KR" and d.kind[i] == "invoice"
                      and counts[i] >= 3 and dt.date.fromordinal(int(d.day[i])).weekday() < 5]
        if not candidates:
            return None
        chosen = candidates[int(rng.integers(len(candidates)))]
        lines = np.flatnonzero(doc == chosen)
        wrong_by = int(rng.integers(1, 9)) * 9_000      # a transposition-sized error: £90, £180, ...
        return {"day": int(d.day[chosen]), "doc": chosen, "lines": lines, "wrong_by": wrong_by}

    def _first_delivery(self, rows, r, offset, prefix, middle, tail, numbers, d, types):
        """The wrong ``_001`` file: one invoice line over-stated (its creditor line with it) and an
        invoice posted in error, which the corrected ``_002`` no longer contains."""
        rows = list(rows)
        expense, creditor = int(r["lines"][0]) - offset, int(r["lines"][-1]) - offset
        rows[expense] = _with_amount(rows[expense], r["wrong_by"], debit=True)
        rows[creditor] = _with_amount(rows[creditor], r["wrong_by"], debit=False)
        # the invoice posted in error: a copy of the first expense line under a number of its own
        doc = r["doc"]
        key = (int(d.company[doc]), int(d.fiscal_year[doc]), "KR")
        self.counters[key] += 1
        number = NUMBER_RANGES["KR"] + self.counters[key]
        company, fiscal_year, period, _ = prefix[doc].split(",")
        own_prefix = f"{company},{fiscal_year},{period},{number}"
        expense_fields = _split_row(rows[expense])
        amount = 123_456
        extra = [
            ",".join([own_prefix, "1", middle[doc], expense_fields[8], expense_fields[9],
                      amount_text(amount, True), "S", escape("Invoice keyed twice"), tail[doc]]),
            ",".join([own_prefix, "2", middle[doc], "", str(self.chart.accounts[self.chart.balance_sheet["creditors"]]),
                      amount_text(amount, True), "H", "", tail[doc]]),
        ]
        rows.extend(extra)
        debit = credit = 0
        for row in rows:
            fields = _split_row(row)
            value = int(fields[10].replace(",", "").replace('"', "").replace(".", ""))
            if fields[11] == "S":
                debit += value
            else:
                credit += value
        return rows, debit, credit

    # ------------------------------------------------------------------------------ files

    def _write(self, day: dt.date, sequence: int, rows: list[str], debit: int, credit: int,
               arrives: dt.date | None = None) -> bool:
        """Deliver one file and its control file; False when it arrives on or after the cutoff."""
        if self.cutoff is not None and (arrives or day) >= self.cutoff:
            return False
        name = f"ASC_GL_{day:%Y%m%d}_{sequence:03d}"
        body = "\r\n".join([HEADER, *rows]) + "\r\n"
        data = b"\xef\xbb\xbf" + body.encode("utf-8")
        control = (f"file={name}.csv\nrows={len(rows)}\ntotal_debit={_decimal(debit)}\n"
                   f"total_credit={_decimal(credit)}\nsha256={hashlib.sha256(data).hexdigest()}\n").encode("utf-8")
        data_path, control_path = self.inbound / f"{name}.csv", self.inbound / f"{name}.ctl"
        if not (self.cutoff is not None and _holds(data_path, data) and _holds(control_path, control)):
            control_path.unlink(missing_ok=True)  # never a control file beside data it does not describe
            data_path.write_bytes(data)
            control_path.write_bytes(control)
        self.names.update((data_path.name, control_path.name))
        self.files_written += 1
        fiscal_year = day.year if day.month >= 4 else day.year - 1
        self.files_by_fiscal_year[fiscal_year] = self.files_by_fiscal_year.get(fiscal_year, 0) + 1
        return True


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` already holds exactly ``data``."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _decimal(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def _split_row(row: str) -> list[str]:
    return next(csv.reader([row]))


def _with_amount(row: str, change: int, debit: bool) -> str:
    fields = _split_row(row)
    pence = int(fields[10].replace(",", "").replace(".", ""))
    assert (fields[11] == "S") == debit, "the re-delivered invoice's lines are not as expected"
    fields[10] = f"{(pence + change) // 100}.{(pence + change) % 100:02d}"
    return ",".join(escape(f) for f in fields)
