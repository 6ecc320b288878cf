"""Unmapped summary: the lines in suspense by force, unmapped code, fiscal year and posting date.

Creates unmapped_summary (sql/migrations/0011_unmapped_summary.sql) and fills it from the lines already
loaded, so an existing warehouse upgrades in place; from then on it is kept with the ledger like the
other summaries (alliance_finance.warehouse.summaries). v_unmapped_codes and v_unmapped_code_years read
it instead of fact_ledger_line.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

from alliance_finance.warehouse import summaries
from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    execute_sql_file(conn, "migrations/0011_unmapped_summary.sql")
    conn.exec_driver_sql(f"INSERT INTO unmapped_summary {summaries.summary_select('unmapped_summary', conn.dialect.name)}")
    summaries.analyze(conn)


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
