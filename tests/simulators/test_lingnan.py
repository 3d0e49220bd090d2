"""The blind world simulators/lingnan.py: a Guangzhou summer written from the contract, not from
the rules. Deterministic, every incident has its truth line, a fallen resident's devices report
no activity until the finder comes in, and every message is valid protocol."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from world_checks import assert_same_seed_same_bytes, truths

from devices import DeviceMessage, interpret
from simulators.engine import write_recording
from simulators.geo import distance_m
from simulators.lingnan import FALLS, LingnanSimulation
from simulators.recording import messages_only, read_recording

HOMES, DAYS, SEED = 30, 7, 3
ACTIVITY = (b'"motion"', b'"door_open"', b'"door_close"', b'"water_flow"', b'"button"')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[LingnanSimulation, Path]:
    sim = LingnanSimulation(HOMES, DAYS, SEED)
    path = tmp_path_factory.mktemp("lingnan") / "l.jsonl"
    write_recording(sim, path)
    return sim, path


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    assert_same_seed_same_bytes(lambda seed: LingnanSimulation(6, 3, seed), tmp_path)


def test_every_incident_has_its_truth_line(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    lines = truths(path)
    kinds = Counter(t["kind"] for _, t in lines)
    assert {"inactivity", "sos", "device_offline", "low_battery", "fault"} <= set(kinds)
    wanted = {**dict.fromkeys(FALLS, "inactivity"), "sos": "sos", "sos_cancelled": "sos_cancelled", "wander": "geofence_exit"}
    for rid, plan in sim.plans.items():
        for incident in plan.incidents:
            day0 = sim.start + incident.day * 86400
            hits = [t for t, truth in lines if truth["kind"] == wanted[incident.kind] and truth["resident"] == rid
                    and day0 - 86400 <= t < day0 + 2 * 86400]
            inside = [t for t, truth in lines if truth.get("fault") == "wander_inside_zone" and truth["resident"] == rid]
            assert hits or (incident.kind == "wander" and inside), f"{rid} {incident} has no truth line"


def test_outages_and_low_batteries_have_truth_lines(world: tuple[LingnanSimulation, Path]) -> None:
    """Read from the recording itself: a first report ≤ 20 % has its low_battery line; a device that
    sends its Last Will and stays unheard for three heartbeats has a device_offline line of hers."""
    sim, path = world
    lines = truths(path)
    owner = {d.id: d for d in sim.community.devices}
    low_lines = {(t, truth["device"]) for t, truth in lines if truth["kind"] == "low_battery"}
    offline = [(t, truth["resident"]) for t, truth in lines if truth["kind"] == "device_offline"]
    low: dict[str, bool] = {}
    last_will: dict[str, float] = {}
    for t, topic, raw in messages_only(read_recording(path)):
        device, channel = topic.split("/")[3:5]
        body = json.loads(raw)
        if channel == "status" and body["state"] == "offline":
            last_will[device] = t
        elif channel != "status" and device in last_will:
            went = last_will.pop(device)
            if t - went > 3 * owner[device].heartbeat_s + 300:
                rid = owner[device].resident
                assert any(rid == r and went - 3 * 3600 < x <= went for x, r in offline), (device, went)
        battery = body.get("battery")
        if battery is None:
            continue
        if battery > 30:
            low[device] = False
        elif battery <= 20 and not low.get(device):
            low[device] = True
            assert (t, device) in low_lines, (device, t, battery)


def test_a_fallen_resident_is_silent_until_the_finder(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    falls = [(t, truth) for t, truth in truths(path) if truth["kind"] == "inactivity"]
    assert len(falls) >= 3
    owner = {d.id: d.resident for d in sim.community.devices}
    events = [(t, topic.split("/")[3]) for t, topic, raw in messages_only(read_recording(path))
              if topic.endswith("/event") and any(a in raw for a in ACTIVITY)]
    for t, truth in falls:
        found = t + float(truth["found_after_h"]) * 3600
        assert 4 <= float(truth["found_after_h"]) <= 16
        hers = [e for e, device in events if owner[device] == truth["resident"]]
        assert not [e for e in hers if t + 1 < e < found - 20], truth  # nothing of hers (but in flight) until the finder
        assert [e for e in hers if found - 20 <= e < found + 3600], truth  # the finder is seen coming in


def test_wanderers_are_seen_crossing_the_zone(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    exits = [(t, truth) for t, truth in truths(path) if truth["kind"] == "geofence_exit"]
    homes = {h.resident.id: h for h in sim.homes}
    fixes = [(t, topic.split("/")[3], json.loads(raw)) for t, topic, raw in messages_only(read_recording(path))
             if topic.endswith("/gps")]
    for t, truth in exits:
        home = homes[truth["resident"]]
        assert home.tag is not None and home.elder.dementia
        if truth["tag_on_her"] == "true":
            far = [f for x, device, f in fixes if device == home.tag.device and t <= x < t + 1800
                   and distance_m(home.resident.home, (f["lat"], f["lon"])) > 500]
            assert far, truth


def test_messages_are_valid_protocol_and_the_world_is_a_summer(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kinds: Counter[str] = Counter()
    for t, topic, raw in messages_only(read_recording(path)):
        msg = interpret(topic, raw, t, "pingan/v1")
        assert isinstance(msg, DeviceMessage), (topic, raw)
        kinds[topic.rsplit("/", 1)[1]] += 1
    assert kinds["heartbeat"] > kinds["gps"] > kinds["event"] > 0
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    assert "typhoon" in sim.weather.kind
    faults = Counter(t["fault"] for _, t in truths(path) if t["kind"] == "fault")
    assert faults["typhoon_cut"] or faults["breaker"]
    homes = sim.homes
    assert any(len(h.units) == 2 for h in homes) and any(h.door is None for h in homes) and any(h.tag is None for h in homes)
    assert any(h.door is not None and h.door.prop > 0.5 for h in homes)  # the wooden door open behind the iron gate
