"""`pingan backup FILE` and `pingan restore FILE`: the whole database, open alerts and outbox included.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot page
by page while the hub keeps writing, so a backup needs no stop. PostgreSQL: `pg_dump` in its
custom format (a consistent snapshot too) and `pg_restore --clean --single-transaction`, so a
restore either replaces everything or nothing. The password, when the URL has one, goes to the
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
        _run_pg_tool(url, ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", str(source)],
                     database_flag="--dbname")
    upgrade(database_url)


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


def _run_pg_tool(url: URL, command: list[str], database_flag: str = "") -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} not found: install postgresql-client of the server's major version")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    target = [database_flag, conninfo] if database_flag else [conninfo]
    result = subprocess.run([*command, *target], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
