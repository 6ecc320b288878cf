"""One posting month of one force as :class:`Documents`: per-document arrays, and per-line arrays
pointing at them, still in neutral terms (a document ``kind`` such as ``invoice`` or ``payroll``); the
force's writer gives them its own document types, numbers and file or table layout.

:class:`Parts` collects the documents a month's streams make and joins them once; :func:`concat` joins
several months' builds (a month's ordinary periods and last year's adjustments); :func:`sorted_lines`
orders lines by document, balancing line last.
"""

from __future__ import annotations

import dataclasses

import numpy as np

DOC_FIELDS = {
    "fiscal_year": np.int32, "period": np.int32, "day": np.int64, "kind": object, "company": np.int8,
    "vendor": object, "reference": object, "document_date": np.int64, "reverses": np.int64,
    "description": object, "bs_account": np.int64,
}
LINE_FIELDS = {"doc": np.int64, "cost_centre": np.int64, "account": np.int64, "pence": np.int64,
               "text": object, "role": np.int64}
LINE_FIELDS = {"doc": np.int64, "cost_centre": np.int64, "account": np.int64, "pence": np.int64,
               "text": object, "role": np.int64}


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


class Parts:
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


def sorted_lines(d: Documents) -> Documents:
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
        return Parts().build()
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
