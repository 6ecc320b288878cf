"""Period closes as data: finance's closes and re-openings, appended to ``period_close_event``.

Two ways in, both append-only (a trigger on the table refuses UPDATE and DELETE):

- ``seeds/period_closes.csv`` (:func:`read_period_closes`, :func:`add_seed_closes`): finance's recorded
  closes, loaded with the other seeds when the files changed. Each row is an event; one not yet in the
  table (same force, fiscal year, period, action and day, source ``seed``) is added, and nothing is ever
  deleted: a row removed from the file leaves its event in place (to undo a close, record a reopen).
- ``alliance-finance close-period`` (:func:`record_period_event`): one event, refused when it would
  close a period already closed or reopen one that is not closed.

The state of a period is its latest event (``v_period_status``); docs/finance.md explains the rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.core.fiscal import fy_label
from alliance_finance.marts.seedfile import SeedFile
from alliance_finance.warehouse import meta

#: finance's recorded closes, in the seeds folder (may hold only its header)
CLOSES_FILE = "period_closes.csv"
CLOSES_COLUMNS = ("force_code", "fiscal_year", "period", "action", "closed_on", "note")
ACTIONS = ("close", "reopen")


class PeriodCloseRefused(AllianceFinanceError):
    """A close or reopen that contradicts the period's recorded state (or names an unknown force)."""


@dataclasses.dataclass(frozen=True)
class LastEvent:
    action: str
    closed_on: dt.date
    source: str


def read_period_closes(seeds_dir: Path, force_codes: set[str]) -> list[dict]:
    """The validated rows of ``period_closes.csv`` in file order (an absent file has none).

    Refused, naming file, line and column: an unknown force, a fiscal year or date not as written
    YYYY / YYYY-MM-DD, a period outside 1-16, an action other than close or reopen, the same event
    twice.
    """
    f = SeedFile(Path(seeds_dir) / CLOSES_FILE, CLOSES_COLUMNS, optional=True)
    events, seen = [], {}
    for line, row in f.rows():
        record = {
            "force_code": f.text(line, row, "force_code", force_codes),
            "fiscal_year": f.fiscal_year(line, row, "fiscal_year"),
            "period": f.integer(line, row, "period", 1, 16),
            "action": f.text(line, row, "action", set(ACTIONS)),
            "closed_on": f.day(line, row, "closed_on"),
            "note": row["note"] or None,
        }
        key = tuple(record[c] for c in ("force_code", "fiscal_year", "period", "action", "closed_on"))
        if key in seen:
            raise f.fail(line, "closed_on", f"each event once (line {seen[key]} already records this {key[3]})",
                         row["closed_on"])
        seen[key] = line
        events.append(record)
    return events


def add_seed_closes(conn: sa.Connection, events: list[dict]) -> int:
    """Append the seed's events not yet in ``period_close_event`` (in file order); returns how many."""
    present = {
        (r.force_code, int(r.fiscal_year), int(r.period), r.action, _day(r.closed_on))
        for r in conn.execute(sa.text(
            "SELECT force_code, fiscal_year, period, action, closed_on FROM period_close_event WHERE source = 'seed'"))
    }
    new = [e for e in events
           if (e["force_code"], e["fiscal_year"], e["period"], e["action"], e["closed_on"]) not in present]
    if new:
        now = meta.utcnow()
        conn.execute(sa.text(
            "INSERT INTO period_close_event (force_code, fiscal_year, period, action, closed_on, recorded_at, "
            "recorded_by, source, note) VALUES (:force_code, :fiscal_year, :period, :action, :closed_on, :now, "
            ":by, 'seed', :note)"),
            [{**e, "now": now, "by": CLOSES_FILE} for e in new])
    return len(new)


def last_event(conn: sa.Connection, force_code: str, fiscal_year: int, period: int) -> LastEvent | None:
    """The period's latest recorded event (latest day, then latest recorded), or None."""
    row = conn.execute(sa.text(
        "SELECT action, closed_on, source FROM period_close_event "
        "WHERE force_code = :force AND fiscal_year = :fy AND period = :period "
        "ORDER BY closed_on DESC, event_id DESC LIMIT 1"),
        {"force": force_code, "fy": fiscal_year, "period": period}).first()
    return LastEvent(row.action, _day(row.closed_on), row.source) if row else None


def record_period_event(conn: sa.Connection, *, force_code: str, fiscal_year: int, period: int, action: str,
                        on: dt.date, by: str, note: str | None = None) -> str:
    """Record one close or reopen from the command line, in the caller's transaction; returns what was done.

    Raises :class:`PeriodCloseRefused` for a force the warehouse does not know, a close of a period whose
    latest recorded event is a close, a reopen of a period with no recorded close standing, or a day
    earlier than the period's latest event (it would not be the latest, so it would change nothing).
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    what = f"{force_code} FY {fy_label(fiscal_year)} period {period}"
    known = conn.execute(sa.text("SELECT 1 FROM dim_force WHERE force_code = :force"), {"force": force_code}).first()
    if known is None:
        raise PeriodCloseRefused(f"the warehouse has no force {force_code} (a run loads the forces of "
                                 "dags/forces.yaml into it): nothing recorded")
    if conn.execute(sa.text("SELECT 1 FROM dim_fiscal_period WHERE fiscal_year = :fy AND period = :period"),
                    {"fy": fiscal_year, "period": period}).first() is None:
        raise PeriodCloseRefused(f"{what} is not a period of the warehouse's calendar: nothing recorded")
    last = last_event(conn, force_code, fiscal_year, period)
    if action == "close" and last is not None and last.action == "close":
        raise PeriodCloseRefused(f"{what} is already closed (closed on {last.closed_on}, recorded from "
                                 f"{last.source}): nothing recorded")
    if action == "reopen" and (last is None or last.action == "reopen"):
        state = ("has no recorded close" if last is None
                 else f"is already open (reopened on {last.closed_on})")
        raise PeriodCloseRefused(f"{what} {state}: only a recorded close can be reopened; nothing recorded")
    if last is not None and on < last.closed_on:
        raise PeriodCloseRefused(f"{what}: {on} is before its latest recorded event ({last.action} on "
                                 f"{last.closed_on}); record it on {last.closed_on} or later: nothing recorded")
    conn.execute(sa.text(
        "INSERT INTO period_close_event (force_code, fiscal_year, period, action, closed_on, recorded_at, "
        "recorded_by, source, note) VALUES (:force, :fy, :period, :action, :on, :now, :by, 'cli', :note)"),
        {"force": force_code, "fy": fiscal_year, "period": period, "action": action, "on": on,
         "now": meta.utcnow(), "by": by, "note": note})
    done = "closed" if action == "close" else "reopened"
    return f"{what} {done} on {on} (recorded by {by})"


def _day(value) -> dt.date:
    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
