"""What the tests of every blind world check alike (test_harbin.py, test_lingnan.py, test_shanghai.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from devices import DeviceMessage, interpret
from simulators.community import Device
from simulators.engine import Stream, write_recording
from simulators.geo import LatLon, distance_m
from simulators.recording import messages_only, read_recording

ACTIVITY = (b'"motion"', b'"door_open"', b'"door_close"', b'"water_flow"', b'"button"')
W = TypeVar("W", bound=Stream)


def recorded(world: W, folder: Path) -> tuple[W, Path]:
    """The world and its recording, written into folder."""
    path = folder / "world.jsonl"
    write_recording(world, path)
    return world, path


def truths(path: Path) -> list[tuple[float, dict[str, str]]]:
    """The recording's truth lines: (time, truth)."""
    return [(e["t"], e["truth"]) for e in read_recording(path) if isinstance(e, dict)]


def hers_near(lines: list[tuple[float, dict[str, str]]], kind: str, rid: str, day0: float) -> list[float]:
    """Her truth lines of this kind from the day before day0 to the end of the day after it."""
    return [t for t, truth in lines if truth["kind"] == kind and truth["resident"] == rid
            and day0 - 86400 <= t < day0 + 2 * 86400]


def assert_same_seed_same_bytes(world: Callable[[int], Stream], tmp_path: Path) -> None:
    """The same seed writes the same bytes, another seed others."""
    paths = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        paths.append(tmp_path / f"{name}.jsonl")
        write_recording(world(seed), paths[-1])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def message_kinds(path: Path) -> Counter[str]:
    """Messages per channel, once every message is checked to be valid protocol and the lines in time order."""
    kinds: Counter[str] = Counter()
    for t, topic, raw in messages_only(read_recording(path)):
        msg = interpret(topic, raw, t, "pingan/v1")
        assert isinstance(msg, DeviceMessage), (topic, raw)
        kinds[topic.rsplit("/", 1)[1]] += 1
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    return kinds


def checked_messages(path: Path, lines: list[tuple[float, dict[str, str]]]) -> Iterator[tuple[float, str, str, Any]]:
    """Each message as (time, device, channel, body); after each, checks that a device's first report
    at or below 20 % (since it last reported above 30 %) has its low_battery truth line."""
    low_lines = {(t, truth["device"]) for t, truth in lines if truth["kind"] == "low_battery"}
    low: dict[str, bool] = {}
    for t, topic, raw in messages_only(read_recording(path)):
        device, channel = topic.split("/")[3:5]
        body = json.loads(raw)
        yield t, device, channel, body
        battery = body.get("battery")
        if battery is None:
            continue
        if battery > 30:
            low[device] = False
        elif battery <= 20 and not low.get(device):
            low[device] = True
            assert (t, device) in low_lines, (device, t, battery)


def assert_silent_until_found(path: Path, devices: Iterable[Device], *, falls_at_least: int,
                              found_after_h: tuple[float, float], finder_within_s: float, every_event: bool) -> None:
    """A fallen resident's devices report nothing of hers (but what is in flight) until the finder comes in,
    and the finder is seen within finder_within_s; at least falls_at_least falls, each found after hours
    within found_after_h. every_event: any event counts as hers, else only activity events (ACTIVITY)."""
    falls = [(t, truth) for t, truth in truths(path) if truth["kind"] == "inactivity"]
    assert len(falls) >= falls_at_least
    owner = {d.id: d.resident for d in devices}
    events = [(t, topic.split("/")[3]) for t, topic, raw in messages_only(read_recording(path))
              if topic.endswith("/event") and (every_event or any(a in raw for a in ACTIVITY))]
    for t, truth in falls:
        found = t + float(truth["found_after_h"]) * 3600
        assert found_after_h[0] <= float(truth["found_after_h"]) <= found_after_h[1], truth
        hers = [e for e, device in events if owner[device] == truth["resident"]]
        assert not [e for e in hers if t + 1 < e < found - 20], truth  # nothing of hers (but in flight) until the finder
        assert [e for e in hers if found - 20 <= e < found + finder_within_s], truth  # the finder is seen coming in


def gps_fixes(path: Path) -> list[tuple[float, str, Any]]:
    """Every GPS fix in the recording: (time, device, fix)."""
    return [(t, topic.split("/")[3], json.loads(raw)) for t, topic, raw in messages_only(read_recording(path))
            if topic.endswith("/gps")]


def fixes_outside(fixes: list[tuple[float, str, Any]], device: str, centre: LatLon, radius_m: float,
                  t: float) -> list[Any]:
    """The device's fixes farther than radius_m from centre in the 30 minutes from t."""
    return [f for x, d, f in fixes if d == device and t <= x < t + 1800
            and distance_m(centre, (f["lat"], f["lon"])) > radius_m]
