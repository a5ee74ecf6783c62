"""Storage adapters: SQLite by default, PostgreSQL by URL; the event log and its projections."""
