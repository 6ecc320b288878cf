"""What happened to one batch: :class:`LoadOutcome`, apart from the loader that makes it.

Kept out of :mod:`.load` (which brings pyarrow and numpy) so that what only reports outcomes (a
run's result, an XCom read back, a night with nothing new) imports neither.
"""

from __future__ import annotations

import dataclasses

from alliance_finance.core.money import format_gbp


@dataclasses.dataclass
class LoadOutcome:
    """What happened to one batch."""

    batch_id: int
    force_code: str
    source_ref: str
    status: str  # 'loaded' or 'rejected'
    rows_read: int
    rows_loaded: int = 0
    rows_quarantined: int = 0
    #: debits and credits of the lines loaded, in pence (credits as a positive number)
    debit_pence: int = 0
    credit_pence: int = 0
    #: source refs of the earlier deliveries this one superseded
    superseded: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.status == "loaded"

    def describe(self) -> str:
        """One line for the operator's log."""
        if not self.loaded:
            reason = self.error or "no reason recorded"
            if reason.startswith(f"{self.source_ref}: "):
                reason = reason[len(self.source_ref) + 2:]
            return f"{self.source_ref}: rejected: {reason}"
        text = (f"{self.source_ref}: loaded {self.rows_loaded:,} lines"
                f"{f', quarantined {self.rows_quarantined:,}' if self.rows_quarantined else ''}"
                f" (debit {format_gbp(self.debit_pence, pence_shown=True)},"
                f" credit {format_gbp(self.credit_pence, pence_shown=True)}) as batch {self.batch_id}")
        if self.superseded:
            text += f"; superseded {', '.join(self.superseded)}"
        return text
