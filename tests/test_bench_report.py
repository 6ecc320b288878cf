"""The issue #14 targets table of the benchmark's report (``bench/report.py``): one row per target,
met or not met from the figures, "not measured" where the results hold none."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import report  # noqa: E402
import run_bench  # noqa: E402

ROWS = 11  # views (2), report, nothing-new night, small night, marginal (2), lean (2), peak memory (2)


def results() -> dict:
    views = {"v_a": {"ms": 12.0, "rows": 10, "year_ms": 4.0}, "v_b": {"ms": 60.0, "rows": 9, "year_ms": 10.0}}
    return {
        "throughput": {"seconds": 30.0, "parallel_seconds": 21.0, "lines": 2_005_000, "tiny_lines": 5000,
                       "fixed_seconds": 3.5, "tiny_no_bytecode": {"seconds": 8.0}, "quiet_seconds": 2.5,
                       "quiet_no_bytecode": {"seconds": 6.0},
                       "floors": [{"rows": 2_000_000, "heap_seconds": 4.0}, {"rows": 2_000_000, "heap_seconds": 5.0}]},
        "lean": {"seconds": 90.0, "ratio": 3.0, "ratio_parallel": 3.6},
        "history": {"history": {"peak_mb": 1200, "peak_tree_mb": 1210, "parallel": {"peak_tree_mb": 1600}},
                    "report": {"best": 4.2},
                    "views": {"sizes": [{"multiple": 1, "views": views},
                                        {"multiple": 2, "views": {"v_a": {"ms": 13, "year_ms": 4.4},
                                                                  "v_b": {"ms": 90, "year_ms": 10.5}}},
                                        {"multiple": 4, "views": {"v_a": {"ms": 14, "year_ms": 5.2},
                                                                  "v_b": {"ms": 150, "year_ms": 10.9}}}]}},
    }


def verdicts(rows: list[str]) -> list[str]:
    return [row.rstrip(" |").rsplit("|", 1)[1].strip() for row in rows]


def test_every_target_is_one_row_met_or_not_from_its_figure():
    rows = report.issue14_rows(results(), run_bench.TARGETS)
    assert verdicts(rows) == [
        "**not met**",  # the slowest view: 60 ms
        "**not met**",  # v_a's year: +30 % at 4x
        "**met**",      # the report: 4.2 s
        "**not met**",  # nothing new: 2.5 s
        "**met**",      # one small delivery: 3.5 s
        "**not met**",  # run: (30 - 3.5) s / 2,000,000 lines = 13.25 µs against COPY's best 2.0 µs: 6.62x
        "**met**",      # run --parallel: (21 - 3.5) s / 2,000,000 lines = 8.75 µs: 4.38x
        "**met**",      # 3.0x the lean approach
        "**met**",      # 3.6x
        "**met**",      # five years, run: 1,210 MB (the process tree's)
        "**not met**",  # five years, run --parallel: 1,600 MB
    ]
    assert "13.2 µs / 2.00 µs = 6.62×" in rows[5] and "8.8 µs / 2.00 µs = 4.38×" in rows[6]
    assert "`v_a` at 4x" in rows[1] and "+30 %" in rows[1]
    assert "2.5 s; 6.0 s" in rows[3] and "3.5 s; 8.0 s" in rows[4]
    assert "1,600 MB" in rows[10]


def test_what_was_not_measured_says_so():
    rows = report.issue14_rows({}, run_bench.TARGETS)
    assert len(rows) == ROWS - 1  # the two view rows are one when nothing was measured
    assert verdicts(rows) == ["not measured"] * (ROWS - 1)
