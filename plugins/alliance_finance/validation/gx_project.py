"""The Great Expectations project a Validator runs: a private copy of ``expectations/gx``.

The copy (in a temporary folder, so nothing is ever written into the repository) is rewritten
before GX opens it: the results store and the Data Docs site point at the run's ``data_docs_dir``
(or stay in memory without one), and every expectation whose ``meta.from_forces`` says so takes its
values from ``dags/forces.yaml`` (:func:`apply_forces`), so a force added there is checked without
editing a suite. :meth:`GxProject.evaluate` runs one suite's checkpoint over one frame, inside
:func:`gx_compat.patched`, and finds every failing row's position.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import yaml

from alliance_finance.config.forces import ForceConfig
from alliance_finance.validation import data_docs, gx_compat
from alliance_finance.validation.suites import COLUMNS_EXPECTATION, PIPELINE_COLUMNS, SUITES

_ORIGINAL_ID = "alliance_expectation_id"


@dataclasses.dataclass
class Evaluation:
    """One suite's run over one frame: GX's result (and its key in the results store), its failing
    expectation results and, per failing expectation id, the positions of every failing row."""

    key: Any
    suite_result: Any
    failing: list
    positions: dict[str, np.ndarray]


class GxProject:
    """The GX context for one Validator. ``gx_patches=False`` runs GX unchanged (tests compare)."""

    def __init__(self, expectations_dir: Path, data_docs_dir: Path | None, forces: Iterable[ForceConfig], *,
                 gx_patches: bool = True):
        gx_log = logging.getLogger("great_expectations")
        if gx_log.level == logging.NOTSET:
            # GX logs hundreds of INFO lines about its own internals per run; an operator who wants
            # them sets the level explicitly
            gx_log.setLevel(logging.WARNING)
        # Great Expectations is imported here, not at the top, on purpose: importing it takes
        # seconds, and only a Validator that validates needs it (its unused scipy.stats and altair
        # are deferred: gx_compat.defer_unused_imports)
        gx = gx_compat.import_great_expectations()

        source = expectations_dir / "gx"
        if not (source / "great_expectations.yml").is_file():
            raise FileNotFoundError(f"{source / 'great_expectations.yml'}: the Great Expectations "
                                    f"project is missing (expected expectations/gx/ with its suites)")
        self._tmp = tempfile.TemporaryDirectory(prefix="alliance-gx-")
        root = Path(self._tmp.name) / "gx"
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("uncommitted", ".ge_store_backend_id"))
        _point_stores(root / "great_expectations.yml", data_docs_dir)
        apply_forces(root / "expectations", tuple(forces))
        if gx_patches:
            gx_compat.check_targets()  # an incompatible GX fails here, before anything is validated
        self.data_docs_dir = data_docs_dir
        self._patches = gx_compat.patched if gx_patches else contextlib.nullcontext
        self._gx = gx
        self.context = gx.get_context(context_root_dir=str(root))
        self.checkpoints = {name: self.context.checkpoints.get(name) for name in SUITES}
        self.suites = {name: checkpoint.validation_definitions[0].suite
                       for name, checkpoint in self.checkpoints.items()}
        self.batch_definitions = {name: checkpoint.validation_definitions[0].batch_definition
                                  for name, checkpoint in self.checkpoints.items()}
        #: what each suite's Data Docs page is rendered from (the suite as applied, GX's version)
        self.suite_digests = data_docs.suite_digests(root / "expectations", SUITES, f"great_expectations {gx_compat.gx_version()}")
        self._source_columns: dict[str, tuple[str, ...]] = {}

    def close(self) -> None:
        self._tmp.cleanup()

    def source_columns(self, suite: str) -> tuple[str, ...]:
        """The source's own columns, in order, as the suite's column-list expectation names them."""
        if suite not in self._source_columns:
            for expectation in self.suites[suite].expectations:
                config = expectation.configuration
                if config.type == COLUMNS_EXPECTATION:
                    self._source_columns[suite] = tuple(
                        c for c in config.kwargs["column_list"] if c not in PIPELINE_COLUMNS.get(suite, ()))
                    break
            else:
                raise ValueError(f"suite {suite} has no {COLUMNS_EXPECTATION} expectation")
        return self._source_columns[suite]

    def evaluate(self, suite: str, table: pa.Table, run_name: str, started: dt.datetime) -> Evaluation:
        """Run the suite's checkpoint over ``table`` (SUMMARY results, stored), then find every
        failing row: the SUMMARY samples when they are all of them, else one more run of just those
        expectations with COMPLETE results (not stored)."""
        # pandas and GX are imported here on purpose, as above (seconds; only validating needs them)
        import pandas as pd
        from great_expectations.core.run_identifier import RunIdentifier

        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
        run_id = RunIdentifier(run_name=run_name, run_time=started)
        with self._patches():
            checkpoint_result = self.checkpoints[suite].run(batch_parameters={"dataframe": frame}, run_id=run_id)
            (key, suite_result), = checkpoint_result.run_results.items()
            failing = [r for r in suite_result.results if not r.success]
            positions = self._failing_positions(suite, frame, failing)
        return Evaluation(key, suite_result, failing, positions)

    def _failing_positions(self, suite: str, frame, failing) -> dict[str, np.ndarray]:
        positions: dict[str, np.ndarray] = {}
        rerun = []
        for expectation_result in failing:
            result = expectation_result.result or {}
            if raised(expectation_result) or "unexpected_count" not in result:
                continue
            sample = result.get("partial_unexpected_index_list") or []
            if len(sample) >= int(result["unexpected_count"] or 0):
                positions[expectation_result.expectation_config.id] = np.asarray(sample, dtype=np.int64)
            else:
                rerun.append(expectation_result.expectation_config)
        if rerun:
            batch = self.batch_definitions[suite].get_batch(batch_parameters={"dataframe": frame})
            copies = []
            for config in rerun:
                copy = config.to_domain_obj()
                copy.id = None  # GX refuses an expectation that belongs to another suite
                copy.meta = {**(copy.meta or {}), _ORIGINAL_ID: config.id}
                copies.append(copy)
            complete = batch.validate(self._gx.ExpectationSuite(name=f"{suite}__failing_rows", expectations=copies),
                                      result_format={"result_format": "COMPLETE"})
            for expectation_result in complete.results:
                expectation_id = expectation_result.expectation_config.meta[_ORIGINAL_ID]
                indices = (expectation_result.result or {}).get("unexpected_index_list") or []
                positions[expectation_id] = np.asarray(indices, dtype=np.int64)
        return positions

    def store(self, key, suite_result) -> None:
        """Store ``suite_result`` again under ``key`` (after the batches were named in it)."""
        self.context.validation_results_store.set(key, suite_result)

    def forget(self, keys: Iterable) -> None:
        """Drop results nobody will read (no data_docs_dir): keeps a long backfill's memory flat."""
        store = self.context.validation_results_store
        for key in keys:
            store.remove_key(key)

    def build_data_docs(self, result_keys: list) -> Path:
        """Render ``result_keys``' pages, the index, and the pages of the suites that changed (or GX)
        since their page was rendered, or whose page is missing: a suite's page is the same until then."""
        assert self.data_docs_dir is not None
        stale = data_docs.stale_suite_pages(self.data_docs_dir, self.suite_digests)
        return data_docs.build_pages(self.context, self.data_docs_dir, result_keys, stale, self.suite_digests)

    def unrendered_results(self) -> list:
        assert self.data_docs_dir is not None
        return data_docs.unrendered_results(self.context, self.data_docs_dir)


def raised(expectation_result) -> bool:
    """Whether GX could not run the expectation at all (its exception_info says so)."""
    info = expectation_result.exception_info or {}
    if "raised_exception" in info:
        return bool(info.get("raised_exception"))
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def exception_message(expectation_result) -> str:
    info = expectation_result.exception_info or {}
    if "exception_message" in info:
        return str(info.get("exception_message"))
    return "; ".join(str(v.get("exception_message")) for v in info.values() if isinstance(v, dict))


def _point_stores(config_path: Path, data_docs_dir: Path | None) -> None:
    """Results and Data Docs into ``data_docs_dir`` (results under ``results/gx``), or in memory."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
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


def apply_forces(suites_dir: Path, forces: tuple[ForceConfig, ...]) -> None:
    """Give each expectation with ``meta.from_forces`` its values from the forces configuration.

    ``from_forces`` names ``field`` (``code``, or a key of the force's ``source``), optionally a
    ``source_format`` (only its forces), and how the values are written: ``kwarg`` ``value_set``
    takes them as a list; ``kwarg`` ``regex`` takes ``regex`` with ``{values}`` replaced by the
    values, escaped and joined by ``|``; ``expected`` (the operator's text) takes ``{values}``
    joined by "or". A format no force uses keeps the committed values (its suite never runs).
    """
    for path in sorted(suites_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        changed = False
        for expectation in document.get("expectations", []):
            rule = (expectation.get("meta") or {}).get("from_forces")
            if not rule:
                continue
            values = _force_values(forces, rule)
            if not values:
                continue
            if rule["kwarg"] == "regex":
                expectation["kwargs"]["regex"] = rule["regex"].replace(
                    "{values}", "|".join(re.escape(v) for v in values))
            else:
                expectation["kwargs"][rule["kwarg"]] = values
            if rule.get("expected"):
                expectation["meta"]["expected"] = rule["expected"].replace("{values}", _or(values))
            changed = True
        if changed:
            path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")


def _force_values(forces: tuple[ForceConfig, ...], rule: dict) -> list[str]:
    values: list[str] = []
    for force in forces:
        if rule.get("source_format") not in (None, force.source_format):
            continue
        value = force.code if rule["field"] == "code" else force.source.get(rule["field"])
        values.extend([value] if isinstance(value, str) else list(value or ()))
    return list(dict.fromkeys(values))


def _or(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
