"""Finding 17: a rule that throws wedged the hub. When the engine raised on one stored event,
the batch writer stored it without the rules, the engine was marked stale, and every rebuild
replayed the event after the saved state and threw again: no decision, tick, board command or
SMS went through any more. Now the event is isolated: stored, recorded in `rule_failures`,
audited (`rule_failure`, on the board's audit page), logged and counted; the engine skips it
on every rebuild and restart, and goes on deciding the others. SQLite and PostgreSQL.

The one monkeypatch: a rule function that raises for one specific message (battery 13)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from web.conftest import make_config
from web.seed import NOW, Feeder, import_registry

import alerts.rules.battery as battery_rule
from hub.clock import VirtualClock
from hub.storage import models as m
from pingan.wiring import Hub, build_hub

POISON_BATTERY = 13
START = NOW - 3600


def _hub(db_url: str) -> Hub:
    from hub.dispatch.providers.console import ConsoleProvider

    return build_hub(make_config(db_url), clock=VirtualClock(START), provider=ConsoleProvider(echo=False))


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> None:
    original = battery_rule.on_battery

    def on_battery(ctx, device, level, at, now, late):  # type: ignore[no-untyped-def]
        if level == POISON_BATTERY:
            raise RuntimeError("rule bug: battery 13")
        return original(ctx, device, level, at, now, late)

    monkeypatch.setattr(battery_rule, "on_battery", on_battery)


@pytest.fixture
def hub(db_url: str, poisoned: None) -> Iterator[Hub]:
    hub = _hub(db_url)
    import_registry(hub.sessions)
    hub.core.load()
    yield hub
    for engine in hub.engines:
        engine.dispose()


def _alerts(hub: Hub) -> list[tuple[str | None, str]]:
    with hub.sessions() as s:
        return sorted((a.resident_id, a.kind) for a in s.scalars(select(m.Alert)))


def test_a_rule_that_raises_on_one_event_does_not_stop_the_others(
        hub: Hub, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    feed = Feeder(hub)
    at = START + 60
    with caplog.at_level(logging.ERROR, logger="pingan.core"):
        feed.deliver(at, [feed.message(at, "cat-0001", "heartbeat", battery=POISON_BATTERY),
                          feed.message(at + 1, "cat-0002", "event", type="sos")])
    assert _alerts(hub) == [("r-0002", "sos")]  # decided in the same batch as the poison
    assert any("rule_failure" in r.getMessage() for r in caplog.records)

    # Later messages, ticks and board commands go through: the engine is rebuilt without it.
    feed.deliver(at + 120, [feed.message(at + 120, "cat-0003", "event", type="sos")])
    assert _alerts(hub) == [("r-0002", "sos"), ("r-0003", "sos")]
    hub.core._stale = True  # any later failure rebuilds the engine from the database
    hub.core.tick()
    with hub.sessions() as s:
        sos = s.scalars(select(m.Alert).where(m.Alert.resident_id == "r-0003")).one()
        stored = s.scalars(select(m.Event).where(m.Event.device_id == "cat-0001")).all()
        failures = s.scalars(select(m.RuleFailure)).all()
        audits = s.scalars(select(m.Audit).where(m.Audit.action == "rule_failure")).all()
    hub.core.acknowledge(sos.id, "operator", "board")
    assert len(stored) == 1 and stored[0].battery == POISON_BATTERY  # the event is kept
    assert [(f.device_id, f.channel) for f in failures] == [("cat-0001", "heartbeat")]
    assert "battery 13" in failures[0].error
    assert len(audits) == 1 and audits[0].detail["device"] == "cat-0001"
    assert hub.metrics_registry is not None and hub.metrics_registry.get_sample_value("pingan_rule_failures") == 1

    # A restart replays what came after the saved state: the poison is skipped, not re-thrown.
    with hub.sessions.begin() as s:
        s.query(m.EngineState).delete()  # the worst case: everything is replayed
    restarted = _hub(db_url)
    try:
        restarted.clock.set(at + 300)
        restarted.core.load()
        feed2 = Feeder(restarted)
        feed2.seq.update(feed.seq)
        feed2.deliver(at + 300, [feed2.message(at + 300, "cat-0004", "event", type="sos")])
        assert ("r-0004", "sos") in _alerts(restarted)
    finally:
        for engine in restarted.engines:
            engine.dispose()
    with hub.sessions() as s:
        assert len(s.scalars(select(m.RuleFailure)).all()) == 1  # recorded once


def test_a_partition_isolates_the_event_and_rules_the_rest(db_url: str, poisoned: None) -> None:
    """Scale-out: a partition's owner rules stored events in `consume`; the poison is isolated
    there too, and the same round rules the others (no round fails)."""
    config = make_config(db_url)
    config = config.model_copy(update={"scale": config.scale.model_copy(update={"partitions": 2})})
    from hub.dispatch.providers.console import ConsoleProvider

    hub = build_hub(config, clock=VirtualClock(START), provider=ConsoleProvider(echo=False))
    try:
        import_registry(hub.sessions)
        hub.core.load()
        feed = Feeder(hub)
        at = START + 60
        hub.clock.set(at)
        assert hub.ingest.writer.write([feed.message(at, "cat-0001", "heartbeat", battery=POISON_BATTERY),
                                        feed.message(at, "cat-0002", "event", type="sos"),
                                        feed.message(at, "cat-0003", "event", type="sos")])
        hub.clock.advance(5)  # past the settle window
        assert hub.core.step() == 3
        assert _alerts(hub) == [("r-0002", "sos"), ("r-0003", "sos")]
        with hub.sessions() as s:
            assert s.scalar(select(sa.func.count()).select_from(m.Event).where(m.Event.ruled.is_(False))) == 0
            assert [f.device_id for f in s.scalars(select(m.RuleFailure))] == ["cat-0001"]
        assert hub.metrics_registry is not None and hub.metrics_registry.get_sample_value("pingan_rule_failures") == 1
    finally:
        for engine in hub.engines:
            engine.dispose()
