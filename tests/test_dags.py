"""DAG integrity: every DAG file imports without error, every force has its DAG, tags and owners are
present, the consolidation DAG is Asset-scheduled, and parsing stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alliance_finance.config.forces import ForcesFileError, FORCES_FILE, load_forces, validate_forces_file

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
ALLOWED_TAGS = {"alliance-finance", "ledger", "consolidation", "report", "asc", "wp"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_forces_file_follows_its_schema():
    validate_forces_file()


@pytest.mark.parametrize(
    "breakage",
    [
        {"schedule": "every night"},
        {"source_format": "carrier_pigeon"},
        {"code": "asc"},
        {"owner": ""},
        {"unknown_key": 1},
        {"deadline": {}},
        {"deadline": {"loaded_by": "7am"}},
        {"deadline": {"loaded_by": "24:00"}},
        {"deadline": {"within": "6 hours"}},
        {"deadline": {"within": "PT"}},
        {"deadline": {"within": "PT0S"}},
        {"deadline": {"loaded_by": "07:00", "within": "PT6H"}},
    ],
    ids=["bad-cron", "unknown-format", "lower-case-code", "empty-owner", "unknown-key", "empty-deadline",
         "deadline-not-a-time", "deadline-24h", "deadline-not-iso", "deadline-empty-duration",
         "deadline-zero", "deadline-both"],
)
def test_a_broken_force_entry_fails_validation(tmp_path, breakage):
    doc = yaml.safe_load(FORCES_FILE.read_text())
    doc["forces"][0].update(breakage)
    bad = tmp_path / "forces.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(ForcesFileError, match=str(bad)):
        validate_forces_file(bad)


def test_an_unquoted_deadline_time_is_explained(tmp_path):
    """YAML reads loaded_by: 17:30 (no quotes) as the base-60 number 1050: the error says to quote it."""
    text = FORCES_FILE.read_text().replace('loaded_by: "07:00"', "loaded_by: 17:30", 1)
    assert "loaded_by: 17:30" in text
    bad = tmp_path / "forces.yaml"
    bad.write_text(text)
    with pytest.raises(ForcesFileError, match=r'forces/0/deadline/loaded_by: write the time in quotes, '
                                              r'e.g. loaded_by: "17:30"'):
        validate_forces_file(bad)


def test_dag_files_import_without_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_force_has_its_dag(dagbag):
    for force in load_forces():
        dag = dagbag.dags.get(force.dag_id)
        assert dag is not None, f"no DAG for force {force.code}"
        assert [t.task_id for t in dag.topological_sort()][:3] == ["find_pending", "extract_and_validate", "load"]
        assert {"publish", "report_rejections"} <= set(dag.task_ids)
        assert dag.catchup is False
        assert dag.timetable.__class__.__name__ == "CronDataIntervalTimetable"
        assert str(dag.timezone) in ("Europe/London", "Timezone('Europe/London')") or "London" in str(dag.timezone)
        publish = dag.get_task("publish")
        assert [o.uri for o in publish.outlets] == [force.asset_uri]
        # the UI shows the DAG's runbook: what to do for each way it fails
        for words in ("When it fails", "report_rejections", "source unreachable", "load lock is held",
                      "staged batch missing", force.warehouse_conn_id):
            assert words in dag.doc_md, f"{force.dag_id}'s documentation does not say {words!r}"


def _forces_with_deadlines(tmp_path, deadlines: dict):
    """The forces of dags/forces.yaml, each with ``deadlines[code]`` (absent: no deadline), read through
    the real parser and schema from a copy of the file."""
    doc = yaml.safe_load(FORCES_FILE.read_text())
    for entry in doc["forces"]:
        entry.pop("deadline", None)
        if entry["code"] in deadlines:
            entry["deadline"] = deadlines[entry["code"]]
    path = tmp_path / "forces.yaml"
    path.write_text(yaml.safe_dump(doc))
    return {f.code: f for f in load_forces(path)}


def test_the_deadline_alert_comes_from_forces_yaml(dagbag, tmp_path):
    import datetime as dt

    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineReference

    from alliance_finance.orchestration.dags import make_force_dag
    from alliance_finance.orchestration.deadlines import CALLBACK_PATH

    # as shipped: each force's run must have loaded its ledger by 07:00 the morning its 02:00 run is
    # due: 29 hours after the logical date (the start of the night's data interval, 02:00 the day before)
    for force in load_forces():
        dag = dagbag.dags[force.dag_id]
        assert force.deadline is not None and force.deadline.loaded_by == dt.time(7, 0)
        alert = dag.deadline[0] if isinstance(dag.deadline, list) else dag.deadline
        assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
        assert alert.interval == dt.timedelta(hours=29)
        assert isinstance(alert.callback, AsyncCallback) and alert.callback.path == CALLBACK_PATH
        assert alert.callback.kwargs["force_code"] == force.code
        assert "Deadline missed" in dag.doc_md and "07:00 Europe/London" in dag.doc_md

    forces = _forces_with_deadlines(tmp_path, {"ASC": {"within": "PT6H"}})
    asc, wp = make_force_dag(forces["ASC"]), make_force_dag(forces["WP"])
    alert = asc.deadline[0] if isinstance(asc.deadline, list) else asc.deadline
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT and alert.interval == dt.timedelta(hours=6)
    assert "within 6 h of the run being queued" in asc.doc_md
    # not configured: no alert at all, and the runbook says how to add one
    assert not wp.deadline
    assert "none is configured for this force" in wp.doc_md and "Deadline missed" not in wp.doc_md


def test_a_clock_deadline_needs_evenly_spaced_runs(tmp_path):
    import dataclasses

    from alliance_finance.orchestration.dags import make_force_dag

    forces = _forces_with_deadlines(tmp_path, {"ASC": {"loaded_by": "07:00"}})
    weekdays = dataclasses.replace(forces["ASC"], schedule="0 2 * * 1-5")
    with pytest.raises(ForcesFileError, match=r"force ASC: deadline loaded_by: the runs of schedule "
                                              r"'0 2 \* \* 1-5' are not evenly spaced; use deadline within"):
        make_force_dag(weekdays)


def test_the_missed_deadline_message_names_force_run_deadline_and_what_to_do(smtp_sink, monkeypatch):
    """The callback the triggerer runs, sending through Airflow's SMTP connection to a real SMTP server."""
    import asyncio

    from conftest import smtp_connection_uri

    from alliance_finance.orchestration.deadlines import ledger_deadline_missed

    host, port, received = smtp_sink
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection_uri(host, port))
    monkeypatch.setenv("AIRFLOW_VAR_ALLIANCE_ALERT_EMAILS", "asc-finance@example.org, ops@example.org")
    context = {  # as Airflow's Deadline.handle_miss hands it over
        "dag_run": {"dag_id": "alliance_ledger_asc", "dag_run_id": "scheduled__2026-11-24T02:00:00+00:00",
                    "logical_date": "2026-11-24T02:00:00Z", "queued_at": "2026-11-25T02:00:04Z",
                    "state": "running"},
        "deadline": {"id": "0193", "deadline_time": "2026-11-25T07:00:00Z"},
    }
    subject = asyncio.run(ledger_deadline_missed(
        context=context, force_code="ASC", force_name="Avon and Somerset Constabulary",
        rule="loaded by 07:00 Europe/London the morning the run is due", timezone="Europe/London"))
    assert [m["Subject"] for m in received] == [subject]
    mail = received[0]
    assert mail["X-Envelope-To"] == "asc-finance@example.org, ops@example.org"
    body = mail.get_body().get_content()
    for words in ("Avon and Somerset Constabulary (ASC)", "alliance_ledger_asc", "scheduled__2026-11-24T02:00:00+00:00",
                  "2026-11-25 07:00 Europe/London", "the run was running when the deadline passed",
                  "What to do", "load lock", "alliance-finance status"):
        assert words in body, f"the message does not say {words!r}"


def test_the_consolidation_dag_has_a_runbook(dagbag):
    doc = dagbag.dags["alliance_consolidation"].doc_md
    for words in ("When it fails", "`refresh_marts` failed: warehouse unreachable", "`refresh_marts` failed: a migration",
                  "alliance_finance.warehouse.migrate", "`build_report` failed", "`build_data_docs` failed",
                  "`record_freshness` failed", "always safe", "ALLIANCE_REPORT_DIR", "Where the output is published",
                  "alliance_warehouse"):
        assert words in doc, f"the consolidation's documentation does not say {words!r}"


def test_owners_and_tags(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert set(dag.tags) <= ALLOWED_TAGS, f"{dag_id} has tags outside {ALLOWED_TAGS}: {dag.tags}"
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", f"{dag_id}.{t.task_id} has no owner"
        assert dag.doc_md


def test_consolidation_dag_is_scheduled_on_the_force_assets(dagbag):
    dag = dagbag.dags.get("alliance_consolidation")
    assert dag is not None
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny", "any force's update should trigger it"
    uris = {a.uri for a in condition.objects}
    assert uris == {f.asset_uri for f in load_forces()}


def test_dag_files_import_no_heavy_library():
    """Parsing must stay cheap: no pandas, pyarrow, Great Expectations or SQLAlchemy engine work."""
    code = (
        "import sys, runpy\n"
        f"sys.path.insert(0, {str(DAGS)!r})\n"
        f"for f in ['alliance_force_ledgers.py', 'alliance_consolidation.py']:\n"
        f"    runpy.run_path({str(DAGS)!r} + '/' + f)\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'great_expectations', 'matplotlib', 'xlsxwriter', 'openpyxl', 'psycopg') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    heavy = [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")]
    assert heavy == ["HEAVY="], f"heavy modules imported at parse: {heavy}"


def test_only_transient_errors_are_retried():
    """Database unreachable or a held load lock: retry. Anything else (a rejected delivery, a bug): fail at once."""
    import sqlalchemy as sa
    from airflow.sdk.definitions.retry_policy import RetryAction

    from alliance_finance.orchestration.dags import RETRY_POLICY
    from alliance_finance.core.errors import ConcurrentRunError, SourceSchemaError, TransientError
    from alliance_finance.orchestration.tasks import transient_errors_retried

    with pytest.raises(TransientError) as caught:
        with transient_errors_retried("ASC"):
            raise sa.exc.OperationalError("SELECT 1", {}, Exception(
                "connection to server at postgresql://loader:S3cret@db:5432/x failed"))
    assert "S3cret" not in str(caught.value)

    def decide(exc):
        return RETRY_POLICY.evaluate(exc, try_number=1, max_tries=3).action

    assert decide(caught.value) == RetryAction.RETRY
    assert decide(ConcurrentRunError("another run for ASC holds the load lock")) == RetryAction.RETRY
    assert decide(SourceSchemaError("gl_journal_line lacks entered_dr")) == RetryAction.FAIL
    assert decide(ValueError("a bug")) == RetryAction.FAIL


def test_failure_message_names_dag_run_task_batch_and_reason_without_secrets():
    from types import SimpleNamespace

    from alliance_finance.orchestration.notify import AllianceFailureNotifier, describe_failure

    exc = RuntimeError("ASC_GL_20160405_001.csv: rows 12 in the file, 13 in its control file; "
                       "warehouse postgresql://alliance_loader:S3cretPw@db:5432/alliance")
    exc.batches = ["ASC_GL_20160405_001.csv: rows 12 in the file, 13 in its control file"]
    ti = SimpleNamespace(dag_id="alliance_ledger_asc", task_id="report_rejections",
                         run_id="scheduled__2026-11-25T02:00:00+00:00", try_number=1)
    context = {"ti": ti, "run_id": ti.run_id, "exception": exc}
    subject, body = describe_failure(context)
    for expected in ("alliance_ledger_asc", "report_rejections", ti.run_id, "ASC_GL_20160405_001.csv", "control file"):
        assert expected in subject + body
    assert "S3cretPw" not in body

    sent = []
    notifier = AllianceFailureNotifier(transport=lambda s, b, to: sent.append((s, b, to)),
                                       recipients=["finance-data@example.org"])
    notifier.notify(context)
    assert sent == [(subject, body, ["finance-data@example.org"])]


@pytest.mark.parametrize("task_id,says,never", [
    ("report_rejections", "good batches of this run are loaded", "nothing of this run was loaded"),
    ("load", "the one in flight was rolled back", "good batches of this run are loaded"),
    ("extract_and_validate", "nothing of this run was loaded", "rolled back"),
    ("build_report", "only the board report was not rebuilt", "nothing of"),
])
def test_the_failure_notice_says_what_the_failed_task_means(task_id, says, never):
    from types import SimpleNamespace

    from alliance_finance.orchestration.notify import describe_failure

    ti = SimpleNamespace(dag_id="alliance_ledger_asc", task_id=task_id, run_id="manual__1", try_number=1)
    _, body = describe_failure({"ti": ti, "run_id": ti.run_id, "exception": RuntimeError("boom")})
    assert f"Task:   {task_id}" in body and says in body and never not in body
