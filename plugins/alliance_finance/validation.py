"""Validation: every batch checked by the Great Expectations suites in ``expectations/`` before it loads.

What is checked (the suites are reviewable JSON in ``expectations/gx/expectations/``; see
``expectations/README.md`` and ``docs/validation.md``):

- ``asc_sap_raw``: the ASC CSV columns as read (text): the 15 columns in order, required values,
  formats (company code, fiscal year, period, document number, line item, document type, dates
  ``DD.MM.YYYY``, cost centre, GL account, amount, D/C, text length);
- ``wp_erp_raw``: the WP journal lines as read (text): period name, account string, status ``P``,
  source, amounts, exactly one of debit and credit;
- ``conformed_ledger_line``: the conformed lines of every source: period 1-16, posting date inside
  its fiscal period, integer pence, ``source_line_ref`` unique in its batch, force code, a cost
  centre on every revenue line, and every document balancing. Rules across columns or lines are
  expressed through columns this module derives in pyarrow (``posting_date_agrees``,
  ``revenue_line_has_cost_centre``, ``document_net_pence``) and that the suite expects;
- ``batch_controls``: one row per batch with the control totals and row accounting summed here in
  pyarrow (rows read = lines + quarantined, one raw row per line, debit/credit totals against the
  lines and against the ASC control file), compared by the suite.

Every failure, whichever suite found it, comes back in one shape (:class:`CheckFailure`) inside the
batch's :class:`BatchValidation`, and into the Data Docs and the result JSON.

Outcome (docs/contracts.md): a failing ASC batch is rejected whole (``batch.reject(summary)``). In a
WP batch, a failing line's whole journal moves into ``batch.quarantine`` (reason: the failed
expectation and what was found; original: the raw row as JSON) and leaves ``batch.lines``, so row
accounting still holds; a WP failure that names no journal (a control total, the columns) rejects
the batch whole. Batches rejected before validation are not validated again: their result carries
the reader's error. ``batch.raw`` is dropped once validated (ledger.Batch keeps memory bounded).

How it stays fast over five years of deliveries
-----------------------------------------------
- Great Expectations is imported (8 s or more) and its context built (a copy of ``expectations/gx``
  in a private temporary folder, so nothing is written into the repository) once per
  :class:`Validator`, lazily, on the first call that needs it.
- Many batches are validated in ONE GX run per suite: their tables are concatenated (pyarrow, then
  one pandas DataFrame with pyarrow-backed dtypes) with a ``batch_index`` column, and failures are
  attributed back to the batches by row position. Concatenation stops at ``row_budget`` rows
  (default 1,000,000) to bound memory; a bigger call makes several runs.
- The checkpoints ask for ``SUMMARY`` results, and failing rows are located through the frame's
  positional index, not through ``unexpected_index_column_names``. Measured with GX 1.24.1: GX
  builds an ``unexpected_index_column_names`` list with one ``DataFrame.at`` per failing row,
  even for SUMMARY (it slices afterwards), which costs about 220 µs per failing row (20,000 failing
  rows: 8.9 s; a whole 1M-row frame failing one regex: 169 s); serialising a COMPLETE result into
  the results store costs about 29 µs per failing row. With the positional index a SUMMARY run
  costs the same whether 0 or 1M rows fail (0.7 s for 1M rows), and only when an expectation fails
  on more rows than the 20 samples is it run again, alone, with ``Batch.validate`` (COMPLETE, not
  stored): 0.36 s for 1M failing rows.
- ``expect_column_values_to_match_strftime_format`` (``%d.%m.%Y``) takes 6.0 s per 1M rows (one
  ``strptime`` per value) where the equivalent regex takes 0.3 s: the suites use regexes
  (``[0-9]``, never ``\\d``, which in Python also matches other scripts' digits); whether the date
  is a real day (31.02) is the reader's check.
- ``expect_column_values_to_be_between`` compares pyarrow-backed integers one value at a time in
  Python (3.6 s per 1M rows): the period is checked with ``expect_column_values_to_be_in_set``.
- GX hashes every row of each frame under 1 GB only to record a fingerprint in the result (4.6 s
  of 16 s for 1M ASC lines); :func:`_skip_frame_fingerprint` turns that off.

Measured (2 shared cores, GX 1.24.1, pandas 3.1, pyarrow 26; see docs/validation.md):

- per-batch overhead: one 200-line ASC batch alone takes 0.85 s (2.8 s with the machine loaded);
  500 such batches in one call take 1.9 s (4.7 s loaded), 3.8 ms a batch: group batches per call;
- throughput: 1,000,000 ASC lines (five 200k batches, all four suites) in 5.4-5.8 s, about
  175,000 lines a second; 1,000,000 WP lines in 4.2-8.3 s; a million ASC lines of which 100,000
  fail a check (attributed row by row) in 4.7-6.8 s;
- Data Docs: building after a call adds about 0.3 s (that call's pages and the index; the suite
  pages once per context); a full rebuild takes 0.6-1.6 s (more as results accumulate); importing GX and opening the context
  8 s idle, 14-25 s on a loaded machine, once per Validator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch, QuarantinedLine
from alliance_finance.core.money import format_pence, parse_amount_to_pence
from alliance_finance.core.paths import EXPECTATIONS_DIR

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

#: The suites, and the checkpoint and validation definition of the same name, in expectations/gx.
ASC_RAW, WP_RAW, CONFORMED, CONTROLS = "asc_sap_raw", "wp_erp_raw", "conformed_ledger_line", "batch_controls"
SUITES = (ASC_RAW, WP_RAW, CONFORMED, CONTROLS)

#: the raw-format suite of each force's reader
RAW_SUITE_OF_FORCE = {"ASC": ASC_RAW, "WP": WP_RAW}

#: columns this module adds to each suite's frame (they follow the source's own columns)
PIPELINE_COLUMNS = {
    ASC_RAW: ("source_line_number", "batch_index"),
    WP_RAW: ("source_line_number", "batch_index", "entered_sides"),
    CONFORMED: ("batch_index", "posting_date_agrees", "revenue_line_has_cost_centre", "document_net_pence"),
}

#: rows concatenated into one GX run at most (one batch larger than this runs alone)
DEFAULT_ROW_BUDGET = 1_000_000

#: failing rows shown per failure and batch
SAMPLE_ROWS = 5

_COLUMNS_EXPECTATION = "expect_table_columns_to_match_ordered_list"
_TYPE_EXPECTATION = "expect_column_values_to_be_of_type"
_ORIGINAL_ID = "alliance_expectation_id"


# --------------------------------------------------------------------------------------------
# results


@dataclasses.dataclass
class CheckFailure:
    """One failed check on one batch: an expectation of a suite, or a check run before the suites.

    ``samples`` are up to :data:`SAMPLE_ROWS` failing rows: ``source_line_number`` (ASC the line in
    the file, WP the journal's line_no), ``document_ref`` (the document or WP journal) where known,
    and ``values``, the row's values in the columns the check reads. ``documents`` lists the
    documents (WP: journals) the failing rows belong to, in order of first failure; a failure with
    ``batch_level`` set names no row (a control total, the columns) and rejects the batch whole.
    """

    suite: str
    check: str
    column: str | None
    expected: str
    unexpected_count: int
    found: str
    samples: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    documents: list[str] = dataclasses.field(default_factory=list)
    batch_level: bool = False
    #: WP: per journal, its first failing line as text (the journal's quarantine reason)
    found_by_document: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """One line for an operator: suite, check, column, what was expected and what was found."""
        on = f" on {self.column}" if self.column else ""
        return f"{self.suite}: {self.check}{on}: expected {self.expected}; found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; ``documents`` is cut to the first 20 (``document_count`` says how many)."""
        return {
            "suite": self.suite,
            "check": self.check,
            "column": self.column,
            "expected": self.expected,
            "unexpected_count": self.unexpected_count,
            "found": self.found,
            "samples": self.samples,
            "documents": self.documents[:20],
            "document_count": len(self.documents),
            "batch_level": self.batch_level,
        }


@dataclasses.dataclass
class BatchValidation:
    """The verdict on one batch, in the order the batches were given to :meth:`Validator.validate`.

    ``success`` is true only when every check passed. A WP batch whose failures all name journals
    is not rejected: those journals are in ``quarantined_documents`` (and ``batch.quarantine``) and
    the rest of the batch loads. ``error`` is the reader's reason for a batch that arrived rejected.
    """

    force_code: str
    source_ref: str
    success: bool
    failures: list[CheckFailure] = dataclasses.field(default_factory=list)
    rows_checked: int = 0
    suites: list[str] = dataclasses.field(default_factory=list)
    rejected: bool = False
    quarantined_documents: list[str] = dataclasses.field(default_factory=list)
    lines_quarantined: int = 0
    error: str | None = None
    run_name: str | None = None

    def summary(self) -> str:
        """The operator's text for ``etl_batch.error`` and the log: names the file or journal, the
        lines, what was expected and what was found."""
        if self.error is not None and not self.failures:
            return self.error
        if self.success:
            return (f"{self.source_ref}: passed validation ({self.rows_checked} lines; "
                    f"{', '.join(self.suites)})")
        failed = f"{len(self.failures)} check{'s' if len(self.failures) != 1 else ''} failed"
        if self.rejected:
            head = f"{self.source_ref}: rejected whole by validation, {failed}:"
        else:
            journals = len(self.quarantined_documents)
            head = (f"{self.source_ref}: {journals} journal{'s' if journals != 1 else ''} "
                    f"({self.lines_quarantined} line{'s' if self.lines_quarantined != 1 else ''}) "
                    f"quarantined whole by validation, the rest passed; {failed}:")
        return "\n".join([head] + [f"  - {failure.describe()}" for failure in self.failures])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the run's result file and the logs."""
        return {
            "force_code": self.force_code,
            "source_ref": self.source_ref,
            "success": self.success,
            "rejected": self.rejected,
            "rows_checked": self.rows_checked,
            "suites": self.suites,
            "failures": [failure.to_dict() for failure in self.failures],
            "quarantined_documents": self.quarantined_documents,
            "lines_quarantined": self.lines_quarantined,
            "error": self.error,
            "run_name": self.run_name,
            "summary": self.summary(),
        }


# --------------------------------------------------------------------------------------------
# the validator


class Validator:
    """Validates batches with the suites in ``expectations/``: one GX context for its lifetime.

    ``data_docs_dir`` (the pipeline passes ``var/data_docs``): each GX result is stored as JSON under
    ``data_docs_dir/results/gx/``, each call's verdicts under ``data_docs_dir/results/batches/``,
    and the Data Docs site (``data_docs_dir/index.html``) is brought up to date once at the end of
    every :meth:`validate` call (only that call's pages are rendered, plus the index; pass
    ``build_docs=False`` and call :func:`build_data_docs` once instead, as the consolidation DAG
    does). Without it nothing is written anywhere.

    Use it as a context manager, or call :meth:`close`, to remove its temporary GX project copy.
    """

    def __init__(self, data_docs_dir: Path | None = None, *, row_budget: int = DEFAULT_ROW_BUDGET,
                 build_docs: bool = True, expectations_dir: Path | None = None):
        if row_budget < 1:
            raise ValueError(f"row_budget must be at least 1, got {row_budget}")
        self.data_docs_dir = Path(data_docs_dir) if data_docs_dir is not None else None
        self.row_budget = row_budget
        self.build_docs = build_docs
        self.expectations_dir = Path(expectations_dir) if expectations_dir is not None else EXPECTATIONS_DIR
        self._project: _GxProject | None = None
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
    def project(self) -> _GxProject:
        if self._project is None:
            started = time.perf_counter()
            self._project = _GxProject(self.expectations_dir, self.data_docs_dir)
            self.stage_seconds["gx_start"] += time.perf_counter() - started
        return self._project

    def validate(self, batches: Sequence[Batch]) -> list[BatchValidation]:
        """Validate ``batches`` (many at once is far cheaper than one by one) and apply the outcome.

        Returns one :class:`BatchValidation` per batch, in the same order. Mutates the batches:
        a failing ASC batch (and any batch whose failure names no line) is rejected whole; a
        failing WP journal moves whole from ``lines`` to ``quarantine``. ``raw`` is dropped.
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
            result.failures.extend(self._precheck(batch))
            if not result.failures:
                candidates.append(index)

        failures_by_index: dict[int, list[CheckFailure]] = {}
        published: list[Any] = []
        run_label = _run_label(batches)
        for number, chunk in enumerate(_chunks(batches, candidates, self.row_budget), start=1):
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
            raw_suite = RAW_SUITE_OF_FORCE.get(batch.force_code)
            result.suites = ([raw_suite] if raw_suite and batch.raw is not None else []) + [CONFORMED, CONTROLS]
            _apply_outcome(batch, result)
            batch.raw = None
            _log_result(result)

        if self.data_docs_dir is not None:
            publishing = time.perf_counter()
            self._publish(results, run_label, started, published)
            self.stage_seconds["publish"] += time.perf_counter() - publishing
        elif published:  # nobody reads them: keep a long backfill's memory flat
            store = self.project.context.validation_results_store
            for key, _ in published:
                store.remove_key(key)
        return results

    def build_data_docs(self) -> Path | None:
        """Bring the Data Docs site up to date with every stored result: render the pages not yet
        rendered (by any Validator, in any run), the suites and the index; returns ``index.html``.
        Cost follows what is new, not the years of history."""
        if self.data_docs_dir is None:
            return None
        return self.project.build_data_docs(self.project.unrendered_results(), suites=True)

    # -- before the suites: each batch's shape, which a concatenated frame cannot show -----------

    def _precheck(self, batch: Batch) -> list[CheckFailure]:
        """The batch's columns and types against the contract: a batch that fails here cannot join
        the shared frame, and its failure names no line (it is rejected whole)."""
        failures: list[CheckFailure] = []
        lines = batch.lines
        if lines is None:
            return [_batch_failure(CONFORMED, _COLUMNS_EXPECTATION, None,
                                   "the conformed columns of ledger.CONFORMED_SCHEMA", "no lines table")]
        if lines.schema.names != CONFORMED_SCHEMA.names:
            failures.append(_batch_failure(
                CONFORMED, _COLUMNS_EXPECTATION, None,
                f"the columns of ledger.CONFORMED_SCHEMA in order: {', '.join(CONFORMED_SCHEMA.names)}",
                f"columns {', '.join(lines.schema.names)}"))
        else:
            for field in CONFORMED_SCHEMA:
                found = lines.schema.field(field.name).type
                if not _same_type(found, field.type):
                    failures.append(_batch_failure(CONFORMED, _TYPE_EXPECTATION, field.name,
                                                   f"type {field.type}", f"type {found}"))
        raw_suite = RAW_SUITE_OF_FORCE.get(batch.force_code)
        if batch.raw is not None and raw_suite is not None:
            expected = list(self.project.source_columns(raw_suite)) + ["source_line_number"]
            found = batch.raw.schema.names
            if found != expected:
                failures.append(_batch_failure(
                    raw_suite, _COLUMNS_EXPECTATION, None,
                    f"the source's columns in order, then source_line_number: {', '.join(expected)}",
                    f"columns {', '.join(found)}"))
            else:
                for name in expected[:-1]:
                    found_type = batch.raw.schema.field(name).type
                    if not (pa.types.is_string(found_type) or pa.types.is_large_string(found_type)):
                        failures.append(_batch_failure(raw_suite, _TYPE_EXPECTATION, name,
                                                       "text, as read", f"type {found_type}"))
                if not pa.types.is_integer(batch.raw.schema.field("source_line_number").type):
                    failures.append(_batch_failure(raw_suite, _TYPE_EXPECTATION, "source_line_number",
                                                   "an integer line number",
                                                   f"type {batch.raw.schema.field('source_line_number').type}"))
        return failures

    # -- one GX run per suite over a chunk of batches ---------------------------------------------

    def _validate_chunk(self, batches: list[Batch], chunk: list[int], run_name: str, started: dt.datetime,
                        failures_by_index: dict[int, list[CheckFailure]], published: list) -> None:
        project = self.project
        frames: list[tuple[str, pa.Table, list[int], list[int]]] = []
        for force_code, suite in RAW_SUITE_OF_FORCE.items():
            members = [i for i in chunk if batches[i].force_code == force_code and batches[i].raw is not None]
            if members:
                table, offsets = _raw_frame(suite, [batches[i].raw for i in members], members,
                                            project.source_columns(suite))
                frames.append((suite, table, members, offsets))
        table, offsets = _conformed_frame([batches[i].lines for i in chunk], chunk)
        frames.append((CONFORMED, table, chunk, offsets))
        frames.append((CONTROLS, _controls_frame(batches, chunk), chunk, list(range(len(chunk) + 1))))

        for suite, table, members, offsets in frames:
            if table.num_rows == 0:
                continue
            key, suite_result, failures = project.run(suite, table, members, offsets, batches, run_name, started)
            for index, failure in failures:
                failures_by_index.setdefault(index, []).append(failure)
            published.append((key, suite_result))

    # -- results on disk ----------------------------------------------------------------------------

    def _publish(self, results: list[BatchValidation], run_label: str, started: dt.datetime,
                 published: list) -> None:
        assert self.data_docs_dir is not None
        folder = self.data_docs_dir / "results" / "batches"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{started:%Y%m%dT%H%M%S%f}Z-{run_label}.json"
        document = {"validated_at": started.isoformat(), "batches": [r.to_dict() for r in results]}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        tmp.replace(path)
        if self.build_docs and published:
            self.project.build_data_docs([key for key, _ in published])


def build_data_docs(data_docs_dir: Path, *, expectations_dir: Path | None = None) -> Path:
    """Bring the Data Docs site in ``data_docs_dir`` up to date with every result stored there by a
    :class:`Validator` (see :meth:`Validator.build_data_docs`); returns the path of ``index.html``.
    Costs one GX import and context."""
    with Validator(data_docs_dir, expectations_dir=expectations_dir) as validator:
        index = validator.build_data_docs()
    assert index is not None
    return index


# --------------------------------------------------------------------------------------------
# the GX project


class _GxProject:
    """The GX context for one Validator: a private copy of ``expectations/gx`` whose results store
    and Data Docs site point at ``data_docs_dir`` (or stay in memory without one)."""

    def __init__(self, expectations_dir: Path, data_docs_dir: Path | None):
        gx_log = logging.getLogger("great_expectations")
        if gx_log.level == logging.NOTSET:
            # GX logs hundreds of INFO lines about its own internals per run; an operator who wants
            # them sets the level explicitly
            gx_log.setLevel(logging.WARNING)
        import great_expectations as gx
        import yaml

        source = expectations_dir / "gx"
        if not (source / "great_expectations.yml").is_file():
            raise FileNotFoundError(f"{source / 'great_expectations.yml'}: the Great Expectations "
                                    f"project is missing (expected expectations/gx/ with its suites)")
        self._tmp = tempfile.TemporaryDirectory(prefix="alliance-gx-")
        root = Path(self._tmp.name) / "gx"
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("uncommitted", ".ge_store_backend_id"))
        config_path = root / "great_expectations.yml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        self.data_docs_dir = data_docs_dir
        if data_docs_dir is not None:
            data_docs_dir = Path(data_docs_dir).resolve()
            config["stores"]["validation_results_store"]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir / "results" / "gx"),
            }
            config["data_docs_sites"]["local_site"]["store_backend"]["base_directory"] = str(data_docs_dir)
        else:
            config["stores"]["validation_results_store"]["store_backend"] = {"class_name": "InMemoryStoreBackend"}
            config["data_docs_sites"] = {}
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

        _skip_frame_fingerprint()
        _narrow_column_domains()
        self._gx = gx
        self.context = gx.get_context(context_root_dir=str(root))
        self.checkpoints = {name: self.context.checkpoints.get(name) for name in SUITES}
        self.suites = {name: checkpoint.validation_definitions[0].suite
                       for name, checkpoint in self.checkpoints.items()}
        self.batch_definitions = {name: checkpoint.validation_definitions[0].batch_definition
                                  for name, checkpoint in self.checkpoints.items()}
        self._suite_pages_built = False
        self._source_columns: dict[str, tuple[str, ...]] = {}

    def close(self) -> None:
        self._tmp.cleanup()

    def source_columns(self, suite: str) -> tuple[str, ...]:
        """The source's own columns, in order, as the suite's column-list expectation names them."""
        if suite not in self._source_columns:
            for expectation in self.suites[suite].expectations:
                config = expectation.configuration
                if config.type == _COLUMNS_EXPECTATION:
                    self._source_columns[suite] = tuple(
                        c for c in config.kwargs["column_list"] if c not in PIPELINE_COLUMNS.get(suite, ()))
                    break
            else:
                raise ValueError(f"suite {suite} has no {_COLUMNS_EXPECTATION} expectation")
        return self._source_columns[suite]

    def run(self, suite: str, table: pa.Table, members: list[int], offsets: list[int], batches: list[Batch],
            run_name: str, started: dt.datetime):
        """Run the suite's checkpoint over ``table`` (the members' rows, back to back at
        ``offsets``); returns (result key, suite result, [(batch index, CheckFailure)])."""
        import pandas as pd
        from great_expectations.core.run_identifier import RunIdentifier

        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
        run_id = RunIdentifier(run_name=run_name, run_time=started)
        checkpoint_result = self.checkpoints[suite].run(batch_parameters={"dataframe": frame}, run_id=run_id)
        (key, suite_result), = checkpoint_result.run_results.items()

        failing = [r for r in suite_result.results if not r.success]
        positions = self._failing_positions(suite, frame, failing)
        attributed: list[tuple[int, CheckFailure]] = []
        locator = _Locator(suite, table, members, offsets, batches)
        for expectation_result in failing:
            config = expectation_result.expectation_config
            attributed.extend(locator.failures(config, expectation_result, positions.get(config.id)))
        if self.data_docs_dir is not None:  # stored again, now naming the batches (~0.1 s a run)
            locator.annotate(suite_result, positions)
            self.context.validation_results_store.set(key, suite_result)
        return key, suite_result, attributed

    def _failing_positions(self, suite: str, frame, failing) -> dict[str, np.ndarray]:
        """Every failing row's position, per expectation id: the SUMMARY samples when they are all
        of them, else one more run of just those expectations with COMPLETE results (not stored)."""
        import numpy as np

        positions: dict[str, np.ndarray] = {}
        rerun = []
        for expectation_result in failing:
            result = expectation_result.result or {}
            if _raised(expectation_result) or "unexpected_count" not in result:
                continue
            sample = result.get("partial_unexpected_index_list") or []
            if len(sample) >= int(result["unexpected_count"] or 0):
                positions[expectation_result.expectation_config.id] = np.asarray(sample, dtype=np.int64)
            else:
                rerun.append(expectation_result.expectation_config)
        if rerun:
            gx = self._gx
            batch = self.batch_definitions[suite].get_batch(batch_parameters={"dataframe": frame})
            copies = []
            for config in rerun:
                copy = config.to_domain_obj()
                copy.id = None  # GX refuses an expectation that belongs to another suite
                copy.meta = {**(copy.meta or {}), _ORIGINAL_ID: config.id}
                copies.append(copy)
            complete = batch.validate(gx.ExpectationSuite(name=f"{suite}__failing_rows", expectations=copies),
                                      result_format={"result_format": "COMPLETE"})
            for expectation_result in complete.results:
                expectation_id = expectation_result.expectation_config.meta[_ORIGINAL_ID]
                indices = (expectation_result.result or {}).get("unexpected_index_list") or []
                positions[expectation_id] = np.asarray(indices, dtype=np.int64)
        return positions

    def build_data_docs(self, result_keys: list, *, suites: bool = False) -> Path:
        """Render ``result_keys``' pages, the suites' pages (the first time, or when asked) and the
        index (always: it lists every stored result, the latest 500 of them)."""
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        assert self.data_docs_dir is not None
        identifiers = list(result_keys)
        if suites or not self._suite_pages_built:  # the suites do not change while this context lives
            identifiers += [ExpectationSuiteIdentifier(name=name) for name in SUITES]
        # an empty list would mean "everything" to GX: a key nothing matches renders only the index
        self.context.build_data_docs(site_names=["local_site"],
                                     resource_identifiers=identifiers or [ExpectationSuiteIdentifier(name="-")])
        self._suite_pages_built = True
        return Path(self.data_docs_dir).resolve() / "index.html"

    def unrendered_results(self) -> list:
        """The stored results that have no Data Docs page yet."""
        assert self.data_docs_dir is not None
        pages = Path(self.data_docs_dir).resolve() / "validations"
        missing = []
        for key in self.context.validation_results_store.list_keys():
            *folders, name = key.to_tuple()
            if not pages.joinpath(*folders, f"{name}.html").is_file():
                missing.append(key)
        return missing


def _skip_frame_fingerprint() -> None:
    """Stop GX hashing every row of every frame it validates.

    GX 1.24 fingerprints a DataFrame under 1 GB (``pandas.util.hash_pandas_object`` over every
    column, which converts pyarrow strings to Python objects) only to record it in the result's
    ``batch_markers``; nothing validates against it. Measured: 4.6 s of 16 s for a million ASC
    lines. A threshold of 0 turns that bookkeeping off; nothing else changes.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


def _narrow_column_domains() -> None:
    """Let Great Expectations filter one column, not the whole frame, for a column's expectation.

    GX 1.24's pandas engine hands every column metric the whole frame (``get_domain_records``) and
    then drops the rows where the column is empty with ``df[df[column].notnull()]``: a copy of every
    column, done four times per expectation (the condition, the count, the values, the index). On a
    column with empty values (ASC's cost centre, Wiltshire's debit and credit) that copy was the
    largest single cost of validating: 4.5 s of CPU in a 2-million-line run. A column's metrics read
    only that column (and the frame's index, which is kept), so its domain is narrowed to
    ``frame[[column]]`` after any row condition is applied. Only ``unexpected_index_column_names``
    would read other columns, and this project never asks for it (failing rows are found by
    position). Checked on every GX upgrade by the validation tests, which compare each failing row.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    engine = pandas_execution_engine.PandasExecutionEngine
    original = engine.get_domain_records
    if getattr(original, "_alliance_narrowed", False):
        return

    def get_domain_records(self, domain_kwargs: dict):
        data = original(self, domain_kwargs)
        column = domain_kwargs.get("column")
        if column is not None and column in data.columns:
            return data[[column]]
        return data

    get_domain_records._alliance_narrowed = True  # type: ignore[attr-defined]
    engine.get_domain_records = get_domain_records


def _raised(expectation_result) -> bool:
    info = expectation_result.exception_info or {}
    if "raised_exception" in info:
        return bool(info.get("raised_exception"))
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _exception_message(expectation_result) -> str:
    info = expectation_result.exception_info or {}
    if "exception_message" in info:
        return str(info.get("exception_message"))
    return "; ".join(str(v.get("exception_message")) for v in info.values() if isinstance(v, dict))


# --------------------------------------------------------------------------------------------
# failing rows back to their batches


class _Locator:
    """Turns one suite's failing rows (positions in the shared frame) into per-batch failures."""

    def __init__(self, suite: str, table: pa.Table, members: list[int], offsets: list[int],
                 batches: list[Batch]):
        self.suite = suite
        self.table = table
        self.members = members
        self.offsets = offsets
        self.batches = batches

    def failures(self, config, expectation_result, positions) -> list[tuple[int, CheckFailure]]:
        import numpy as np

        meta = config.meta or {}
        expected = meta.get("expected") or f"{config.type} {_kwargs_text(config.kwargs)}"
        column = _column_of(config.kwargs)
        result = expectation_result.result or {}

        if _raised(expectation_result):
            found = f"the check could not run: {_exception_message(expectation_result)}"
            return [(i, _batch_failure(self.suite, config.type, column, expected, found)) for i in self.members]
        if positions is None:  # a whole-table expectation: it cannot say which batch, so all fail
            observed = result.get("observed_value")
            found = f"{observed!r}" if observed is not None else "a failure that names no row"
            return [(i, _batch_failure(self.suite, config.type, column, expected, found)) for i in self.members]

        positions = np.sort(positions)
        slots = np.searchsorted(np.asarray(self.offsets[1:], dtype=np.int64), positions, side="right")
        shown = _shown_columns(config, self.table)
        failures = []
        for slot in np.unique(slots):
            batch_positions = positions[slots == slot]
            index = self.members[int(slot)]
            failures.append((index, self._failure(config, column, expected, shown, index, batch_positions)))
        return failures

    def _failure(self, config, column, expected, shown, index, positions) -> CheckFailure:
        count = len(positions)
        if self.suite == CONTROLS:
            row = self.table.slice(int(positions[0]), 1).to_pylist()[0]
            values = {name: row[name] for name in shown}
            found = ", ".join(f"{name}={_show(name, value)}" for name, value in values.items())
            return CheckFailure(self.suite, config.type, column, expected, count, found,
                                samples=[{"values": _jsonable(values)}], batch_level=True)
        documents, first_rows, unattributed = self._documents(positions)
        rows = self.table.take(pa.array(positions[:SAMPLE_ROWS]))
        samples = [self._sample(row, shown) for row in rows.to_pylist()]
        more = f" (and {count - len(samples)} more)" if count > len(samples) else ""
        noun = "line" if count == 1 else "lines"
        found = (f"{count} {noun}: " + "; ".join(_sample_text(s) for s in samples) + more)
        failure = CheckFailure(self.suite, config.type, column, expected, count, found, samples=samples,
                               documents=documents, batch_level=unattributed)
        if self.batches[index].force_code == "WP" and first_rows:
            # what each journal's own first failing line shows: its quarantine reason
            rows = self.table.take(pa.array(first_rows)).to_pylist()
            failure.found_by_document = {d: _sample_text(self._sample(row, shown))
                                         for d, row in zip(documents, rows)}
        return failure

    def _documents(self, positions) -> tuple[list[str], list[int], bool]:
        """The documents (WP journals) of the failing rows in order of first failure, the position
        of each one's first failing row, and whether some failing row names none (then the failure
        cannot be kept to its journals)."""
        name = {WP_RAW: "journal_id", CONFORMED: "document_ref"}.get(self.suite)
        if name is None:
            return [], [], False
        values = self.table.column(name).take(pa.array(positions)).to_pylist()
        first: dict[str, int] = {}
        for value, position in zip(values, positions.tolist()):
            if value is not None and value not in first:
                first[value] = position
        return list(first), list(first.values()), any(v is None for v in values)

    def _sample(self, row: dict, shown: list[str]) -> dict[str, Any]:
        sample: dict[str, Any] = {"source_line_number": row.get("source_line_number")}
        if self.suite == WP_RAW:
            sample["document_ref"] = row.get("journal_id")
        elif self.suite == CONFORMED:
            sample["document_ref"] = row.get("document_ref")
            sample["source_line_ref"] = row.get("source_line_ref")
            sample["force_code"] = row.get("force_code")
        sample["values"] = _jsonable({name: row.get(name) for name in shown})
        return sample

    def annotate(self, suite_result, positions: dict) -> None:
        """Name the batches in the stored GX result: which ``batch_index`` is which delivery, and
        each failing expectation's sample rows by batch and line (the Data Docs show them)."""
        import numpy as np

        suite_result.meta["alliance_batches"] = [
            {"batch_index": index, "force_code": self.batches[index].force_code,
             "source_ref": self.batches[index].source_ref,
             "rows": self.offsets[slot + 1] - self.offsets[slot]}
            for slot, index in enumerate(self.members)
        ]
        ends = np.asarray(self.offsets[1:], dtype=np.int64)
        for expectation_result in suite_result.results:
            config = expectation_result.expectation_config
            found = positions.get(config.id)
            if expectation_result.success or found is None or not len(found):
                continue
            sample = np.sort(found)[:20]
            shown = _shown_columns(config, self.table)
            rows = self.table.take(pa.array(sample)).select(shown + (
                ["source_line_number"] if "source_line_number" in self.table.schema.names else [])).to_pylist()
            slots = np.searchsorted(ends, sample, side="right")
            named = [{"batch": self.batches[self.members[int(slot)]].source_ref,
                      "source_line_number": row.pop("source_line_number", None), **_jsonable(row)}
                     for slot, row in zip(slots, rows)]
            # GX's renderer draws its "unexpected value / count / where" table from
            # unexpected_index_list only; here it holds the first 20 failing rows, named
            expectation_result.result["unexpected_index_column_names"] = ["batch", "source_line_number"]
            expectation_result.result["partial_unexpected_index_list"] = named
            expectation_result.result["unexpected_index_list"] = named


def _column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if "column_list" in kwargs and len(kwargs["column_list"]) <= 4:
        return ", ".join(c for c in kwargs["column_list"] if c != "batch_index")
    return None


def _shown_columns(config, table: pa.Table) -> list[str]:
    """The columns a failing row is shown by: those the check derives from, else those it reads;
    a derived true/false column itself says nothing and is left out."""
    kwargs, meta = config.kwargs, config.meta or {}
    names: list[str] = list(meta.get("derived_from") or [])
    for key in ("column", "column_A", "column_B"):
        if key in kwargs:
            names.append(kwargs[key])
    for name in kwargs.get("column_list", []) if config.type != _COLUMNS_EXPECTATION else []:
        names.append(name)
    present = table.schema.names
    shown = []
    for name in dict.fromkeys(names):
        if name == "batch_index" or name not in present:
            continue
        if meta.get("derived_from") and name not in meta["derived_from"] and pa.types.is_boolean(
                table.schema.field(name).type):
            continue
        shown.append(name)
    return shown


def _sample_text(sample: dict) -> str:
    values = ", ".join(f"{name}={_show(name, value)}" for name, value in sample["values"].items())
    line = sample.get("source_line_number")
    if "source_line_ref" in sample:
        where = (f"journal {sample['document_ref']} line {line}" if sample.get("force_code") == "WP"
                 else f"line {line} ({sample['source_line_ref']})")
    elif sample.get("document_ref") is not None:
        where = f"journal {sample['document_ref']} line {line}"
    else:
        where = f"line {line}"
    return f"{where}: {values}"


def _show(name: str, value: Any) -> str:
    if value is None:
        return "blank"
    if name.endswith("_pence") and isinstance(value, int):
        return format_pence(value)
    text = repr(value)
    # a found value is quoted to identify it, not to copy it: a 500 KB text stays out of etl_batch.error
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(str(value)):,} characters)"


_SHOWN_CHARS = 80


def _jsonable(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in values.items()}


def _kwargs_text(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "batch_id")


def _batch_failure(suite: str, check: str, column: str | None, expected: str, found: str) -> CheckFailure:
    return CheckFailure(suite=suite, check=check, column=column, expected=expected, unexpected_count=1,
                        found=found, batch_level=True)


def _same_type(found: pa.DataType, expected: pa.DataType) -> bool:
    if pa.types.is_string(expected):
        return pa.types.is_string(found) or pa.types.is_large_string(found)
    return found == expected


# --------------------------------------------------------------------------------------------
# the frames


def _chunks(batches: list[Batch], candidates: list[int], budget: int) -> Iterable[list[int]]:
    """Consecutive candidates grouped so that each group's rows stay within ``budget``."""
    chunk: list[int] = []
    rows = 0
    for index in candidates:
        batch = batches[index]
        size = max(batch.lines.num_rows, batch.raw.num_rows if batch.raw is not None else 0)
        if chunk and rows + size > budget:
            yield chunk
            chunk, rows = [], 0
        chunk.append(index)
        rows += size
    if chunk:
        yield chunk


def _offsets(tables: list[pa.Table]) -> list[int]:
    offsets = [0]
    for table in tables:
        offsets.append(offsets[-1] + table.num_rows)
    return offsets


def _batch_index_column(tables: list[pa.Table], members: list[int]) -> pa.Array:
    import numpy as np

    counts = [t.num_rows for t in tables]
    return pa.array(np.repeat(np.asarray(members, dtype=np.int32), counts), pa.int32())


def _raw_frame(suite: str, raws: list[pa.Table], members: list[int], source_columns: Sequence[str]
               ) -> tuple[pa.Table, list[int]]:
    """The raw tables back to back: source columns as text, ``source_line_number``, ``batch_index``
    (and for WP ``entered_sides``, how many of entered_dr and entered_cr are set)."""
    names = list(source_columns) + ["source_line_number"]
    schema = pa.schema([pa.field(n, pa.string()) for n in source_columns]
                       + [pa.field("source_line_number", pa.int64())])
    parts = []
    for raw in raws:
        part = raw.select(names)
        parts.append(part if part.schema.equals(schema) else part.cast(schema))
    # left in chunks (one per batch): with each column's expectations filtering that column only
    # (_narrow_column_domains), combining them into one buffer costs more than it saves (821,375
    # ASC lines in 150 deliveries: 2.64 s validated in chunks, 2.92 s combined)
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    table = table.append_column("batch_index", _batch_index_column(parts, members))
    if suite == WP_RAW:
        sides = pc.add(pc.cast(pc.is_valid(table.column("entered_dr")), pa.int8()),
                       pc.cast(pc.is_valid(table.column("entered_cr")), pa.int8()))
        table = table.append_column("entered_sides", sides)
    return table, _offsets(parts)


def _conformed_frame(lines: list[pa.Table], members: list[int]) -> tuple[pa.Table, list[int]]:
    """The conformed lines back to back, with ``batch_index`` and the derived columns."""
    parts = [t.cast(CONFORMED_SCHEMA) for t in lines]
    # left in chunks too: combining them measured slower (2.56 s in chunks, 2.64 s combined)
    table = pa.concat_tables(parts) if parts else CONFORMED_SCHEMA.empty_table()
    table = table.append_column("batch_index", _batch_index_column(parts, members))
    table = table.append_column("posting_date_agrees", posting_date_agrees(
        table.column("fiscal_year"), table.column("period"), table.column("posting_date")))
    table = table.append_column("revenue_line_has_cost_centre", revenue_line_has_cost_centre(
        table.column("local_account"), table.column("cost_centre")))
    table = table.append_column("document_net_pence", document_net_pence(
        table.column("batch_index"), table.column("document_ref"), table.column("amount_pence")))
    return table, _offsets(parts)


def posting_date_agrees(fiscal_year, period, posting_date) -> pa.Array:
    """Vectorised :func:`alliance_finance.core.fiscal.posting_date_agrees`: periods 1-12, the date lies
    in that month; 13-16, in March of the fiscal year or later; anything else (or null) is false."""
    year = pc.cast(fiscal_year, pa.int32())
    p = pc.cast(period, pa.int32())
    date_year = pc.cast(pc.year(posting_date), pa.int32())
    date_month = pc.cast(pc.month(posting_date), pa.int32())
    early = pc.less_equal(p, 9)  # April..December lie in the calendar year the fiscal year begins
    month = pc.if_else(early, pc.add(p, 3), pc.subtract(p, 9))
    calendar_year = pc.if_else(early, year, pc.add(year, 1))
    ordinary = pc.and_(pc.and_(pc.greater_equal(p, 1), pc.less_equal(p, 12)),
                       pc.and_(pc.equal(date_year, calendar_year), pc.equal(date_month, month)))
    months = pc.add(pc.multiply(date_year, 12), date_month)
    march_after = pc.add(pc.multiply(pc.add(year, 1), 12), 3)
    adjustment = pc.and_(pc.and_(pc.greater_equal(p, 13), pc.less_equal(p, 16)),
                         pc.greater_equal(months, march_after))
    return _array(pc.fill_null(pc.or_(ordinary, adjustment), False))


def revenue_line_has_cost_centre(local_account, cost_centre) -> pa.Array:
    """False for a revenue line (account not starting 1, 2 or 3) whose cost centre is blank or
    Wiltshire's ``0000``; true otherwise (a missing account is the not-null check's to report)."""
    balance_sheet = pc.match_substring_regex(local_account, "^[123]")
    blank = pc.or_kleene(pc.is_null(cost_centre),
                         pc.is_in(pc.utf8_trim_whitespace(cost_centre), pa.array(["", "0000"])))
    return _array(pc.fill_null(pc.or_kleene(balance_sheet, pc.invert(blank)), True))


def document_net_pence(batch_index, document_ref, amount_pence) -> pa.Array:
    """Each line's document total (debits minus credits, pence) within its batch: 0 when balanced."""
    import numpy as np

    batch_index, document_ref, amount_pence = _array(batch_index), _array(document_ref), _array(amount_pence)
    if len(amount_pence) == 0:
        return pa.array([], pa.int64())
    codes = pc.dictionary_encode(document_ref).indices
    documents = np.asarray(pc.fill_null(codes, -1), dtype=np.int64) + 1
    key = np.asarray(batch_index, dtype=np.int64) * (int(documents.max()) + 1) + documents
    _, group = np.unique(key, return_inverse=True)
    amounts = np.asarray(pc.fill_null(amount_pence, 0), dtype=np.int64)
    sums = np.zeros(int(group.max()) + 1, dtype=np.int64)
    np.add.at(sums, group, amounts)  # integer sums: exact
    return pa.array(sums[group], pa.int64())


def _array(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _controls_frame(batches: list[Batch], members: list[int]) -> pa.Table:
    """One row per batch: what was read, what the lines add up to, what the control file says."""
    rows = []
    for index in members:
        batch = batches[index]
        amounts = batch.lines.column("amount_pence")
        clean = len(batch.quarantine) == 0  # the totals cover quarantined lines, the lines do not
        control = batch.meta.get("control") or {} if isinstance(batch.meta, dict) else {}
        rows.append({
            "batch_index": index,
            "force_code": batch.force_code,
            "source_ref": batch.source_ref,
            "rows_read": batch.rows_read,
            "lines_and_quarantine": batch.lines.num_rows + len(batch.quarantine),
            "lines": batch.lines.num_rows,
            "raw_rows": batch.raw.num_rows if batch.raw is not None else None,
            "total_debit_pence": batch.total_debit_pence,
            "total_credit_pence": batch.total_credit_pence,
            "lines_debit_pence": _exact_sum(pc.filter(amounts, pc.greater(amounts, 0))) if clean else None,
            "lines_credit_pence": -_exact_sum(pc.filter(amounts, pc.less(amounts, 0))) if clean else None,
            "control_rows": _control_int(control, "rows"),
            "control_total_debit_pence": _control_pence(control, "total_debit"),
            "control_total_credit_pence": _control_pence(control, "total_credit"),
        })
    schema = pa.schema([("batch_index", pa.int32()), ("force_code", pa.string()), ("source_ref", pa.string())]
                       + [(name, pa.int64()) for name in (
                           "rows_read", "lines_and_quarantine", "lines", "raw_rows", "total_debit_pence",
                           "total_credit_pence", "lines_debit_pence", "lines_credit_pence", "control_rows",
                           "control_total_debit_pence", "control_total_credit_pence")])
    return pa.Table.from_pylist(rows, schema=schema)


def _exact_sum(pence) -> int:
    """Sum of int64 pence in Python integers (arrow's int64 sum would wrap silently)."""
    import numpy as np

    values = np.asarray(pc.fill_null(_array(pence), 0), dtype=np.int64)
    if len(values) == 0:
        return 0
    if int(np.abs(values).max()) * len(values) < 2**63:
        return int(values.sum())
    return sum(int(v) for v in values)


def _control_int(control: dict, key: str) -> int | None:
    value = control.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        log.warning("control file %s=%r is not a whole number; not compared", key, value)
        return None


def _control_pence(control: dict, key: str) -> int | None:
    if control.get(f"{key}_pence") is not None:
        return int(control[f"{key}_pence"])
    value = control.get(key)
    if value is None:
        return None
    try:
        return parse_amount_to_pence(str(value))
    except ValueError:
        log.warning("control file %s=%r is not an amount; not compared", key, value)
        return None


# --------------------------------------------------------------------------------------------
# the outcome


def _apply_outcome(batch: Batch, result: BatchValidation) -> None:
    """Reject the batch whole, or (WP, failures that all name journals) quarantine the journals."""
    result.success = not result.failures
    if result.success:
        return
    keep_to_journals = batch.force_code == "WP" and not any(f.batch_level for f in result.failures)
    if not keep_to_journals:
        result.rejected = True
        batch.reject(result.summary())
        return
    journals = list(dict.fromkeys(d for f in result.failures for d in f.documents))
    moved = _quarantine_journals(batch, journals, result.failures)
    result.quarantined_documents = journals
    result.lines_quarantined = moved


def _quarantine_journals(batch: Batch, journals: list[str], failures: list[CheckFailure]) -> int:
    """Move every line of ``journals`` from ``batch.lines`` to ``batch.quarantine``; returns how many."""
    wanted = pa.array(journals, pa.string())
    in_journal = pc.fill_null(pc.is_in(batch.lines.column("document_ref"), value_set=wanted), False)
    moving = batch.lines.filter(in_journal)
    reasons = _journal_reasons(journals, failures)
    originals = _raw_originals(batch, wanted)
    for line in moving.to_pylist():
        journal = line["document_ref"]
        original = originals.get(line["source_line_ref"])
        if original is None:
            original = json.dumps(_jsonable(line), ensure_ascii=False)
        batch.quarantine.append(QuarantinedLine(
            source_line_ref=line["source_line_ref"], document_ref=journal,
            source_line_number=line["source_line_number"], reason=reasons[journal], original=original))
    batch.lines = batch.lines.filter(pc.invert(in_journal))
    return moving.num_rows


def _journal_reasons(journals: list[str], failures: list[CheckFailure]) -> dict[str, str]:
    """Per journal: which checks its lines failed, with what was found on the first such line."""
    reasons: dict[str, list[str]] = {journal: [] for journal in journals}
    for failure in failures:
        on = f" on {failure.column}" if failure.column else ""
        for journal in failure.documents:
            found = failure.found_by_document.get(journal, failure.found)
            reasons[journal].append(f"{failure.suite} {failure.check}{on}: expected {failure.expected}, "
                                    f"found {found}")
    return {journal: f"journal {journal} quarantined whole by validation: " + "; ".join(texts)
            for journal, texts in reasons.items()}


def _raw_originals(batch: Batch, journals: pa.Array) -> dict[str, str]:
    """The raw rows of ``journals`` as JSON, by ``source_line_ref`` (``<journal_id>/<line_no>``)."""
    raw = batch.raw
    if raw is None or "journal_id" not in raw.schema.names or "line_no" not in raw.schema.names:
        return {}
    rows = raw.filter(pc.fill_null(pc.is_in(raw.column("journal_id"), value_set=journals), False))
    columns = [name for name in rows.schema.names if name != "source_line_number"]
    return {f"{row['journal_id']}/{row['line_no']}": json.dumps({name: row[name] for name in columns},
                                                                ensure_ascii=False)
            for row in rows.to_pylist()}


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
