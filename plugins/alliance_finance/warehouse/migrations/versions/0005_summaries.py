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


#: the tables this revision creates (a later revision's summary is filled by that revision)
TABLES = ("force_year_summary", "ledger_summary", "nre_summary", "cost_centre_summary", "partner_flow_summary")


def upgrade() -> None:
    conn = op.get_bind()
    execute_sql_file(conn, "migrations/0005_summaries.sql")
    for table in TABLES:
        conn.exec_driver_sql(f"INSERT INTO {table} {summaries.summary_select(table, conn.dialect.name)}")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
