"""Who is asking: board logins (argon2 passwords, server-side sessions), API bearer tokens,
roles, CSRF, and the login throttle.

Roles are ordered viewer < operator < admin; every route names the least role it needs
(`page_user(services, Role.OPERATOR)`, `api_user(sessions, Role.VIEWER)`). The session cookie
(signed by Starlette's SessionMiddleware with `http.secret_key`) holds a random session id, a
per-session CSRF token and flash messages; the login itself is the server-side record that id
names (`hub.access.open_session`), checked on every request with the user's current role, so
logout, disabling a user, a role change or a password reset end it at once. Sessions also end
after `http.session_idle` without use and `http.session_lifetime` after login.

The login throttle (`LoginThrottle`) counts failures in the database, shared by every hub: per
(account, client address), so failures from elsewhere never lock the real user out, and per
client address over all accounts, which a success does not reset, so one valid account cannot
launder a password sprayer's counts. It runs on the injected clock (tests drive it without
sleeping); slowapi/limits would bring their own storage and wall clock.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request
from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from dashboards.scope import grids_of
from hub import access
from hub.clock import Clock
from hub.storage.models import LoginFailure

if TYPE_CHECKING:
    from dashboards.app import WebServices

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
    grids: frozenset[str] | None = None  # the grids this user may see; None: all (dashboards/scope.py)


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


# --- credentials (users and tokens live in hub.access) ------------------------------------


def check_password(session: Session, name: str, password: str) -> Principal | None:
    """The user if `password` matches its argon2 hash; None for unknown or disabled users and wrong passwords."""
    user = access.verify_password(session, name, password)
    if user is None:
        return None
    session.commit()  # verify_password may have upgraded the hash's parameters
    role = Role.parse(user.role)
    return Principal(user.name, role, "session", grids_of(session, user.scope)) if role else None


def check_token(session: Session, token: str) -> Principal | None:
    """The API token's holder if `token` is known and not revoked."""
    found = access.authenticate_token(session, token)
    role = Role.parse(found[1]) if found else None
    if not (found and role):
        return None
    return Principal(found[0], role, "token", grids_of(session, access.token_scope(session, token)))


SESSION_KEY = "sid"  # the cookie's key for the session id


@dataclass(frozen=True)
class BoardSessions:
    """Board logins as server-side records: open at login, checked on every request, ended at logout."""

    sessions: sessionmaker[Session]
    clock: Clock
    idle_s: float
    lifetime_s: float

    @classmethod
    def of(cls, services: WebServices) -> BoardSessions:
        http = services.config.http
        return cls(services.sessions, services.clock, http.session_idle.total_seconds(), http.session_lifetime.total_seconds())

    def principal(self, request: Request) -> Principal | None:
        token = request.session.get(SESSION_KEY)
        return self.principal_of(token) if isinstance(token, str) else None

    def principal_of(self, token: str) -> Principal | None:
        """The session's user with their current role, or None once the session has ended."""
        with self.sessions.begin() as session:
            user = access.session_user(session, token, self.clock.now(), self.idle_s, self.lifetime_s)
            role = Role.parse(user.role) if user else None
            return Principal(user.name, role, "session", grids_of(session, user.scope)) if user and role else None

    def login(self, request: Request, name: str) -> None:
        """A fresh cookie session (new CSRF token: no fixation) naming a new server-side session."""
        now = self.clock.now()
        with self.sessions.begin() as session:
            access.sweep_sessions(session, now, self.lifetime_s)
            token = access.open_session(session, name, now)
        request.session.clear()
        request.session[SESSION_KEY] = token

    def logout(self, request: Request) -> None:
        token = request.session.get(SESSION_KEY)
        if isinstance(token, str):
            with self.sessions.begin() as session:
                access.end_session(session, token, self.clock.now(), "logout")
        request.session.clear()


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


def page_user(services: WebServices, least: Role) -> Callable[[Request], Principal]:
    """Dependency for HTML routes: redirect to /login when nobody is logged in, 403 below `least`."""
    board = BoardSessions.of(services)

    def dependency(request: Request) -> Principal:
        principal = board.principal(request)
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
    """Failed logins per (account, address) and per address in a fixed window, in the database.

    `max_failures` failures of one account from one address, or `address_max_failures` from one
    address over all accounts, within `window_s` of that key's first failure, and that key waits
    for its window to end. IPv6 addresses count per /64 (one host holds a whole /64). Rows of
    ended windows are deleted as new failures come in, and past `max_rows` the oldest go first,
    so a flood of addresses cannot grow the table without bound.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        max_failures: int = 5,
        address_max_failures: int = 20,
        window_s: float = 900.0,
        max_rows: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._max = max_failures
        self._address_max = address_max_failures
        self._window = window_s
        self._max_rows = max_rows

    def blocked(self, account: str, address: str) -> bool:
        pair, addr = _keys(account, address)
        cutoff = self._clock.now() - self._window
        with self._sessions() as session:
            rows = dict(session.execute(
                select(LoginFailure.key_hash, LoginFailure.failures)
                .where(LoginFailure.key_hash.in_((pair, addr)), LoginFailure.window_start > cutoff)
            ).tuples().all())
        return rows.get(pair, 0) >= self._max or rows.get(addr, 0) >= self._address_max

    def failed(self, account: str, address: str) -> None:
        now = self._clock.now()
        cutoff = now - self._window
        with self._sessions.begin() as session:
            for key in _keys(account, address):
                _count_failure(session, key, now, cutoff)
            session.execute(delete(LoginFailure).where(LoginFailure.window_start <= cutoff))
            excess = int(session.scalar(select(func.count()).select_from(LoginFailure)) or 0) - self._max_rows
            if excess > 0:
                oldest = select(LoginFailure.key_hash).order_by(LoginFailure.window_start).limit(excess).scalar_subquery()
                session.execute(delete(LoginFailure).where(LoginFailure.key_hash.in_(oldest)))
                log.warning("login throttle full: dropped the %d oldest counters", excess)

    def succeeded(self, account: str, address: str) -> None:
        """Clear this account's count at this address only: never the address's own count."""
        pair, _addr = _keys(account, address)
        with self._sessions.begin() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key_hash == pair))


def _keys(account: str, address: str) -> tuple[str, str]:
    """Hashed, so a user name typed into the password field is not kept in clear."""
    where = _address_key(address)
    pair = hashlib.sha256(f"pair\0{account}\0{where}".encode()).hexdigest()
    return pair, hashlib.sha256(f"addr\0{where}".encode()).hexdigest()


def _address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _count_failure(session: Session, key: str, now: float, cutoff: float) -> None:
    """One more failure for `key`, atomically (hubs share the table): a new window when the old one ended."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    expired = LoginFailure.window_start <= cutoff
    statement = insert(LoginFailure).values(key_hash=key, failures=1, window_start=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=[LoginFailure.key_hash],
        set_={
            "failures": case((expired, 1), else_=LoginFailure.failures + 1),
            "window_start": case((expired, now), else_=LoginFailure.window_start),
        },
    ))
