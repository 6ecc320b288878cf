"""Post-close adjustments: the money each batch posted into periods already closed when it loaded.

DDL only: the loader writes the rows (alliance_finance.warehouse.load).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_post_close.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
