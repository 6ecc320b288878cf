"""The lean first approach, for the benchmark to compare against (issue #14).

The leanest version of what a data engineer writes first: the lines already as ONE clean CSV
(the fact rows the pipeline loaded, mapped, amounts in integer pence), ``pandas.read_csv`` of the
whole file, a Great Expectations suite of seven expectations on the whole frame, then
``DataFrame.to_sql`` into a plain table (no key, no index; created by ``to_sql``). No source
formats, no mapping, no control files, no row accounting, no quarantine, no re-delivery handling:
it does far less than the pipeline, which is why it is the stricter comparison beside the per-file
approach (``bench/naive_approach.py``).

Run by ``bench/run_bench.py`` in a process of its own; prints one JSON line with the seconds spent
per step, the lines read and the lines the table holds afterwards::

    python bench/lean_approach.py --csv FILE --warehouse postgresql://... [--forces ASC,WP]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

#: the columns of the clean CSV, in order (its header): the fact table's, less the generated amount
LINE_COLUMNS = ["force_code", "fiscal_year", "period", "posting_date", "source_line_ref", "document_ref",
                "source_line_number", "cost_centre", "local_account", "objective_code", "subjective_code",
                "amount_pence", "document_type", "line_text", "vendor", "reference", "batch_id"]
INTEGER_COLUMNS = ("fiscal_year", "period", "source_line_number", "amount_pence", "batch_id")
TABLE = "lean_ledger_line"


def lean_suite(gx, forces: list[str]):
    """Seven expectations on the whole frame: shape, required values, the force's set, the period's
    and the year's range, and the line key unique."""
    e = gx.expectations
    suite = gx.ExpectationSuite(name="lean_first_approach")
    suite.add_expectation(e.ExpectTableColumnsToMatchOrderedList(column_list=LINE_COLUMNS))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="source_line_ref"))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="amount_pence"))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="force_code", value_set=forces))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="period", min_value=1, max_value=16))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="fiscal_year", min_value=2000, max_value=2100))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["force_code", "source_line_ref"]))
    return suite


def load(csv_path: Path, warehouse_url: str, forces: list[str]) -> dict:
    """read_csv, validate, to_sql: the seconds of each step, the lines read, the expectations'
    outcomes and the lines the table holds afterwards."""
    seconds = {"import_and_context": 0.0, "read": 0.0, "validate": 0.0, "to_sql": 0.0}
    started = time.perf_counter()
    import great_expectations as gx
    import pandas as pd
    import sqlalchemy as sa

    context = gx.get_context(mode="ephemeral")
    batches = (context.data_sources.add_pandas("lean_first_approach").add_dataframe_asset("lines")
               .add_batch_definition_whole_dataframe("whole_file"))
    suite = context.suites.add(lean_suite(gx, forces))
    engine = sa.create_engine(warehouse_url.replace("postgresql://", "postgresql+psycopg://", 1))
    seconds["import_and_context"] = time.perf_counter() - started

    t = time.perf_counter()
    frame = pd.read_csv(csv_path, dtype={c: "int64" if c in INTEGER_COLUMNS else str for c in LINE_COLUMNS},
                        keep_default_na=False, na_values=[""], parse_dates=["posting_date"])
    seconds["read"] = time.perf_counter() - t

    t = time.perf_counter()
    result = batches.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    seconds["validate"] = time.perf_counter() - t
    outcomes = {r.expectation_config.type: bool(r.success) for r in result.results}

    t = time.perf_counter()
    frame.to_sql(TABLE, engine, if_exists="replace", index=False)
    seconds["to_sql"] = time.perf_counter() - t
    with engine.connect() as conn:
        loaded = conn.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    engine.dispose()
    return {"seconds": seconds, "lines": len(frame), "loaded": loaded, "success": bool(result.success),
            "expectations": len(result.results), "failed": sorted(t for t, ok in outcomes.items() if not ok),
            "total_seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, type=Path, help="the lines as one clean CSV, with a header")
    parser.add_argument("--warehouse", required=True, help="PostgreSQL URL of a database for the plain table")
    parser.add_argument("--forces", default="ASC,WP", help="the force codes the lines may carry")
    args = parser.parse_args()
    print(json.dumps(load(args.csv, args.warehouse, args.forces.split(","))))


if __name__ == "__main__":
    main()
