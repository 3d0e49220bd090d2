"""deploy/postgresql-setup.sql, run as shipped with psql (only the role and database names are
given, -v role=... -v db=..., so the test does not touch a real `pingan`): it can run twice,
`pingan db upgrade` then migrates as that role, which owns every table without being a
superuser, other roles cannot connect, and `pingan check-config --production` passes on
deploy/config.production.yaml pointed at it (as docs/DEPLOY.md runs it).

Here the role connects over TCP (this server trusts 127.0.0.1); production uses peer
authentication on the local socket, which cannot be shown without the `pingan` Unix user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN_URL, _pg_available, require
from ingest.helpers import REPO

from deploy.kit import DEPLOY

NAME = f"pingan_deploy_{os.getpid()}"
OTHER = f"{NAME}_other"


def psql(*args: str) -> subprocess.CompletedProcess[str]:
    url = sa.make_url(PG_ADMIN_URL)
    return subprocess.run(["psql", "-X", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U",
                           url.username or "postgres", "-v", "ON_ERROR_STOP=1", *args],
                          capture_output=True, text=True, timeout=60)


def pingan(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pingan", "--config", str(DEPLOY / "config.production.yaml"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, **env})


@pytest.fixture
def admin() -> Iterator[sa.Engine]:
    require(shutil.which("psql") is not None, "psql")
    require(_pg_available(), f"PostgreSQL at {PG_ADMIN_URL}")
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{NAME}"'))
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{OTHER}"'))
    engine.dispose()


def test_the_setup_gives_pingan_db_upgrade_what_it_needs_and_no_more(admin: sa.Engine) -> None:
    for _ in range(2):  # a second run changes nothing and does not fail
        out = psql("-v", f"role={NAME}", "-v", f"db={NAME}", "-f", str(DEPLOY / "postgresql-setup.sql"), "postgres")
        assert out.returncode == 0, out.stderr

    host = sa.make_url(PG_ADMIN_URL)
    url = f"postgresql+psycopg://{NAME}@{host.host}:{host.port or 5432}/{NAME}"
    out = pingan("db", "upgrade", PINGAN_DATABASE__URL=url)
    assert out.returncode == 0, out.stderr

    with admin.connect() as conn:
        role = conn.execute(sa.text("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :n"),
                            {"n": NAME}).one()
        assert tuple(role) == (False, False, False)
        conn.execute(sa.text(f'CREATE ROLE "{OTHER}" LOGIN'))
    db = sa.create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + NAME)
    with db.connect() as conn:
        owners = dict(conn.execute(sa.text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")).all())
    db.dispose()
    assert {"alembic_version", "events", "alerts", "residents", "users"} <= set(owners)
    assert set(owners.values()) == {NAME}

    other = sa.create_engine(url.replace(f"{NAME}@", f"{OTHER}@"))
    with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
        other.connect().close()
    other.dispose()

    out = pingan("check-config", "--production", PINGAN_DATABASE__URL=url, PINGAN_HTTP__SECRET_KEY="k" * 40,
                 PINGAN_SMS__TWILIO__AUTH_TOKEN="t" * 32)
    assert out.returncode == 0 and "ok for production" in out.stdout, out.stderr
    assert "not checked" not in out.stderr  # the database was read: residents and users checked
