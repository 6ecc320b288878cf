"""Presentation of exact figures: money, percentages, dates and the forces' names and colours.

Nothing here computes a figure; it only turns the views' exact values into the strings the page and
the charts show.
"""

from __future__ import annotations

import calendar
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence

from alliance_finance.config.forces import ALL_FORCES, ForceConfig, load_forces
from alliance_finance.core.fiscal import period_month
from alliance_finance.core.money import format_gbp

#: the colour of the rows and lines standing for every force together, and of a force no longer configured
ALL_COLOUR = "#444444"
OTHER_COLOUR = "#777777"


def force_colours(forces: Sequence[ForceConfig] | None = None) -> dict[str, str]:
    """force code -> its ``report_colour`` from the configuration, and ``ALL`` -> :data:`ALL_COLOUR`."""
    colours = {f.code: f.report_colour for f in (load_forces() if forces is None else forces)}
    colours[ALL_FORCES] = ALL_COLOUR
    return colours


def gbp(pence: int | None, *, pence_shown: bool = False) -> str:
    """``£1,234,567``; a missing figure as an en dash."""
    return "–" if pence is None else format_gbp(pence, pence_shown=pence_shown)


def percent(part: int | None, whole: int | None) -> str:
    """``part / whole`` as a percentage with one decimal, exact to the last digit shown."""
    if part is None or not whole:
        return "–"
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def _share(key_share: Decimal | None) -> str:
    if key_share is None:
        return "–"
    return f"{(key_share * 100).quantize(Decimal('0.0001'))}%"


def _day(value: Any) -> str:
    if value is None:
        return "–"
    return value.isoformat(sep=" ", timespec="minutes") if hasattr(value, "hour") else value.isoformat()


def runs_to(fiscal_year: int, through_period: int | None) -> str:
    """How far a year's figures run, in the board's words: ``to September (P6)``, ``whole year`` or
    ``nothing closed yet``."""
    if through_period is None or through_period == 0:
        return "nothing closed yet"
    if through_period >= 12:
        return "whole year"
    _, month = period_month(fiscal_year, through_period)
    return f"to {calendar.month_name[month]} (P{through_period})"


def long_day(day: Any) -> str:
    """``15 October 2016``; a missing day as an en dash."""
    return "–" if day is None else f"{day.day} {day:%B %Y}"
