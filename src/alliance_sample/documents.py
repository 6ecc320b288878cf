"""From a force's year plan to balanced documents, one posting month at a time.

This is where the plan's money becomes ledger lines. Each month is built with numpy, column by column
(no Python loop over lines): the month's pence per cost centre and account are split over a number of
lines that grows with the scale, the lines are grouped into documents (a supplier's invoice, a payroll
run, a grant claim, a journal), and each document gets the balance-sheet line that balances it
(creditors, payroll control, bank, debtors, accruals, the partner force's balance). Lines are integer
pence throughout: random weights decide how a total is shared, and the shares are rounded to pence
and corrected so they add up exactly to the total.

A :class:`Documents` holds one month's documents of one force, still in neutral terms (a document
``kind`` such as ``invoice`` or ``payroll``); the force's writer gives them its own document types,
numbers and file or table layout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from alliance_finance.config.reference import ReferenceData
from alliance_sample import story
from alliance_sample.scenario import SCENARIO
from alliance_sample.calendar import (
    business_days,
    calendar_month_of,
    last_business_day,
    month_label,
    pay_day,
    year_end_close_saturday,
)
from alliance_sample.vocabulary import CATEGORIES, ROLE_CATEGORY, ROLE_TEXTS, SUPPLIERS, fit, supplier_numbers

#: the most line items a SAP document may hold (one is kept for the balancing line)
MAX_LINES_PER_DOCUMENT = 999
#: the invoice lines' share of a force's lines once the other streams have theirs
PAYROLL_SHARE = 0.25
RECLASS_SHARE = 0.03
INCOME_SHARE = 0.03
MEAN_INVOICE_LINES = 2.5
CREDIT_NOTE_RATE = 0.03
DUPLICATE_RATE = 0.004
#: invoices through the year: a slow April, a quiet December, the March spend-up
INVOICE_MONTH_WEIGHTS = np.array([0.85, 0.95, 1.0, 1.0, 0.9, 1.0, 1.05, 1.05, 0.9, 1.0, 1.05, 1.35])

DOC_FIELDS = {
    "fiscal_year": np.int32, "period": np.int32, "day": np.int64, "kind": object, "company": np.int8,
    "vendor": object, "reference": object, "document_date": np.int64, "reverses": np.int64,
    "description": object, "bs_account": np.int64,
}
LINE_FIELDS = {"doc": np.int64, "cost_centre": np.int64, "account": np.int64, "pence": np.int64,
               "text": object, "role": np.int64}


@dataclasses.dataclass
class Chart:
    """A force's codes as small integers, so lines can be numpy arrays."""

    force: str
    cost_centres: list[str]          # index 0: no cost centre (balance-sheet lines)
    cost_centre_names: list[str]
    accounts: list[str]
    roles: list[str]
    #: ASC company code per cost centre: 0 = ASC1, 1 = ASP1 (the Office of the PCC); WP all 0
    company: np.ndarray
    balance_sheet: dict[str, int]

    def __post_init__(self):
        self.cc_index = {c: i for i, c in enumerate(self.cost_centres)}
        self.account_index = {a: i for i, a in enumerate(self.accounts)}
        self.role_index = {r: i for i, r in enumerate(self.roles)}


def build_chart(force: str, ref: ReferenceData) -> Chart:
    names: dict[str, str] = {}
    for m in ref.cost_centres:
        if m.force_code == force:
            names.setdefault(m.cost_centre, m.cost_centre_name)
    for cost_centre, name in SCENARIO.new_cost_centre_names.items():
        if (cost_centre.startswith("AS")) == (force == "ASC"):
            names.setdefault(cost_centre, name)
    cost_centres = [""] + sorted(c for c in names if c != "0000")
    accounts = sorted({a for accts in SCENARIO.role_accounts[force].values() for a in accts}
                      | set(SCENARIO.balance_sheet[force].values()))
    roles = sorted(set(SCENARIO.role_accounts[force]))
    company = np.array([1 if force == "ASC" and c[:6] in ("AS9501", "AS9502") else 0 for c in cost_centres],
                       dtype=np.int8)
    chart = Chart(force, cost_centres, [""] + [names[c] for c in cost_centres[1:]], accounts, roles, company, {})
    chart.balance_sheet = {k: chart.account_index[a] for k, a in SCENARIO.balance_sheet[force].items()}
    return chart


@dataclasses.dataclass
class VolumePlan:
    """How many lines carry each cell's money in a fiscal year at a given scale."""

    cell_cc: np.ndarray
    cell_account: np.ndarray
    cell_role: np.ndarray
    cell_category: np.ndarray
    cell_stream: np.ndarray          # object: the cell's stream
    payroll_lines: np.ndarray        # lines per payroll cell per month
    instalment_lines: np.ndarray     # lines per instalment of grants, fees, partner flows, capital financing
    spread_lines: np.ndarray         # (cells, 12) invoice lines per period
    spread_amounts: np.ndarray       # (cells, 12) invoice pence per period
    reclass_documents: int           # journals moving money between cost centres, per month
    reclass_sources: np.ndarray      # cells a reclass journal may move money from
    reclass_weights: np.ndarray
    cc_scope_group: np.ndarray       # per cost centre: scope and company, for reclass partners


def volume_plan(chart: Chart, plan: story.YearPlan, scale: float, seed: int, ref: ReferenceData) -> VolumePlan:
    """Line counts for the year: payroll first (every cost centre is paid every month), then the
    small streams, and the invoices take what is left of ``LINES_PER_YEAR * scale``."""
    rng = story.rng_for(seed, plan.force, plan.fiscal_year, 4)
    cells = plan.cells
    n = len(cells)
    cell_cc = np.array([chart.cc_index[c.cost_centre] for c in cells], dtype=np.int64)
    cell_account = np.array([chart.account_index[c.account] for c in cells], dtype=np.int64)
    cell_role = np.array([chart.role_index[c.role] for c in cells], dtype=np.int64)
    cell_category = np.array([CATEGORIES.index(ROLE_CATEGORY.get(c.role, "general")) for c in cells], dtype=np.int64)
    cell_stream = np.array([c.stream for c in cells], dtype=object)
    annual = np.array([abs(c.annual_pence) for c in cells], dtype=np.int64)
    target = SCENARIO.lines_per_year[plan.force] * scale

    payroll = cell_stream == "payroll"
    payroll_lines = np.zeros(n, dtype=np.int64)
    if payroll.any():
        per_month = PAYROLL_SHARE * target / 12
        share = annual[payroll] / annual[payroll].sum()
        payroll_lines[payroll] = np.maximum(1, np.rint(per_month * share)).astype(np.int64)
        payroll_lines[payroll] = np.minimum(payroll_lines[payroll], np.maximum(1, annual[payroll] // 12 // 20_000))
    payroll_total = int(payroll_lines.sum()) * 12 + 12 * 2 * (1 + int(payroll_lines.sum()) // 998)

    instalment = ~payroll & (cell_stream != "invoice")
    instalment_lines = np.zeros(n, dtype=np.int64)
    for i in np.flatnonzero(instalment):
        stream = cells[i].stream
        if stream in ("fees", "sps"):
            instalment_lines[i] = max(1, round(INCOME_SHARE * target / 12 * annual[i] / max(1, annual[instalment].sum())))
        else:
            instalment_lines[i] = 1
    instalment_total = int(sum(2 * instalment_lines[i] * np.count_nonzero(plan.period_amounts[i]) for i in
                               np.flatnonzero(instalment)))

    reclass_documents = max(1, round(RECLASS_SHARE * target / 12 / 2))
    spread = cell_stream == "invoice"
    invoice_target = max(0.0, target - payroll_total - instalment_total - reclass_documents * 24
                         - 4 * (len(plan.accruals) + len(plan.prior_accruals)))
    invoice_pl = invoice_target * MEAN_INVOICE_LINES / (MEAN_INVOICE_LINES + 1)
    spread_lines = np.zeros((n, 12), dtype=np.int64)
    spread_amounts = np.zeros((n, 12), dtype=np.int64)
    idx = np.flatnonzero(spread & (annual > 0))
    if len(idx):
        size = annual[idx].astype(float) ** 0.7
        yearly = np.maximum(1, np.rint(invoice_pl * size / size.sum())).astype(np.int64)
        yearly = np.minimum(yearly, np.maximum(1, annual[idx] // 2_000))   # invoices average at least £20
        weights = INVOICE_MONTH_WEIGHTS / INVOICE_MONTH_WEIGHTS.sum()
        spread_lines[idx] = rng.multinomial(yearly, weights)
        noise = rng.gamma(4.0, 0.25, size=(len(idx), 12))
        for row, i in enumerate(idx):
            ordinary = cells[i].annual_pence + plan.accrual_adjustment.get(i, 0)
            spread_amounts[i] = story.allocate(ordinary, spread_lines[i] * noise[row])

    # Reclass journals move money between cost centres of the same scope (and company), so a
    # scope's total never moves; programme and not-yet-mapped codes are left alone.
    scope_groups = {}
    cc_scope_group = np.full(len(chart.cost_centres), -1, dtype=np.int64)
    for cc_code, i in chart.cc_index.items():
        if not cc_code or cc_code in SCENARIO.programme[plan.force] or cc_code in SCENARIO.new_cost_centre_names:
            continue
        key = (story.scope_of(ref, plan.force, cc_code, plan.fiscal_year), int(chart.company[i]))
        if key[0] == "unmapped":
            continue
        cc_scope_group[i] = scope_groups.setdefault(key, len(scope_groups))
    eligible = spread & (annual > story.pounds(5_000)) & (cc_scope_group[cell_cc] >= 0)
    eligible &= np.array([c.role != "bwv_storage" for c in cells])
    sources = np.flatnonzero(eligible)
    weights = annual[sources].astype(float)
    return VolumePlan(cell_cc, cell_account, cell_role, cell_category, cell_stream, payroll_lines,
                      instalment_lines, spread_lines, spread_amounts, reclass_documents, sources,
                      weights / weights.sum() if len(sources) else weights, cc_scope_group)


@dataclasses.dataclass
class Documents:
    """One month's documents of one force (per-document arrays, and per-line arrays pointing at them)."""

    fiscal_year: np.ndarray
    period: np.ndarray
    day: np.ndarray              # date ordinal of the posting (ASC) or entry (WP)
    kind: np.ndarray             # invoice, credit, duplicate, reversal, payroll, journal, accrual, ...
    company: np.ndarray
    vendor: np.ndarray           # ASC '<number> <name>', WP the supplier's name; '' if none
    reference: np.ndarray
    document_date: np.ndarray    # date ordinal, 0 = blank
    reverses: np.ndarray         # index of the document this one reverses, -1 if none
    description: np.ndarray
    bs_account: np.ndarray
    doc: np.ndarray              # per line: its document
    cost_centre: np.ndarray      # per line: index into Chart.cost_centres (0 = none)
    account: np.ndarray
    pence: np.ndarray            # debit minus credit
    text: np.ndarray
    role: np.ndarray

    @property
    def document_count(self) -> int:
        return len(self.day)

    @property
    def line_count(self) -> int:
        return len(self.doc)


class _Parts:
    """Documents and lines collected from the month's streams, joined once."""

    def __init__(self):
        self.docs = {f: [] for f in DOC_FIELDS}
        self.lines = {f: [] for f in LINE_FIELDS}
        self.count = 0

    def add(self, count: int, docs: dict, lines: dict) -> None:
        if count == 0:
            return
        for field, dtype in DOC_FIELDS.items():
            value = docs[field] if field in docs else _DOC_DEFAULTS[field]
            array = np.empty(count, dtype=dtype)
            array[:] = value if not isinstance(value, list) else np.array(value, dtype=dtype)
            self.docs[field].append(array)
        length = len(lines["doc"])
        for field, dtype in LINE_FIELDS.items():
            value = lines.get(field, -1)
            array = np.empty(length, dtype=dtype)
            array[:] = value
            if field == "doc":
                array += self.count
            self.lines[field].append(array)
        self.count += count

    def build(self) -> Documents:
        joined = {}
        for field, dtype in {**DOC_FIELDS, **LINE_FIELDS}.items():
            parts = self.docs.get(field) if field in DOC_FIELDS else self.lines[field]
            joined[field] = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
        return Documents(**joined)


_DOC_DEFAULTS = {"company": 0, "vendor": "", "reference": "", "document_date": 0, "reverses": -1,
                 "description": "", "bs_account": -1}


def split_amounts(amounts: np.ndarray, counts: np.ndarray, rng: np.random.Generator, *,
                  sigma: float, credit_rate: float = 0.0):
    """Split each amount (signed pence) over its count of lines: returns (owner, pence, is_credit).

    Line sizes are lognormal and the lines of each amount add up to it exactly, every line at least a
    penny. With ``credit_rate``, that share of lines gets a credit note: the invoice is raised by
    the credit's amount and a line going the other way is added, so the total does not move.
    """
    amounts = np.asarray(amounts, dtype=np.int64)
    counts = np.where(np.asarray(amounts) != 0, np.asarray(counts, dtype=np.int64), 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool)
    owner = np.repeat(np.arange(len(amounts)), counts)
    present = np.flatnonzero(counts)
    starts = (np.cumsum(counts) - counts)[present]
    weights = rng.lognormal(0.0, sigma, total)
    magnitude = np.abs(amounts)
    share = weights / np.add.reduceat(weights, starts)[np.searchsorted(present, owner)]
    lines = np.maximum(1, np.rint(share * magnitude[owner])).astype(np.int64)
    residual = magnitude[present] - np.add.reduceat(lines, starts)
    # the residual (a few pence, or more when many lines were lifted to a penny) goes on the
    # largest line of each amount
    lines[_largest_in_groups(lines, counts[present])] += residual
    if (lines <= 0).any():
        raise AssertionError("generator bug: an amount too small for its lines")
    credit = np.zeros(len(lines), bool)
    if credit_rate:
        chosen = np.flatnonzero((rng.random(len(lines)) < credit_rate) & (lines >= 200))
        if len(chosen) == 0 and len(lines):
            candidates = np.flatnonzero(lines >= 200)
            chosen = candidates[:1] if len(candidates) else chosen
        credits = np.maximum(1, lines[chosen] * rng.integers(100, 500, len(chosen)) // 1000)
        lines[chosen] += credits
        owner = np.concatenate([owner, owner[chosen]])
        lines = np.concatenate([lines, credits])
        credit = np.concatenate([credit, np.ones(len(chosen), bool)])
    sign = np.sign(amounts)[owner]
    return owner, sign * np.where(credit, -lines, lines), credit


def _largest_in_groups(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Index of the largest value in each run of consecutive values (runs of ``counts``)."""
    group = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((-values, group))
    first = np.r_[0, np.cumsum(counts)[:-1]]
    return order[first]


def _cut(keys: np.ndarray, break_probability: float, rng: np.random.Generator, limit: int) -> np.ndarray:
    """Document number (0, 1, ...) per line of lines sorted by ``keys``: a new document at every new
    key, at random breaks, and before a document would pass ``limit`` lines."""
    n = len(keys)
    if n == 0:
        return np.empty(0, np.int64)
    new_key = np.r_[True, keys[1:] != keys[:-1]]
    breaks = new_key | (rng.random(n) < break_probability) if break_probability else new_key.copy()
    # enforce the limit: position within each run since the last break
    doc = np.cumsum(breaks) - 1
    first = np.flatnonzero(breaks)
    position = np.arange(n) - first[doc]
    if (position >= limit).any():
        breaks |= (position % limit == 0)
        doc = np.cumsum(breaks) - 1
    return doc


class MonthBuilder:
    """Builds one force's documents for one posting month."""

    def __init__(self, chart: Chart, seed: int):
        self.chart = chart
        self.seed = seed
        self.force = chart.force
        numbers = supplier_numbers()
        #: per supplier category, the vendor as the force's ledger shows it (ASC with its number)
        self._suppliers = [[numbers[(category, i)] if self.force == "ASC" else name
                            for i, name in enumerate(SUPPLIERS[category])] for category in CATEGORIES]
        self._role_texts = [ROLE_TEXTS.get(r, (r.replace("_", " "),)) for r in chart.roles]
        self._bwv_role = chart.role_index.get("bwv_storage", -1)

    # --------------------------------------------------------------------------------- helpers

    def _texts(self, role: np.ndarray, cost_centre: np.ndarray, label: str, rng) -> np.ndarray:
        """A text per line, chosen from its role's phrases (rendered once per distinct text)."""
        if len(role) == 0:
            return np.empty(0, dtype=object)
        counts = np.array([len(t) for t in self._role_texts])
        choice = rng.integers(0, 1 << 30, len(role)) % counts[role]
        key = (role * 8 + choice) * len(self.chart.cost_centres) + cost_centre
        unique, inverse = np.unique(key, return_inverse=True)
        n_cc = len(self.chart.cost_centres)
        rendered = []
        for k in unique.tolist():
            cc = k % n_cc
            r, c = divmod(k // n_cc, 8)
            template = self._role_texts[r][c]
            rendered.append(fit(template.format(month=label, centre=self.chart.cost_centre_names[cc])))
        return np.array(rendered, dtype=object)[inverse]


    @staticmethod
    def _pick_days(days: np.ndarray, count: int, rng) -> np.ndarray:
        return days[rng.integers(0, len(days), count)] if count else np.empty(0, np.int64)

    # --------------------------------------------------------------------------------- a month

    def ordinary(self, plan: story.YearPlan, volume: VolumePlan, period: int) -> Documents:
        """Periods 1-12: everything posted in the period's own month."""
        fy = plan.fiscal_year
        rng = story.rng_for(self.seed, self.force, fy, 10 + period)
        year, month = calendar_month_of(fy, period)
        days = np.array([d.toordinal() for d in business_days(year, month)], dtype=np.int64)
        label = month_label(year, month)
        parts = _Parts()
        self._payroll(parts, plan, volume, period, pay_day(year, month).toordinal(), label, rng)
        invoice_docs = self._invoices(parts, plan, volume, period, days, label, rng)
        self._instalments(parts, plan, volume, period, days, label, rng)
        self._reclass(parts, plan, volume, period, days, label, rng, volume.reclass_documents, "journal")
        if period == 12:
            self._accruals(parts, plan, plan.accruals, period, last_business_day(year, month).toordinal(),
                           1, f"ACCR {label.upper()}", label)
        if period == 1:
            self._accruals(parts, plan, plan.prior_accruals, period, int(days[0]), -1,
                           f"ACCR REV {fy - 1}/{fy % 100:02d}", label)
            if plan.prior_year_partner_pence:
                self._prior_year_partner(parts, plan, int(days[2]))
        documents = self._balance(parts.build())
        return self._duplicates(documents, invoice_docs, days, rng)

    def year_end(self, plan: story.YearPlan, volume: VolumePlan, month: int) -> Documents:
        """The year-end adjustment periods posted after the year, in April (13, 14), May (15), June (16).

        Wiltshire has one adjustment period (13, ``ADJ-yy``): its April and May postings both go there.
        """
        fy = plan.fiscal_year
        rng = story.rng_for(self.seed, self.force, fy, 40 + month)
        year = fy + 1
        days = np.array([d.toordinal() for d in business_days(year, month)], dtype=np.int64)
        label = f"{fy}/{(fy + 1) % 100:02d}"
        parts = _Parts()
        wp = self.force == "WP"
        if month == 4:
            close = year_end_close_saturday(fy).toordinal()
            early = days[days <= dt.date(year, 4, 15).toordinal()]
            late = days[days >= dt.date(year, 4, 20).toordinal()]
            if wp:
                self._capital_financing(parts, plan, volume, 13, int(early[-1]), label, rng)
            else:
                self._capital_financing(parts, plan, volume, 13, close, label, rng)
                self._capital_financing(parts, plan, volume, 14, int(late[0]), label, rng)
            self._reclass(parts, plan, volume, 13, early, label, rng, 3, "adjustment")
        elif month == 5:
            self._reclass(parts, plan, volume, 13 if wp else 15, days[days <= dt.date(year, 5, 20).toordinal()],
                          label, rng, 2, "adjustment")
        elif month == 6 and not wp:
            self._reclass(parts, plan, volume, 16, days[:10], label, rng, 1, "adjustment")
        return self._balance(parts.build())

    # --------------------------------------------------------------------------------- streams

    def _payroll(self, parts, plan, volume, period, day, label, rng) -> None:
        cells = np.flatnonzero(volume.payroll_lines)
        owner, pence, _ = split_amounts(plan.period_amounts[cells, period - 1], volume.payroll_lines[cells],
                                        rng, sigma=0.25)
        cell = cells[owner]
        cc = volume.cell_cc[cell]
        company = self.chart.company[cc]
        order = np.lexsort((volume.cell_account[cell], cc, company))
        cell, cc, company, pence = cell[order], cc[order], company[order], pence[order]
        doc = _cut(company, 0.0, rng, MAX_LINES_PER_DOCUMENT - 1)
        count = int(doc[-1]) + 1 if len(doc) else 0
        first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]]) if count else np.empty(0, np.int64)
        parts.add(count, {
            "fiscal_year": plan.fiscal_year, "period": period, "day": day, "kind": "payroll",
            "company": company[first], "reference": f"PAYROLL {label.upper()}",
            "description": f"Payroll {label}", "bs_account": self.chart.balance_sheet["payroll"],
            "document_date": day,
        }, {"doc": doc, "cost_centre": cc, "account": volume.cell_account[cell], "pence": pence,
            "role": volume.cell_role[cell], "text": self._texts(volume.cell_role[cell], cc, label, rng)})

    def _invoices(self, parts, plan, volume, period, days, label, rng) -> tuple[int, int]:
        """Supplier invoices and credit notes; returns the range of document indices they took."""
        start = parts.count
        lines = volume.spread_lines[:, period - 1]
        amounts = volume.spread_amounts[:, period - 1]
        cells = np.flatnonzero(lines)
        owner, pence, credit = split_amounts(amounts[cells], lines[cells], rng, sigma=1.0,
                                             credit_rate=CREDIT_NOTE_RATE)
        cell = cells[owner]
        cc = volume.cell_cc[cell]
        company = self.chart.company[cc].astype(np.int64)
        category = volume.cell_category[cell]
        key = (company * 64 + category) * 2 + credit
        order = np.lexsort((rng.random(len(key)), key))
        cell, cc, key, pence, credit = cell[order], cc[order], key[order], pence[order], credit[order]
        doc = _cut(key, 1 / MEAN_INVOICE_LINES, rng, 40)
        count = int(doc[-1]) + 1 if len(doc) else 0
        if count == 0:
            return start, start
        first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
        doc_credit = credit[first]
        doc_day = self._pick_days(days, count, rng)
        vendors, references, descriptions = [], [], []
        numbers = rng.integers(10_000, 999_999, count).tolist()
        styles = rng.random(count).tolist()
        picks = rng.integers(0, 1 << 30, count).tolist()
        categories = (key[first] // 2 % 64).tolist()
        credits = doc_credit.tolist()
        yy = (plan.fiscal_year + (period >= 10)) % 100
        for k in range(count):
            vendor = self._suppliers[categories[k]][picks[k] % len(self._suppliers[categories[k]])]
            number = numbers[k]
            if credits[k]:
                reference = f"CN{number:06d}"
            elif styles[k] < 0.5:
                reference = f"INV{number:06d}"
            elif styles[k] < 0.8:
                reference = f"SI/{yy:02d}/{number % 100000:05d}"
            elif styles[k] < 0.9:
                reference = f"PO 45{number:08d}, GRN {number % 9973}"
            else:
                reference = ""
            vendors.append(vendor)
            references.append(reference)
            supplier = vendor.split(" ", 1)[1] if self.force == "ASC" else vendor
            what = "credit note" if credits[k] else "invoice"
            descriptions.append(fit(f"{supplier} {what} {reference}".strip()))
        parts.add(count, {
            "fiscal_year": plan.fiscal_year, "period": period, "day": doc_day,
            "kind": np.where(doc_credit, "credit", "invoice").astype(object),
            "company": self.chart.company[cc[first]], "vendor": vendors, "reference": references,
            "document_date": doc_day - rng.integers(0, 25, count), "description": descriptions,
            "bs_account": self.chart.balance_sheet["creditors"],
        }, {"doc": doc, "cost_centre": cc, "account": volume.cell_account[cell], "pence": pence,
            "role": volume.cell_role[cell], "text": self._texts(volume.cell_role[cell], cc, label, rng)})
        return start, parts.count

    _INSTALMENT = {
        # stream: (balancing account, documents: per line / per cell / per company, day)
        "grant": ("bank", "cell", "random"),
        "fees": ("debtors", "company", "last"),
        "sps": ("debtors", "line", "random"),
        "partner_in": ("partner", "cell", "mid"),
        "partner_out": ("partner", "cell", "mid"),
        "capf": ("bank", "cell", "last"),
    }

    def _instalments(self, parts, plan, volume, period, days, label, rng) -> None:
        for stream, (balancing, grouping, when) in self._INSTALMENT.items():
            cells = np.flatnonzero((volume.cell_stream == stream) & (plan.period_amounts[:, period - 1] != 0))
            if not len(cells):
                continue
            owner, pence, _ = split_amounts(plan.period_amounts[cells, period - 1],
                                            volume.instalment_lines[cells], rng, sigma=0.5)
            cell = cells[owner]
            cc = volume.cell_cc[cell]
            company = self.chart.company[cc]
            if grouping == "line":
                doc = np.arange(len(cell))
            elif grouping == "cell":
                doc = np.cumsum(np.r_[True, cell[1:] != cell[:-1]]) - 1
            else:
                order = np.argsort(company, kind="stable")
                cell, cc, company, pence = cell[order], cc[order], company[order], pence[order]
                doc = _cut(company.astype(np.int64), 0.0, rng, MAX_LINES_PER_DOCUMENT - 1)
            count = int(doc[-1]) + 1
            first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
            if when == "random":
                doc_day = self._pick_days(days, count, rng)
            elif when == "mid":
                doc_day = np.full(count, days[min(len(days) - 1, 10)])
            else:
                doc_day = np.full(count, days[-1])
            roles = [self.chart.roles[r] for r in volume.cell_role[cell[first]]]
            references = [self._instalment_reference(stream, role, plan.fiscal_year, period, label, rng)
                          for role in roles]
            parts.add(count, {
                "fiscal_year": plan.fiscal_year, "period": period, "day": doc_day, "kind": stream,
                "company": company[first], "reference": references,
                "description": [fit(f"{r} {self._role_texts[volume.cell_role[c]][0].format(month=label, centre='')}")
                                for r, c in zip(references, cell[first])],
                "document_date": doc_day, "bs_account": self.chart.balance_sheet[balancing],
            }, {"doc": doc, "cost_centre": cc, "account": volume.cell_account[cell], "pence": pence,
                "role": volume.cell_role[cell], "text": self._texts(volume.cell_role[cell], cc, label, rng)})

    def _instalment_reference(self, stream, role, fiscal_year, period, label, rng) -> str:
        quarter = (period - 1) // 3 + 1
        fy_label = f"{fiscal_year}/{(fiscal_year + 1) % 100:02d}"
        if stream == "grant":
            return f"Grant claim Q{quarter} {fy_label}"
        if stream == "fees":
            return f"Fees {label}"
        if stream == "sps":
            return f"SPS{int(rng.integers(1000, 9999))}, \"{label}\""
        if stream == "capf":
            return f"Capital financing {fy_label}"
        brunel = (stream == "partner_in") == (self.force == "ASC")
        return f"BRUNEL {label.upper()}" if brunel else f"DOG TRAINING Q{quarter} {fy_label}"

    def _capital_financing(self, parts, plan, volume, period, day, label, rng) -> None:
        timing = {13: "P13", 14: "P14"}[period] if self.force == "ASC" else None
        wanted = [i for i, c in enumerate(plan.cells) if c.stream == "capf" and
                  (c.timing == timing if timing else c.timing in ("P13", "P14"))]
        wanted = [i for i in wanted if plan.period_amounts[i].any()]
        if not wanted:
            return
        cells = np.array(wanted, dtype=np.int64)
        pence = plan.period_amounts[cells][:, 12:].sum(axis=1)
        cc = volume.cell_cc[cells]
        parts.add(len(cells), {
            "fiscal_year": plan.fiscal_year, "period": period, "day": day, "kind": "capf",
            "company": self.chart.company[cc],
            "reference": [f"{self.chart.roles[volume.cell_role[c]].upper()} {label}" for c in cells],
            "description": [fit(f"Year end {label}: {self._role_texts[volume.cell_role[c]][0]}") for c in cells],
            "bs_account": self.chart.balance_sheet["reserves"], "document_date": day,
        }, {"doc": np.arange(len(cells)), "cost_centre": cc, "account": volume.cell_account[cells],
            "pence": pence, "role": volume.cell_role[cells],
            "text": self._texts(volume.cell_role[cells], cc, label, rng)})

    def _reclass(self, parts, plan, volume, period, days, label, rng, count, kind) -> None:
        """Journals moving part of a budget line to another cost centre of the same scope."""
        if count == 0 or not len(volume.reclass_sources) or not len(days):
            return
        chosen = volume.reclass_sources[rng.choice(len(volume.reclass_sources), size=count, p=volume.reclass_weights)]
        source_cc = volume.cell_cc[chosen]
        groups = volume.cc_scope_group
        target_cc = np.empty(count, np.int64)
        for k, cc in enumerate(source_cc):
            candidates = np.flatnonzero(groups == groups[cc])
            candidates = candidates[candidates != cc]
            target_cc[k] = candidates[rng.integers(len(candidates))] if len(candidates) else cc
        annual = np.array([abs(plan.cells[c].annual_pence) for c in chosen], dtype=np.int64)
        amount = np.maximum(100, (annual * rng.integers(2, 20, count)) // 1000)
        whole = rng.random(count) < 0.5
        amount = np.where(whole, np.maximum(100, amount // 100 * 100), amount)
        doc = np.repeat(np.arange(count), 2)
        cc = np.stack([source_cc, target_cc], axis=1).ravel()
        pence = np.stack([-amount, amount], axis=1).ravel()
        account = np.repeat(volume.cell_account[chosen], 2)
        role = np.repeat(volume.cell_role[chosen], 2)
        names = self.chart.cost_centre_names
        texts = []
        for s, t in zip(source_cc, target_cc):
            if kind == "adjustment":
                texts += ["Audit adjustment: reclassify", f"Audit adjustment to {names[t]}"]
            else:
                texts += [f"Reclass to {names[t]}", f"Recharge from {names[s]}"]
        day = self._pick_days(days, count, rng)
        numbers = rng.integers(1000, 99999, count)
        parts.add(count, {
            "fiscal_year": plan.fiscal_year, "period": period, "day": day, "kind": kind,
            "company": self.chart.company[source_cc],
            "reference": [f"JV{n:05d}" if kind == "journal" else f"AUDIT ADJ {label}" for n in numbers],
            "description": [fit(f"{'Reclass' if kind == 'journal' else 'Audit adjustment'}: {names[s]} to {names[t]}")
                            for s, t in zip(source_cc, target_cc)],
            "document_date": np.where(rng.random(count) < 0.3, 0, day),
        }, {"doc": doc, "cost_centre": cc, "account": account, "pence": pence, "role": role,
            "text": np.array([fit(t) for t in texts], dtype=object)})

    def _accruals(self, parts, plan, accruals, period, day, direction, reference, label) -> None:
        """Year-end accruals (direction 1) or their reversal next April (direction -1): one document
        per company code, lines in the same order both times so the reversal mirrors the accrual."""
        if not accruals:
            return
        cc = np.array([self.chart.cc_index[a.cost_centre] for a in accruals], dtype=np.int64)
        company = self.chart.company[cc].astype(np.int64)
        order = np.argsort(company, kind="stable")
        cc, company = cc[order], company[order]
        pence = np.array([a.pence for a in accruals], dtype=np.int64)[order] * direction
        account = np.array([self.chart.account_index[a.account] for a in accruals], dtype=np.int64)[order]
        roles = [accruals[i].role for i in order]
        doc = np.cumsum(np.r_[True, company[1:] != company[:-1]]) - 1
        count = int(doc[-1]) + 1
        first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
        what = "Accrual" if direction > 0 else "Reversal of accrual"
        fy = plan.fiscal_year if direction > 0 else plan.fiscal_year - 1
        texts = [fit(f"{what}: {ROLE_TEXTS.get(r, (r,))[0].format(month=label, centre='')}") for r in roles]
        parts.add(count, {
            "fiscal_year": plan.fiscal_year, "period": period, "day": day,
            "kind": "accrual" if direction > 0 else "accrual_reversal", "company": company[first],
            "reference": reference, "description": f"Year-end accruals {fy}/{(fy + 1) % 100:02d}"
            + ("" if direction > 0 else " reversed"),
            "bs_account": self.chart.balance_sheet["accruals"], "document_date": day,
        }, {"doc": doc, "cost_centre": cc, "account": account, "pence": pence,
            "role": np.array([self.chart.role_index[r] for r in roles], dtype=np.int64),
            "text": np.array(texts, dtype=object)})

    def _prior_year_partner(self, parts, plan, day) -> None:
        """Wiltshire finds the March contribution it never accrued and charges it to reserves."""
        pence = plan.prior_year_partner_pence
        fy = plan.fiscal_year - 1
        bs = self.chart.balance_sheet
        parts.add(1, {
            "fiscal_year": plan.fiscal_year, "period": 1, "day": day, "kind": "journal",
            "reference": f"BRUNEL MAR-{(fy + 1) % 100:02d}",
            "description": f"Brunel contribution Mar {fy + 1}: not accrued in {fy}/{(fy + 1) % 100:02d}",
            "document_date": day,
        }, {"doc": np.array([0, 0]), "cost_centre": np.array([0, 0]),
            "account": np.array([bs["reserves"], bs["partner"]]), "pence": np.array([pence, -pence]),
            "text": np.array(["Prior-year adjustment, Brunel Mar", "Due to Avon and Somerset"], dtype=object)})

    # --------------------------------------------------------------------------------- balancing

    def _balance(self, documents: Documents) -> Documents:
        """Add each document's balancing line (balance sheet, no cost centre) and order the lines."""
        d = documents
        totals = np.zeros(d.document_count, dtype=np.int64)
        np.add.at(totals, d.doc, d.pence)
        needs = np.flatnonzero((totals != 0) & (d.bs_account >= 0))
        unbalanced = np.flatnonzero((totals != 0) & (d.bs_account < 0))
        if len(unbalanced):
            raise AssertionError(f"generator bug: documents {unbalanced[:5]} do not balance")
        bs_text = np.array([_BALANCING_TEXT.get(k, "") for k in d.kind[needs]], dtype=object)
        d.doc = np.concatenate([d.doc, needs])
        d.cost_centre = np.concatenate([d.cost_centre, np.zeros(len(needs), np.int64)])
        d.account = np.concatenate([d.account, d.bs_account[needs]])
        d.pence = np.concatenate([d.pence, -totals[needs]])
        d.text = np.concatenate([d.text, bs_text])
        d.role = np.concatenate([d.role, np.full(len(needs), -1, np.int64)])
        return _sorted(d)

    def _duplicates(self, documents: Documents, invoice_docs: tuple[int, int], days: np.ndarray, rng) -> Documents:
        """A few invoices paid twice, each found and reversed a few days later (net nil)."""
        d = documents
        start, stop = invoice_docs
        candidates = np.arange(start, stop)
        candidates = candidates[d.kind[candidates] == "invoice"]
        if not len(candidates):
            return d
        count = max(1, int(rng.binomial(len(candidates), DUPLICATE_RATE)))
        originals = np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))
        position = {int(day): n for n, day in enumerate(days)}
        new_docs = {f: [] for f in DOC_FIELDS}
        new_lines = {f: [] for f in LINE_FIELDS}
        base = d.document_count
        line_starts = np.searchsorted(d.doc, np.arange(d.document_count + 1))
        for k, original in enumerate(originals):
            lines = slice(line_starts[original], line_starts[original + 1])
            # paid again one to three working days later, reversed within a week (same month)
            duplicate_at = min(len(days) - 1, position[int(d.day[original])] + int(rng.integers(1, 4)))
            reversal_at = min(len(days) - 1, duplicate_at + int(rng.integers(0, 6)))
            duplicate_day, reversal_day = int(days[duplicate_at]), int(days[reversal_at])
            for j, (kind, day, sign) in enumerate((("duplicate", duplicate_day, 1), ("reversal", reversal_day, -1))):
                index = base + 2 * k + j
                for field in DOC_FIELDS:
                    new_docs[field].append(getattr(d, field)[original])
                new_docs["kind"][-1] = kind
                new_docs["day"][-1] = day
                new_docs["reverses"][-1] = index - 1 if kind == "reversal" else -1
                if kind == "reversal":
                    new_docs["reference"][-1] = ""
                    new_docs["description"][-1] = "Reversal: duplicate invoice"
                    new_docs["document_date"][-1] = day
                    new_docs["vendor"][-1] = d.vendor[original]
                for field in LINE_FIELDS:
                    values = getattr(d, field)[lines]
                    if field == "doc":
                        values = np.full(len(values), index)
                    elif field == "pence":
                        values = values * sign
                    new_lines[field].append(values)
        for field, dtype in DOC_FIELDS.items():
            setattr(d, field, np.concatenate([getattr(d, field), np.array(new_docs[field], dtype=dtype)]))
        for field, dtype in LINE_FIELDS.items():
            setattr(d, field, np.concatenate([getattr(d, field), *[np.asarray(v, dtype=dtype) for v in new_lines[field]]]))
        return _sorted(d)


_BALANCING_TEXT = {
    "payroll": "Net pay and deductions", "invoice": "", "credit": "", "grant": "Receipt, bank",
    "fees": "Debtors control", "sps": "Customer invoice", "partner_in": "Due from alliance partner",
    "partner_out": "Due to alliance partner", "capf": "Capital adjustment", "accrual": "Accruals",
    "accrual_reversal": "Accruals reversed",
}


def _sorted(d: Documents) -> Documents:
    """Lines by document, balancing line last, otherwise in the order they were made."""
    is_bs = d.cost_centre == 0
    order = np.lexsort((np.arange(len(d.doc)), is_bs, d.doc))
    for field in LINE_FIELDS:
        setattr(d, field, getattr(d, field)[order])
    return d


def concat(parts: list[Documents]) -> Documents:
    """Several builds (a month's ordinary periods and last year's adjustments) as one."""
    parts = [p for p in parts if p.document_count]
    if not parts:
        return _Parts().build()
    if len(parts) == 1:
        return parts[0]
    joined = {}
    offset = 0
    offsets = []
    for p in parts:
        offsets.append(offset)
        offset += p.document_count
    for field in DOC_FIELDS:
        joined[field] = np.concatenate([getattr(p, field) for p in parts])
    joined["reverses"] = np.concatenate([np.where(p.reverses >= 0, p.reverses + o, -1) for p, o in zip(parts, offsets)])
    for field in LINE_FIELDS:
        joined[field] = np.concatenate([getattr(p, field) + o if field == "doc" else getattr(p, field)
                                        for p, o in zip(parts, offsets)])
    return Documents(**joined)
