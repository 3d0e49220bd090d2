"""Findings 4 and 5 of issue 16: the session key never lives in the database, sessions are
server-side records, and logout, disabling, a role change and a password reset end them
(open /live streams too); idle and absolute timeouts on the virtual clock."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import inspect, select, text

from hub import access
from hub.storage.db import make_engine
from hub.storage.models import EngineState
from pingan.wiring import build_hub

from .web_kit import COOKIE, PASSWORD, SECRET, Web, csrf_of, forged_cookie, make_config


def _dump(web: Web, skip_events: bool = False) -> list[str]:
    """Every text value of every table: what a stolen backup holds. `skip_events` leaves out
    the device messages (and PostgreSQL's partitions of them), which hold nothing of a session."""
    values: list[str] = []
    engine = web.hub.engines[0]
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            if skip_events and table.startswith("events"):
                continue
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                values += [str(v) for v in row if v is not None]
    return values


def test_no_key_no_hub_and_nothing_stored(db_url: str) -> None:
    """Without http.secret_key the hub does not start (the demo makes its own, in memory)."""
    with pytest.raises(ValueError, match="secret_key"):
        build_hub(make_config(db_url, secret=None))
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(EngineState.key)).scalars().all() == []
    engine.dispose()


def test_the_demo_key_lives_in_memory_only(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pingan.demo import demo_config

    base = make_config(db_url, secret=None)
    first = demo_config(base, tmp_path, "mqtt://127.0.0.1:9", False, 8000).http.secret_key
    second = demo_config(base, tmp_path, "mqtt://127.0.0.1:9", False, 8000).http.secret_key
    assert first is not None and second is not None
    assert len(first.get_secret_value()) >= 32 and first.get_secret_value() != second.get_secret_value()


def test_a_forged_cookie_opens_nothing(web: Web) -> None:
    """Even with the key itself, a cookie naming a user is not a session; nor is anything a
    database dump holds about the sessions that are live."""
    admin = web.login("admin")
    assert admin.get("/audit", follow_redirects=False).status_code == 200
    assert SECRET not in " ".join(_dump(web))
    live_cookie = admin.cookies[COOKIE]
    candidates = [{"user": "admin"}, {"user": "admin", "csrf": "x"}]
    candidates += [{"sid": value} for value in sorted(set(_dump(web, skip_events=True))) if 16 <= len(value) <= 128]
    for data in candidates:
        forged = web.client()
        forged.cookies.set(COOKIE, forged_cookie(data))
        assert forged.get("/audit", follow_redirects=False).status_code == 303, data
    assert live_cookie not in " ".join(_dump(web))


def test_logout_ends_a_copied_cookie(web: Web) -> None:
    client = web.login("operator")
    copy = web.client()
    copy.cookies.set(COOKIE, client.cookies[COOKIE])
    assert copy.get("/", follow_redirects=False).status_code == 200
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    assert copy.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("change", ["disable", "set_role", "reset_password", "remove"])
def test_user_changes_end_that_users_sessions(web: Web, change: str) -> None:
    victim, bystander = web.login("operator"), web.login("viewer")
    now = web.clock.now()
    with web.sessions.begin() as session:
        if change == "disable":
            access.disable_user(session, "operator", now, "test")
        elif change == "set_role":
            access.set_role(session, "operator", "viewer", now, "test")
        elif change == "reset_password":
            access.reset_password(session, "operator", "another long password", now, "test")
        else:
            access.remove_user(session, "operator", now, "test")
    assert victim.get("/", follow_redirects=False).status_code == 303
    assert bystander.get("/", follow_redirects=False).status_code == 200


def test_idle_and_absolute_timeouts(web: Web) -> None:
    http = web.hub.config.http
    idle, lifetime = http.session_idle.total_seconds(), http.session_lifetime.total_seconds()
    client = web.login("viewer")
    web.clock.advance(idle - 60)
    assert client.get("/", follow_redirects=False).status_code == 200  # use keeps it alive
    web.clock.advance(idle + 1)
    assert client.get("/", follow_redirects=False).status_code == 303  # idle too long
    busy = web.login("viewer")
    started = web.clock.now()
    while web.clock.now() + idle / 2 < started + lifetime:
        web.clock.advance(idle / 2)
        assert busy.get("/", follow_redirects=False).status_code == 200
    web.clock.set(started + lifetime + 1)
    assert busy.get("/", follow_redirects=False).status_code == 303  # never longer than the lifetime


def test_an_open_live_stream_ends_with_its_session(db_url: str) -> None:
    """/live re-checks its session: a logout elsewhere, or a user disabled from the CLI (another
    process: nothing tells this one), ends the open stream."""
    from web.test_browser import LiveServer

    from .web_kit import build_web

    built = build_web(db_url)
    try:
        with LiveServer(built) as live:
            for how in ("logout", "disable"):
                with web_client(live.url) as client:
                    _login(client, "operator")
                    lines: list[str] = []
                    done = threading.Event()

                    def read(cookies: httpx.Cookies = client.cookies, lines: list[str] = lines, done: threading.Event = done) -> None:
                        with httpx.stream("GET", live.url + "/live", cookies=cookies, timeout=30) as stream:
                            for line in stream.iter_lines():
                                lines.append(line)
                        done.set()

                    reader = threading.Thread(target=read, daemon=True)
                    reader.start()
                    _wait(lambda lines=lines: "event: hello" in lines)
                    if how == "logout":
                        client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
                    else:
                        with built.sessions.begin() as session:
                            access.disable_user(session, "operator", built.clock.now(), "cli")
                    assert done.wait(built.hub.config.http.live_recheck_s + 10), f"/live still open after {how}"
                    assert "event: ended" in lines
                    with built.sessions.begin() as session:
                        access.enable_user(session, "operator", built.clock.now(), "cli")
    finally:
        built.close()


def web_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=30)


def _login(client: httpx.Client, user: str) -> None:
    csrf = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"username": user, "password": PASSWORD, "csrf": csrf}).status_code == 303


def _wait(condition, timeout_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError("condition not met in time")
