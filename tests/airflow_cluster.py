"""Helpers shared by the tests that run the real Airflow components (test_airflow_deadline.py,
test_airflow_scheduler.py): starting them with scripts/airflow_local.py on free ports, the environment
every such cluster needs, stopping it (by the pids it was started with) and showing its logs, and
polling its REST API."""

from __future__ import annotations

import contextlib
import importlib.util
import time
import urllib.error
from pathlib import Path

from conftest import drop_pg_database

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    """scripts/airflow_local.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("airflow_local", ROOT / "scripts" / "airflow_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port(span: int = 1) -> int:
    """A port p such that p .. p+span-1 are free now (scripts/airflow_local.py's)."""
    return load_script().free_port(span)


def base_env(dags: Path, warehouse: str, sources: Path, var_dir: Path) -> dict[str, str]:
    """What every test cluster sets: its DAG folder (rescanned every 5 s), its warehouse, its sources
    and its ``var/``; each test adds its own settings to it."""
    return {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW_CONN_ALLIANCE_WAREHOUSE": warehouse,
        "AIRFLOW_VAR_ALLIANCE_SOURCES_DIR": str(sources),
        "ALLIANCE_VAR_DIR": str(var_dir),
    }


@contextlib.contextmanager
def stopped_after(script, home: Path, *databases: str):
    """On leaving: stop the components started under ``home`` (only those, by their pids), print the
    tail of each component's log and of every failed task's, and drop ``databases``."""
    try:
        yield
    finally:
        script.stop(home)
        logs = home / "logs"
        for log in sorted(logs.glob("*.log")) if logs.is_dir() else []:
            print(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        for log in sorted(logs.glob("dag_id=*/run_id=*/task_id=*/attempt=*.log")) if logs.is_dir() else []:
            text = log.read_text(errors="replace")
            if '"level":"error"' in text or "Traceback" in text:
                print(f"--- {log.relative_to(logs)} (failed task, tail)\n" + "\n".join(text.splitlines()[-15:]))
        for url in databases:
            drop_pg_database(url)


def api(cluster, method: str, path: str, body: dict | None = None) -> dict:
    """A call to the cluster's REST API v2 (``cluster``: the fixture's dict with script, port, home)."""
    return cluster["script"].api(cluster["port"], cluster["home"], method, path, body)


def wait(what: str, probe, timeout: float, every: float = 2):
    """Poll ``probe`` until it returns something truthy, and return that; fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout:.0f} s")


def wait_for_dags(cluster, dag_ids, timeout: float = 180) -> None:
    """Until the dag-processor has parsed every one of ``dag_ids`` (the failure names the import errors)."""
    missing = set(dag_ids)

    def parsed() -> bool:
        for dag_id in list(missing):
            try:
                api(cluster, "GET", f"dags/{dag_id}")
                missing.discard(dag_id)
            except urllib.error.HTTPError:
                pass
        return not missing

    try:
        wait("DAGs parsed", parsed, timeout)
    except AssertionError:
        errors = api(cluster, "GET", "importErrors").get("import_errors", [])
        raise AssertionError(f"DAGs not parsed after {timeout:.0f} s: {sorted(missing)}; "
                             f"import errors: {errors}") from None
