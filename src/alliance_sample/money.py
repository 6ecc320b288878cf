"""Integer money: pounds to pence, a baseline amount grown year by year, and a total of pence divided
over weights so that the shares add up to it exactly.

Floating point only ever draws the *weights* that decide how a total is divided; :func:`allocate` turns
them into integer pence.
"""

from __future__ import annotations

import numpy as np

from alliance_sample.scenario import SCENARIO

POUND = 100


def allocate(total: int, weights) -> np.ndarray:
    """Divide ``total`` pence over ``weights`` (largest remainder): integers that add up exactly.

    The weights may be floats: they only decide the shares. Zero weights get nothing.
    """
    w = np.asarray(weights, dtype=float)
    out = np.zeros(len(w), dtype=np.int64)
    if total == 0 or len(w) == 0:
        return out
    if w.sum() <= 0:
        raise ValueError(f"cannot allocate {total} pence over zero weights")
    sign = 1 if total > 0 else -1
    magnitude = abs(int(total))
    raw = w / w.sum() * magnitude
    base = np.floor(raw).astype(np.int64)
    base[w <= 0] = 0
    remainder = magnitude - int(base.sum())
    fractions = raw - base
    if remainder > 0:
        order = np.argsort(-fractions, kind="stable")
        order = order[w[order] > 0]
        base[order[:remainder]] += 1
    elif remainder < 0:  # float rounding pushed a floor up: take the pennies back from the largest
        order = np.argsort(-base, kind="stable")
        base[order[:-remainder]] -= 1
    return sign * base


def pounds(amount: int) -> int:
    return amount * POUND


def grown(base_pounds: int, fiscal_year: int, permille: int) -> int:
    """A FY 2014 amount grown by ``permille`` a year (pence, exact integer arithmetic)."""
    pence = base_pounds * POUND
    years = fiscal_year - SCENARIO.baseline_fy
    if years >= 0:
        for _ in range(years):
            pence = pence * (1000 + permille) // 1000
    else:
        for _ in range(-years):
            pence = pence * 1000 // (1000 + permille)
    return pence
