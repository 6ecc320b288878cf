"""``alliance-finance run``: one pass of each force (or of one), a summary printed per force.

Exit 0 when everything offered was loaded; 1 when any batch was rejected, a file refused, or a run
failed (the message names the file or journal and the reason). URLs are always masked.
"""

from __future__ import annotations

import logging
import sys

from alliance_finance.config.settings import Settings
from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.core.urls import mask_secrets, mask_url
from alliance_finance.runner import pipeline, prepare
from alliance_finance.runner.parallel import run_side_by_side
from alliance_finance.runner.result import first_line
from alliance_finance.runner.validators import RunValidator
from alliance_finance.warehouse import migrate

_log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED = 0, 1


def run_cli(settings: Settings, force: str | None = None, *, parallel: bool = False) -> int:
    """Migrate, then run every configured force in order (or the one ``force``), printing a summary per force.

    Without a sources folder, only the forces given a source URL run. ``parallel``: the forces at the
    same time, each in a process of its own, as their DAGs run in production
    (:func:`~alliance_finance.runner.parallel.run_side_by_side`).
    """
    warehouse_url = settings.warehouse_url
    secrets = _urls(settings)
    sources = settings.sources_dir
    if sources is not None and not sources.is_dir():
        print(f"alliance-finance run: the sources folder {sources} does not exist", file=sys.stderr)
        return EXIT_FAILED
    codes = [f.code for f in settings.forces()]
    forces = [force] if force else (codes if sources is not None else [c for c in codes if c in settings.source_urls])
    try:
        revision = migrate.upgrade(warehouse_url)
    except Exception as exc:  # noqa: BLE001 - reported, masked, as a failed run
        print(f"alliance-finance run: warehouse {mask_url(warehouse_url)} could not be brought up to date: "
              f"{mask_secrets(first_line(exc), secrets)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"warehouse {mask_url(warehouse_url)} at revision {revision}", flush=True)
    if parallel and len(forces) > 1:
        exit_code = run_side_by_side(forces, settings, run_and_report)
    else:
        exit_code = EXIT_OK
        validator = RunValidator(warehouse_url, settings.var_dir, settings)  # one Great Expectations context for every force
        try:
            for force_code in forces:
                exit_code = max(exit_code, run_and_report(force_code, settings, validator))
        finally:
            validator.close()
    try:
        # the baseline lines this run loaded give their shape to budgets without a profile
        prepare.refresh_budget_summary(warehouse_url)
    except Exception as exc:  # noqa: BLE001 - reported, masked, as a failed run
        print(f"alliance-finance run: the budget summary could not be refreshed: "
              f"{mask_secrets(first_line(exc), secrets)}", file=sys.stderr)
        return EXIT_FAILED
    return exit_code


def run_and_report(force_code: str, settings: Settings, validator) -> int:
    """One force's pass for the command line: its summary printed, 0 if everything offered was
    loaded, else 1 (a failure is printed, masked, and does not stop the other forces)."""
    secrets = _urls(settings)
    try:
        result = pipeline.run_force(force_code, settings=settings, validator=validator)
    except Exception as exc:  # noqa: BLE001 - one force failing does not stop the others
        if not isinstance(exc, AllianceFinanceError):
            _log.debug("run of %s failed", force_code, exc_info=True)
        print(f"{force_code}: run failed: {mask_secrets(first_line(exc), secrets)}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    print(mask_secrets(result.summary(), secrets), flush=True)
    return EXIT_OK if result.ok else EXIT_FAILED


def _urls(settings: Settings) -> list[str]:
    return [settings.warehouse_url, *settings.source_urls.values()]
