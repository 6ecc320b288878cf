"""``make demo``: the whole pipeline, through Airflow itself, on sample data, in a few minutes.

1. generate the sample sources for FY 2014 to FY 2018 (default scale) into ``var/sources``
   (kept when already there with the same parameters: generation is byte-for-byte reproducible);
2. migrate Airflow's own metadata database (SQLite, ``var/airflow``);
3. run each force's DAG with ``airflow dags test`` into the embedded SQLite warehouse
   ``var/warehouse.db``, printing progress from the warehouse while it runs (Airflow's own output
   goes to ``var/demo-logs/``);
4. finance maps the sample's new cost centre AS310300 'Alliance Change Office' without editing a file
   (``alliance-finance mapping export``, the row filled in, ``mapping import`` by "Alliance finance")
   and lists it as a programme cost centre from FY 2016 (in the demo's copy of the seeds,
   ``var/demo-seeds``); then run the consolidation DAG the same way (report, Data Docs, freshness);
5. print where everything is and a short table of savings against target by fiscal year.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal

import sqlalchemy as sa

from alliance_finance.config.forces import load_forces
from alliance_finance.core.fiscal import fy_label, period_end
from alliance_finance.core.money import format_gbp
from alliance_finance.core.paths import PROJECT_ROOT, VAR_DIR
from alliance_finance.marts.closes import last_event, record_period_event
from alliance_finance.marts.figures import ALL_FORCES, BASELINE_FY
from alliance_finance.runner.validators import data_docs_dir
from alliance_finance.warehouse.engine import make_engine
from alliance_sample import generate_sources
from alliance_sample.calendar import next_business_day

FROM_FY, TO_FY, SCALE, SEED = 2014, 2018, Decimal(1), 2015
SOURCES = VAR_DIR / "sources"
WAREHOUSE = VAR_DIR / "warehouse.db"
LOGS = VAR_DIR / "demo-logs"
REPORT = VAR_DIR / "report"
MAPPING = VAR_DIR / "mapping"
DEMO_SEEDS = VAR_DIR / "demo-seeds"
#: the sample's cost centre the forces' reference data does not know (docs/sample-data.md), as finance maps it
CHANGE_OFFICE = {"force_code": "ASC", "local_code": "AS310300", "common_code": "SF09",
                 "local_name": "Alliance Change Office", "valid_from_fy": 2016}


def say(text: str) -> None:
    print(text, flush=True)


def _airflow_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(VAR_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "ALLIANCE_WAREHOUSE_URL": f"sqlite:///{WAREHOUSE}",
        "AIRFLOW_VAR_ALLIANCE_SOURCES_DIR": str(SOURCES),
        "ALLIANCE_REPORT_DIR": str(REPORT),
        "PYTHONUNBUFFERED": "1",
    })
    # the demo uses the embedded defaults: drop any connection that would point it elsewhere
    conn_ids = {conn_id for force in load_forces() for conn_id in (force.warehouse_conn_id, force.source_conn_id)
                if conn_id}
    for conn_id in conn_ids:
        env.pop(f"AIRFLOW_CONN_{conn_id.upper()}", None)
    return env


def generate() -> None:
    marker = SOURCES / ".generated.json"
    params = {"from_fy": FROM_FY, "to_fy": TO_FY, "scale": str(SCALE), "seed": SEED}
    if marker.exists() and json.loads(marker.read_text()) == params:
        say(f"[1/5] sample sources already in {SOURCES} (FY {FROM_FY}-{TO_FY}, scale {SCALE}, seed {SEED})")
        return
    say(f"[1/5] generating sample sources for FY {FROM_FY} to FY {TO_FY} into {SOURCES} ...")
    started = time.monotonic()
    summary = generate_sources(SOURCES, from_fy=FROM_FY, to_fy=TO_FY, scale=SCALE, seed=SEED)
    marker.write_text(json.dumps(params))
    say(summary.describe())
    say(f"      generated in {time.monotonic() - started:.0f} s")


def _progress(stop: threading.Event, force_code: str, total: int | None) -> None:
    """Print how far the force's load has got, read from the warehouse, every few seconds."""
    last = None
    while not stop.wait(3):
        try:
            with sqlite3.connect(f"file:{WAREHOUSE}?mode=ro", uri=True, timeout=1) as conn:
                batches, lines = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(rows_loaded), 0) FROM etl_batch WHERE force_code = ?",
                    (force_code,)).fetchone()
        except sqlite3.Error:
            continue  # not created yet, or busy
        line = f"      {force_code}: {batches:,}{f' of {total:,}' if total else ''} batches recorded, {lines:,} lines loaded"
        if line != last:
            say(line)
            last = line


def run_dag(dag_id: str, step: str, force_code: str | None = None, total: int | None = None,
            env: dict[str, str] | None = None) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{dag_id}.log"
    say(f"{step} airflow dags test {dag_id}   (Airflow's log: {log_path.relative_to(PROJECT_ROOT)})")
    stop = threading.Event()
    watcher = None
    if force_code:
        watcher = threading.Thread(target=_progress, args=(stop, force_code, total), daemon=True)
        watcher.start()
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", dag_id],
                              env={**_airflow_env(), **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                              cwd=PROJECT_ROOT)
    stop.set()
    if watcher:
        watcher.join()
    failed = proc.returncode != 0 or "state=failed" in log_path.read_text(errors="replace").split("DagRun Finished")[-1]
    say(f"      {dag_id}: {'FAILED' if failed else 'success'} in {time.monotonic() - started:.0f} s")
    if failed:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        say("\n".join("      | " + line for line in tail))
        raise SystemExit(f"make demo: {dag_id} failed; see {log_path}")


def airflow_db() -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    say("[2/5] preparing Airflow's metadata database (SQLite under var/airflow) ...")
    with (LOGS / "airflow-db-migrate.log").open("w") as log:
        proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=_airflow_env(),
                              stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"make demo: airflow db migrate failed; see {LOGS / 'airflow-db-migrate.log'}")


def savings_table() -> str:
    """The savings tracker's alliance-scope rows after the baseline year, for ALL and for every force
    the seeds give a savings target (``savings_target``: no force is named here)."""
    engine = make_engine(f"sqlite:///{WAREHOUSE}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT fiscal_year, force_code, baseline_nre_pence, nre_pence, savings_pence, target_pence "
                "FROM v_savings_tracker WHERE alliance_scope = 'alliance' AND fiscal_year > :baseline "
                "AND (force_code = :all OR force_code IN (SELECT force_code FROM savings_target)) "
                "ORDER BY force_code, fiscal_year"), {"baseline": BASELINE_FY, "all": ALL_FORCES}).all()
    finally:
        engine.dispose()
    out = ["", f"Savings against target on alliance-scope functions (cash, vs FY {fy_label(BASELINE_FY)} baseline):", "",
           f"  {'force':<5} {'year':<8} {'NRE':>14} {'savings':>13} {'target':>13}  on track?"]
    for fy, force, _baseline, nre, savings, target in rows:
        on_track = "" if target is None else ("yes" if savings >= target else "no")
        out.append(f"  {force:<5} {fy_label(fy):<8} {format_gbp(nre):>14} {format_gbp(savings):>13} "
                   f"{format_gbp(target) if target is not None else '-':>13}  {on_track}")
    return "\n".join(out)


def _working_days_after(day: dt.date, count: int) -> dt.date:
    for _ in range(count):
        day = next_business_day(day)
    return day


def latest_pack() -> int | None:
    """The board pack the consolidation DAG's report recorded (marts/packs.py)."""
    engine = make_engine(f"sqlite:///{WAREHOUSE}")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT MAX(pack_id) FROM board_pack").scalar()
    finally:
        engine.dispose()


def close_final_year() -> None:
    """Finance closes the sample's last year, as it would by mid-April (``alliance-finance close-period``).

    CHART.md infers a period closed once the ledger holds a posting ten days after its month; the
    sample's ledger ends on 31 March of its last year, so without this the last year would read as
    running to February. Periods 1-11 close on the eighth working day after their month, the year end
    on the fifteenth; a period already closed is left as it is (a second demo records nothing)."""
    engine = make_engine(f"sqlite:///{WAREHOUSE}")
    recorded = 0
    try:
        with engine.begin() as conn:
            for force in load_forces():
                for period in range(1, 13):
                    last = last_event(conn, force.code, TO_FY, period)
                    if last is not None and last.action == "close":
                        continue
                    on = _working_days_after(period_end(TO_FY, period), 15 if period == 12 else 8)
                    record_period_event(conn, force_code=force.code, fiscal_year=TO_FY, period=period, action="close",
                                        on=on, by="make demo", note="the sample's last year, closed by finance")
                    recorded += 1
    finally:
        engine.dispose()
    say(f"      finance's closes of FY {fy_label(TO_FY)} recorded ({recorded} new; the earlier years' periods "
        "are closed by the ledger itself, CHART.md)")


def _shown(path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def map_change_office() -> dict[str, str]:
    """Finance maps AS310300 as a user would (export, fill in the row, import) and lists it as a programme
    cost centre from FY 2016; returns the environment the consolidation DAG reads the seeds with."""
    import openpyxl

    from alliance_finance import mapping_command
    from alliance_finance.marts.mapping_export import COLUMNS

    url = f"sqlite:///{WAREHOUSE}"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            decided = conn.execute(sa.text(
                "SELECT decision_id FROM mapping_decision WHERE force_code = :force_code AND local_code = :local_code"),
                CHANGE_OFFICE).first()
    finally:
        engine.dispose()
    if decided is None:
        exported = MAPPING / "unmapped.xlsx"
        say(f"      finance exports the codes in suspense: alliance-finance mapping export --out {_shown(exported)}")
        if mapping_command.export_cli(url, exported) != 0:
            raise SystemExit("make demo: mapping export failed")
        book = openpyxl.load_workbook(exported)
        sheet = book["decisions"]
        for row in range(2, sheet.max_row + 1):
            if sheet.cell(row, COLUMNS.index("local_code") + 1).value == CHANGE_OFFICE["local_code"]:
                for column in ("common_code", "local_name", "valid_from_fy"):
                    sheet.cell(row, COLUMNS.index(column) + 1).value = CHANGE_OFFICE[column]
        filled = MAPPING / "decisions.xlsx"
        book.save(filled)
        say(f"      ... fills in AS310300 (SF09 from FY 2016) and imports it: alliance-finance mapping import "
            f"{_shown(filled)} --by 'Alliance finance' --reason ...")
        if mapping_command.import_cli(url, filled, by="Alliance finance",
                                      reason="the Alliance Change Office, new in FY 2016, is the alliance "
                                             "programme's change team: corporate development, as AS310100") != 0:
            raise SystemExit("make demo: mapping import failed")
    else:
        say(f"      finance's mapping of AS310300 already recorded (decision {decided[0]})")
    DEMO_SEEDS.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "seeds").glob("*"):
        (DEMO_SEEDS / path.name).write_bytes(path.read_bytes())
    with (DEMO_SEEDS / "programme_cost_centres.csv").open("a", encoding="utf-8") as f:
        f.write("ASC,AS310300,Alliance Change Office,Alliance change office,2016,\n")
    say(f"      ... and lists AS310300 as a programme cost centre from FY 2016 ({_shown(DEMO_SEEDS)}"
        "/programme_cost_centres.csv, the demo's copy of seeds/)")
    return {"ALLIANCE_SEEDS_DIR": str(DEMO_SEEDS)}


def programme_costs() -> str:
    """Programme costs by fiscal year (v_cost_share), the Alliance Change Office's part beside them."""
    engine = make_engine(f"sqlite:///{WAREHOUSE}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT s.fiscal_year, MAX(s.programme_cost_total_pence), COALESCE((SELECT SUM(c.amount_pence) "
                "FROM cost_centre_summary AS c JOIN programme_cost_centre AS p ON p.force_code = c.force_code "
                "AND p.cost_centre = c.cost_centre AND COALESCE(p.valid_from_fy, 0) <= c.fiscal_year "
                "AND c.fiscal_year <= COALESCE(p.valid_to_fy, 9999) WHERE c.cost_centre = 'AS310300' "
                "AND c.fiscal_year = s.fiscal_year), 0) FROM v_cost_share AS s GROUP BY s.fiscal_year "
                "ORDER BY s.fiscal_year")).all()
    finally:
        engine.dispose()
    out = ["", "Programme costs shared by the key (v_cost_share), with the Alliance Change Office (AS310300) mapped "
               "and listed by finance:", "", f"  {'year':<8} {'programme costs':>16} {'of which AS310300':>18}"]
    out += [f"  {fy_label(fy):<8} {format_gbp(total):>16} {format_gbp(office):>18}" for fy, total, office in rows]
    return "\n".join(out)


def main() -> int:
    started = time.monotonic()
    say("alliance-finance demo: the forces' ledgers through Airflow into the embedded SQLite warehouse")
    generate()
    airflow_db()
    for force in load_forces():
        inbound = force.source.get("inbound")  # a file-delivery force: its deliveries can be counted ahead
        run_dag(force.dag_id, "[3/5]", force.code, len(list((SOURCES / inbound).glob("*.ctl"))) if inbound else None)
    close_final_year()
    say("[4/5] finance maps the sample's new cost centre AS310300 without editing a file (docs/finance.md)")
    seeds_env = map_change_office()
    run_dag("alliance_consolidation", "[4/5]", env=seeds_env)
    say(f"[5/5] done in {time.monotonic() - started:.0f} s")
    say("")
    say(f"  warehouse    {WAREHOUSE}   (alliance-finance status --warehouse sqlite:///{WAREHOUSE})")
    say(f"  report       {REPORT / 'index.html'}   (+ PNG charts and the XLSX workbook beside it)")
    pack = latest_pack()
    if pack is not None:
        say(f"  board pack   {pack}   (alliance-finance report --warehouse sqlite:///{WAREHOUSE} --out var/pack-{pack} "
            f"--pack {pack} reproduces it; changes --since-pack {pack} lists what moved since)")
    say(f"  Data Docs    {data_docs_dir(f'sqlite:///{WAREHOUSE}')}")
    say(f"  sources      {SOURCES}")
    say(f"  Airflow logs {LOGS}")
    say(savings_table())
    say(programme_costs())
    say("")
    say("  In-year (the warehouse as it stands on one night of an unfinished year):")
    say("    alliance-finance generate --out var/in-year --as-of 2016-10-15 && alliance-finance run --sources "
        "var/in-year --warehouse sqlite:///var/in-year.db && alliance-finance report --warehouse "
        "sqlite:///var/in-year.db --out var/in-year-report")
    return 0


if __name__ == "__main__":
    sys.exit(main())
