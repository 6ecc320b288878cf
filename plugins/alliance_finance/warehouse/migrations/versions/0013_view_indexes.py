"""Indexes for the in-year views: nre_summary by force and scope and by fiscal year, budget_summary by
fiscal year, partner_flow_summary by fiscal year, and etl_batch's loaded batches by force and latest
posting date (sql/migrations/0013_view_indexes.sql says why).

DDL only. On an existing warehouse each index is built from the rows already there (the summaries and the
batches: a fraction of a second).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_view_indexes.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
