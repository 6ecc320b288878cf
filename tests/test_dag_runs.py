"""The DAGs run end to end with ``dag.test()`` on sample data, into SQLite and PostgreSQL, and a bad
delivery fails the force's DAG visibly, notifies a person over SMTP, and leaves the other force alone.

Airflow's metadata database for these tests is SQLite under AIRFLOW_HOME, a temporary folder of the
test session (conftest sets it), migrated once per session. Connections and variables come from the environment
(``AIRFLOW_CONN_...``, ``AIRFLOW_VAR_...``), as in a deployment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import make_sample_sources

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def airflow_db():
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"))
    out = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return home


@pytest.fixture(scope="session")
def sample_sources(tmp_path_factory):
    return make_sample_sources(tmp_path_factory, 2014, 2015)


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


class SmtpRecorder:
    """A real SMTP server on loopback that keeps the messages it receives (the transport edge)."""

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import asyncore
            import smtpd

        received = self.messages = []

        class Server(smtpd.SMTPServer):
            def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
                received.append({"from": mailfrom, "to": rcpttos, "data": data.decode() if isinstance(data, bytes) else data})

        self.server = Server(("127.0.0.1", 0), None)
        self.port = self.server.socket.getsockname()[1]
        self._asyncore = asyncore
        self.thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture
def smtp_server():
    server = SmtpRecorder()
    yield server
    server.close()


def _mail_text(raw: str) -> str:
    """Subject and decoded text of a MIME message as received."""
    import email
    import html

    msg = email.message_from_string(raw)
    parts = [msg["Subject"] or ""]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(html.unescape(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")))
    return "\n".join(parts)


def _configure(monkeypatch, warehouse_url: str, sources: Path, var_dir: Path):
    monkeypatch.setenv("AIRFLOW_CONN_ALLIANCE_WAREHOUSE", warehouse_url)
    monkeypatch.setenv("AIRFLOW_VAR_ALLIANCE_SOURCES_DIR", str(sources))
    monkeypatch.setenv("ALLIANCE_REPORT_DIR", str(var_dir / "report"))
    monkeypatch.delenv("AIRFLOW_CONN_WILTSHIRE_ERP", raising=False)
    monkeypatch.setenv("ALLIANCE_VAR_DIR", str(var_dir))  # Data Docs of a PostgreSQL warehouse


def _run(dag):
    run = dag.test()
    return run, {ti.task_id: ti.state for ti in run.get_task_instances()}


def _ledger_totals(url: str):
    from alliance_finance.warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0]: (int(r[1]), int(r[2])) for r in conn.execute(sa.text(
                "SELECT force_code, COUNT(*), SUM(amount_pence) FROM fact_ledger_line GROUP BY force_code"))}
    finally:
        engine.dispose()


def test_both_force_dags_and_the_consolidation_run_end_to_end(dagbag, sample_sources, warehouse_url, tmp_path,
                                                               monkeypatch):
    _configure(monkeypatch, warehouse_url, sample_sources, tmp_path)
    run, states = _run(dagbag.dags["alliance_ledger_asc"])
    assert run.state == "success", states
    assert states["publish"] == "success", "a run that loaded something updates the ledger Asset"
    run, states = _run(dagbag.dags["alliance_ledger_wp"])
    assert run.state == "success", states
    totals = _ledger_totals(warehouse_url)
    assert set(totals) == {"ASC", "WP"}
    assert all(amount == 0 for _, amount in totals.values()), "each ledger balances: debits = credits"
    lines_before = {force: n for force, (n, _) in totals.items()}

    # a rerun of any night is harmless: nothing new, nothing changed, and no Asset event (publish is
    # skipped), so the consolidation is not started for an unchanged ledger
    run, states = _run(dagbag.dags["alliance_ledger_asc"])
    assert run.state == "success", states
    assert states["publish"] == "skipped", states
    assert states["report_rejections"] == "success", states
    assert {f: n for f, (n, _) in _ledger_totals(warehouse_url).items()} == lines_before

    run, states = _run(dagbag.dags["alliance_consolidation"])
    assert run.state == "success", states
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "data_docs" / "index.html").is_file()


def test_a_bad_delivery_fails_the_force_dag_and_notifies_without_touching_the_other_force(
        dagbag, sample_sources, sqlite_url, tmp_path, monkeypatch, smtp_server):
    import shutil

    sources = tmp_path / "sources"
    shutil.copytree(sample_sources, sources)
    inbound = sources / "avon_somerset" / "inbound"
    victim = sorted(inbound.glob("ASC_GL_*_001.csv"))[5]
    data = victim.read_bytes()
    victim.write_bytes(data[:-40])  # truncated in transit: rows, totals and digest no longer match
    _configure(monkeypatch, sqlite_url, sources, tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_ALLIANCE_ALERT_EMAILS", "finance-data@example.org")
    monkeypatch.setenv("AIRFLOW_VAR_ALLIANCE_ALERT_TRANSPORT", "smtp")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f'{{"conn_type": "smtp", "host": "127.0.0.1", "port": {smtp_server.port}, '
                       '"extra": {"disable_ssl": true, "disable_tls": true}}')

    run, states = _run(dagbag.dags["alliance_ledger_asc"])
    assert run.state == "failed"
    assert states["load"] == "success", "the good deliveries still load"
    assert states["report_rejections"] == "failed"
    assert len(smtp_server.messages) == 1, "one message for the one failed task"
    assert smtp_server.messages[0]["to"] == ["finance-data@example.org"]
    message = _mail_text(smtp_server.messages[0]["data"])
    for expected in ("alliance_ledger_asc", "report_rejections", run.run_id, victim.name, "SHA-256", "Reason"):
        assert expected in message, f"the notification does not name {expected!r}:\n{message}"

    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        status, error = conn.execute(sa.text("SELECT status, error FROM etl_batch WHERE source_ref = :s"),
                                     {"s": victim.name}).one()
        assert status == "rejected" and victim.name in error
        assert conn.execute(sa.text("SELECT COUNT(*) FROM etl_batch WHERE status = 'loaded'")).scalar() > 100
    engine.dispose()

    run, states = _run(dagbag.dags["alliance_ledger_wp"])
    assert run.state == "success", states
    assert "WP" in _ledger_totals(sqlite_url)
