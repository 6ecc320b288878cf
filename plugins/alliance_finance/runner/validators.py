"""The Great Expectations validator a run uses, and where its Data Docs go.

:func:`default_validator` is looked up when a run needs one (a test may put another in its place).
:class:`RunValidator` is the validator of a whole run: made on first use, Data Docs built once at the end.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alliance_finance.config.settings import Settings
from alliance_finance.core.paths import VAR_DIR
from alliance_finance.core.urls import normalise_url
from alliance_finance.runner.result import first_line

_log = logging.getLogger(__name__)


def data_docs_dir(warehouse_url: str, var_dir: Path | None = None) -> Path:
    """Where Data Docs go: beside a SQLite warehouse file, else under ``var_dir`` (default var/)."""
    url = normalise_url(warehouse_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / "data_docs"
    return (var_dir or VAR_DIR) / "data_docs"


def default_validator(warehouse_url: str, var_dir: Path | None = None, settings: Settings | None = None):
    """The Great Expectations validator for a run (one GX context per run); with ``settings``, its
    expectations folder and forces file (ALLIANCE_EXPECTATIONS_DIR, ALLIANCE_FORCES_FILE) are used."""
    # deferred on purpose: Great Expectations takes seconds to import, and a pass with nothing new needs none
    from alliance_finance.validation import Validator

    if settings is None:
        return Validator(data_docs_dir=data_docs_dir(warehouse_url, var_dir))
    return Validator(data_docs_dir=data_docs_dir(warehouse_url, var_dir), expectations_dir=settings.expectations_dir,
                     forces=settings.forces())


class RunValidator:
    """The validator of a whole run, made on first use: one GX context (seconds to start) serves
    every force, and none is started when nothing is new. The Data Docs are brought up to date once,
    when the run closes it, rather than after every group (half a second each)."""

    def __init__(self, warehouse_url: str, var_dir: Path | None = None, settings: Settings | None = None):
        self._warehouse_url = warehouse_url
        self._var_dir = var_dir
        self._settings = settings
        self._validator = None

    @property
    def started(self) -> bool:
        """Whether anything was validated (so results were stored)."""
        return self._validator is not None

    def _make(self):
        return default_validator(self._warehouse_url, self._var_dir, self._settings)  # the module's, looked up now

    def _made(self):
        if self._validator is None:
            self._validator = self._make()
            if hasattr(self._validator, "build_docs"):
                self._validator.build_docs = False
        return self._validator

    def start(self) -> None:
        """Make the validator and start Great Expectations now (a pass that knows it has work calls
        this while its first group is read), not on the first :meth:`validate`."""
        start = getattr(self._made(), "start", None)
        if start is not None:
            start()

    def validate(self, batches):
        return self._made().validate(batches)

    @property
    def stage_seconds(self) -> dict[str, float]:
        return getattr(self._validator, "stage_seconds", {})

    def close(self, *, build_docs: bool | None = None) -> None:
        """Bring the Data Docs up to date and close the GX context. ``build_docs``: by default when
        this validator validated anything; True also builds them for another process's results."""
        if build_docs is None:
            build_docs = self._validator is not None
        if self._validator is None and not build_docs:
            return
        try:
            if build_docs:
                if self._validator is None:
                    if not (data_docs_dir(self._warehouse_url, self._var_dir) / "results" / "gx").is_dir():
                        return
                    self._validator = self._make()
                if hasattr(self._validator, "build_data_docs"):
                    started = time.perf_counter()
                    index = self._validator.build_data_docs()
                    if index is not None:
                        _log.info("Data Docs brought up to date in %.2fs: %s", time.perf_counter() - started, index)
        except Exception as exc:  # noqa: BLE001 - the batches are loaded and their results stored
            _log.error("Data Docs could not be brought up to date (%s); the next run renders the stored "
                       "results", first_line(exc))
        finally:
            if self._validator is not None and hasattr(self._validator, "close"):
                self._validator.close()
