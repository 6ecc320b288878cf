"""Airflow: the consolidation DAG: triggered by the forces' ledger Assets; refreshes the marts, builds the
board report and the Data Docs, and records data freshness per force."""

from alliance_finance.orchestration.dags import make_consolidation_dag

alliance_consolidation = make_consolidation_dag()
