"""The blind world (simulators/harbin.py, issue 15): a Harbin winter written from the contract,
not from the rules. Deterministic, every incident has its truth line, a fallen resident's
devices are silent until the finder comes in, and every message is valid protocol."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from world_checks import assert_same_seed_same_bytes, truths

from devices import DeviceMessage, interpret
from simulators.engine import write_recording
from simulators.harbin import HarbinSimulation
from simulators.recording import messages_only, read_recording

HOMES, DAYS = 30, 10
TRUTH_OF = {"fall_day": "inactivity", "fall_evening": "inactivity", "fall_night": "inactivity", "sos": "sos",
            "sos_cancelled": "sos_cancelled", "wander": "geofence_exit", "power_cut": "device_offline",
            "battery_dies": "device_offline"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[HarbinSimulation, Path]:
    sim = HarbinSimulation(HOMES, DAYS, 4)
    path = tmp_path_factory.mktemp("harbin") / "h.jsonl"
    write_recording(sim, path)
    return sim, path


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    assert_same_seed_same_bytes(lambda seed: HarbinSimulation(8, 3, seed), tmp_path)


def test_every_incident_has_its_truth_line(world: tuple[HarbinSimulation, Path]) -> None:
    sim, path = world
    lines = truths(path)
    kinds = Counter(t["kind"] for _, t in lines)
    assert {"inactivity", "sos", "sos_cancelled", "geofence_exit", "device_offline"} <= set(kinds)
    for incident in sim.incidents:
        rid = sim.homes[incident.home].resident.id
        day0 = sim.start + incident.day * 86400
        if incident.kind == "tag_low":  # context always; low_battery and device_offline when it gets that far
            assert any(t["kind"] == "fault" and t["fault"] == "charger_forgotten" and t["resident"] == rid for _, t in lines)
            continue
        wanted = TRUTH_OF[incident.kind]
        hits = [t for t, truth in lines if truth["kind"] == wanted and truth["resident"] == rid
                and day0 - 86400 <= t < day0 + 2 * 86400]
        assert hits, f"{incident} has no {wanted} truth line"


def test_a_fallen_resident_is_silent_until_the_finder(world: tuple[HarbinSimulation, Path]) -> None:
    sim, path = world
    falls = [(t, truth) for t, truth in truths(path) if truth["kind"] == "inactivity"]
    assert len(falls) >= 5
    owner = {d.id: d.resident for d in sim.community.devices}
    events = [(t, topic.split("/")[3]) for t, topic, _ in messages_only(read_recording(path)) if topic.endswith("/event")]
    for t, truth in falls:
        found = t + float(truth["found_after_h"]) * 3600
        hers = [e for e, device in events if owner[device] == truth["resident"]]
        assert not [e for e in hers if t + 1 < e < found - 20], truth  # nothing of hers (but in flight) until the finder
        assert [e for e in hers if found - 20 <= e < found + 600], truth  # the finder's entry is seen (door or motion)
        assert float(truth["found_after_h"]) >= 5


def test_messages_are_valid_protocol_and_the_world_is_a_winter(world: tuple[HarbinSimulation, Path]) -> None:
    sim, path = world
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kinds: Counter[str] = Counter()
    for t, topic, raw in messages_only(read_recording(path)):
        msg = interpret(topic, raw, t, "pingan/v1")
        assert isinstance(msg, DeviceMessage), (topic, raw)
        kinds[topic.rsplit("/", 1)[1]] += 1
    assert kinds["heartbeat"] > kinds["event"] > kinds["gps"] > 0
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    faults = Counter(t["fault"] for _, t in truths(path) if t["kind"] == "fault")
    assert faults["power_cut"] and faults["sick_day_in_bed"] and (faults["night_at_child"] or faults["hospital_night"])
    homes = sim.homes
    assert any(len(h.units) == 2 for h in homes) and any(h.door is None for h in homes) and any(h.tag is None for h in homes)
    assert any(not u.mains for h in homes for u in h.units) and any(u.mains for h in homes for u in h.units)
