"""Engine state saved per unit (a resident with their devices, or a device of nobody): after any
stream of messages, ticks and operator actions, the units the engine marked dirty — saved after
every step, as the hub does with every decision — rebuild exactly the engine that ran on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from rules_kit import T0, Driver, registry, resident
from test_rules_properties import play, script

from alerts.actions import Action
from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import Engine
from alerts.registry import Device
from devices import DeviceKind


@dataclass
class Store:
    """What the hub keeps in `engine_units`: one JSON row per unit, and the meta row."""

    rows: dict[str, str] = field(default_factory=dict)
    meta: str = ""

    def save(self, engine: Engine) -> None:
        for unit in engine.take_dirty():
            data = engine.unit_state(unit)
            if data is None:
                self.rows.pop(unit, None)
            else:
                self.rows[unit] = json.dumps(data)
        self.meta = json.dumps(engine.meta_state())

    def rebuild(self, engine: Engine) -> Engine:
        fresh = Engine(engine._ctx.index.snapshot, RulesConfig(), AlertsConfig())
        fresh.restore_units(json.loads(self.meta), ((u, json.loads(d)) for u, d in sorted(self.rows.items())))
        return fresh


class SavingDriver(Driver):
    store: Store

    def record(self, actions: list[Action]) -> list[Action]:
        out = super().record(actions)
        self.store.save(self.engine)  # every engine call is one decision
        return out


def saving_driver() -> SavingDriver:
    from rules_kit import HOME, Zone, with_zones

    drv = SavingDriver(Engine(with_zones(Zone("home", center=HOME, radius_m=500)), RulesConfig(), AlertsConfig()), now=T0)
    drv.store = Store()
    drv.record(drv.engine.tick(T0))
    return drv


def snap(engine: Engine) -> str:
    return json.dumps(engine.snapshot(), sort_keys=True)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script)
def test_dirty_units_saved_each_step_rebuild_the_same_engine(steps: list[tuple[float, bool, tuple[Any, ...]]]) -> None:
    drv = play(steps, saving_driver(), settle=False)
    assert snap(drv.store.rebuild(drv.engine)) == snap(drv.engine)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script, script)
def test_restart_from_units_changes_nothing(before: list[Any], after: list[Any]) -> None:
    straight = play(before + after)
    first = play(before, saving_driver(), settle=False)
    resumed = play(after, Driver(first.store.rebuild(first.engine), now=first.now))
    assert snap(resumed.engine) == snap(straight.engine)


def test_a_decision_writes_only_its_resident() -> None:
    people = [resident(f"r-{i:04d}") for i in range(50)]
    devices = [Device(f"cat-{i:04d}", DeviceKind.PINGAN_CAT, f"r-{i:04d}", 300) for i in range(50)]
    drv = Driver.start(registry(people, devices))
    drv.engine.take_dirty()
    drv.event("cat-0007", "sos", T0 + 10)
    assert drv.engine.take_dirty() == {"r-0007"}
    [alert] = drv.opened("sos")
    drv.engine.acknowledge(alert.id, "wang", "sms", T0 + 20)
    assert drv.engine.take_dirty() == {"r-0007"}
    state = drv.engine.unit_state("r-0007")
    assert state is not None and set(state["d"]) == {"cat-0007"} and [a["id"] for a in state["a"]] == [alert.id]
    assert f"a:{alert.id}" in state["t"] and "r:r-0007" in state["t"] and "d:cat-0007" in state["t"]


def test_registry_changes_mark_both_units_and_retired_units_go() -> None:
    people = [resident("r-0001"), resident("r-0002")]
    devices = [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300), Device("tag-0001", DeviceKind.GPS_TAG, "r-0001", 300)]
    reg = registry(people, devices)
    drv = Driver.start(reg)
    drv.engine.take_dirty()
    moved = replace(reg, residents={"r-0002": reg.residents["r-0002"]},
                    devices={"tag-0001": Device("tag-0001", DeviceKind.GPS_TAG, "r-0002", 300)})
    drv.engine.set_registry(moved)
    dirty = drv.engine.take_dirty()
    assert {"r-0001", "r-0002"} <= dirty
    assert drv.engine.unit_state("r-0001") is None  # retired with their home unit: the row goes
    assert set(drv.engine.unit_state("r-0002")["d"]) == {"tag-0001"}  # type: ignore[index]


def test_rows_the_registry_moved_on_from_are_rewritten_on_restore() -> None:
    """A device moved to another resident while the hub was down: both rows are rewritten."""
    people = [resident("r-0001"), resident("r-0002")]
    devices = [Device("tag-0001", DeviceKind.GPS_TAG, "r-0001", 300)]
    drv = Driver.start(registry(people, devices))
    store = Store()
    store.save(drv.engine)
    moved = registry(people, [Device("tag-0001", DeviceKind.GPS_TAG, "r-0002", 300)])
    engine = Engine(moved, RulesConfig(), AlertsConfig())
    engine.restore_units(json.loads(store.meta), ((u, json.loads(d)) for u, d in store.rows.items()))
    assert engine.device_state("tag-0001") is not None
    assert engine.take_dirty() == {"r-0001", "r-0002"}


def test_compact_forms_round_trip_every_field() -> None:
    """Every field, the learned histories and a tag's geofence fields included, survives JSON."""
    from alerts.actions import DeviceHealth, PersonState
    from alerts.state import DeviceState, QuietHistory, ResidentState, RoutineHistory, day_row

    rs = ResidentState(watch_start=T0, last_activity=T0 + 5, away_by="door", person=PersonState("home_active"),
                       routine=RoutineHistory(days=3, active_days=[1] * 24, day=7, mask=5, day_start=T0),
                       quiet=QuietHistory(day=7, today=[30, 12], past=[day_row([6, 40, 10])]))  # rows are arrays
    ds = DeviceState(last_heard=T0, health=DeviceHealth.OFFLINE, battery=0, fix_lat=45.7, anchor_n=3, tag_out=True, last_zone="z")
    assert ResidentState.from_compact(json.loads(json.dumps(rs.to_compact()))) == rs
    again = DeviceState.from_compact(json.loads(json.dumps(ds.to_compact())))
    assert again == ds and again.to_dict() == ds.to_dict() and again.battery == 0
    assert DeviceState(watch_start=T0).tag is None and DeviceState(watch_start=T0, outside_fixes=0).tag is None


def test_slimmed_states_keep_their_saved_forms() -> None:
    """The rarely set fields live in side records made on first write, but the JSON forms are
    those of the flat records before (stored units read back unchanged), every field included."""
    from alerts.actions import DeviceHealth, PersonState
    from alerts.state import DeviceState, MotionBackground, ResidentState

    resident_keys = ["watch_start", "last_activity", "last_activity_device", "active_since", "went_to_bed", "bed_after_run",
                     "last_home_activity", "door_open_at",
                     "away_since", "away_by", "last_door_at", "stray_motion_at", "stray_motions", "tag_moved_at", "tag_left_at",
                     "door_in_at",
                     "longest_away_s", "longest_away_at", "blind_from", "blind_floor", "door_ajar_at",
                     "night_exit_due", "flush_until", "back_at", "unwatched_since",
                     "person", "routine", "quiet", "background"]
    assert list(ResidentState().to_dict()) == resident_keys
    assert list(DeviceState().to_dict())[:6] == ["last_heard", "watch_start", "health", "offline_since", "battery", "battery_low"]
    assert list(DeviceState().to_dict())[-10:] == ["last_sos_at", "early_cancel_at", "clock_behind_s", "lag_low", "lag_low_at",
                                                   "leak_day", "leak_count", "leak_mask", "single_misses", "offline_told"]
    assert len(DeviceState().to_dict()) == 39
    plain = ResidentState(watch_start=T0, last_activity=T0, person=PersonState.HOME_ACTIVE)
    plain.away_since = None  # a default written: no record made
    assert plain.departure is None and plain.learned is None
    stored = {"watch_start": T0, "door_open_at": T0 + 1, "away_since": T0 + 2, "away_by": "door", "last_door_at": T0 + 3,
              "stray_motion_at": T0 + 4, "stray_motions": 2, "unwatched_since": T0 + 5, "person": "away",
              "background": MotionBackground(recent=[T0], first_day=3, nights=[[3, 1]]).to_dict()}
    rs = ResidentState.from_compact(json.loads(json.dumps(stored)))
    assert rs.departure is not None and rs.learned is not None and rs.stray_motions == 2 and rs.background is not None
    assert rs.to_compact() == stored and ResidentState.from_dict(rs.to_dict()) == rs
    ds = DeviceState(watch_start=T0, health=DeviceHealth.ONLINE, battery=90)
    ds.battery_low = False
    assert ds.rare is None and ds.tag is None
    ds.offline_since, ds.last_sos_at, ds.battery_low = T0 + 7, T0 + 8, True
    saved = json.loads(json.dumps(ds.to_compact()))
    assert saved == {"watch_start": T0, "health": "online", "battery": 90, "offline_since": T0 + 7, "battery_low": True,
                     "last_sos_at": T0 + 8}
    again = DeviceState.from_compact(saved)
    assert again == ds and again.rare is not None and again.tag is None and DeviceState.from_dict(ds.to_dict()) == ds


def test_every_side_field_reads_its_default_until_set_and_then_its_record() -> None:
    """The side fields' accessors are compiled per field (alerts/state.py `_side_field`): each
    reads its record's default while there is no record, writes of the default make none, and
    another value lands in the record under the field's own name (no field reads another's)."""
    from dataclasses import fields

    from alerts.state import Departure, DeviceRare, DeviceState, Learned, ResidentState, TagState

    sides = [(DeviceState, "tag", TagState), (DeviceState, "rare", DeviceRare),
             (ResidentState, "departure", Departure), (ResidentState, "learned", Learned)]
    for owner, slot, record in sides:
        for number, f in enumerate(fields(record)):
            state = owner()
            assert getattr(state, f.name) == f.default and getattr(state, slot) is None
            setattr(state, f.name, f.default)
            assert getattr(state, slot) is None, f"{slot}.{f.name}: a default write made the record"
            value = f"value {number}"  # unlike every default, and unlike every other field's
            setattr(state, f.name, value)
            side = getattr(state, slot)
            assert isinstance(side, record) and getattr(side, f.name) == value and getattr(state, f.name) == value
            others = [g for g in fields(record) if g.name != f.name]
            assert all(getattr(side, g.name) == g.default for g in others), f"{slot}.{f.name} wrote another field"
