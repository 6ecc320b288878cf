"""The alliance board report: one self-contained HTML page, its charts as PNG, and an XLSX workbook.

``alliance-finance report --warehouse URL --out DIR`` writes into DIR:

* ``index.html``: for the alliance board and every force's finance team. Opens offline: styles inline,
  charts embedded as PNG data URIs, no script, font or stylesheet from anywhere else. Every value
  is escaped (Jinja2 autoescape).
* ``savings_vs_target.png``, ``nre_by_function.png``, ``local_policing.png``: the same charts.
* ``alliance_finance.xlsx``: one sheet per view, money as real numbers exact to the penny in
  ``£#,##0.00``, header row frozen, and text that a spreadsheet could take for a formula kept as text.

Every figure comes from the finance views through :func:`alliance_finance.marts.packs.read_with_stamp`
(one snapshot, now or as of a moment; each run recorded as a board pack); nothing is computed here but presentation (labels, percentages, the words "owes").
The same warehouse gives the same page, charts and workbook, byte for byte. The forces, their names and
colours come from the warehouse's force dimension and ``dags/forces.yaml``, never from this code.

Modules: :mod:`.page` (the page's context and HTML), :mod:`.charts`, :mod:`.workbook`, :mod:`.format`.

Where the system can fork and the calling process has no thread, the charts and the page are written by
a process forked before the warehouse is read: it imports matplotlib while this process reads, then
draws from the figures it is sent (all but the consolidated view's rows, which only the workbook shows)
while this process writes the workbook. Otherwise (a scheduler's task runner has threads) both are
written here, one after the other. Either way the files are the same bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import multiprocessing
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.core.urls import mask_url, normalise_url
from alliance_finance.marts import packs
from alliance_finance.report.charts import CHART_NAMES, render_charts
from alliance_finance.report.format import force_colours
from alliance_finance.report.page import forces_without_ledger, render_html
from alliance_finance.report.workbook import write_workbook
from alliance_finance.warehouse import history
from alliance_finance.warehouse.engine import PG_SCHEMA, make_engine

__all__ = ["CHART_NAMES", "HTML_NAME", "WORKBOOK_NAME", "ReportFiles", "build_report", "report_cli",
           "write_workbook"]

log = logging.getLogger(__name__)

HTML_NAME = "index.html"
WORKBOOK_NAME = "alliance_finance.xlsx"


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote."""

    html: Path
    workbook: Path
    charts: dict[str, Path]
    has_data: bool
    #: "Name (CODE)" of each force in the warehouse with no ledger line loaded yet
    without_ledger: tuple[str, ...] = ()
    #: the board pack the report is (alliance_finance.marts.packs.PackStamp), None without a warehouse
    pack: Any = None
    #: with ``pack``: where the rebuilt figures differ from those recorded (empty: reproduced)
    differences: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def report_cli(warehouse_url: str, out: Path, forces: Sequence[ForceConfig] | None = None, *,
               as_of: dt.datetime | None = None, pack: int | None = None) -> int:
    """``alliance-finance report``: write the report into ``out``; 0 when written (and, with ``pack``,
    the pack reproduced to the penny), 1 when it could not be."""
    try:
        files = build_report(warehouse_url, Path(out), forces, as_of=as_of, pack=pack)
    except (packs.PackError, history.HistoryError) as exc:
        print(f"alliance-finance report: {exc}", file=sys.stderr)
        return 1
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        print(f"alliance-finance report: could not report on {mask_url(warehouse_url)}: {exc}\n"
              "(a warehouse at an older schema has no finance views yet: `alliance-finance run` upgrades it)",
              file=sys.stderr)
        return 1
    if not files.has_data:
        print(f"No ledger loaded in {mask_url(warehouse_url)} yet: wrote a report that says so.")
    elif files.without_ledger:
        print(f"No ledger loaded yet for {', '.join(files.without_ledger)}: the report says so, and shows no "
              "alliance (ALL) figures until every force has delivered a year.")
    print(f"Board report: {files.html}")
    print(f"Workbook:     {files.workbook}")
    for path in files.charts.values():
        print(f"Chart:        {path}")
    stamp = files.pack
    if stamp is not None:
        print(f"Board pack:   {stamp.pack_id if stamp.pack_id is not None else '(not recorded)'}, figures as at "
              f"{stamp.as_at:%Y-%m-%d %H:%M:%S} UTC, digest {stamp.figures_digest[:16]}")
    if pack is not None:
        if files.differences:
            print(f"Board pack {pack} NOT reproduced: the figures rebuilt as at {stamp.as_at:%Y-%m-%d %H:%M:%S} "
                  "differ from those recorded:", file=sys.stderr)
            for line in files.differences:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"Board pack {pack} reproduced: every figure identical to the one recorded "
              f"(digest {stamp.figures_digest}).")
    return 0


def build_report(url_or_engine: str | sa.Engine, out: Path,
                 forces: Sequence[ForceConfig] | None = None, *, as_of: dt.datetime | None = None,
                 pack: int | None = None, record_pack: bool = True) -> ReportFiles:
    """Read the warehouse and write the HTML page, the PNG charts and the workbook into ``out``.

    ``forces`` (default ``dags/forces.yaml``) give each force its colour. A warehouse holding only some
    forces' ledgers (the first night), or none, gives a report that says which forces have none yet.
    ``as_of``: the warehouse as it stood at that moment (UTC). ``pack``: a recorded board pack rebuilt
    as of its moment and checked against its recorded figures (``ReportFiles.differences``). Otherwise
    the report is recorded as a board pack (:mod:`alliance_finance.marts.packs`) unless ``record_pack``
    is False.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    page = _PageProcess(forces, out) if _can_fork() else None
    try:
        drawing = _import_ahead(charts=page is None)
        try:
            figures, found = _read(url_or_engine, as_of=as_of, pack=pack, record_pack=record_pack)
        finally:
            drawing.join()
        has_data = figures is not None and figures.has_ledger
        workbook = out / WORKBOOK_NAME
        if page is None:
            charts = _write_page(figures, forces, out, has_data)
            write_workbook(figures, workbook)
        else:
            page.send(_page_figures(figures), has_data)
            write_workbook(figures, workbook)
            charts = page.result()
    finally:
        if page is not None:
            page.close()
    return ReportFiles(html=out / HTML_NAME, workbook=workbook, charts=charts, has_data=has_data,
                       without_ledger=tuple(forces_without_ledger(figures)),
                       pack=figures.pack if figures is not None else None, differences=tuple(found))


def _can_fork() -> bool:
    # a process with threads (a scheduler's task runner) is not forked, nor a daemonic one (a Celery
    # worker's task process, which multiprocessing refuses children): the page is written here
    return ("fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
            and not multiprocessing.current_process().daemon)


def _import_ahead(*, charts: bool) -> threading.Thread:
    """Import XlsxWriter (and with ``charts`` matplotlib's Figure and Agg canvas) in a thread of its
    own while the warehouse is read: the read mostly waits on the database (the driver lets go of the
    GIL). Nothing is drawn or written in the thread; an import that fails here fails again, and is
    reported, where the module is used."""
    def load() -> None:
        try:
            import xlsxwriter  # noqa: F401

            if charts:
                import matplotlib.backends.backend_agg  # noqa: F401
                import matplotlib.figure  # noqa: F401
        except Exception:  # noqa: S110 - raised again where the module is used
            pass

    thread = threading.Thread(target=load, name="report-imports", daemon=True)
    thread.start()
    return thread


class _PageProcess:
    """The charts and the page written in a process forked before the warehouse is read: it imports
    matplotlib on the other core while this process reads, then draws from the figures it is sent
    while this process writes the workbook. Each is about a second of CPU; they share only the figures."""

    def __init__(self, forces: Sequence[ForceConfig] | None, out: Path) -> None:
        context = multiprocessing.get_context("fork")
        self._here, there = context.Pipe()
        self._process = context.Process(target=_page_process, args=(there, self._here, forces, out),
                                         name="alliance-report-page", daemon=True)
        self._process.start()
        there.close()
        self._sent = False

    def send(self, figures, has_data: bool) -> None:
        self._here.send((figures, has_data))
        self._sent = True

    def result(self) -> dict[str, Path]:
        """The charts written, by name; the page process's own exception if it failed."""
        try:
            outcome = self._here.recv()
        except EOFError:  # the process died before it could say
            self._process.join()
            outcome = RuntimeError(f"the report's page and charts were not written: their process ended "
                                   f"with exit code {self._process.exitcode}")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        """Stop the process if it was sent nothing (the read failed), and wait for it."""
        if not self._sent:
            with contextlib.suppress(OSError):
                self._here.send(None)
        self._here.close()
        self._process.join()


def _page_process(connection, parent_end, forces: Sequence[ForceConfig] | None, out: Path) -> None:
    """In the forked process: matplotlib imported while the figures are read, then :func:`_write_page`
    on the figures received; what it wrote, or its exception, sent back."""
    parent_end.close()  # this process's copy: a parent that dies leaves the pipe at end of file
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401
    except Exception:  # noqa: S110 - raised again where the charts are drawn
        pass
    try:
        message = connection.recv()
    except EOFError:
        return
    if message is None:
        return
    figures, has_data = message
    try:
        outcome: Any = _write_page(figures, forces, out, has_data)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the report
        outcome = exc
    with contextlib.suppress(OSError):  # the report no longer listens (its workbook failed): nothing to say
        try:
            connection.send(outcome)
        except OSError:
            raise
        except Exception:  # an exception that does not pickle: its words go back
            connection.send(RuntimeError(f"the report's page and charts were not written: {outcome!r}"))
    connection.close()


def _page_figures(figures):
    """What the page and the charts read of the figures: all but the consolidated view's rows and the
    drill-down's summaries, which only the workbook shows (a fiftieth of the pickle's size and time)."""
    if figures is None:
        return None
    return dataclasses.replace(figures, views={name: rows for name, rows in figures.views.items()
                                               if name != "v_consolidated_spend"}, drill_summaries=None)


def _read(url_or_engine: str | sa.Engine, *, as_of: dt.datetime | None, pack: int | None,
          record_pack: bool) -> tuple[Any, list[str]]:
    """The board's figures with their pack stamp (None: no warehouse, or no schema yet), and with
    ``pack`` the differences from the figures recorded."""
    own_engine = not isinstance(url_or_engine, sa.Engine)
    figures = None
    found: list[str] = []
    if not (own_engine and _missing_sqlite_file(url_or_engine)):
        engine = make_engine(url_or_engine) if own_engine else url_or_engine
        try:
            if _has_schema(engine):
                if pack is not None:
                    _, figures, stamp, found = packs.reproduce(engine, pack)
                else:
                    figures, stamp = packs.read_with_stamp(engine, as_of)
                    if record_pack:
                        stamp = _record(engine, figures, stamp)
                figures.pack = stamp
            elif pack is not None:
                raise packs.PackError(f"board pack {pack} does not exist: the warehouse has no schema yet")
        finally:
            if own_engine:
                engine.dispose()
    return figures, found


def _write_page(figures, forces: Sequence[ForceConfig] | None, out: Path, has_data: bool) -> dict[str, Path]:
    """The PNG charts (stale ones removed) and the HTML page, which embeds them; the charts by name."""
    charts: dict[str, Path] = {}
    chart_png: dict[str, bytes] = {}
    if has_data:
        chart_png = render_charts(figures, force_colours(forces))
        for name, png in chart_png.items():
            path = out / f"{name}.png"
            path.write_bytes(png)
            charts[name] = path
    for stale in CHART_NAMES:
        if stale not in charts:
            (out / f"{stale}.png").unlink(missing_ok=True)
    (out / HTML_NAME).write_text(render_html(figures, chart_png), encoding="utf-8")
    return charts


def _record(engine: sa.Engine, figures, stamp):
    try:
        return packs.record(engine, figures, stamp)
    except sa.exc.ProgrammingError as exc:  # a role that may read but not record: the report still stands
        log.warning("the report could not be recorded as a board pack: %s", exc.orig)
        return stamp


def _missing_sqlite_file(url: str) -> bool:
    # Reporting must not create an empty SQLite warehouse where none exists.
    u = normalise_url(url)
    return u.get_backend_name() == "sqlite" and bool(u.database) and u.database != ":memory:" \
        and not Path(u.database).exists()


def _has_schema(engine: sa.Engine) -> bool:
    schema = PG_SCHEMA if engine.dialect.name == "postgresql" else None
    return sa.inspect(engine).has_table("fact_ledger_line", schema=schema)
