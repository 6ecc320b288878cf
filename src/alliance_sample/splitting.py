"""Integer pence into lines, lines into documents: the vectorised helpers a month's streams share.

:func:`split_amounts` divides each amount over its count of lines (lognormal sizes, every line at
least a penny, the lines adding up to the amount exactly; optionally with credit notes); :func:`cut`
numbers the documents of lines sorted by a key.
"""

from __future__ import annotations

import numpy as np


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


def cut(keys: np.ndarray, break_probability: float, rng: np.random.Generator, limit: int) -> np.ndarray:
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
