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
    ],
    ids=["bad-cron", "unknown-format", "lower-case-code", "empty-owner", "unknown-key"],
)
def test_a_broken_force_entry_fails_validation(tmp_path, breakage):
    doc = yaml.safe_load(FORCES_FILE.read_text())
    doc["forces"][0].update(breakage)
    bad = tmp_path / "forces.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(ForcesFileError, match=str(bad)):
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
        "heavy = [m for m in ('pandas', 'pyarrow', 'great_expectations', 'matplotlib', 'openpyxl', 'psycopg') if m in sys.modules]\n"
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
