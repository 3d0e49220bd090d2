"""Database engines and sessions for SQLite (WAL) and PostgreSQL, and schema upgrades via Alembic."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, NullPool, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import SystemClock
from hub.storage import partitioning
from hub.storage.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, writer: bool = False, **kwargs: object) -> Engine:
    """`writer=True` for the hub's own writing threads (ingestion, core, outbox).

    On SQLite their transactions take the write lock when they begin (BEGIN IMMEDIATE). With a
    deferred BEGIN, a transaction that reads and then writes fails at once ("database is
    locked") when another thread committed in between, its snapshot being stale; IMMEDIATE
    waits the busy timeout instead. Other engines keep the sqlite3 module's behaviour (reads
    outside a transaction see every commit; a transaction begins at the first write): a
    reader holding the write lock would block every writer.
    """
    if url.startswith("sqlite"):
        bind_none_and_bool_directly()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if writer:
            # The sqlite3 module would defer BEGIN past the first SELECT: emit it ourselves.
            event.listen(engine, "connect", _no_implicit_begin)
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def bind_none_and_bool_directly() -> None:
    """Register sqlite3 adapters for None and bool that give the same value (NULL, 0/1 as
    INTEGER): the stored data is unchanged, binding them nearly 3x cheaper.

    The sqlite3 module binds int, float and str as they are, but sends every other value
    through its adapter lookup, which, finding no adapter, asks its protocol class for
    `__adapt__`: a class's failed attribute lookup formats an AttributeError message and
    clears it. About 3,300 instructions for each None and bool bound (1,200 with an adapter);
    the events row and the device-state row hold ten or more a message: 844 M of the writer's
    4,089 M instructions for 20,000 messages, 21 %, and 252 M with these adapters (callgrind,
    docs/BENCHMARKS.md "Session 11: ingestion instructions"). A registered adapter is found in
    the registry first. Process-wide and idempotent (sqlite3's adapters are module state)."""
    sqlite3.register_adapter(type(None), _NONE)
    sqlite3.register_adapter(bool, int)


_NONE = dict[object, None]().get  # None for any argument, and a C call (a lambda would run a Python frame)


def _no_implicit_begin(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None  # SQLAlchemy's pysqlite recipe


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(url: str, revision: str = "head", now: float | None = None) -> None:
    """Run Alembic migrations up to `revision` on the database at `url`, then (PostgreSQL)
    create the `events` partitions of today .. today + 2 days."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)
    prepare_partitions(make_engine(url, poolclass=NullPool), now)


def prepare_partitions(engine: Engine, now: float | None = None) -> list[str]:
    """The partitions of the coming days (hub start, db upgrade, the daily retention job);
    nothing on SQLite or a plain PostgreSQL table. Returns the names created."""
    with partitioning.maintenance(engine) as conn:
        return [] if conn is None else partitioning.ensure_partitions(conn, SystemClock().now() if now is None else now)


def create_schema(engine: Engine, now: float | None = None) -> None:
    """The schema `pingan db upgrade` builds, without Alembic (tests, benchmarks): the models'
    tables, and on PostgreSQL `events` in its partitioned layout with today's partitions."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        partitioning.convert_events(conn, SystemClock().now() if now is None else now)


def drop_schema(engine: Engine) -> None:
    """`drop_all`, Alembic's version table, and on PostgreSQL the partitions an interrupted
    retention run left detached: an empty database."""
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        if engine.dialect.name == "postgresql":
            partitioning.drop_detached(conn)


def reset_schema(engine: Engine, now: float | None = None) -> None:
    drop_schema(engine)
    create_schema(engine, now)
