"""The project's exceptions. Each message names the file, line or journal, what was expected and what was found."""

from __future__ import annotations


class AllianceFinanceError(Exception):
    """Base of every error this package raises on purpose."""


class DeliveryRejected(AllianceFinanceError):
    """A delivery (file or extract) failed a check and is rejected whole; the warehouse is untouched."""

    def __init__(self, source_ref: str, reason: str):
        self.source_ref = source_ref
        self.reason = reason
        super().__init__(f"{source_ref}: {reason}")


class SourceSchemaError(AllianceFinanceError):
    """A source is not shaped as SOURCES.md says (a table or column missing): the whole extract fails."""


class ProcessedFileChanged(AllianceFinanceError):
    """A delivery already processed has different bytes now: refused loudly, never reloaded quietly."""


class ConcurrentRunError(AllianceFinanceError):
    """Another run holds the load lock for this force."""


class NotYetImplemented(AllianceFinanceError):
    """A subcommand that a later issue fills in."""


class TransientError(AllianceFinanceError):
    """A failure that another try may cure: the warehouse or a source database unreachable.

    The Airflow tasks retry only these (and a held load lock); a rejected delivery is never retried.
    """
