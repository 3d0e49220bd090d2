"""Partitioned rules on a virtual clock, in one process: two "hubs" (two PartitionedCores on one
database) splitting one recorded day message by message like a round-robin shared subscription,
decide the same alerts as `replay --offline`; a hub that dies mid-day is taken over without a
lost or doubled alert or message; the wall clock jumping forward fires what fell due, once.

Real SQLite and PostgreSQL (`db_url`); no broker: messages are stored the way the ingestion
writer stores them (`store.insert_events` with the partition map)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from devices import DeviceMessage, interpret
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.dispatcher import Dispatcher
from hub.ingest import store
from hub.registry.file import load_registry_file, to_snapshot
from hub.registry.importer import import_document, known_ids
from hub.registry.snapshot import load_snapshot
from hub.rules.partitions import CONSUME_BATCH, PartitionedCore, partition_of
from hub.rules.replay import run_offline
from hub.rules.runtime import Outputs
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions

from .conftest import REPO

PARTITIONS = 4
STEP_EVERY_S = 900.0  # virtual seconds between scheduler rounds (a quarter hour: deadline alerts fire late by that much at most)


def hub_config(db_url: str, name: str) -> Config:
    data = yaml.safe_load((REPO / "hub" / "default_config.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": db_url}
    data["mqtt"]["client_id"] = name
    data["scale"] = {"partitions": PARTITIONS, "lease": "10m"}
    return Config.model_validate(data)


def import_registry(sessions: Any, recording: Path) -> None:
    with sessions.begin() as session:
        import_document(session, load_registry_file(Path(f"{recording}.registry.yaml"), known_ids(session)))


def recording_lines(recording: Path) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, recording.read_text().splitlines()) if "topic" in line]


def ingest(sessions: Any, hub: PartitionedCore, lines: list[dict[str, Any]]) -> None:
    """What the ingestion writer does with one batch of messages received by `hub`."""
    if not lines:
        return
    messages = [interpret(line["topic"], line["payload"].encode(), line["t"], "pingan/v1") for line in lines]
    valid = [msg for msg in messages if isinstance(msg, DeviceMessage)]
    assert len(valid) == len(messages), [msg for msg in messages if not isinstance(msg, DeviceMessage)]
    with sessions.begin() as session:
        partitions = hub.map.partitions(session, {msg.device_id for msg in valid})
        store.insert_events(session, valid, partitions)


def windows(lines: list[dict[str, Any]], every_s: float) -> list[list[dict[str, Any]]]:
    """The recording cut into the stretches between two scheduler rounds."""
    out: list[list[dict[str, Any]]] = [[]]
    end = lines[0]["t"] + every_s
    for line in lines:
        if line["t"] >= end:
            out.append([])
            end = line["t"] + every_s
        out[-1].append(line)
    return out


def run_day(lines: list[dict[str, Any]], clock: VirtualClock, hubs_at: Any) -> None:
    """Deliver the day round robin to the hubs alive at each moment, in batches, with a
    scheduler round of every live hub between batches."""
    sessions = None
    for window in windows(lines, STEP_EVERY_S):
        hubs = hubs_at(window[0]["t"])
        sessions = hubs[0].sessions
        for k, hub in enumerate(hubs):
            clock.set(window[-1]["t"])
            ingest(sessions, hub, window[k :: len(hubs)])
        for hub in hubs:
            hub.step()


def final_round(clock: VirtualClock, hubs: list[PartitionedCore]) -> None:
    """The scheduler round after the last message has settled: a hub rules an event only once
    it is `scale.settle_ms` old (and ticks its deadlines only that far), so the round at the
    time of the last message leaves it waiting; a running hub takes it a settle window later."""
    clock.advance(hubs[0].config.scale.settle_ms / 1000)
    for hub in hubs:
        hub.step()


def alert_set(sessions: Any) -> set[tuple[Any, ...]]:
    with sessions() as session:
        return {(a.kind, a.resident_id, a.device_id, a.outcome) for a in session.scalars(select(m.Alert))}


def offline(recording: Path, config: Config) -> set[tuple[Any, ...]]:
    # The hubs here have no responder either: nobody closes an SOS in either (hub/rules/replay.py).
    result = run_offline(recording, to_snapshot(load_registry_file(Path(f"{recording}.registry.yaml"))), config, responder_after_s=None)
    return {(a.kind.value, a.resident, a.device, a.outcome.value if a.outcome else None) for a in result.alerts}


def make_hub(db_url: str, name: str, clock: VirtualClock) -> PartitionedCore:
    sessions = make_sessions(make_engine(db_url, writer=True))
    config = hub_config(db_url, name)
    dispatcher = Dispatcher(_policy(config))
    return PartitionedCore(config, sessions, clock, Outputs(dispatcher=dispatcher))


def _policy(config: Config) -> Any:
    from alerts.escalation import EscalationPolicy

    return EscalationPolicy(config.escalation, config.volunteers)


def test_two_hubs_decide_like_offline_replay(db_url: str, day_recording: Path) -> None:
    lines = recording_lines(day_recording)
    clock = VirtualClock(lines[0]["t"])
    hubs = [make_hub(db_url, "hub-a", clock), make_hub(db_url, "hub-b", clock)]
    sessions = hubs[0].sessions
    import_registry(sessions, day_recording)
    for hub in hubs:
        hub.load()
    run_day(lines, clock, lambda _t: hubs)
    final_round(clock, hubs)
    owned = [set(h.owned) for h in hubs]
    print(f"\npartitions owned at the end: a={sorted(owned[0])} b={sorted(owned[1])}")
    assert owned[0] | owned[1] == set(range(PARTITIONS)) and not owned[0] & owned[1]
    assert owned[0] and owned[1], "the partitions are shared"

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Event).where(m.Event.ruled.is_(False))) == 0
        assert session.scalar(select(func.count()).select_from(m.Event)) == len(lines)
    expected = offline(day_recording, hubs[0].config)
    got = alert_set(sessions)
    print(f"alerts: partitioned={len(got)} offline={len(expected)}")
    assert got == expected
    assert len(expected) >= 6


def test_a_dead_hub_is_taken_over_without_lost_or_doubled_alerts(db_url: str, day_recording: Path) -> None:
    lines = recording_lines(day_recording)
    clock = VirtualClock(lines[0]["t"])
    a, b = make_hub(db_url, "hub-a", clock), make_hub(db_url, "hub-b", clock)
    sessions = a.sessions
    import_registry(sessions, day_recording)
    a.load()
    b.load()
    dies_at = lines[len(lines) // 2]["t"]
    # b dies at noon: no release, its leases are simply not renewed any more
    run_day(lines, clock, lambda t: [a, b] if t < dies_at else [a])
    final_round(clock, [a])
    assert sorted(a.owned) == list(range(PARTITIONS)), "a took over b's partitions after their leases expired"
    expected = offline(day_recording, a.config)
    assert alert_set(sessions) == expected
    with sessions() as session:
        per_alert = session.execute(
            select(m.Notification.alert_id, m.Notification.phone, m.Notification.step, func.count())
            .where(m.Notification.purpose == "alert")
            .group_by(m.Notification.alert_id, m.Notification.phone, m.Notification.step)
        ).all()
    doubled = [row for row in per_alert if row[3] > 1]
    print(f"\noutbox rows: {len(per_alert)} doubled: {len(doubled)}")
    assert per_alert and not doubled


def test_wall_clock_jump_fires_due_deadlines_once(db_url: str, day_recording: Path) -> None:
    """The clock steps forward 8 hours with no message (NTP correction, a VM resumed): the
    deadlines that fell due fire at the next round, once, and again nothing at the round after."""
    lines = recording_lines(day_recording)[:2000]
    clock = VirtualClock(lines[0]["t"])
    hub = make_hub(db_url, "hub-a", clock)
    import_registry(hub.sessions, day_recording)
    hub.load()
    run_day(lines, clock, lambda _t: [hub])
    final_round(clock, [hub])
    before = alert_set(hub.sessions)
    clock.advance(8 * 3600)
    hub.step()
    after_jump = alert_set(hub.sessions)
    hub.step()
    assert alert_set(hub.sessions) == after_jump
    opened = after_jump - before
    print(f"\nalerts before the jump: {len(before)}, opened by the jump: {len(opened)}")
    assert {kind for kind, *_ in opened} >= {"device_offline"}, opened
    with hub.sessions() as session:
        residents = {r for _k, r, *_ in opened}
        snapshot = load_snapshot(session, clock.now())
    assert all(partition_of(r, PARTITIONS) in hub.owned for r in residents if r in snapshot.residents)


def test_deadlines_wait_for_events_in_the_settle_window(db_url: str, day_recording: Path) -> None:
    """A device's heartbeat is stored half a second before its offline deadline and is still in
    the settle window when the scheduler's next round comes: the round must not fire the
    deadline ahead of the heartbeat (a false device_offline), but rule the heartbeat first."""
    lines = recording_lines(day_recording)
    clock = VirtualClock(lines[0]["t"])
    hub = make_hub(db_url, "hub-a", clock)
    import_registry(hub.sessions, day_recording)
    hub.load()
    device = "cat-0001"
    with hub.sessions() as session:
        period_s = hub.config.rules.offline_after_missed * load_snapshot(session, clock.now()).devices[device].heartbeat_s
    settle_s = hub.config.scale.settle_ms / 1000
    topic = f"pingan/v1/dev/{device}/heartbeat"

    def heartbeat(seq: int, at: float) -> dict[str, Any]:
        return {"topic": topic, "t": at, "payload": json.dumps({"ts": at, "seq": seq, "battery": 80, "rssi": -70})}

    start = clock.now()
    ingest(hub.sessions, hub, [heartbeat(1, start)])
    clock.set(start + settle_s)
    hub.step()
    heard_again = start + period_s - settle_s / 2
    ingest(hub.sessions, hub, [heartbeat(2, heard_again)])
    clock.set(start + period_s + settle_s / 5)  # the deadline passed; the heartbeat has not settled
    hub.step()
    clock.set(heard_again + settle_s)  # now it has
    hub.step()
    with hub.sessions() as session:
        offline = session.scalars(select(m.Alert).where(m.Alert.kind == "device_offline", m.Alert.device_id == device)).all()
        assert session.scalar(select(func.count()).select_from(m.Event).where(m.Event.ruled.is_(False))) == 0
    assert offline == [], "the device was declared offline although its heartbeat was stored in time"


def test_a_round_is_bounded_so_a_second_hub_gets_partitions_during_a_backlog(db_url: str, day_recording: Path) -> None:
    """Hub a owns every partition and faces a backlog of several batches per partition; hub b
    joins. Each round of a rules at most one batch per partition, so between rounds a renews
    and shares its leases: b gets its share while a's backlog is still being ruled, and the
    two finish it together with the same alerts as `replay --offline`."""
    lines = recording_lines(day_recording)
    clock = VirtualClock(lines[0]["t"])
    a, b = make_hub(db_url, "hub-a", clock), make_hub(db_url, "hub-b", clock)
    import_registry(a.sessions, day_recording)
    a.load()
    assert sorted(a.owned) == list(range(PARTITIONS))
    clock.set(lines[0]["t"])
    ingest(a.sessions, a, lines)  # the whole day stored at once: ~4 batches per partition
    clock.set(lines[-1]["t"] + a.config.scale.settle_ms / 1000)

    assert a.round() is True, "a backlog remains after one round"
    with a.sessions() as session:
        ruled = session.scalar(select(func.count()).select_from(m.Event).where(m.Event.ruled.is_(True)))
    assert ruled <= PARTITIONS * CONSUME_BATCH
    b.load()  # b says it is alive; it takes nothing yet: a holds every lease
    assert b.owned == []
    clock.advance(a.leases.lease_s / 3)  # a's next round renews and shares its leases
    a.round()
    b.round()
    print(f"\nafter 2 rounds of a: ruled={ruled} a={a.owned} b={b.owned}")
    assert len(b.owned) == PARTITIONS // 2 and not set(a.owned) & set(b.owned)
    while a.round() | b.round():
        pass
    final_round(clock, [a, b])
    with a.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Event).where(m.Event.ruled.is_(False))) == 0
    assert alert_set(a.sessions) == offline(day_recording, a.config)
