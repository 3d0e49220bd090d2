"""Alembic environment: runs migrations on the URL the hub passes (SQLite or PostgreSQL)."""

from alembic import context
from sqlalchemy import pool

from hub.storage.db import make_engine
from hub.storage.models import Base
from hub.storage.partitioning import is_partition_table

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("alembic: no sqlalchemy.url and no connection given")
        connectable = make_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Autogenerate compares the models with `events` itself, not with its PostgreSQL partitions."""
    return not (type_ == "table" and name is not None and is_partition_table(name))


run_migrations_online()
