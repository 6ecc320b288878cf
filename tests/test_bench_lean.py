"""The lean first approach of the benchmark (``bench/lean_approach.py``, issue #14) on tiny generated
lines against the real PostgreSQL: it loads every line, and its seven expectations run (and can fail)."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import lean_approach  # noqa: E402

pytestmark = pytest.mark.postgres


def write_lines(path: Path, count: int, duplicate_last: bool = False) -> list[dict]:
    """``count`` fact lines of two forces as one clean CSV with a header (the last one repeating the
    first's key when ``duplicate_last``)."""
    rows = []
    for number in range(count):
        force = "ASC" if number % 3 else "WP"
        key = number - (count - 1) if duplicate_last and number == count - 1 else number
        rows.append({
            "force_code": "ASC" if key % 3 else "WP", "fiscal_year": 2016, "period": 1 + number % 12,
            "posting_date": (dt.date(2016, 4, 1) + dt.timedelta(days=number % 365)).isoformat(),
            "source_line_ref": f"ref/{key}", "document_ref": f"doc/{number // 4}", "source_line_number": number + 2,
            "cost_centre": "" if number % 7 == 0 else f"AS{number % 100:06d}", "local_account": "510000",
            "objective_code": "OB01", "subjective_code": "SB01",
            "amount_pence": (number * 1234567) % 100_000_000 - 50_000_000, "document_type": "KR",
            "line_text": f"line, \"quoted\" {number}", "vendor": "", "reference": force, "batch_id": 1 + number // 100,
        })
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=lean_approach.LINE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def table_total(url: str) -> tuple[int, int]:
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, dbname=u.database) as conn:
        return conn.execute(f"SELECT count(*), sum(amount_pence) FROM {lean_approach.TABLE}").fetchone()


def test_lean_approach_loads_every_line_after_seven_expectations(tmp_path, pg_url):
    rows = write_lines(tmp_path / "lines.csv", 750)
    outcome = lean_approach.load(tmp_path / "lines.csv", pg_url, ["ASC", "WP"])
    assert outcome["expectations"] == 7
    assert outcome["success"] is True and outcome["failed"] == []
    assert outcome["lines"] == outcome["loaded"] == 750
    # every line, every penny, exactly
    assert table_total(pg_url) == (750, sum(r["amount_pence"] for r in rows))
    assert set(outcome["seconds"]) == {"import_and_context", "read", "validate", "to_sql"}


def test_lean_approach_expectations_fail_on_a_duplicate_key_and_an_unknown_force(tmp_path, pg_url):
    write_lines(tmp_path / "lines.csv", 300, duplicate_last=True)
    outcome = lean_approach.load(tmp_path / "lines.csv", pg_url, ["ASC"])  # WP lines are outside the set
    assert outcome["success"] is False
    assert outcome["failed"] == ["expect_column_values_to_be_in_set", "expect_compound_columns_to_be_unique"]
    assert outcome["loaded"] == 300  # the lean approach loads what it read: it checks, it does not refuse
