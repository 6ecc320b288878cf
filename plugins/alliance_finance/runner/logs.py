"""How a run logs: one setup shared by the command line and the processes a run starts."""

from __future__ import annotations

import logging

#: libraries whose own progress chatter hides ours: kept for --verbose
NOISY_LOGGERS = ("alembic", "great_expectations", "matplotlib", "PIL")


def configure_logging(*, verbose: bool) -> None:
    """Log lines on stderr (INFO, or DEBUG with ``verbose``)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
