"""Every force's pass at once, each in a process of its own (``alliance-finance run --parallel``).

The forces share nothing but the warehouse, which takes each force's load lock separately (the
force DAGs run like this every night), so on a machine with two or more cores one force's Python
work (reading, Great Expectations) runs beside the other's and beside the database's loading.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
from typing import Callable

from alliance_finance.config.settings import Settings
from alliance_finance.runner.logs import configure_logging
from alliance_finance.runner.validators import RunValidator

#: (force code, settings, validator) -> exit code: one force's pass, its summary printed
RunAndReport = Callable[[str, Settings, RunValidator], int]


def run_side_by_side(forces: list[str], settings: Settings, run_and_report: RunAndReport) -> int:
    """Each force's pass in a process of its own, all at once; exit 1 if any pass did not load
    everything offered or its process died.

    Where the system can fork (Linux), the readers, Great Expectations and the loader are imported
    once, here, before the processes fork (two seconds of CPU saved, and the larger force's loading
    starts that much sooner); this process has no thread and no open connection at that point.
    Elsewhere each process is started fresh (``spawn``) and imports them itself. Each process has its
    own Great Expectations context; the last one to finish brings the Data Docs up to date for all.
    They write to the same stdout and stderr, and are stopped if this process is interrupted.
    """
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
        # deferred on purpose: imported only to be inherited by the forked processes
        import great_expectations  # noqa: F401

        from alliance_finance import validation  # noqa: F401
        from alliance_finance.sources.erp_sql import batch  # noqa: F401 - the readers' read steps (pyarrow)
        from alliance_finance.sources.sap_files import read  # noqa: F401
        from alliance_finance.warehouse import load  # noqa: F401
    else:
        context = multiprocessing.get_context("spawn")
    sys.stdout.flush()
    sys.stderr.flush()
    finishing = context.Value("i", len(forces))  # passes still running; the last builds Data Docs
    validated = context.Value("i", 0)  # set by a pass that stored validation results
    level = logging.getLogger().getEffectiveLevel()
    processes = {force_code: context.Process(
        target=_force_process, name=f"alliance-run-{force_code}",
        args=(force_code, settings, run_and_report, level, finishing, validated))
        for force_code in forces}
    exit_code = 0

    def stop(signum, frame):  # SIGTERM (a scheduler or an operator stopping the run): stop the passes too
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        for process in processes.values():
            process.start()
        for force_code, process in processes.items():
            process.join()
            if process.exitcode != 0:
                exit_code = 1
                if process.exitcode is not None and process.exitcode < 0:
                    print(f"{force_code}: run process ended by signal {-process.exitcode}; its batch in flight "
                          "was rolled back: run again", file=sys.stderr, flush=True)
    finally:
        for process in processes.values():
            if process.is_alive():  # this process was interrupted: so are the passes (each rolls back its
                process.terminate()  # batch in flight; the next run offers it again)
                process.join()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return exit_code


def _force_process(force_code: str, settings: Settings, run_and_report: RunAndReport, level: int,
                   finishing, validated) -> None:
    """The body of one process of :func:`run_side_by_side`: exits 0 or 1 as the force's pass did."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stopped by the parent: at once (the batch in flight rolls back)
    configure_logging(verbose=level <= logging.DEBUG)
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
    sys.exit(code)
