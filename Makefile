# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
export AIRFLOW_HOME ?= $(CURDIR)/var/airflow

.PHONY: setup test demo bench bench-airflow bench-staging lock clean airflow airflow-stop airflow-reset

setup: $(STAMP)

# Reinstalls only when the lock file or the project metadata changed, so a rerun takes seconds.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# The folders ruff checks (src/ once it exists).
LINT_PATHS = $(wildcard plugins src dags tests bench scripts)
# The import contracts of .importlinter that hold today; tests/test_architecture.py runs all of them
# (BROKEN_CONTRACTS there names what breaks the others).
IMPORT_CONTRACTS = layers commands-above-the-library sources-formats-independent no-cycles

test: setup
	@scripts/ensure-chromium.sh
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/lint-imports --no-cache $(addprefix --contract ,$(IMPORT_CONTRACTS))
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: setup
	$(BIN)/python -m alliance_finance.demo

bench: setup
	$(BIN)/python bench/run_bench.py

# Validated batches through the warehouse's staging table vs an object store (section 7 of docs/performance.md).
bench-staging: setup
	$(BIN)/python bench/staging_handoff.py

# A one-year backfill through the scheduler and two Celery workers against the CLI on the same sources
# (needs PostgreSQL and Redis; root isolates the workers' var/): section 8 of docs/performance.md.
bench-airflow: setup
	$(BIN)/python bench/airflow_backfill.py $(BENCH_ARGS)

# The real Airflow components (api-server, scheduler, dag-processor, triggerer) from .venv, metadata
# on the local PostgreSQL: scripts/airflow_local.py says what it sets and why.
airflow: setup
	$(BIN)/python scripts/airflow_local.py start $(AIRFLOW_ARGS)

airflow-stop: setup
	$(BIN)/python scripts/airflow_local.py stop

airflow-reset: setup
	$(BIN)/python scripts/airflow_local.py reset

# Re-resolve the pinned set after editing requirements.in.
lock: setup
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf var/ .pytest_cache
