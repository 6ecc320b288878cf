"""One force's documents for one posting month: payroll, invoices and credit notes, grants, fees,
partner flows, reclassification journals, accruals and, after the year, its adjustment periods.

Each month is built with numpy, column by column (no Python loop over lines): the month's pence per
cost centre and account, from the :class:`~.YearPlan` and the :class:`~.volumes.VolumePlan`, are
split over lines and the lines grouped into documents (a supplier's invoice, a payroll run, a grant
claim, a journal); :mod:`.balancing` then balances each document. Lines are integer pence throughout.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from alliance_sample.balancing import add_duplicates, balance
from alliance_sample.calendar import (
    business_days,
    calendar_month_of,
    last_business_day,
    month_label,
    pay_day,
    year_end_close_saturday,
)
from alliance_sample.chart import Chart
from alliance_sample.documents import Documents, Parts
from alliance_sample.randomness import rng_for
from alliance_sample.splitting import cut, split_amounts
from alliance_sample.story import YearPlan
from alliance_sample.vocabulary import CATEGORIES, ROLE_TEXTS, SUPPLIERS, fit, supplier_numbers
from alliance_sample.volumes import MEAN_INVOICE_LINES, VolumePlan

#: the most line items a SAP document may hold (one is kept for the balancing line)
MAX_LINES_PER_DOCUMENT = 999
CREDIT_NOTE_RATE = 0.03


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

    def ordinary(self, plan: YearPlan, volume: VolumePlan, period: int) -> Documents:
        """Periods 1-12: everything posted in the period's own month."""
        fy = plan.fiscal_year
        rng = rng_for(self.seed, self.force, fy, 10 + period)
        year, month = calendar_month_of(fy, period)
        days = np.array([d.toordinal() for d in business_days(year, month)], dtype=np.int64)
        label = month_label(year, month)
        parts = Parts()
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
        documents = balance(parts.build())
        return add_duplicates(documents, invoice_docs, days, rng)

    def year_end(self, plan: YearPlan, volume: VolumePlan, month: int) -> Documents:
        """The year-end adjustment periods posted after the year, in April (13, 14), May (15), June (16).

        Wiltshire has one adjustment period (13, ``ADJ-yy``): its April and May postings both go there.
        """
        fy = plan.fiscal_year
        rng = rng_for(self.seed, self.force, fy, 40 + month)
        year = fy + 1
        days = np.array([d.toordinal() for d in business_days(year, month)], dtype=np.int64)
        label = f"{fy}/{(fy + 1) % 100:02d}"
        parts = Parts()
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
        return balance(parts.build())

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
        doc = cut(company, 0.0, rng, MAX_LINES_PER_DOCUMENT - 1)
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
        doc = cut(key, 1 / MEAN_INVOICE_LINES, rng, 40)
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
                doc = cut(company.astype(np.int64), 0.0, rng, MAX_LINES_PER_DOCUMENT - 1)
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
