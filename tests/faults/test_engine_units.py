"""Engine state per unit in the database (issue 18): a decision writes the units it changed in its
own transaction, a restarted hub continues with exactly the engine that stopped, and a database
holding an old full snapshot is upgraded to units once on start. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, select
from web.conftest import make_config
from web.seed import DEVICES, NOW, Feeder, import_registry

from hub.clock import VirtualClock
from hub.rules.runtime import ENGINE_STATE_KEY
from hub.storage import models as m
from hub.storage.engine_units import META
from pingan.wiring import Hub, build_hub

START = NOW - 3600


def _hub(db_url: str, at: float = START) -> Hub:
    from hub.dispatch.providers.console import ConsoleProvider

    return build_hub(make_config(db_url), clock=VirtualClock(at), provider=ConsoleProvider(echo=False))


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    hub = _hub(db_url)
    import_registry(hub.sessions)
    hub.core.load()
    yield hub
    for engine in hub.engines:
        engine.dispose()


def _rows(hub: Hub) -> dict[str, str]:
    with hub.sessions() as s:
        return dict(s.execute(select(m.EngineUnit.unit, m.EngineUnit.data).where(m.EngineUnit.scope == ENGINE_STATE_KEY)).all())


def _restarted(hub: Hub, db_url: str) -> Hub:
    fresh = _hub(db_url, hub.clock.now())
    fresh.core.load()
    return fresh


def snap(hub: Hub) -> str:
    assert hub.core.engine is not None
    return json.dumps(hub.core.engine.snapshot(), sort_keys=True)


def test_an_sos_writes_only_its_residents_unit_with_the_alert(hub: Hub) -> None:
    feed = Feeder(hub)
    feed.deliver(START + 60, [feed.message(START + 60, d, "heartbeat", battery=90) for d in ("cat-0001", "cat-0002", "cat-0003")])
    feed.at(START + 75)  # the spaced save of what the first tick armed
    before = _rows(hub)
    assert "r-0001" in before and META in before
    feed.deliver(START + 90, [feed.message(START + 90, "cat-0002", "event", type="sos")], tick=False)
    after = _rows(hub)
    changed = {unit for unit in after if after[unit] != before.get(unit)}
    assert changed == {"r-0002"}  # the meta row waits for the next interval save
    assert json.loads(after["r-0002"])["a"][0]["kind"] == "sos"
    assert 0 < hub.core.saved_bytes < 3000  # one resident's row, not the community


def test_an_alarm_after_a_flood_is_saved_alone_and_a_crash_then_loses_nothing(hub: Hub, db_url: str) -> None:
    feed = Feeder(hub)
    feed.at(START + 75)  # the spaced save: the meta row and its event watermark
    flood_at = START + 76  # within the save interval: every resident's unit left changed, not saved
    feed.deliver(flood_at, [feed.message(flood_at, d, "heartbeat", battery=80) for d in DEVICES], tick=False)
    before = _rows(hub)
    feed.deliver(flood_at + 0.5, [feed.message(flood_at + 0.5, "cat-0002", "event", type="sos")], tick=False)
    after = _rows(hub)
    assert {unit for unit in after if after[unit] != before.get(unit)} == {"r-0002"}
    assert hub.core.engine is not None and hub.core.engine.take_dirty() >= {"r-0001", "r-0003", "r-0004"}
    hub.core.engine.mark_dirty(["r-0001", "r-0003", "r-0004"])
    restarted = _restarted(hub, db_url)  # a crash: nothing more was saved
    # The other residents' heartbeats are fed again; the SOS unit is not (no second alert). The
    # engine's clock and its diagnostic counters are the meta row's, of the last interval save.
    assert _units_of(restarted) == _units_of(hub)
    with hub.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Alert).where(m.Alert.kind == "sos")) == 1
    for engine in restarted.engines:
        engine.dispose()


def _units_of(hub: Hub) -> dict[str, object]:
    assert hub.core.engine is not None
    state = hub.core.engine.snapshot()
    return {key: value for key, value in state.items() if key not in ("now", "counters")}


def test_a_restarted_hub_continues_with_the_same_engine(hub: Hub, db_url: str) -> None:
    feed = Feeder(hub)
    feed.deliver(START + 60, [feed.message(START + 60, "cat-0001", "event", type="sos"),
                              feed.message(START + 61, "cat-0002", "heartbeat", battery=10)])
    with hub.sessions() as s:
        code = s.scalars(select(m.Alert.id).where(m.Alert.kind == "sos")).one()
    hub.core.acknowledge(code, "wang", "web")  # every alert change is saved at once
    restarted = _restarted(hub, db_url)
    assert snap(restarted) == snap(hub)
    for h in (hub, restarted):  # the same deadlines fire the same way after the restart
        h.clock.set(START + 4 * 3600)
        h.core.tick()
    assert snap(restarted) == snap(hub)
    for engine in restarted.engines:
        engine.dispose()


def test_an_old_full_snapshot_is_upgraded_once(hub: Hub, db_url: str) -> None:
    feed = Feeder(hub)
    feed.deliver(START + 60, [feed.message(START + 60, "cat-0003", "event", type="sos")])
    assert hub.core.engine is not None
    old = {"engine": hub.core.engine.snapshot(), "last_event_id": 10**9}
    with hub.sessions.begin() as s:  # the database as a hub before issue 18 left it
        s.execute(delete(m.EngineUnit))
        s.add(m.EngineState(key=ENGINE_STATE_KEY, data=old, updated_at=START))
    restarted = _restarted(hub, db_url)
    assert snap(restarted) == snap(hub)
    with hub.sessions() as s:
        assert s.get(m.EngineState, ENGINE_STATE_KEY) is None
        units = s.scalar(select(func.count()).select_from(m.EngineUnit).where(m.EngineUnit.scope == ENGINE_STATE_KEY))
    assert units == len(_rows(hub)) and "r-0003" in _rows(hub)
    for engine in restarted.engines:
        engine.dispose()


def test_a_clean_stop_saves_what_changed_so_the_next_start_feeds_nothing_again(hub: Hub, db_url: str) -> None:
    feed = Feeder(hub)
    feed.deliver(START + 60, [feed.message(START + 60, "cat-0001", "heartbeat", battery=90)], tick=False)
    feed.deliver(START + 60.5, [feed.message(START + 60.5, "cat-0002", "heartbeat", battery=85)], tick=False)

    def watermark() -> tuple[int, int]:
        with hub.sessions() as s:
            saved = json.loads(s.scalar(select(m.EngineUnit.data).where(m.EngineUnit.scope == ENGINE_STATE_KEY,
                                                                        m.EngineUnit.unit == META)) or "{}")
            return saved.get("last_event_id", 0), s.scalar(select(func.max(m.Event.id))) or 0

    saved_id, newest = watermark()
    assert saved_id < newest  # the second heartbeat came within the save interval: not saved yet
    hub.core.save_state()  # what Hub.stop does once ingestion has drained
    assert watermark() == (newest, newest)
    restarted = _restarted(hub, db_url)
    assert snap(restarted) == snap(hub)
    for engine in restarted.engines:
        engine.dispose()


def test_units_are_written_as_they_read_back(hub: Hub) -> None:
    """The rows go to the driver as they are (hub/storage/engine_units.py; on PostgreSQL as text[]
    literals): quotes, backslashes, braces, commas and other scripts come back unchanged, in place of
    the rows they update; None deletes."""
    from hub.storage.engine_units import read_units, write_units

    tricky = {"r": {"note": 'she said "ok", {then} \\ left', "name": "王奶奶", "empty": "", "nul": None}, "t": {}}
    with hub.sessions.begin() as s:
        write_units(s, "test", {"r-a": {"x": 1}, "r-b": tricky, 'r-"c,{}': {"y": [1.5, "\\\\"]}})
    with hub.sessions.begin() as s:
        write_units(s, "test", {"r-a": {"x": 2}, "r-gone": None})
    with hub.sessions() as s:
        assert dict(read_units(s, "test")) == {"r-a": {"x": 2}, "r-b": tricky, 'r-"c,{}': {"y": [1.5, "\\\\"]}}
