"""The DAGs under the real Airflow components, with Celery workers that share no disk.

In the style of Airflow's own end-to-end tests: scripts/airflow_local.py starts the api-server,
scheduler, dag-processor and triggerer from this .venv on a throwaway PostgreSQL metadata database,
and three ``airflow celery worker`` processes on the machine's Redis, each in its own folder with its
own ``ALLIANCE_VAR_DIR`` on a private tmpfs in a mount namespace of its own (``unshare -m``), so
no worker can read what another wrote there, even by absolute path: as on three machines. The DAGs
are the project's, with their tasks sent to two Celery queues: reading and validating on worker 1,
loading and consolidating on workers 2 and 3, so every load runs on a machine that did not validate
its batches. The test unpauses and triggers through the REST API v2 (a token from ``/auth/token``)
and polls the runs to the end. Failure notices go by SMTP to a loopback server the test runs
(``aiosmtpd``, conftest.smtp_loopback).

The tests share the cluster and run in order, each from the state the previous one left:

1. both force DAGs succeed, the consolidation DAG is started by the scheduler from the Asset events
   and succeeds on every run (also the first, when only one force has a ledger), no mail is sent, and
   the warehouse equals a CLI run on the same sources to the penny;
2. a good and a bad ASC delivery arrive (the bad one's control total a penny off) and both force DAGs
   are triggered: the ASC run loads the good one, publishes (the consolidation runs) and fails at
   ``report_rejections``, not retried; one mail reaches the SMTP server naming the DAG, the task, the
   file and the reason; the WP run succeeds;
3. the corrected re-delivery arrives; its load pauses inside the batch's transaction (core/faults.py,
   ``ALLIANCE_FAULT_PAUSE_ONCE``) and the test SIGKILLs the worker running it and every process under
   it (only processes it started). While no worker has the task, the warehouse holds no line of the
   batch, no open transaction and no advisory lock; the scheduler reports the missing heartbeat and
   retries the task, which runs on the other load worker; the run succeeds, and the warehouse equals
   a CLI run on the same sources (which rejects the bad delivery too) to the penny.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import asc_fixtures as asc
from airflow_cluster import api, base_env, free_port, load_script, stopped_after, wait, wait_for_dags
from conftest import _unreachable, make_sample_sources, new_pg_database, smtp_loopback

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FORCE_DAGS = ("alliance_ledger_asc", "alliance_ledger_wp")
ASC_DAG, WP_DAG = FORCE_DAGS
CONSOLIDATION = "alliance_consolidation"
#: the queue of each task: reading and validating on worker 1, the rest on workers 2 and 3
EXTRACT_TASKS = ("find_pending", "extract_and_validate")
#: the workers taking queue "load" (one of them is killed mid-load by the last test)
LOAD_WORKERS = (2, 3)
#: who the failure notices go to (through the test's loopback SMTP server)
ALERT_TO = "finance-oncall@alliance.test"
#: the ASC deliveries the later tests add after the sample's last (April 2016, FY 2016 P1)
GOOD_DAY, BAD_DAY = dt.date(2016, 4, 5), dt.date(2016, 4, 6)
#: the task instance heartbeat timeout (s): how soon the scheduler gives up on a killed worker's task
HEARTBEAT_TIMEOUT = 30

DAGS_FILE = f'''
"""Airflow: the project's DAGs, with reading on queue "extract" and the rest on queue "load" (test only).

Retries wait 5 seconds, not minutes, so a task whose worker was killed is tried again soon.
(The words "airflow" and "dag" must appear: the dag-processor's safe mode skips files without them.)"""
import datetime

from alliance_finance.orchestration.dags import make_consolidation_dag, make_force_dags

_dags = make_force_dags()
_dags["{CONSOLIDATION}"] = make_consolidation_dag()
for _dag in _dags.values():
    for _task in _dag.tasks:
        _task.queue = "extract" if _task.task_id in {EXTRACT_TASKS!r} else "load"
        _task.retry_delay = datetime.timedelta(seconds=5)
globals().update(_dags)
'''


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
def mail():
    """A loopback SMTP server for the whole module: (host, port, messages received)."""
    with smtp_loopback() as sink:
        yield sink


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, sample_sources, mail):
    """The real components and three Celery workers; stopped (by the pids they were started with) after."""
    script = load_script()
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    (dags / "alliance_dags.py").write_text(DAGS_FILE)
    metadata, warehouse = new_pg_database(), new_pg_database()
    published = tmp_path_factory.mktemp("published")
    port, log_port = free_port(), free_port(span=5)
    broker = _redis_url()
    extra = base_env(dags, warehouse, sample_sources, home / "var-scheduler")
    # the one store every worker and reader sees (outside the workers' private var/)
    extra["AIRFLOW_VAR_ALLIANCE_PUBLISH_BASE"] = published.as_uri()
    extra.update(_failure_mail_env(mail))
    # armed by the kill test only: until then the claim file exists, so no load pauses (core/faults.py)
    pause_claim = home / "load-paused-once"
    pause_claim.write_text("not yet\n")
    extra.update(_kill_mid_load_env(pause_claim))
    with stopped_after(script, home, metadata, warehouse):
        env = script.start(home, metadata, port, executor="CeleryExecutor", extra_env=extra, broker=broker,
                           log_port=log_port)
        script.start_worker(1, env, home, queues="extract", log_port=log_port, isolated=True)
        for index in LOAD_WORKERS:
            script.start_worker(index, env, home, queues="load", log_port=log_port, isolated=True)
        yield {"script": script, "home": home, "port": port, "warehouse": warehouse, "sources": sample_sources,
               "mail": mail[2], "pause_claim": pause_claim,
               "published": published}


def _failure_notices(cluster) -> list:
    """The failure notices received (notify.py's subject: "<dag>.<task> failed"), not deadline alerts."""
    return [m for m in cluster["mail"] if " failed (" in str(m["Subject"])]


def _failure_mail_env(mail) -> dict[str, str]:
    """The notifier sends by SMTP (orchestration/notify.py) to the test's loopback server."""
    host, port, _ = mail
    return {
        "AIRFLOW_VAR_ALLIANCE_ALERT_EMAILS": ALERT_TO,
        "AIRFLOW_VAR_ALLIANCE_ALERT_TRANSPORT": "smtp",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({"conn_type": "smtp", "host": host, "port": port, "extra": {
            "disable_tls": True, "disable_ssl": True, "timeout": 30, "retry_limit": 1}}),
    }


def _kill_mid_load_env(pause_claim: Path) -> dict[str, str]:
    """An ASC load pauses inside its batch's transaction (lines inserted, not committed) once the test
    removes ``pause_claim``; only the first task to get there pauses (it writes its pid into the file),
    so the retry runs through. The scheduler gives up on a silent task after HEARTBEAT_TIMEOUT s."""
    return {
        "ALLIANCE_FAULT_PAUSE": "ASC.load.staged",
        "ALLIANCE_FAULT_PAUSE_SECONDS": "900",
        "ALLIANCE_FAULT_PAUSE_ONCE": str(pause_claim),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    }


def _runs(cluster, dag_id: str) -> list[dict]:
    return api(cluster, "GET", f"dags/{dag_id}/dagRuns?order_by=start_date&limit=100")["dag_runs"]


def _task_states(cluster, dag_id: str, run_id: str) -> dict[str, str]:
    tis = api(cluster, "GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
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
    rows = _query(url, "SELECT force_code, source_line_ref, amount_pence FROM fact_ledger_line "
                       "ORDER BY force_code, source_line_ref")
    result: dict[str, list] = {}
    for force, ref, pence in rows:
        result.setdefault(force, []).append((ref, int(pence)))
    return {force: (len(lines), sum(p for _, p in lines),
                    hashlib.sha256(repr(lines).encode()).hexdigest()) for force, lines in result.items()}


def test_force_dags_and_consolidation_on_workers_that_share_no_disk(cluster):
    wait_for_dags(cluster, [*FORCE_DAGS, CONSOLIDATION])
    api(cluster, "PATCH", f"dags/{CONSOLIDATION}", {"is_paused": False})
    for dag_id in FORCE_DAGS:
        # unpausing also schedules the latest night at once; the manual run then finds nothing new
        api(cluster, "PATCH", f"dags/{dag_id}", {"is_paused": False})
        api(cluster, "POST", f"dags/{dag_id}/dagRuns", {"logical_date": None})

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

    # every load ran on worker 2 or 3, which never read a source nor validated: nothing passed through a disk
    worker_logs = {i: _worker_log(cluster, i) for i in (1, *LOAD_WORKERS)}
    assert any("task_id='load'" in worker_logs[i] for i in LOAD_WORKERS) and "task_id='load'" not in worker_logs[1]
    assert "task_id='extract_and_validate'" in worker_logs[1]
    # (the run scheduled on unpausing is for last night: its 07:00 deadline has passed, so a missed-deadline
    # alert for it is right; a failure notice is not)
    assert not _failure_notices(cluster), "a green night sent a failure notice"

    # the warehouse equals a CLI run on the same sources, to the penny
    _assert_equals_a_cli_run(cluster)


def test_a_rejected_delivery_fails_report_rejections_and_is_mailed_while_the_other_force_succeeds(cluster):
    """A good and a bad ASC delivery arrive (the bad one's control file is a penny off): the ASC run
    loads the good one and fails at report_rejections, which mails who is on call naming the file and
    why; the WP run that night succeeds."""
    inbound = cluster["sources"] / "avon_somerset" / "inbound"
    before = {dag_id: {r["dag_run_id"] for r in _runs(cluster, dag_id)} for dag_id in (*FORCE_DAGS, CONSOLIDATION)}
    lines_before = _ledger_fingerprint(cluster["warehouse"])
    asc.write_delivery(inbound, asc.asc_document("1000000001", "1,234.56", GOOD_DAY), business_date=GOOD_DAY)
    bad = asc.write_delivery(inbound, _bad_day_documents(), business_date=BAD_DAY, control={"total_debit": "12445.72"})
    for dag_id in FORCE_DAGS:
        api(cluster, "POST", f"dags/{dag_id}/dagRuns", {"logical_date": None})

    runs = _wait_until_settled(cluster, [*FORCE_DAGS, CONSOLIDATION])
    new = {dag_id: [r for r in rs if r["dag_run_id"] not in before[dag_id]] for dag_id, rs in runs.items()}
    [asc_run], [wp_run] = new[ASC_DAG], new[WP_DAG]
    asc_tasks = _task_states(cluster, ASC_DAG, asc_run["dag_run_id"])
    assert (asc_run["state"], asc_tasks) == ("failed", {
        "find_pending": "success", "extract_and_validate": "success", "load": "success", "publish": "success",
        "report_rejections": "failed"})
    [rejection_try] = {ti["try_number"] for ti in _task_instances(cluster, ASC_DAG, asc_run["dag_run_id"])
                       if ti["task_id"] == "report_rejections"}
    assert rejection_try == 1, "a rejected delivery is not retried"
    # the other force is untouched by it: its run succeeds (nothing new, so nothing to publish)
    assert (wp_run["state"], _task_states(cluster, WP_DAG, wp_run["dag_run_id"])) == ("success", {
        "find_pending": "success", "extract_and_validate": "success", "load": "success", "publish": "skipped",
        "report_rejections": "success"})
    # the good delivery was loaded and published: the consolidation ran on it
    assert [r["state"] for r in new[CONSOLIDATION]] == ["success"]

    # the warehouse: the good delivery's two lines in, nothing of the bad one
    lines_after = _ledger_fingerprint(cluster["warehouse"])
    assert lines_after["WP"] == lines_before["WP"]
    assert lines_after["ASC"][:2] == (lines_before["ASC"][0] + 2, lines_before["ASC"][1])  # balanced: +0 pence
    assert _batch_statuses(cluster["warehouse"], bad.name) == ["rejected"]
    assert _batch_statuses(cluster["warehouse"], asc.delivery_name(GOOD_DAY)) == ["loaded"]

    # one mail, by real SMTP, naming the DAG, the task, the file and the reason
    [message] = _failure_notices(cluster)
    assert message["X-Envelope-To"] == ALERT_TO
    assert f"{ASC_DAG}.report_rejections failed" in message["Subject"]
    body = html.unescape(message.get_body(preferencelist=("html", "plain")).get_content())
    assert bad.name in body
    assert ("total debit of the file's lines is 12,445.73, expected 12,445.72 as its control file "
            f"{bad.with_suffix('.ctl').name} says (total_debit=), a difference of 0.01") in body, body
    assert "The good batches of this run are loaded" in body


def test_a_worker_killed_mid_load_leaves_no_half_batch_and_the_retry_completes_on_another_worker(cluster):
    """The corrected re-delivery of the rejected day is loaded; its load pauses inside the batch's
    transaction (lines inserted, not committed) and the test SIGKILLs the worker running it, with
    every process under it. Nothing of the batch is in the warehouse and the force's lock is free;
    the scheduler finds the task's heartbeat missing and retries it, on the other load worker, and
    the run succeeds with the warehouse equal to a CLI run's."""
    warehouse = cluster["warehouse"]
    inbound = cluster["sources"] / "avon_somerset" / "inbound"
    before = {dag_id: {r["dag_run_id"] for r in _runs(cluster, dag_id)} for dag_id in (ASC_DAG, CONSOLIDATION)}
    lines_before = _ledger_fingerprint(warehouse)
    corrected = asc.write_delivery(inbound, _bad_day_documents(), business_date=BAD_DAY, sequence=2)
    claim = cluster["pause_claim"]
    claim.unlink()  # armed: the next ASC load to reach "lines inserted" pauses there
    api(cluster, "POST", f"dags/{ASC_DAG}/dagRuns", {"logical_date": None})

    task_pid = _wait_for_pause(claim)
    worker = _worker_running(cluster, task_pid)
    assert worker in LOAD_WORKERS
    run_id = _running_run(cluster, ASC_DAG, before[ASC_DAG])
    [paused] = [ti for ti in _task_instances(cluster, ASC_DAG, run_id) if ti["task_id"] == "load"]
    assert (paused["state"], paused["try_number"], paused["pid"]) == ("running", 1, task_pid), paused
    # paused mid-transaction: the batch's lines are inserted but not visible, the force's lock is held
    assert _idle_in_transaction(warehouse) >= 1
    assert _advisory_locks(warehouse) >= 1
    assert _ledger_fingerprint(warehouse) == lines_before

    _kill_worker(cluster, worker)
    wait("the killed load's transaction and locks gone with its connection",
         lambda: _idle_in_transaction(warehouse) == 0 and _advisory_locks(warehouse) == 0, 120, every=1)
    # while no worker has it: nothing of the batch in flight is in the warehouse
    assert _ledger_fingerprint(warehouse) == lines_before
    assert _batch_statuses(warehouse, corrected.name) == []

    runs = _wait_until_settled(cluster, [ASC_DAG, CONSOLIDATION], timeout=600)
    [asc_run] = [r for r in runs[ASC_DAG] if r["dag_run_id"] not in before[ASC_DAG]]
    assert asc_run["dag_run_id"] == run_id
    assert asc_run["state"] == "success", _task_states(cluster, ASC_DAG, run_id)
    [load] = [ti for ti in _task_instances(cluster, ASC_DAG, run_id) if ti["task_id"] == "load"]
    assert load["try_number"] == 2, load
    scheduler_log = (cluster["home"] / "logs" / "scheduler.log").read_text(errors="replace")
    assert "Detected a task instance without a heartbeat" in scheduler_log
    # the first try ran on the killed worker, the retry on the surviving one
    [survivor] = [i for i in LOAD_WORKERS if i != worker]
    attempt = f"log_path='dag_id={ASC_DAG}/run_id={run_id}/task_id=load/attempt="
    assert attempt + "1.log'" in _worker_log(cluster, worker)
    assert attempt + "2.log'" in _worker_log(cluster, survivor)
    assert [r["state"] for r in runs[CONSOLIDATION] if r["dag_run_id"] not in before[CONSOLIDATION]] == ["success"]

    assert _batch_statuses(warehouse, corrected.name) == ["loaded"]
    assert _ledger_fingerprint(warehouse)["ASC"][0] == lines_before["ASC"][0] + len(_bad_day_documents())
    _assert_equals_a_cli_run(cluster, rejected=asc.delivery_name(BAD_DAY, 1))


def _bad_day_documents() -> list[dict[str, str]]:
    """Three balanced documents for BAD_DAY (six lines): delivered first with a control file a penny
    off, then corrected."""
    return (asc.asc_document("1000000002", "0.07", BAD_DAY) + asc.asc_document("1000000003", "99.99", BAD_DAY)
            + asc.asc_document("1000000004", "12,345.67", BAD_DAY, cost_centre="AS100200", account="510000"))


def _worker_log(cluster, index: int) -> str:
    return (cluster["home"] / "logs" / f"worker-{index}.log").read_text(errors="replace")


def _task_instances(cluster, dag_id: str, run_id: str) -> list[dict]:
    return api(cluster, "GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]


def _running_run(cluster, dag_id: str, known: set[str]) -> str:
    [run] = [r for r in _runs(cluster, dag_id) if r["dag_run_id"] not in known]
    assert run["state"] == "running", run
    return run["dag_run_id"]


def _wait_for_pause(claim: Path, timeout: float = 300) -> int:
    """The pid of the task process paused in its load (core/faults.py writes it into ``claim``)."""
    def claimed() -> bool:
        return claim.is_file() and claim.read_text().strip().isdigit()

    wait("an ASC load paused inside its transaction", claimed, timeout, every=1)
    return int(claim.read_text())


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _worker_pids(cluster) -> dict[int, int]:
    pids = cluster["home"] / "pids"
    return {i: int((pids / f"worker-{i}.pid").read_text()) for i in (1, *LOAD_WORKERS)
            if (pids / f"worker-{i}.pid").is_file()}


def _worker_running(cluster, pid: int) -> int:
    """Which worker ``pid`` runs under (its ancestors include the pid that worker was started with)."""
    workers = {wpid: i for i, wpid in _worker_pids(cluster).items()}
    ancestor = pid
    while ancestor and ancestor not in workers:
        ancestor = _parent(ancestor)
    assert ancestor, f"process {pid} is not under any worker the test started: {workers}"
    return workers[ancestor]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := _parent(int(entry.name))) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kill_worker(cluster, index: int) -> None:
    """SIGKILL worker ``index`` and every process under it: the Celery pool, the task supervisor and
    the task itself (which runs in a process group of its own). Only processes this test started."""
    root = _worker_pids(cluster)[index]
    for pid in reversed(_descendants(root)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(root, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(root, 0)  # the worker is this process's child: reap it
    except ChildProcessError:
        pass  # reaped already


def _query(url: str, sql: str, **params):
    """The rows of ``sql`` on a warehouse (PostgreSQL, in its schema, or the CLI's SQLite)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            if url.startswith("postgresql"):
                conn.execute(sa.text("SET search_path TO alliance, public"))
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def _idle_in_transaction(url: str) -> int:
    """Connections to the warehouse inside a transaction that is waiting on its client."""
    return _query(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")[0][0]


def _advisory_locks(url: str) -> int:
    """Advisory locks held in the warehouse database (the force's load lock, a load's reference lock)."""
    return _query(url, "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted")[0][0]


def _batch_statuses(url: str, source_ref: str) -> list[str]:
    return [status for (status,) in _query(url, "SELECT status FROM etl_batch WHERE source_ref = :ref "
                                             "ORDER BY batch_id", ref=source_ref)]


def _assert_equals_a_cli_run(cluster, rejected: str | None = None) -> None:
    """The warehouse equals the CLI's on the same sources, to the penny (``rejected``: a delivery new
    since the CLI last ran that it must reject too, which makes it exit 1).

    The CLI's warehouse is kept for the module: a later call runs the CLI again on it, which loads
    only what arrived since (a rerun changes nothing else: test_reliability_faults), as a night would.
    """
    folder = cluster["home"] / "cli"
    folder.mkdir(exist_ok=True)
    cli_warehouse = f"sqlite:///{folder / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "alliance_finance.cli", "run", "--sources", str(cluster["sources"]),
                          "--warehouse", cli_warehouse], capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, ALLIANCE_VAR_DIR=str(folder / "var")))
    told = out.stdout[-3000:] + out.stderr[-3000:]
    assert out.returncode == (1 if rejected else 0), told
    if rejected:
        assert rejected in told
    scheduled, cli = _ledger_fingerprint(cluster["warehouse"]), _ledger_fingerprint(cli_warehouse)
    assert set(scheduled) == {"ASC", "WP"}
    assert scheduled == cli

    # the report and the Data Docs were published to the shared store, the Data Docs with the results
    # validated on worker 1 rendered by worker 2
    for what, page in (("report", "alliance_finance.xlsx"), ("data_docs", "index.html")):
        latest = cluster["published"] / what / (cluster["published"] / what / "LATEST").read_text().strip()
        assert (latest / "index.html").is_file() and (latest / page).is_file(), what
    assert list((latest / "validations").rglob("*.html")), "no validation page in the published Data Docs"
