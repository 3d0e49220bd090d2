"""Who may use the board and the API: users with argon2 password hashes, board sessions, and
bearer tokens.

A board session is a server-side record (`web_sessions`) keyed by the SHA-256 of a random id
that only the browser's cookie holds: a dump cannot be turned into a session, and a session can
be ended. Disabling a user, changing their role, resetting their password and removing them end
all of their sessions, and each of these is audited (`user.*`).

A bearer token is shown once, when created; only its SHA-256 is stored, so a database dump
does not hand out API access. Tokens are revoked, not deleted, to keep the record. A token
whose name is a user's name belongs to that user: it acts with at most the user's current
role, stops at once while the user is disabled, and is revoked when the user is disabled or
removed. Tokens with other names are machines' (`pingan tokens create NAME`).
Roles: admin (everything, including users), operator (handles alerts, edits the registry),
viewer (reads). The dashboards decide what each role may do; this module only says who is who.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.storage.models import ApiToken, Audit, Community, Grid, User, WebSession

Role = Literal["admin", "operator", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


class AccessError(ValueError):
    """A refused user or token operation, with a message for the operator."""


def check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


# --- users --------------------------------------------------------------------------------


def add_user(session: Session, name: str, role: str, password: str, now: float) -> User:
    """A new user; refuses an existing name, an unknown role or a short password."""
    check_role(role)
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
    """The user when the password is right and the user is enabled, else None (unknown name,
    wrong password and disabled user alike)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None or user.disabled_at is not None:
        _hasher.hash(password)  # same work for unknown names, so timing does not reveal them
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise AccessError(f"no user {name!r}")
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def _audit(session: Session, now: float, actor: str, action: str, name: str, channel: str, **detail: str) -> None:
    session.add(Audit(at=now, actor=actor, channel=channel, action=action, detail={"user": name, **detail}))


audit_user = _audit  # for callers that add their own user.* records (the board and API's user.add)


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave nobody able to administer the hub."""
    if user.role != "admin" or user.disabled_at is not None:
        return
    others = session.scalars(
        select(User.id).where(User.role == "admin", User.disabled_at.is_(None), User.id != user.id)
    ).first()
    if others is None:
        raise AccessError(f"{user.name!r} is the last enabled admin; make another admin first")


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def disable_user(session: Session, name: str, now: float, actor: str, channel: str = "cli") -> User:
    user = _user(session, name)
    _keep_an_admin(session, user)
    if user.disabled_at is None:
        user.disabled_at = now
    ended = end_user_sessions(session, name, now, "disable")
    revoked = revoke_tokens(session, name, now)
    _audit(session, now, actor, "user.disable", name, channel, sessions_ended=str(ended), tokens_revoked=str(revoked))
    return user


def enable_user(session: Session, name: str, now: float, actor: str, channel: str = "cli") -> User:
    user = _user(session, name)
    user.disabled_at = None
    _audit(session, now, actor, "user.enable", name, channel)
    return user


def set_role(session: Session, name: str, role: str, now: float, actor: str, channel: str = "cli") -> User:
    check_role(role)
    user = _user(session, name)
    if role != "admin":
        _keep_an_admin(session, user)
    before, user.role = user.role, role
    ended = end_user_sessions(session, name, now, "set_role")
    _audit(session, now, actor, "user.set_role", name, channel, before=before, after=role, sessions_ended=str(ended))
    return user


def set_scope(session: Session, name: str, scope: list[str] | None, now: float, actor: str, channel: str = "cli") -> User:
    """Limit NAME to these communities or grids (None: all); their sessions end, so the new
    boundary holds at once."""
    user = _user(session, name)
    user.scope = check_scope(session, scope)
    ended = end_user_sessions(session, name, now, "set_scope")
    _audit(session, now, actor, "user.set_scope", name, channel, scope=",".join(scope) if scope else "all",
           sessions_ended=str(ended))
    return user


def check_scope(session: Session, scope: list[str] | None) -> list[str] | None:
    """A scope's ids must each be a community or a grid: a typo would quietly hide everything."""
    if scope is None:
        return None
    ids = sorted({s.strip() for s in scope if s.strip()})
    if not ids:
        raise AccessError("a scope names at least one community or grid (or is 'all')")
    known = set(session.scalars(select(Grid.id).where(Grid.id.in_(ids))))
    known |= set(session.scalars(select(Community.id).where(Community.id.in_(ids))))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise AccessError(f"no community or grid {', '.join(unknown)}")
    return ids


def reset_password(session: Session, name: str, password: str, now: float, actor: str, channel: str = "cli") -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    user = _user(session, name)
    user.password_hash = _hasher.hash(password)
    ended = end_user_sessions(session, name, now, "reset_password")
    _audit(session, now, actor, "user.reset_password", name, channel, sessions_ended=str(ended))
    return user


def remove_user(session: Session, name: str, now: float, actor: str, channel: str = "cli") -> None:
    user = _user(session, name)
    _keep_an_admin(session, user)
    session.delete(user)
    ended = end_user_sessions(session, name, now, "remove")
    revoked = revoke_tokens(session, name, now)
    _audit(session, now, actor, "user.remove", name, channel, role=user.role, sessions_ended=str(ended),
           tokens_revoked=str(revoked))


# --- board sessions -----------------------------------------------------------------------

#: A session's `seen_at` is written at most this often: one write a minute, not one per request
#: (on SQLite every write takes the lock ingestion needs). Idle timeouts are minutes to hours.
SEEN_EVERY_S = 60.0


def session_hash(token: str) -> str:
    return hashlib.sha256(b"pingan.web-session\0" + token.encode()).hexdigest()


def open_session(session: Session, name: str, now: float) -> str:
    """A new session for `name`; returns the id for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=session_hash(token), user_name=name, created_at=now, seen_at=now))
    return token


def session_user(session: Session, token: str, now: float, idle_s: float, lifetime_s: float) -> User | None:
    """The enabled user of a live session, marking it used; None when the session is unknown,
    ended, idle longer than `idle_s`, older than `lifetime_s`, or its user is gone or disabled."""
    row = session.get(WebSession, session_hash(token))
    if row is None or row.ended_at is not None or now - row.seen_at > idle_s or now - row.created_at > lifetime_s:
        return None
    user = session.scalar(select(User).where(User.name == row.user_name))
    if user is None or user.disabled_at is not None:
        return None
    if now - row.seen_at >= SEEN_EVERY_S:
        row.seen_at = now
    return user


def end_session(session: Session, token: str, now: float, reason: str) -> None:
    row = session.get(WebSession, session_hash(token))
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = now, reason


def end_user_sessions(session: Session, name: str, now: float, reason: str) -> int:
    rows = session.scalars(select(WebSession).where(WebSession.user_name == name, WebSession.ended_at.is_(None))).all()
    for row in rows:
        row.ended_at, row.end_reason = now, reason
    return len(rows)


def sweep_sessions(session: Session, now: float, lifetime_s: float) -> int:
    """Delete sessions past their absolute lifetime (ended or not): the table stays small."""
    result = session.execute(delete(WebSession).where(WebSession.created_at < now - lifetime_s))
    return int(getattr(result, "rowcount", 0) or 0)


# --- API tokens ---------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str, now: float, scope: list[str] | None = None) -> str:
    """A new bearer token for `name` (limited to `scope`'s communities or grids, if given); the
    caller shows it once, only its hash is stored."""
    check_role(role)
    if not name.strip():
        raise AccessError("a token needs a name (who or what uses it)")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=token_hash(token), created_at=now,
                         scope=check_scope(session, scope)))
    session.flush()
    return token


def authenticate_token(session: Session, token: str) -> tuple[str, str] | None:
    """(name, role) of a valid, unrevoked token, else None. A user's token is refused while the
    user is disabled and acts with at most the user's current role."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    owner = session.scalar(select(User).where(User.name == row.name))
    if owner is None:
        return row.name, row.role
    if owner.disabled_at is not None:
        return None
    return row.name, lower_role(row.role, owner.role)


def lower_role(a: str, b: str) -> str:
    """The less powerful of two roles (ROLES runs from the most powerful down)."""
    return a if ROLES.index(a) >= ROLES.index(b) else b


def create_user_token(session: Session, name: str, now: float, actor: str, channel: str) -> str:
    """A bearer token that belongs to user `name` (its role follows theirs); audited."""
    user = _user(session, name)
    if user.disabled_at is not None:
        raise AccessError(f"user {name!r} is disabled")
    token = create_token(session, name, user.role, now, scope=user.scope)
    _audit(session, now, actor, "user.token_create", name, channel)
    return token


def revoke_user_tokens(session: Session, name: str, now: float, actor: str, channel: str) -> int:
    """Revoke every live token of user `name`; audited."""
    _user(session, name)
    revoked = revoke_tokens(session, name, now)
    _audit(session, now, actor, "user.token_revoke", name, channel, tokens_revoked=str(revoked))
    return revoked


def live_token_counts(session: Session) -> dict[str, int]:
    """Unrevoked tokens per name."""
    rows = session.execute(select(ApiToken.name).where(ApiToken.revoked_at.is_(None))).scalars()
    counts: dict[str, int] = {}
    for name in rows:
        counts[name] = counts.get(name, 0) + 1
    return counts


def token_scope(session: Session, token: str) -> list[str] | None:
    """The communities and grids a token is limited to (None: all). A user's token is limited as
    its user is now, when the user is limited (a later `set-scope` holds for their tokens too)."""
    row = session.execute(select(ApiToken.name, ApiToken.scope).where(ApiToken.token_hash == token_hash(token))).first()
    if row is None:
        return None
    owner = find_user(session, row.name)
    return owner.scope if owner is not None and owner.scope is not None else row.scope


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
