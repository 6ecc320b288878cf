"""Every force's pass at once, each in a process of its own (``alliance-finance run --parallel``).

The forces share nothing but the warehouse, which takes each force's load lock separately (the
force DAGs run like this every night), so on a machine with two or more cores one force's Python
work (reading, Great Expectations) runs beside the other's and beside the database's loading.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
from typing import Callable

from alliance_finance.config.settings import Settings
from alliance_finance.runner.logs import configure_logging
from alliance_finance.runner.validators import RunValidator
from alliance_finance.sources.base import share_groups

#: (force code, settings, validator) -> exit code: one force's pass, its summary printed
RunAndReport = Callable[[str, Settings, RunValidator], int]


def run_side_by_side(forces: list[str], settings: Settings, run_and_report: RunAndReport) -> int:
    """Every force's pass at once: the first force's in this process, each other force's in a process
    of its own; exit 1 if any pass did not load everything offered or its process died.

    This process runs a pass itself rather than waiting beside one process per force: one process
    fewer holding Python, pandas, pyarrow and Great Expectations (about 300 MB of the peak memory, which
    is the sum of the processes'). Where the system can fork (Linux), the readers, Great Expectations
    and the loader are imported once, here, before the other processes fork (two seconds of CPU saved,
    and their loading starts that much sooner); this process has no thread and no open connection at
    that point, and starts its own pass (and its threads) only after they have forked. Elsewhere each
    process is started fresh (``spawn``) and imports them itself. Each pass has its own Great
    Expectations context; the last one to finish brings the Data Docs up to date for all. They write
    to the same stdout and stderr. Stopped by SIGTERM, this process stops the others and ends at once,
    as they do: each pass's batch in flight rolls back with its connection.
    """
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
        # deferred on purpose: imported here for this process's own pass and to be inherited by the forked ones
        from alliance_finance import validation  # noqa: F401
        from alliance_finance.validation import gx_compat

        gx_compat.import_great_expectations()  # as the Validator imports it: its unused heavy parts deferred
        from alliance_finance.sources.erp_sql import batch  # noqa: F401 - the readers' read steps (pyarrow)
        from alliance_finance.sources.sap_files import read  # noqa: F401
        from alliance_finance.warehouse import load  # noqa: F401
    else:
        context = multiprocessing.get_context("spawn")
    # the passes run at once: each reads groups of a share of the full size, so that their groups in
    # memory together are about one pass's (inherited by forked processes; spawned ones set it again)
    share_groups(len(forces))
    sys.stdout.flush()
    sys.stderr.flush()
    finishing = context.Value("i", len(forces))  # passes still running; the last builds Data Docs
    validated = context.Value("i", 0)  # set by a pass that stored validation results
    level = logging.getLogger().getEffectiveLevel()
    here, others = forces[0], forces[1:]
    processes = {force_code: context.Process(
        target=_force_process, name=f"alliance-run-{force_code}",
        args=(force_code, settings, run_and_report, level, finishing, validated, len(forces)))
        for force_code in others}
    exit_code = 0

    def stop(signum, frame):  # SIGTERM (a scheduler or an operator stopping the run): stop every pass at once
        _stop_processes(processes)
        print(f"run stopped by signal {signum}; each force's batch in flight was rolled back: run again",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(128 + signum)  # no waiting for this process's own pass: its connection closes, its batch rolls back

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        for process in processes.values():
            process.start()
        exit_code = _run_pass(here, settings, run_and_report, finishing, validated)
        for force_code, process in processes.items():
            process.join()
            if process.exitcode != 0:
                exit_code = 1
                if process.exitcode is not None and process.exitcode < 0:
                    print(f"{force_code}: run process ended by signal {-process.exitcode}; its batch in flight "
                          "was rolled back: run again", file=sys.stderr, flush=True)
    finally:
        # this process was interrupted: so are the passes (each rolls back its batch in flight; the
        # next run offers it again)
        _stop_processes(processes)
        share_groups(1)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return exit_code


def _stop_processes(processes: dict) -> None:
    for process in processes.values():
        if process.is_alive():
            process.terminate()
    for process in processes.values():
        if process.pid is not None:
            process.join()


def _force_process(force_code: str, settings: Settings, run_and_report: RunAndReport, level: int,
                   finishing, validated, passes: int) -> None:
    """The body of one other process of :func:`run_side_by_side`: exits 0 or 1 as the force's pass did."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stopped by the parent: at once (the batch in flight rolls back)
    share_groups(passes)  # a spawned process starts with the full limits
    configure_logging(verbose=level <= logging.DEBUG)
    sys.exit(_run_pass(force_code, settings, run_and_report, finishing, validated))


def _run_pass(force_code: str, settings: Settings, run_and_report: RunAndReport, finishing, validated) -> int:
    """One force's pass with a Great Expectations context of its own; the last pass to finish brings
    the Data Docs up to date over every result stored (every force's). Returns the pass's exit code."""
    validator = RunValidator(settings.warehouse_url, settings.var_dir, settings)
    code = 1
    try:
        code = run_and_report(force_code, settings, validator)
    finally:
        with finishing.get_lock():
            if validator.started:
                validated.value = 1
            finishing.value -= 1
            last = finishing.value == 0
        # Data Docs once, by the last pass to finish, over every result stored (every force's)
        validator.close(build_docs=last and bool(validated.value))
    return code
