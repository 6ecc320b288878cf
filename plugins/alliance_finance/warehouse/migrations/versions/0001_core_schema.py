"""Core schema: dimensions and maps, etl_batch, fact_ledger_line, quarantine_line, source documents.

Revision ID: 0001
Revises:
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file, seed_fiscal_periods

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    execute_sql_file(conn, "migrations/0001_core.sql")
    seed_fiscal_periods(conn)


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
