"""Budget summary: v_budget_profile's amounts summed by force, year, function, scope and period.

DDL only: the rows are refreshed by alliance_finance.marts.budgets.refresh_budget_summary.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_budget_summary.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
