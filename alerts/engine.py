"""The rules engine: device messages and clock ticks in, Actions out.

`Engine` is the only entry point of the pure core for the hub: `handle(msg, now)` applies one
message, `tick(now)` fires every deadline ≤ now in (deadline, kind, id) order, `next_deadline()`
says when to tick next, the operator/responder operations move alerts along their lifecycle,
and the state is carried across a restart per *unit* — one resident with their devices, or
one device of nobody (`device:<id>`, the partition key of hub/rules/partitions.py): every step
marks the units it touched (`take_dirty()`), `unit_state(unit)` gives one unit's JSON-able
state, `restore_units()` rebuilds the engine from them. `snapshot()`/`restore()` still carry
the whole state at once (tests, and the upgrade of a hub that saved full snapshots). Deadlines
that fell due meanwhile fire at the first tick, their actions marked late.
No I/O, no clock reads, no randomness: the same inputs give the same actions.

`next_deadline()` may be earlier than the next real decision: deadlines are lazy lower bounds
(a heartbeat does not touch them), so a tick can find nothing to do.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from alerts import clocks
from alerts.actions import Action, Alert, AlertAckExpired, AlertKind, AlertState, Outcome, Reason, Severity
from alerts.config import AlertsConfig, RulesConfig
from alerts.context import CLOCK_SLACK_S, RegistryIndex, RuleContext, ack_key
from alerts.deadlines import ACK, DEVICE, RESIDENT
from alerts.lifecycle import SYSTEM, AlertBook, UnknownAlert
from alerts.reasons import ReasonCode, device_ref, explain
from alerts.registry import Absence, Device, RegistrySnapshot, Resident
from alerts.rules import activity, battery, critical, geofence, inactivity, leaks, night_exit, offline, person
from alerts.state import DeviceState, ResidentState
from devices import DeviceKind, DeviceMessage, Event, Gps, Heartbeat, Status

SNAPSHOT_VERSION = 1
UNIT_VERSION = 1  # of `unit_state` / `meta_state`
DEVICE_UNIT = "device:"  # the unit of a device of nobody (hub/rules/partitions.py rules_key)
TICK_GUARD_S = 1.0  # a handler asking to be woken at or before `now` is woken this much later
_GPS_TAG = DeviceKind.GPS_TAG  # read on every activity: an enum class's attribute costs ~800 instructions (alerts/rules/activity.py)

__all__ = ["Engine", "UnknownAlert", "UnknownResident"]


class UnknownResident(LookupError):
    """No resident with this id in the engine's registry."""


class Engine:
    def __init__(self, registry: RegistrySnapshot, rules: RulesConfig, alerts_cfg: AlertsConfig) -> None:
        self._ctx = RuleContext(RegistryIndex.build(registry), rules, alerts_cfg)
        self._unarmed: set[str] = set(registry.devices) | {"@" + r for r in registry.residents}
        self._dirty: set[str] = set()  # units changed since the last take_dirty()

    # ------------------------------------------------------------------ inputs
    def handle(self, msg: DeviceMessage, now: float) -> list[Action]:
        ctx, now = self._begin(now)
        device = ctx.index.snapshot.devices.get(msg.device_id)  # `ctx.device` inlined: every message
        if device is None:
            ctx.count("unknown_device")
            return self._finish(now)
        ds = ctx.devices[device.id]
        self._dirty.add(device.resident or DEVICE_UNIT + device.id)
        if (msg.late or ds.rare is not None) and ctx.rules.clock_behind:  # a live message of a sound clock: as it is
            msg = clocks.corrected(ds, msg)
        if msg.late:
            ctx.count("late_messages")
        payload = msg.payload
        # The payload's exact type, not isinstance: the payload classes' metaclass (msgspec's)
        # makes every isinstance look up and call its __instancecheck__ (~1,000 instructions).
        if type(payload) is Status and payload.state == "offline":
            offline.last_will(ctx, device, ds, now)
            return self._finish(now)
        offline.heard(ctx, device, ds, now)
        resident = ctx.index.snapshot.residents.get(device.resident) if device.resident else None
        if resident is None:
            ctx.count("unassigned_device")
            return self._finish(now)
        if type(payload) is Heartbeat:
            if payload.battery is not None:
                battery.on_battery(ctx, device, payload.battery, msg.at, now, msg.late)
        elif type(payload) is Event:
            self._event(payload.type, device.id, resident.id, msg, now)
        elif type(payload) is Gps:
            geofence.on_fix(ctx, device, resident, msg, now)
            if payload.battery is not None:
                battery.on_battery(ctx, device, payload.battery, msg.at, now, msg.late)
        return self._finish(now)

    def _event(self, event: str, device_id: str, resident_id: str, msg: DeviceMessage, now: float) -> None:
        ctx = self._ctx
        device = ctx.index.snapshot.devices[device_id]
        if event in critical.CRITICAL_EVENTS:
            critical.raise_critical(ctx, device, resident_id, event, msg, now)
        elif event == "sos_cancel":
            critical.cancel_sos(ctx, device, resident_id, msg, now)
        elif event == "water_flow" and ctx.rules.leaks.enabled and self._leaking(device_id, resident_id, msg.at):
            ctx.count("leak_flows")  # a running cistern, not her (alerts/rules/leaks.py)
        elif event in activity.ACTIVITY_EVENTS:
            # Door and home motion are put in order on the hub's clock unless the message was
            # buffered for long: two devices' clocks drift apart by minutes (a slow clock makes
            # every message look "late"), and motion a minute before the door opened, stamped
            # by a clock two minutes fast, read as "still at home".
            seen = now if abs(now - msg.at) <= CLOCK_SLACK_S else msg.at
            if event == "door_open":
                activity.note_door_open(ctx, resident_id, seen)
            if device.kind is not _GPS_TAG:  # before the activity: she is home, not a tag lent away
                geofence.home_seen(ctx, resident_id, msg.at, now)
            activity.note_activity(ctx, resident_id, device, msg.at, now, msg.late, seen, event)
        elif event == "tamper":
            ctx.count("tamper_events")
        else:
            ctx.count("unknown_event_types")

    def _leaking(self, device_id: str, resident_id: str, at: float) -> bool:
        """Count a water meter's flow for its deep night; whether the meter is leaking."""
        ctx = self._ctx
        ds, tz, cfg = ctx.devices[device_id], ctx.index.snapshot.residents[resident_id].timezone, ctx.rules.leaks
        leaks.note_flow(ds, tz, at, cfg)
        return leaks.leaking(ds, tz, at, cfg)

    def tick(self, now: float) -> list[Action]:
        ctx, now = self._begin(now)
        while (due := ctx.deadlines.pop_due(now)) is not None:
            _at, kind, ident = due
            wake = self._fire(kind, ident, now)
            if wake is not None:
                ctx.deadlines.arm_earlier(kind, ident, wake if wake > now else now + TICK_GUARD_S)
        return self._finish(now)

    def _fire(self, kind: str, ident: str, now: float) -> float | None:
        ctx = self._ctx
        self._mark_key(kind, ident)
        if kind == DEVICE:
            device = ctx.device(ident)
            return offline.evaluate(ctx, device, now) if device is not None and ident in ctx.devices else None
        if kind == RESIDENT:
            return self._evaluate_resident(ident, now) if ident in ctx.residents and ctx.resident(ident) else None
        if kind == ACK:
            self._ack_expired(ident, now)
        return None

    def _evaluate_resident(self, resident_id: str, now: float) -> float | None:
        ctx = self._ctx
        wakes = [
            activity.confirm_departure(ctx, resident_id, now),
            night_exit.evaluate(ctx, resident_id, now),
            offline.check_unwatched(ctx, resident_id, now),
            inactivity.evaluate(ctx, resident_id, now),
            person.refresh(ctx, resident_id, now),
            ctx.next_absence_edge(resident_id, now),
        ]
        ctx.touched.discard(resident_id)
        return min((w for w in wakes if w is not None), default=None)

    def _ack_expired(self, alert_id: str, now: float) -> None:
        ctx = self._ctx
        try:
            alert = ctx.book.get(alert_id)
        except UnknownAlert:
            return
        if alert.state is AlertState.ACKNOWLEDGED:
            moved = ctx.book.move(alert, AlertState.OPEN, SYSTEM, "ack_expiry", now, Reason.ACK_EXPIRED)
            ctx.emit(AlertAckExpired(moved.alert))
            ctx.touched.add(alert.resident)

    # ------------------------------------------------------------------ operators and responders
    def acknowledge(self, alert_id: str, by: str, channel: str, now: float) -> list[Action]:
        ctx, now = self._begin(now)
        alert = ctx.book.get(alert_id)
        self._dirty.add(alert.resident)
        if alert.state is AlertState.OPEN:
            ctx.emit(ctx.book.move(alert, AlertState.ACKNOWLEDGED, by, channel, now, Reason.ACKNOWLEDGED))
            ctx.deadlines.arm(ACK, alert_id, now + ctx.alerts_cfg.ack_expiry.total_seconds())
        return self._finish(now)

    def on_site(self, alert_id: str, by: str, channel: str, now: float) -> list[Action]:
        ctx, now = self._begin(now)
        alert = ctx.book.get(alert_id)
        self._dirty.add(alert.resident)
        if alert.state in (AlertState.OPEN, AlertState.ACKNOWLEDGED):
            ctx.emit(ctx.book.move(alert, AlertState.ON_SITE, by, channel, now, Reason.ON_SITE))
            ctx.deadlines.disarm(ACK, alert_id)
        return self._finish(now)

    def resolve(self, alert_id: str, outcome: Outcome | str, by: str, channel: str, now: float) -> list[Action]:
        ctx, now = self._begin(now)
        alert = ctx.book.get(alert_id)
        self._dirty.add(alert.resident)
        ctx.resolve_alert(alert, Outcome(outcome), Reason.RESOLVED_BY_RESPONDER, now, by, channel)
        return self._finish(now)

    def open_manual(self, resident_id: str, severity: Severity, note: str, by: str, channel: str, now: float) -> list[Action]:
        """An alert recorded by hand (a neighbour phoned in): kind `manual`, the note as its
        reason, escalated like any other. A second one while the first is open is a re-trigger."""
        if self._ctx.resident(resident_id) is None:
            raise UnknownResident(resident_id)
        ctx, now = self._begin(now)
        ctx.open_alert(AlertKind.MANUAL, severity, resident_id, device=None, now=now, triggered_at=now,
                       why=explain(ReasonCode.MANUAL_REPORT, by=by, note=note or "—"), reason=Reason.MANUAL_REPORT)
        return self._finish(now)

    def mark_notified(self, alert_id: str, now: float) -> None:
        """Record the first message sent for an alert (service level: time to first message)."""
        alert = self._ctx.book.get(alert_id)
        if alert.first_notified_at is None:
            self._dirty.add(alert.resident)
            self._ctx.book.change(alert, Reason.NOTIFIED, first_notified_at=now)

    def set_registry(self, registry: RegistrySnapshot) -> list[Action]:
        """Adopt a new registry (devices added/removed, absences recorded); re-judge affected residents."""
        ctx = self._ctx
        old = ctx.index.snapshot
        ctx.index = RegistryIndex.build(registry)
        now = ctx.now
        self._dirty |= _changed_units(old, registry)
        for device_id in sorted(set(old.devices) - set(registry.devices)):
            self._forget_device(old.devices[device_id], now)
        self._unarmed |= (set(registry.devices) - set(ctx.devices)) | {"@" + r for r in set(registry.residents) - set(ctx.residents)}
        if now is not None:
            changed = {a.resident for a in set(old.absences) ^ set(registry.absences)}
            changed |= {d.resident for d in registry.devices.values() if old.devices.get(d.id) != d and d.resident}
            for resident_id in sorted(changed & set(ctx.residents)):
                ctx.deadlines.arm(RESIDENT, resident_id, now)
            return self.tick(now)
        return []

    def update_registry_entries(
        self, residents: Mapping[str, Resident | None], devices: Mapping[str, Device | None],
        absences: Mapping[str, tuple[Absence, ...]] | None = None,
    ) -> list[Action]:
        """Adopt a change to a few residents and devices (None: retired), and the whole list of
        absences of the residents in `absences`, without rebuilding the index — the workspace's
        edits and the registry's change log, where `set_registry` costs O(city) per change."""
        ctx = self._ctx
        index = ctx.index
        snapshot = index.snapshot
        affected: set[str] = set(absences or ())
        if absences:
            self._replace_absences(absences)
        for resident_id, resident in residents.items():
            affected.add(resident_id)
            if resident is None:
                snapshot.residents.pop(resident_id, None)
            else:
                snapshot.residents[resident_id] = resident
                if resident_id not in ctx.residents:
                    self._unarmed.add("@" + resident_id)
        for device_id, device in devices.items():
            old = snapshot.devices.pop(device_id, None)
            if old is not None and old.resident is not None:
                affected.add(old.resident)
                index.set_devices(old.resident, tuple(d for d in index.devices_of(old.resident) if d.id != device_id))
            if device is None:
                if old is not None:
                    self._forget_device(old, ctx.now)
                continue
            snapshot.devices[device_id] = device
            if device_id not in ctx.devices:
                self._unarmed.add(device_id)
            if device.resident is not None:
                affected.add(device.resident)
                index.set_devices(device.resident, tuple(sorted((*index.devices_of(device.resident), device), key=lambda d: d.id)))
        # Their stored state is rewritten (or deleted) at the next save: residents, and devices of nobody.
        self._dirty |= affected | {DEVICE_UNIT + device_id for device_id in devices}
        if ctx.now is None:
            return []
        for resident_id in sorted(r for r in affected if r in ctx.residents):
            ctx.deadlines.arm(RESIDENT, resident_id, ctx.now)
        return self.tick(ctx.now)

    def _replace_absences(self, absences: Mapping[str, tuple[Absence, ...]]) -> None:
        index = self._ctx.index
        for resident_id, theirs in absences.items():
            if theirs:
                index.absences_of[resident_id] = theirs
            else:
                index.absences_of.pop(resident_id, None)
        kept = tuple(a for a in index.snapshot.absences if a.resident not in absences)
        index.snapshot = replace(index.snapshot, absences=kept + tuple(a for theirs in absences.values() for a in theirs))

    def _forget_device(self, device: Device, now: float | None) -> None:
        ctx = self._ctx
        ds = ctx.devices.pop(device.id, None)
        ctx.deadlines.disarm(DEVICE, device.id)
        if device.resident is None:
            return
        self._dirty.add(device.resident)
        battery = ctx.book.find(device.resident, AlertKind.LOW_BATTERY, device.id)
        if battery is not None:
            ctx.resolve_alert(battery, Outcome.CLEARED, Reason.DEVICE_REMOVED, now if now is not None else battery.opened_at,
                              note=explain(ReasonCode.DEVICE_REMOVED, device=device_ref(device.id, device.kind)))
        offline_alert = ctx.book.find(device.resident, AlertKind.DEVICE_OFFLINE)
        if offline_alert is not None:
            at = now if now is not None else offline_alert.opened_at
            offline.release(ctx, device, ds is not None and ds.offline_told, at, Reason.DEVICE_REMOVED, ReasonCode.DEVICE_REMOVED)

    # ------------------------------------------------------------------ queries
    def next_deadline(self) -> float | None:
        if self._unarmed:
            return self._ctx.now
        return self._ctx.deadlines.peek()

    def open_alerts(self) -> list[Alert]:
        return self._ctx.book.all()

    def alert(self, alert_id: str) -> Alert:
        return self._ctx.book.get(alert_id)

    def alert_by_code(self, code: str) -> Alert | None:
        return self._ctx.book.by_code(code)

    @property
    def counters(self) -> dict[str, int]:
        return dict(sorted(self._ctx.counters.items()))

    def resident_state(self, resident_id: str) -> ResidentState | None:
        return self._ctx.residents.get(resident_id)

    def device_state(self, device_id: str) -> DeviceState | None:
        return self._ctx.devices.get(device_id)

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        ctx = self._ctx
        return {
            "version": SNAPSHOT_VERSION,
            "now": ctx.now,
            "devices": {k: ctx.devices[k].to_dict() for k in sorted(ctx.devices)},
            "residents": {k: ctx.residents[k].to_dict() for k in sorted(ctx.residents)},
            "alerts": [a.to_dict() for a in ctx.book.all()],
            "deadlines": [[k, at] for k, at in ctx.deadlines.items()],
            "counters": dict(sorted(ctx.counters.items())),
        }

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"engine snapshot version {data.get('version')!r} is not {SNAPSHOT_VERSION}")
        ctx = self._ctx
        registry = ctx.index.snapshot
        ctx.now = data["now"]
        ctx.devices = {k: DeviceState.from_dict(v) for k, v in data["devices"].items() if k in registry.devices}
        ctx.residents = {k: ResidentState.from_dict(v) for k, v in data["residents"].items() if k in registry.residents}
        ctx.book = AlertBook()  # the snapshot replaces whatever this engine held, never merges into it
        ctx.book.restore([Alert.from_dict(a) for a in data["alerts"]])
        ctx.deadlines = ctx.new_deadlines()
        ctx.deadlines.restore({key: at for key, at in data["deadlines"]})
        ctx.counters = dict(data["counters"])
        self._unarmed = (set(registry.devices) - set(ctx.devices)) | {"@" + r for r in set(registry.residents) - set(ctx.residents)}

    # ------------------------------------------------------------------ persistence per unit
    def unit_of(self, device_id: str) -> str:
        """The unit a device's state is kept in: its resident's, or its own when it has none."""
        device = self._ctx.device(device_id)
        return device.resident if device is not None and device.resident else DEVICE_UNIT + device_id

    def take_dirty(self) -> set[str]:
        """The units changed since the last call (the caller saves them, or rebuilds the engine)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def mark_dirty(self, units: Iterable[str]) -> None:
        self._dirty.update(units)

    def mark_all_dirty(self) -> None:
        """Every unit the engine holds state for (an upgrade from a full snapshot)."""
        ctx = self._ctx
        self._dirty |= set(ctx.residents) | {self.unit_of(d) for d in ctx.devices} | {a.resident for a in ctx.book.all()}

    def unit_state(self, unit: str) -> dict[str, Any] | None:
        """One unit's state as compact JSON-able data (default fields left out), or None when
        the engine holds nothing for it (a resident retired: the stored row can go)."""
        ctx = self._ctx
        if unit.startswith(DEVICE_UNIT):
            resident, device_ids = None, [unit[len(DEVICE_UNIT):]]
        else:
            resident, device_ids = unit, [d.id for d in ctx.devices_of(unit)]
        registry = ctx.index.snapshot
        # Its devices, then the deadlines of its devices, its alerts' acknowledgements and the resident, in
        # this order. A device's and a resident's deadline is the `due` slot of its state (alerts/deadlines.py),
        # read here on the state at hand; loops, not comprehensions: this runs for every changed unit.
        devices: dict[str, Any] = {}
        deadlines: dict[str, float] = {}
        states, known = ctx.devices, registry.devices
        for d in device_ids:
            state = states.get(d)
            if state is not None and d in known:
                devices[d] = state.to_compact()
                if (at := state.due) is not None:
                    deadlines["d:" + d] = at  # device_key(d)
        holder = ctx.residents.get(resident) if resident is not None else None
        rs = holder if resident in registry.residents else None
        alerts = ctx.book.of_resident(resident) if resident is not None else []
        if rs is None and not devices and not alerts:
            return None
        for a in alerts:
            if (at := ctx.deadlines.get(ACK, a.id)) is not None:
                deadlines[ack_key(a.id)] = at
        if holder is not None and (at := holder.due) is not None:
            deadlines["r:" + unit] = at  # resident_key(resident)
        data: dict[str, Any] = {"d": devices, "t": deadlines}
        if rs is not None:
            data["r"] = rs.to_compact()
        if alerts:
            data["a"] = [a.to_dict() for a in alerts]
        return data

    def meta_state(self) -> dict[str, Any]:
        """What is not per unit: the engine's time and its counters (small)."""
        return {"version": UNIT_VERSION, "now": self._ctx.now, "counters": dict(sorted(self._ctx.counters.items()))}

    def restore_units(self, meta: dict[str, Any], units: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Rebuild the whole state from `meta_state()` and every stored `unit_state()`.
        Rows the registry has moved on from (a device now of another resident or retired, a
        resident retired) are marked dirty, so the next save rewrites them. One flat loop with
        the collector paused: a million units are millions of small objects."""
        if meta.get("version") != UNIT_VERSION:
            raise ValueError(f"engine state version {meta.get('version')!r} is not {UNIT_VERSION}")
        ctx = self._ctx
        registry = ctx.index.snapshot
        ctx.now, ctx.counters = meta["now"], dict(meta["counters"])
        ctx.devices, ctx.residents = devices, residents = {}, {}
        ctx.book, ctx.deadlines = AlertBook(), ctx.new_deadlines()
        self._dirty = dirty = set()
        alerts: list[Alert] = []
        wanted: dict[str, float] = {}
        known_devices, known_residents = registry.devices, registry.residents
        device_state, resident_state = DeviceState.from_compact, ResidentState.from_compact
        paused = gc.isenabled()
        gc.disable()
        try:
            for unit, data in units:
                if (rs := data.get("r")) is not None:
                    if unit in known_residents:
                        residents[unit] = resident_state(rs)
                    else:
                        dirty.add(unit)
                for device_id, state in data["d"].items():
                    device = known_devices.get(device_id)
                    if device is not None:
                        devices[device_id] = device_state(state)
                    if device is None or (device.resident or DEVICE_UNIT + device_id) != unit:
                        dirty |= {unit, self.unit_of(device_id)}
                wanted.update(data["t"])
                if "a" in data:
                    alerts += [Alert.from_dict(a) for a in data["a"]]
        finally:
            if paused:
                gc.enable()
        ctx.book.restore(alerts)
        ctx.deadlines.restore(wanted)
        self._unarmed = (set(known_devices) - set(devices)) | {"@" + r for r in set(known_residents) - set(residents)}

    def _mark_key(self, kind: str, ident: str) -> None:
        """Mark the unit a deadline key belongs to."""
        if kind == DEVICE:
            self._dirty.add(self.unit_of(ident))
        elif kind == RESIDENT:
            self._dirty.add(ident)
        elif kind == ACK and (alert := self._ctx.book.find_id(ident)) is not None:
            self._dirty.add(alert.resident)

    # ------------------------------------------------------------------ plumbing
    def _begin(self, now: float) -> tuple[RuleContext, float]:
        """Start a step at `now`, or at the latest time already seen if `now` is behind it (a
        hub may hand in a message's receive time after a tick at a later time): the alerts'
        times never run backwards. Returns the context and the step's time."""
        ctx = self._ctx
        last = ctx.now
        if last is not None and now <= last:  # max(), without the builtin's call: every message
            now = last
        ctx.now = now
        # ctx.out is not reset: `_finish` takes it each step, and what a registry change emitted before its tick goes out with it
        if self._unarmed:
            self._arm_new(now)
        return ctx, now

    def _arm_new(self, now: float) -> None:
        """Start watching devices and residents the engine has not seen yet."""
        ctx = self._ctx
        for name in sorted(self._unarmed):
            if name.startswith("@"):
                resident = ctx.resident(name[1:])
                if resident is None:
                    continue
                rid = resident.id  # the registry's own string, not a copy per structure (memory)
                self._dirty.add(rid)
                ctx.residents[rid] = ResidentState(watch_start=now)
                ctx.deadlines.arm(RESIDENT, rid, now)
            else:
                device = ctx.device(name)
                if device is None:
                    continue
                self._dirty.add(device.resident or DEVICE_UNIT + name)
                ctx.devices[name] = DeviceState(watch_start=now)
                ctx.deadlines.arm(DEVICE, name, now + offline.period_s(ctx, device))
        self._unarmed.clear()

    def _finish(self, now: float) -> list[Action]:
        ctx = self._ctx
        if not ctx.touched:
            out, ctx.out = ctx.out, []
            return out
        self._dirty |= ctx.touched
        for resident_id in sorted(ctx.touched):
            if resident_id in ctx.residents:
                changes_at = person.refresh(ctx, resident_id, now)
                if changes_at is not None:
                    ctx.arm_resident(resident_id, changes_at)
        ctx.touched.clear()
        out, ctx.out = ctx.out, []
        return out


def _changed_units(old: RegistrySnapshot, new: RegistrySnapshot) -> set[str]:
    """The units whose stored rows a registry change makes stale: residents added or retired,
    and both the old and the new unit of every device added, retired or changed."""
    units = set(old.residents) ^ set(new.residents)
    for device_id in set(old.devices) | set(new.devices):
        before, after = old.devices.get(device_id), new.devices.get(device_id)
        if before != after:
            units |= {_unit(d) for d in (before, after) if d is not None}
    return units


def _unit(device: Device) -> str:
    return device.resident or DEVICE_UNIT + device.id
