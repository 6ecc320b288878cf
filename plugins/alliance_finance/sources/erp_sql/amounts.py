"""Money as the ERP's driver returns it, to integer pence, exactly: value by value and column by column.

One rule, in two shapes: :func:`amount_to_pence` (any value, exactly through ``Decimal``) and
:func:`_pence_column` (a whole column with numpy and pyarrow, for the floats and ints SQLite returns
and the Decimals of MariaDB and PostgreSQL, falling back to :func:`amount_to_pence` value by value for
types it does not know). Tests compare the two on every kind of value the drivers return.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.money import format_pence
from alliance_finance.sources.erp_sql.layout import MAX_AMOUNT_PENCE

_NONE = type(None)


def amount_to_pence(value: Any) -> int:
    """An amount as the database driver returned it -> integer pence, exactly.

    ``Decimal``, ``int`` and decimal text convert through ``Decimal``; a ``float`` is accepted only
    when its shortest round-trip decimal form has at most two decimals (see the package docstring, "Money").
    Raises ValueError (what was expected, what was found) for anything with more than two decimals,
    not a finite number, or negative.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected an amount, found {value!r}")
    if isinstance(value, int):
        exact = Decimal(value)
    elif isinstance(value, Decimal):
        exact = value
    elif isinstance(value, float):
        exact = Decimal(repr(value))  # the shortest decimal that round-trips to this double
        if exact.is_finite() and exact.as_tuple().exponent < -2:
            raise ValueError(f"expected an exact amount with at most two decimals, found the binary "
                             f"floating-point value {value!r}")
    elif isinstance(value, str):
        try:
            exact = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"expected a number, found {value!r}") from None
    else:
        raise ValueError(f"expected a number, found {type(value).__name__} {value!r}")
    if not exact.is_finite():
        raise ValueError(f"expected a number, found {value!r}")
    pence = exact.scaleb(2)
    if pence != pence.to_integral_value():
        raise ValueError(f"expected at most two decimals, found {exact.normalize():f}")
    if pence < 0:
        raise ValueError(f"expected a non-negative amount, found {format_pence(int(pence))}")
    if pence > MAX_AMOUNT_PENCE:
        raise ValueError(f"expected at most {format_pence(MAX_AMOUNT_PENCE)} (the warehouse's numeric(15,2)), "
                         f"found {exact.normalize():f}")
    return int(pence)



def _pence_column(values: tuple, n: int):
    """(pence, set, ok) for one amount column: ``ok`` is false where a value is set but is not an
    exact amount as :func:`amount_to_pence` reads it (or is of a type left to be read value by value)."""
    types = set(map(type, values))
    if types <= {float, int, _NONE}:
        try:
            x = pa.array(values, pa.float64())  # an int beyond 2**53 is refused by the range below
        except (pa.ArrowInvalid, OverflowError):
            x = None
        if x is not None:
            # SQLite's REAL: exact when it is the double nearest a two-decimal amount, the condition
            # amount_to_pence checks on its repr (k/100 is correctly rounded, so it is that double exactly)
            is_set = np.asarray(x.is_valid(), dtype=bool)
            x = np.asarray(x.fill_null(0.0), dtype=np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                k = np.rint(x * 100.0)
                exact = (k / 100.0 == x) & (k >= 0) & (k <= MAX_AMOUNT_PENCE)
            return np.where(exact, k, 0).astype(np.int64), is_set, exact | ~is_set
    if types <= {Decimal, _NONE}:  # MariaDB, PostgreSQL: exact decimals
        try:
            decimals = pa.array(values)
            is_set = np.asarray(decimals.is_valid(), dtype=bool)
            pence = np.asarray(pc.cast(pc.multiply(decimals, pa.scalar(Decimal(100))), pa.int64()).fill_null(0),
                               dtype=np.int64)  # refuses a fraction of a penny
            return pence, is_set, ~is_set | ((pence >= 0) & (pence <= MAX_AMOUNT_PENCE))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            pass
    pence = np.zeros(n, np.int64)
    is_set = np.fromiter((v is not None for v in values), bool, n)
    ok = np.ones(n, dtype=bool)
    for i in np.flatnonzero(is_set):
        try:
            pence[i] = amount_to_pence(values[i])
        except ValueError:
            ok[i] = False
    return pence, is_set, ok



def _pence_text(pence, is_set) -> pa.Array:
    """Non-negative pence as exact decimal text (``format_pence``), null where the amount is not set."""
    whole = pc.cast(pa.array(pence // 100, pa.int64()), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(pence % 100, pa.int64()), pa.string()), 2, "0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    return pc.if_else(pa.array(is_set, pa.bool_()), text, pa.scalar(None, pa.string()))

