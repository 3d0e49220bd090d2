"""Offline replay: feed a recording straight into the rules on a virtual clock, and backtest.

`run_offline(recording, registry, config)` reads the JSONL recording format of PRODUCT.md
(`{"t","topic","payload"}` or `"payload_b64"`, ground-truth lines `{"t","truth":{...}}`), sets a
`VirtualClock` from each line after ticking every deadline that falls before it, parses each
message with `devices.interpret` (rejections are counted by reason, never fatal), hands it to
the `Engine`, and collects every alert with its final state. Same file and config, same output,
byte for byte.

Ground truth: a truth line says an incident that should raise `kind` for `resident` begins at
`t`. An alert *detects* it when it has the same resident and kind and opens within
[t − MATCH_BEFORE_S, t + MATCH_WINDOW_S] (24 h); a cancelled SOS (truth kind `sos_cancelled`) is
detected by an `sos` alert resolved `cancelled` — the hub should open it and let the device's
cancel close it. Incidents are matched in time order, each alert to at most one incident
(`match`) — but a `device_offline` truth that names its device is detected by the resident's
offline alert that tells of that device (one alert per resident: a power cut's devices attach to
it) if it was open at some time in the window; its delay counts from the alert's opening (0 for
a device attached to an alert already open). Alerts that match no incident are false alerts; their rate is given per home-week
(residents in the registry × the recording's span in weeks).

Responders: in the world a recording comes from, somebody answered every alert; offline replay
has nobody. Nothing in the rules closes an SOS, fall, smoke or gas alert (only a person does, or
the device's own cancel), so without a responder the first one stayed open for the rest of the
file, and the resident's next SOS a week later attached to it as a re-trigger: no alert of its
own, a missed incident, and a cancel of a mistaken press closed the old alert. So a modelled
responder resolves each such alert still open `responder_after_s` after it opened (default 2 h:
at the door within 45 minutes, PRODUCT.md "Alerts", and time there); `None` models nobody.

Broker replay (publishing at the recorded timing × speed) belongs to the simulators.
"""

from __future__ import annotations

import base64
import gzip
import heapq
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from alerts.actions import (
    Action,
    Alert,
    AlertAckExpired,
    AlertKind,
    AlertOpened,
    AlertResolved,
    AlertState,
    AlertUpdated,
    Outcome,
)
from alerts.engine import Engine
from alerts.reasons import WENT_OFFLINE
from alerts.registry import RegistrySnapshot
from devices import DeviceMessage, interpret
from hub.clock import VirtualClock
from hub.config import Config

MATCH_WINDOW_S = 24 * 3600.0
MATCH_BEFORE_S = 60.0
WEEK_S = 7 * 86400.0
CANCELLED_SOS = "sos_cancelled"  # truth kind of a mistaken SOS the device cancelled in time
RESPONDER_AFTER_S = 2 * 3600.0
#: Alerts that only a person closes (or the device's own cancel): the modelled responder's.
RESPONDED_KINDS = frozenset({AlertKind.SOS, AlertKind.FALL, AlertKind.SMOKE, AlertKind.GAS})
RESPONDER = "replay-responder"
ALERT_FIELDS = ("id", "code", "kind", "severity", "resident", "device", "opened_at", "resolved_at", "outcome")


class _Line(msgspec.Struct):
    t: float
    topic: str | None = None
    payload: str | None = None
    payload_b64: str | None = None
    truth: dict[str, str] | None = None


_DECODE = msgspec.json.Decoder(_Line).decode


#: Truth lines of this kind describe a device fault the world injected, not an incident to find.
FAULT = "fault"


@dataclass(frozen=True, slots=True)
class Truth:
    t: float
    kind: str
    resident: str
    device: str | None = None  # a device_offline incident's device (her one alert answers each device it tells of)
    found_after_s: float | None = None  # a fall: when someone found her, if the world says (`found_after_h`)


@dataclass
class ReplayResult:
    alerts: list[Alert]  # final record of every alert opened, in opening order
    summary: dict[str, Any]
    truths: list[Truth] = field(default_factory=list)

    def alert_lines(self) -> list[str]:
        return [json.dumps(alert_row(a), ensure_ascii=False) for a in self.alerts]

    def json_lines(self) -> list[str]:
        return [*self.alert_lines(), json.dumps(self.summary, ensure_ascii=False, sort_keys=True)]


def alert_row(alert: Alert) -> dict[str, Any]:
    row = alert.to_dict()
    return {name: row[name] for name in ALERT_FIELDS}


class _Collector:
    """Keeps the newest record of every alert, in the order they opened."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.latest: dict[str, Alert] = {}
        self.late_alerts = 0

    def take(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, AlertOpened):
                self.order.append(action.alert.id)
                self.late_alerts += action.alert.late
            if isinstance(action, AlertOpened | AlertUpdated | AlertResolved | AlertAckExpired):
                self.latest[action.alert.id] = action.alert

    def alerts(self) -> list[Alert]:
        return [self.latest[i] for i in self.order]


class _Responder:
    """Resolves each SOS, fall, smoke or gas alert still open `after_s` after it opened (module docstring)."""

    def __init__(self, engine: Engine, collector: _Collector, after_s: float | None) -> None:
        self.engine, self.collector, self.after_s = engine, collector, after_s
        self.due: list[tuple[float, str]] = []  # (when, alert id), a heap

    def take(self, actions: list[Action]) -> None:
        self.collector.take(actions)
        if self.after_s is None:
            return
        for action in actions:
            if isinstance(action, AlertOpened) and action.alert.kind in RESPONDED_KINDS:
                heapq.heappush(self.due, (action.alert.opened_at + self.after_s, action.alert.id))

    def next_due(self) -> float | None:
        return self.due[0][0] if self.due else None

    def resolve_due(self, now: float) -> None:
        while self.due and self.due[0][0] <= now:
            _, alert_id = heapq.heappop(self.due)
            if self.collector.latest[alert_id].state is not AlertState.RESOLVED:
                self.take(self.engine.resolve(alert_id, Outcome.OK, RESPONDER, "replay", now))


def _advance(engine: Engine, clock: VirtualClock, responder: _Responder, before: float) -> None:
    """Fire every rule deadline and responder visit due before `before`, in time order."""
    while True:
        rule_due, visit_due = engine.next_deadline(), responder.next_due()
        first = min((t for t in (rule_due, visit_due) if t is not None), default=None)
        if first is None or first >= before:
            return
        clock.set(first)
        if first == visit_due:
            responder.resolve_due(clock.now())
        else:
            responder.take(engine.tick(clock.now()))


def run_offline(recording_path: str | Path, registry: RegistrySnapshot, config: Config,
                responder_after_s: float | None = RESPONDER_AFTER_S) -> ReplayResult:
    engine = Engine(registry, config.rules, config.alerts)
    clock = VirtualClock()
    collector = _Collector()
    responder = _Responder(engine, collector, responder_after_s)
    truths: list[Truth] = []
    rejected: Counter[str] = Counter()
    messages = 0
    first: float | None = None
    root = config.mqtt.topic_root
    for line in _lines(Path(recording_path), rejected):
        _advance(engine, clock, responder, line.t)
        clock.set(line.t)
        now = clock.now()
        first = now if first is None else first
        if line.truth is not None:
            if line.truth.get("kind") != FAULT:  # a fault (outage, drift, ...) is context, not an incident
                truth = line.truth
                truths.append(Truth(now, truth.get("kind", ""), truth.get("resident", ""), truth.get("device"), _found_after(truth)))
            continue
        raw = _payload(line)
        if line.topic is None or raw is None:
            rejected["bad_line"] += 1
            continue
        messages += 1
        msg = interpret(line.topic, raw, now, root)
        if isinstance(msg, DeviceMessage):
            responder.take(engine.handle(msg, now))
        else:
            rejected[msg.reason] += 1
    alerts = collector.alerts()
    span = 0.0 if first is None else clock.now() - first
    summary = _summary(alerts, messages, rejected, engine.counters, collector.late_alerts, span)
    if truths:
        summary["truth"] = score(alerts, truths, len(registry.residents), span)
    return ReplayResult(alerts, summary, truths)


def _found_after(truth: dict[str, str]) -> float | None:
    """A truth line's `found_after_h` (the blind worlds' falls: someone came to the door then), in seconds."""
    hours = truth.get("found_after_h")
    return None if hours is None else float(hours) * 3600


def _lines(path: Path, rejected: Counter[str]) -> Iterator[_Line]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    fh: IO[bytes]
    with opener(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                yield _DECODE(raw)
            except msgspec.DecodeError:
                rejected["bad_line"] += 1


def _payload(line: _Line) -> bytes | None:
    if line.payload is not None:
        return line.payload.encode("utf-8")
    if line.payload_b64 is not None:
        try:
            return base64.b64decode(line.payload_b64, validate=True)
        except ValueError:
            return None
    return None


def _summary(
    alerts: list[Alert], messages: int, rejected: Counter[str], counters: dict[str, int], late: int, span: float
) -> dict[str, Any]:
    return {
        "summary": True,
        "messages": messages,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": dict(sorted(rejected.items())),
        "alerts": len(alerts),
        "alerts_by_kind": dict(sorted(Counter(a.kind.value for a in alerts).items())),
        "alerts_by_severity": dict(sorted(Counter(a.severity.value for a in alerts).items())),
        "alerts_by_outcome": dict(sorted(Counter(a.outcome.value if a.outcome else "open" for a in alerts).items())),
        "late_alerts": late,
        "engine_counters": counters,
        "span_s": span,
    }


@dataclass(frozen=True, slots=True)
class Match:
    """One incident and the alert that detected it (None: missed)."""

    truth: Truth
    alert: Alert | None

    @property
    def delay_s(self) -> float | None:
        return None if self.alert is None else max(0.0, self.alert.opened_at - self.truth.t)


def answers(alert: Alert, truth: Truth) -> bool:
    """The alert detects the incident (see the module docstring)."""
    if alert.resident != truth.resident:
        return False
    if truth.device is not None and truth.kind == AlertKind.DEVICE_OFFLINE:
        return truth.device in offline_devices(alert) and _open_during(alert, truth)
    if not truth.t - MATCH_BEFORE_S <= alert.opened_at <= truth.t + MATCH_WINDOW_S:
        return False
    if truth.kind == CANCELLED_SOS:
        return alert.kind == AlertKind.SOS and alert.outcome == Outcome.CANCELLED
    return alert.kind.value == truth.kind


def offline_devices(alert: Alert) -> Counter[str]:
    """How many times a device_offline alert tells of each device going offline: the device that
    opened it, and each device attached to it since (alerts/rules/offline.py: one alert per resident)."""
    told: Counter[str] = Counter()
    if alert.kind is AlertKind.DEVICE_OFFLINE:
        for why in (alert.reason, *alert.notes):
            device = why.params.get("device") if why.code in WENT_OFFLINE else None
            if isinstance(device, dict):
                told[device["id"]] += 1
    return told


def _open_during(alert: Alert, truth: Truth) -> bool:
    """Open at some time within the incident's window (a device attached to an alert opened earlier)."""
    closed = alert.resolved_at if alert.resolved_at is not None else math.inf
    return alert.opened_at <= truth.t + MATCH_WINDOW_S and closed >= truth.t - MATCH_BEFORE_S


def match(alerts: list[Alert], truths: list[Truth]) -> tuple[list[Match], list[Alert]]:
    """Incidents in time order, each with the first alert that answers it and is not used up; then
    the false alerts (those that answer none), in opening order. An alert answers one incident,
    but a device_offline alert one per device going offline that it tells of."""
    used: Counter[tuple[str, str]] = Counter()
    matches: list[Match] = []
    for truth in sorted(truths, key=lambda x: (x.t, x.kind, x.resident)):
        found = next((a for a in alerts if answers(a, truth) and used[_use(a, truth)] < _capacity(a, truth)), None)
        if found is not None:
            used[_use(found, truth)] += 1
        matches.append(Match(truth, found))
    answered = {alert_id for alert_id, _ in used}
    return matches, [a for a in alerts if a.id not in answered]


def _use(alert: Alert, truth: Truth) -> tuple[str, str]:
    return (alert.id, truth.device or "") if truth.kind == AlertKind.DEVICE_OFFLINE else (alert.id, "")


def _capacity(alert: Alert, truth: Truth) -> int:
    return offline_devices(alert)[truth.device] if truth.device is not None and truth.kind == AlertKind.DEVICE_OFFLINE else 1


def score(alerts: list[Alert], truths: list[Truth], homes: int, span_s: float) -> dict[str, Any]:
    """Detected / missed incidents per kind, false alerts, detection delays (see module docstring)."""
    matches, false = match(alerts, truths)
    delays: dict[str, list[float]] = {}
    missed: Counter[str] = Counter()
    for m in matches:
        if m.delay_s is None:
            missed[m.truth.kind] += 1
        else:
            delays.setdefault(m.truth.kind, []).append(round(m.delay_s, 3))
    home_weeks = homes * span_s / WEEK_S
    kinds = sorted({t.kind for t in truths})
    return {
        "incidents": len(truths),
        "detected": sum(len(d) for d in delays.values()),
        "missed": sum(missed.values()),
        "per_kind": {
            k: {
                "incidents": sum(1 for t in truths if t.kind == k),
                "detected": len(delays.get(k, [])),
                "missed": missed[k],
                "delay_median_s": percentile(delays.get(k, []), 50),
                "delay_p90_s": percentile(delays.get(k, []), 90),
            }
            for k in kinds
        },
        "false_alerts": len(false),
        "false_alerts_by_kind": dict(sorted(Counter(a.kind.value for a in false).items())),
        "false_alerts_per_home_week": round(len(false) / home_weeks, 4) if home_weeks > 0 else None,
        "match_window_s": MATCH_WINDOW_S,
    }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]
