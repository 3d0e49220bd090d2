"""Ingestion's insert (hub/ingest/store.py) on SQLite and on PostgreSQL's partitioned `events`:
dedup stays exact when a redelivery is received on another day; a device clock in 1970 or
without a day partition lands in DEFAULT, stored; a message without ts behaves as before."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from devices import DeviceMessage, interpret
from hub.ingest.store import insert_events
from hub.storage.db import make_engine, make_sessions, reset_schema
from hub.storage.partitioning import gps_name, rest_name

DAY = 86400.0
NOW = 1_795_651_200.0 + 9 * 3600  # 2026-11-26 09:00 UTC; partitions exist for the 26th..28th
ROOT = "pingan/v1"


def gps(seq: int, ts: float | None, received_at: float, device: str = "tag-0001") -> DeviceMessage:
    body = {"seq": seq, "lat": 45.75, "lon": 126.64} | ({} if ts is None else {"ts": ts})
    msg = interpret(f"{ROOT}/dev/{device}/gps", json.dumps(body).encode(), received_at)
    assert isinstance(msg, DeviceMessage)
    return msg


def heartbeat(seq: int, ts: float, received_at: float) -> DeviceMessage:
    msg = interpret(f"{ROOT}/dev/tag-0001/heartbeat", json.dumps({"seq": seq, "ts": ts}).encode(), received_at)
    assert isinstance(msg, DeviceMessage)
    return msg


@pytest.fixture
def sessions(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url, writer=True)
    reset_schema(engine, NOW)
    yield make_sessions(engine)
    engine.dispose()


def store(sessions, messages: list[DeviceMessage], partitions: dict[str, int] | None = None) -> set:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        return insert_events(session, messages, partitions)


def placed(sessions) -> list[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    """(seq, table) of every stored event; the table is `events` on SQLite."""
    with sessions() as session:
        pg = session.get_bind().dialect.name == "postgresql"
        where = "tableoid::regclass::text" if pg else "'events'"
        return [tuple(r) for r in session.execute(text(f"SELECT seq, {where} FROM events ORDER BY id"))]


@pytest.mark.parametrize("partitioned", [False, True], ids=["one-hub", "scale-out"])
def test_a_redelivery_received_days_later_is_stored_once(sessions, partitioned: bool) -> None:  # type: ignore[no-untyped-def]
    parts = {"tag-0001": 3} if partitioned else None
    first = gps(1, NOW, NOW + 1)
    assert store(sessions, [first], parts) == {("tag-0001", 1, NOW)}
    # QoS 1 redeliveries: after a hub restart the next day, and in the same batch as a new fix
    assert store(sessions, [gps(1, NOW, NOW + DAY + 5)], parts) == set()
    assert store(sessions, [gps(1, NOW, NOW + 2 * DAY), gps(2, NOW + 60, NOW + 2 * DAY)], parts) == {
        ("tag-0001", 2, NOW + 60)}
    rows = placed(sessions)
    assert [seq for seq, _ in rows] == [1, 2]
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert {t for _, t in rows} == {gps_name(int(NOW // DAY))}


def test_odd_device_clocks_land_in_default_and_are_kept(sessions) -> None:  # type: ignore[no-untyped-def]
    odd = [gps(1, 0.0, NOW), gps(2, 4_102_444_800.0, NOW), gps(3, NOW + 10 * DAY, NOW)]  # 1970, 2100, no partition yet
    assert len(store(sessions, odd)) == 3
    assert store(sessions, [gps(1, 0.0, NOW + DAY)]) == set()  # dedup holds in DEFAULT too
    late = gps(4, NOW - 3 * DAY, NOW)  # buffered on the device: its day has no partition here
    beat = heartbeat(5, NOW, NOW)
    assert len(store(sessions, [late, beat])) == 2
    rows = placed(sessions)
    assert [seq for seq, _ in rows] == [1, 2, 3, 4, 5]
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert [t for _, t in rows] == ["events_gps_default"] * 4 + [rest_name(int(NOW // DAY))]


def test_messages_without_ts_are_stored_as_before(sessions) -> None:  # type: ignore[no-untyped-def]
    """No ts, no dedup key (NULL is never equal), on both databases as before partitioning;
    the partition day is the day it was received."""
    store(sessions, [gps(7, None, NOW)])
    store(sessions, [gps(7, None, NOW + DAY)])
    rows = placed(sessions)
    assert [seq for seq, _ in rows] == [7, 7]
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert [t for _, t in rows] == [gps_name(int(NOW // DAY)), gps_name(int(NOW // DAY) + 1)]


def test_the_same_seq_and_ts_on_another_channel(sessions) -> None:  # type: ignore[no-untyped-def]
    """The documented difference (docs/SCALE_OUT.md): PostgreSQL's dedup key holds the channel,
    so a device reusing (seq, ts) on another topic — not a redelivery — keeps both rows there."""
    store(sessions, [gps(9, NOW, NOW)])
    stored = store(sessions, [heartbeat(9, NOW, NOW)])
    pg = sessions.kw["bind"].dialect.name == "postgresql"
    assert stored == ({("tag-0001", 9, NOW)} if pg else set())
