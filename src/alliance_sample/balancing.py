"""The last touches to a month's documents: each one's balancing line, and the invoices paid twice.

:func:`balance` adds the balance-sheet line (no cost centre) that balances each document: creditors,
payroll control, bank, debtors, accruals or the partner force's balance. :func:`add_duplicates` pays a
few invoices a second time and reverses each a few working days later (net nil).
"""

from __future__ import annotations

import numpy as np

from alliance_sample.documents import DOC_FIELDS, LINE_FIELDS, Documents, sorted_lines

DUPLICATE_RATE = 0.004


def balance(documents: Documents) -> Documents:
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
    return sorted_lines(d)


def add_duplicates(documents: Documents, invoice_docs: tuple[int, int], days: np.ndarray, rng) -> Documents:
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
    return sorted_lines(d)


_BALANCING_TEXT = {
    "payroll": "Net pay and deductions", "invoice": "", "credit": "", "grant": "Receipt, bank",
    "fees": "Debtors control", "sps": "Customer invoice", "partner_in": "Due from alliance partner",
    "partner_out": "Due to alliance partner", "capf": "Capital adjustment", "accrual": "Accruals",
    "accrual_reversal": "Accruals reversed",
}
