"""Airflow: one nightly ledger DAG per force of forces.yaml (alliance_ledger_asc, alliance_ledger_wp, ...).

The forces are data: see forces.yaml and its schema. The DAGs are made by
alliance_finance.dag_factory; every task calls the same package code as `alliance-finance run`.
"""

from alliance_finance.dag_factory import make_force_dags

globals().update(make_force_dags())
