"""`pingan backup FILE` and `pingan restore FILE`: the whole database, open alerts and outbox included.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot page
by page while the hub keeps writing, so a backup needs no stop. PostgreSQL: `pg_dump` in its
custom format (a consistent snapshot too); a restore drops the backup's tables and loads them
again (`pg_restore` into `psql --single-transaction`), so it either replaces everything or
nothing. Not `pg_restore --clean`: it drops a partition's primary key before its table, which
PostgreSQL refuses (an inherited constraint), so it could not restore over the hub's own
database, only into an empty one. The password, when the URL has one, goes to the
tools through PGPASSWORD, never on a command line that `ps` shows.

A restore is done with the hub stopped; afterwards `upgrade` brings an older backup's schema
to this version's head, so a backup taken before an upgrade restores into the new version.
A backup file holds residents' personal data: it is written with mode 0600.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from hub.storage.db import upgrade

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be done, with what to do about it."""


def backup(database_url: str, target: Path) -> None:
    url = make_url(database_url)
    partial = target.with_name(target.name + ".partial")  # a crash never leaves a half file under the real name
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_file(url), partial)
        else:
            _run_pg_tool(url, ["pg_dump", "--format=custom", "--no-owner", "--file", str(partial)])
        os.chmod(partial, 0o600)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore(database_url: str, source: Path) -> None:
    """Replace the database's content with the backup's, then migrate it to head."""
    url = make_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    _check_kind(source, SQLITE_MAGIC if sqlite else PG_DUMP_MAGIC, "SQLite" if sqlite else "PostgreSQL (pg_dump)")
    if sqlite:
        _sqlite_copy(source, _sqlite_file(url))
    else:
        _pg_restore(url, source)
    upgrade(database_url)


def _pg_restore(url: URL, source: Path) -> None:
    """Drop the backup's tables (CASCADE: their partitions, and those made since the backup,
    go with them), then load the backup's SQL, all in one transaction that any error rolls back.
    The SQL goes through a file (mode 0600, deleted after), not a pipe: psql commits at the end
    of its input, so a pg_restore that failed halfway must not hand it a shorter input."""
    for tool in ("pg_restore", "psql"):
        _require(tool)
    drop = "DROP TABLE IF EXISTS " + ", ".join(_dump_tables(source)) + " CASCADE"
    env, conninfo = _pg_env(url)
    with tempfile.TemporaryDirectory(prefix="pingan-restore-") as folder:  # 0700
        sql = Path(folder) / "restore.sql"
        _run(["pg_restore", "--no-owner", "--file", str(sql), str(source)], env)
        _run(["psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--single-transaction",
              "--command", drop, "--file", str(sql), "--dbname", conninfo], env)


def _dump_tables(source: Path) -> list[str]:
    """The tables of a pg_dump file, schema-qualified and quoted, from its table of contents
    (lines `ID; OID OID TABLE SCHEMA NAME OWNER`)."""
    listing = _run(["pg_restore", "--list", str(source)], dict(os.environ))
    entries = [line.split() for line in listing.splitlines() if not line.startswith(";")]
    # exactly 7 fields: not `TABLE DATA ...` nor `TABLE ATTACH ...`
    tables = [f'"{e[4]}"."{e[5]}"' for e in entries if len(e) == 7 and e[3] == "TABLE"]
    if not tables:
        raise BackupError(f"{source}: the backup holds no table")
    return tables


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError(f"{url}: an in-memory database has nothing to back up")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"{source}: no such database file")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # page by page, consistent, while other connections write


def _check_kind(source: Path, magic: bytes, kind: str) -> None:
    try:
        with source.open("rb") as f:
            head = f.read(len(magic))
    except OSError as exc:
        raise BackupError(f"{source}: cannot read: {exc.strerror}") from None
    if head != magic:
        raise BackupError(f"{source}: not a {kind} backup, and database.url is {kind}")


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} not found: install postgresql-client of the server's major version")


def _pg_env(url: URL) -> tuple[dict[str, str], str]:
    """The environment (password in PGPASSWORD) and the connection URI without the password."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return env, url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run_pg_tool(url: URL, command: list[str]) -> None:
    tool = command[0]
    _require(tool)
    env, conninfo = _pg_env(url)
    _run([*command, conninfo], env)


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout
