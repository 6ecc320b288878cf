"""Fiscal years and periods.

A fiscal year is named by the calendar year in which it begins: FY 2016 runs from 1 April 2016 to
31 March 2017 and reads ``2016/17``. Periods 1 to 12 are April to March; 13 to 16 are year-end
adjustment periods, posted in March or later.
"""

from __future__ import annotations

import datetime as dt

#: The savings baseline of CHART.md: FY 2014 (2014/15), the year before the alliance.
BASELINE_FY = 2014


def fiscal_year_of(day: dt.date) -> int:
    """The fiscal year a calendar date falls in."""
    return day.year if day.month >= 4 else day.year - 1


def period_of(day: dt.date) -> int:
    """The ordinary period (1-12) of a calendar date."""
    return (day.month - 4) % 12 + 1


def fy_label(fiscal_year: int) -> str:
    """``2016`` -> ``"2016/17"``."""
    return f"{fiscal_year}/{(fiscal_year + 1) % 100:02d}"


def fy_start(fiscal_year: int) -> dt.date:
    return dt.date(fiscal_year, 4, 1)


def fy_end(fiscal_year: int) -> dt.date:
    return dt.date(fiscal_year + 1, 3, 31)


def period_end(fiscal_year: int, period: int) -> dt.date:
    """The last day of a period's month (adjustment periods 13-16: 31 March)."""
    year, month = period_month(fiscal_year, period)
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def period_month(fiscal_year: int, period: int) -> tuple[int, int]:
    """(year, month) of an ordinary period; adjustment periods 13-16 belong to March."""
    if period >= 12:
        return fiscal_year + 1, 3
    month = (period + 3 - 1) % 12 + 1
    return (fiscal_year if month >= 4 else fiscal_year + 1), month


def posting_date_agrees(fiscal_year: int, period: int, day: dt.date) -> bool:
    """True when a posting date lies in its fiscal period.

    Ordinary periods: the date lies in that month. Adjustment periods (13-16): the date lies in
    March of the fiscal year or later (year-end adjustments are posted after the year closes).
    """
    if not 1 <= period <= 16:
        return False
    if period >= 13:
        return day >= dt.date(fiscal_year + 1, 3, 1)
    year, month = period_month(fiscal_year, period)
    return day.year == year and day.month == month
