"""Users (argon2) and API bearer tokens (sha256 stored), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from hub.access import (
    AccessError,
    add_user,
    authenticate_token,
    create_token,
    revoke_token,
    revoke_tokens,
    verify_password,
)
from hub.storage.db import make_engine, make_sessions
from hub.storage.models import ApiToken, User
from pingan.cli import app

ROOT = Path(__file__).parents[2]


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    engine = make_engine(db_url)
    with make_sessions(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text((ROOT / "hub" / "default_config.yaml").read_text(encoding="utf-8").replace("sqlite:///pingan.db", db_url), encoding="utf-8")
    return path


def test_password_is_hashed_with_argon2_and_verifies(session: Session) -> None:
    add_user(session, "alice", "admin", "correct horse", now=10.0)
    session.commit()
    stored = session.scalars(select(User)).one()
    assert stored.password_hash.startswith("$argon2id$") and "correct horse" not in stored.password_hash
    user = verify_password(session, "alice", "correct horse")
    assert user is not None and user.role == "admin"
    assert verify_password(session, "alice", "wrong horse") is None
    assert verify_password(session, "bob", "correct horse") is None


def test_user_refusals(session: Session) -> None:
    add_user(session, "alice", "viewer", "long enough", now=1.0)
    with pytest.raises(AccessError, match="exists already"):
        add_user(session, "alice", "viewer", "long enough", now=1.0)
    with pytest.raises(AccessError, match="unknown role 'root'"):
        add_user(session, "carol", "root", "long enough", now=1.0)
    with pytest.raises(AccessError, match="at least 8"):
        add_user(session, "dave", "viewer", "short", now=1.0)


def test_token_is_stored_only_as_its_hash_and_authenticates(session: Session) -> None:
    token = create_token(session, "grafana", "viewer", now=5.0)
    session.commit()
    assert len(token) >= 43
    row = session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.name, row.token_hash)
    assert authenticate_token(session, token) == ("grafana", "viewer")
    assert authenticate_token(session, token + "x") is None
    assert authenticate_token(session, "") is None


def test_revoked_tokens_no_longer_authenticate(session: Session) -> None:
    first = create_token(session, "bot", "operator", now=1.0)
    second = create_token(session, "bot", "operator", now=2.0)
    other = create_token(session, "other", "viewer", now=3.0)
    assert revoke_token(session, first, now=4.0)
    assert not revoke_token(session, first, now=5.0), "already revoked"
    assert authenticate_token(session, first) is None
    assert authenticate_token(session, second) == ("bot", "operator")
    assert revoke_tokens(session, "bot", now=6.0) == 1
    assert authenticate_token(session, second) is None
    assert authenticate_token(session, other) == ("other", "viewer")


def test_cli_users_add_reads_password_from_stdin(session: Session, config_file: Path) -> None:
    result = CliRunner().invoke(app, ["--config", str(config_file), "users", "add", "op1", "--role", "operator"], input="s3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert verify_password(session, "op1", "s3cret-pass") is not None
    again = CliRunner().invoke(app, ["--config", str(config_file), "users", "add", "op1", "--role", "operator"], input="s3cret-pass\n")
    assert again.exit_code == 2 and "exists already" in again.output
    bad_role = CliRunner().invoke(app, ["--config", str(config_file), "users", "add", "op2", "--role", "boss"], input="s3cret-pass\n")
    assert bad_role.exit_code == 2 and "unknown role 'boss'" in bad_role.output


def test_cli_tokens_create_prints_the_token_last(session: Session, config_file: Path) -> None:
    # A real subprocess: the token must be the last line of real stdout.
    result = subprocess.run(
        [sys.executable, "-m", "pingan", "--config", str(config_file), "tokens", "create", "ci-bot", "--role", "operator"],
        capture_output=True, text=True, check=True, cwd=ROOT, stdin=subprocess.DEVNULL,
    )
    token = result.stdout.strip().splitlines()[-1]
    assert authenticate_token(session, token) == ("ci-bot", "operator")
    revoked = CliRunner().invoke(app, ["--config", str(config_file), "tokens", "revoke", "ci-bot"])
    assert revoked.exit_code == 0 and "revoked 1 token(s)" in revoked.output
    session.expire_all()
    assert authenticate_token(session, token) is None
