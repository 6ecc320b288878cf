"""Summaries: the ledger summarised at the grains the finance views read, kept with the ledger.

Creates the summary tables (sql/migrations/0005_summaries.sql) and fills them from the lines already
loaded, so an existing warehouse upgrades in place (alliance_finance.warehouse.summaries).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from alliance_finance.warehouse import summaries
from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "migrations/0005_summaries.sql")
    summaries.rebuild(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
