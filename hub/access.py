"""Who may use the board and the API: users with argon2 password hashes, and bearer tokens.

A bearer token is shown once, when created; only its SHA-256 is stored, so a database dump
does not hand out API access. Tokens are revoked, not deleted, to keep the record.
Roles: admin (everything, including users), operator (handles alerts, edits the registry),
viewer (reads). The dashboards decide what each role may do; this module only says who is who.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from typing import Annotated, Literal, get_args

import typer
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.storage.models import ApiToken, User

Role = Literal["admin", "operator", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


class AccessError(ValueError):
    """A refused user or token operation, with a message for the operator."""


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


# --- users --------------------------------------------------------------------------------


def add_user(session: Session, name: str, role: str, password: str, now: float) -> User:
    """A new user; refuses an existing name, an unknown role or a short password."""
    _check_role(role)
    if not name.strip():
        raise AccessError("a user needs a name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise AccessError(f"user {name!r} exists already")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def verify_password(session: Session, name: str, password: str) -> User | None:
    """The user when the password is right, else None (unknown name or wrong password alike)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        _hasher.hash(password)  # same work for unknown names, so timing does not reveal them
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


# --- API tokens ---------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str, now: float) -> str:
    """A new bearer token for `name`; the caller shows it once, only its hash is stored."""
    _check_role(role)
    if not name.strip():
        raise AccessError("a token needs a name (who or what uses it)")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=token_hash(token), created_at=now))
    session.flush()
    return token


def authenticate_token(session: Session, token: str) -> tuple[str, str] | None:
    """(name, role) of a valid, unrevoked token, else None."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row.name, row.role


def revoke_tokens(session: Session, name: str, now: float) -> int:
    """Revoke every live token of `name`; returns how many."""
    rows = session.scalars(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = now
    return len(rows)


def revoke_token(session: Session, token: str, now: float) -> bool:
    """Revoke one token given its value; False when it is unknown or already revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


# --- commands -----------------------------------------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="Board users (admin, operator, viewer).")
tokens_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for machines using the API.")
RoleOption = Annotated[str, typer.Option("--role", "-r", help=f"one of {', '.join(ROLES)}")]




def _read_password() -> str:
    """From a prompt with confirmation on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


def _run(ctx: typer.Context, action):  # type: ignore[no-untyped-def]
    """Run `action(session, now)` in one transaction; an AccessError exits 2 with its message."""
    from hub.cli import load
    from hub.clock import SystemClock
    from hub.storage.db import make_engine, make_sessions

    engine = make_engine(load(ctx).database.url)
    session = make_sessions(engine)()
    try:
        result = action(session, SystemClock().now())
        session.commit()
        return result
    except AccessError as exc:
        session.rollback()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        session.close()
        engine.dispose()


@users_app.command("add")
def users_add(ctx: typer.Context, name: str, role: RoleOption = "operator") -> None:
    """Add a user; the password comes from a prompt, or from stdin when it is not a terminal."""
    _check_role_or_exit(role)
    password = _read_password()
    _run(ctx, lambda session, now: add_user(session, name, role, password, now))
    typer.echo(f"user {name} added with role {role}")


@tokens_app.command("create")
def tokens_create(ctx: typer.Context, name: str, role: RoleOption = "viewer") -> None:
    """Create a bearer token; it is printed once, as the last line, and only its hash is kept."""
    _check_role_or_exit(role)
    token = _run(ctx, lambda session, now: create_token(session, name, role, now))
    typer.echo(f"token for {name} with role {role} (shown only now; send it as 'Authorization: Bearer <token>'):")
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(ctx: typer.Context, name: str) -> None:
    """Revoke every token of NAME."""
    count = _run(ctx, lambda session, now: revoke_tokens(session, name, now))
    typer.echo(f"revoked {count} token(s) of {name}")


def _check_role_or_exit(role: str) -> None:
    try:
        _check_role(role)
    except AccessError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
