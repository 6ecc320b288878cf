"""Failures reach a person.

:func:`failure_notifier` is the ``on_failure_callback`` of every alliance task. It writes one
message naming the DAG, the run, the task, the batch (file or journal) and the reason, and hands it
to a transport (:func:`send_alert`, which the missed-deadline alert of
:mod:`alliance_finance.orchestration.deadlines` uses too):

- ``smtp`` (default when recipients are configured): Airflow's SMTP provider (``SmtpHook`` with the
  connection ``ALLIANCE_ALERT_SMTP_CONN_ID``, default ``smtp_default``), so mail goes wherever the
  deployment's SMTP connection points;
- ``log``: the message goes to the task log only (the default when no recipient is configured,
  so the demo needs no mail server).

Configuration, from Airflow variables or the environment (``AIRFLOW_VAR_...``):
``alliance_alert_emails`` (comma-separated recipients), ``alliance_alert_transport`` (``smtp`` or
``log``), ``alliance_alert_from``. No secret lives in the repository: the SMTP password belongs to
the Airflow connection.
"""

from __future__ import annotations

import logging
import html
import os
from typing import Any, Callable

from airflow.sdk import BaseNotifier, Variable

from alliance_finance.core.urls import mask_secrets

log = logging.getLogger(__name__)

Transport = Callable[[str, str, list[str]], None]


def _setting(name: str, default: str | None = None) -> str | None:
    """An Airflow variable (via AIRFLOW_VAR_<NAME> or the metadata DB), else the plain environment."""
    env = os.environ.get(f"AIRFLOW_VAR_{name.upper()}")
    if env is not None:
        return env
    try:
        return Variable.get(name, default=default)
    except Exception:  # noqa: BLE001 - no metadata DB reachable (e.g. in a plain unit test)
        return os.environ.get(name.upper(), default)


#: what a failure of each task means for the warehouse (a task not named here: :data:`ANY_TASK`)
TASK_MEANINGS: dict[str, str] = {
    "find_pending": "The run stopped before reading anything: nothing was read or loaded, and the warehouse "
                    "is as the last run left it.",
    "extract_and_validate": "Reading or validating stopped: nothing of this run was loaded (this step only "
                            "stages batches in etl_staged_batch); the next run offers everything again.",
    "load": "Loading stopped: each batch is loaded in its own transaction, so the batches before the failure "
            "are loaded and the one in flight was rolled back (nothing of it was loaded); the next run, or a "
            "retry of this task, loads the rest.",
    "publish": "Every batch of this run was loaded; only the ledger's freshness and Asset event (which "
               "starts the consolidation) were not recorded: the marts and report are not refreshed yet.",
    "report_rejections": "The good batches of this run are loaded; the batches named above were rejected "
                         "(nothing of a rejected batch is loaded) and are not retried: correct or re-deliver them.",
    "refresh_marts": "The ledgers are loaded; the schema, views or finance seeds could not be brought up to date, "
                     "so the report and Data Docs were not rebuilt.",
    "build_report": "The ledgers and marts are up to date; only the board report was not rebuilt (the last "
                    "one stays in place).",
    "build_data_docs": "The ledgers and marts are up to date; only the Great Expectations Data Docs were not "
                       "rebuilt (the validation results are stored; the next build renders them).",
    "record_freshness": "The ledgers, marts and report are up to date; only the freshness record failed.",
}
ANY_TASK = "The warehouse keeps every batch fully in or fully out: nothing of a batch in flight was loaded."


def describe_failure(context: dict[str, Any]) -> tuple[str, str]:
    """The subject and body of a failure message, from an Airflow task context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    try_number = getattr(ti, "try_number", None)
    exc = context.get("exception")
    reason = str(exc) if exc is not None else "no exception recorded"
    batches = getattr(exc, "batches", None) or []
    batch_lines = [f"  - {b}" for b in batches] or [f"  - {getattr(exc, 'source_ref', 'n/a')}"]
    subject = f"[alliance-finance] {dag_id}.{task_id} failed ({run_id})"
    body = "\n".join(
        [
            f"DAG:    {dag_id}",
            f"Run:    {run_id}",
            f"Task:   {task_id}" + (f" (try {try_number})" if try_number else ""),
            "Batch:",
            *batch_lines,
            f"Reason: {mask_secrets(reason)}",
            "",
            f"What this means: {TASK_MEANINGS.get(task_id, ANY_TASK)}",
            "See `alliance-finance status` and the run's log for details.",
        ]
    )
    return subject, body


def smtp_transport(subject: str, body: str, recipients: list[str]) -> None:
    """Send through Airflow's SMTP provider (the deployment's SMTP connection)."""
    # deferred: the SMTP provider is loaded when a mail is sent, not by every DAG file's parse
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn_id = _setting("alliance_alert_smtp_conn_id", "smtp_default")
    sender = _setting("alliance_alert_from", "alliance-finance@localhost")
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=recipients, subject=subject, html_content=f"<pre>{_html_escape(body)}</pre>",
                             from_email=sender)


def _html_escape(text: str) -> str:
    return html.escape(text)


def log_transport(subject: str, body: str, recipients: list[str]) -> None:
    log.error("%s\n%s", subject, body)


TRANSPORTS: dict[str, Transport] = {"smtp": smtp_transport, "log": log_transport}


def resolve_transport(transport: Transport | None = None,
                      recipients: list[str] | None = None) -> tuple[Transport, list[str]]:
    """The transport and recipients an alert goes to: those given, else the configured ones."""
    if recipients is None:
        recipients = [r.strip() for r in (_setting("alliance_alert_emails", "") or "").split(",") if r.strip()]
    if transport is not None:
        return transport, recipients
    name = _setting("alliance_alert_transport", None) or ("smtp" if recipients else "log")
    if name not in TRANSPORTS:
        raise ValueError(f"alliance_alert_transport must be one of {sorted(TRANSPORTS)}, got {name!r}")
    return TRANSPORTS[name], recipients


def send_alert(subject: str, body: str, transport: Transport | None = None,
               recipients: list[str] | None = None) -> None:
    """Log the alert (always), then send it through the transport (configured unless given)."""
    transport, recipients = resolve_transport(transport, recipients)
    log_transport(subject, body, recipients)
    if transport is not log_transport:
        transport(subject, body, recipients)


class AllianceFailureNotifier(BaseNotifier):
    """Names the DAG, run, task, batch and reason; sends through the configured transport."""

    def __init__(self, transport: Transport | None = None, recipients: list[str] | None = None):
        super().__init__()
        self._transport = transport
        self._recipients = recipients

    def resolve(self) -> tuple[Transport, list[str]]:
        return resolve_transport(self._transport, self._recipients)

    def notify(self, context) -> None:
        subject, body = describe_failure(context)
        send_alert(subject, body, self._transport, self._recipients)  # always in the task log too


def failure_notifier(**kwargs) -> AllianceFailureNotifier:
    return AllianceFailureNotifier(**kwargs)
