"""Storage: SQLAlchemy models, engine setup, Alembic migrations. SQLite (WAL) and PostgreSQL."""
