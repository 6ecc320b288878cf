"""Airflow: one nightly ledger DAG per force of forces.yaml (alliance_ledger_asc, alliance_ledger_wp, ...).

The forces are data: see forces.yaml and its schema. The DAGs are made by
alliance_finance.orchestration.dags; every task calls the same package code as `alliance-finance run`.
"""

from alliance_finance.orchestration.dags import make_force_dags

globals().update(make_force_dags())
