"""etl_staged_batch: validated batches handed from a DAG's validate task to its load task.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "migrations/0003_staging.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
