"""One pipeline pass of a force, as the CLI and the DAG tasks run it.

The pass itself is :class:`~alliance_finance.runner.passes.ForcePass`, with the reader of the force's
``source_format`` (:func:`alliance_finance.sources.registry.reader_for`): :func:`run_force` runs one
whole, :func:`force_pass` builds one for a DAG task to run a step at a time.

What is new is the reader's to say (:meth:`~alliance_finance.sources.base.SourceReader.pending`):

- ``sap_files``: every delivery in the force's inbound folder whose data file name is not in
  ``etl_batch``. A processed name whose bytes changed since (SHA-256) is *refused*, loudly: nothing
  is loaded from it and the run fails, naming the file and both digests.
- ``erp_sql``: every posted journal whose id is not in ``source_document_loaded`` (written in the
  same transaction as the journal's lines), so a journal is never read twice nor missed.

Rerunning a pass, or the whole history, changes nothing; loading night by night gives the same
warehouse as loading everything at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alliance_finance.config.forces import force_by_code
from alliance_finance.config.settings import Settings
from alliance_finance.runner.passes import ForcePass
from alliance_finance.runner.result import ForceRunResult
from alliance_finance.sources.base import PendingWork
from alliance_finance.sources.registry import reader_for
from alliance_finance.warehouse.engine import make_engine


def source_settings(sources: Path | None, force_code: str | None = None, source_url: str | None = None) -> Settings:
    """The settings of a run given by its sources folder and, for ``force_code``, its database URL
    (``--source-url``, an Airflow connection), over the environment's defaults."""
    return Settings.from_environment(sources_dir=Path(sources) if sources is not None else None,
                                     source_urls={force_code: source_url} if source_url and force_code else {})


def pending_deliveries(force_code: str, sources: Path | None, warehouse_url: str,
                       source_url: str | None = None, *, settings: Settings | None = None) -> PendingWork:
    """What a run of ``force_code`` would process now; refuses processed files whose bytes changed.

    A file format lists the unprocessed deliveries by name. A database format cannot know its new
    journals without reading the source, so it names the extract instead.
    """
    settings = settings or source_settings(sources, force_code, source_url)
    reader = reader_for(settings.force(force_code), settings)
    engine = make_engine(warehouse_url)
    try:
        return reader.pending(engine)
    finally:
        reader.close()
        engine.dispose()


def force_pass(force_code: str, settings: Settings, **options) -> ForcePass:
    """The pass of ``force_code`` over ``settings``, with the reader of its source format; ``options``
    as for :class:`~alliance_finance.runner.passes.ForcePass` (validator, log, lock_wait_seconds)."""
    force = force_by_code(force_code, settings.forces_file)
    return ForcePass(force, settings, reader_for(force, settings), **options)


def run_force(force_code: str, *, settings: Settings | None = None, sources: Path | None = None,
              warehouse_url: str | None = None, source_url: str | None = None, validator=None,
              log: logging.Logger | None = None, reference_dir: Path | None = None,
              lock_wait_seconds: float | None = None) -> ForceRunResult:
    """One pass for one force: prepare the warehouse, then load everything new under the force's lock.

    ``settings`` says where everything is; without it, one is built from the environment with
    ``sources``, ``warehouse_url``, ``source_url`` (this force's source database) and
    ``reference_dir`` in place. See :meth:`~alliance_finance.runner.passes.ForcePass.run`.
    """
    if settings is None:
        overrides: dict = {"sources_dir": sources, "warehouse": warehouse_url,
                           "source_urls": {force_code: source_url} if source_url else {}}
        if reference_dir is not None:
            overrides["reference_dir"] = reference_dir
        settings = Settings.from_environment(**overrides)
    return force_pass(force_code, settings, validator=validator, log=log, lock_wait_seconds=lock_wait_seconds).run()
