"""How validated batches should pass from extract_and_validate to load: the warehouse or an object store?

The two tasks may run on machines that share no disk. Today each validated batch is staged in the
warehouse (``etl_staged_batch``: :class:`alliance_finance.warehouse.staging.BatchStaging`). The
alternative is an object store reached through Airflow's ``ObjectStoragePath`` (fsspec), one Parquet
object and one JSON object per batch. This measures both on the same batches, one fiscal year of
sample data (``alliance-finance generate``, kept in ``--data`` and reused, as ``bench/run_bench.py``
does), both forces, read as a run reads them (not validated: staging is what is measured):

- put: every batch staged (Parquet encoding included, :func:`alliance_finance.core.ledger.batch_to_parts`);
- get: every batch read back and decoded (:func:`~alliance_finance.core.ledger.batch_from_parts`);
- clear: the run's staged batches removed;
- bytes: what the store holds (the warehouse: the table with its TOAST and index, before the clear).

The object store is ``file://`` on this machine's disk: the best case of any object store (no network,
no per-request latency). Best of ``--repeat`` runs. ``make bench-staging`` runs it; the figures and the
choice are in docs/performance.md ("Handing batches from validate to load").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import ROOT, Postgres, generated, load_average, log, machine  # noqa: E402


def read_batches(sources: Path, warehouse_url: str) -> list:
    """Every delivery of both forces, read into batches as extract_and_validate reads them."""
    from alliance_finance.config.settings import Settings
    from alliance_finance.runner import pipeline
    from alliance_finance.warehouse.engine import make_engine

    settings = Settings.from_environment(warehouse=warehouse_url, sources_dir=sources)
    batches = []
    engine = make_engine(warehouse_url)
    try:
        for force in settings.forces():
            force_pass = pipeline.force_pass(force.code, settings)
            force_pass.prepare()
            try:
                pending = force_pass.reader.pending(engine)
                for group in force_pass.reader.read_groups(engine, pending):
                    for batch in group:
                        batch.raw = None
                        batches.append(batch)
            finally:
                force_pass.reader.close()
    finally:
        engine.dispose()
    return batches


def warehouse_round(engine, batches: list, run_key: str) -> dict:
    import sqlalchemy as sa

    from alliance_finance.warehouse.staging import BatchStaging

    staging = BatchStaging(engine, run_key)
    started = time.perf_counter()
    for seq, batch in enumerate(batches):
        staging.put(seq, batch)
    put = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT pg_total_relation_size('etl_staged_batch')")).scalar_one()
        payload = conn.execute(sa.text("SELECT sum(octet_length(lines) + octet_length(meta)) FROM etl_staged_batch "
                                       "WHERE run_key = :k"), {"k": run_key}).scalar_one()
    started = time.perf_counter()
    lines = sum(b.lines.num_rows for b in staging.batches(len(batches)))
    get = time.perf_counter() - started
    started = time.perf_counter()
    staging.drop()
    clear = time.perf_counter() - started
    with engine.begin() as conn:  # the next round starts from an empty table, as a run does after VACUUM
        conn.execute(sa.text("DELETE FROM etl_staged_batch"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM FULL etl_staged_batch"))
    return {"put": put, "get": get, "clear": clear, "bytes": int(stored), "payload_bytes": int(payload), "lines": lines}


def object_store_round(base, batches: list, run_key: str) -> dict:
    from alliance_finance.core.ledger import batch_from_parts, batch_to_parts

    folder = base / run_key
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    for seq, batch in enumerate(batches):
        meta, lines = batch_to_parts(batch)
        (folder / f"{seq:06d}.parquet").write_bytes(lines)
        (folder / f"{seq:06d}.json").write_text(meta)
    put = time.perf_counter() - started
    stored = sum(p.stat().st_size for p in folder.iterdir())
    started = time.perf_counter()
    lines = 0
    for seq in range(len(batches)):
        batch = batch_from_parts((folder / f"{seq:06d}.json").read_text(),
                                 (folder / f"{seq:06d}.parquet").read_bytes())
        lines += batch.lines.num_rows
    get = time.perf_counter() - started
    started = time.perf_counter()
    folder.fs.rm(folder.path, recursive=True)
    clear = time.perf_counter() - started
    return {"put": put, "get": get, "clear": clear, "bytes": int(stored), "payload_bytes": int(stored), "lines": lines}


def best(rounds: list[dict]) -> dict:
    out = {k: round(min(r[k] for r in rounds), 3) for k in ("put", "get", "clear")}
    out["median_put"] = round(statistics.median(r["put"] for r in rounds), 3)
    out["median_get"] = round(statistics.median(r["get"] for r in rounds), 3)
    out.update(bytes=rounds[-1]["bytes"], payload_bytes=rounds[-1]["payload_bytes"], lines=rounds[-1]["lines"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fy", type=int, default=2016, help="the fiscal year of sample data (default 2016)")
    parser.add_argument("--scale", default="2", help="the generator's scale (default 2: ~200,000 lines a year)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each (best is kept; default 3)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ALLIANCE_BENCH_DATA", "/tmp/bench-data")),
                        help="where generated sample data is kept and reused (default /tmp/bench-data)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("ALLIANCE_TEST_PG_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL role that may create databases (a throwaway one, dropped after)")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "performance.md",
                        help="the page whose section 7 is rewritten from the figures (default docs/performance.md; its "
                             "figures are kept as \"staging\" in the JSON beside it, the other sections unchanged)")
    args = parser.parse_args(argv)

    from airflow.sdk import ObjectStoragePath

    from alliance_finance.warehouse.engine import make_engine

    args.data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("ALLIANCE_WAREHOUSE_URL", None)
    sources = generated(args.data, args.fy, args.fy, args.scale, env)
    pg = Postgres(args.pg_admin_url)
    url = pg.create()
    results: dict = {"fy": args.fy, "scale": args.scale, "repeat": args.repeat, "machine": machine(),
                     "postgres": pg.server(), "load_average_before": load_average()}
    try:
        with tempfile.TemporaryDirectory(prefix="alliance-staging-bench-", dir=args.data) as tmp:
            os.environ["ALLIANCE_VAR_DIR"] = str(Path(tmp) / "var")
            log(f"reading FY {args.fy} at scale {args.scale} from {sources}")
            batches = read_batches(sources, url)
            results["batches"] = len(batches)
            results["lines"] = sum(b.lines.num_rows for b in batches)
            log(f"{len(batches)} batches, {results['lines']:,} lines; {args.repeat} round(s) each way")
            engine = make_engine(url)
            base = ObjectStoragePath(Path(tmp, "store").as_uri())
            warehouse, store = [], []
            try:
                for n in range(args.repeat):
                    warehouse.append(warehouse_round(engine, batches, f"bench/{n}"))
                    store.append(object_store_round(base, batches, f"bench/{n}"))
                    log(f"round {n + 1}: warehouse put {warehouse[-1]['put']:.2f} s get {warehouse[-1]['get']:.2f} s; "
                        f"file:// put {store[-1]['put']:.2f} s get {store[-1]['get']:.2f} s")
            finally:
                engine.dispose()
            assert all(r["lines"] == results["lines"] for r in warehouse + store), "a batch came back incomplete"
            results["warehouse"], results["object_store_file"] = best(warehouse), best(store)
    finally:
        pg.drop(url)
    results["load_average_after"] = load_average()
    print(json.dumps({k: v for k, v in results.items() if k not in ("machine", "postgres")}, indent=1))
    write_report(args.report, results)
    return 0


def write_report(report: Path, staging: dict) -> None:
    """Keep the figures as ``staging`` in the JSON beside ``report`` and render the page again from it
    (the same renderer as ``run_bench.py``: the other sections come out as they were)."""
    from report import render_report
    from run_bench import TARGETS

    results_path = report.with_suffix(".json")
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results["staging"] = staging
    results_path.write_text(json.dumps(results, indent=1, default=str))
    report.write_text(render_report(results, TARGETS))
    log(f"figures in {results_path}, section 7 of {report}")


if __name__ == "__main__":
    sys.exit(main())
