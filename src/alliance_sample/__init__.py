"""Sample sources for both forces, written exactly as SOURCES.md describes the real feeds.

``alliance-finance generate`` calls :func:`generate_sources`. It writes Avon and Somerset's daily SAP
deliveries into ``OUT/avon_somerset/inbound/`` and Wiltshire's ERP reporting database as
``OUT/wiltshire/erp.db``, for a range of fiscal years, telling the alliance's story (see
``docs/sample-data.md`` and :mod:`.story`). The same seed gives the same bytes; ``scale`` multiplies
the number of lines, never the money.

Modules, each with one job: :mod:`.scenario` (the story's figures, from ``scenario.yaml``, checked),
:mod:`.money` (integer pence), :mod:`.randomness` (seeded streams), :mod:`.budget` (a year's money per
cost centre and account), :mod:`.story` (the year plan, with accruals), :mod:`.chart` (codes as
integers), :mod:`.volumes` (how many lines carry the money), :mod:`.month` (a month's documents),
:mod:`.splitting` and :mod:`.balancing` (their array helpers), :mod:`.documents` (the month's arrays),
:mod:`.asc_files` and :mod:`.wp_database` (the two formats), :mod:`.vocabulary` (texts and suppliers),
:mod:`.calendar`, :mod:`.runner` (the month-by-month loop), :mod:`.summary` (what was written).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from alliance_sample.summary import ForceYear, GenerationSummary

__all__ = ["generate_sources", "GenerationSummary", "ForceYear"]


def generate_sources(out: Path, from_fy: int = 2014, to_fy: int = 2018, scale: Decimal = Decimal(1),
                     seed: int = 2015, as_of: dt.date | None = None) -> GenerationSummary:
    """Write both forces' sample sources for fiscal years ``from_fy`` to ``to_fy`` into ``out``.

    ``scale`` multiplies the number of lines (1 is about 100,000 lines a fiscal year for both forces
    together); money totals stay the same at every scale. Earlier sample files in ``out`` (ASC delivery
    files and the WP database) are replaced, so a rerun with the same arguments gives identical bytes.
    Memory stays flat as the scale grows: the ledgers are built and written one posting month at a time.

    ``as_of``: the sources as they stand on the night that ends on that day (the pipeline's nightly
    run): ASC deliveries of the days before it, WP journals entered before its midnight (posted only if
    posted by then), nothing of a later fiscal year. A later ``as_of`` gives a superset: the same
    delivery files, byte for byte, and the same journals, some of them posted since.
    """
    scale = Decimal(scale)
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if from_fy > to_fy:
        raise ValueError(f"from_fy {from_fy} is after to_fy {to_fy}")
    if as_of is not None and as_of <= dt.date(from_fy, 4, 1):
        raise ValueError(f"as_of {as_of} is not after the first day of FY {from_fy} (1 April {from_fy}): "
                         "nothing would have been delivered yet")
    # deferred: runner imports this package's modules, so importing it at the top would make the
    # package import itself in a circle (and load numpy for a mere `import alliance_sample`)
    from alliance_sample.runner import run

    return run(Path(out), from_fy, to_fy, scale, seed, as_of)
