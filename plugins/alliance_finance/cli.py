"""The ``alliance-finance`` command: generate, run, report, explain, status, reconcile, close-period, mapping.

Exit status: 0 when everything offered was loaded; 1 when any batch was rejected or a run failed
(the message names the file or journal and the reason); 2 for wrong usage.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import gc
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from alliance_finance.config.forces import force_codes
from alliance_finance.core.paths import default_warehouse_url
from alliance_finance.runner.logs import configure_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _fiscal_year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a fiscal year is the 4-digit year it begins, e.g. 2016; got {text!r}")
    if not 2000 <= year <= 2099:
        raise argparse.ArgumentTypeError(f"fiscal year out of range 2000-2099: {year}")
    return year


def _day(text: str):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def _period(text: str) -> int:
    if not (text.isdigit() and 1 <= int(text) <= 16):
        raise argparse.ArgumentTypeError(f"a period is 1-12 (April to March) or 13-16 (year-end adjustments); "
                                         f"got {text!r}")
    return int(text)


def _positive_float_text(text: str) -> str:
    # --scale is a line-count multiplier, kept as text and parsed as a Decimal by the generator
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"--scale must be a positive number, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--scale must be positive, got {text}")
    return text


def _source_url(text: str) -> tuple[str, str]:
    """``CODE=URL``: the SQLAlchemy URL of a force's source database (dags/forces.yaml names the codes)."""
    code, sep, url = text.partition("=")
    if not sep or not url:
        raise argparse.ArgumentTypeError(f"expected CODE=URL (e.g. CODE=postgresql://host/erp), got {text!r}")
    if code not in force_codes():
        raise argparse.ArgumentTypeError(f"no force {code!r} in dags/forces.yaml (forces: {', '.join(force_codes())})")
    return code, url


def _moment(text: str) -> dt.datetime:
    from alliance_finance.marts.as_of import parse_moment

    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alliance-finance",
        description="Load the alliance forces' ledgers into the alliance finance warehouse, and report on it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress in detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("generate", help="write sample sources for both forces that follow SOURCES.md")
    g.add_argument("--out", required=True, type=Path, help="folder to write avon_somerset/ and wiltshire/ into")
    g.add_argument("--from-fy", type=_fiscal_year, default=2014, help="first fiscal year (default 2014)")
    g.add_argument("--to-fy", type=_fiscal_year, default=2018, help="last fiscal year (default 2018)")
    g.add_argument("--scale", type=_positive_float_text, default="1",
                   help="multiplies the number of lines, not the money (1 = about 100,000 lines a year)")
    g.add_argument("--seed", type=int, default=2015, help="random seed: the same seed gives the same bytes")
    g.add_argument("--as-of", type=_day, metavar="DATE",
                   help="the sources as they stand on the night of DATE (YYYY-MM-DD): deliveries and journals "
                        "posted before that day only, the current fiscal year incomplete; a later DATE extends them")

    r = sub.add_parser("run", help="one pipeline pass: extract, validate, map and load everything new")
    r.add_argument("--sources", type=Path, help="folder holding each force's sources (dags/forces.yaml: source)")
    r.add_argument("--warehouse", default=None,
                   help="SQLAlchemy URL (default $ALLIANCE_WAREHOUSE_URL, else sqlite:///var/warehouse.db)")
    r.add_argument("--force", choices=force_codes(), help="one force only (default every force)")
    r.add_argument("--source-url", type=_source_url, action="append", default=[], metavar="CODE=URL",
                   help="CODE=URL: the SQLAlchemy URL of force CODE's source database, instead "
                        "of the sample file under --sources; repeatable")
    r.add_argument("--parallel", action="store_true",
                   help="run the forces at the same time, as their DAGs run every night: the first "
                        "force in this process, each other one in a process forked from it (faster with "
                        "two or more cores; the forces' output interleaves)")

    p = sub.add_parser("report", help="the board report: HTML page, PNG charts and an XLSX workbook")
    p.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    p.add_argument("--out", required=True, type=Path, help="folder to write the report into")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--as-of", type=_moment, metavar="TIMESTAMP",
                      help="the report exactly as the warehouse would have shown it at that moment (UTC unless "
                           "an offset is given; a date alone means the end of that day)")
    when.add_argument("--pack", type=int, metavar="ID",
                      help="reproduce board pack ID and check every figure is identical to the one recorded")

    h = sub.add_parser("changes", help="what changed since a board pack, each change with its money")
    h.add_argument("--since-pack", required=True, type=int, metavar="ID", help="the board pack to compare with")
    h.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    h.add_argument("--out", type=Path, metavar="FILE", help="also write every change to FILE (.xlsx or .csv)")

    e = sub.add_parser("explain", help="the ledger lines behind one figure of a view, to XLSX or CSV; their "
                                        "signed sum equals the figure (docs/finance.md, Drill-down)")
    e.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    e.add_argument("--view", required=True, help="the view, e.g. v_savings_tracker")
    e.add_argument("--measure", required=True, help="the figure's column, e.g. ytd_savings")
    e.add_argument("--out", required=True, type=Path, help="file to write the lines to: .xlsx or .csv")
    e.add_argument("--as-of", type=_moment, metavar="TIMESTAMP",
                   help="the figure and its lines as the warehouse held them at that moment (as for report)")
    _explain_key_options(e)

    s = sub.add_parser("status", help="batches, row accounting, quarantine, unmapped codes, freshness")
    s.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")

    c = sub.add_parser("reconcile", help="check the journals loaded from each ERP database against the ERP "
                                          "(edited after posting?)")
    c.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    c.add_argument("--sources", type=Path, help="folder holding the erp_sql forces' sample databases")
    c.add_argument("--force", choices=force_codes(), help="one force only (default every erp_sql force)")
    c.add_argument("--source-url", type=_source_url, action="append", default=[], metavar="CODE=URL",
                   help="CODE=URL: the SQLAlchemy URL of force CODE's ERP database, instead of the sample "
                        "file under --sources; repeatable")
    c.add_argument("--posted-since", type=_day, help="only journals posted on or after this day (YYYY-MM-DD)")

    k = sub.add_parser("close-period", help="record that finance closed (or reopened) a period of a force's "
                                             "ledger (docs/finance.md)")
    k.add_argument("--force", required=True, choices=force_codes(), help="the force whose period it is")
    k.add_argument("--fiscal-year", required=True, type=_fiscal_year, help="the year it begins, e.g. 2016")
    k.add_argument("--period", required=True, type=_period, help="1-12 (April to March) or 13-16")
    k.add_argument("--reopen", action="store_true", help="record a re-opening instead of a close")
    k.add_argument("--on", type=_day, help="the day finance closed (or reopened) it, YYYY-MM-DD (default today)")
    k.add_argument("--by", help="who records it (default $USER)")
    k.add_argument("--note", help="a note kept with the event")
    k.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")

    m = sub.add_parser("mapping", help="finance's mapping decisions: export the unmapped codes, import the "
                                        "decisions, list them (docs/finance.md)")
    msub = m.add_subparsers(dest="mapping_command", metavar="ACTION", required=True)
    me = msub.add_parser("export", help="an XLSX workbook of every unmapped code, with columns to fill in")
    me.add_argument("--out", required=True, type=Path, help="the workbook to write (FILE.xlsx)")
    me.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    mi = msub.add_parser("import", help="record the decisions of a filled-in workbook and restate the ledger")
    mi.add_argument("file", type=Path, help="the workbook mapping export wrote, filled in")
    mi.add_argument("--by", required=True, help="who decided (kept with every decision)")
    mi.add_argument("--reason", required=True, help="why (kept with every decision)")
    mi.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    ml = msub.add_parser("list", help="every mapping decision recorded, with the money it moved")
    ml.add_argument("--warehouse", default=None, help="SQLAlchemy URL (default as for run)")
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the process is this command (the console script), not a caller's function call
        if hasattr(signal, "SIGPIPE"):
            # `alliance-finance status | head` ends quietly, as a Unix command should
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        # The process ends when the command returns. Python's shutdown would then run the cyclic
        # garbage collector over every object still alive (Great Expectations' classes, pandas,
        # SQLAlchemy: about 0.4 s of a small night's run) only to free memory the operating system
        # takes back anyway. Frozen at exit (after the command's files are closed, its connections
        # disposed and, by logging's own exit handler, its logs flushed) they are left alone;
        # objects are still released as their references go, as on any exit.
        atexit.register(gc.freeze)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    configure_logging(verbose=args.verbose)
    if getattr(args, "warehouse", "unset") is None:
        args.warehouse = default_warehouse_url()
    # deferred: each command imports only its own stack (run and reconcile load pyarrow and SQLAlchemy,
    # seconds on a busy machine), so --help, usage errors and generate answer at once
    from alliance_finance.core.urls import UnusableURL, check_url

    try:
        if getattr(args, "warehouse", None):
            check_url(args.warehouse, "--warehouse")
        for code, url in getattr(args, "source_url", []):
            check_url(url, f"--source-url {code}")
    except UnusableURL as exc:
        print(f"alliance-finance {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    if args.command == "generate":
        if args.from_fy > args.to_fy:
            parser.error(f"--from-fy {args.from_fy} is after --to-fy {args.to_fy}")
        if args.as_of is not None and args.as_of <= dt.date(args.from_fy, 4, 1):
            parser.error(f"--as-of {args.as_of} is not after 1 April {args.from_fy}, the first day of --from-fy")
        from alliance_sample import generate_sources

        summary = generate_sources(args.out, from_fy=args.from_fy, to_fy=args.to_fy,
                                   scale=Decimal(args.scale), seed=args.seed, as_of=args.as_of)
        print(summary.describe())
        return EXIT_OK

    if args.command in ("run", "reconcile"):
        if args.sources is None and not args.source_url:
            parser.error(f"{args.command} needs --sources DIR (and/or --source-url CODE=URL)")
        from alliance_finance.config.settings import Settings

        settings = Settings.from_environment(warehouse=args.warehouse, sources_dir=args.sources,
                                             source_urls=dict(args.source_url))
        if args.command == "run":
            from alliance_finance.runner.command import run_cli
            return run_cli(settings, force=args.force, parallel=args.parallel)
        from alliance_finance.reconcile import reconcile_cli
        return reconcile_cli(settings, force=args.force, posted_since=args.posted_since)

    if args.command == "status":
        from alliance_finance.status import status_cli
        return status_cli(warehouse_url=args.warehouse)

    if args.command == "report":
        from alliance_finance.report import report_cli
        return report_cli(warehouse_url=args.warehouse, out=args.out, as_of=args.as_of, pack=args.pack)

    if args.command == "changes":
        if args.out is not None and args.out.suffix.lower() not in (".xlsx", ".csv"):
            parser.error(f"--out {args.out}: expected a .xlsx or .csv file")
        from alliance_finance.changes_cli import changes_cli
        return changes_cli(warehouse_url=args.warehouse, pack_id=args.since_pack, out=args.out)

    if args.command == "close-period":
        return _close_period(parser, args)

    if args.command == "mapping":
        return _mapping(parser, args)

    if args.command == "explain":
        from alliance_finance.marts.drilldown import KEY_OPTIONS, NO_VALUE, FigureSpec
        from alliance_finance.report.explain import explain_cli

        key = {}
        for column in KEY_OPTIONS:
            value = getattr(args, column)
            if value is not None:
                key[column] = None if value == NO_VALUE else value
        return explain_cli(args.warehouse, FigureSpec(args.view, args.measure, key), args.out, as_of=args.as_of)

    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _mapping(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``alliance-finance mapping export | import | list`` (:mod:`alliance_finance.mapping_command`)."""
    from alliance_finance import mapping_command

    if args.mapping_command == "export":
        if args.out.suffix.lower() != ".xlsx":
            parser.error(f"mapping export --out must name an .xlsx file, got {args.out}")
        return mapping_command.export_cli(args.warehouse, args.out)
    if args.mapping_command == "import":
        by, reason = args.by.strip(), args.reason.strip()
        if not by or not reason:
            parser.error("mapping import needs --by NAME and --reason TEXT, neither blank")
        from alliance_finance.config.settings import Settings

        settings = Settings.from_environment(warehouse=args.warehouse)
        return mapping_command.import_cli(args.warehouse, args.file, by=by, reason=reason,
                                          reference_dir=settings.reference_dir, forces=settings.forces())
    return mapping_command.list_cli(args.warehouse)


def _explain_key_options(e: argparse.ArgumentParser) -> None:
    """The options naming the figure's row: those its view's key needs (docs/finance.md, Drill-down)."""
    e.add_argument("--fiscal-year", dest="fiscal_year", type=_fiscal_year, help="the year it begins, e.g. 2016")
    e.add_argument("--force", dest="force_code", help="a force code, or ALL for every force together")
    e.add_argument("--scope", dest="alliance_scope", help="alliance scope: alliance, local, central, governance, unmapped")
    e.add_argument("--function", dest="function_code", help="function code (v_budget_vs_outturn)")
    e.add_argument("--objective", dest="objective_code", help="objective code (v_consolidated_spend)")
    e.add_argument("--subjective", dest="subjective_code", help="subjective code (v_consolidated_spend)")
    e.add_argument("--period", type=_period, help="period 1-16 (v_consolidated_spend, v_post_close_adjustments)")
    e.add_argument("--payer", dest="payer_force", help="paying force, or none (v_intra_alliance_reconciliation)")
    e.add_argument("--payee", dest="payee_force", help="receiving force, or none (v_intra_alliance_reconciliation)")
    e.add_argument("--code-type", dest="code_type", choices=["account", "cost_centre"], help="v_unmapped_codes")
    e.add_argument("--code", dest="local_code", help="the local code, or none (v_unmapped_codes)")
    e.add_argument("--batch", dest="batch_id", type=int, help="batch id (v_post_close_adjustments)")


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name to be found: --by is then required
        return ""


def _close_period(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``alliance-finance close-period``: one event appended to period_close_event; 1 when refused."""
    import os

    from alliance_finance.core.urls import mask_url
    from alliance_finance.marts.closes import PeriodCloseRefused, record_period_event
    from alliance_finance.warehouse import locks, migrate
    from alliance_finance.warehouse.engine import make_engine

    today = dt.date.today()
    on = args.on or today
    if on > today:
        parser.error(f"--on {on} is in the future: record a close once finance has closed the period")
    by = (args.by or os.environ.get("USER") or _login_name()).strip()
    if not by:
        parser.error("--by NAME is needed ($USER is not set)")
    prog = "alliance-finance close-period"
    engine = make_engine(args.warehouse)
    try:
        with engine.connect() as conn:
            if migrate.current_revision(conn) is None:
                print(f"{prog}: the warehouse {mask_url(args.warehouse)} has no schema yet (alliance-finance run "
                      "creates it and loads the forces): nothing recorded", file=sys.stderr)
                return EXIT_FAILED
        migrate.upgrade(engine)
        with engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="immediate")
            with conn.begin():
                # one writer of period closes at a time (seeds are synchronised under the same lock)
                locks.pg_xact_lock(conn, locks.MIGRATION_KEY)
                done = record_period_event(conn, force_code=args.force, fiscal_year=args.fiscal_year,
                                           period=args.period, action="reopen" if args.reopen else "close",
                                           on=on, by=by, note=args.note)
    except PeriodCloseRefused as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - an operator command: say what and where, masked
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"{prog}: warehouse {mask_url(args.warehouse)}: {text[0] if text else type(exc).__name__}: "
              "nothing recorded", file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    print(done)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
