"""What a generation run wrote, and the story's figures as the generated ledgers tell them.

Figures are counted from the ledger as written (ASC: the final delivery of each day; WP: posted
journals only), with the reference data's mapping, so a test or a reader can compare them with
what the pipeline later loads. Money is integer pence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

from alliance_finance.core.money import format_gbp

#: subjective codes counted as pay (the Employees group less other employee expenses)
PAY_SUBJECTIVES = frozenset({"OFF_PAY", "OFF_OT", "STF_PAY", "STF_OT", "PCSO_PAY", "PEN"})


@dataclasses.dataclass
class ForceYear:
    """One force's fiscal year in the generated ledger."""

    force: str
    fiscal_year: int
    #: ASC documents / WP posted journals
    documents: int = 0
    lines: int = 0
    debit_pence: int = 0
    credit_pence: int = 0
    #: net revenue expenditure: every line but balance-sheet ones, debit minus credit
    nre_pence: int = 0
    #: expenditure-kind lines (spending before income), and the pay among them
    expenditure_pence: int = 0
    pay_pence: int = 0
    #: NRE without partner flows, by the objective's alliance_scope
    alliance_nre_pence: int = 0
    local_nre_pence: int = 0
    #: PART_PAY (debit minus credit) and INC_PART (credit minus debit)
    partner_paid_pence: int = 0
    partner_received_pence: int = 0
    #: lines on codes the reference data does not know yet
    unmapped_lines: int = 0
    unmapped_pence: int = 0

    @property
    def pay_share(self) -> Decimal:
        return Decimal(self.pay_pence) / Decimal(self.expenditure_pence) if self.expenditure_pence else Decimal(0)


@dataclasses.dataclass
class GenerationSummary:
    """The result of :func:`alliance_sample.generate_sources`."""

    out: Path
    from_fy: int
    to_fy: int
    scale: Decimal
    seed: int
    asc_inbound: Path
    wp_database: Path
    years: dict[tuple[str, int], ForceYear] = dataclasses.field(default_factory=dict)
    asc_files: int = 0
    asc_files_by_fiscal_year: dict[int, int] = dataclasses.field(default_factory=dict)
    redelivered_day: dt.date | None = None
    wp_unposted_journals: int = 0
    seconds: float = 0.0
    #: finance's approved revenue budgets (finance/budgets.csv)
    budgets: Path | None = None
    #: the night the sources stand as of (None: whole years)
    as_of: dt.date | None = None

    def complete(self, fiscal_year: int) -> bool:
        """Whether the year, adjustment periods included (posted by the end of June), is all there."""
        return self.as_of is None or self.as_of > dt.date(fiscal_year + 1, 6, 30)

    def year(self, force: str, fiscal_year: int) -> ForceYear:
        key = (force, fiscal_year)
        if key not in self.years:
            self.years[key] = ForceYear(force, fiscal_year)
        return self.years[key]

    def fiscal_years(self) -> list[int]:
        return list(range(self.from_fy, self.to_fy + 1))

    def savings_pence(self, fiscal_year: int, force: str | None = None, baseline_fy: int = 2014) -> int | None:
        """Alliance-scope savings against the baseline year (both forces when ``force`` is None),
        or None when the baseline year was not generated."""
        forces = [force] if force else ["ASC", "WP"]
        if (forces[0], baseline_fy) not in self.years or (forces[0], fiscal_year) not in self.years:
            return None
        return sum(self.years[(f, baseline_fy)].alliance_nre_pence - self.years[(f, fiscal_year)].alliance_nre_pence
                   for f in forces)

    def local_index(self, fiscal_year: int, baseline_fy: int = 2014) -> Decimal | None:
        """Both forces' local-scope NRE as a fraction of the baseline year's."""
        if ("ASC", baseline_fy) not in self.years or ("ASC", fiscal_year) not in self.years:
            return None
        base = sum(self.years[(f, baseline_fy)].local_nre_pence for f in ("ASC", "WP"))
        now = sum(self.years[(f, fiscal_year)].local_nre_pence for f in ("ASC", "WP"))
        return Decimal(now) / Decimal(base)

    def partner_mismatch_pence(self, fiscal_year: int) -> int:
        """What one force paid the other minus what the other booked as received, both directions."""
        asc, wp = self.years[("ASC", fiscal_year)], self.years[("WP", fiscal_year)]
        return (wp.partner_paid_pence - asc.partner_received_pence) + (asc.partner_paid_pence - wp.partner_received_pence)

    def describe(self) -> str:
        """A short account for the person who ran the command."""
        lines = [
            f"Sample sources for FY {self.from_fy} to FY {self.to_fy} (scale {self.scale}, seed {self.seed}) "
            f"in {self.out}, written in {self.seconds:.1f} s",
            f"  Avon and Somerset: {self.asc_files} delivery files (data + control) in {self.asc_inbound}",
            f"  Wiltshire: ERP database {self.wp_database}",
            f"  Finance: approved revenue budgets {self.budgets}",
            "",
            f"  {'force':5} {'FY':>7} {'files':>6} {'documents':>10} {'lines':>10} {'NRE':>14} {'pay share':>9}",
        ]
        for fiscal_year in self.fiscal_years():
            for force in ("ASC", "WP"):
                y = self.years.get((force, fiscal_year))
                if y is None:
                    continue
                files = self.asc_files_by_fiscal_year.get(fiscal_year, 0) if force == "ASC" else ""
                lines.append(f"  {force:5} {fiscal_year}/{(fiscal_year + 1) % 100:02d} {files!s:>6} "
                             f"{y.documents:>10,} {y.lines:>10,} {format_gbp(y.nre_pence):>14} "
                             f"{y.pay_share * 100:>8.1f}%")
        lines.append("")
        if self.as_of is not None:
            lines.append(f"  As they stand on the night of {self.as_of:%d.%m.%Y}: ASC deliveries up to "
                         f"{self.as_of - dt.timedelta(days=1):%d.%m.%Y}, WP journals posted before then; "
                         f"figures count only that ledger")
            lines.append("")
        for fiscal_year in self.fiscal_years():
            saving = self.savings_pence(fiscal_year)
            if saving is None or fiscal_year <= 2014 or not self.complete(fiscal_year):
                continue
            index = self.local_index(fiscal_year)
            lines.append(f"  FY {fiscal_year}/{(fiscal_year + 1) % 100:02d}: alliance savings {format_gbp(saving)} "
                         f"(ASC {format_gbp(self.savings_pence(fiscal_year, 'ASC'))}, "
                         f"WP {format_gbp(self.savings_pence(fiscal_year, 'WP'))}); "
                         f"local policing at {index * 100:.1f}% of FY 2014")
        for fiscal_year in self.fiscal_years():
            if not self.complete(fiscal_year) or ("ASC", fiscal_year) not in self.years:
                continue
            mismatch = self.partner_mismatch_pence(fiscal_year)
            if mismatch:
                lines.append(f"  FY {fiscal_year}/{(fiscal_year + 1) % 100:02d}: intra-alliance flows differ by "
                             f"{format_gbp(mismatch, pence_shown=True)} between the two ledgers")
        unmapped = sum(y.unmapped_lines for y in self.years.values())
        extras = [f"{unmapped:,} lines on codes not yet in the reference data"]
        if self.redelivered_day:
            extras.append(f"ASC re-delivered {self.redelivered_day:%d.%m.%Y} (_002 replaces _001)")
        extras.append(f"{self.wp_unposted_journals} unposted WP journals")
        lines.append("  " + "; ".join(extras))
        return "\n".join(lines)
