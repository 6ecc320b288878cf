"""The DAGs under the real Airflow components, with Celery workers that share no disk.

In the style of Airflow's own end-to-end tests: scripts/airflow_local.py starts the api-server,
scheduler, dag-processor and triggerer from this .venv on a throwaway PostgreSQL metadata database,
and two ``airflow celery worker`` processes on the machine's Redis, each in its own folder with its
own ``ALLIANCE_VAR_DIR`` on a private tmpfs in a mount namespace of its own (``unshare -m``), so
no worker can read what another wrote there, even by absolute path: as on two machines. The DAGs are the project's, with their tasks sent to
two Celery queues: reading and validating on worker 1, loading and consolidating on worker 2, so
every load runs on a machine that did not validate its batches. The test unpauses and triggers
through the REST API v2 (a token from ``/auth/token``) and polls the runs to the end.

It asserts: both force DAGs succeed, the consolidation DAG is started by the scheduler from the
Asset events and succeeds on every run (also the first, when only one force has a ledger), and the
warehouse equals a CLI run on the same sources to the penny.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import _unreachable, drop_pg_database, make_sample_sources, new_pg_database

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FORCE_DAGS = ("alliance_ledger_asc", "alliance_ledger_wp")
CONSOLIDATION = "alliance_consolidation"
#: the queue of each task: reading and validating on worker 1, the rest on worker 2
EXTRACT_TASKS = ("find_pending", "extract_and_validate")

DAGS_FILE = f'''
"""Airflow: the project's DAGs, with reading on queue "extract" and the rest on queue "load" (test only).

(The words "airflow" and "dag" must appear: the dag-processor's safe mode skips files without them.)"""
from alliance_finance.orchestration.dags import make_consolidation_dag, make_force_dags

_dags = make_force_dags()
_dags["{CONSOLIDATION}"] = make_consolidation_dag()
for _dag in _dags.values():
    for _task in _dag.tasks:
        _task.queue = "extract" if _task.task_id in {EXTRACT_TASKS!r} else "load"
globals().update(_dags)
'''


def _load_script():
    spec = importlib.util.spec_from_file_location("airflow_local", ROOT / "scripts" / "airflow_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port(span: int = 1) -> int:
    """A port p such that p .. p+span-1 are free now."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65535 and all(_port_free(p) for p in range(port, port + span)):
            return port
    raise RuntimeError("no free port")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _redis_url() -> str:
    """A Redis database of its own on the machine's server (fails under CI when unreachable)."""
    import redis

    url = f"redis://127.0.0.1:6379/{int(time.time()) % 14 + 1}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unreachable(f"Redis at {url}", exc)
    return url


@pytest.fixture(scope="module")
def sample_sources(tmp_path_factory):
    return make_sample_sources(tmp_path_factory, 2014, 2014)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, sample_sources):
    """The real components and two Celery workers; stopped (by the pids they were started with) after."""
    script = _load_script()
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    (dags / "alliance_dags.py").write_text(DAGS_FILE)
    metadata, warehouse = new_pg_database(), new_pg_database()
    published = tmp_path_factory.mktemp("published")
    port, log_port = _free_port(), _free_port(span=4)
    broker = _redis_url()
    extra = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW_CONN_ALLIANCE_WAREHOUSE": warehouse,
        "AIRFLOW_VAR_ALLIANCE_SOURCES_DIR": str(sample_sources),
        "ALLIANCE_VAR_DIR": str(home / "var-scheduler"),
        # the one store every worker and reader sees (outside the workers' private var/)
        "AIRFLOW_VAR_ALLIANCE_PUBLISH_BASE": published.as_uri(),
    }
    try:
        env = script.start(home, metadata, port, executor="CeleryExecutor", extra_env=extra, broker=broker,
                           log_port=log_port)
        script.start_worker(1, env, home, queues="extract", log_port=log_port, isolated=True)
        script.start_worker(2, env, home, queues="load", log_port=log_port, isolated=True)
        yield {"script": script, "home": home, "port": port, "warehouse": warehouse, "sources": sample_sources,
               "published": published}
    finally:
        script.stop(home)
        logs = home / "logs"
        for log in sorted(logs.glob("*.log")) if logs.is_dir() else []:
            print(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        for log in sorted(logs.glob("dag_id=*/run_id=*/task_id=*/attempt=*.log")) if logs.is_dir() else []:
            text = log.read_text(errors="replace")
            if '"level":"error"' in text or "Traceback" in text:
                print(f"--- {log.relative_to(logs)} (failed task, tail)\n" + "\n".join(text.splitlines()[-15:]))
        drop_pg_database(metadata)
        drop_pg_database(warehouse)


def _api(cluster, method: str, path: str, body: dict | None = None) -> dict:
    return cluster["script"].api(cluster["port"], cluster["home"], method, path, body)


def _wait_for_dags(cluster, dag_ids, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    missing = set(dag_ids)
    while missing and time.monotonic() < deadline:
        for dag_id in list(missing):
            try:
                _api(cluster, "GET", f"dags/{dag_id}")
                missing.discard(dag_id)
            except urllib.error.HTTPError:
                pass
        time.sleep(2)
    errors = _api(cluster, "GET", "importErrors").get("import_errors", [])
    assert not missing, f"DAGs not parsed after {timeout:.0f} s: {sorted(missing)}; import errors: {errors}"


def _runs(cluster, dag_id: str) -> list[dict]:
    return _api(cluster, "GET", f"dags/{dag_id}/dagRuns?order_by=start_date&limit=100")["dag_runs"]


def _task_states(cluster, dag_id: str, run_id: str) -> dict[str, str]:
    tis = _api(cluster, "GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def _settled(runs: list[dict]) -> bool:
    return all(run["state"] in ("success", "failed") for run in runs)


def _wait_until_settled(cluster, dag_ids, timeout: float = 600, quiet_seconds: float = 20) -> dict[str, list[dict]]:
    """Poll until every run of ``dag_ids`` has ended and no new run appeared for ``quiet_seconds``."""
    deadline = time.monotonic() + timeout
    seen, quiet_since = None, None
    while time.monotonic() < deadline:
        runs = {dag_id: _runs(cluster, dag_id) for dag_id in dag_ids}
        state = {d: [(r["dag_run_id"], r["state"]) for r in rs] for d, rs in runs.items()}
        if all(_settled(rs) for rs in runs.values()):
            if state != seen:
                seen, quiet_since = state, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_seconds:
                return runs
        else:
            seen = None
        time.sleep(3)
    raise AssertionError(f"runs did not settle in {timeout:.0f} s: {state}")


def _ledger_fingerprint(url: str) -> dict[str, tuple[int, int, str]]:
    """Per force: lines, the sum of their pence, and a digest of every (line, pence) pair."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            if url.startswith("postgresql"):
                conn.execute(sa.text("SET search_path TO alliance, public"))
            rows = conn.execute(sa.text("SELECT force_code, source_line_ref, amount_pence FROM fact_ledger_line "
                                        "ORDER BY force_code, source_line_ref")).all()
    finally:
        engine.dispose()
    result: dict[str, list] = {}
    for force, ref, pence in rows:
        result.setdefault(force, []).append((ref, int(pence)))
    return {force: (len(lines), sum(p for _, p in lines),
                    hashlib.sha256(repr(lines).encode()).hexdigest()) for force, lines in result.items()}


def test_force_dags_and_consolidation_on_workers_that_share_no_disk(cluster, tmp_path):
    _wait_for_dags(cluster, [*FORCE_DAGS, CONSOLIDATION])
    _api(cluster, "PATCH", f"dags/{CONSOLIDATION}", {"is_paused": False})
    for dag_id in FORCE_DAGS:
        # unpausing also schedules the latest night at once; the manual run then finds nothing new
        _api(cluster, "PATCH", f"dags/{dag_id}", {"is_paused": False})
        _api(cluster, "POST", f"dags/{dag_id}/dagRuns", {"logical_date": None})

    runs = _wait_until_settled(cluster, [*FORCE_DAGS, CONSOLIDATION])
    for dag_id in FORCE_DAGS:
        assert runs[dag_id], f"{dag_id} never ran"
        for run in runs[dag_id]:
            assert run["state"] == "success", (dag_id, run["dag_run_id"],
                                               _task_states(cluster, dag_id, run["dag_run_id"]))
    consolidations = runs[CONSOLIDATION]
    assert consolidations, "the scheduler never started the consolidation DAG from the ledgers' Asset events"
    assert all(run["run_type"] == "asset_triggered" for run in consolidations)
    for run in consolidations:
        assert run["state"] == "success", (run["dag_run_id"], _task_states(cluster, CONSOLIDATION, run["dag_run_id"]))

    # every load ran on worker 2, which never read a source nor validated: nothing passed through a disk
    worker_logs = {i: (cluster["home"] / "logs" / f"worker-{i}.log").read_text(errors="replace") for i in (1, 2)}
    assert "task_id='load'" in worker_logs[2] and "task_id='load'" not in worker_logs[1]
    assert "task_id='extract_and_validate'" in worker_logs[1]

    # the warehouse equals a CLI run on the same sources, to the penny
    cli_warehouse = f"sqlite:///{tmp_path / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "alliance_finance.cli", "run", "--sources", str(cluster["sources"]),
                          "--warehouse", cli_warehouse], capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, ALLIANCE_VAR_DIR=str(tmp_path / "cli-var")))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    scheduled, cli = _ledger_fingerprint(cluster["warehouse"]), _ledger_fingerprint(cli_warehouse)
    assert set(scheduled) == {"ASC", "WP"}
    assert scheduled == cli

    # the report and the Data Docs were published to the shared store, the Data Docs with the results
    # validated on worker 1 rendered by worker 2
    for what, page in (("report", "alliance_finance.xlsx"), ("data_docs", "index.html")):
        latest = cluster["published"] / what / (cluster["published"] / what / "LATEST").read_text().strip()
        assert (latest / "index.html").is_file() and (latest / page).is_file(), what
    assert list((latest / "validations").rglob("*.html")), "no validation page in the published Data Docs"
