"""Alembic migrations build exactly the schema of the models, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.storage.db import make_engine, upgrade
from hub.storage.models import Base


def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    Base.metadata.drop_all(engine)
    upgrade(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations drifted: {diff}"


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    Base.metadata.drop_all(engine)
    upgrade(db_url)
    upgrade(db_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0001"
    engine.dispose()
