"""A one-year backfill through the scheduler and two Celery workers, against the CLI on the same sources (issue #13).

``make bench-airflow`` runs this. One fiscal year of sample sources (``alliance-finance generate``,
FY 2016 at scale 1 by default: about 100,000 lines, kept in ``--data`` and reused, as
``bench/run_bench.py`` keeps its own) is loaded twice, back to back, into fresh PostgreSQL warehouses:

1. the CLI: ``alliance-finance run --sources DIR --warehouse postgresql://...`` (wall time), then
   ``alliance-finance report`` (the board report, which the consolidation DAG builds too); and
   ``run --parallel`` (the forces side by side, as their DAGs run) into another fresh warehouse;
2. Airflow: the real components started by ``scripts/airflow_local.py`` (api-server, scheduler,
   dag-processor, triggerer) with the CeleryExecutor, a fresh metadata database, Redis as the broker
   and two ``airflow celery worker`` processes, each with its own ``ALLIANCE_VAR_DIR`` on a private
   tmpfs (``unshare -m``, root only; without root the workers share the disk and a note says so). The
   project's own DAG files (``dags/``) are parsed; both force DAGs are unpaused and triggered through
   the REST API v2 and the runs are polled until they and the Asset-triggered consolidation have
   settled. Times come from the metadata database through the API: trigger to the force runs' end,
   to the consolidation's end, and every task instance's queued/start/end, so the figure shows what is
   scheduling and what is work.

Both warehouses must hold the same ledger to the penny (lines, sum of pence and a digest of every
(line, pence) pair per force), else it fails loudly. Every process it started is stopped by pid
(``airflow_local.stop``), every database it created is dropped. The results go into
``docs/performance.json`` under ``airflow_backfill`` and ``docs/performance.md`` is rewritten from
that file (``bench/report.py``: only its section 8 changes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import run_bench  # noqa: E402 - the benchmark's helpers: sample data, throwaway databases, measured runs
from run_bench import PYTHON, Postgres, generated, load_average, log, machine, migrate, pipeline_run  # noqa: E402

FORCE_DAGS = ("alliance_ledger_asc", "alliance_ledger_wp")
CONSOLIDATION = "alliance_consolidation"
FORCE_TASKS = ("find_pending", "extract_and_validate", "load", "publish", "report_rejections")
CONSOLIDATION_TASKS = ("refresh_marts", "build_report", "build_data_docs", "record_freshness")


def load_script():
    """scripts/airflow_local.py, imported as tests/test_airflow_scheduler.py imports it."""
    spec = importlib.util.spec_from_file_location("airflow_local", ROOT / "scripts" / "airflow_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- small helpers (after tests/test_airflow_scheduler.py) -------------------------------------------

def parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return round((end - start).total_seconds(), 2) if start and end else None


class Cluster:
    """The REST API of the components started under ``home``."""

    def __init__(self, script, home: Path, port: int):
        self.script, self.home, self.port = script, home, port

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        return self.script.api(self.port, self.home, method, path, body)

    def wait_for_dags(self, dag_ids, timeout: float = 300) -> float:
        started = time.monotonic()
        deadline = started + timeout
        missing = set(dag_ids)
        while missing and time.monotonic() < deadline:
            for dag_id in list(missing):
                try:
                    self.api("GET", f"dags/{dag_id}")
                    missing.discard(dag_id)
                except urllib.error.HTTPError:
                    pass
            if missing:
                time.sleep(1)
        if missing:
            errors = self.api("GET", "importErrors").get("import_errors", [])
            raise RuntimeError(f"DAGs not parsed after {timeout:.0f} s: {sorted(missing)}; import errors: {errors}")
        return time.monotonic() - started

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns?order_by=start_date&limit=100")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str):
        try:
            entry = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/"
                                    "return_value?deserialize=true")
        except urllib.error.HTTPError:
            return None
        value = entry.get("value")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def wait_until_settled(self, dag_ids, timeout: float, quiet_seconds: float = 20) -> dict[str, list[dict]]:
        """Poll until every run of ``dag_ids`` has ended and no new run appeared for ``quiet_seconds``
        (the consolidation starts only after a force run publishes)."""
        deadline = time.monotonic() + timeout
        seen, quiet_since, state = None, None, None
        while time.monotonic() < deadline:
            runs = {dag_id: self.runs(dag_id) for dag_id in dag_ids}
            state = {d: [(r["dag_run_id"], r["state"]) for r in rs] for d, rs in runs.items()}
            settled = all(r["state"] in ("success", "failed") for rs in runs.values() for r in rs)
            if settled and all(runs[d] for d in FORCE_DAGS):
                if state != seen:
                    seen, quiet_since = state, time.monotonic()
                elif time.monotonic() - quiet_since >= quiet_seconds:
                    return runs
            else:
                seen = None
            time.sleep(2)
        raise RuntimeError(f"runs did not settle in {timeout:.0f} s: {state}")


# --- the ledger, to the penny ------------------------------------------------------------------------------------

def fingerprint(url: str) -> dict[str, dict]:
    """Per force: lines, the sum of their pence (zero for a balanced ledger), the sum of the debits, and
    an MD5 of every (line, pence) pair in line order."""
    with run_bench.psycopg_connect(url) as conn:
        rows = conn.execute(
            "SELECT force_code, count(*), sum(amount_pence), sum(amount_pence) FILTER (WHERE amount_pence > 0), "
            "md5(string_agg(source_line_ref || '=' || amount_pence::text, ',' ORDER BY source_line_ref)) "
            "FROM alliance.fact_ledger_line GROUP BY force_code ORDER BY force_code").fetchall()
    return {force: {"lines": lines, "pence": int(pence), "debit_pence": int(debits), "digest": digest}
            for force, lines, pence, debits, digest in rows}


# --- the two sides -------------------------------------------------------------------------------------------------

def cli_side(source: Path, pg: Postgres, env: dict, work: Path, label: str) -> tuple[dict, str]:
    """``alliance-finance run`` then ``alliance-finance report`` into a fresh, prepared warehouse, and
    ``run --parallel`` into another; the first warehouse is returned (the caller drops it after the
    comparison)."""
    url = pg.create()
    migrate(url, env)  # as run_bench does: the timed run measures loading, not creating the schema
    run = pipeline_run(source, url, env, work, label)
    report = run_bench.run_measured([PYTHON, "-m", "alliance_finance.cli", "report", "--warehouse", url,
                                     "--out", str(work / f"{label}-report")], env, work / f"{label}-report.log")
    if report["exit"] != 0:
        raise RuntimeError(f"{label}: alliance-finance report exited {report['exit']} (log {work / f'{label}-report.log'})")
    log(f"{label}: report {report['seconds']:.1f} s")
    # the forces side by side, as their DAGs run (into a warehouse of its own, which must agree too)
    parallel_url = pg.create()
    try:
        migrate(parallel_url, env)
        parallel = pipeline_run(source, parallel_url, env, work, f"{label}-parallel", extra=("--parallel",))
        parallel_ledger = fingerprint(parallel_url)
    finally:
        pg.drop(parallel_url)
    if parallel_ledger != fingerprint(url):
        raise RuntimeError(f"{label}: run --parallel loaded a different ledger from run: {parallel_ledger}")
    return {"run_seconds": run["seconds"], "report_seconds": report["seconds"],
            "parallel_seconds": parallel["seconds"], "parallel_load_average": parallel["load_average"],
            "total_seconds": round(run["seconds"] + report["seconds"], 2), "lines": run["lines"],
            "lines_loaded": run["lines_loaded"], "stages": run["stages"], "peak_mb": run["peak_mb"],
            "user_seconds": run["user_seconds"], "system_seconds": run["system_seconds"],
            "load_average": run["load_average"]}, url


def isolation_available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "not root: unshare -m needs root"
    if shutil.which("unshare") is None:
        return False, "no unshare command"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return False, f"unshare -m failed: {probe.stderr.strip()}"
    return True, "each worker's var/ on a private tmpfs in its own mount namespace (unshare -m)"


def airflow_side(source: Path, pg: Postgres, env: dict, work: Path, label: str, broker: str,
                 timeout: float, isolate: bool = True) -> tuple[dict, str]:
    """The backfill through the real components; returns the timings and the warehouse (dropped by the caller)."""
    import redis

    script = load_script()
    home = work / label
    home.mkdir(parents=True)
    metadata = pg.create()
    warehouse = pg.create()
    redis.Redis.from_url(broker, socket_connect_timeout=5).flushdb()
    migrate(warehouse, env)  # the same prepared state as the CLI's warehouse
    isolated, isolation_note = isolation_available() if isolate else (False, "--no-isolate given")
    if not isolated:
        log(f"NOTE: workers not isolated ({isolation_note}); they share this machine's disk")
    port, log_port = script.free_port(), script.free_port(span=4)
    extra = {
        # parse quickly after start (before the trigger, so outside every timed figure)
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_ALLIANCE_WAREHOUSE": warehouse,
        "AIRFLOW_VAR_ALLIANCE_SOURCES_DIR": str(source),
        "ALLIANCE_VAR_DIR": str(home / "var-scheduler"),
        # bytecode cached as for the CLI run (the deployment case)
        "PYTHONPYCACHEPREFIX": env["PYTHONPYCACHEPREFIX"],
        "PYTHONDONTWRITEBYTECODE": "",
    }
    result: dict = {"isolated_workers": isolated, "isolation": isolation_note, "broker": broker}
    try:
        started = time.monotonic()
        airflow_env = script.start(home, metadata, port, executor="CeleryExecutor", extra_env=extra,
                                   broker=broker, log_port=log_port)
        for index in (1, 2):
            script.start_worker(index, airflow_env, home, queues="default", log_port=log_port, isolated=isolated)
        cluster = Cluster(script, home, port)
        parse_seconds = cluster.wait_for_dags([*FORCE_DAGS, CONSOLIDATION])
        result["startup_seconds"] = round(time.monotonic() - started, 1)
        log(f"{label}: components healthy and DAGs parsed in {result['startup_seconds']:.0f} s "
            f"(parse wait {parse_seconds:.0f} s); load average {load_average()}")
        wait_workers(home, started_timeout=120)

        trigger = dt.datetime.now(dt.timezone.utc)
        trigger_load = load_average()
        cluster.api("PATCH", f"dags/{CONSOLIDATION}", {"is_paused": False})
        for dag_id in FORCE_DAGS:
            # unpausing schedules the latest night at once (that run loads everything pending); the
            # manual run queues behind it (max_active_runs=1) and finds nothing new
            cluster.api("PATCH", f"dags/{dag_id}", {"is_paused": False})
            cluster.api("POST", f"dags/{dag_id}/dagRuns", {"logical_date": None})
        log(f"{label}: triggered at {trigger:%H:%M:%S}")
        runs = cluster.wait_until_settled([*FORCE_DAGS, CONSOLIDATION], timeout=timeout)
        result.update(summarise(cluster, runs, trigger))
        result["trigger_load_average"] = trigger_load
        result["load_average"] = load_average()
        failed = [(d, r["dag_run_id"]) for d, rs in runs.items() for r in rs if r["state"] != "success"]
        if failed:
            raise RuntimeError(f"{label}: runs failed: {failed} (logs under {home / 'logs'})")
        return result, warehouse
    except BaseException:
        pg.drop(warehouse)
        raise
    finally:
        stopped = script.stop(home)
        log(f"{label}: stopped {', '.join(stopped)}")
        pg.drop(metadata)
        redis.Redis.from_url(broker, socket_connect_timeout=5).flushdb()


def wait_workers(home: Path, started_timeout: float) -> None:
    """Wait until both Celery workers say they are ready (a trigger before would time their start-up)."""
    deadline = time.monotonic() + started_timeout
    while time.monotonic() < deadline:
        logs = [home / "logs" / f"worker-{i}.log" for i in (1, 2)]
        if all(p.is_file() and " ready." in p.read_text(errors="replace") for p in logs):
            return
        time.sleep(1)
    raise RuntimeError(f"Celery workers not ready after {started_timeout:.0f} s: see {home / 'logs'}")


def workers_by_log(home: Path) -> dict[str, str]:
    """Which Celery worker ran each task attempt (its log path, from the worker's own log)."""
    found = {}
    for index in (1, 2):
        path = home / "logs" / f"worker-{index}.log"
        text = path.read_text(errors="replace") if path.is_file() else ""
        for match in re.finditer(r"Executing workload in Celery: .*?log_path='([^']+)'", text):
            found[match.group(1)] = f"worker-{index}"
    return found


def task_log_split(home: Path, log_path: str, start: dt.datetime | None, end: dt.datetime | None) -> dict:
    """A task attempt's time from its own log: the task runner's start-up (from the task instance's start
    to the end of its "Pre Execute" group: the SDK's imports, the DAG file parsed again), the task's
    code (the project's function, with its own imports: pandas, Great Expectations, SQLAlchemy), and
    what follows ("Post Execute": XCom pushed, state reported)."""
    path = home / "logs" / log_path
    if not path.is_file() or start is None or end is None:
        return {}
    pre_end = post_start = None
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        event, stamp = str(record.get("event", "")), parse_time(record.get("timestamp"))
        if event == "::endgroup::" and pre_end is None:
            pre_end = stamp
        elif event == "::group::Post Execute" and post_start is None:
            post_start = stamp
    if pre_end is None or post_start is None:
        return {}
    return {"runner_startup": seconds_between(start, pre_end), "task_code": seconds_between(pre_end, post_start),
            "post_execute": seconds_between(post_start, end)}


def execution_api_calls(home: Path) -> dict:
    """The api-server's answers to the workers (``/execution/...``, from its access log): how many, the
    slowest, and how many took longer than the SDK client's 5-second timeout (the client then retries)."""
    path = home / "logs" / "api-server.log"
    text = path.read_text(errors="replace") if path.is_file() else ""
    calls = [(int(us) / 1e6, method, re.sub(r"/[0-9a-f-]{36}", "/{id}", route)) for us, method, route in re.findall(
        r"duration_us=(\d+) .*?method=([A-Z]+) path=(/execution/\S+)", text)]
    retries = sum(len(re.findall(r"Starting call to 'airflow\.sdk\.api\.client\.Client\.request', this is the "
                                 r"(?!1st)", (home / "logs" / f"worker-{i}.log").read_text(errors="replace")))
                  for i in (1, 2) if (home / "logs" / f"worker-{i}.log").is_file())
    slow = sorted(calls, reverse=True)[:3]
    return {"calls": len(calls), "slowest": [{"seconds": round(sec, 2), "request": f"{m} {r}"} for sec, m, r in slow],
            "over_5s": sum(1 for sec, _, _ in calls if sec > 5), "client_retries": retries}


def summarise(cluster: Cluster, runs: dict[str, list[dict]], trigger: dt.datetime) -> dict:
    """Every run and task instance, in seconds from the trigger; and where each run's time went."""
    out: dict = {"runs": []}
    workers = workers_by_log(cluster.home)
    for dag_id in (*FORCE_DAGS, CONSOLIDATION):
        for run in sorted(runs[dag_id], key=lambda r: r["queued_at"] or ""):
            tis = {ti["task_id"]: ti for ti in cluster.task_instances(dag_id, run["dag_run_id"])}
            queued, start, end = (parse_time(run[k]) for k in ("queued_at", "start_date", "end_date"))
            entry = {
                "dag_id": dag_id, "run_id": run["dag_run_id"], "run_type": run["run_type"], "state": run["state"],
                "queued": seconds_between(trigger, queued), "start": seconds_between(trigger, start),
                "end": seconds_between(trigger, end), "seconds": seconds_between(start, end), "tasks": {},
            }
            order = FORCE_TASKS if dag_id in FORCE_DAGS else CONSOLIDATION_TASKS
            for task_id in order:
                ti = tis.get(task_id)
                if ti is None:
                    continue
                t_queued, t_start, t_end = (parse_time(ti[k]) for k in ("queued_when", "start_date", "end_date"))
                log_path = (f"dag_id={dag_id}/run_id={run['dag_run_id']}/task_id={task_id}/"
                            f"attempt={ti['try_number']}.log")
                entry["tasks"][task_id] = {
                    "state": ti["state"], "worker": workers.get(log_path), "try_number": ti["try_number"],
                    "queued": seconds_between(trigger, t_queued), "start": seconds_between(trigger, t_start),
                    "end": seconds_between(trigger, t_end), "seconds": seconds_between(t_start, t_end),
                    **task_log_split(cluster.home, log_path, t_start, t_end),
                }
            if dag_id in FORCE_DAGS:
                loaded = cluster.xcom(dag_id, run["dag_run_id"], "load")
                if isinstance(loaded, dict):
                    entry["lines_loaded"] = loaded.get("lines_loaded")
                    entry["batches_loaded"] = len(loaded.get("loaded") or [])
                entry["loading"] = (entry["tasks"].get("publish") or {}).get("state") == "success"
            entry["breakdown"] = breakdown(entry)
            out["runs"].append(entry)
    loading = [r for r in out["runs"] if r["dag_id"] in FORCE_DAGS and r.get("loading")]
    force_runs = [r for r in out["runs"] if r["dag_id"] in FORCE_DAGS]
    consolidations = [r for r in out["runs"] if r["dag_id"] == CONSOLIDATION]
    if {r["dag_id"] for r in loading} != set(FORCE_DAGS):
        raise RuntimeError(f"not every force DAG had a run that loaded: {[(r['dag_id'], r['run_id']) for r in force_runs]}")
    out["force_runs_end"] = max(r["end"] for r in loading)
    out["all_force_runs_end"] = max(r["end"] for r in force_runs)
    out["consolidation_end"] = max((r["end"] for r in consolidations), default=None)
    out["consolidation_runs"] = len(consolidations)
    out["lines_loaded"] = sum(r.get("lines_loaded") or 0 for r in loading)
    # where the loading runs' time went: in a task, or between tasks (scheduling and hand-over)
    out["task_seconds"] = {r["dag_id"]: {t: v["seconds"] for t, v in r["tasks"].items()} for r in loading}
    noop = [r for r in force_runs if not r.get("loading")]
    out["noop_task_seconds"] = {r["dag_id"]: {t: v["seconds"] for t, v in r["tasks"].items()} for r in noop}
    out["execution_api"] = execution_api_calls(cluster.home)
    return out


def breakdown(entry: dict) -> dict:
    """A run's wall time split: trigger/queue to start, time inside tasks on the critical path, and the
    gaps between one task's end and the next one's start (scheduler loop, Celery, worker pick-up)."""
    tasks = [t for t in entry["tasks"].values() if t["start"] is not None and t["end"] is not None]
    if not tasks or entry["start"] is None or entry["end"] is None:
        return {}
    # the critical path: walk back from the last task to end, each time to the task that ended last
    # before it started (the DAGs are chains with one fan-out, so this is the chain that set the time)
    chain = [max(tasks, key=lambda t: t["end"])]
    while True:
        before = [t for t in tasks if t["end"] <= chain[-1]["start"] + 1e-6]
        if not before:
            break
        chain.append(max(before, key=lambda t: t["end"]))
    chain.reverse()
    in_tasks = sum(t["seconds"] for t in chain)
    waits = [round(chain[0]["start"] - entry["start"], 2)] + [round(b["start"] - a["end"], 2)
                                                               for a, b in zip(chain, chain[1:])]
    split = {part: round(sum(t.get(part) or 0 for t in chain), 2)
             for part in ("runner_startup", "task_code", "post_execute")}
    return {"queued_to_start": round(entry["start"] - entry["queued"], 2) if entry["queued"] is not None else None,
            "in_tasks": round(in_tasks, 2), **split, "between_tasks": round(sum(waits), 2),
            "after_last_task": round(entry["end"] - chain[-1]["end"], 2), "critical_path_tasks": len(chain)}


# --- the report -----------------------------------------------------------------------------------------------------

def print_table(rep: dict) -> None:
    cli, air = rep["cli"], rep["airflow"]
    print(f"\nFY {rep['spec']['from_fy']} at scale {rep['spec']['scale']}: {rep['lines']:,} lines; "
          f"load average at start {rep['load_average_start']}")
    print(f"{'':40} {'seconds':>10}")
    print(f"{'CLI: alliance-finance run':40} {cli['run_seconds']:>10.1f}")
    print(f"{'CLI: + alliance-finance report':40} {cli['total_seconds']:>10.1f}")
    print(f"{'CLI: alliance-finance run --parallel':40} {cli['parallel_seconds']:>10.1f}")
    print(f"{'Airflow: trigger to force runs end':40} {air['force_runs_end']:>10.1f}")
    if air.get("consolidation_end") is not None:
        print(f"{'Airflow: trigger to consolidation end':40} {air['consolidation_end']:>10.1f}")
    for run in air["runs"]:
        what = "loading" if run.get("loading") else ("no-op" if run["dag_id"] in FORCE_DAGS else "")
        print(f"  {run['dag_id']} {run['run_type']} {what}: start {run['start']} end {run['end']} "
              f"({run['seconds']} s; in tasks {run['breakdown'].get('in_tasks')}, between "
              f"{run['breakdown'].get('between_tasks')})")
        for task_id, ti in run["tasks"].items():
            print(f"    {task_id:24} queued {ti['queued']!s:>7} start {ti['start']!s:>7} end {ti['end']!s:>7} "
                  f"= {ti['seconds']!s:>6} s (runner start-up {ti.get('runner_startup')}, task code "
                  f"{ti.get('task_code')})  {ti['state']} on {ti['worker']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fy", type=int, default=2016, help="the fiscal year to generate (default 2016)")
    parser.add_argument("--scale", default="1", help="generator scale (default 1: about 100,000 lines a year)")
    parser.add_argument("--repeat", type=int, default=1, help="CLI then Airflow, this many times (best kept)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ALLIANCE_BENCH_DATA", "/tmp/bench-data")),
                        help="where generated sample data is kept and reused (default /tmp/bench-data)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("ALLIANCE_TEST_PG_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL role that may create databases (throwaway ones, dropped after)")
    parser.add_argument("--broker", default=os.environ.get("ALLIANCE_BENCH_BROKER", "redis://127.0.0.1:6379/15"),
                        help="a Redis database of its own for Celery (flushed before and after; default db 15)")
    parser.add_argument("--no-isolate", action="store_true",
                        help="run the workers without a private var/ each (the default isolates them when root)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the runs to settle")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "performance.json",
                        help="the results JSON to record into (key airflow_backfill)")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "performance.md",
                        help="rewritten from the results JSON (bench/report.py); '-' to leave it alone")
    args = parser.parse_args(argv)

    args.data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="alliance-bench-airflow-", dir=args.data))
    env = dict(os.environ, ALLIANCE_VAR_DIR=str(work / "var"), PYTHONPYCACHEPREFIX=str(work / "pycache"),
               PYTHONUNBUFFERED="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("ALLIANCE_WAREHOUSE_URL", None)
    # bytecode compiled once, before anything is timed (what a deployed image or worker venv has)
    subprocess.run([PYTHON, "-c", "import great_expectations, pandas, alliance_finance.runner.pipeline, "
                    "alliance_finance.validation, alliance_finance.orchestration.tasks, alliance_finance.report, "
                    "airflow.sdk, airflow.sdk.execution_time.task_runner, airflow.providers.celery.executors."
                    "celery_executor"], env=env, check=True, capture_output=True)
    source = generated(args.data, args.fy, args.fy, args.scale, env)
    pg = Postgres(args.pg_admin_url)
    started = time.perf_counter()
    log(f"backfill benchmark: FY {args.fy} at scale {args.scale} from {source}; work folder {work}; "
        f"load average {load_average()}")
    attempts = []
    for attempt in range(1, args.repeat + 1):
        load_start, uptime = load_average(), subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        cli, cli_url = cli_side(source, pg, env, work, f"cli-{attempt}")
        try:
            air, air_url = airflow_side(source, pg, env, work, f"airflow-{attempt}", args.broker, args.timeout,
                                        isolate=not args.no_isolate)
            try:
                ours, theirs = fingerprint(cli_url), fingerprint(air_url)
            finally:
                pg.drop(air_url)
        finally:
            pg.drop(cli_url)
        if ours != theirs or set(ours) != {"ASC", "WP"}:
            print(f"MISMATCH in attempt {attempt}: the warehouses differ\n CLI:     {ours}\n Airflow: {theirs}",
                  file=sys.stderr)
            return 1
        log(f"attempt {attempt}: the warehouses agree to the penny: "
            + "; ".join(f"{f} {v['lines']:,} lines, net {v['pence']:,} pence, debits {v['debit_pence']:,} pence"
                      for f, v in ours.items()))
        attempts.append({"cli": cli, "airflow": air, "ledger": ours, "lines": sum(v["lines"] for v in ours.values()),
                         "load_average_start": load_start, "uptime": uptime,
                         "spec": {"from_fy": args.fy, "to_fy": args.fy, "scale": args.scale}})
        print_table(attempts[-1])

    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    best_cli = min(attempts, key=lambda a: a["cli"]["run_seconds"])
    best_air = min(attempts, key=lambda a: a["airflow"]["force_runs_end"])
    results["airflow_backfill"] = {
        "spec": attempts[0]["spec"], "source": str(source), "lines": attempts[0]["lines"],
        "ledger": attempts[0]["ledger"], "attempts": attempts,
        "best": {"cli_run_seconds": best_cli["cli"]["run_seconds"], "cli_total_seconds": best_cli["cli"]["total_seconds"],
                 "airflow_force_runs_end": best_air["airflow"]["force_runs_end"],
                 "airflow_consolidation_end": best_air["airflow"]["consolidation_end"], "attempt": attempts.index(best_air)},
        "machine": machine(), "postgres": pg.server(),
        "command": f"python bench/airflow_backfill.py --fy {args.fy} --scale {args.scale} --repeat {args.repeat}",
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    args.results.write_text(json.dumps(results, indent=1, default=str))
    if str(args.report) != "-":
        from report import render_report

        args.report.write_text(render_report(results, run_bench.TARGETS))
        log(f"wrote {args.report} (figures in {args.results})")
    if not os.environ.get("ALLIANCE_BENCH_KEEP_WORK"):
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
