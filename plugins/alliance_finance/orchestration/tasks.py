"""The bodies of the Airflow tasks: configuration from Airflow, then calls into the same package code
as ``alliance-finance run`` (:mod:`alliance_finance.runner.pipeline`).

The force DAG splits one pipeline pass into steps an operator can watch and rerun:

``find_pending``
    what the run will process (ASC: the deliveries by name; refused files are named here already).
``extract_and_validate``
    reads every pending delivery (or the new WP journals), checks control totals and runs the Great
    Expectations suites over groups of batches (one GX context per task), and writes each validated
    batch to the run's staging folder (:func:`alliance_finance.core.ledger.save_batch`). Nothing touches
    the warehouse.
``load``
    under the force's load lock, loads each staged batch in its own transaction, in order, logging
    one line per batch. A batch that another run (a CLI run, say) loaded in the meantime is skipped,
    so two runs can never load it twice. A retried load never re-validates.
``publish``
    records the ledger's freshness as the Asset event's extra; the consolidation DAG listens.
``report_rejections``
    fails, without retry, naming each rejected batch and why, after the good batches are loaded.

Configuration (all optional for the embedded demo):

- warehouse: Airflow connection ``alliance_warehouse`` (e.g. ``AIRFLOW_CONN_ALLIANCE_WAREHOUSE``), else
  ``ALLIANCE_WAREHOUSE_URL``, else ``sqlite:///var/warehouse.db``;
- sources folder: Airflow variable ``alliance_sources_dir``, else ``ALLIANCE_SOURCES_DIR``, else ``var/sources``;
- Wiltshire ERP: Airflow connection ``wiltshire_erp``, else the sample ``<sources>/wiltshire/erp.db``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from alliance_finance.core.errors import TransientError
from alliance_finance.config.forces import force_by_code
from alliance_finance.core.paths import VAR_DIR, default_warehouse_url

log = logging.getLogger("alliance_finance.orchestration.tasks")


# --- configuration --------------------------------------------------------------------------------

def _connection_url(conn_id: str | None) -> str | None:
    """The SQLAlchemy URL of an Airflow connection, or None when there is no such connection."""
    if not conn_id:
        return None
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - the package is usable without Airflow
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.schema or conn.host}"
    return conn.get_uri()


def _variable(name: str) -> str | None:
    value = os.environ.get(f"AIRFLOW_VAR_{name.upper()}")
    if value:
        return value
    try:
        from airflow.sdk import Variable

        return Variable.get(name, default=None)
    except Exception:  # noqa: BLE001 - no Airflow metadata reachable: fall back to the environment
        return None


def warehouse_url(force_code: str | None = None) -> str:
    conn_id = force_by_code(force_code).warehouse_conn_id if force_code else "alliance_warehouse"
    return _connection_url(conn_id) or default_warehouse_url()


def sources_dir() -> Path:
    return Path(_variable("alliance_sources_dir") or os.environ.get("ALLIANCE_SOURCES_DIR") or VAR_DIR / "sources")


def source_url(force_code: str) -> str | None:
    return _connection_url(force_by_code(force_code).source_conn_id)


def staging_dir(context: dict[str, Any]) -> Path:
    """The run's own staging folder: ``var/staging/<dag_id>/<run_id>``."""
    dag_id = context["dag"].dag_id if context.get("dag") else "adhoc"
    run_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(context.get("run_id", "run")))
    return VAR_DIR / "staging" / dag_id / run_id


@contextlib.contextmanager
def transient_errors_retried(what: str):
    """Turn 'could not reach a database' into TransientError, the one failure the DAGs retry."""
    import sqlalchemy as sa

    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, ConnectionError, TimeoutError) as exc:
        from alliance_finance.core.urls import mask_secrets

        raise TransientError(f"{what}: {mask_secrets(str(exc))}") from exc


# --- pieces of a pass, split across tasks -----------------------------------------------------------

def read_pending_groups(force_code: str, engine, sources: Path, wiltshire_url: str | None):
    """Read what is pending, in load order, in groups that bound memory (as ``pipeline.run_force`` does)."""
    from alliance_finance.runner import pipeline
    from alliance_finance.sources.registry import reader_for

    settings = pipeline.source_settings(sources, force_code, wiltshire_url)
    reader = reader_for(settings.force(force_code), settings)
    try:
        yield from reader.read_groups(engine, reader.pending(engine))
    finally:
        reader.close()


def already_processed(engine, batch) -> bool:
    """Whether another run loaded (or rejected) this batch since it was staged.

    ASC: a batch of the same file with the same digest is in ``etl_batch``. WP: any of its journals
    is in ``source_document_loaded``. Checked under the force's load lock, so it cannot go stale.
    """
    import sqlalchemy as sa

    with engine.connect() as conn:
        if batch.force_code == "ASC" or not batch.meta.get("journal_ids"):
            row = conn.execute(sa.text("SELECT 1 FROM etl_batch WHERE force_code = :f AND source_ref = :s "
                                       "AND digest = :d"),
                               {"f": batch.force_code, "s": batch.source_ref, "d": batch.digest}).first()
            return row is not None
        ids = [str(i) for i in batch.meta["journal_ids"]]
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            stmt = sa.text("SELECT 1 FROM source_document_loaded WHERE force_code = :f "
                           "AND document_ref IN :ids").bindparams(sa.bindparam("ids", expanding=True))
            if conn.execute(stmt, {"f": batch.force_code, "ids": chunk}).first() is not None:
                return True
        return False


def ledger_freshness(url: str) -> dict[str, dict[str, Any]]:
    """How far each force's ledger is complete (from ``alliance-finance status``'s figures)."""
    from alliance_finance import status
    from alliance_finance.warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        return status.collect_status(engine).freshness
    finally:
        engine.dispose()


# --- the force DAG's tasks ------------------------------------------------------------------------

def find_pending(force_code: str, context: dict[str, Any]) -> dict:
    from alliance_finance.runner import pipeline
    url = warehouse_url(force_code)
    with transient_errors_retried(force_code):
        pipeline.prepare_warehouse(url)
        pending = pipeline.pending_deliveries(force_code, sources_dir(), url, source_url(force_code))
    summary = pending.to_dict()
    log.info("%s: %d pending in %s", force_code, len(summary["source_refs"]), summary["source"])
    for ref in summary["source_refs"][:20]:
        log.info("  pending %s", ref)
    if len(summary["source_refs"]) > 20:
        log.info("  ... and %d more", len(summary["source_refs"]) - 20)
    for reason in summary["refused"]:
        log.error("  refused %s", reason)
    summary["source_refs"] = summary["source_refs"][:200]  # XCom stays small; the log has the count
    summary["pending_count"] = len(pending.source_refs)
    return summary


def extract_and_validate(force_code: str, pending: dict, context: dict[str, Any]) -> dict:
    """Read and validate everything pending into the run's staging folder (the warehouse is only read)."""
    from alliance_finance.runner import pipeline
    from alliance_finance.core import ledger
    from alliance_finance.warehouse.engine import make_engine

    url = warehouse_url(force_code)
    stage = staging_dir(context)
    if stage.exists():
        shutil.rmtree(stage)  # a retry starts clean
    stage.mkdir(parents=True)
    engine = make_engine(url)
    staged: list[str] = []
    validator = None
    try:
        with transient_errors_retried(force_code):
            for group in read_pending_groups(force_code, engine, sources_dir(), source_url(force_code)):
                validator = validator or pipeline.default_validator(url)
                validator.validate(group)
                for batch in group:
                    batch.raw = None
                    stem = f"{len(staged):06d}"
                    ledger.save_batch(batch, stage, stem)
                    staged.append(stem)
                    state = f"rejected: {batch.error}" if batch.rejected else (
                        f"{batch.lines.num_rows:,} lines, {len(batch.quarantine):,} quarantined")
                    log.info("validated %s: %s", batch.source_ref, state)
    finally:
        engine.dispose()
    if validator is not None and hasattr(validator, "build_data_docs"):
        validator.build_data_docs()
    log.info("%s: %d batches validated and staged in %s", force_code, len(staged), stage)
    return {"staging_dir": str(stage), "batches": staged, "refused": pending.get("refused", [])}


def load_staged(force_code: str, staged: dict, context: dict[str, Any]) -> dict:
    """Load the staged batches in order, each in its own transaction, under the force's load lock."""
    from alliance_finance.core import ledger
    from alliance_finance.warehouse import locks
    from alliance_finance.warehouse.engine import make_engine
    from alliance_finance.warehouse.load import BatchLoader

    url = warehouse_url(force_code)
    stage = Path(staged["staging_dir"])
    engine = make_engine(url)
    outcomes: list[dict] = []
    skipped = 0
    try:
        with transient_errors_retried(force_code):
            with locks.force_load_lock(engine, force_code, wait_seconds=locks.DEFAULT_WAIT_SECONDS):
                with BatchLoader(engine) as loader:
                    for stem in staged["batches"]:
                        batch = ledger.read_saved_batch(stage / f"{stem}.json")
                        if already_processed(engine, batch):
                            log.info("skipped %s: loaded meanwhile by another run", batch.source_ref)
                            skipped += 1
                            continue
                        outcome = loader.load(batch)
                        (log.info if outcome.loaded else log.error)("%s", outcome.describe())
                        outcomes.append({
                            "source_ref": outcome.source_ref, "loaded": outcome.loaded, "error": outcome.error,
                            "rows_loaded": outcome.rows_loaded, "rows_quarantined": outcome.rows_quarantined,
                            "debit_pence": outcome.debit_pence, "credit_pence": outcome.credit_pence,
                        })
    finally:
        engine.dispose()
    shutil.rmtree(stage, ignore_errors=True)
    loaded = [o for o in outcomes if o["loaded"]]
    result = {
        "force_code": force_code,
        "batches_loaded": len(loaded),
        "batches_skipped": skipped,
        "lines_loaded": sum(o["rows_loaded"] for o in loaded),
        "lines_quarantined": sum(o["rows_quarantined"] for o in loaded),
        "debit_pence": sum(o["debit_pence"] for o in loaded),
        "credit_pence": sum(o["credit_pence"] for o in loaded),
        "rejected": [{"source_ref": o["source_ref"], "error": o["error"]} for o in outcomes if not o["loaded"]],
        "refused": staged.get("refused", []),
    }
    log.info("%s: %d batches loaded (%d lines), %d rejected, %d skipped", force_code, result["batches_loaded"],
             result["lines_loaded"], len(result["rejected"]), skipped)
    return result


def publish(force_code: str, loaded: dict, context: dict[str, Any], asset=None) -> dict:
    """Attach the ledger's freshness to the Asset event that triggers the consolidation DAG."""
    freshness = ledger_freshness(warehouse_url(force_code)).get(force_code, {})
    extra = {
        "force_code": force_code,
        "batches_loaded": loaded.get("batches_loaded", 0),
        "lines_loaded": loaded.get("lines_loaded", 0),
        **{k: (str(v) if v is not None else None) for k, v in freshness.items()},
    }
    if asset is not None and context.get("outlet_events") is not None:
        context["outlet_events"][asset].extra = extra
    log.info("%s ledger published: %s", force_code, extra)
    return extra


class DeliveriesRejected(Exception):
    """Raised by report_rejections; carries the batches for the failure notification."""

    def __init__(self, force_code: str, batches: list[str]):
        self.batches = batches
        super().__init__(f"{force_code}: {len(batches)} batch(es) rejected or refused: " + "; ".join(batches))


def report_rejections(force_code: str, loaded: dict, context: dict[str, Any]) -> None:
    problems = [r["error"] if str(r["error"]).startswith(r["source_ref"]) else f"{r['source_ref']}: {r['error']}"
                for r in loaded.get("rejected", [])]
    problems += list(loaded.get("refused", []))
    if not problems:
        log.info("%s: nothing rejected", force_code)
        return
    from airflow.sdk.exceptions import AirflowFailException

    error = DeliveriesRejected(force_code, problems)
    for p in problems:
        log.error("rejected %s", p)
    # AirflowFailException: a rejected delivery is never retried into a different result
    fail = AirflowFailException(str(error))
    fail.batches = problems  # type: ignore[attr-defined]
    raise fail


# --- the consolidation DAG's tasks ----------------------------------------------------------------

def refresh_marts(context: dict[str, Any]) -> dict:
    """Bring schema and views up to date and refresh the finance seeds the marts read."""
    from alliance_finance.runner import pipeline
    from alliance_finance.core.urls import mask_url

    url = warehouse_url()
    with transient_errors_retried("warehouse"):
        restated = pipeline.prepare_warehouse(url)
    log.info("marts refreshed in %s (%d lines restated)", mask_url(url), restated)
    return {"lines_restated": restated}


def report_dir() -> Path:
    return Path(os.environ.get("ALLIANCE_REPORT_DIR") or VAR_DIR / "report")


def build_report(context: dict[str, Any]) -> dict:
    from alliance_finance import report

    out = report_dir()
    code = report.report_cli(warehouse_url(), out)
    if code != 0:
        raise RuntimeError(f"the report could not be built into {out} (exit {code})")
    return {"report_dir": str(out)}


def build_data_docs(context: dict[str, Any]) -> dict:
    from alliance_finance.runner import pipeline
    url = warehouse_url()
    validator = pipeline.default_validator(url)
    path = validator.build_data_docs() if hasattr(validator, "build_data_docs") else None
    return {"data_docs": str(path) if path else str(pipeline.data_docs_dir(url))}


def record_freshness(context: dict[str, Any]) -> dict:
    fresh = ledger_freshness(warehouse_url())
    for force_code, info in fresh.items():
        log.info("%s ledger complete to %s", force_code, info)
    return {k: {kk: (str(vv) if vv is not None else None) for kk, vv in v.items()} for k, v in fresh.items()}
