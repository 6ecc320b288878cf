"""A night with nothing new: ``alliance-finance run`` after everything was loaded says so, changes
nothing, and never imports what only work needs (issue #14: such a night finishes in well under two
seconds because Great Expectations, pandas, pyarrow, numpy, matplotlib, XlsxWriter, openpyxl and Alembic stay
unloaded).

The second run is the real command in a process of its own, through a wrapper that prints which of
those packages its process imported; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from alliance_finance.cli import main as cli_main
from alliance_finance.warehouse.engine import make_engine
from checksums import batch_ledger, fact_checksum
from conftest import make_sample_sources

#: what a night with nothing new must not import: validation (Great Expectations, pandas), reading and
#: loading (pyarrow, numpy), the report (matplotlib, xlsxwriter), finance's XLSX budgets (openpyxl),
#: upgrading the schema (Alembic: the warehouse is at head already)
HEAVY = ("great_expectations", "pandas", "pyarrow", "numpy", "matplotlib", "xlsxwriter", "openpyxl", "alembic")

#: runs the command's own main() and prints, last, the heavy packages its process imported
_WRAPPER = """
import json, sys
from alliance_finance.cli import main
try:
    code = main(sys.argv[1:])
finally:
    imported = sorted({{name.split(".")[0] for name in sys.modules}} & {heavy!r})
    print("IMPORTED " + json.dumps(imported), flush=True)
sys.exit(code)
"""


#: the Airflow task that starts every force's DAG run, for ASC (a file format: nothing pending when every
#: delivery is loaded), printing its pending count and, last, the heavy packages its process imported
_FIND_PENDING = """
import json, sys
from pathlib import Path
from alliance_finance.config.settings import Settings
from alliance_finance.orchestration import tasks
settings = Settings.from_environment(sources_dir=Path(sys.argv[1]), warehouse=sys.argv[2])
print("PENDING", tasks.find_pending("ASC", {{}}, settings=settings)["pending_count"])
imported = sorted({{name.split(".")[0] for name in sys.modules}} & {heavy!r})
print("IMPORTED " + json.dumps(imported), flush=True)
"""


@pytest.fixture(scope="module")
def sample_sources(tmp_path_factory):
    return make_sample_sources(tmp_path_factory, 2016, 2016)


def _run_in_own_process(args: list[str], wrapper: str = _WRAPPER) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = dict(os.environ)
    env.pop("ALLIANCE_FAULT_PAUSE", None)
    code = wrapper.format(heavy=set(HEAVY))
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)
    marks = [line for line in done.stdout.splitlines() if line.startswith("IMPORTED ")]
    assert marks, f"the wrapper printed no import list:\n{done.stdout}\n{done.stderr}"
    return done, json.loads(marks[-1][len("IMPORTED "):])


def test_a_night_with_nothing_new_changes_nothing_and_imports_nothing_heavy(sample_sources, warehouse_url, capsys):
    args = ["run", "--sources", str(sample_sources), "--warehouse", warehouse_url]
    assert cli_main(args) == 0
    assert "lines loaded" in capsys.readouterr().out
    engine = make_engine(warehouse_url)
    try:
        before, batches_before = fact_checksum(engine), batch_ledger(engine)
        assert before.lines > 0

        done, imported = _run_in_own_process(args)

        assert done.returncode == 0, done.stdout + done.stderr
        assert "ASC: nothing new to load" in done.stdout and "WP: nothing new to load" in done.stdout, done.stdout
        assert imported == [], f"a night with nothing new imported {imported}"
        assert fact_checksum(engine) == before
        assert batch_ledger(engine) == batches_before

        # the DAG's first task, in a worker of its own, finds nothing for ASC without the heavy packages
        done, imported = _run_in_own_process([str(sample_sources), warehouse_url], _FIND_PENDING)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PENDING 0" in done.stdout, done.stdout + done.stderr
        assert imported == [], f"find_pending with nothing pending imported {imported}"
        assert fact_checksum(engine) == before
    finally:
        engine.dispose()


def test_the_wrapper_sees_what_a_night_with_work_imports(tmp_path):
    """The check above can fail: the same wrapper, on a night with a delivery to read, lists pyarrow."""
    empty = tmp_path / "sources"
    (empty / "avon_somerset" / "inbound").mkdir(parents=True)
    # one delivery that is refused at once is still read (pyarrow), then rejected
    (empty / "avon_somerset" / "inbound" / "ASC_GL_20160404_001.csv").write_text("not a ledger\n")
    (empty / "avon_somerset" / "inbound" / "ASC_GL_20160404_001.ctl").write_text("rows=1\n")
    done, imported = _run_in_own_process(
        ["run", "--sources", str(empty), "--warehouse", f"sqlite:///{tmp_path / 'w.db'}", "--force", "ASC"])
    assert "pyarrow" in imported, done.stdout + done.stderr
