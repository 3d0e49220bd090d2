"""`pingan serve` on a fresh database (it runs `db upgrade` itself): ops endpoints and the device API."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from conftest import Broker

from hub.access import create_token
from hub.storage.db import make_engine, make_sessions
from hub.storage.models import Community, Device, Grid, Resident
from ingest.helpers import METRICS_AUTH, Publisher, scalar, wait_until


def register(db_url: str) -> str:
    """One resident with a home unit; returns a viewer bearer token."""
    engine = make_engine(db_url)
    with make_sessions(engine).begin() as session:
        session.add(Community(id="xuanxin", name="宣信社区"))
        session.flush()
        session.add(Grid(id="xuanxin-g01", community_id="xuanxin", name="第一网格"))
        session.flush()
        session.add(Resident(id="r-0001", name="李奶奶", grid_id="xuanxin-g01", home_lat=45.75, home_lon=126.64))
        session.flush()
        session.add(Device(id="cat-0001", kind="pingan_cat", resident_id="r-0001", heartbeat_s=300))
        token = create_token(session, "monitoring", "viewer", time.time())
    engine.dispose()
    return token


def test_serve_migrates_ingests_and_answers_http(tmp_path: Path, broker: Broker, hub_factory) -> None:  # type: ignore[no-untyped-def]
    db_url = f"sqlite:///{tmp_path}/fresh.db"
    hub = hub_factory(broker, db_url, upgrade=True)
    hub.start()
    hub.wait_ready(60)
    token = register(db_url)
    auth = {"Authorization": f"Bearer {token}"}

    now = time.time()
    pub = Publisher(broker.port)
    pub.publish("pingan/v1/dev/cat-0001/status", b'{"state": "online"}')
    pub.publish("pingan/v1/dev/cat-0001/heartbeat", b'{"ts": %f, "seq": 1, "battery": 77, "fw": "1.4.2"}' % (now - 30))
    for seq in (2, 3, 4):
        pub.publish("pingan/v1/dev/cat-0001/event", b'{"ts": %f, "seq": %d, "type": "motion"}' % (now - 10 + seq, seq))
    pub.publish("pingan/v1/dev/cat-0001/event", b'{"type": 3}')
    pub.flush()
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM events") == 5
               and scalar(db_url, "SELECT count(*) FROM quarantine") == 1, 30, "messages stored")

    assert httpx.get(f"{hub.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{hub.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"broker": True, "database": True}

    assert httpx.get(f"{hub.url}/api/devices/cat-0001").status_code == 401
    assert httpx.get(f"{hub.url}/api/devices/cat-0001", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(f"{hub.url}/api/devices/ghost-01", headers=auth).status_code == 404
    device = httpx.get(f"{hub.url}/api/devices/cat-0001", headers=auth).json()
    assert device["kind"] == "pingan_cat"
    assert device["resident"] == {"id": "r-0001", "name": "李奶奶"}
    state = device["state"]
    assert (state["battery"], state["fw"], state["online"]) == (77, "1.4.2", True)
    assert abs(state["last_activity_at"] - (now - 6)) < 1e-3

    # Newest first by the time the rules use: the status has no ts, so its receive time (latest).
    events = httpx.get(f"{hub.url}/api/devices/cat-0001/events?limit=3", headers=auth).json()
    assert [(e["channel"], e["seq"]) for e in events] == [("status", None), ("event", 4), ("event", 3)]
    assert httpx.get(f"{hub.url}/api/devices/cat-0001/events?limit=0", headers=auth).status_code == 422

    metrics = httpx.get(f"{hub.url}/metrics", headers=METRICS_AUTH).text
    for line in ('pingan_ingest_messages_total{channel="event",result="stored"} 3.0',
                 'pingan_ingest_messages_total{channel="event",result="quarantined"} 1.0',
                 'pingan_ingest_quarantined_total{reason="wrong_type"} 1.0',
                 "pingan_mqtt_connected 1.0", "pingan_ingest_queue_depth 0.0",
                 "pingan_ingest_commit_seconds_count", "pingan_ingest_batch_size_count",
                 "pingan_ingest_clock_skew_total 0.0"):
        assert line in metrics, line

    broker.stop()
    wait_until(lambda: httpx.get(f"{hub.url}/readyz").status_code == 503, 30, "not ready without the broker")
    assert httpx.get(f"{hub.url}/readyz").json()["checks"]["broker"] is False
    assert "pingan_mqtt_connected 0.0" in httpx.get(f"{hub.url}/metrics", headers=METRICS_AUTH).text
    broker.start()
    hub.wait_ready(30)
    assert hub.stop() == 0
    pub.close()
    assert scalar(db_url, "SELECT count(*) FROM alembic_version") == 1
