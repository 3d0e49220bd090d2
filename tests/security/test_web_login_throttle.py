"""Finding 9 of issue 16: login throttling per (account, address) in a bounded store shared
through the database. Failures from elsewhere do not lock the real admin out; a success does
not wipe the counters a password sprayer builds up; two hubs see the same counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web.seed import OptedOut

from pingan.wiring import build_hub

from .web_kit import PASSWORD, Web, client_at, login, make_config


def test_failures_from_elsewhere_do_not_lock_the_admin_out(web: Web) -> None:
    attacker, admin = client_at(web, "203.0.113.7"), client_at(web, "198.51.100.20")
    for _ in range(5):
        assert login(attacker, "admin", "guess") == 401
    assert login(attacker, "admin", PASSWORD) == 429  # this account from this address: wait
    assert login(admin, "admin", PASSWORD) == 303  # the real admin, from their own address
    web.clock.advance(web.hub.config.http.login_window.total_seconds() + 1)
    assert login(client_at(web, "203.0.113.7"), "admin", PASSWORD) == 303


def test_a_valid_account_does_not_reset_a_sprayer(web: Web) -> None:
    """Two guesses at each of many names from one address, with the sprayer's own valid login
    in between: the address is stopped once it has failed `login_address_max_failures` times."""
    sprayer = client_at(web, "203.0.113.9")
    limit = web.hub.config.http.login_address_max_failures
    for attempt in range(limit):
        assert login(sprayer, f"user{attempt // 2}", "guess") == 401, attempt
        if attempt % 4 == 3 and attempt < limit - 1:
            assert login(client_at(web, "203.0.113.9"), "viewer", PASSWORD) == 303
    assert login(sprayer, "someone-else", "guess") == 429
    assert login(client_at(web, "198.51.100.20"), "someone-else", "guess") == 401  # other addresses unaffected


def test_counts_are_shared_by_hubs_on_one_database(web: Web, db_url: str) -> None:
    second = build_hub(make_config(db_url), clock=web.clock, provider=OptedOut())
    try:
        other = TestClient(second.app, base_url="http://127.0.0.1", client=("203.0.113.7", 50000))
        for _ in range(3):
            assert login(client_at(web, "203.0.113.7"), "operator", "guess") == 401
        for _ in range(2):
            assert login(other, "operator", "guess") == 401
        assert login(client_at(web, "203.0.113.7"), "operator", PASSWORD) == 429
        assert login(other, "operator", PASSWORD) == 429
    finally:
        for engine in second.engines:
            engine.dispose()


def test_the_store_is_bounded(web: Web) -> None:
    from dashboards.auth import LoginThrottle
    from hub.storage.models import LoginFailure

    throttle = LoginThrottle(web.sessions, web.clock, max_failures=5, address_max_failures=20, window_s=900, max_rows=50)
    for i in range(400):
        throttle.failed(f"name{i}", f"10.0.{i // 250}.{i % 250}")
    with web.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) <= 50
    web.clock.advance(901)
    throttle.failed("late", "10.9.9.9")  # expired windows are swept
    with web.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 2
