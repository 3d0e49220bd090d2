"""Injected incidents, their ground truth, and scenario files.

An incident is something that should (or, for a cancelled SOS, should not durably) raise an
alert. Each incident kind maps to the alert kind written in the ground-truth line of a recording
(`{"t": ..., "truth": {"kind": ..., "resident": ..., "device": ...}}`) at the moment the incident
begins:

| incident       | truth kind      | begins at                                              |
| ---            | ---             | ---                                                    |
| fall           | inactivity      | the fall (silence from then on until the resident is found) |
| wandering      | geofence_exit   | the first GPS fix whose true position is outside the 500 m zone |
| sos            | sos             | the SOS press                                          |
| sos_cancelled  | sos_cancelled   | the SOS press, cancelled 4–25 s later by `sos_cancel` on the same device: the hub should open an sos alert and resolve it as `cancelled` |
| dead_device    | device_offline  | the device's last breath: it stops sending, no Last Will |
| battery        | low_battery     | the first report with battery ≤ 20 %                   |

Scenario files (`simulators/scenarios/*.yaml`) fix residents, duration, seed and incidents:

```yaml
name: fall
residents: 5
days: 1
seed: 11
start: "2025-11-26"            # local date (Asia/Shanghai) or ISO datetime; optional
random_incidents: false        # also draw random incidents (default false in scenarios)
incidents:
  - {kind: fall, resident: r-0002, at: "09:40", day: 0, duration: 9h}
expect: [inactivity]           # alert kinds the scenario should raise
```
`at` is a local "HH:MM" on `day` (0-based) or a duration after the start ("30h"); `duration` is
how long a fall lasts until found / a wandering until brought back; `device` names the device
kind (or id) for sos, dead_device and battery.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devices.kinds import DeviceKind

SCENARIOS_DIR = Path(__file__).parent / "scenarios"

TRUTH_KIND = {
    "fall": "inactivity",
    "wandering": "geofence_exit",
    "sos": "sos",
    "sos_cancelled": "sos_cancelled",
    "dead_device": "device_offline",
    "battery": "low_battery",
}
DEFAULT_DURATION_S = {"fall": 9 * 3600.0, "wandering": 3 * 3600.0}
#: Random incidents per resident per 30 days, when a simulation draws them.
DEFAULT_RATES = {
    "fall": 0.03,
    "wandering": 0.03,
    "sos": 0.04,
    "sos_cancelled": 0.04,
    "dead_device": 0.03,
    "battery": 0.03,
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_CLOCK_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Incident:
    kind: str  # a key of TRUTH_KIND
    resident: str
    at: float  # seconds after the simulation's first local midnight
    duration_s: float | None = None  # fall: until found; wandering: until brought back
    device: str | None = None  # device kind or id (sos, dead_device, battery)

    @property
    def truth_kind(self) -> str:
        return TRUTH_KIND[self.kind]

    @property
    def lasts_s(self) -> float:
        return self.duration_s if self.duration_s is not None else DEFAULT_DURATION_S.get(self.kind, 0.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    residents: int
    days: float
    seed: int
    start: str | None = None
    description: str = ""
    random_incidents: bool = False
    incidents: tuple[Incident, ...] = ()
    expect: tuple[str, ...] = field(default_factory=tuple)


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like `90s`, `5m`, `2h`, `1d`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and (m := _DURATION_RE.match(value)):
        return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError(f"{value!r} is not a duration (seconds, or like '90s', '5m', '2h', '1d')")


def parse_at(at: object, day: int = 0) -> float:
    """Seconds after the first local midnight: "HH:MM" on `day`, or a duration."""
    if isinstance(at, str) and (m := _CLOCK_RE.match(at)):
        return day * 86400 + int(m.group(1)) * 3600 + int(m.group(2)) * 60
    return day * 86400 + parse_duration(at)


def scenario_path(name_or_path: str | Path) -> Path:
    """A scenario by name (`fall`) or by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return SCENARIOS_DIR / f"{name_or_path}.yaml"


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    path = scenario_path(name_or_path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping")
    try:
        return _scenario(doc, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def _scenario(doc: dict[str, Any], path: Path) -> Scenario:
    incidents = tuple(_incident(entry, i) for i, entry in enumerate(doc.get("incidents") or []))
    expect = tuple(str(k) for k in doc.get("expect") or [])
    unknown = set(expect) - set(TRUTH_KIND.values())
    if unknown:
        raise ValueError(f"expect: unknown alert kinds {sorted(unknown)}")
    return Scenario(
        name=str(doc.get("name", path.stem)),
        residents=int(doc["residents"]),
        days=float(parse_duration(doc["duration"]) / 86400 if "duration" in doc else doc.get("days", 1)),
        seed=int(doc.get("seed", 1)),
        start=None if doc.get("start") is None else str(doc["start"]),
        description=str(doc.get("description", "")),
        random_incidents=bool(doc.get("random_incidents", False)),
        incidents=incidents,
        expect=expect,
    )


def _incident(entry: dict[str, Any], index: int) -> Incident:
    where = f"incidents[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping")
    kind = entry.get("kind")
    if kind not in TRUTH_KIND:
        raise ValueError(f"{where}.kind: {kind!r} is not one of {sorted(TRUTH_KIND)}")
    if "resident" not in entry or "at" not in entry:
        raise ValueError(f"{where}: needs resident and at")
    duration = entry.get("duration")
    return Incident(
        kind=kind,
        resident=str(entry["resident"]),
        at=parse_at(entry["at"], int(entry.get("day", 0))),
        duration_s=None if duration is None else parse_duration(duration),
        device=None if entry.get("device") is None else str(entry["device"]),
    )


def random_incidents(
    residents: list[tuple[str, tuple[DeviceKind, ...]]], days: float, seed: int, rates: dict[str, float] | None = None
) -> list[Incident]:
    """At most one incident per resident, drawn at `rates` (per resident per 30 days).

    `residents` lists (resident id, kinds of their devices). Incidents start between 08:00 and
    19:00 local, and early enough in the run for their truth to be observable.
    """
    rng = random.Random(f"incidents:{seed}")
    rates = DEFAULT_RATES if rates is None else rates
    out: list[Incident] = []
    latest_day = max(0, int(days - 0.5))
    for rid, kinds in residents:
        for kind, rate in sorted(rates.items()):
            if rng.random() < rate * days / 30:
                if kind == "wandering" and DeviceKind.GPS_TAG not in kinds:
                    continue
                at = rng.randint(0, latest_day) * 86400 + rng.uniform(8, 19) * 3600
                at = min(at, max(0.0, days * 86400 - 4 * 3600))
                out.append(Incident(kind, rid, at, device=_incident_device(kind, kinds, rng)))
                break
    return out


def _incident_device(kind: str, kinds: tuple[DeviceKind, ...], rng: random.Random) -> str | None:
    if kind == "dead_device":
        return rng.choice(kinds).value
    if kind == "battery":
        return rng.choice([k for k in kinds if k is not DeviceKind.PINGAN_CAT]).value
    return None
