"""The patches of Great Expectations internals (alliance_finance.validation.gx_compat) hold:

(a) they refuse, naming the GX version and the attribute, when what they replace is gone or has
    changed (a stand-in module lacking it), and the installed GX has every target;
(b) patched and unpatched runs of each suite over the same batch give the same results: success,
    each expectation's unexpected count and every failing row (and the same verdicts per batch);
(c) GX's own objects are back after the block, also when it raises, and nested blocks share one
    application;
(d) GX imported through gx_compat leaves scipy.stats and altair unexecuted (checked in a fresh
    interpreter, as a run starts), and an expectation that needs them still works.
"""

from __future__ import annotations

import dataclasses
import json
import datetime as dt
import subprocess
import sys
import types

import great_expectations
import pandas as pd
import pytest
from great_expectations.execution_engine import pandas_execution_engine

from alliance_finance.core.paths import PROJECT_ROOT
from alliance_finance.validation import CONFORMED, CONTROLS, FORMAT_RULES, SUITES, GxCompatibilityError, Validator
from alliance_finance.validation import frames, gx_compat

from batch_fixtures import WpLine, asc_batch, balanced_document, happy_asc, invoice, wp_batch


# --- stand-ins for GX's pandas engine module: what the patches expect, and each way it could change


def _engine_module(*, threshold=1e9, domain_records="default", engine=True) -> types.ModuleType:
    module = types.ModuleType("great_expectations.execution_engine.pandas_execution_engine")
    if threshold is not None:
        module.HASH_THRESHOLD = threshold
    if engine:
        namespace = {}
        if domain_records == "default":
            def get_domain_records(self, domain_kwargs):
                return self.frame
            namespace["get_domain_records"] = get_domain_records
        elif domain_records == "more parameters":
            def get_domain_records(self, domain_kwargs, table):
                return self.frame
            namespace["get_domain_records"] = get_domain_records
        elif domain_records == "renamed":
            def get_domain_data(self, domain_kwargs):
                return self.frame
            namespace["get_domain_data"] = get_domain_data
        module.PandasExecutionEngine = type("PandasExecutionEngine", (), namespace)
    return module


@pytest.mark.parametrize("module, attribute", [
    (_engine_module(threshold=None), "pandas_execution_engine.HASH_THRESHOLD"),
    (_engine_module(threshold="1e9"), "pandas_execution_engine.HASH_THRESHOLD"),
    (_engine_module(engine=False), "pandas_execution_engine.PandasExecutionEngine"),
    (_engine_module(domain_records="renamed"), "PandasExecutionEngine.get_domain_records"),
    (_engine_module(domain_records="more parameters"), "PandasExecutionEngine.get_domain_records"),
], ids=["threshold gone", "threshold not a number", "engine gone", "get_domain_records renamed",
        "get_domain_records signature changed"])
def test_a_patch_that_no_longer_applies_refuses_naming_the_version_and_attribute(module, attribute):
    before = dict(vars(module))
    with pytest.raises(GxCompatibilityError) as refused:
        with gx_compat.patched(module):
            pytest.fail("the block ran although a patch does not apply")
    message = str(refused.value)
    assert f"Great Expectations {_installed_gx()}" in message
    assert attribute in message
    assert gx_compat.WRITTEN_FOR in message
    assert dict(vars(module)) == before  # nothing half-applied


def test_the_installed_gx_is_the_one_the_patches_were_written_for_and_has_every_target():
    """An upgrade of GX fails here first: check the patches against it (this file), then move WRITTEN_FOR."""
    assert _installed_gx() == gx_compat.WRITTEN_FOR
    module, engine, original = gx_compat.check_targets()
    assert module is pandas_execution_engine and engine is pandas_execution_engine.PandasExecutionEngine
    assert original is vars(engine)["get_domain_records"]


def test_requirements_pin_the_gx_the_patches_were_written_for():
    pins = [line.split("#")[0].strip() for line in (PROJECT_ROOT / "requirements.in").read_text().splitlines()]
    assert f"great-expectations=={gx_compat.WRITTEN_FOR}" in pins


# --- (c) applied inside the block only ---------------------------------------------------------------


def _gx_own(module) -> tuple:
    """What the patches replace: the fingerprint threshold and the engine's own get_domain_records."""
    return module.HASH_THRESHOLD, vars(module.PandasExecutionEngine)["get_domain_records"]


def test_the_originals_are_restored_after_the_block():
    module = _engine_module()
    before = _gx_own(module)
    with gx_compat.patched(module):
        assert _gx_own(module)[0] == 0
        assert module.PandasExecutionEngine.get_domain_records is not before[1]
    assert _gx_own(module) == before == (1e9, before[1])


def test_the_originals_are_restored_when_the_block_raises():
    module = _engine_module()
    before = _gx_own(module)
    with pytest.raises(ZeroDivisionError):
        with gx_compat.patched(module):
            1 / 0
    assert _gx_own(module) == before


def test_nested_blocks_share_one_application_and_the_last_out_restores():
    module = _engine_module()
    before = _gx_own(module)
    with gx_compat.patched(module):
        patched = module.PandasExecutionEngine.get_domain_records
        with gx_compat.patched(module):
            assert module.PandasExecutionEngine.get_domain_records is patched  # not wrapped twice
        assert module.HASH_THRESHOLD == 0 and module.PandasExecutionEngine.get_domain_records is patched
    assert _gx_own(module) == before


def test_the_real_gx_is_patched_inside_and_restored_after():
    real = pandas_execution_engine
    threshold, original = real.HASH_THRESHOLD, vars(real.PandasExecutionEngine)["get_domain_records"]
    with pytest.raises(RuntimeError):
        with gx_compat.patched():
            assert real.HASH_THRESHOLD == 0
            assert real.PandasExecutionEngine.get_domain_records.__wrapped__ is original
            raise RuntimeError("a suite run failed")
    assert real.HASH_THRESHOLD == threshold
    assert vars(real.PandasExecutionEngine)["get_domain_records"] is original


def test_a_column_domain_is_narrowed_to_its_column_and_other_domains_are_not():
    module = _engine_module()
    engine = module.PandasExecutionEngine()
    engine.frame = pd.DataFrame({"a": [1, None], "b": ["x", "y"]})
    with gx_compat.patched(module):
        assert list(engine.get_domain_records({"column": "a"}).columns) == ["a"]
        assert list(engine.get_domain_records({"column_A": "a", "column_B": "b"}).columns) == ["a", "b"]
        assert list(engine.get_domain_records({}).columns) == ["a", "b"]
    assert list(engine.get_domain_records({"column": "a"}).columns) == ["a", "b"]


# --- (b) the same results with and without the patches -------------------------------------------------


@pytest.fixture(scope="module")
def validators():
    with Validator() as patched, Validator(gx_patches=False) as unpatched:
        yield patched, unpatched


def _batches():
    """A batch per force that fails every suite in several ways, on columns with empty values too,
    some beyond GX's 20 samples (so the failing rows are found by a second, COMPLETE run), and a
    clean batch between them."""
    asc_lines = [line for d in range(30) for line in balanced_document(f"{1000000001 + d}", 1000 + d)]
    for i in range(0, 50, 2):  # 25 spending lines: a cost centre of the wrong shape (raw)
        asc_lines[i] = dataclasses.replace(asc_lines[i], raw={"Cost Centre": "XX"})
    asc_lines[4] = dataclasses.replace(asc_lines[4], cost_centre=None)  # a revenue line without one
    asc_lines[7] = dataclasses.replace(asc_lines[7], period=17)
    asc_lines[9] = dataclasses.replace(asc_lines[9], pence=asc_lines[9].pence - 1)  # unbalanced
    asc = asc_batch(asc_lines, "ASC_GL_20160405_001.csv")
    asc.meta["control"]["rows"] = 7  # the control file disagrees
    journals = [invoice(100 + j, 5000 + j) for j in range(30)]
    for j in range(0, 24):  # 24 journals: an account string of the wrong shape
        journals[j].lines[0] = WpLine("XX.2200.42000.0000", journals[j].lines[0].pence)
    journals[25].lines[1] = WpLine("WP.0000.21000.0000", journals[25].lines[1].pence,
                                   raw={"entered_dr": "1.00"})  # both debit and credit
    journals[26].lines[0] = WpLine("WP.2200.42000.0000", journals[26].lines[0].pence, raw={"status": None})
    return [asc, happy_asc("ASC_GL_20160406_001.csv"), wp_batch(journals)]


def _suite_frames(validator, batches):
    """Each suite's frame over ``batches``, built as a validate() call builds it."""
    members = list(range(len(batches)))
    found = {}
    for rules in FORMAT_RULES.values():
        own = [i for i in members if validator.rules.get(batches[i].force_code) == rules]
        found[rules.raw_suite], _ = frames.raw_frame(rules.raw_suite, [batches[i].raw for i in own], own,
                                                     validator.project.source_columns(rules.raw_suite))
    found[CONFORMED], _ = frames.conformed_frame([b.lines for b in batches], members)
    found[CONTROLS] = frames.controls_frame(batches, members)
    return found


def _outcome(evaluation) -> dict:
    return {
        "success": evaluation.suite_result.success,
        "expectations": {
            r.expectation_config.id: (r.success, (r.result or {}).get("unexpected_count"),
                                      sorted(evaluation.positions.get(r.expectation_config.id, []).tolist())
                                      if r.expectation_config.id in evaluation.positions else None)
            for r in evaluation.suite_result.results
        },
    }


@pytest.mark.parametrize("suite", SUITES)
def test_patched_and_unpatched_runs_of_a_suite_give_the_same_results(validators, suite):
    patched, unpatched = validators
    table = _suite_frames(patched, _batches())[suite]
    started = dt.datetime.now(dt.timezone.utc)
    with_patches = _outcome(patched.project.evaluate(suite, table, f"{suite}-patched", started))
    without = _outcome(unpatched.project.evaluate(suite, table, f"{suite}-unpatched", started))
    assert with_patches == without
    failing = {i: e for i, e in with_patches["expectations"].items() if not e[0]}
    assert failing, f"{suite}: the batch fails nothing, so the comparison shows nothing"
    if suite != CONTROLS:
        assert any(e[2] for e in failing.values()), f"{suite}: no failing rows compared"


def test_beyond_twenty_failing_rows_are_compared_too(validators):
    """The COMPLETE re-run (more failures than GX's 20 samples) is covered by the comparison."""
    patched, _ = validators
    table = _suite_frames(patched, _batches())[FORMAT_RULES["erp_sql"].raw_suite]
    evaluation = patched.project.evaluate(FORMAT_RULES["erp_sql"].raw_suite, table, "many",
                                          dt.datetime.now(dt.timezone.utc))
    assert max(len(p) for p in evaluation.positions.values()) > 20


def test_patched_and_unpatched_validators_give_the_same_verdicts(validators):
    patched, unpatched = validators
    with_patches = [r.to_dict() for r in patched.validate(_batches())]
    without = [r.to_dict() for r in unpatched.validate(_batches())]
    for result in with_patches + without:
        result.pop("run_name")
    assert with_patches == without
    assert [r["success"] for r in with_patches] == [False, True, False]


def test_the_patches_take_effect_in_a_run(validators):
    """Not a vacuous comparison: without the patches GX fingerprints the frame, with them it does not."""
    patched, unpatched = validators
    table = _suite_frames(patched, _batches())[CONTROLS]
    started = dt.datetime.now(dt.timezone.utc)
    markers = [v.project.evaluate(CONTROLS, table, "markers", started).suite_result.meta.get("batch_markers", {})
               for v in (patched, unpatched)]
    assert "pandas_data_fingerprint" not in markers[0]
    assert "pandas_data_fingerprint" in markers[1]


def _installed_gx() -> str:
    return great_expectations.__version__


# --- (d) GX's unused heavy imports deferred ---------------------------------------------------------------

#: in a fresh interpreter: GX imported as a Validator imports it, then a validation that reads
#: scipy.stats (KL divergence) and altair (its chart); prints what was executed when
_DEFERRED = """
import json, sys, types
import pandas as pd
from alliance_finance.validation import Validator, gx_compat
loaded = lambda: {name: type(sys.modules.get(name)) is types.ModuleType for name in gx_compat.DEFERRED_IMPORTS}
with Validator() as validator:
    gx = validator.project._gx
    after_start = loaded()
    collecting, frozen = __import__("gc").isenabled(), __import__("gc").get_freeze_count()
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("d").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
             .get_batch(batch_parameters={"dataframe": pd.DataFrame({"x": [1, 2, 2, 3, 3, 3]})}))
    expectation = gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
        column="x", partition_object={"values": [1, 2, 3], "weights": [1 / 6, 2 / 6, 3 / 6]}, threshold=0.01)
    result = batch.validate(expectation, result_format="COMPLETE")
    from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
    chart = kl.alt.Chart(pd.DataFrame({"x": [1]})).mark_bar()
print(json.dumps({"after_start": after_start, "collecting": collecting, "frozen": frozen, "success": result.success,
                  "observed": result.result["observed_value"], "after_use": loaded(),
                  "chart": type(chart).__name__}))
"""


def test_scipy_stats_and_altair_are_deferred_until_an_expectation_uses_them():
    done = subprocess.run([sys.executable, "-c", _DEFERRED], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_start"] == {"scipy.stats": False, "altair": False}  # GX started without executing them
    assert seen["collecting"] is True  # the garbage collector, paused while GX imported, is on again
    assert seen["frozen"] > 100_000  # and never walks GX's classes again
    assert seen["success"] is True and seen["observed"] == pytest.approx(0.0, abs=1e-12)  # scipy.stats.entropy ran
    assert seen["after_use"] == {"scipy.stats": True, "altair": True}
    assert seen["chart"] == "Chart"


def test_importing_gx_again_leaves_the_garbage_collector_as_it_was():
    import gc

    collecting = gc.isenabled()
    try:
        gc.disable()
        assert gx_compat.import_great_expectations() is great_expectations
        assert not gc.isenabled()  # not turned on by a pause it did not make
        gc.enable()
        assert gx_compat.import_great_expectations() is great_expectations
        assert gc.isenabled()
    finally:
        (gc.enable if collecting else gc.disable)()


def test_deferring_leaves_a_module_already_imported_alone():
    import scipy.stats

    assert gx_compat.defer_unused_imports(("scipy.stats",)) == []
    assert sys.modules["scipy.stats"] is scipy.stats
    assert gx_compat.defer_unused_imports(("alliance_finance_no_such_module",)) == []
