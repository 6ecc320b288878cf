"""The deadline alert under the real Airflow components: a late ledger reaches a person by e-mail.

scripts/airflow_local.py starts the api-server, scheduler, dag-processor and triggerer from this
.venv (LocalExecutor) on a throwaway PostgreSQL metadata database. The DAG is the project's
``alliance_ledger_asc``, made from a copy of dags/forces.yaml whose ASC entry says
``deadline: {within: PT5S}``: the run must finish within five seconds of being queued. The run is held
at its first read (``ALLIANCE_FAULT_PAUSE=ASC.read``, core/faults.py), so it cannot. Airflow's SMTP
connection (``AIRFLOW_CONN_SMTP_DEFAULT``) points at a real SMTP server in this test (aiosmtpd, see
conftest.smtp_loopback), and the alert recipients are set as deployments set them
(``AIRFLOW_VAR_ALLIANCE_ALERT_EMAILS``).

It asserts that the scheduler noticed the missed deadline and the triggerer ran the project's callback,
which mailed the recipients a message naming the force, the run, the deadline (the run's queued time
plus five seconds) and what to do, while the run was still running (it goes on to its read and waits).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
from pathlib import Path

import pendulum
import pytest
import yaml

import asc_fixtures as asc
from airflow_cluster import api, base_env, free_port, load_script, stopped_after, wait, wait_for_dags
from conftest import new_pg_database, smtp_connection_uri, smtp_loopback

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DAG_ID = "alliance_ledger_asc"
RECIPIENTS = "asc-finance@example.org, alliance-ops@example.org"

DAGS_FILE = '''
"""Airflow: the project's ASC ledger DAG, from the forces file {forces!r} (test only).

(The words "airflow" and "dag" must appear: the dag-processor's safe mode skips files without them.)"""
from alliance_finance.config.forces import load_forces
from alliance_finance.orchestration.dags import make_force_dag

alliance_ledger_asc = make_force_dag(next(f for f in load_forces({forces!r}) if f.code == "ASC"))
'''


@pytest.fixture(scope="module")
def sample_sources(tmp_path_factory):
    """One valid ASC delivery: enough for the run to find something pending and stop at reading it."""
    sources = tmp_path_factory.mktemp("sources")
    inbound = sources / "avon_somerset" / "inbound"
    inbound.mkdir(parents=True)
    asc.write_delivery(inbound)
    return sources


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, sample_sources):
    """The real components with a loopback SMTP server; stopped (by the pids they were started with) after."""
    script = load_script()
    home = tmp_path_factory.mktemp("airflow")
    doc = yaml.safe_load((ROOT / "dags" / "forces.yaml").read_text(encoding="utf-8"))
    for entry in doc["forces"]:
        if entry["code"] == "ASC":
            entry["deadline"] = {"within": "PT5S"}
    forces = home / "forces.yaml"
    forces.write_text(yaml.safe_dump(doc), encoding="utf-8")
    dags = home / "dags"
    dags.mkdir()
    (dags / "alliance_asc.py").write_text(DAGS_FILE.format(forces=str(forces)))
    metadata, warehouse = new_pg_database(), new_pg_database()
    port, log_port, health_port = free_port(), free_port(span=2), free_port()
    with smtp_loopback() as (smtp_host, smtp_port, received):
        extra = base_env(dags, warehouse, sample_sources, home / "var")
        extra.update({
            # not the default 8974, which another scheduler on this machine may hold
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health_port),
            "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection_uri(smtp_host, smtp_port),
            # the alert settings as a deployment sets them (.env); had the transport, sender and SMTP
            # connection id been left to the metadata database, the triggerer's first look-up builds its
            # in-process execution API: 40 s on a busy 2-core machine, once per triggerer (measured)
            "AIRFLOW_VAR_ALLIANCE_ALERT_EMAILS": RECIPIENTS,
            "AIRFLOW_VAR_ALLIANCE_ALERT_TRANSPORT": "smtp",
            "AIRFLOW_VAR_ALLIANCE_ALERT_FROM": "alliance-finance@example.org",
            "AIRFLOW_VAR_ALLIANCE_ALERT_SMTP_CONN_ID": "smtp_default",
            "ALLIANCE_FORCES_FILE": str(forces),
            # the run waits at its first read long past its deadline (the components are stopped first)
            "ALLIANCE_FAULT_PAUSE": "ASC.read",
            "ALLIANCE_FAULT_PAUSE_SECONDS": "900",
        })
        with stopped_after(script, home, metadata, warehouse):
            script.start(home, metadata, port, executor="LocalExecutor", extra_env=extra, log_port=log_port)
            yield {"script": script, "home": home, "port": port, "received": received}


def _task_log(cluster, run_id: str, task_id: str) -> str:
    logs = cluster["home"] / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
    return "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("attempt=*.log")))


def test_a_run_that_misses_its_deadline_mails_the_alert(cluster):
    wait_for_dags(cluster, [DAG_ID])
    # unpausing schedules the latest night at once: that run is held at its first read
    api(cluster, "PATCH", f"dags/{DAG_ID}", {"is_paused": False})
    run = wait("a scheduled run", lambda: next(iter(
        api(cluster, "GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]), None), 120)
    run_id = run["dag_run_id"]
    received = cluster["received"]
    mail = wait(f"the deadline alert for {run_id} by SMTP", lambda: next(
        (m for m in list(received) if run_id in m["Subject"]), None), 180)

    waited = (pendulum.now("UTC") - pendulum.parse(run["queued_at"])).total_seconds()
    print(f"\nthe alert was received {waited:.1f} s after the run was queued (polled every 2 s)")  # not asserted
    assert mail["Subject"] == f"[alliance-finance] ASC ledger not loaded by its deadline ({run_id})"
    assert mail["X-Envelope-To"] == RECIPIENTS and mail["From"] == "alliance-finance@example.org"
    body = mail.get_body().get_content()
    deadline = pendulum.parse(run["queued_at"]) + dt.timedelta(seconds=5)
    local = deadline.in_timezone("Europe/London")
    for words in ("Avon and Somerset Constabulary (ASC)", f"DAG:      {DAG_ID}", f"Run:      {run_id}",
                  f"Deadline: {local:%Y-%m-%d %H:%M} Europe/London",
                  "finished within 5 s of the run being queued", "the run was running when the deadline passed",
                  "What to do", "alliance-finance status"):
        assert words in body, f"the alert does not say {words!r}:\n{body}"
    # the run was late, not failed: it goes on to its first read and waits there, still running
    held = wait("the run held at its first read", lambda: re.search(
        r"ALLIANCE-FAULT-PAUSE ASC\.read 1 pid=(\d+)", _task_log(cluster, run_id, "extract_and_validate")), 120)
    assert api(cluster, "GET", f"dags/{DAG_ID}/dagRuns/{run_id}")["state"] == "running"
    # one alert per run and deadline: the scheduler marked it missed, and no other mail was sent
    assert len(received) == 1, [m["Subject"] for m in received]
    triggerer = (cluster["home"] / "logs" / "triggerer.log").read_text(errors="replace")
    assert "ASC ledger not loaded by its deadline" in triggerer
    # end the held task (a process of this test's scheduler), so the components stop without waiting for it
    os.kill(int(held.group(1)), signal.SIGKILL)
