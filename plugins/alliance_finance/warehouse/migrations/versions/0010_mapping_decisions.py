"""Finance's mapping decisions (mapping_decision), and programme cost centres effective-dated.

DDL only: decisions are recorded by ``alliance-finance mapping import`` (warehouse/decisions.py);
programme cost centres' years come from seeds/programme_cost_centres.csv at every run.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from alliance_finance.warehouse.migrate import execute_sql_file

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), f"migrations/{revision}_mapping_decisions.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
