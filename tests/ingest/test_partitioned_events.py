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


@pytest.mark.parametrize("partitioned", [False, True], ids=["one-hub", "scale-out"])
def test_ids_follow_arrival_with_or_without_a_stored_duplicate(sessions, partitioned: bool) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL copies a batch straight into events, and on a stored duplicate rolls back to a
    # savepoint and takes the staging path: either way the rows keep arrival order, and the
    # transaction goes on after the rollback.
    parts = {"tag-0001": 3} if partitioned else None
    assert store(sessions, [gps(5, NOW + 5, NOW), gps(3, NOW + 3, NOW), gps(4, NOW + 4, NOW)], parts) == {
        ("tag-0001", 5, NOW + 5), ("tag-0001", 3, NOW + 3), ("tag-0001", 4, NOW + 4)}
    with sessions.begin() as session:
        assert insert_events(session, [gps(7, NOW + 7, NOW), gps(3, NOW + 3, NOW + 1), gps(6, NOW + 6, NOW)],
                             parts) == {("tag-0001", 7, NOW + 7), ("tag-0001", 6, NOW + 6)}
        assert insert_events(session, [gps(8, NOW + 8, NOW)], parts) == {("tag-0001", 8, NOW + 8)}
    assert [seq for seq, _ in placed(sessions)] == [5, 3, 4, 7, 6, 8]


def test_a_batch_with_an_alarm_skips_the_direct_copy(sessions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The critical lane has usually stored the alarm already: the main session's batch holding it
    # goes straight to the path that skips a stored duplicate, without a COPY refused first.
    from hub.ingest import store as store_module

    def sos(seq: int) -> DeviceMessage:
        msg = interpret(f"{ROOT}/dev/tag-0001/event", json.dumps({"seq": seq, "ts": NOW + seq, "type": "sos"}).encode(), NOW)
        assert isinstance(msg, DeviceMessage)
        return msg

    assert store(sessions, [sos(1)]) == {("tag-0001", 1, NOW + 1)}
    copies: list[int] = []
    real = store_module.pg_copy_events
    monkeypatch.setattr(store_module, "pg_copy_events", lambda s, n, rows: copies.append(len(rows)) or real(s, n, rows))
    assert store(sessions, [gps(2, NOW + 2, NOW), sos(1)]) == {("tag-0001", 2, NOW + 2)}
    assert store(sessions, [gps(3, NOW + 3, NOW)]) == {("tag-0001", 3, NOW + 3)}
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert copies == [1]  # only the batch without an alarm tried the direct COPY
    assert [seq for seq, _ in placed(sessions)] == [1, 2, 3]
