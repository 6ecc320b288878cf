"""The generator's random streams: one per purpose, seeded from (seed, force, fiscal year, purpose).

Never from the clock, and independent of the scale and of which other years are generated, so the
same arguments always give the same bytes.
"""

from __future__ import annotations

import numpy as np

from alliance_sample.scenario import SCENARIO


def rng_for(seed: int, force: str, fiscal_year: int, *purpose: int) -> np.random.Generator:
    """The random stream for one purpose: independent of scale and of which other years are generated."""
    return np.random.default_rng([seed & 0xFFFFFFFF, SCENARIO.force_numbers[force], fiscal_year, *purpose])
