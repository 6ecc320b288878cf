"""Alembic environment: always online, on the connection (and transaction) migrate.upgrade opened."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through alliance_finance.warehouse.migrate.upgrade(), "
                       "which passes the warehouse connection")

context.configure(
    connection=connection,
    version_table_schema=context.config.attributes.get("version_table_schema"),
    # the version table's column is wide enough for descriptive revision ids
    version_table="alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
