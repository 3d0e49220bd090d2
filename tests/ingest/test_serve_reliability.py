"""`pingan serve` as a subprocess against a real Mosquitto: restarts of the hub and of the broker lose nothing.

Every wait polls the database or the HTTP endpoint under a deadline; nothing sleeps for logic.
"""

from __future__ import annotations

import signal
import time

import pytest
from conftest import Broker

from ingest.helpers import Publisher, heartbeat, motion, scalar, seed_devices, wait_until

TOTAL = 10_000
DEVICES = [f"dev-{i:04d}" for i in range(100)]


def stream(start: int, stop: int, t0: float) -> list[tuple[str, bytes]]:
    """Messages with a unique seq each, spread over 100 devices, heartbeats and motion events."""
    make = (heartbeat, motion)
    return [make[i % 2](DEVICES[i % len(DEVICES)], i, t0 + i / 1000) for i in range(start, stop)]


def stored(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM events"))


def hub_sessions_ended(db_url: str) -> None:
    """Wait until the stopped hub's database sessions are gone: a COMMIT it sent just before a
    SIGKILL is still carried out by PostgreSQL's backend, after the process has died."""
    if db_url.startswith("postgresql"):
        others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        wait_until(lambda: scalar(db_url, others) == 0, 30, "the stopped hub's database sessions to end")


def assert_exactly_once(db_url: str) -> None:
    assert stored(db_url) == TOTAL
    assert scalar(db_url, "SELECT count(DISTINCT seq) FROM events") == TOTAL
    assert scalar(db_url, "SELECT min(seq) FROM events") == 0
    assert scalar(db_url, "SELECT max(seq) FROM events") == TOTAL - 1
    assert scalar(db_url, "SELECT count(*) FROM quarantine") == 0




@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_hub_stopped_mid_stream_then_restarted_stores_every_message_once(
    broker: Broker, db_url: str, hub_factory, sig: int  # type: ignore[no-untyped-def]
) -> None:
    seed_devices(db_url, DEVICES)
    hub = hub_factory(broker, db_url)
    hub.start()
    hub.wait_ready()
    pub = Publisher(broker.port)
    t0 = time.time() - 60
    first = stream(0, TOTAL // 2, t0)
    for topic, payload in first:
        pub.publish(topic, payload)
    wait_until(lambda: stored(db_url) >= 500, 60, "the hub to commit its first messages")
    code = hub.stop(sig)
    assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    hub_sessions_ended(db_url)
    at_stop = stored(db_url)
    # While the hub is down the broker keeps queueing for its persistent session.
    for topic, payload in stream(TOTAL // 2, TOTAL, t0):
        pub.publish(topic, payload)
    pub.flush()
    assert stored(db_url) == at_stop, "something was written while the hub was down"
    hub.start()
    wait_until(lambda: stored(db_url) >= TOTAL, 90, f"all {TOTAL} messages stored (log: {hub.log})")
    hub.wait_ready()
    assert_exactly_once(db_url)
    if sig == signal.SIGTERM:
        assert "writer stopped" in hub.log.read_text(), "SIGTERM did not drain the writer"
    pub.close()


def test_broker_restart_mid_stream_loses_nothing_and_the_hub_reconnects(
    broker: Broker, db_url: str, hub_factory  # type: ignore[no-untyped-def]
) -> None:
    seed_devices(db_url, DEVICES)
    hub = hub_factory(broker, db_url)
    hub.start()
    hub.wait_ready()
    pub = Publisher(broker.port)
    t0 = time.time() - 60
    for topic, payload in stream(0, TOTAL // 2, t0):
        pub.publish(topic, payload)
    pub.flush()
    wait_until(lambda: stored(db_url) >= 500, 60, "the hub to commit its first messages")
    broker.stop()  # Mosquitto saves sessions and queued messages to its persistence file
    wait_until(lambda: not hub.ready(), 30, "readiness to turn false while the broker is down")
    broker.start()
    hub.wait_ready(60)
    wait_until(pub.client.is_connected, 30, "the publisher to reconnect")
    for topic, payload in stream(TOTAL // 2, TOTAL, t0):
        pub.publish(topic, payload)
    pub.flush()
    wait_until(lambda: stored(db_url) >= TOTAL, 90, f"all {TOTAL} messages stored (log: {hub.log})")
    assert_exactly_once(db_url)
    assert hub.stop() == 0
    pub.close()
