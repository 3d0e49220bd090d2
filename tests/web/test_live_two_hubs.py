"""Several hubs, one board: what hub A decides reaches the live streams of hub B's browsers,
through PostgreSQL LISTEN/NOTIFY (dashboards/live_bridge.py). Two hubs on one database; hub A
rules an SOS, hub B's live subscribers get the `alert` event; a session ended on hub B makes
hub A's streams re-check theirs; a hub does not hear its own events twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from dashboards.live import SESSION_EVENT, LiveEvent
from dashboards.live_bridge import PgLiveBus
from hub.clock import VirtualClock
from hub.dispatch.providers.console import ConsoleProvider
from pingan.wiring import Hub, build_hub
from web.conftest import make_config
from web.seed import NOW, Feeder, import_registry


@pytest.fixture
def two_hubs(pg_database: str) -> Iterator[tuple[Hub, Hub]]:
    from hub.storage.db import make_engine, reset_schema

    engine = make_engine(pg_database)
    reset_schema(engine)
    engine.dispose()
    hubs = [build_hub(make_config(pg_database), clock=VirtualClock(NOW), provider=ConsoleProvider(echo=False))
            for _ in range(2)]
    import_registry(hubs[0].sessions)
    for hub in hubs:
        assert isinstance(hub.bus, PgLiveBus)
        hub.core.load()
        hub.bus.start()
        assert hub.bus.listening.wait(10)
    yield hubs[0], hubs[1]
    for hub in hubs:
        hub.bus.stop()
        for e in hub.engines:
            e.dispose()


async def _collect(hub: Hub, act: object, until: str, timeout_s: float = 10.0) -> list[LiveEvent]:
    """Subscribe to `hub`'s bus, run `act` in a thread, gather events until one of kind `until`."""
    got: list[LiveEvent] = []
    async with hub.bus.subscribe() as queue:
        task = asyncio.get_running_loop().run_in_executor(None, act)  # type: ignore[arg-type]
        async with asyncio.timeout(timeout_s):
            while not got or got[-1].kind != until:
                got.append(await queue.get())
        await task
    return got


def test_an_alert_decided_by_one_hub_reaches_the_board_of_the_other(two_hubs: tuple[Hub, Hub]) -> None:
    a, b = two_hubs
    feed = Feeder(a)

    def sos_at_hub_a() -> None:
        feed.deliver(NOW + 60, [feed.message(NOW + 60, "cat-0002", "event", type="sos")])

    events = asyncio.run(_collect(b, sos_at_hub_a, until="alert"))
    assert events[-1].kind == "alert" and events[-1].data.get("id")
    with b.sessions() as session:
        from hub.storage import models as m

        assert session.get(m.Alert, events[-1].data["id"]).kind == "sos"


def test_a_session_ended_on_one_hub_rechecks_the_streams_of_the_other(two_hubs: tuple[Hub, Hub]) -> None:
    a, b = two_hubs
    events = asyncio.run(_collect(a, lambda: b.bus.publish(SESSION_EVENT), until=SESSION_EVENT))
    assert [e.kind for e in events] == [SESSION_EVENT]


def test_a_hub_hears_its_own_events_once(two_hubs: tuple[Hub, Hub]) -> None:
    a, b = two_hubs

    async def run() -> list[LiveEvent]:
        async with a.bus.subscribe() as queue:
            a.bus.publish("resident", {"id": "r-0001"})
            b.bus.publish("resident", {"id": "r-0002"})  # arrives through the database, after a's own
            got = [await asyncio.wait_for(queue.get(), 10) for _ in range(2)]
            await asyncio.sleep(1.0)  # a NOTIFY of a's own event would come back within this
            return got + [queue.get_nowait() for _ in range(queue.qsize())]

    events = asyncio.run(run())
    assert [e.data["id"] for e in events] == ["r-0001", "r-0002"]
