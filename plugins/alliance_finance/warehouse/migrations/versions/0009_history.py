"""History kept: superseded lines, codes before restatements, data versions, board packs.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_history.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
