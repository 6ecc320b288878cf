"""What one force's pass did, and the one way a rejection is worded (the CLI's summary, the DAG's
failure and its notice all use :meth:`ForceRunResult.problems`).

A result travels between Airflow tasks as XCom: :meth:`ForceRunResult.to_dict` and
:meth:`ForceRunResult.from_dict` (plain JSON: integers, pence, strings).
"""

from __future__ import annotations

import dataclasses

from alliance_finance.core.money import format_gbp
from alliance_finance.warehouse.outcome import LoadOutcome

#: the LoadOutcome fields a result keeps (alliance_finance.warehouse.outcome.LoadOutcome)
_OUTCOME_FIELDS = ("batch_id", "force_code", "source_ref", "status", "rows_read", "rows_loaded",
                   "rows_quarantined", "debit_pence", "credit_pence", "superseded", "error")


@dataclasses.dataclass
class ForceRunResult:
    """What one force's pass did: every batch's outcome, and anything refused."""

    force_code: str
    outcomes: list = dataclasses.field(default_factory=list)  # list[LoadOutcome]
    refused: list[str] = dataclasses.field(default_factory=list)
    lines_restated: int = 0
    #: batches found loaded by another run meanwhile (a DAG's load step after a CLI run): not loaded again
    skipped: list[str] = dataclasses.field(default_factory=list)
    #: seconds spent per stage (:class:`~alliance_finance.runner.clock.StageClock`), and the pass's own seconds
    stage_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def loaded(self) -> list:
        return [o for o in self.outcomes if o.loaded]

    @property
    def rejected(self) -> list:
        return [o for o in self.outcomes if not o.loaded]

    @property
    def batches_superseded(self) -> int:
        return sum(len(o.superseded) for o in self.outcomes)

    def _loaded_sum(self, name: str) -> int:
        """The sum of ``name`` over the batches loaded."""
        return sum(getattr(o, name) for o in self.loaded)

    lines_loaded = property(lambda self: self._loaded_sum("rows_loaded"))
    lines_quarantined = property(lambda self: self._loaded_sum("rows_quarantined"))
    debit_pence = property(lambda self: self._loaded_sum("debit_pence"))
    credit_pence = property(lambda self: self._loaded_sum("credit_pence"))

    @property
    def ok(self) -> bool:
        """True when everything offered was loaded (nothing rejected, nothing refused)."""
        return not self.rejected and not self.refused

    def problems(self) -> list[str]:
        """Each rejected batch and refused file, named, with its reason (one line each)."""
        return [named(o.source_ref, o.error) for o in self.rejected] + list(self.refused)

    def summary(self) -> str:
        """The operator's summary: counts, exact totals, and each rejection or refusal with its reason."""
        if not self.outcomes and not self.refused:
            return f"{self.force_code}: nothing new to load"
        text = [
            f"{self.force_code}: {len(self.loaded):,} batch{'es' if len(self.loaded) != 1 else ''} loaded, "
            f"{len(self.rejected):,} rejected, {self.batches_superseded:,} superseded; "
            f"{self.lines_loaded:,} lines loaded, {self.lines_quarantined:,} quarantined; "
            f"debit {format_gbp(self.debit_pence, pence_shown=True)}, "
            f"credit {format_gbp(self.credit_pence, pence_shown=True)}"
        ]
        text += [f"  rejected {named(o.source_ref, o.error)}" for o in self.rejected]
        text += [f"  refused {reason}" for reason in self.refused]
        if self.skipped:
            text.append(f"  {len(self.skipped):,} batch(es) skipped: loaded meanwhile by another run")
        return "\n".join(text)

    def to_dict(self) -> dict:
        """Plain JSON (an Airflow XCom), with the headline figures beside the outcomes for a reader."""
        return {
            "force_code": self.force_code,
            "outcomes": [{f: getattr(o, f) for f in _OUTCOME_FIELDS} for o in self.outcomes],
            "refused": list(self.refused),
            "skipped": list(self.skipped),
            "lines_restated": self.lines_restated,
            "stage_seconds": dict(self.stage_seconds),
            "seconds": self.seconds,
            "batches_loaded": len(self.loaded),
            "batches_skipped": len(self.skipped),
            "lines_loaded": self.lines_loaded,
            "lines_quarantined": self.lines_quarantined,
            "debit_pence": self.debit_pence,
            "credit_pence": self.credit_pence,
            "rejected": [{"source_ref": o.source_ref, "error": o.error} for o in self.rejected],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ForceRunResult":
        """The result :meth:`to_dict` gave (the headline figures are derived again, not read)."""
        return cls(force_code=data["force_code"],
                   outcomes=[LoadOutcome(**{f: o[f] for f in _OUTCOME_FIELDS if f in o})
                             for o in data.get("outcomes", [])],
                   refused=list(data.get("refused", [])), skipped=list(data.get("skipped", [])),
                   lines_restated=data.get("lines_restated", 0),
                   stage_seconds=dict(data.get("stage_seconds", {})), seconds=data.get("seconds", 0.0))


def named(source_ref: str, reason: str | None) -> str:
    """``"<file>: <reason>"``, without naming the file twice when the reason already starts with it."""
    reason = reason or "no reason recorded"
    return reason if reason.startswith(source_ref) else f"{source_ref}: {reason}"


def first_line(exc: BaseException) -> str:
    """The first line of an error (of the database's own error for a SQLAlchemy one)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
