"""Test kit for the rules engine: a small registry, message builders and a driver on virtual time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from alerts.actions import Action, Alert, AlertAckExpired, AlertOpened, AlertResolved, AlertUpdated
from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import Engine
from alerts.registry import Absence, Device, Point, RegistrySnapshot, Resident, Zone
from devices import DeviceKind, DeviceMessage, interpret

HOME = Point(45.7512, 126.6421)
T0 = 1764122400.0  # 2025-11-26 02:00 UTC = 10:00 Asia/Shanghai


def resident(rid: str = "r-0001", tz: str = "Asia/Shanghai", zones: tuple[Zone, ...] = (), home: Point = HOME) -> Resident:
    return Resident(id=rid, name="李奶奶", grid="g01", timezone=tz, home=home, zones=zones)


def registry(
    residents: list[Resident] | None = None,
    devices: list[Device] | None = None,
    absences: tuple[Absence, ...] = (),
) -> RegistrySnapshot:
    residents = residents if residents is not None else [resident()]
    devices = devices if devices is not None else [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)]
    return RegistrySnapshot({r.id: r for r in residents}, {d.id: d for d in devices}, absences)


def message(device: str, channel: str, payload: dict[str, Any] | bytes, received_at: float) -> DeviceMessage:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg = interpret(f"pingan/v1/dev/{device}/{channel}", raw, received_at)
    assert isinstance(msg, DeviceMessage), msg
    return msg


@dataclass
class Driver:
    """Feeds messages and ticks on virtual time, like the replay runner; keeps every action."""

    engine: Engine
    now: float = T0
    actions: list[Action] = field(default_factory=list)
    alerts: dict[str, Alert] = field(default_factory=dict)

    @classmethod
    def start(
        cls, reg: RegistrySnapshot | None = None, rules: RulesConfig | None = None, at: float = T0, **rule_overrides: Any
    ) -> Driver:
        rules = rules or RulesConfig(**rule_overrides)
        drv = cls(Engine(reg or registry(), rules, AlertsConfig()), now=at)
        drv.record(drv.engine.tick(at))
        return drv

    def record(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            self.actions.append(action)
            if isinstance(action, AlertOpened | AlertUpdated | AlertResolved | AlertAckExpired):
                self.alerts[action.alert.id] = action.alert
        return actions

    def advance_to(self, t: float) -> list[Action]:
        """Fire every deadline up to t (each at its own time), then set the clock to t."""
        fired: list[Action] = []
        while (due := self.engine.next_deadline()) is not None and due <= t:
            self.now = max(self.now, due)
            fired += self.record(self.engine.tick(self.now))
        self.now = max(self.now, t)
        fired += self.record(self.engine.tick(self.now))
        return fired

    def send(self, device: str, channel: str, payload: dict[str, Any], at: float | None = None, ts: float | None = None) -> list[Action]:
        """Deliver at hub time `at` (default: now); `ts` is the device clock (default: same)."""
        at = self.now if at is None else at
        fired = self.advance_to(at)
        body = dict(payload)
        if "ts" not in body:
            body["ts"] = at if ts is None else ts
        return fired + self.record(self.engine.handle(message(device, channel, body, at), at))

    def event(self, device: str, type_: str, at: float | None = None, ts: float | None = None) -> list[Action]:
        return self.send(device, "event", {"type": type_}, at, ts)

    def heartbeat(self, device: str, at: float | None = None, battery: int | None = None) -> list[Action]:
        body: dict[str, Any] = {} if battery is None else {"battery": battery}
        return self.send(device, "heartbeat", body, at)

    def fix(self, device: str, lat: float, lon: float, acc: float = 10.0, at: float | None = None, speed: float | None = None) -> list[Action]:
        body: dict[str, Any] = {"lat": lat, "lon": lon, "acc": acc}
        if speed is not None:
            body["speed"] = speed
        return self.send(device, "gps", body, at)

    def heartbeats_every(self, device: str, start: float, end: float, every: float = 300.0) -> None:
        t = start
        while t <= end:
            self.heartbeat(device, t)
            t += every

    # queries ------------------------------------------------------------------------
    def opened(self, kind: str | None = None) -> list[Alert]:
        return [a.alert for a in self.actions if isinstance(a, AlertOpened) and (kind is None or a.alert.kind == kind)]

    def open_alerts(self, kind: str | None = None) -> list[Alert]:
        return [a for a in self.engine.open_alerts() if kind is None or a.kind == kind]

    def final(self, alert: Alert) -> Alert:
        return self.alerts[alert.id]

    def of_type(self, cls: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, cls)]


def with_zones(*zones: Zone, tz: str = "Asia/Shanghai") -> RegistrySnapshot:
    return registry(
        [resident(zones=zones, tz=tz)],
        [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300), Device("tag-0001", DeviceKind.GPS_TAG, "r-0001", 300)],
    )


__all__ = ["HOME", "T0", "Absence", "Device", "Driver", "Point", "Zone", "message", "registry", "replace", "resident", "with_zones"]
