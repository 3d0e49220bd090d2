"""The live board's notifications between hubs (dashboards/live_bridge.py) carry many events each:
a burst of board events crosses in a few `NOTIFY`s, each under PostgreSQL's 8,000 bytes, every
event arriving once and in order (each device's events in the order published, from several
threads); an event too large for a notification still arrives as `resync` in its place; a hub
skips its own notifications without parsing them; a hub of the previous format (one event a
notification) and this one still understand each other."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from dashboards.live import RESYNC, LiveEvent
from dashboards.live_bridge import CHANNEL, MAX_PAYLOAD, OUTGOING_MAX, PgLiveBus, libpq_url


@pytest.fixture
def conninfo(pg_database: str) -> str:
    return libpq_url(pg_database)


@pytest.fixture
def two_buses(conninfo: str) -> Iterator[tuple[PgLiveBus, PgLiveBus]]:
    buses = [PgLiveBus(conninfo, queue_size=5000) for _ in range(2)]
    for bus in buses:
        bus.start()
        assert bus.listening.wait(10)
    yield buses[0], buses[1]
    for bus in buses:
        bus.stop()


class Notifications:
    """Every payload on the channel, as a listener of the database sees it."""

    def __init__(self, conninfo: str) -> None:
        self.payloads: list[str] = []
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def collect(self, quiet_s: float = 1.0) -> list[str]:
        """Payloads until none came for `quiet_s`."""
        while True:
            got = [n.payload for n in self._conn.notifies(timeout=quiet_s)]
            if not got:
                return self.payloads
            self.payloads += got

    def close(self) -> None:
        self._conn.close()


async def _receive(bus: PgLiveBus, act: Callable[[], None], count: int, timeout_s: float = 20.0) -> list[LiveEvent]:
    got: list[LiveEvent] = []
    async with bus.subscribe() as queue:
        task = asyncio.get_running_loop().run_in_executor(None, act)
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                got.append(await queue.get())
        await task
    return got


def test_a_burst_crosses_in_a_few_notifications_every_event_once_and_in_order(
        two_buses: tuple[PgLiveBus, PgLiveBus], conninfo: str) -> None:
    a, b = two_buses
    listener = Notifications(conninfo)
    threads, per_thread = 4, 500

    def publish_from(thread: int) -> None:  # each thread owns its devices, like a partition's writer
        for i in range(per_thread):
            a.publish("device", {"device": f"d-{thread}-{i % 7}", "seq": i, "state": "online"})

    def burst() -> None:
        workers = [threading.Thread(target=publish_from, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    events = asyncio.run(_receive(b, burst, threads * per_thread))
    payloads = listener.collect()
    listener.close()

    assert all(e.kind == "device" for e in events)
    seen: dict[str, list[int]] = {}
    for e in events:
        seen.setdefault(e.data["device"], []).append(e.data["seq"])
    assert len(seen) == threads * 7
    for device, seqs in seen.items():  # every event once, each device's in the order published
        thread, rest = int(device.split("-")[1]), int(device.split("-")[2])
        assert seqs == [i for i in range(per_thread) if i % 7 == rest], (thread, device)
    # ~60 bytes an event: 2,000 events fill ~16 notifications; one a event would be 2,000
    assert len(payloads) <= 40, len(payloads)
    assert all(len(p.encode()) < MAX_PAYLOAD for p in payloads)
    assert (a.events_sent, a.notifications_sent) == (threads * per_thread, len(payloads))


def test_an_event_too_large_for_a_notification_arrives_as_resync_in_its_place(
        two_buses: tuple[PgLiveBus, PgLiveBus]) -> None:
    a, b = two_buses

    def publish() -> None:
        a.publish("alert", {"id": "a-1"})
        a.publish("alert", {"id": "a-2", "note": "x" * (MAX_PAYLOAD + 100)})
        a.publish("alert", {"id": "a-3"})

    events = asyncio.run(_receive(b, publish, 3))
    assert [(e.kind, e.data.get("id")) for e in events] == [("alert", "a-1"), (RESYNC, None), ("alert", "a-3")]


def test_payloads_fit_notify_and_are_all_distinct(conninfo: str) -> None:
    bus = PgLiveBus(conninfo)
    events = [("resident", {"resident": f"r-{i}", "note": "长者" * (i % 900)}) for i in range(400)]  # 3 bytes a character
    events.insert(17, ("alert", {"id": "big", "note": "x" * 9000}))
    first, second = bus.pack(events), bus.pack(events)
    payloads = first + second
    assert all(len(p.encode()) < MAX_PAYLOAD for p in payloads)
    assert len(set(payloads)) == len(payloads)  # PostgreSQL delivers identical payloads of a transaction once
    carried = [tuple(e) for p in payloads for e in json.loads(p)["e"]]
    expected = [(k, d) if k != "alert" else (RESYNC, {}) for k, d in events]
    assert carried == expected * 2
    # full: no two neighbours could have shared one notification
    sizes = [len(p.encode()) for p in first]
    assert len(sizes) > 10 and min(a + b for a, b in itertools.pairwise(sizes)) > MAX_PAYLOAD - 200


def test_a_hub_skips_its_own_notifications_without_parsing_them(conninfo: str, caplog: pytest.LogCaptureFixture) -> None:
    bus = PgLiveBus(conninfo)
    own = bus.pack([("device", {"device": "d-1"})])[0]

    async def run() -> list[LiveEvent]:
        async with bus.subscribe() as queue:
            with caplog.at_level(logging.WARNING, logger="pingan.live.bridge"):
                bus._take(own)
                bus._take(own[:60] + "not json at all")  # never parsed: no bad_payload warning
            await asyncio.sleep(0.05)
            return [queue.get_nowait() for _ in range(queue.qsize())]

    assert asyncio.run(run()) == [] and not caplog.records


def test_hubs_of_the_previous_format_and_this_one_understand_each_other(conninfo: str) -> None:
    bus = PgLiveBus(conninfo)
    old_hub = json.dumps({"o": "an-older-hub", "k": "alert", "d": {"id": "a-9"}}, separators=(",", ":"))

    async def run() -> list[LiveEvent]:
        async with bus.subscribe() as queue:
            bus._take(old_hub)
            return [await asyncio.wait_for(queue.get(), 5)]

    assert asyncio.run(run()) == [LiveEvent("alert", {"id": "a-9"})]
    # what an older hub's listener reads from this one's payload: a resync, so its boards reload
    new = json.loads(PgLiveBus(conninfo).pack([("alert", {"id": "a-1"}), ("device", {"device": "d-1"})])[0])
    assert (new["k"], new["d"]) == (RESYNC, {})


def test_events_beyond_the_outgoing_limit_are_dropped_with_a_warning(conninfo: str, caplog: pytest.LogCaptureFixture) -> None:
    bus = PgLiveBus(conninfo)  # not started: the database is "away", nothing is sent
    with caplog.at_level(logging.WARNING, logger="pingan.live.bridge"):
        for i in range(OUTGOING_MAX + 3):
            bus.publish("device", {"device": f"d-{i}"})
    assert [r.getMessage() for r in caplog.records] == ["live.notify_queue_full kind=device: dropped"] * 3
    taken = bus._take_batch()
    while len(taken) < OUTGOING_MAX and (more := bus._take_batch()):
        taken += more
    assert [d["device"] for _, d in taken] == [f"d-{i}" for i in range(OUTGOING_MAX)]  # the oldest kept, in order


def test_an_event_that_cannot_be_encoded_goes_as_resync_and_the_sender_carries_on(
        conninfo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboards import live_bridge

    encode = live_bridge._encode

    def failing(value: tuple[str, dict[str, object]]) -> bytes:
        if value[0] == "bad":
            raise TypeError("cannot")
        return encode(value)

    monkeypatch.setattr(live_bridge, "_encode", failing)
    payloads = PgLiveBus(conninfo).pack([("alert", {"id": "a-1"}), ("bad", {}), ("alert", {"id": "a-2"})])
    assert [tuple(e) for e in json.loads(payloads[0])["e"]] == [("alert", {"id": "a-1"}), (RESYNC, {}), ("alert", {"id": "a-2"})]
