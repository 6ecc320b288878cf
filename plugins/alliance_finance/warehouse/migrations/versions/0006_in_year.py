"""In-year truth (issue #15): period closes as append-only events, budgets with their monthly profile.

DDL only: the rows come from seeds/ at every run (alliance_finance.marts.seeds.sync_finance_seeds)
and from ``alliance-finance close-period``.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_in_year.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
