"""The approach a data engineer writes first, for the benchmark to compare against (issue #8).

For every ASC file: ``pandas.read_csv``, a Great Expectations suite on the DataFrame, the lines
mapped with ``merge`` against the reference CSVs, then ``DataFrame.to_sql`` into the same fact table
the pipeline loads (same columns, keys and indexes). Wiltshire: one ``pandas.read_sql`` of the
journals and lines, the same three steps. Amounts become integer pence (kept exact, so the
comparison is about speed alone); no control files, no row accounting, no quarantine, no
re-delivery handling: it does less than the pipeline, and is still the slower of the two.

Run by ``bench/run_bench.py`` in a process of its own; prints one JSON line with the seconds spent
per step and the lines handled::

    python bench/naive_approach.py --warehouse URL --asc-list FILE --wp-db PATH --wp-share 10
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"

ASC_COLUMNS = ["Company Code", "Fiscal Year", "Posting Period", "Document Number", "Line Item",
               "Document Type", "Posting Date", "Document Date", "Cost Centre", "GL Account", "Amount",
               "D/C", "Text", "Vendor", "Reference"]
FACT_COLUMNS = ["force_code", "fiscal_year", "period", "posting_date", "source_line_ref", "document_ref",
                "source_line_number", "cost_centre", "local_account", "objective_code", "subjective_code",
                "amount_pence", "document_type", "line_text", "vendor", "reference", "batch_id"]


def asc_suite(gx):
    """A reasonable suite for one SAP file, as the GX documentation's examples would write it."""
    e = gx.expectations
    suite = gx.ExpectationSuite(name="asc_first_approach")
    suite.add_expectation(e.ExpectTableColumnsToMatchOrderedList(column_list=ASC_COLUMNS))
    for column in ["Company Code", "Fiscal Year", "Posting Period", "Document Number", "Line Item",
                   "Document Type", "Posting Date", "GL Account", "Amount", "D/C"]:
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="Company Code", value_set=["ASC1", "ASP1"]))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="Document Type",
                                                        value_set=["KR", "KG", "SA", "PR", "DR", "AB"]))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="D/C", value_set=["S", "H"]))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="Posting Period", min_value=1, max_value=16))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="Line Item", min_value=1, max_value=999))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="Document Number", regex=r"^[0-9]{10}$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="Posting Date", regex=r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="GL Account", regex=r"^[0-9]{6}$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="Cost Centre", regex=r"^AS[0-9]{6}$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(
        column="Amount", regex=r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\.[0-9]{2}$"))
    suite.add_expectation(e.ExpectColumnValueLengthsToBeBetween(column="Text", max_value=50))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(
        column_list=["Company Code", "Fiscal Year", "Document Number", "Line Item"]))
    return suite


def wp_suite(gx):
    e = gx.expectations
    suite = gx.ExpectationSuite(name="wp_first_approach")
    for column in ["journal_id", "line_no", "source", "period_name", "accounting_date", "account_string"]:
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="source", value_set=["AP", "AR", "GL", "PAY", "FA"]))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="period_name", regex=r"^(?:[A-Z]{3})-[0-9]{2}$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(
        column="account_string", regex=r"^WP\.[0-9]{4}\.[0-9]{5}\.[0-9]{4}$"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="entered_dr", min_value=0))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="entered_cr", min_value=0))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["journal_id", "line_no"]))
    return suite


def reference_maps(pd):
    """(account map, cost centre map) per force, as DataFrames."""
    accounts = pd.concat([
        pd.read_csv(REFERENCE / "avon_somerset_gl_accounts.csv", dtype=str).rename(
            columns={"gl_account": "local_account"}).assign(force_code="ASC"),
        pd.read_csv(REFERENCE / "wiltshire_natural_accounts.csv", dtype=str).rename(
            columns={"natural_account": "local_account"}).assign(force_code="WP"),
    ])[["force_code", "local_account", "subjective_code"]]
    kinds = pd.read_csv(REFERENCE / "common_subjectives.csv", dtype=str)[["subjective_code", "kind"]]
    accounts = accounts.merge(kinds, on="subjective_code", how="left")
    centres = pd.concat([
        pd.read_csv(REFERENCE / "avon_somerset_cost_centres.csv", dtype=str).assign(force_code="ASC"),
        pd.read_csv(REFERENCE / "wiltshire_cost_centres.csv", dtype=str).assign(force_code="WP"),
    ])[["force_code", "cost_centre", "objective_code", "valid_from_fy", "valid_to_fy"]]
    centres["valid_from_fy"] = pd.to_numeric(centres["valid_from_fy"]).fillna(0)
    centres["valid_to_fy"] = pd.to_numeric(centres["valid_to_fy"]).fillna(9999)
    return accounts, centres


def map_lines(pd, lines, accounts, centres):
    """The common chart's codes by merge: account -> subjective, cost centre and year -> objective."""
    lines = lines.merge(accounts, on=["force_code", "local_account"], how="left")
    matched = lines[["force_code", "cost_centre", "fiscal_year"]].reset_index().merge(
        centres, on=["force_code", "cost_centre"], how="inner")
    matched = matched[(matched.valid_from_fy <= matched.fiscal_year) & (matched.fiscal_year <= matched.valid_to_fy)]
    lines["objective_code"] = matched.set_index("index")["objective_code"].reindex(lines.index)
    lines["objective_code"] = lines["objective_code"].fillna("UNMAPPED")
    lines.loc[lines["kind"] == "balance_sheet", "objective_code"] = "BS00"
    lines["subjective_code"] = lines["subjective_code"].fillna("UNMAPPED")
    return lines


def asc_file(pd, path: Path):
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_values=[""])
    for column in ("Posting Period", "Line Item"):
        frame[column] = pd.to_numeric(frame[column])
    return frame


def asc_to_fact(pd, frame, batch_id: int):
    amount = frame["Amount"].str.replace(",", "", regex=False).str.replace(".", "", regex=False).astype("int64")
    sign = frame["D/C"].map({"S": 1, "H": -1})
    document_ref = frame["Company Code"] + "/" + frame["Fiscal Year"] + "/" + frame["Document Number"]
    return pd.DataFrame({
        "force_code": "ASC",
        "fiscal_year": frame["Fiscal Year"].astype("int64"),
        "period": frame["Posting Period"],
        "posting_date": pd.to_datetime(frame["Posting Date"], format="%d.%m.%Y").dt.date,
        "source_line_ref": document_ref + "/" + frame["Line Item"].astype(str),
        "document_ref": document_ref,
        "source_line_number": frame.index + 2,
        "cost_centre": frame["Cost Centre"],
        "local_account": frame["GL Account"],
        "amount_pence": amount * sign,
        "document_type": frame["Document Type"],
        "line_text": frame["Text"],
        "vendor": frame["Vendor"],
        "reference": frame["Reference"],
        "batch_id": batch_id,
    })


def wp_to_fact(pd, frame, batch_id: int):
    parts = frame["account_string"].str.split(".", expand=True)
    pence = ((frame["entered_dr"].fillna(0) - frame["entered_cr"].fillna(0)) * 100).round().astype("int64")
    months = {"APR": 1, "MAY": 2, "JUN": 3, "JUL": 4, "AUG": 5, "SEP": 6, "OCT": 7, "NOV": 8, "DEC": 9,
              "JAN": 10, "FEB": 11, "MAR": 12, "ADJ": 13}
    period = frame["period_name"].str[:3].map(months)
    year = 2000 + frame["period_name"].str[4:].astype("int64")
    fiscal_year = year.where(period.between(1, 9), year - 1)
    return pd.DataFrame({
        "force_code": "WP",
        "fiscal_year": fiscal_year,
        "period": period,
        "posting_date": pd.to_datetime(frame["accounting_date"]).dt.date,
        "source_line_ref": frame["journal_id"].astype(str) + "/" + frame["line_no"].astype(str),
        "document_ref": frame["journal_id"].astype(str),
        "source_line_number": frame["line_no"],
        "cost_centre": parts[1],
        "local_account": parts[2],
        "amount_pence": pence,
        "document_type": frame["source"],
        "line_text": frame["line_description"],
        "vendor": frame["supplier_name"],
        "reference": frame["description"],
        "batch_id": batch_id,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="PostgreSQL URL of a migrated, empty warehouse")
    parser.add_argument("--asc-list", required=True, type=Path, help="file listing the ASC data files, one a line")
    parser.add_argument("--wp-db", required=True, type=Path, help="the Wiltshire SQLite ERP file")
    parser.add_argument("--wp-share", type=int, default=10, help="read journals whose id is divisible by this")
    args = parser.parse_args()

    seconds = {"import_and_context": 0.0, "read": 0.0, "validate": 0.0, "map": 0.0, "to_sql": 0.0}
    started = time.perf_counter()
    import great_expectations as gx
    import pandas as pd
    import sqlalchemy as sa

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("first_approach")
    asc_batches = source.add_dataframe_asset("asc").add_batch_definition_whole_dataframe("file")
    wp_batches = source.add_dataframe_asset("wp").add_batch_definition_whole_dataframe("extract")
    suites = {"asc": context.suites.add(asc_suite(gx)), "wp": context.suites.add(wp_suite(gx))}
    accounts, centres = reference_maps(pd)
    engine = sa.create_engine(args.warehouse.replace("postgresql://", "postgresql+psycopg://", 1),
                              connect_args={"options": "-c search_path=alliance,public"})
    seconds["import_and_context"] = time.perf_counter() - started

    lines = {"asc": 0, "wp": 0}
    failed = 0
    batch_id = 1_000_000

    def validate_map_load(batches, suite, frame, to_fact) -> None:
        """One frame's Great Expectations suite, its mapping and its to_sql, each step timed."""
        nonlocal failed
        t = time.perf_counter()
        result = batches.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
        failed += 0 if result.success else 1
        if not result.success and os.environ.get("NAIVE_DEBUG"):
            print([r.expectation_config.type for r in result.results if not r.success], file=sys.stderr)
        seconds["validate"] += time.perf_counter() - t
        t = time.perf_counter()
        fact = map_lines(pd, to_fact(pd, frame, batch_id), accounts, centres)[FACT_COLUMNS]
        seconds["map"] += time.perf_counter() - t
        t = time.perf_counter()
        fact.to_sql("fact_ledger_line", engine, schema="alliance", if_exists="append", index=False)
        seconds["to_sql"] += time.perf_counter() - t

    for path in [Path(p) for p in args.asc_list.read_text().split()]:
        batch_id += 1
        t = time.perf_counter()
        frame = asc_file(pd, path)
        seconds["read"] += time.perf_counter() - t
        validate_map_load(asc_batches, suites["asc"], frame, asc_to_fact)
        lines["asc"] += len(frame)

    batch_id += 1
    t = time.perf_counter()
    with sqlite3.connect(args.wp_db) as erp:
        frame = pd.read_sql(
            "SELECT j.journal_id, l.line_no, j.source, j.period_name, j.accounting_date, j.description, "
            "l.account_string, l.entered_dr, l.entered_cr, l.line_description, l.supplier_name "
            "FROM gl_journal j JOIN gl_journal_line l ON l.journal_id = j.journal_id "
            f"WHERE j.status = 'P' AND j.journal_id % {int(args.wp_share)} = 0", erp)
    seconds["read"] += time.perf_counter() - t
    validate_map_load(wp_batches, suites["wp"], frame, wp_to_fact)
    lines["wp"] = len(frame)
    engine.dispose()
    print(json.dumps({"seconds": seconds, "lines": lines, "failed_validations": failed,
                      "total_seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
