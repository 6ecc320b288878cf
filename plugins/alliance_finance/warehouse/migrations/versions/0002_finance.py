"""Finance's data: savings_target, sharing_key, deflator, programme_cost_centre, loaded from seeds/.

The finance views (v_consolidated_spend, v_savings_tracker, v_local_policing, v_cost_share,
v_intra_alliance_reconciliation, v_ledger_freshness) live in sql/views/ and are recreated by
migrate.upgrade after every upgrade, like every view. Later edits of seeds/ reach these tables
through finance.sync_finance_seeds.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alliance_finance.marts.finance import create_finance_tables, seeds_digest, load_finance_seeds, FINANCE_SEEDS_DIGEST
    from alliance_finance.warehouse import meta

    conn = op.get_bind()
    create_finance_tables(conn)
    load_finance_seeds(conn)
    meta.set_meta(conn, FINANCE_SEEDS_DIGEST, seeds_digest())


def downgrade() -> None:
    raise NotImplementedError("the warehouse migrates forward only: restore a backup to go back")
