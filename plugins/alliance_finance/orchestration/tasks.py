"""The bodies of the Airflow tasks: Airflow's context in, one step of the runner's pass out.

Each task builds its :class:`~alliance_finance.config.settings.Settings` once from Airflow
(:func:`~alliance_finance.orchestration.airflow_config.settings_for`) and calls one step of the same
:class:`~alliance_finance.runner.passes.ForcePass` that ``alliance-finance run`` runs whole:

``find_pending``
    prepares the warehouse and lists what the run will process (refused files are named here already).
``extract_and_validate``
    reads everything pending, validates it in groups (one GX context per task) and stages each
    validated batch in the warehouse (``etl_staged_batch``, under ``<dag_id>/<run_id>``: every worker
    reaches it). No ledger table is written. With a publication base, the validation results stored on
    this worker are added to ``<base>/validation_results/``, the Data Docs' input.
``load``
    under the force's load lock, loads each staged batch in its own transaction, in order. A batch
    another run (a CLI run, say) loaded meanwhile is skipped; a retried load never re-validates.
``publish``
    records the ledger's freshness as the Asset event's extra; the consolidation DAG listens.
``report_rejections``
    fails, without retry, naming each rejected batch and why, after the good batches are loaded.

Results pass between tasks as XCom (JSON: ``ForceRunResult.to_dict``); batches pass through the
warehouse's staging table (:mod:`alliance_finance.warehouse.staging`). ``settings`` (and ``validator``) may be given
in place of Airflow's, as a test does.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from alliance_finance.config.settings import Settings
from alliance_finance import report, status
from alliance_finance.core.errors import TransientError
from alliance_finance.core.urls import mask_secrets, mask_url
from alliance_finance.orchestration import publication
from alliance_finance.orchestration.airflow_config import publish_base, report_dir, settings_for
from alliance_finance.runner import pipeline, validators
from alliance_finance.runner.prepare import prepare_warehouse
from alliance_finance.runner.result import ForceRunResult
from alliance_finance.warehouse.engine import make_engine

log = logging.getLogger("alliance_finance.orchestration.tasks")

#: how many pending names a find_pending XCom carries (the log has the count)
XCOM_REFS = 200
#: under the publication base: every worker's stored validation results, the Data Docs' input
RESULTS = "validation_results"


@contextlib.contextmanager
def transient_errors_retried(what: str):
    """Turn 'could not reach a database' into TransientError, the one failure the DAGs retry."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, ConnectionError, TimeoutError) as exc:
        raise TransientError(f"{what}: {mask_secrets(str(exc))}") from exc


def run_key(context: dict[str, Any]) -> str:
    """The key the run's validated batches are staged under in the warehouse: ``<dag_id>/<run_id>``."""
    dag_id = context["dag"].dag_id if context.get("dag") else "adhoc"
    return f"{dag_id}/{context.get('run_id', 'run')}"


def ledger_freshness(settings: Settings) -> dict[str, dict[str, Any]]:
    """How far each force's ledger is complete (from ``alliance-finance status``'s figures)."""
    engine = make_engine(settings.warehouse_url)
    try:
        return status.collect_status(engine).freshness
    finally:
        engine.dispose()


# --- the force DAG's tasks ------------------------------------------------------------------------

def find_pending(force_code: str, context: dict[str, Any], *, settings: Settings | None = None) -> dict:
    force_pass = pipeline.force_pass(force_code, settings or settings_for(force_code), log=log)
    with transient_errors_retried(force_code):
        force_pass.prepare()
        pending = force_pass.find()
    summary = pending.to_dict()
    refs = summary["source_refs"]
    log.info("%s: %d pending in %s", force_code, len(refs), summary["source"])
    for ref in refs[:20]:
        log.info("  pending %s", ref)
    if len(refs) > 20:
        log.info("  ... and %d more", len(refs) - 20)
    summary["source_refs"], summary["pending_count"] = refs[:XCOM_REFS], len(refs)
    return summary


def extract_and_validate(force_code: str, pending: dict, context: dict[str, Any], *,
                         settings: Settings | None = None, validator=None) -> dict:
    """Read and validate everything pending, staged in the warehouse under the run's key."""
    settings = settings or settings_for(force_code)
    force_pass = pipeline.force_pass(force_code, settings, validator=validator, log=log)
    with transient_errors_retried(force_code):
        staged = force_pass.stage(run_key(context))
    share_validation_results(settings)
    return staged


def load_staged(force_code: str, staged: dict, context: dict[str, Any], *,
                settings: Settings | None = None) -> dict:
    """Load the staged batches in order, each in its own transaction, under the force's load lock."""
    force_pass = pipeline.force_pass(force_code, settings or settings_for(force_code), log=log)
    with transient_errors_retried(force_code):
        return force_pass.load_staged(staged).to_dict()


def publish(force_code: str, loaded: dict, context: dict[str, Any], asset=None, *,
            settings: Settings | None = None) -> dict:
    """Attach the ledger's freshness to the Asset event that triggers the consolidation DAG.

    A run that loaded nothing new skips this task (AirflowSkipException), so no Asset event is sent
    and the report and Data Docs are not rebuilt for an unchanged ledger.
    """
    result = ForceRunResult.from_dict(loaded)
    if not result.loaded:
        raise AirflowSkipException(f"{force_code}: nothing new loaded; the ledger Asset is not updated")
    freshness = ledger_freshness(settings or settings_for(force_code)).get(force_code, {})
    extra = {
        "force_code": force_code,
        "batches_loaded": len(result.loaded),
        "lines_loaded": result.lines_loaded,
        **{k: (str(v) if v is not None else None) for k, v in freshness.items()},
    }
    if asset is not None and context.get("outlet_events") is not None:
        context["outlet_events"][asset].extra = extra
    log.info("%s ledger published: %s", force_code, extra)
    return extra


def report_rejections(force_code: str, loaded: dict, context: dict[str, Any]) -> None:
    """Fail, without retry, naming every rejected batch and refused file (the CLI's words)."""
    problems = ForceRunResult.from_dict(loaded).problems()
    if not problems:
        log.info("%s: nothing rejected", force_code)
        return
    for problem in problems:
        log.error("rejected %s", problem)
    # AirflowFailException: a rejected delivery is never retried into a different result
    fail = AirflowFailException(f"{force_code}: {len(problems)} batch(es) rejected or refused: " + "; ".join(problems))
    fail.batches = problems  # type: ignore[attr-defined]  # named one a line by the failure notice
    raise fail


# --- the consolidation DAG's tasks ----------------------------------------------------------------

def refresh_marts(context: dict[str, Any], *, settings: Settings | None = None) -> dict:
    """Bring schema and views up to date and refresh the finance seeds the marts read."""
    settings = settings or settings_for()
    with transient_errors_retried("warehouse"):
        restated = prepare_warehouse(settings.warehouse_url, settings.reference_dir, settings.seeds_dir,
                                     settings.forces())
    log.info("marts refreshed in %s (%d lines restated)", mask_url(settings.warehouse_url), restated)
    return {"lines_restated": restated}


def build_report(context: dict[str, Any], *, settings: Settings | None = None, base=None) -> dict:
    """Build the board report (HTML, PNG, XLSX) and publish it under the publication base.

    ``base`` (an ObjectStoragePath or URL; default :func:`~alliance_finance.orchestration.airflow_config.publish_base`):
    built in a temporary folder here, then published as ``<base>/report/<version>/`` with
    ``<base>/report/LATEST`` naming it (:mod:`~alliance_finance.orchestration.publication`). Without
    a base: written to this worker's ``report_dir`` (``<var>/report``), seen only on this machine.
    """
    settings = settings or settings_for()
    base = publication.as_base(base) if base is not None else publish_base()

    def build(out: Path) -> None:
        code = report.report_cli(settings.warehouse_url, out)
        if code != 0:
            raise RuntimeError(f"the report could not be built into {out} (exit {code})")

    if base is None:
        out = report_dir(settings)
        log.warning("no publication base (Airflow variable alliance_publish_base / ALLIANCE_PUBLISH_BASE): the "
                    "report is written to this worker's disk only, %s; readers on other machines do not see it", out)
        build(out)
        return {"report": str(out), "report_dir": str(out), "worker_local": True}
    with tempfile.TemporaryDirectory(prefix="alliance-report-") as tmp:
        build(Path(tmp))
        with transient_errors_retried(f"publishing the report to {base}"):
            dest = publication.publish_tree(Path(tmp), base / "report",
                                            publication.version_name(context.get("run_id")))
    log.info("board report published: %s (%s names the latest)", dest, base / "report" / publication.POINTER)
    return {"report": str(dest), "latest": str(base / "report" / publication.POINTER), "worker_local": False}


def build_data_docs(context: dict[str, Any], *, settings: Settings | None = None, base=None) -> dict:
    """Bring the Data Docs up to date and publish them under the publication base.

    With a base: this worker's stored validation results are added to ``<base>/validation_results/``
    (where every worker's extract_and_validate puts its own), the last published site is fetched into
    a temporary folder with every stored result, the pages of new results are rendered there, and the
    site is published as ``<base>/data_docs/<version>/`` with ``LATEST`` naming it. Without a base:
    built in place on this worker, from the results validated on this worker only.
    """
    settings = settings or settings_for()
    base = publication.as_base(base) if base is not None else publish_base()
    url = settings.warehouse_url
    local_docs = validators.data_docs_dir(url, settings.var_dir)
    if base is None:
        log.warning("no publication base (Airflow variable alliance_publish_base / ALLIANCE_PUBLISH_BASE): the "
                    "Data Docs are built on this worker's disk only, %s, from the results validated here", local_docs)
        validator = validators.default_validator(url, settings.var_dir, settings)
        path = validator.build_data_docs() if hasattr(validator, "build_data_docs") else None
        return {"data_docs": str(path) if path else str(local_docs), "worker_local": True}
    results = base / RESULTS
    with tempfile.TemporaryDirectory(prefix="alliance-data-docs-") as tmp:
        site = Path(tmp)
        with transient_errors_retried(f"reading the publication base {base}"):
            if (local_docs / "results").is_dir():
                publication.sync_up(local_docs / "results", results)
            previous = publication.latest(base / "data_docs")
            if previous is not None:
                publication.fetch_tree(previous, site)
            fetched = publication.sync_down(results, site / "results")
        log.info("Data Docs: %d new stored result file(s) from %s; last published %s", fetched, results, previous)
        # deferred on purpose: the validation package brings pyarrow and numpy, which every other task of
        # a night with nothing new (find_pending first) would otherwise import for nothing
        from alliance_finance.validation.validator import build_data_docs as build_site

        build_site(site, expectations_dir=settings.expectations_dir, forces=settings.forces())
        with transient_errors_retried(f"publishing the Data Docs to {base}"):
            dest = publication.publish_tree(site, base / "data_docs",
                                            publication.version_name(context.get("run_id")))
    log.info("Data Docs published: %s/index.html", dest)
    return {"data_docs": f"{dest}/index.html", "latest": str(base / "data_docs" / publication.POINTER),
            "worker_local": False}


def share_validation_results(settings: Settings, base=None) -> int:
    """Add this worker's stored validation results to ``<base>/validation_results/`` (the Data Docs'
    input, rendered by whichever worker builds them); the number of files added. No base: 0.

    A store that cannot be reached (or a base no filesystem is installed for) is logged, not raised:
    the batches are staged and their results stay on this worker's disk, added by its next run; the
    consolidation's tasks fail on such a base, naming it."""
    local = validators.data_docs_dir(settings.warehouse_url, settings.var_dir) / "results"
    try:
        base = publication.as_base(base) if base is not None else publish_base()
        if base is None or not local.is_dir():
            return 0
        added = publication.sync_up(local, base / RESULTS)
    except Exception as exc:  # noqa: BLE001 - the batches are staged; the consolidation reports a bad base
        log.error("validation results not shared to the publication base (%s); this worker's next run adds "
                  "them", exc)
        return 0
    log.info("%d validation result file(s) shared to %s", added, base / RESULTS)
    return added


def record_freshness(context: dict[str, Any], *, settings: Settings | None = None) -> dict:
    fresh = ledger_freshness(settings or settings_for())
    for force_code, info in fresh.items():
        log.info("%s ledger complete to %s", force_code, info)
    return {k: {kk: (str(vv) if vv is not None else None) for kk, vv in v.items()} for k, v in fresh.items()}
