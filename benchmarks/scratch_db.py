"""A PostgreSQL database of a benchmark's own: created empty, dropped (even with open
connections) at the end. The server is the one `PINGAN_TEST_PG` names, as in the tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("PINGAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def create_database(name: str) -> str:
    """An empty database `name` (dropped first if a run left it behind); returns its URL."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[str]:
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def _admin(*statements: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        admin.dispose()
