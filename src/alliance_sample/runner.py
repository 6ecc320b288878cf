"""The generation loop: calendar month by calendar month, both forces, build and write.

A posting month holds its own period and, in April to June, the previous fiscal year's adjustment
periods: a delivery on 10 April 2017 carries FY 2016 period 13 documents beside FY 2017 period 1
ones, as SAP's does. Only one month of documents is in memory at a time.

As of a night (``as_of``): the same loop, stopped after the month of the night's last day, each
writer keeping only what had arrived by midnight at the start of ``as_of``. Months are built in
order from their own random streams, so a month's documents, document numbers and journal ids are
the same whichever night (or none) the output is cut at: a later night's sources extend an
earlier night's.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

from alliance_finance.config.reference import ReferenceData, load_reference
from alliance_sample import story
from alliance_sample.asc_files import AscWriter
from alliance_sample.budget import scope_of
from alliance_sample.budgets import write_budgets
from alliance_sample.calendar import business_days, fiscal_year_of
from alliance_sample.chart import Chart, build_chart
from alliance_sample.documents import Documents, concat
from alliance_sample.month import MonthBuilder
from alliance_sample.randomness import rng_for
from alliance_sample.scenario import SCENARIO
from alliance_sample.summary import PAY_SUBJECTIVES, GenerationSummary
from alliance_sample.volumes import volume_plan
from alliance_sample.wp_database import WpWriter

log = logging.getLogger(__name__)

#: the re-delivered ASC day falls in September of the first fiscal year generated
REDELIVERY_PERIOD = 6
_KINDS = {"expenditure": 0, "income": 1, "partner": 2, "balance_sheet": 3}


class LedgerCounter:
    """Adds a month's documents to the summary's per-year figures, through the reference mapping."""

    def __init__(self, chart: Chart, ref: ReferenceData):
        self.chart = chart
        self.ref = ref
        kinds = ref.subjective_kind()
        subjectives = [ref.subjective_for(chart.force, a) for a in chart.accounts]
        self.kind = np.array([_KINDS.get(kinds.get(s, "suspense"), 4) for s in subjectives])
        self.pay = np.array([s in PAY_SUBJECTIVES for s in subjectives])
        self.part_pay = np.array([s == "PART_PAY" for s in subjectives])
        self.inc_part = np.array([s == "INC_PART" for s in subjectives])
        self.account_mapped = np.array([kinds.get(s) is not None for s in subjectives])
        self._scopes: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def scopes(self, fiscal_year: int) -> tuple[np.ndarray, np.ndarray]:
        """Per cost centre: 0 alliance, 1 local, 2 anything else; and whether it is mapped."""
        if fiscal_year not in self._scopes:
            scope = np.full(len(self.chart.cost_centres), 2)
            mapped = np.zeros(len(self.chart.cost_centres), bool)
            mapped[0] = True
            for i, cc in enumerate(self.chart.cost_centres[1:], start=1):
                s = scope_of(self.ref, self.chart.force, cc, fiscal_year)
                scope[i] = {"alliance": 0, "local": 1}.get(s, 2)
                mapped[i] = s != "unmapped"
            self._scopes[fiscal_year] = scope, mapped
        return self._scopes[fiscal_year]

    def add(self, d: Documents, summary: GenerationSummary, in_ledger: np.ndarray | None = None) -> None:
        """Count the month's documents (only those ``in_ledger`` says are, when given)."""
        if in_ledger is None:
            in_ledger = np.ones(d.document_count, bool)
        line_year = np.where(in_ledger[d.doc], d.fiscal_year[d.doc], -1)
        for fiscal_year in np.unique(d.fiscal_year).tolist():
            y = summary.year(self.chart.force, fiscal_year)
            mask = line_year == fiscal_year
            pence, account, cc = d.pence[mask], d.account[mask], d.cost_centre[mask]
            kind = self.kind[account]
            scope, cc_mapped = self.scopes(fiscal_year)
            revenue = kind != 3
            ordinary = revenue & (kind != 2)
            y.documents += int(np.count_nonzero((d.fiscal_year == fiscal_year) & in_ledger))
            y.lines += int(mask.sum())
            y.debit_pence += int(pence[pence > 0].sum())
            y.credit_pence += int(-pence[pence < 0].sum())
            y.nre_pence += int(pence[revenue].sum())
            y.expenditure_pence += int(pence[kind == 0].sum())
            y.pay_pence += int(pence[self.pay[account]].sum())
            y.alliance_nre_pence += int(pence[ordinary & (scope[cc] == 0)].sum())
            y.local_nre_pence += int(pence[ordinary & (scope[cc] == 1)].sum())
            y.partner_paid_pence += int(pence[self.part_pay[account]].sum())
            y.partner_received_pence -= int(pence[self.inc_part[account]].sum())
            unmapped = ~self.account_mapped[account] | ~cc_mapped[cc]
            y.unmapped_lines += int(unmapped.sum())
            y.unmapped_pence += int(pence[unmapped].sum())


def _months(from_fy: int, to_fy: int):
    """(year, month) from April of the first fiscal year to June after the last (its adjustments)."""
    year, month = from_fy, 4
    while (year, month) <= (to_fy + 1, 6):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _delivery_files(inbound: Path) -> list[Path]:
    return [p for p in sorted(inbound.glob("ASC_GL_*")) if p.suffix in (".csv", ".ctl")]


def run(out: Path, from_fy: int, to_fy: int, scale: Decimal, seed: int,
        as_of: dt.date | None = None) -> GenerationSummary:
    started = time.perf_counter()
    ref = load_reference()
    last_month = (to_fy + 1, 6)
    if as_of is not None:
        last_day = as_of - dt.timedelta(days=1)
        to_fy = min(to_fy, fiscal_year_of(last_day))
        last_month = min(last_month, (last_day.year, last_day.month))
    inbound = out / "avon_somerset" / "inbound"
    inbound.mkdir(parents=True, exist_ok=True)
    if as_of is None:
        for stale in _delivery_files(inbound):
            stale.unlink()
    wp_path = out / "wiltshire" / "erp.db"
    wp_path.parent.mkdir(parents=True, exist_ok=True)
    summary = GenerationSummary(out=out, from_fy=from_fy, to_fy=to_fy, scale=scale, seed=seed,
                                asc_inbound=inbound, wp_database=wp_path, as_of=as_of)
    charts = {force: build_chart(force, ref) for force in SCENARIO.forces}
    builders = {force: MonthBuilder(charts[force], seed) for force in SCENARIO.forces}
    counters = {force: LedgerCounter(charts[force], ref) for force in SCENARIO.forces}
    asc = AscWriter(inbound, charts["ASC"], redelivery_month=(from_fy, REDELIVERY_PERIOD), cutoff=as_of)
    wp = WpWriter(wp_path, charts["WP"], cutoff_seconds=None if as_of is None else as_of.toordinal() * 86400)
    volumes: dict[tuple[str, int], tuple] = {}

    def planned(force: str, fiscal_year: int):
        key = (force, fiscal_year)
        if key not in volumes:
            plan = story.year_plan(force, fiscal_year, seed, ref)
            volumes[key] = plan, volume_plan(charts[force], plan, float(scale), seed, ref)
        return volumes[key]

    try:
        for year, month in _months(from_fy, to_fy):
            if (year, month) > last_month:
                break
            fiscal_year = year if month >= 4 else year - 1
            period = (month - 4) % 12 + 1
            in_range = from_fy <= fiscal_year <= to_fy
            for force in SCENARIO.forces:
                parts = []
                if in_range:
                    parts.append(builders[force].ordinary(*planned(force, fiscal_year), period))
                if month in (4, 5, 6) and from_fy <= fiscal_year - 1 <= to_fy:
                    parts.append(builders[force].year_end(*planned(force, fiscal_year - 1), month))
                documents = concat(parts)
                rng = rng_for(seed, force, fiscal_year, 100 + month)
                if force == "ASC":
                    days = business_days(year, month) if in_range else []
                    asc.write_month(documents, days, (fiscal_year, period), rng)
                    in_ledger = None if as_of is None else documents.day < as_of.toordinal()
                else:
                    commit_rng = None if as_of is None else rng_for(seed, force, fiscal_year, 300 + month)
                    in_ledger = wp.write_month(documents, rng, commit_rng)
                counters[force].add(documents, summary, in_ledger)
            if month == 6:
                for force in SCENARIO.forces:
                    volumes.pop((force, fiscal_year - 1), None)
            log.debug("generated %04d-%02d", year, month)
    finally:
        wp.close()
    if as_of is not None:
        for stale in _delivery_files(inbound):
            if stale.name not in asc.names:
                stale.unlink()  # a delivery of a later night than this one
    summary.budgets = write_budgets(out / "finance" / "budgets.csv", from_fy, to_fy, seed, ref)
    summary.asc_files = asc.files_written
    summary.asc_files_by_fiscal_year = dict(asc.files_by_fiscal_year)
    summary.redelivered_day = asc.redelivered_day
    summary.wp_unposted_journals = wp.unposted
    summary.seconds = time.perf_counter() - started
    return summary
