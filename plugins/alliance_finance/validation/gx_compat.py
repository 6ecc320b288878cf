"""Great Expectations compatibility: the two changes to GX internals this project makes, in one place.

Both make GX faster on this project's frames without changing any result, and both were written
for, and checked against, Great Expectations :data:`WRITTEN_FOR` (``requirements.in`` pins it):

- **no frame fingerprint** (``pandas_execution_engine.HASH_THRESHOLD`` set to 0): GX hashes every
  row of a DataFrame under 1 GB (``pandas.util.hash_pandas_object``, which turns pyarrow strings into
  Python objects) only to record it in the result's ``batch_markers``; nothing validates against
  it (its cost: docs/validation.md, docs/performance.md).
- **one column, not the frame** (``PandasExecutionEngine.get_domain_records`` narrowed): GX hands
  every column metric the whole frame and then drops the rows where the column is empty with
  ``df[df[column].notnull()]``, a copy of every column, four times per expectation. A column's
  metrics read only that column (and the index, which is kept), so after GX has applied any row
  condition the domain is narrowed to ``frame[[column]]``. Only ``unexpected_index_column_names``
  would read other columns, and this project never asks for it (failing rows are found by position).

:func:`patched` applies both around the suite runs only and restores GX's own objects after, also
when the run raises. If GX no longer has what a patch replaces (an upgrade renamed it, or its
signature changed), :func:`patched` raises :class:`GxCompatibilityError` naming the GX version and
the attribute: it never falls back silently to the slow path. ``tests/test_gx_compat.py`` checks
that the targets exist, that results with and without the patches are the same for every suite,
and that the originals come back.

The patches are process-wide while applied (GX offers no per-run hook): another thread running GX
at the same moment would see them too; it would get the same results, only faster. Entering and
leaving is two ``setattr`` and a signature check, nothing per row.

Apart from the patches, :func:`defer_unused_imports` makes two of GX's imports lazy (the standard
library's ``importlib.util.LazyLoader``): ``scipy.stats`` and ``altair``, which GX imports at start-up
only for the distribution expectations (KL divergence, KS tests) and their charts, none of which this
project's suites use. They are about a third of GX's import time (docs/validation.md); a module made
lazy loads in full, as if imported normally, the first time anything reads an attribute of it, so an
expectation that does use them still works. Nothing in GX is changed.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import inspect
import sys
import threading
import types
from typing import Iterator

from alliance_finance.core.errors import AllianceFinanceError

#: the Great Expectations version the patches were written for and checked against
WRITTEN_FOR = "1.24.1"

_ENGINE_MODULE = "great_expectations.execution_engine.pandas_execution_engine"
_ENGINE_CLASS = "PandasExecutionEngine"
_THRESHOLD = "HASH_THRESHOLD"
_DOMAIN_RECORDS = "get_domain_records"
_DOMAIN_RECORDS_PARAMETERS = ["self", "domain_kwargs"]


class GxCompatibilityError(AllianceFinanceError):
    """A patch of Great Expectations internals no longer applies to the installed GX."""


#: modules Great Expectations imports at start-up that none of this project's expectations uses
DEFERRED_IMPORTS = ("scipy.stats", "altair")


def defer_unused_imports(names: tuple[str, ...] = DEFERRED_IMPORTS) -> list[str]:
    """Put a lazy module (``importlib.util.LazyLoader``) in ``sys.modules`` for each of ``names`` not
    imported yet, so that importing Great Expectations after this does not execute them; each loads
    in full the first time one of its attributes is read. Returns the names made lazy now (none when
    already imported, or not installed: then GX imports them, or fails, exactly as it would). Call it
    before Great Expectations is imported; calling it again does nothing."""
    deferred = []
    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)  # imports the parent package (scipy: cheap), not the module
        except ImportError:
            continue
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # ``import altair`` finds the module in sys.modules and reads its __spec__ (is it still
        # initialising?): reading that must not load it
        module.__class__ = _spec_readable(type(module))
        parent, _, child = name.rpartition(".")
        if parent:  # as the import system does: the submodule is an attribute of its package
            setattr(sys.modules[parent], child, module)
        deferred.append(name)
    return deferred


def import_great_expectations() -> types.ModuleType:
    """``great_expectations``, imported with :func:`defer_unused_imports` first (every import of GX in
    this project goes through here; importing it takes seconds, so callers defer it)."""
    defer_unused_imports()
    # GX's import makes about 200,000 objects that live as long as the process (its classes, their
    # pydantic models, its registries). The cyclic garbage collector would walk them again and again:
    # four full collections while they are being made, and once made, the next full collection of
    # every run walks them all once more (together about 0.5 s of a small night's run). None of them
    # is garbage worth collecting, so the collector waits until the import ends, and what is alive
    # then is frozen (gc.freeze: left out of every later collection; objects are still released as
    # their references go, only cycles among them would stay). Turned back on, also if it fails.
    pause = gc.isenabled() and "great_expectations" not in sys.modules
    if pause:
        gc.disable()
    try:
        import great_expectations
        if pause:
            gc.freeze()
    finally:
        if pause:
            gc.enable()

    return great_expectations


def _spec_readable(lazy: type) -> type:
    """``lazy`` (LazyLoader's module class), answering ``__spec__`` and ``__name__`` without loading."""
    if getattr(lazy, "_alliance_spec_readable", False):
        return lazy

    class SpecReadable(lazy):  # type: ignore[misc,valid-type]
        _alliance_spec_readable = True

        def __getattribute__(self, attr):
            if attr in ("__spec__", "__name__"):
                return types.ModuleType.__getattribute__(self, attr)
            return super().__getattribute__(attr)

    return SpecReadable


def gx_version() -> str:
    # Great Expectations is imported here, not at the top of the module, on purpose: importing it
    # takes seconds, and importing alliance_finance.validation (the DAG files do) must stay cheap
    import great_expectations

    return str(getattr(great_expectations, "__version__", "(unknown version)"))


def _engine_module() -> types.ModuleType:
    # deferred on purpose, as above: importing Great Expectations takes seconds
    from great_expectations.execution_engine import pandas_execution_engine

    return pandas_execution_engine


def _refuse(version: str, attribute: str, problem: str) -> GxCompatibilityError:
    return GxCompatibilityError(
        f"Great Expectations {version}: {attribute} {problem}; alliance_finance.validation.gx_compat "
        f"patches it and was written for Great Expectations {WRITTEN_FOR} (requirements.lock pins it). "
        f"Install {WRITTEN_FOR}, or check the patch against this version and update WRITTEN_FOR "
        f"(tests/test_gx_compat.py compares patched and unpatched results).")


def check_targets(module: types.ModuleType | None = None, *, version: str | None = None
                  ) -> tuple[types.ModuleType, type, object]:
    """The pandas engine module, its engine class and GX's own ``get_domain_records``, once each
    has been found as the patches expect; else :class:`GxCompatibilityError`.

    ``module`` replaces GX's ``pandas_execution_engine`` (tests hand in a stand-in that lacks
    something); ``version`` is the GX version the message names (default: the installed one).
    """
    module = module if module is not None else _engine_module()
    name = getattr(module, "__name__", _ENGINE_MODULE)
    version = version if version is not None else gx_version()
    threshold = getattr(module, _THRESHOLD, None)
    if threshold is None:
        raise _refuse(version, f"{name}.{_THRESHOLD}", "does not exist")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise _refuse(version, f"{name}.{_THRESHOLD}", f"is {threshold!r}, not a number of bytes")
    engine = getattr(module, _ENGINE_CLASS, None)
    if not isinstance(engine, type):
        raise _refuse(version, f"{name}.{_ENGINE_CLASS}", "does not exist")
    original = vars(engine).get(_DOMAIN_RECORDS)  # GX's own, on the class itself (not inherited)
    if original is None or not callable(original):
        raise _refuse(version, f"{name}.{_ENGINE_CLASS}.{_DOMAIN_RECORDS}", "is not defined on the class")
    parameters = list(inspect.signature(original).parameters)
    if parameters != _DOMAIN_RECORDS_PARAMETERS:
        raise _refuse(version, f"{name}.{_ENGINE_CLASS}.{_DOMAIN_RECORDS}",
                      f"takes ({', '.join(parameters)}), not ({', '.join(_DOMAIN_RECORDS_PARAMETERS)})")
    return module, engine, original


def _narrowed(original):
    def get_domain_records(self, domain_kwargs: dict):
        data = original(self, domain_kwargs)
        column = domain_kwargs.get("column")
        if column is not None and column in data.columns:
            return data[[column]]
        return data

    get_domain_records.__wrapped__ = original  # type: ignore[attr-defined]
    return get_domain_records


_lock = threading.Lock()
#: module -> [how many patched() contexts are open on it, what to restore when the last closes]
_open: dict[int, list] = {}


@contextlib.contextmanager
def patched(module: types.ModuleType | None = None) -> Iterator[None]:
    """Both patches applied for the ``with`` block, GX's own objects restored after (also on an
    exception). Re-entrant and thread-safe: nested or concurrent blocks share one application, and
    the last to leave restores. ``module`` replaces GX's ``pandas_execution_engine`` (tests)."""
    with _lock:  # checked and applied under the lock, so a block never saves another's patch as GX's own
        module, engine, original = check_targets(module)
        key = id(module)
        state = _open.get(key)
        if state is None:
            state = _open[key] = [0, getattr(module, _THRESHOLD), engine, original]
            setattr(module, _THRESHOLD, 0)
            setattr(engine, _DOMAIN_RECORDS, _narrowed(original))
        state[0] += 1
    try:
        yield
    finally:
        with _lock:
            state[0] -= 1
            if state[0] == 0:
                del _open[key]
                _, threshold, engine, original = state
                setattr(module, _THRESHOLD, threshold)
                setattr(engine, _DOMAIN_RECORDS, original)
