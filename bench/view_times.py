"""Section 9 of the benchmark: the finance views' time against the size of the history.

On the warehouse holding five years (section 3), each finance view is timed as the report and an
analyst read it (``SELECT * FROM view``, every row fetched by psycopg, best of ``repeat``), and once
more for the latest year alone (``WHERE fiscal_year = ...``) where a view has years. Then the history
is made twice and four times as long: its lines are copied into later fiscal years (FY + 5, + 10,
+ 15: the same forces, the same chart, more years), each copy a new line with its own reference in a
copy of its batch,
the summaries rebuilt from the lines as revision 0005 builds them, statistics refreshed, and the
views timed again. ``plot`` draws the times against the number of lines (docs/performance-views.png).

Run alone: ``python bench/view_times.py --warehouse postgresql://...`` on a warehouse you may change
(it adds lines to it). ``bench/run_bench.py`` calls :func:`measure` inside its history section.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: every view the board report reads (marts/figures.py REPORT_VIEWS), and mapping export's
VIEWS = ("v_consolidated_spend", "v_savings_tracker", "v_local_policing", "v_cost_share", "v_settlement",
         "v_intra_alliance_reconciliation", "v_ledger_freshness", "v_unmapped_codes", "v_unmapped_code_years",
         "v_fiscal_year_status", "v_budget_vs_outturn", "v_savings_share", "v_post_close_adjustments")
#: views with a fiscal year, also timed for the latest year alone
BY_YEAR = ("v_consolidated_spend", "v_savings_tracker", "v_local_policing", "v_cost_share", "v_settlement",
           "v_intra_alliance_reconciliation", "v_unmapped_code_years", "v_fiscal_year_status",
           "v_budget_vs_outturn", "v_savings_share", "v_post_close_adjustments")
#: views whose one year (or whose every row) is by its meaning a figure over every year of the history,
#: so that its time grows with the years, and why (section 9 says so beside the growth of each view)
SPANS_HISTORY = {
    "v_settlement": "is life to date: one year's row carries the running totals of every year up to it, "
                    "so the years before it are read too",
    "v_unmapped_codes": "has no year: each code's first and last sighting, lines and money over every year",
    "v_ledger_freshness": "has no year: each force's batches, lines and suspense over every year",
}
FACT_COLUMNS = ("force_code, fiscal_year, period, posting_date, source_line_ref, document_ref, source_line_number, "
                "cost_centre, local_account, objective_code, subjective_code, amount_pence, document_type, "
                "line_text, vendor, reference, batch_id")
#: etl_batch's columns but the generated ones (total_debit, total_credit)
BATCH_COLUMNS = ("batch_id, force_code, source_ref, digest, business_date, sequence, status, rows_read, rows_loaded, "
                 "rows_quarantined, total_debit_pence, total_credit_pence, first_posting_date, last_posting_date, "
                 "posted_through, error, superseded_by, started_at, finished_at")


def _connect(url: str):
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    # no prepared statements: every timed query is planned as an analyst's first query is
    conn = psycopg.connect(plain, autocommit=True, prepare_threshold=None)
    conn.execute("SET search_path = alliance, public")
    return conn


def _best(conn, sql: str, repeat: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(conn.execute(sql).fetchall())
        times.append(time.perf_counter() - started)
    return min(times), rows


def _server_best(conn, sql: str, repeat: int) -> float:
    """The server's own time for ``sql`` (EXPLAIN (ANALYZE, TIMING OFF)'s planning + execution time, no
    row sent to the client), best of ``repeat``, in seconds."""
    times = []
    for _ in range(repeat):
        plan = conn.execute(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}").fetchone()[0]
        top = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
        times.append((top["Planning Time"] + top["Execution Time"]) / 1000)
    return min(times)


def time_views(conn, repeat: int, views: tuple[str, ...] = VIEWS) -> dict:
    """Each view whole and (with years) for the latest year: the client's time, every row fetched
    (``ms``, ``year_ms``), and the server's (``server_ms``, ``year_server_ms``: planning and execution,
    no row sent), so a large view's time splits into the server's work and the fetching of its rows."""
    latest = conn.execute("SELECT MAX(fiscal_year) FROM force_year_summary").fetchone()[0]
    out = {}
    for view in views:
        whole = f"SELECT * FROM {view}"
        seconds, rows = _best(conn, whole, repeat)
        entry = {"ms": round(seconds * 1000, 2), "rows": rows,
                 "server_ms": round(_server_best(conn, whole, repeat) * 1000, 2)}
        if view in BY_YEAR:
            one = f"SELECT * FROM {view} WHERE fiscal_year = {latest}"
            seconds, rows = _best(conn, one, repeat)
            entry.update(year_ms=round(seconds * 1000, 2), year_rows=rows,
                         year_server_ms=round(_server_best(conn, one, repeat) * 1000, 2))
        out[view] = entry
    return out


def _lines(conn) -> int:
    return int(conn.execute("SELECT SUM(line_count) FROM force_year_summary").fetchone()[0] or 0)


def lengthen(url: str, first: int, span: int, copies: range) -> float:
    """Copy the original history (``span`` years from FY ``first``) into fiscal years + span x k for k in
    ``copies``, then rebuild the summaries from the lines.

    Each copy has batches of its own too (etl_batch: the same deliveries and extracts, dates moved on by
    the same years, new ids), as a longer history has: what reads the batches (the latest posting date
    that infers closed periods, the ledger's freshness) reads as many more as a real one would."""
    import sqlalchemy as sa

    from alliance_finance.warehouse import summaries
    from alliance_finance.warehouse.engine import make_engine

    started = time.perf_counter()
    with _connect(url) as conn:
        stride = conn.execute("SELECT COALESCE(MAX(batch_id), 0) FROM etl_batch").fetchone()[0]
        for k in copies:
            years, offset = span * k, stride * k
            conn.execute(f"""
                INSERT INTO etl_batch ({BATCH_COLUMNS}) OVERRIDING SYSTEM VALUE
                SELECT batch_id + {offset}, force_code, source_ref || '#{years}', digest,
                       (business_date + make_interval(years => {years}))::date, sequence, status, rows_read,
                       rows_loaded, rows_quarantined, total_debit_pence, total_credit_pence,
                       (first_posting_date + make_interval(years => {years}))::date,
                       (last_posting_date + make_interval(years => {years}))::date,
                       posted_through + make_interval(years => {years}), error, superseded_by + {offset},
                       started_at, finished_at
                FROM etl_batch WHERE batch_id <= {stride}""")
            conn.execute(f"""
                INSERT INTO fact_ledger_line ({FACT_COLUMNS})
                SELECT force_code, fiscal_year + {years}, period, (posting_date + make_interval(years => {years}))::date,
                       source_line_ref || '#{years}', document_ref || '#{years}', source_line_number, cost_centre, local_account,
                       objective_code, subjective_code, amount_pence, document_type, line_text, vendor, reference,
                       batch_id + {offset}
                FROM fact_ledger_line WHERE fiscal_year BETWEEN {first} AND {first + span - 1}""")
        conn.execute("SELECT setval(pg_get_serial_sequence('etl_batch', 'batch_id'), MAX(batch_id)) FROM etl_batch")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            summaries.rebuild(conn)
            conn.execute(sa.text("ANALYZE fact_ledger_line"))
            conn.execute(sa.text("ANALYZE etl_batch"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def measure(url: str, repeat: int = 5, multiples: tuple[int, ...] = (1, 2, 4), log=print) -> dict:
    """Time the views at 1, 2 and 4 times the warehouse's history (it is lengthened in place)."""
    results = []
    have = 1
    with _connect(url) as conn:
        first, last = conn.execute("SELECT MIN(fiscal_year), MAX(fiscal_year) FROM force_year_summary").fetchone()
    span = last - first + 1
    for multiple in multiples:
        lengthen_seconds = None
        if multiple > have:
            log(f"views: lengthening the history to {multiple}x")
            lengthen_seconds = round(lengthen(url, first, span, range(have, multiple)), 1)
            have = multiple
        with _connect(url) as conn:
            conn.execute("ANALYZE")
            entry = {"multiple": multiple, "lines": _lines(conn),
                     "years": conn.execute("SELECT COUNT(DISTINCT fiscal_year) FROM force_year_summary").fetchone()[0],
                     "summary_rows": {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                                      for t in ("ledger_summary", "nre_summary", "cost_centre_summary",
                                                "partner_flow_summary", "force_year_summary", "unmapped_summary")},
                     "views": time_views(conn, repeat), "lengthen_seconds": lengthen_seconds}
        log(f"views at {multiple}x ({entry['lines']:,} lines): "
            + ", ".join(f"{v} {e['ms']} ms" for v, e in entry["views"].items()))
        results.append(entry)
    return {"sizes": results, "repeat": repeat}


def plot(results: dict, png: Path) -> None:
    """Each view's time (every row; the latest year where it has years) against the lines in the warehouse."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    sizes = results["sizes"]
    lines = [s["lines"] / 1e6 for s in sizes]
    figure = Figure(figsize=(9, 5), dpi=110)
    ax = figure.add_subplot()
    for view in sizes[0]["views"]:  # the views the results hold (an older run's may be fewer)
        ax.plot(lines, [s["views"][view]["ms"] for s in sizes], marker="o", label=f"{view}")
        if view == "v_consolidated_spend":
            ax.plot(lines, [s["views"][view]["year_ms"] for s in sizes], marker="o", linestyle="--",
                    label=f"{view}, latest year")
            if all("server_ms" in s["views"][view] for s in sizes):
                ax.plot(lines, [s["views"][view]["server_ms"] for s in sizes], marker="o", linestyle=":",
                        label=f"{view}, the server's part (EXPLAIN ANALYZE)")
    ax.axhline(50, color="grey", linestyle=":", label="target: 50 ms")
    ax.set_xlabel("ledger lines in the warehouse (millions): 1x, 2x and 4x the five-year history")
    ax.set_ylabel("ms (best of %d, every row fetched)" % results["repeat"])
    ax.set_title("Finance views against the size of the history (PostgreSQL)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="upper left")
    figure.tight_layout()
    figure.savefig(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="a PostgreSQL warehouse you may lengthen")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--png", type=Path, default=Path("views.png"))
    args = parser.parse_args(argv)
    results = measure(args.warehouse, args.repeat)
    plot(results, args.png)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- docs/performance.md ----------------------------------------------------------------------------


def target_rows(history: dict, targets: dict, met) -> list[str]:
    """The results-table rows of section 9 (the report and the views)."""
    rows = []
    report, views = history.get("report"), history.get("views")
    if report:
        ok = report["best"] < targets["report_seconds"]
        rows.append(f"| 9 | the board report (HTML, PNG, XLSX) on five years | **{report['best']:.2f} s** | "
                    f"under {targets['report_seconds']:g} s | {met(ok)} |")
    if views:
        first = views["sizes"][0]["views"]
        slowest = max(first, key=lambda v: first[v]["ms"])
        ok = first[slowest]["ms"] < targets["view_ms"]
        rows.append(f"| 9 | slowest finance view, every row, five years (`{slowest}`, {first[slowest]['rows']:,} rows) | "
                    f"**{first[slowest]['ms']} ms** | under {targets['view_ms']:g} ms | {met(ok)} |")
        others = {v: e for v, e in first.items() if v != slowest}
        worst = max(others, key=lambda v: others[v]["ms"])
        rows.append(f"| 9 | every other finance view, every row (slowest: `{worst}`) | **{others[worst]['ms']} ms** | "
                    f"under {targets['view_ms']:g} ms | {met(others[worst]['ms'] < targets['view_ms'])} |")
        growth = _growth(views)
        largest = max(growth, key=lambda v: abs(growth[v]))
        flat = abs(growth[largest])
        rows.append(f"| 9 | growth of each view's time for one year (a view without years: every row) from 1x to "
                    f"4x the history (largest: `{largest}`) | **{growth[largest] * 100:+.0f} %** | "
                    f"within ±{targets['view_flat'] * 100:g} % | {met(flat <= targets['view_flat'])} |")
    return rows


def _year_ms(entry: dict) -> float:
    return entry.get("year_ms", entry["ms"])


def _growth(views: dict) -> dict:
    first, last = views["sizes"][0]["views"], views["sizes"][-1]["views"]
    return {v: _year_ms(last[v]) / _year_ms(first[v]) - 1 for v in first}


def section(history: dict, png_name: str) -> str:
    """Section 9 of docs/performance.md."""
    report, views = history.get("report"), history.get("views")
    if not (report or views):
        return ""
    out = ["## 9. Finance views and the report against the size of the history\n",
           "The finance views read summary tables kept with the ledger in each batch's transaction "
           "(`warehouse/summaries.py`, revisions 0005 and 0011), never `fact_ledger_line`: a view's time depends on "
           "the chart and the number of years, not on the number of lines. Measured on the five-year "
           "warehouse of section 3 (after its nights), then with its history copied into later fiscal years "
           "to 2 and 4 times its length (`bench/view_times.py`: more years, the same forces and chart; "
           "summaries rebuilt, statistics refreshed). Each view: `SELECT *`, every row fetched by psycopg, "
           f"best of {views['repeat'] if views else 5}; views with years also for the latest year alone. Beside "
           "each, the server's own time (`EXPLAIN (ANALYZE, TIMING OFF)`: planning and execution, no row "
           "sent): what the client's time has beyond it is the fetching of the rows.\n"]
    if report:
        runs = ", ".join(f"{r['seconds']:.2f} s" for r in report["runs"])
        out.append(f"`alliance-finance report` on the five-year warehouse (HTML page, three PNG charts, the XLSX "
                   f"workbook), each run a process of its own: {runs}; best **{report['best']:.2f} s**, peak "
                   f"{min(r['peak_mb'] for r in report['runs']):.0f} MB.\n")
        as_of = report.get("as_of")
        if as_of:
            out.append(f"The same report as of the moment the five years were loaded, before the nights "
                       f"(`report --as-of {as_of['moment']}`: the moment's tables built from the history kept, "
                       f"`marts/as_of.py`, then the same views read): **{as_of['seconds']:.2f} s**, peak "
                       f"{as_of['peak_mb']:.0f} MB, one run.\n")
    if views:
        sizes = views["sizes"]
        head = " | ".join(f"{s['multiple']}x: {s['years']} years, {s['lines'] / 1e6:.1f} M lines" for s in sizes)
        out.append(f"| view | {head} |\n| --- |" + " --- |" * len(sizes))
        for view in sizes[0]["views"]:
            cells = []
            for s in sizes:
                e = s["views"][view]
                server = f", server {e['server_ms']} ms" if "server_ms" in e else ""
                cell = f"{e['ms']} ms ({e['rows']:,} rows{server})"
                if "year_ms" in e:
                    server = f", server {e['year_server_ms']} ms" if "year_server_ms" in e else ""
                    cell += f"; one year {e['year_ms']} ms ({e['year_rows']:,}{server})"
                cells.append(cell)
            out.append(f"| `{view}` | {' | '.join(cells)} |")
        out.append("")
        out.append("Summary rows at each size: " + "; ".join(
            f"{s['multiple']}x " + ", ".join(f"{t} {n:,}" for t, n in s["summary_rows"].items()) for s in sizes) + ".\n")
        growth = _growth(views)
        out.append("Growth of each view's time for one year (a view without years: every row) from 1x to "
                   f"{sizes[-1]['multiple']}x the history: " + ", ".join(
                       f"`{v}` {g * 100:+.0f} %" for v, g in sorted(growth.items(), key=lambda i: -abs(i[1])))
                   + ". " + " ".join(f"`{v}` {why}." for v, why in SPANS_HISTORY.items()) + "\n")
        out.append(f"![view time against history]({png_name})\n")
        out.append("Every view but `v_consolidated_spend` returns a row per year, force and scope (or fewer) and "
                   "reads a few thousand summary rows: milliseconds, whatever the lines. `v_consolidated_spend` "
                   "returns a row per year, period, force, objective and subjective, so *all* of it grows with the "
                   "years it covers (the rows are its contract, and fetching them is the time); one year of it "
                   "stays the same size and the same time as history grows.\n")
    return "\n".join(out)
