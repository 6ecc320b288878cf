"""Wiltshire's ERP reporting database as a SQLite file: ``gl_journal`` and ``gl_journal_line``.

Money: ``entered_dr`` and ``entered_cr`` are declared ``NUMERIC(14,2)`` as SOURCES.md says, and each
amount is inserted as its exact decimal text (``'1234.50'``). SQLite's NUMERIC affinity then stores it
as an INTEGER when it is whole pounds and otherwise as a REAL: the double nearest the amount. Every
amount of ``numeric(14,2)`` has at most 14 significant digits, and doubles keep 15, so the shortest
text of the stored double (``CAST(entered_dr AS TEXT)``, Python's ``repr``, SQLAlchemy's ``Numeric``)
is the amount exactly; a reader must go through that text (or ``Decimal(repr(value))``) and never do
arithmetic on the float. TEXT storage was not an option: affinity converts decimal-looking text
whatever the insert, and integer pence would change the column's meaning.

Journals get their ``journal_id`` when they are entered (ids increase over time) and their
``posted_at`` when posting finishes: usually minutes later, sometimes days (a journal waiting for
approval, a long payroll transaction), so the order of ids is not the order of ``posted_at``. A few
journals are left unposted (``status`` U, ``posted_at`` null), one of them not yet balanced.

The file is reproducible: it is rebuilt from nothing, rows go in in key order, and no time comes from
the clock.

As of a night (``cutoff``, seconds since day ordinal 0: midnight at the start of the day the night
ends): a journal entered later is not there yet; one entered but not yet visible as posted is there as
unposted (``U``, ``posted_at`` null), with the lines it will post with. Posting is a transaction: most
commit the moment ``posted_at`` is stamped, but a few long ones (:data:`LATE_COMMIT_RATE`) commit
hours later, so a journal can turn up posted on a night with a ``posted_at`` earlier than the
previous night's cutoff, as SOURCES.md warns. A reversal is not visible before the journal it
reverses. Ids and every other value are those of the whole-year file, so later nights only add
journals and post parked ones; the commit delays come from a random stream of their own, so the
whole-year file's bytes do not depend on them.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np

from alliance_sample.calendar import wp_period_name
from alliance_sample.chart import Chart
from alliance_sample.documents import Documents

SCHEMA = """
CREATE TABLE gl_journal (
    journal_id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    period_name TEXT NOT NULL,
    accounting_date DATE NOT NULL,
    status TEXT NOT NULL,
    posted_at TIMESTAMP,
    reverses_journal_id INTEGER,
    description TEXT
);
CREATE TABLE gl_journal_line (
    journal_id INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    account_string TEXT NOT NULL,
    entered_dr NUMERIC(14,2),
    entered_cr NUMERIC(14,2),
    line_description TEXT,
    supplier_name TEXT,
    PRIMARY KEY (journal_id, line_no)
);
"""
INDEXES = """
CREATE INDEX gl_journal_posted_at ON gl_journal (posted_at);
CREATE INDEX gl_journal_period ON gl_journal (period_name);
"""
SOURCES = {
    "invoice": "AP", "duplicate": "AP", "credit": "AP", "partner_out": "AP", "payroll": "PAY",
    "journal": "GL", "adjustment": "GL", "grant": "GL", "accrual": "GL", "accrual_reversal": "GL",
    "fees": "AR", "sps": "AR", "partner_in": "AR", "capf": "GL",
}
FIRST_JOURNAL_ID = 100_001
UNPOSTED_RATE = 0.004
#: share of posted journals whose posting transaction commits late, and by how long (seconds)
LATE_COMMIT_RATE = 0.15
LATE_COMMIT_SECONDS = (2 * 3600, 16 * 3600)
ANALYSIS_CODES = ("2001", "0450")
#: Avon and Somerset as Wiltshire's supplier (the Brunel contribution)
PARTNER_SUPPLIER = "PCC for Avon and Somerset"


_UNIX_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _timestamps(seconds: np.ndarray) -> list[str]:
    """``YYYY-MM-DD HH:MM:SS`` of seconds counted from the start of day ordinal 0."""
    unix = (seconds - _UNIX_EPOCH_ORDINAL * 86400).astype("datetime64[s]")
    return [t.replace("T", " ") for t in np.datetime_as_string(unix, unit="s").tolist()]


class WpWriter:
    """Writes one force's posting months as journals into a fresh SQLite file."""

    def __init__(self, path: Path, chart: Chart, cutoff_seconds: int | None = None):
        self.path = path
        self.chart = chart
        #: as of the night whose day starts at this second (None: every journal, all committed)
        self.cutoff = cutoff_seconds
        for stale in (path, path.with_name(path.name + "-journal")):
            stale.unlink(missing_ok=True)
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.executescript(SCHEMA)
        self.next_id = FIRST_JOURNAL_ID
        self.accrual_journal: dict[int, int] = {}
        self.unposted = 0
        self.journals_by_fiscal_year: dict[int, int] = {}
        self.unbalanced_unposted_written = False
        self._cc = [c or "0000" for c in chart.cost_centres]

    def write_month(self, d: Documents, rng: np.random.Generator,
                    commit_rng: np.random.Generator | None = None) -> np.ndarray:
        """Give the month's journals ids in the order they were entered, and insert those entered
        before the cutoff. Returns, per document, whether it is a posted journal visible by then."""
        n = d.document_count
        if n == 0:
            return np.zeros(0, bool)
        sources = [SOURCES.get(k, "GL") for k in d.kind]
        mrp_roles = {self.chart.role_index.get(r, -2) for r in ("mrp", "rcco")}
        line_starts = np.searchsorted(d.doc, np.arange(n + 1))
        for i in range(n):
            if d.kind[i] == "capf" and int(d.role[line_starts[i]]) in mrp_roles:
                sources[i] = "FA"
            if d.kind[i] == "reversal":
                sources[i] = sources[d.reverses[i]]

        # entered during the working day; payroll runs overnight before pay day
        entered = d.day * 86400 + rng.integers(8 * 3600, 18 * 3600, n)
        is_payroll = d.kind == "payroll"
        entered[is_payroll] = d.day[is_payroll] * 86400 + 2 * 3600 + np.arange(is_payroll.sum()) * 60
        for i in np.flatnonzero(d.reverses >= 0):
            entered[i] = max(entered[i], entered[d.reverses[i]] + 600)
        delay = np.where(rng.random(n) < 0.75, rng.integers(60, 90 * 60, n),
                         np.where(rng.random(n) < 0.8, rng.integers(2 * 3600, 30 * 3600, n),
                                  rng.integers(2 * 86400, 8 * 86400, n)))
        delay[is_payroll] = rng.integers(3 * 3600, 6 * 3600, is_payroll.sum())
        posted = entered + delay
        visible = posted.copy()
        if self.cutoff is not None:
            late = commit_rng.random(n) < LATE_COMMIT_RATE
            visible += np.where(late, commit_rng.integers(*LATE_COMMIT_SECONDS, n), 0)
            for i in np.flatnonzero(d.reverses >= 0):
                visible[i] = max(visible[i], visible[d.reverses[i]])
        cutoff = self.cutoff if self.cutoff is not None else np.iinfo(np.int64).max
        in_ledger = visible < cutoff

        journals = [(int(entered[i]), i, "P") for i in range(n)]
        parked = self._parked(d, rng)
        journals += [(int(entered[p] + 1800), ("parked", k), "U") for k, p in enumerate(parked)]
        journals.sort(key=lambda j: (j[0], j[1] if isinstance(j[1], int) else n + j[1][1]))
        ids = {}
        for _, key, _ in journals:
            ids[key] = self.next_id
            self.next_id += 1

        posted_text = _timestamps(posted)
        journal_rows, line_rows = [], []
        cc_of, account_of, pence_of = d.cost_centre.tolist(), d.account.tolist(), d.pence.tolist()
        cc = self._cc
        accounts = self.chart.accounts
        for entered_at, key, status in journals:
            if status == "U":
                k = key[1]
                i = parked[k]
                lines = self._parked_lines(d, line_starts, i, k, rng)
            else:
                i = key
                span = range(line_starts[i], line_starts[i + 1])
                lines = [(cc_of[j], account_of[j], pence_of[j], d.text[j]) for j in span]
            journal_id = ids[key]
            fiscal_year, period = int(d.fiscal_year[i]), int(d.period[i])
            accounting_date = dt.date.fromordinal(int(d.day[i]))
            if period == 13:
                accounting_date = dt.date(fiscal_year + 1, 3, 31)
            reverses = None
            description = d.description[i]
            if status == "P" and d.kind[i] == "reversal":
                reverses = ids[int(d.reverses[i])]
                description = f"Reversal of journal {reverses}: duplicate invoice"
            elif status == "P" and d.kind[i] == "accrual":
                self.accrual_journal[fiscal_year] = journal_id
            elif status == "P" and d.kind[i] == "accrual_reversal":
                reverses = self.accrual_journal.get(fiscal_year - 1)
            elif status == "U":
                description = f"Parked, awaiting approval: {description}"[:80]
            supplier = None
            if sources[i] == "AP":
                supplier = d.vendor[i] or PARTNER_SUPPLIER
            if entered_at >= cutoff:
                continue  # not entered yet on the night
            if status == "P" and not in_ledger[i]:
                status = "U"  # entered, not (visibly) posted yet
            journal_rows.append((journal_id, sources[i], wp_period_name(fiscal_year, period),
                                 accounting_date.isoformat(), status,
                                 posted_text[i] if status == "P" else None, reverses, description))
            for line_no, (c, a, p, text) in enumerate(lines, start=1):
                analysis = "0000"
                if c and cc[c] == "7650":
                    analysis = "7001"
                elif c and (c * 31 + a * 17) % 100 < 4:
                    # a few cost centre and account pairs are tracked by project
                    analysis = ANALYSIS_CODES[(c + a) % 2]
                money = f"{abs(p) // 100}.{abs(p) % 100:02d}"
                line_rows.append((journal_id, line_no, f"WP.{cc[c]}.{accounts[a]}.{analysis}",
                                  money if p > 0 else None, money if p < 0 else None, text or None, supplier))
            if status == "P":
                self.journals_by_fiscal_year[fiscal_year] = self.journals_by_fiscal_year.get(fiscal_year, 0) + 1
            else:
                self.unposted += 1
        journal_rows.sort()
        self.connection.execute("BEGIN")
        self.connection.executemany("INSERT INTO gl_journal VALUES (?, ?, ?, ?, ?, ?, ?, ?)", journal_rows)
        self.connection.executemany("INSERT INTO gl_journal_line VALUES (?, ?, ?, ?, ?, ?, ?)", line_rows)
        self.connection.execute("COMMIT")
        return in_ledger

    def _parked(self, d: Documents, rng) -> list[int]:
        """Invoices copied as parked (unposted) journals: a few a month."""
        invoices = np.flatnonzero(d.kind == "invoice")
        if not len(invoices):
            return []
        count = max(1, int(rng.binomial(len(invoices), UNPOSTED_RATE)))
        return sorted(int(i) for i in rng.choice(invoices, size=min(count, len(invoices)), replace=False))

    def _parked_lines(self, d: Documents, line_starts, i: int, k: int, rng) -> list[tuple]:
        """A parked invoice: new amounts on the same accounts; the first one ever parked is still
        being keyed and has no creditor line yet (it does not balance: unposted journals need not)."""
        span = range(line_starts[i], line_starts[i + 1])
        permille = int(rng.integers(500, 1500))
        lines = []
        total = 0
        for j in span:
            if d.cost_centre[j] == 0:
                continue
            pence = max(1, int(d.pence[j]) * permille // 1000)
            total += pence
            lines.append((int(d.cost_centre[j]), int(d.account[j]), pence, d.text[j]))
        if self.unbalanced_unposted_written or k != 0:
            lines.append((0, self.chart.balance_sheet["creditors"], -total, ""))
        else:
            self.unbalanced_unposted_written = True
        return lines

    def close(self) -> None:
        self.connection.executescript(INDEXES)
        self.connection.close()
