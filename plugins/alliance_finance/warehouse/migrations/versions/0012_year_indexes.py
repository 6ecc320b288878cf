"""Indexes by year: on PostgreSQL, fact_ledger_line's (force_code, fiscal_year, period) B-tree becomes a
BRIN index on (fiscal_year, period) (SQLite keeps its B-tree), and unmapped_summary gets an index on its
fiscal year (sql/migrations/0012_year_indexes.sql says why).

DDL only. On an existing warehouse the BRIN index is built from the lines already loaded (one pass over
the table; a few seconds for five years at scale 10).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_year_indexes.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
