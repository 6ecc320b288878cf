"""The alliance-finance benchmark (issue #8): the pipeline against the physical floor and the usual approach.

``make bench`` runs this; ``python bench/run_bench.py --quick`` runs a reduced version in a few
minutes. Every figure is measured on sample data from ``alliance-finance generate`` (kept in
``--data`` and reused when its parameters match) against the real PostgreSQL, in throwaway
databases dropped afterwards; every pipeline run is the real command (``alliance-finance run``) in a
process of its own, whose peak memory is the kernel's count (``wait4``) and the process tree's
sampled sum. Sections:

1. throughput: one fiscal year (scale 20, ~2 M lines) through ``alliance-finance run``; the same
   fact rows exported as CSV and loaded by ``COPY`` into an empty table of the same shape (the
   physical floor); a run on a tiny delivery (the fixed start-up cost); the marginal cost per line;
2. first approach: pandas ``read_csv`` + a Great Expectations suite per file + ``to_sql``
   (``bench/naive_approach.py``) on a tenth of the same lines, extrapolated linearly; and the lean
   first approach (section "lean", ``bench/lean_approach.py``): the same lines as one clean CSV,
   ``read_csv``, seven expectations on the whole frame, ``to_sql`` into a plain table;
3. history: five fiscal years at scale 10 (~5 M lines) from empty, with ``run`` and (unless
   ``--no-history-parallel``) with ``run --parallel``, for its peak memory;
4. nightly: one night's deliveries into an empty warehouse and into the one holding five years;
5. stages: where the time goes (the pipeline's own per-stage seconds, and optionally a
   pyinstrument profile of the throughput run with ``--profile``);
6. DAG files: parse time of each file with and without cached bytecode, and ``airflow dags report``.

Results go to a JSON file beside the report; ``docs/performance.md`` (or ``--report``) is written
from them. Sections can be run alone (``--sections``), the rest is taken from the last JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from view_times import FACT_COLUMNS  # the fact table's columns but the generated amount (bench/ is on the path)

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
#: the plot of section 9 beside docs/performance.md
VIEWS_PNG = ROOT / "docs" / "performance-views.png"
SECTIONS = ("throughput", "naive", "lean", "history", "nightly", "views", "dags")
#: the clean CSV of section 1's fact rows (written by the throughput section, read by the lean one)
CLEAN_CSV = "clean-lines.csv"

FULL = {
    "name": "full",
    "throughput": {"from_fy": 2016, "to_fy": 2016, "scale": "20"},
    "history": {"from_fy": 2014, "to_fy": 2018, "scale": "10"},
    "nights": 3,
    "repeat": 3,
    "naive_share": 1,  # every file: measured, not extrapolated
    "history_parallel": True,  # five years again with run --parallel, for its peak memory (about 3 minutes)
    "report": ROOT / "docs" / "performance.md",
}
QUICK = {
    "name": "quick",
    "throughput": {"from_fy": 2016, "to_fy": 2016, "scale": "2"},
    "history": {"from_fy": 2015, "to_fy": 2016, "scale": "1"},
    "nights": 2,
    "repeat": 1,
    "naive_share": 10,
    "history_parallel": True,
    "report": ROOT / "bench" / "quick-report.md",
}

TARGETS = {
    "marginal_ratio": 3.0,        # marginal cost per line at most 3 x COPY's
    "naive_ratio": 5.0,           # at least 5 x faster than pandas + GX + to_sql
    "lean_ratio": 3.0,            # at least 3 x faster than the lean first approach (issue #14)
    "marginal_ratio_heap": 5.0,   # marginal cost per line at most 5 x plain COPY's into a bare table (issue #14)
    "quiet_night_seconds": 2.0,   # a night with nothing new in under 2 s (issue #14)
    "small_night_seconds": 4.0,   # a night with one small delivery in under 4 s, bytecode cached (issue #14)
    "history_seconds": 300.0,     # five years at scale 10 in under 5 minutes
    "history_peak_mb": 1536.0,    # peak memory under 1.5 GB
    "nightly_spread": 0.20,       # nightly run time independent of history (within 20 %)
    "dag_parse_seconds": 0.5,     # each DAG file parses in under half a second
    "view_ms": 50.0,              # every finance view under 50 ms on five years at scale 10
    "view_flat": 0.20,            # ... and within 20 % at 2 and 4 times that history
    "report_seconds": 5.0,        # the report (HTML, PNG, XLSX) in under 5 s on five years
}


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


# --- the machine -----------------------------------------------------------------------------------

def machine() -> dict:
    """What the figures were measured on."""
    import importlib.metadata as md

    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) if "MemTotal" in meminfo else 0
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    versions = {name: md.version(name) for name in (
        "apache-airflow", "great-expectations", "pandas", "pyarrow", "SQLAlchemy", "psycopg", "numpy")}
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": versions,
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# --- PostgreSQL ------------------------------------------------------------------------------------

class Postgres:
    """Throwaway databases on the server of ``admin_url`` (created, always dropped)."""

    def __init__(self, admin_url: str, prefix: str = "af_bench"):
        from sqlalchemy.engine import make_url

        self.admin = make_url(admin_url)
        self.prefix = prefix

    def _admin(self):
        import psycopg

        u = self.admin
        return psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                               password=u.password, dbname=u.database or "postgres", autocommit=True)

    def create(self) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def server(self) -> dict:
        with self._admin() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            settings = dict(conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                "('shared_buffers', 'max_wal_size', 'synchronous_commit', 'wal_level', 'work_mem', "
                "'maintenance_work_mem', 'checkpoint_timeout')").fetchall())
        return {"version": version, "settings": settings}


def psycopg_connect(url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database)


def migrate(url: str, env: dict) -> None:
    """Bring an empty warehouse to head, with the configured forces, reference data and finance seeds, as
    a run's prepare step does (so a timed run measures loading, not creating the schema)."""
    code = ("import sys; from alliance_finance.runner.prepare import prepare_warehouse; "
            "prepare_warehouse(sys.argv[1])")
    subprocess.run([PYTHON, "-c", code, url], env=env, check=True, capture_output=True)


# --- sample data -------------------------------------------------------------------------------------

def generated(data: Path, from_fy: int, to_fy: int, scale: str, env: dict, seed: int = 2015) -> Path:
    """``alliance-finance generate`` output for these parameters, generated once and reused."""
    folder = data / f"fy{from_fy}-{to_fy}-s{scale}"
    stamp = folder / "bench-generate.json"
    wanted = {"from_fy": from_fy, "to_fy": to_fy, "scale": scale, "seed": seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted and (folder / "wiltshire" / "erp.db").is_file():
        return folder
    log(f"generating FY {from_fy}-{to_fy} at scale {scale} into {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([PYTHON, "-m", "alliance_finance.cli", "generate", "--out", str(folder), "--from-fy",
                    str(from_fy), "--to-fy", str(to_fy), "--scale", scale, "--seed", str(seed)],
                   env=env, check=True, capture_output=True)
    stamp.write_text(json.dumps(wanted))
    return folder


def deliveries(source: Path) -> list[tuple[str, Path, Path]]:
    """(business date, data file, control file) of every ASC delivery, in load order."""
    inbound = source / "avon_somerset" / "inbound"
    found = []
    for data in sorted(inbound.glob("ASC_GL_*.csv")):
        control = data.with_suffix(".ctl")
        if control.exists():
            found.append((data.name[7:15], data, control))
    return found


def link_deliveries(files: list[tuple[str, Path, Path]], inbound: Path) -> None:
    inbound.mkdir(parents=True, exist_ok=True)
    for _, data, control in files:
        for path in (data, control):
            target = inbound / path.name
            if not target.exists():
                try:
                    os.link(path, target)  # same bytes, no copy (a symlink would leave the inbound folder)
                except OSError:
                    shutil.copy2(path, target)


def erp_subset(source_db: Path, target_db: Path, posted_from: str | None, posted_before: str | None,
               keep_unposted: bool) -> int:
    """A copy of the WP ERP file where only journals posted in [from, before) stay posted; the rest
    are either dropped or (``keep_unposted``) turned back into unposted journals, as they were
    before that night. Returns the posted journals kept."""
    if target_db.exists():
        target_db.unlink()
    shutil.copy2(source_db, target_db)
    window = []
    if posted_from:
        window.append(f"posted_at < '{posted_from}'")
    if posted_before:
        window.append(f"posted_at >= '{posted_before}'")
    outside = " OR ".join(window) or "0"
    with sqlite3.connect(target_db) as db:
        if keep_unposted:
            db.execute(f"UPDATE gl_journal SET status = 'U', posted_at = NULL WHERE status = 'P' AND ({outside})")
        else:
            db.execute(f"DELETE FROM gl_journal_line WHERE journal_id IN (SELECT journal_id FROM gl_journal "
                       f"WHERE status <> 'P' OR {outside})")
            db.execute(f"DELETE FROM gl_journal WHERE status <> 'P' OR {outside}")
        kept = db.execute("SELECT count(*) FROM gl_journal WHERE status = 'P'").fetchone()[0]
    if not keep_unposted:
        with sqlite3.connect(target_db) as db:
            db.execute("VACUUM")
    return kept


# --- running the pipeline ------------------------------------------------------------------------------

#: a force code as dags/forces.schema.json allows it: whichever forces are configured
FORCE_CODE = r"[A-Z][A-Z0-9]{1,7}"
STAGE_LINE = re.compile(rf"({FORCE_CODE}) stage seconds \(run ([0-9.]+)s\): (.*)")
SUMMARY_LINE = re.compile(rf"^({FORCE_CODE}): ([0-9,]+) batch(?:es)? loaded, ([0-9,]+) rejected.*?; ([0-9,]+) lines loaded, "
                          r"([0-9,]+) quarantined", re.M)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat), for the share of the
    cores a run kept busy: its own processes and the database server's."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return float("nan")
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def run_measured(command: list[str], env: dict, log_path: Path) -> dict:
    """Run ``command``; wall seconds, peak RSS (kernel's, and the sampled process-tree sum), exit code,
    its CPU and the whole machine's."""
    import psutil

    # The kernel's peak for a child (wait4's ru_maxrss) is never below this process's own peak: spawning
    # copies it into the child, whose exec keeps the larger of the two. After the throughput section
    # this process holds a few hundred MB, so a child's figure no higher than that is the bench's own,
    # and the sampled peak of the child's process tree is the child's then.
    own_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(log_path, "w") as output:
        busy_before = machine_busy_seconds()
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        peak_tree = peak_pss = 0
        stop = threading.Event()

        def sample():
            nonlocal peak_tree, peak_pss
            try:
                parent = psutil.Process(process.pid)
                while not stop.is_set():
                    try:
                        tree = [parent, *parent.children(True)]
                        peak_tree = max(peak_tree, sum(p.memory_info().rss for p in tree))
                        if len(tree) > 1:  # pages a fork shares are in every process's RSS; PSS counts them once
                            peak_pss = max(peak_pss, sum(p.memory_full_info().pss for p in tree))
                    except psutil.Error:
                        pass
                    stop.wait(0.1)
            except psutil.Error:
                pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        machine_cpu = machine_busy_seconds() - busy_before
        stop.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    kernel = usage.ru_maxrss > own_peak_kb
    peak_mb = usage.ru_maxrss / 1024 if kernel else peak_tree / 1024 / 1024
    return {"seconds": round(seconds, 2), "exit": process.returncode, "peak_mb": round(peak_mb, 1),
            "peak_source": "kernel" if kernel else "sampled",
            "peak_tree_mb": round(peak_tree / 1024 / 1024, 1), "load_average": load_average(),
            "peak_pss_mb": round(peak_pss / 1024 / 1024, 1) if peak_pss else None,
            "user_seconds": round(usage.ru_utime, 2), "system_seconds": round(usage.ru_stime, 2),
            "machine_cpu_seconds": round(machine_cpu, 1), "cores": os.cpu_count()}


def pipeline_run(sources: Path, url: str, env: dict, work: Path, label: str, wiltshire: Path | None = None,
                 extra: tuple[str, ...] = ()) -> dict:
    """``alliance-finance run`` once, with its stage seconds and line counts from its own log."""
    command = [PYTHON, "-m", "alliance_finance.cli", "run", "--sources", str(sources), "--warehouse", url, *extra]
    if wiltshire is not None:
        command += ["--source-url", f"WP=sqlite:///{wiltshire}"]
    log_path = work / f"{label}.log"
    result = run_measured(command, env, log_path)
    text = log_path.read_text(errors="replace")
    result["stages"] = {force: dict(_stage_pairs(pairs), run=float(run)) for force, run, pairs in STAGE_LINE.findall(text)}
    lines = loaded = 0
    for force, batches, rejected, lines_loaded, quarantined in SUMMARY_LINE.findall(text):
        lines += int(lines_loaded.replace(",", "")) + int(quarantined.replace(",", ""))
        loaded += int(lines_loaded.replace(",", ""))
    result["lines"] = lines
    result["lines_loaded"] = loaded
    docs = re.search(r"Data Docs brought up to date in ([0-9.]+)s", text)
    result["data_docs_seconds"] = float(docs.group(1)) if docs else None
    result["log"] = str(log_path)
    if result["exit"] != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RuntimeError(f"{label}: alliance-finance run exited {result['exit']} (log {log_path}):\n{tail}")
    log(f"{label}: {result['seconds']:.1f} s, {lines:,} lines, peak {result['peak_mb']:.0f} MB, "
        f"load average {result['load_average']}")
    return result


def _stage_pairs(text: str):
    for pair in text.split():
        stage, _, seconds = pair.partition("=")
        yield stage, float(seconds.rstrip("s"))


def best(runs: list[dict], key: str = "seconds") -> dict:
    return min(runs, key=lambda r: r[key])


# --- 1. throughput, floor, fixed and marginal cost ------------------------------------------------------------

def section_throughput(profile: dict, data: Path, pg: Postgres, env: dict, work: Path, args) -> dict:
    spec = profile["throughput"]
    source = generated(data, spec["from_fy"], spec["to_fy"], spec["scale"], env)
    files = deliveries(source)
    runs, floors = [], []
    for attempt in range(profile["repeat"]):
        url = pg.create()
        try:
            migrate(url, env)  # a warehouse at head, no data: every timed run starts from the same state
            runs.append(pipeline_run(source, url, env, work, f"throughput-{attempt + 1}"))
            floors.append(copy_floor(url, save=work / CLEAN_CSV if attempt == 0 else None))
            log(f"floor: COPY {floors[-1]['rows']:,} rows: {floors[-1]['indexed_seconds']:.1f} s into the same shape, "
                f"{floors[-1]['heap_seconds']:.1f} s into a bare table")
        finally:
            pg.drop(url)

    # the two forces side by side (run --parallel), as their two DAGs run every night
    together = []
    for attempt in range(profile["repeat"]):
        url = pg.create()
        try:
            migrate(url, env)
            together.append(pipeline_run(source, url, env, work, f"parallel-{attempt + 1}", extra=("--parallel",)))
        finally:
            pg.drop(url)

    # the fixed start-up cost: a run on a tiny delivery (the smallest day of at least 20 kB, about a
    # hundred lines, and the WP journals posted that day)
    day, data_file, control = min((f for f in files if f[1].stat().st_size > 20_000), key=lambda f: f[1].stat().st_size)
    tiny = work / "tiny-sources"
    shutil.rmtree(tiny, ignore_errors=True)
    link_deliveries([(day, data_file, control)], tiny / "avon_somerset" / "inbound")
    (tiny / "wiltshire").mkdir(parents=True)
    posted = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    next_day = (dt.date.fromisoformat(posted) + dt.timedelta(days=1)).isoformat()
    erp_subset(source / "wiltshire" / "erp.db", tiny / "wiltshire" / "erp.db", posted, next_day, keep_unposted=False)
    tiny_runs, quiet_runs = [], []
    for attempt in range(max(profile["repeat"], 2)):
        url = pg.create()
        try:
            migrate(url, env)
            tiny_runs.append(pipeline_run(tiny, url, env, work, f"tiny-{attempt + 1}"))
            # the next night, with nothing new: start-up, the find step and nothing else (issue #14)
            quiet_runs.append(pipeline_run(tiny, url, env, work, f"quiet-{attempt + 1}"))
        finally:
            pg.drop(url)
    # the same without cached bytecode (every import compiled from source, as this environment's
    # PYTHONDONTWRITEBYTECODE=1 makes it)
    cold_env = dict(env, PYTHONDONTWRITEBYTECODE="1")
    cold_env.pop("PYTHONPYCACHEPREFIX", None)
    url = pg.create()
    try:
        migrate(url, env)
        tiny_cold = pipeline_run(tiny, url, cold_env, work, "tiny-no-bytecode")
        quiet_cold = pipeline_run(tiny, url, cold_env, work, "quiet-no-bytecode")
    finally:
        pg.drop(url)

    full, floor, small = best(runs), min(floors, key=lambda f: f["indexed_seconds"]), best(tiny_runs)
    marginal = (full["seconds"] - small["seconds"]) / (full["lines"] - small["lines"])
    copy_per_line = floor["indexed_seconds"] / floor["rows"]
    result = {
        "source": str(source), "spec": spec, "runs": runs, "floors": floors, "tiny_runs": tiny_runs,
        "parallel_runs": together, "parallel_seconds": best(together)["seconds"] if together else None,
        "parallel_peak_mb": best(together)["peak_tree_mb"] if together else None,
        "tiny_no_bytecode": tiny_cold,
        "quiet_runs": quiet_runs, "quiet_seconds": best(quiet_runs)["seconds"],
        "quiet_median_seconds": round(statistics.median(r["seconds"] for r in quiet_runs), 2),
        "quiet_no_bytecode": quiet_cold,
        "lines": full["lines"], "seconds": full["seconds"], "lines_per_second": round(full["lines"] / full["seconds"]),
        "peak_mb": full["peak_mb"],
        "copy_seconds": floor["indexed_seconds"], "copy_heap_seconds": min(f["heap_seconds"] for f in floors),
        "whole_run_ratio": round(full["seconds"] / floor["indexed_seconds"], 2),
        "fixed_seconds": small["seconds"], "tiny_lines": small["lines"],
        "marginal_us_per_line": round(marginal * 1e6, 1),
        "copy_us_per_line": round(copy_per_line * 1e6, 1),
        "copy_heap_us_per_line": round(min(f["heap_seconds"] for f in floors) / floor["rows"] * 1e6, 1),
        "marginal_ratio": round(marginal / copy_per_line, 2),
        "marginal_ratio_heap": round(marginal / (min(f["heap_seconds"] for f in floors) / floor["rows"]), 2),
    }
    if args.profile:
        result["profile"] = profile_run(source, pg, env, work)
    return result


def copy_floor(url: str, save: Path | None = None) -> dict:
    """The fact rows the run loaded, exported as CSV, then COPYed into an empty table of the same shape
    (columns, generated amount, key and indexes: LIKE ... INCLUDING ALL) and into a bare one. With
    ``save``, the CSV is also written there with a header line (the lean first approach reads it)."""
    import io

    columns = FACT_COLUMNS
    with psycopg_connect(url) as conn:
        conn.execute("SET search_path = alliance, public")
        buffer = io.BytesIO()
        with conn.cursor().copy(f"COPY (SELECT {columns} FROM fact_ledger_line) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
        csv_bytes = buffer.getbuffer()
        if save is not None:
            with open(save, "wb") as out:
                out.write(columns.replace(" ", "").encode() + b"\n")
                out.write(csv_bytes)
        rows = conn.execute("SELECT count(*) FROM fact_ledger_line").fetchone()[0]
        timings = {}
        for shape, ddl in (("indexed", "CREATE TABLE floor_copy (LIKE fact_ledger_line INCLUDING ALL)"),
                           ("heap", "CREATE TABLE floor_copy (LIKE fact_ledger_line INCLUDING GENERATED)")):
            conn.execute("DROP TABLE IF EXISTS floor_copy")
            conn.execute(ddl)
            conn.commit()
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY floor_copy ({columns}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, len(csv_bytes), 1 << 20):
                    copy.write(csv_bytes[start:start + (1 << 20)])
            conn.commit()
            timings[shape] = time.perf_counter() - started
        conn.execute("DROP TABLE floor_copy")
        conn.commit()
    return {"rows": rows, "csv_mb": round(len(csv_bytes) / 1e6, 1), "indexed_seconds": round(timings["indexed"], 2),
            "heap_seconds": round(timings["heap"], 2), "load_average": load_average()}


def profile_run(source: Path, pg: Postgres, env: dict, work: Path) -> dict:
    """The throughput run again under pyinstrument (main thread), its text profile saved."""
    url = pg.create()
    out = work / "throughput-profile.txt"
    code = ("import sys, pathlib; from pyinstrument import Profiler; from alliance_finance.cli import main; "
            "p = Profiler(interval=0.005); p.start(); code = main(['run', '--sources', sys.argv[1], '--warehouse', "
            "sys.argv[2]]); p.stop(); pathlib.Path(sys.argv[3]).write_text(p.output_text(unicode=False, color=False)); "
            "sys.exit(code)")
    try:
        result = run_measured([PYTHON, "-c", code, str(source), url, str(out)], env, work / "throughput-profile.log")
    finally:
        pg.drop(url)
    log(f"profiled run: {result['seconds']:.1f} s, profile in {out}")
    return {"seconds": result["seconds"], "path": str(out)}


# --- 2. the first approach ---------------------------------------------------------------------------------------

def section_naive(profile: dict, data: Path, pg: Postgres, env: dict, work: Path, results: dict) -> dict:
    spec = profile["throughput"]
    source = generated(data, spec["from_fy"], spec["to_fy"], spec["scale"], env)
    share = profile["naive_share"]
    # the first approach knows nothing of re-deliveries: of a day delivered twice, only the last
    # delivery (the one the pipeline keeps) is given to it
    latest = {day: (day, data_file, control) for day, data_file, control in deliveries(source)}
    files = sorted(latest.values())
    sample = [data_file for index, (_, data_file, _) in enumerate(files) if index % share == 0]
    listing = work / "naive-files.txt"
    listing.write_text("\n".join(str(p) for p in sample))
    url = pg.create()
    try:
        migrate(url, env)
        measured = run_measured([PYTHON, str(ROOT / "bench" / "naive_approach.py"), "--warehouse", url,
                                 "--asc-list", str(listing), "--wp-db", str(source / "wiltshire" / "erp.db"),
                                 "--wp-share", str(share)], env, work / "naive.log")
    finally:
        pg.drop(url)
    if measured["exit"] != 0:
        raise RuntimeError(f"naive approach failed: see {work / 'naive.log'}")
    output = json.loads([line for line in (work / "naive.log").read_text().splitlines() if line.startswith("{")][-1])
    sample_lines = output["lines"]["asc"] + output["lines"]["wp"]
    total_lines = (results.get("throughput") or {}).get("lines") or _count_lines(source)
    per_line = {step: seconds / sample_lines for step, seconds in output["seconds"].items() if step != "import_and_context"}
    extrapolated = output["seconds"]["import_and_context"] + sum(per_line.values()) * total_lines
    ours = (results.get("throughput") or {}).get("seconds")
    log(f"first approach: {sample_lines:,} lines in {output['total_seconds']:.1f} s; "
        f"{total_lines:,} lines extrapolated to {extrapolated:.0f} s")
    return {
        "share": share, "files": len(sample), "sample_lines": sample_lines, "sample_seconds": round(output["total_seconds"], 1),
        "steps": {k: round(v, 2) for k, v in output["seconds"].items()},
        "us_per_line": {k: round(v * 1e6, 1) for k, v in per_line.items()},
        "total_lines": total_lines, "extrapolated_seconds": round(extrapolated, 1),
        "failed_validations": output["failed_validations"], "peak_mb": measured["peak_mb"],
        "load_average": measured["load_average"],
        "ratio": round(extrapolated / ours, 2) if ours else None,
        "ratio_parallel": (round(extrapolated / results["throughput"]["parallel_seconds"], 2)
                           if (results.get("throughput") or {}).get("parallel_seconds") else None),
    }


def _count_lines(source: Path) -> int:
    asc = sum(max(0, sum(1 for _ in open(f, "rb")) - 1) for _, f, _ in deliveries(source))
    with sqlite3.connect(source / "wiltshire" / "erp.db") as db:
        wp = db.execute("SELECT count(*) FROM gl_journal_line l JOIN gl_journal j USING (journal_id) "
                        "WHERE j.status = 'P'").fetchone()[0]
    return asc + wp


def section_lean(profile: dict, data: Path, pg: Postgres, env: dict, work: Path, results: dict) -> dict:
    """``bench/lean_approach.py`` on the throughput section's lines as one clean CSV (written by that
    section's floor; when it did not run now, one pipeline run into a throwaway warehouse gives them),
    each run in a process of its own into a fresh database."""
    spec = profile["throughput"]
    source = generated(data, spec["from_fy"], spec["to_fy"], spec["scale"], env)
    lines_csv = work / CLEAN_CSV
    forces = sorted(((results.get("throughput") or {}).get("runs") or [{}])[0].get("stages") or ())
    if not lines_csv.is_file():
        url = pg.create()
        try:
            migrate(url, env)
            forces = sorted(pipeline_run(source, url, env, work, "lean-lines")["stages"])
            with psycopg_connect(url) as conn, open(lines_csv, "wb") as out:
                conn.execute("SET search_path = alliance, public")
                with conn.cursor().copy(f"COPY (SELECT {FACT_COLUMNS} FROM fact_ledger_line) TO STDOUT "
                                        "(FORMAT csv, HEADER)") as copy:
                    for chunk in copy:
                        out.write(chunk)
        finally:
            pg.drop(url)
    runs = []
    for attempt in range(profile["repeat"]):
        url = pg.create()
        log_path = work / f"lean-{attempt + 1}.log"
        try:
            measured = run_measured([PYTHON, str(ROOT / "bench" / "lean_approach.py"), "--csv", str(lines_csv),
                                     "--warehouse", url, "--forces", ",".join(forces or ("ASC", "WP"))],
                                    env, log_path)
        finally:
            pg.drop(url)
        if measured["exit"] != 0:
            raise RuntimeError(f"lean approach failed: see {log_path}")
        output = json.loads([line for line in log_path.read_text().splitlines() if line.startswith("{")][-1])
        if output["loaded"] != output["lines"]:
            raise RuntimeError(f"lean approach loaded {output['loaded']:,} of {output['lines']:,} lines ({log_path})")
        runs.append(dict(measured, steps={k: round(v, 2) for k, v in output["seconds"].items()},
                         lines=output["lines"], success=output["success"], failed=output["failed"],
                         expectations=output["expectations"]))
        log(f"lean approach {attempt + 1}: {output['lines']:,} lines in {measured['seconds']:.1f} s "
            f"(steps {runs[-1]['steps']}), expectations passed: {output['success']}, peak {measured['peak_mb']:.0f} MB")
    fastest = best(runs)
    out = {"runs": runs, "seconds": fastest["seconds"], "lines": fastest["lines"], "steps": fastest["steps"],
           "expectations": fastest["expectations"], "success": all(r["success"] for r in runs),
           "peak_mb": fastest["peak_mb"], "csv_mb": round(lines_csv.stat().st_size / 1e6, 1)}
    out.update(lean_ratios(out, results.get("throughput")))
    return out


def lean_ratios(lean: dict, throughput: dict | None) -> dict:
    """How many times faster than the lean approach the pipeline is, one force after the other and side by side."""
    if not throughput:
        return {"ratio": None, "ratio_parallel": None}
    return {"ratio": round(lean["seconds"] / throughput["seconds"], 2),
            "ratio_parallel": (round(lean["seconds"] / throughput["parallel_seconds"], 2)
                               if throughput.get("parallel_seconds") else None)}


# --- 3 and 4. five years from empty; then nightly runs --------------------------------------------------------

def night_plan(source: Path, to_fy: int, nights: int) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """(history deliveries, night dates): the last ``nights`` business days of the last fiscal year are
    held back from the history, each to be one night's run."""
    files = deliveries(source)
    year_end = f"{to_fy + 1}0331"
    days = sorted({day for day, _, _ in files if day <= year_end})
    night_days = days[-nights:]
    history = [f for f in files if f[0] < night_days[0]]
    return history, night_days


def iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


def section_history_and_nightly(profile: dict, data: Path, pg: Postgres, env: dict, work: Path,
                                sections: set[str]) -> dict:
    spec = profile["history"]
    source = generated(data, spec["from_fy"], spec["to_fy"], spec["scale"], env)
    history_files, night_days = night_plan(source, spec["to_fy"], profile["nights"])
    files = deliveries(source)
    sources = work / "history-sources"
    shutil.rmtree(sources, ignore_errors=True)
    link_deliveries(history_files, sources / "avon_somerset" / "inbound")
    (sources / "wiltshire").mkdir(parents=True)
    erp = sources / "wiltshire" / "erp.db"
    erp_subset(source / "wiltshire" / "erp.db", erp, None, iso(night_days[0]), keep_unposted=True)
    var = work / "history-var"
    shutil.rmtree(var, ignore_errors=True)
    history_env = dict(env, ALLIANCE_VAR_DIR=str(var))
    url = pg.create()
    out: dict = {"source": str(source), "spec": spec, "nights": night_days}
    try:
        history = pipeline_run(sources, url, history_env, work, "history")
        # the moment the five years were loaded, before the nights: the report as of it (section 9)
        history_moment = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        out["history"] = dict(history, lines_per_second=round(history["lines"] / history["seconds"]),
                              held_back_nights=len(night_days))
        if profile.get("history_parallel"):
            # the same five years from empty with the forces side by side (run --parallel): its peak
            # memory is the sum of its processes' (issue #14)
            parallel_url = pg.create()
            try:
                parallel = pipeline_run(sources, parallel_url, dict(env, ALLIANCE_VAR_DIR=str(work / "history-parallel-var")),
                                        work, "history-parallel", extra=("--parallel",))
            finally:
                pg.drop(parallel_url)
            out["history"]["parallel"] = {k: parallel[k] for k in (
                "seconds", "lines", "peak_mb", "peak_tree_mb", "peak_pss_mb", "load_average", "user_seconds",
                "system_seconds")}
        if "nightly" in sections:
            into_history, into_empty = [], []
            for number, day in enumerate(night_days):
                following = night_days[number + 1] if number + 1 < len(night_days) else None
                before = iso(following) if following else (dt.date.fromisoformat(iso(day)) + dt.timedelta(days=1)).isoformat()
                tonight = [f for f in files if f[0] == day]
                # into the warehouse holding five years: tonight's file arrives in the same inbound
                # folder, tonight's journals are posted in the same ERP
                link_deliveries(tonight, sources / "avon_somerset" / "inbound")
                erp_subset(source / "wiltshire" / "erp.db", erp, None, before, keep_unposted=True)
                into_history.append(pipeline_run(sources, url, history_env, work, f"night-{day}-history"))
                # the same night's deliveries alone, into an empty (migrated) warehouse
                alone = work / f"night-{day}-sources"
                shutil.rmtree(alone, ignore_errors=True)
                link_deliveries(tonight, alone / "avon_somerset" / "inbound")
                (alone / "wiltshire").mkdir(parents=True)
                erp_subset(source / "wiltshire" / "erp.db", alone / "wiltshire" / "erp.db", iso(day), before,
                           keep_unposted=False)
                empty_url = pg.create()
                try:
                    migrate(empty_url, env)
                    into_empty.append(pipeline_run(alone, empty_url, dict(env, ALLIANCE_VAR_DIR=str(work / "night-var")),
                                                   work, f"night-{day}-empty"))
                finally:
                    pg.drop(empty_url)
            history_median = statistics.median(r["seconds"] for r in into_history)
            empty_median = statistics.median(r["seconds"] for r in into_empty)
            out["nightly"] = {
                "into_history": into_history, "into_empty": into_empty,
                "history_median": round(history_median, 2), "empty_median": round(empty_median, 2),
                "history_best": best(into_history)["seconds"], "empty_best": best(into_empty)["seconds"],
                "spread": round(history_median / empty_median - 1, 3),
                "lines": [r["lines"] for r in into_empty],
            }
        if "views" in sections:
            out["report"] = report_runs(url, env, work, profile["repeat"])
            out["report"]["as_of"] = report_as_of_run(url, env, work, history_moment)
            sys.path.insert(0, str(ROOT / "bench"))
            import view_times

            out["views"] = view_times.measure(url, repeat=5, log=log)
            view_times.plot(out["views"], VIEWS_PNG if profile["name"] == "full" else work / "views.png")
    finally:
        pg.drop(url)
    return out


def report_run(url: str, env: dict, work: Path, label: str, *extra: str) -> dict:
    """``alliance-finance report`` once on ``url`` (HTML, PNG, XLSX) in a process of its own, into
    ``work/<label>``; refused with its log's end if it fails."""
    out = work / label
    shutil.rmtree(out, ignore_errors=True)
    log_path = work / f"{label}.log"
    run = run_measured([PYTHON, "-m", "alliance_finance.cli", "report", "--warehouse", url, "--out", str(out), *extra],
                       env, log_path)
    if run["exit"] != 0:
        raise RuntimeError(f"{label}: alliance-finance report exited {run['exit']}: {log_path.read_text()[-2000:]}")
    log(f"{label}: {run['seconds']:.2f} s, peak {run['peak_mb']:.0f} MB")
    return run


def report_runs(url: str, env: dict, work: Path, repeat: int) -> dict:
    """``alliance-finance report`` on the five-year warehouse, ``repeat`` times."""
    runs = [report_run(url, env, work, f"report-{number}") for number in range(repeat)]
    return {"runs": runs, "best": best(runs)["seconds"]}


def report_as_of_run(url: str, env: dict, work: Path, moment: str) -> dict:
    """``alliance-finance report --as-of`` once on the five-year warehouse, as of the moment its five years
    were loaded (before the nights): the auditor's reproduction of an earlier figure (marts/as_of.py builds
    the moment's tables from the history, then the same views are read)."""
    return dict(report_run(url, env, work, "report-as-of", "--as-of", moment), moment=moment)


# --- 6. DAG files ---------------------------------------------------------------------------------------------------

def section_dags(env: dict, work: Path, repeat: int) -> dict:
    dags = sorted((ROOT / "dags").glob("*.py"))
    home = work / "airflow-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    airflow_env = dict(env, AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
                       AIRFLOW__CORE__LOAD_EXAMPLES="False")
    # a DAG processor has Airflow's SDK loaded already: time what the file itself costs
    code = ("import sys, time, runpy; import airflow.sdk; started = time.perf_counter(); runpy.run_path(sys.argv[1]); "
            "print('PARSE', time.perf_counter() - started)")
    files: dict = {}
    cold_env = dict(airflow_env, PYTHONDONTWRITEBYTECODE="1")
    cold_env.pop("PYTHONPYCACHEPREFIX", None)
    for dag in dags:
        timings = {}
        for mode, mode_env in (("bytecode", airflow_env), ("no_bytecode", cold_env)):
            seconds = []
            for _ in range(repeat + (1 if mode == "bytecode" else 0)):  # the first fills the bytecode cache
                output = subprocess.run([PYTHON, "-c", code, str(dag)], env=mode_env, capture_output=True, text=True)
                match = re.search(r"PARSE ([0-9.]+)", output.stdout)
                if match is None:
                    raise RuntimeError(f"{dag.name} failed to parse: {output.stderr[-2000:]}")
                seconds.append(float(match.group(1)))
            if mode == "bytecode":
                seconds = seconds[1:]
            timings[mode] = round(min(seconds), 3)
        files[dag.name] = timings
        log(f"{dag.name}: {timings}")
    report = {}
    migrate_run = subprocess.run([PYTHON, "-m", "airflow", "db", "migrate"], env=airflow_env, capture_output=True, text=True)
    if migrate_run.returncode == 0:
        for mode, mode_env in (("bytecode", airflow_env), ("no_bytecode", dict(cold_env, AIRFLOW_HOME=str(home)))):
            output = subprocess.run([PYTHON, "-m", "airflow", "dags", "report", "-o", "json"], env=mode_env,
                                    capture_output=True, text=True)
            lines = [line for line in output.stdout.splitlines() if line.startswith("[{")]
            rows = json.loads(lines[-1]) if lines else []
            report[mode] = {row["file"]: _duration(row["duration"]) for row in rows}
    shutil.rmtree(home, ignore_errors=True)
    return {"files": files, "dags_report": report, "load_average": load_average()}


def _duration(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 3)


# --- the report ---------------------------------------------------------------------------------------------------

def render(results: dict, profile: dict) -> str:
    """docs/performance.md from the results (see ``bench/report.py``)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from report import render_report

    return render_report(results, TARGETS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The alliance-finance benchmark (issue #8).")
    parser.add_argument("--quick", action="store_true", help="a reduced run: scale 2, one year; FY 2015-2016 at scale 1")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated, from {', '.join(SECTIONS)} (the others are kept from the last results)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ALLIANCE_BENCH_DATA", "/tmp/bench-data")),
                        help="where generated sample data is kept and reused (default /tmp/bench-data)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("ALLIANCE_TEST_PG_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL role that may create databases (throwaway ones, dropped after)")
    parser.add_argument("--db-prefix", default=os.environ.get("ALLIANCE_BENCH_DB_PREFIX", "af_bench"),
                        help="name prefix of the throwaway databases (default af_bench)")
    parser.add_argument("--no-history-parallel", action="store_true",
                        help="skip the five-year run with --parallel (its peak memory; about 3 minutes)")
    parser.add_argument("--repeat", type=int, help="repetitions of each timed run (best is kept)")
    parser.add_argument("--profile", action="store_true", help="also profile the throughput run with pyinstrument")
    parser.add_argument("--report", type=Path, help="where to write the report (default docs/performance.md; "
                                                    "--quick: bench/quick-report.md)")
    args = parser.parse_args(argv)
    profile = dict(QUICK if args.quick else FULL)
    if args.repeat:
        profile["repeat"] = args.repeat
    if args.no_history_parallel:
        profile["history_parallel"] = False
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}")
    report_path = args.report or profile["report"]
    results_path = report_path.with_suffix(".json")
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}

    args.data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"alliance-bench-{profile['name']}-", dir=args.data))
    # the deployment case: bytecode compiled once and cached (this environment sets
    # PYTHONDONTWRITEBYTECODE=1, which compiles every import from source on every run: the DAG section
    # and the tiny run measure that too). The cache lives in the work folder, not in the venv.
    env = dict(os.environ, ALLIANCE_VAR_DIR=str(work / "var"), PYTHONPYCACHEPREFIX=str(work / "pycache"),
               PYTHONUNBUFFERED="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("ALLIANCE_WAREHOUSE_URL", None)
    subprocess.run([PYTHON, "-c", "import great_expectations, pandas, alliance_finance.runner.pipeline, alliance_finance.validation, "
                    "alliance_finance.sources.sap_files, alliance_finance.sources.erp_sql, alliance_finance.warehouse.load"],
                   env=env, check=True, capture_output=True)
    pg = Postgres(args.pg_admin_url, args.db_prefix)
    started = time.perf_counter()
    results["profile"] = profile["name"]
    results["machine"] = machine()
    results["postgres"] = pg.server()
    results["commands"] = {"bench": f"python bench/run_bench.py{' --quick' if args.quick else ''}",
                           "run": "alliance-finance run --sources DIR --warehouse postgresql://.../<throwaway>"}
    log(f"benchmark ({profile['name']}), sections {', '.join(s for s in SECTIONS if s in sections)}; "
        f"work folder {work}; load average {load_average()}")
    try:
        if "throughput" in sections:
            results["throughput"] = section_throughput(profile, args.data, pg, env, work, args)
        if "naive" in sections:
            results["naive"] = section_naive(profile, args.data, pg, env, work, results)
        elif results.get("naive") and results.get("throughput"):
            naive, throughput = results["naive"], results["throughput"]
            naive["ratio"] = round(naive["extrapolated_seconds"] / throughput["seconds"], 2)
            if throughput.get("parallel_seconds"):
                naive["ratio_parallel"] = round(naive["extrapolated_seconds"] / throughput["parallel_seconds"], 2)
        if "lean" in sections:
            results["lean"] = section_lean(profile, args.data, pg, env, work, results)
        elif results.get("lean"):
            results["lean"].update(lean_ratios(results["lean"], results.get("throughput")))
        if sections & {"history", "nightly", "views"}:
            history = section_history_and_nightly(profile, args.data, pg, env, work, sections)
            for kept in ("nightly", "nights", "report", "views"):  # sections not rerun keep their last figures
                if kept not in history and (results.get("history") or {}).get(kept) is not None:
                    history[kept] = results["history"][kept]
            results["history"] = history
        if "dags" in sections:
            results["dags"] = section_dags(env, work, profile["repeat"] + 1)
        results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        results["bench_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, default=str))
    report_path.write_text(render(results, profile))
    log(f"done in {results['bench_seconds']:.0f} s: {report_path} (figures in {results_path})")
    if not os.environ.get("ALLIANCE_BENCH_KEEP_WORK"):
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
