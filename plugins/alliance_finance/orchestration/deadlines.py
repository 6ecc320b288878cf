"""The deadline alert: a person hears when a force's ledger has not been loaded in time.

A force whose ``dags/forces.yaml`` entry has a ``deadline`` gets an Airflow ``DeadlineAlert`` on its
DAG (:func:`deadline_alert`). Airflow's scheduler records, for each run, the time the run must have
finished by; when a run is still unfinished (running, waiting for a retry, or failed) at that time,
the scheduler queues the callback, and the triggerer runs it: :func:`ledger_deadline_missed`, which
writes one message naming the force, the run, the deadline and what to do, and sends it through the
same transport and recipients as the task-failure alerts (:func:`notify.send_alert`: SMTP through
``smtp_default``, or the log). A run that succeeds before its deadline removes the deadline: no alert.

Why an ``AsyncCallback`` (run in the triggerer) and not a ``SyncCallback`` (run by an executor): the
triggerer runs the same way under the LocalExecutor and the CeleryExecutor (Celery workers need not
be able to run callbacks, nor be up), and the deployment runs one anyway. The sending itself is
blocking (``SmtpHook``), so it runs in a thread, off the triggerer's event loop.

The two kinds of deadline (:class:`config.forces.ForceDeadline`):

- ``within: PT6H``: six hours after the run was queued (``DeadlineReference.DAGRUN_QUEUED_AT``);
  manual runs get one too;
- ``loaded_by: "07:00"``: the first 07:00 (the force's timezone) at or after the end of the run's data
  interval, i.e. the morning the nightly run is due. Airflow adds a fixed interval to the run's
  logical date (the start of its data interval, ``DeadlineReference.DAGRUN_LOGICAL_DATE``), computed
  here from the schedule: for ``0 2 * * *`` and 07:00, 29 hours. On the two nights a year the clocks
  change the deadline therefore falls an hour later (March) or earlier (October) in local time.
  It needs a schedule whose runs are evenly spaced (every night, every hour); a run triggered by
  hand without a logical date gets no deadline of this kind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pendulum
from airflow.configuration import conf
from croniter import croniter

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from alliance_finance.config.forces import ForceConfig, ForcesFileError
from alliance_finance.orchestration.notify import send_alert

#: the dotted path Airflow stores and the triggerer imports (the callback must be a module-level coroutine)
CALLBACK_PATH = "alliance_finance.orchestration.deadlines.ledger_deadline_missed"


def loaded_by_interval(schedule: str, loaded_by: dt.time) -> dt.timedelta:
    """From a run's logical date (its data interval's start) to ``loaded_by`` on the morning it is due.

    Wall-clock arithmetic on a fortnight of the schedule's runs; raises ``ValueError`` when the runs
    are not evenly spaced (a fixed interval after the logical date would then be wrong for some)."""
    fires = croniter(schedule, dt.datetime(2024, 1, 8))
    times = [fires.get_next(dt.datetime) for _ in range(15)]
    gaps = {b - a for a, b in zip(times, times[1:])}
    if len(gaps) != 1:
        raise ValueError(f"the runs of schedule {schedule!r} are not evenly spaced")
    start, due = times[0], times[1]  # a run's data interval: start (its logical date) .. due
    deadline = dt.datetime.combine(due.date(), loaded_by)
    if deadline < due:
        deadline += dt.timedelta(days=1)
    return deadline - start


def deadline_alert(force: ForceConfig) -> DeadlineAlert | None:
    """The ``DeadlineAlert`` of the force's DAG, or None when its entry sets no ``deadline``."""
    deadline = force.deadline
    if deadline is None:
        return None
    kwargs = {"force_code": force.code, "force_name": force.name,
              "rule": deadline.describe(force.timezone), "timezone": force.timezone}
    if deadline.within is not None:
        reference, interval = DeadlineReference.DAGRUN_QUEUED_AT, deadline.within
    else:
        try:
            interval = loaded_by_interval(force.schedule, deadline.loaded_by)
        except ValueError as exc:
            raise ForcesFileError(f"forces.yaml: force {force.code}: deadline loaded_by: {exc}; use "
                                  "deadline within (a duration after the run is queued) instead") from exc
        reference = DeadlineReference.DAGRUN_LOGICAL_DATE
    return DeadlineAlert(reference=reference, interval=interval,
                         callback=AsyncCallback(CALLBACK_PATH, kwargs=kwargs),
                         name=f"{force.code} ledger {deadline.describe(force.timezone)}")


def _when(value: Any, timezone: str) -> str:
    """An ISO timestamp (or datetime) as local time and UTC; '?' when absent."""
    if not value:
        return "?"
    moment = pendulum.parse(value) if isinstance(value, str) else pendulum.instance(value)
    local = moment.in_timezone(timezone)
    return f"{local:%Y-%m-%d %H:%M} {timezone} ({moment.in_timezone('UTC'):%Y-%m-%d %H:%M} UTC)"


def _run_link(dag_id: str, run_id: str) -> str | None:
    try:
        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    except Exception:  # noqa: BLE001 - no Airflow configuration: no link
        return None
    return f"{base}/dags/{dag_id}/runs/{run_id}" if base else None


def describe_missed_deadline(context: dict[str, Any] | None, force_code: str, force_name: str, rule: str,
                             timezone: str) -> tuple[str, str]:
    """The subject and body of a missed-deadline message, from the context Airflow hands the callback
    (``dag_run``: the run as the REST API shows it; ``deadline``: its ``deadline_time``)."""
    context = context or {}
    run = context.get("dag_run") or {}
    dag_id = run.get("dag_id") or f"alliance_ledger_{force_code.lower()}"
    run_id = run.get("dag_run_id") or run.get("run_id") or "?"
    state = run.get("state") or "?"
    deadline_time = (context.get("deadline") or {}).get("deadline_time")
    link = _run_link(dag_id, run_id)
    subject = f"[alliance-finance] {force_code} ledger not loaded by its deadline ({run_id})"
    body = "\n".join([
        f"Force:    {force_name} ({force_code})",
        f"DAG:      {dag_id}",
        f"Run:      {run_id}" + (f"  {link}" if link else ""),
        f"          logical date {_when(run.get('logical_date'), timezone)}, "
        f"queued {_when(run.get('queued_at'), timezone)}",
        f"Deadline: {_when(deadline_time, timezone)}: the ledger must be {rule}.",
        f"State:    the run was {state} when the deadline passed.",
        "",
        f"What this means: {force_code}'s ledger in the warehouse is still the one the last successful run "
        "loaded; tonight's deliveries are not in it yet, so the marts, the board report and the Data Docs "
        "do not include them. Nothing is half loaded: each batch loads in one transaction.",
        "",
        "What to do:",
        "  1. Open the run in Airflow and look at its tasks.",
        "  2. A task failed: its failure e-mail names the task, the batch and the reason, and the DAG's "
        "runbook (its documentation in the UI) says what to do; clear the task once it is fixed.",
        "  3. A task is still running or up for retry: the source or the warehouse is unreachable or slow "
        "(retried automatically), or `load` waits for the force's load lock (another run is loading this "
        "force). Check the task's log; it goes on by itself once the cause is gone.",
        "  4. If the board report is needed today, tell the finance team it is late. `alliance-finance "
        "status` shows each force's last load. Rerunning or clearing any run is safe.",
    ])
    return subject, body


async def ledger_deadline_missed(context: dict[str, Any] | None = None, *, force_code: str, force_name: str,
                                 rule: str, timezone: str) -> str:
    """The deadline callback (run by Airflow's triggerer): send the message, return its subject."""
    subject, body = describe_missed_deadline(context, force_code, force_name, rule, timezone)
    # SmtpHook blocks; in a thread, the SDK's connection and variable look-ups reach the triggerer's
    # supervisor through its event loop, which keeps running
    await asyncio.to_thread(send_alert, subject, body)
    return subject
