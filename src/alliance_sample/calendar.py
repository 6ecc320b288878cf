"""The sample ledgers' calendar: business days, pay days and the forces' period names.

Everything here is a pure function of the date: no clock, no randomness.
"""

from __future__ import annotations

import datetime as dt

MONTH_ABBREVIATIONS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def calendar_month_of(fiscal_year: int, period: int) -> tuple[int, int]:
    """(year, month) of an ordinary period 1-12 of a fiscal year (1 = April)."""
    month = (period + 2) % 12 + 1
    return (fiscal_year if month >= 4 else fiscal_year + 1), month


def days_of_month(year: int, month: int) -> list[dt.date]:
    first = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return [first + dt.timedelta(days=i) for i in range((following - first).days)]


def business_days(year: int, month: int) -> list[dt.date]:
    """Monday to Friday of a calendar month (SAP delivers every weekday night, bank holidays too)."""
    return [d for d in days_of_month(year, month) if d.weekday() < 5]


def pay_day(year: int, month: int) -> dt.date:
    """Both forces pay on the 20th, or the last weekday before it."""
    day = dt.date(year, month, 20)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def next_business_day(day: dt.date) -> dt.date:
    """The first Monday-to-Friday after ``day``."""
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def fiscal_year_of(day: dt.date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def last_business_day(year: int, month: int) -> dt.date:
    return business_days(year, month)[-1]


def year_end_close_saturday(fiscal_year: int) -> dt.date:
    """The Saturday of the year-end close weekend (second Saturday of April after the year):
    SAP runs an extra delivery for it, outside the Monday-to-Friday rhythm."""
    day = dt.date(fiscal_year + 1, 4, 8)
    while day.weekday() != 5:
        day += dt.timedelta(days=1)
    return day


def month_label(year: int, month: int) -> str:
    """``Apr 2016``: how the finance teams name a month in texts."""
    return f"{MONTH_NAMES[month - 1]} {year}"


def wp_period_name(fiscal_year: int, period: int) -> str:
    """Wiltshire's period names: ``APR-16`` ... ``MAR-17`` for FY 2016, ``ADJ-17`` for its period 13."""
    if period == 13:
        return f"ADJ-{(fiscal_year + 1) % 100:02d}"
    year, month = calendar_month_of(fiscal_year, period)
    return f"{MONTH_ABBREVIATIONS[month - 1]}-{year % 100:02d}"
