"""Finance's tables: savings_target, sharing_key, deflator, programme_cost_centre.

DDL only. Their rows come from seeds/ at every run (alliance_finance.marts.seeds.sync_finance_seeds,
called by the runner when preparing the warehouse); the finance views (v_consolidated_spend,
v_savings_tracker, v_local_policing, v_cost_share, v_intra_alliance_reconciliation,
v_ledger_freshness) live in sql/views/ and are recreated by migrate.upgrade after every upgrade.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "migrations/0002_finance.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
