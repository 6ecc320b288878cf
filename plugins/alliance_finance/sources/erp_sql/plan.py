"""Planning an extract's batches: each new journal's period, posting time and line count, read
narrowly, then the journals grouped by period (large periods split, journals kept whole)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, NamedTuple

import sqlalchemy as sa

from alliance_finance.sources.erp_sql.connection import _LINE_COUNTS, _PLAN_OF_JOURNALS, _chunks, _fetch
from alliance_finance.sources.erp_sql.headers import _as_datetime
from alliance_finance.sources.erp_sql.layout import parse_period_name

_UNKNOWN_PERIOD = (None, None)


class _Planned(NamedTuple):
    """What planning the batches needs of a new journal, and nothing more: five years of new
    journals are held at once, so their full headers are read again batch by batch."""

    journal_id: int
    fiscal_year: int | None
    period: int | None
    posted_at: dt.datetime | None
    line_count: int

    @property
    def order(self) -> tuple:
        return (self.posted_at is None, self.posted_at or dt.datetime.min, self.journal_id)


def _plan_journals(connection: sa.Connection, ids: list[int]) -> list[_Planned]:
    """Period, posting time and line count of each new journal, read narrowly (no texts)."""
    planned: list[_Planned] = []
    periods: dict[Any, tuple] = {}
    for chunk in _chunks(ids):
        counts = {int(journal_id): int(count) for journal_id, count in _fetch(connection, _LINE_COUNTS, chunk)}
        for journal_id, period_name, posted_at in _fetch(connection, _PLAN_OF_JOURNALS, chunk):
            # the same readings as _read_header's, which will name any problem when the batch is built
            key = period_name if isinstance(period_name, (str, type(None))) else repr(period_name)
            period = periods.get(key)
            if period is None:
                try:
                    period = periods[key] = parse_period_name(period_name)
                except ValueError:
                    period = periods[key] = _UNKNOWN_PERIOD
            try:
                posted = _as_datetime(posted_at)
            except ValueError:
                posted = None
            journal_id = int(journal_id)
            planned.append(_Planned(journal_id, *period, posted, counts.get(journal_id, 0)))
    return planned



def _plan_batches(journals: list[_Planned], max_lines: int) -> Iterator[tuple[tuple, list[_Planned], int, int]]:
    """(period key, journals, part, parts) for each batch, in period order."""
    by_period: dict[tuple, list[_Planned]] = {}
    for journal in journals:
        by_period.setdefault((journal.fiscal_year, journal.period), []).append(journal)
    keys = sorted((key for key in by_period if key != _UNKNOWN_PERIOD))
    if _UNKNOWN_PERIOD in by_period:
        keys.append(_UNKNOWN_PERIOD)
    for key in keys:
        parts: list[list[_Planned]] = [[]]
        size = 0
        for journal in sorted(by_period.pop(key), key=lambda j: j.order):
            weight = max(journal.line_count, 1)  # a journal without lines is one quarantine entry
            if parts[-1] and size + weight > max_lines:
                parts.append([])
                size = 0
            parts[-1].append(journal)
            size += weight
        for number, part in enumerate(parts, start=1):
            yield key, part, number, len(parts)

