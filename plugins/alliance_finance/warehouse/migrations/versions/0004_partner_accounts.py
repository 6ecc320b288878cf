"""Partner accounts: map_partner_account (force, local account -> the alliance force the flow is with).

DDL only: the rows come from dags/forces.yaml at every run (alliance_finance.warehouse.forces).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "migrations/0004_partner_accounts.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
