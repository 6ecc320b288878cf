"""The Validator: batches in, one verdict per batch out, the outcome applied to each batch.

A call prechecks each batch's shape (``precheck``), groups the rest into chunks within a row budget,
runs every suite once per chunk over the chunk's frame (``frames``, ``gx_project``), attributes the
failing rows back to their batches (``locate``), applies the outcome (``outcome``) and writes the
verdicts and Data Docs (``data_docs``). docs/validation.md says what is checked and why it is fast.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from pathlib import Path
from typing import Iterable, Sequence

from alliance_finance.config.forces import ForceConfig, load_forces
from alliance_finance.core.ledger import Batch
from alliance_finance.core.paths import EXPECTATIONS_DIR
from alliance_finance.validation import data_docs, frames
from alliance_finance.validation.gx_project import GxProject
from alliance_finance.validation.locate import Locator
from alliance_finance.validation.outcome import apply_outcome
from alliance_finance.validation.precheck import precheck
from alliance_finance.validation.results import BatchValidation, CheckFailure
from alliance_finance.validation.suites import CONFORMED, CONTROLS, FORMAT_RULES, rules_by_force

log = logging.getLogger(__name__)

#: rows concatenated into one GX run at most (one batch larger than this runs alone)
DEFAULT_ROW_BUDGET = 1_000_000


class Validator:
    """Validates batches with the suites in ``expectations/``: one GX context for its lifetime.

    ``data_docs_dir`` (the pipeline passes ``var/data_docs``): each GX result is stored as JSON under
    ``data_docs_dir/results/gx/``, each call's verdicts under ``data_docs_dir/results/batches/``,
    and the Data Docs site (``data_docs_dir/index.html``) is brought up to date once at the end of
    every :meth:`validate` call (only that call's pages are rendered, plus the index; pass
    ``build_docs=False`` and call :func:`build_data_docs` once instead, as the consolidation DAG
    does). Without it nothing is written anywhere.

    ``forces`` (default: ``dags/forces.yaml``) say which format's suite and rules each force's
    batches get, and the values of the suites' force-specific expectations. ``gx_patches=False``
    runs Great Expectations without ``gx_compat``'s patches (slower; tests compare the results).

    Use it as a context manager, or call :meth:`close`, to remove its temporary GX project copy.
    """

    def __init__(self, data_docs_dir: Path | None = None, *, row_budget: int = DEFAULT_ROW_BUDGET,
                 build_docs: bool = True, expectations_dir: Path | None = None,
                 forces: Iterable[ForceConfig] | None = None, gx_patches: bool = True):
        if row_budget < 1:
            raise ValueError(f"row_budget must be at least 1, got {row_budget}")
        self.data_docs_dir = Path(data_docs_dir) if data_docs_dir is not None else None
        self.row_budget = row_budget
        self.build_docs = build_docs
        self.expectations_dir = Path(expectations_dir) if expectations_dir is not None else EXPECTATIONS_DIR
        self.forces = tuple(forces) if forces is not None else load_forces()
        self.rules = rules_by_force(self.forces)
        self.gx_patches = gx_patches
        self._project: GxProject | None = None
        #: seconds spent so far starting GX (import and context, once) and publishing results and
        #: Data Docs; the rest of a validate() call is checking (the pipeline reports the stages)
        self.stage_seconds: dict[str, float] = {"gx_start": 0.0, "publish": 0.0}

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary copy of the GX project (the Data Docs and results stay)."""
        if self._project is not None:
            self._project.close()
            self._project = None

    @property
    def project(self) -> GxProject:
        if self._project is None:
            started = time.perf_counter()
            self._project = GxProject(self.expectations_dir, self.data_docs_dir, self.forces,
                                      gx_patches=self.gx_patches)
            self.stage_seconds["gx_start"] += time.perf_counter() - started
        return self._project

    def start(self) -> None:
        """Import Great Expectations and open the context now rather than on the first call that needs
        them (a run starts it while it reads its first deliveries)."""
        self.project  # noqa: B018 - made on first access

    def raw_suite(self, batch: Batch) -> str | None:
        """The suite that checks ``batch.raw``: its force's format's (none for an unknown force)."""
        rules = self.rules.get(batch.force_code)
        return rules.raw_suite if rules is not None else None

    def validate(self, batches: Sequence[Batch]) -> list[BatchValidation]:
        """Validate ``batches`` (many at once is far cheaper than one by one) and apply the outcome.

        Returns one :class:`BatchValidation` per batch, in the same order. Mutates the batches:
        a failing batch is rejected whole, unless its format keeps failures to their documents and
        every failure names one (erp_sql: those journals move whole from ``lines`` to
        ``quarantine``). ``raw`` is dropped.
        """
        batches = list(batches)
        started = dt.datetime.now(dt.timezone.utc)
        results: list[BatchValidation] = []
        candidates: list[int] = []
        for index, batch in enumerate(batches):
            result = BatchValidation(force_code=batch.force_code, source_ref=batch.source_ref, success=False)
            results.append(result)
            if batch.rejected:
                result.error = batch.error
                result.rejected = True
                continue
            raw_suite = self.raw_suite(batch)
            needs_columns = batch.raw is not None and raw_suite is not None
            result.failures.extend(precheck(batch, raw_suite,
                                            self.project.source_columns(raw_suite) if needs_columns else ()))
            if not result.failures:
                candidates.append(index)

        failures_by_index: dict[int, list[CheckFailure]] = {}
        published: list = []
        run_label = _run_label(batches)
        for number, chunk in enumerate(frames.chunks(batches, candidates, self.row_budget), start=1):
            run_name = f"{run_label}-run{number}"
            for index in chunk:
                results[index].run_name = run_name
            self._validate_chunk(batches, chunk, run_name, started, failures_by_index, published)

        for index, batch in enumerate(batches):
            result = results[index]
            if batch.rejected and result.error is not None:
                continue
            result.failures.extend(failures_by_index.get(index, []))
            result.rows_checked = batch.lines.num_rows if batch.lines is not None else 0
            raw_suite = self.raw_suite(batch)
            result.suites = ([raw_suite] if raw_suite and batch.raw is not None else []) + [CONFORMED, CONTROLS]
            apply_outcome(batch, result, self.rules.get(batch.force_code))
            batch.raw = None
            _log_result(result)

        if self.data_docs_dir is not None:
            publishing = time.perf_counter()
            data_docs.write_verdicts(self.data_docs_dir, results, run_label, started)
            if self.build_docs and published:
                self.project.build_data_docs(published)
            self.stage_seconds["publish"] += time.perf_counter() - publishing
        elif published:  # nobody reads them: keep a long backfill's memory flat
            self.project.forget(published)
        return results

    def build_data_docs(self) -> Path | None:
        """Bring the Data Docs site up to date with every stored result: render the pages not yet
        rendered (by any Validator, in any run), the index, and the suites' pages when a suite changed;
        returns ``index.html``.
        Cost follows what is new, not the years of history."""
        if self.data_docs_dir is None:
            return None
        return self.project.build_data_docs(self.project.unrendered_results())

    def _validate_chunk(self, batches: list[Batch], chunk: list[int], run_name: str, started: dt.datetime,
                        failures_by_index: dict[int, list[CheckFailure]], published: list) -> None:
        """One GX run per suite over the chunk's batches; their failures into ``failures_by_index``,
        the stored results' keys into ``published``."""
        project = self.project
        suite_frames = []
        for rules in dict.fromkeys(FORMAT_RULES.values()):
            members = [i for i in chunk if batches[i].raw is not None and self.rules.get(batches[i].force_code) == rules]
            if members:
                table, offsets = frames.raw_frame(rules.raw_suite, [batches[i].raw for i in members], members,
                                                  project.source_columns(rules.raw_suite))
                suite_frames.append((rules.raw_suite, table, members, offsets))
        table, offsets = frames.conformed_frame([batches[i].lines for i in chunk], chunk)
        suite_frames.append((CONFORMED, table, chunk, offsets))
        suite_frames.append((CONTROLS, frames.controls_frame(batches, chunk), chunk, list(range(len(chunk) + 1))))

        for suite, table, members, offsets in suite_frames:
            if table.num_rows == 0:
                continue
            evaluation = project.evaluate(suite, table, run_name, started)
            locator = Locator(suite, table, members, offsets, batches, self.rules)
            for expectation_result in evaluation.failing:
                config = expectation_result.expectation_config
                for index, failure in locator.failures(config, expectation_result,
                                                       evaluation.positions.get(config.id)):
                    failures_by_index.setdefault(index, []).append(failure)
            if self.data_docs_dir is not None:  # stored again, now naming the batches
                locator.annotate(evaluation.suite_result, evaluation.positions)
                project.store(evaluation.key, evaluation.suite_result)
            published.append(evaluation.key)


def build_data_docs(data_docs_dir: Path, *, expectations_dir: Path | None = None,
                    forces: Iterable[ForceConfig] | None = None) -> Path:
    """Bring the Data Docs site in ``data_docs_dir`` up to date with every result stored there by a
    :class:`Validator` (see :meth:`Validator.build_data_docs`); returns the path of ``index.html``.
    Costs one GX import and context."""
    with Validator(data_docs_dir, expectations_dir=expectations_dir, forces=forces) as validator:
        index = validator.build_data_docs()
    assert index is not None
    return index


def _log_result(result: BatchValidation) -> None:
    if result.success:
        log.info("%s", result.summary())
    elif result.error is not None and not result.failures:
        log.info("%s: rejected before validation, not validated", result.source_ref)
    else:
        log.warning("%s", result.summary())


def _run_label(batches: list[Batch]) -> str:
    """A file-name-safe label naming the batches of a call (first .. last source_ref)."""
    if not batches:
        return "empty"
    first, last = batches[0].source_ref, batches[-1].source_ref
    label = first if len(batches) == 1 else f"{first}..{last}-{len(batches)}-batches"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")[:120] or "batches"
