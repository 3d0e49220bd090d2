"""Who is asking: board logins (argon2 passwords, session cookie), API bearer tokens, roles, CSRF.

Roles are ordered viewer < operator < admin; every route names the least role it needs
(`page_user(Role.OPERATOR)`, `api_user(Role.VIEWER)`). The session cookie holds only the user
name and a per-session CSRF token (signed by Starlette's SessionMiddleware with itsdangerous);
the role is read from the database on every request, so deleting a user or changing a role
takes effect at once. Every POST form carries the CSRF token in a hidden `csrf` field.

Users and tokens are hub.access's (argon2 hashes, sha256 token hashes); this module decides
what each role may do on the web.

The login rate limit is hand-written (`LoginThrottle`, fifteen lines): it must run on the
injected clock so tests can drive it without sleeping, and it keys on both the client address
and the user name; slowapi/limits bring their own storage and wall clock for a problem this small.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import access
from hub.clock import Clock
from hub.storage.models import User

log = logging.getLogger(__name__)


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role | None:
        return cls.__members__.get(name.upper())


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: str  # "session" or "token"


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


# --- credentials (users and tokens live in hub.access) ------------------------------------


def check_password(session: Session, name: str, password: str) -> Principal | None:
    """The user if `password` matches its argon2 hash; None for unknown users and wrong passwords."""
    user = access.verify_password(session, name, password)
    if user is None:
        return None
    session.commit()  # verify_password may have upgraded the hash's parameters
    role = Role.parse(user.role)
    return Principal(user.name, role, "session") if role else None


def check_token(session: Session, token: str) -> Principal | None:
    """The API token's holder if `token` is known and not revoked."""
    found = access.authenticate_token(session, token)
    role = Role.parse(found[1]) if found else None
    return Principal(found[0], role, "token") if found and role else None


def session_principal(session: Session, request: Request) -> Principal | None:
    name = request.session.get("user")
    if not isinstance(name, str):
        return None
    user = session.scalar(select(User).where(User.name == name))
    role = Role.parse(user.role) if user else None
    return Principal(name, role, "session") if role else None


# --- CSRF -----------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """This session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """403 unless the POSTed form carries this session's CSRF token."""
    form = await request.form()
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        log.warning("csrf rejected path=%s client=%s", request.url.path, request.client.host if request.client else "")
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")


# --- dependencies ---------------------------------------------------------------------------


def page_user(sessions: sessionmaker[Session], least: Role) -> Callable[[Request], Principal]:
    """Dependency for HTML routes: redirect to /login when nobody is logged in, 403 below `least`."""

    def dependency(request: Request) -> Principal:
        with sessions() as session:
            principal = session_principal(session, request)
        if principal is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(path)
        if principal.role < least:
            raise HTTPException(403, f"needs role {least.name.lower()}")
        return principal

    return dependency


def api_user(sessions: sessionmaker[Session], least: Role) -> Callable[[Request], Principal]:
    """Dependency for /api routes: a bearer token (401 without a valid one, 403 below `least`)."""

    def dependency(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            with sessions() as session:
                principal = check_token(session, token.strip())
        if principal is None:
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if principal.role < least:
            raise HTTPException(403, f"needs role {least.name.lower()}")
        return principal

    return dependency


# --- login rate limit -----------------------------------------------------------------------


class LoginThrottle:
    """At most `max_failures` failed logins per client address and per user name in `window_s`."""

    def __init__(self, clock: Clock, max_failures: int = 5, window_s: float = 900.0) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, *keys: str) -> bool:
        now = self._clock.now()
        return any(len(self._recent(key, now)) >= self._max for key in keys)

    def failed(self, *keys: str) -> None:
        now = self._clock.now()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times
