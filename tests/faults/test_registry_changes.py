"""The registry's change log (issue 18 item 5): a running hub adopts what another process
imported, and absences recorded on the board, entry by entry — never by reloading the whole
registry, which at a city's size holds the engine's lock for tens of seconds. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from web.conftest import make_config
from web.seed import NOW, REGISTRY, Feeder, import_registry

from hub.clock import VirtualClock
from hub.registry.changes import MAX_LISTED, changes_since, record_change
from hub.rules.runtime import REGISTRY_POLL_S
from hub.storage import models as m
from pingan.wiring import Hub, build_hub

START = NOW - 3600
NEWCOMER = """
residents:
  - {id: r-0100, name: 新居民, grid: xuanxin-g01, address: 宣信街1号, home: {lat: 45.7500, lon: 126.6450}}
devices:
  - {id: cat-0100, kind: pingan_cat, resident: r-0100, heartbeat_s: 3600}
"""


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    from hub.dispatch.providers.console import ConsoleProvider

    hub = build_hub(make_config(db_url), clock=VirtualClock(START), provider=ConsoleProvider(echo=False))
    import_registry(hub.sessions)
    hub.core.load()
    yield hub
    for engine in hub.engines:
        engine.dispose()


def _sos_alerts(hub: Hub, device: str) -> list[str]:
    feed = Feeder(hub)
    at = hub.clock.now() + 1
    feed.deliver(at, [feed.message(at, device, "event", type="sos")])
    with hub.sessions() as s:
        return list(s.scalars(select(m.Alert.resident_id).where(m.Alert.kind == "sos")))


def test_an_import_by_another_process_reaches_the_engine_entry_by_entry(hub: Hub) -> None:
    registry = hub.core.registry
    import_registry(hub.sessions, NEWCOMER)  # `pingan import` elsewhere: its own transaction
    hub.clock.set(START + REGISTRY_POLL_S + 1)
    hub.core.tick()
    assert hub.core.registry is registry  # adopted into the running engine, not reloaded
    assert registry.devices["cat-0100"].resident == "r-0100"
    assert _sos_alerts(hub, "cat-0100") == ["r-0100"]


def test_an_unchanged_import_logs_nothing_and_a_new_time_zone_reloads_everyone(hub: Hub) -> None:
    with hub.sessions() as s:
        seen = changes_since(s, 0).last
    import_registry(hub.sessions)  # the same file again: nothing changed
    with hub.sessions() as s:
        assert not changes_since(s, seen)
    registry = hub.core.registry
    import_registry(hub.sessions, REGISTRY.replace("Asia/Shanghai", "Asia/Harbin"))
    hub.clock.set(START + REGISTRY_POLL_S + 1)
    hub.core.tick()
    assert hub.core.registry is not registry  # a community's time zone reaches all its residents
    assert hub.core.registry.residents["r-0001"].timezone == "Asia/Harbin"


def test_an_absence_pauses_the_resident_without_a_reload_and_its_removal_ends_it(hub: Hub) -> None:
    registry = hub.core.registry
    absence = hub.core.add_absence("r-0001", START, START + 86400, "hospital", "wang")
    engine = hub.core.engine
    assert engine is not None and engine._ctx.absence_at("r-0001", START + 60) is not None
    hub.core.remove_absence(absence, "wang")
    assert engine._ctx.absence_at("r-0001", START + 60) is None
    assert hub.core.registry is registry
    with hub.sessions() as s:  # other hubs learn of both from the log
        assert changes_since(s, 0).residents >= {"r-0001"}


def test_a_change_too_large_to_list_asks_for_a_full_reload(hub: Hub) -> None:
    with hub.sessions.begin() as s:
        before = changes_since(s, 0).last
        record_change(s, [f"r-{i}" for i in range(MAX_LISTED + 1)])
    with hub.sessions() as s:
        pending = changes_since(s, before)
    assert pending.full and not pending.residents
