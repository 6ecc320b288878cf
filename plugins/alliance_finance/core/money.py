"""Exact money. Amounts travel as integer pence from the first byte read to the warehouse.

Nothing here (or anywhere on the path from source to warehouse) uses binary floating point.
"""

from __future__ import annotations

import re
from decimal import Decimal

_AMOUNT_RE = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{2}$")


def parse_amount_to_pence(text: str) -> int:
    """``"12,345.67"`` -> ``1234567``. Two decimals required; thousands separators allowed.

    Raises ValueError naming the text when it is not an amount.
    """
    text = text.strip()
    if not _AMOUNT_RE.match(text):
        raise ValueError(f"not an amount with two decimals: {text!r}")
    negative = text.startswith("-")
    digits = text.lstrip("-").replace(",", "").replace(".", "")
    pence = int(digits)
    return -pence if negative else pence


def pence_to_decimal(pence: int) -> Decimal:
    """``1234567`` -> ``Decimal('12345.67')``."""
    return Decimal(int(pence)).scaleb(-2)


def decimal_to_pence(amount: Decimal | str) -> int:
    """``Decimal('12345.67')`` -> ``1234567``; refuses anything with more than two decimals."""
    value = Decimal(amount)
    pence = value.scaleb(2)
    if pence != pence.to_integral_value():
        raise ValueError(f"amount has more than two decimals: {amount}")
    return int(pence)


def format_pence(pence: int) -> str:
    """``1234567`` -> ``"12345.67"``, ``-5`` -> ``"-0.05"``: the exact decimal text of an amount."""
    sign = "-" if pence < 0 else ""
    whole, frac = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_gbp(pence: int, *, pence_shown: bool = False) -> str:
    """Money as finance reads it: ``£1,234,567`` (or ``£1,234,567.89``); negatives as ``-£1,234``."""
    sign = "-" if pence < 0 else ""
    whole, frac = divmod(abs(int(pence)), 100)
    if pence_shown:
        return f"{sign}£{whole:,}.{frac:02d}"
    # round half away from zero to whole pounds
    if frac >= 50:
        whole += 1
    return f"{sign}£{whole:,}"
