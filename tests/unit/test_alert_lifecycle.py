"""Alert lifecycle: acknowledge / on_site / resolve with audit trail, ack expiry, service levels,
snapshot and restore across a restart (what fell due meanwhile fires late), deadline heap, codes."""

from __future__ import annotations

import json

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.actions import AlertAckExpired, AlertResolved, AlertState, Outcome, Reason
from alerts.codes import CODE_ALPHABET, alert_id, short_code
from alerts.config import AlertsConfig, RulesConfig
from alerts.deadlines import ACK, DEVICE, RESIDENT, Deadlines
from alerts.engine import Engine, UnknownAlert
from devices import DeviceKind


def sos_driver() -> tuple[Driver, str]:
    drv = Driver.start()
    drv.event("cat-0001", "sos", T0 + 10)
    return drv, drv.opened("sos")[0].id


def test_ack_on_site_resolve_audit_and_service_levels() -> None:
    drv, aid = sos_driver()
    drv.record(drv.engine.acknowledge(aid, "wang", "sms", T0 + 40))
    drv.engine.mark_notified(aid, T0 + 12)
    drv.record(drv.engine.on_site(aid, "wang", "web", T0 + 1200))
    [res] = [a for a in drv.record(drv.engine.resolve(aid, "assisted", "wang", "sms", T0 + 2000)) if isinstance(a, AlertResolved)]
    alert = res.alert
    assert [(t.state, t.by, t.channel) for t in alert.transitions] == [
        (AlertState.OPEN, "system", "rules"),
        (AlertState.ACKNOWLEDGED, "wang", "sms"),
        (AlertState.ON_SITE, "wang", "web"),
        (AlertState.RESOLVED, "wang", "sms"),
    ]
    assert alert.outcome is Outcome.ASSISTED
    assert alert.service_levels() == {"to_first_message_s": 2.0, "to_ack_s": 30.0, "to_on_site_s": 1190.0, "to_resolve_s": 1990.0}
    with pytest.raises(UnknownAlert):
        drv.engine.acknowledge(aid, "wang", "sms", T0 + 3000)


def test_ack_is_idempotent() -> None:
    drv, aid = sos_driver()
    assert len(drv.engine.acknowledge(aid, "wang", "sms", T0 + 40)) == 1
    assert drv.engine.acknowledge(aid, "wang", "sms", T0 + 50) == []


def test_ack_expiry_resumes_escalation() -> None:
    drv, aid = sos_driver()
    drv.record(drv.engine.acknowledge(aid, "wang", "sms", T0 + 40))
    drv.advance_to(T0 + 40 + 45 * 60 - 1)
    assert drv.of_type(AlertAckExpired) == []
    drv.advance_to(T0 + 40 + 45 * 60)
    [expired] = drv.of_type(AlertAckExpired)
    assert expired.alert.state is AlertState.OPEN and expired.reason is Reason.ACK_EXPIRED
    assert expired.alert.transitions[-1].channel == "ack_expiry"


def test_on_site_stops_ack_expiry() -> None:
    drv, aid = sos_driver()
    drv.record(drv.engine.acknowledge(aid, "wang", "sms", T0 + 40))
    drv.record(drv.engine.on_site(aid, "wang", "sms", T0 + 600))
    drv.advance_to(T0 + 4 * 3600)
    assert drv.of_type(AlertAckExpired) == []


def test_snapshot_restore_across_restart_fires_what_fell_due_late() -> None:
    reg = registry([resident()], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)])
    drv = Driver.start(reg)
    drv.heartbeats_every("cat-0001", T0, T0 + 600)
    drv.event("cat-0001", "sos", T0 + 620)
    aid = drv.opened("sos")[0].id
    drv.record(drv.engine.acknowledge(aid, "wang", "sms", T0 + 630))
    saved = json.loads(json.dumps(drv.engine.snapshot()))  # JSON round trip, as the hub stores it
    # the hub is down for 3 hours, then rebuilds the engine from the stored state
    engine = Engine(reg, RulesConfig(), AlertsConfig())
    engine.restore(saved)
    assert [a.id for a in engine.open_alerts()] == [aid]
    assert engine.next_deadline() is not None and engine.next_deadline() <= T0 + 600 + 900  # type: ignore[operator]
    actions = engine.tick(T0 + 3 * 3600)
    offline = [a for a in actions if getattr(a, "alert", None) is not None and a.alert.kind == "device_offline"]  # type: ignore[union-attr]
    assert offline and offline[0].alert.late  # type: ignore[union-attr]
    assert any(isinstance(a, AlertAckExpired) for a in actions)
    assert json.dumps(engine.snapshot(), sort_keys=True)  # still JSON-able


def test_snapshot_restore_is_lossless() -> None:
    drv, _ = sos_driver()
    snap = drv.engine.snapshot()
    engine = Engine(drv.engine._ctx.index.snapshot, RulesConfig(), AlertsConfig())
    engine.restore(json.loads(json.dumps(snap)))
    assert engine.snapshot() == json.loads(json.dumps(snap))


def test_restore_replaces_what_the_engine_held() -> None:
    """Restoring into an engine that already ran keeps no alert or deadline of its own."""
    saved = json.loads(json.dumps(Driver.start().engine.snapshot()))
    drv, aid = sos_driver()
    drv.record(drv.engine.acknowledge(aid, "wang", "sms", T0 + 40))  # arms an ack-expiry deadline too
    drv.engine.restore(saved)
    assert drv.engine.open_alerts() == []
    assert drv.engine.snapshot() == saved


def test_removed_device_clears_its_alerts() -> None:
    drv = Driver.start()
    drv.heartbeat("cat-0001", T0 + 10, battery=10)
    assert drv.open_alerts("low_battery")
    reg = drv.engine._ctx.index.snapshot
    drv.record(drv.engine.set_registry(registry([resident()], [])))
    assert drv.open_alerts() == [] and reg is not drv.engine._ctx.index.snapshot


def test_deadlines_order_and_lazy_invalidation() -> None:
    deadlines = Deadlines()
    deadlines.arm(DEVICE, "b", 10)
    deadlines.arm(DEVICE, "a", 10.5)
    deadlines.arm(RESIDENT, "a", 10)
    deadlines.arm(ACK, "z", 10)
    deadlines.arm(DEVICE, "c", 5)
    deadlines.arm(DEVICE, "c", 20)  # re-armed later: the old entry is skipped
    deadlines.arm_earlier(DEVICE, "b", 15)  # not earlier: ignored
    deadlines.disarm(DEVICE, "zz")
    assert deadlines.peek() == 10
    deadlines.arm(DEVICE, "d", 9.5)  # earlier than the second already loaded
    popped = [deadlines.pop_due(100) for _ in range(7)]
    # by time, then kind (acks, devices, residents), then id: the same order on every run
    assert popped == [(9.5, DEVICE, "d"), (10, ACK, "z"), (10, DEVICE, "b"), (10, RESIDENT, "a"), (10.5, DEVICE, "a"),
                      (20, DEVICE, "c"), None]


def test_deadlines_many_rearms_compact_and_keep_the_latest() -> None:
    deadlines = Deadlines()
    for n in range(5000):  # stale bucket entries pile up and are compacted away
        deadlines.arm(DEVICE, f"dev-{n % 10}", 1000 + n)
    deadlines.disarm(DEVICE, "dev-0")
    assert len(deadlines) == 9
    assert deadlines.items()[0] == ("d:dev-1", 5991)
    fired = [deadlines.pop_due(10_000) for _ in range(10)]
    assert fired == [(5990 + n, DEVICE, f"dev-{n}") for n in range(1, 10)] + [None]


def test_deadlines_restore_from_saved_keys() -> None:
    deadlines = Deadlines()
    deadlines.restore({"r:r-1": 30.0, "d:cat-1": 20.0, "a:al-1": 30.0})
    assert deadlines.items() == [("a:al-1", 30.0), ("d:cat-1", 20.0), ("r:r-1", 30.0)]
    assert deadlines.get(DEVICE, "cat-1") == 20.0 and deadlines.has(ACK, "al-1") and not deadlines.has(DEVICE, "r-1")
    assert [deadlines.pop_due(25), deadlines.pop_due(25)] == [(20.0, DEVICE, "cat-1"), None]
    assert [deadlines.pop_due(30), deadlines.pop_due(30)] == [(30.0, ACK, "al-1"), (30.0, RESIDENT, "r-1")]


def test_deadlines_kept_in_the_engines_states() -> None:
    """Devices' and residents' wanted times are the `due` slot of their state: no table entry
    of the deadlines' own; an id with no state is not armed, a fired one is cleared."""
    from alerts.state import DeviceState, ResidentState

    devices = {"cat-1": DeviceState(), "cat-2": DeviceState()}
    residents = {"r-1": ResidentState()}
    deadlines = Deadlines({DEVICE: devices, RESIDENT: residents})
    deadlines.arm(DEVICE, "cat-2", 10)
    deadlines.arm(DEVICE, "cat-1", 10)
    deadlines.arm(RESIDENT, "r-1", 10)
    deadlines.arm(ACK, "al-1", 10)
    deadlines.arm(DEVICE, "gone", 5)  # no state: nothing to judge
    assert devices["cat-1"].due == 10 and residents["r-1"].due == 10 and not deadlines.has(DEVICE, "gone")
    assert len(deadlines) == 4 and deadlines.items() == [("a:al-1", 10), ("d:cat-1", 10), ("d:cat-2", 10), ("r:r-1", 10)]
    deadlines.arm(DEVICE, "cat-2", 12)  # the stale entry at 10 is skipped
    assert [deadlines.pop_due(11) for _ in range(4)] == [(10, ACK, "al-1"), (10, DEVICE, "cat-1"), (10, RESIDENT, "r-1"), None]
    assert devices["cat-1"].due is None and residents["r-1"].due is None and devices["cat-2"].due == 12
    del devices["cat-2"]  # the engine forgot the device: its deadline goes with its state
    assert deadlines.pop_due(100) is None and deadlines.peek() is None


def test_deadlines_restore_into_states_drops_ids_without_state() -> None:
    from alerts.state import DeviceState, ResidentState

    devices, residents = {"cat-1": DeviceState()}, {"r-1": ResidentState()}
    deadlines = Deadlines({DEVICE: devices, RESIDENT: residents})
    deadlines.arm(DEVICE, "cat-1", 99)
    deadlines.restore({"r:r-1": 30.0, "d:cat-9": 20.0, "a:al-1": 30.0, "r:r-9": 1.0})
    assert deadlines.items() == [("a:al-1", 30.0), ("r:r-1", 30.0)] and devices["cat-1"].due is None
    assert [deadlines.pop_due(30) for _ in range(3)] == [(30.0, ACK, "al-1"), (30.0, RESIDENT, "r-1"), None]


def test_codes_are_deterministic_and_readable() -> None:
    aid = alert_id("r-0001", "sos", "", 1764124800.0)
    assert aid == alert_id("r-0001", "sos", "", 1764124800.0)
    assert aid != alert_id("r-0001", "sos", "", 1764124801.0)
    code = short_code(aid)
    assert len(code) == 4 and set(code) <= set(CODE_ALPHABET) and not set("0O1IL") & set(CODE_ALPHABET)
    assert short_code(aid, {code}) != code
