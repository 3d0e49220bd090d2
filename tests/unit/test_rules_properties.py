"""Hypothesis properties of the engine on random message streams and operator actions."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rules_kit import HOME, Driver, Zone, with_zones

from alerts.actions import AlertOpened, AlertResolved
from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import Engine

EVENTS = ["motion", "door_open", "door_close", "water_flow", "button", "sos", "sos_cancel", "fall", "smoke", "gas", "tamper", "odd"]

step = st.one_of(
    st.tuples(st.just("event"), st.sampled_from(["cat-0001", "tag-0001"]), st.sampled_from(EVENTS)),
    st.tuples(st.just("heartbeat"), st.sampled_from(["cat-0001", "tag-0001"]), st.integers(0, 100)),
    st.tuples(st.just("gps"), st.floats(-3000, 3000), st.floats(0, 200)),
    st.tuples(st.just("status"), st.sampled_from(["cat-0001", "tag-0001"]), st.sampled_from(["online", "offline"])),
    st.tuples(st.just("ack"), st.integers(0, 5), st.sampled_from(["ack", "on_site", "resolve"])),
)
script = st.lists(st.tuples(st.floats(0, 6 * 3600), st.booleans(), step), max_size=40)


def play(steps: list[tuple[float, bool, tuple[Any, ...]]], drv: Driver | None = None, settle: bool = True) -> Driver:
    drv = drv or Driver.start(with_zones(Zone("home", center=HOME, radius_m=500)))
    t = drv.now
    for gap, late, (what, *args) in steps:
        t += gap
        ts = t - 3 * 3600 if late else None
        if what == "event":
            drv.send(args[0], "event", {"type": args[1]}, t, ts)
        elif what == "heartbeat":
            drv.send(args[0], "heartbeat", {"battery": args[1]}, t, ts)
        elif what == "gps":
            drv.send("tag-0001", "gps", {"lat": HOME.lat + args[0] / 111_195, "lon": HOME.lon, "acc": args[1]}, t, ts)
        elif what == "status":
            drv.send(args[0], "status", {"state": args[1]}, t)
        else:
            # The operator acts on what the hub shows at t: bring the clock there before choosing.
            # (Choosing first made an ack depend on whether the engine had been ticked since the
            # last message — true after the restart, not in a run that never stopped.)
            drv.advance_to(t)
            alerts = drv.engine.open_alerts()
            if alerts:
                alert = alerts[args[0] % len(alerts)]
                op = {"ack": drv.engine.acknowledge, "on_site": drv.engine.on_site}.get(args[1])
                drv.record(op(alert.id, "p", "sms", t) if op else drv.engine.resolve(alert.id, "ok", "p", "sms", t))
        keys = [a.key for a in drv.engine.open_alerts()]
        assert len(keys) == len(set(keys)), keys
    drv.advance_to(t + 2 * 86400 if settle else t)
    return drv


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script)
def test_never_two_open_alerts_for_one_key(steps: list[tuple[float, bool, tuple[Any, ...]]]) -> None:
    drv = play(steps)
    open_by_key: dict[tuple[str, str, str], str] = {}
    for action in drv.actions:
        if isinstance(action, AlertOpened):
            assert action.alert.key not in open_by_key
            open_by_key[action.alert.key] = action.alert.id
        elif isinstance(action, AlertResolved):
            assert open_by_key.pop(action.alert.key) == action.alert.id


@settings(max_examples=100, deadline=None)
@given(script, st.sampled_from(["motion", "door_close", "water_flow", "button"]))
def test_any_activity_clears_an_open_inactivity_alert(steps: list[tuple[float, bool, tuple[Any, ...]]], event: str) -> None:
    drv = play(steps)
    drv.event("cat-0001", event, drv.now + 1)
    assert drv.open_alerts("inactivity") == []


@settings(max_examples=50, deadline=None)
@given(script)
def test_same_input_same_actions_and_snapshot(steps: list[tuple[float, bool, tuple[Any, ...]]]) -> None:
    a, b = play(steps), play(steps)
    assert repr(a.actions) == repr(b.actions)
    assert json.dumps(a.engine.snapshot(), sort_keys=True) == json.dumps(b.engine.snapshot(), sort_keys=True)
    restored = Engine(a.engine._ctx.index.snapshot, RulesConfig(), AlertsConfig())
    restored.restore(json.loads(json.dumps(a.engine.snapshot())))
    assert restored.snapshot() == json.loads(json.dumps(a.engine.snapshot()))



@settings(max_examples=60, deadline=None)
@given(script, script)
def test_restart_mid_stream_changes_nothing(
    before: list[tuple[float, bool, tuple[Any, ...]]], after: list[tuple[float, bool, tuple[Any, ...]]]
) -> None:
    """Snapshot, rebuild from JSON, continue: the same end state as an engine that never stopped."""
    straight = play(before + after)
    first = play(before, settle=False)
    restarted = Engine(first.engine._ctx.index.snapshot, RulesConfig(), AlertsConfig())
    restarted.restore(json.loads(json.dumps(first.engine.snapshot())))
    resumed = play(after, Driver(restarted, now=first.now))
    assert json.dumps(resumed.engine.snapshot(), sort_keys=True) == json.dumps(straight.engine.snapshot(), sort_keys=True)
