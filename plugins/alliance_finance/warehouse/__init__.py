"""The shared warehouse: schema, migrations, mapping and loading (PostgreSQL and SQLite)."""
