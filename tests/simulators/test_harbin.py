"""The blind world (simulators/harbin.py, issue 15): a Harbin winter written from the contract,
not from the rules. Deterministic, every incident has its truth line, a fallen resident's
devices are silent until the finder comes in, and every message is valid protocol."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
from world_checks import (
    assert_same_seed_same_bytes,
    assert_silent_until_found,
    hers_near,
    message_kinds,
    recorded,
    truths,
)

from simulators.harbin import HarbinSimulation

HOMES, DAYS = 30, 10
TRUTH_OF = {"fall_day": "inactivity", "fall_evening": "inactivity", "fall_night": "inactivity", "sos": "sos",
            "sos_cancelled": "sos_cancelled", "wander": "geofence_exit", "power_cut": "device_offline",
            "battery_dies": "device_offline"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[HarbinSimulation, Path]:
    return recorded(HarbinSimulation(HOMES, DAYS, 4), tmp_path_factory.mktemp("harbin"))


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
        assert hers_near(lines, wanted, rid, day0), f"{incident} has no {wanted} truth line"


def test_a_fallen_resident_is_silent_until_the_finder(world: tuple[HarbinSimulation, Path]) -> None:
    sim, path = world
    assert_silent_until_found(path, sim.community.devices, falls_at_least=5, found_after_h=(5, math.inf),
                              finder_within_s=600, every_event=True)  # the finder's entry: door or motion


def test_messages_are_valid_protocol_and_the_world_is_a_winter(world: tuple[HarbinSimulation, Path]) -> None:
    sim, path = world
    kinds = message_kinds(path)
    assert kinds["heartbeat"] > kinds["event"] > kinds["gps"] > 0
    faults = Counter(t["fault"] for _, t in truths(path) if t["kind"] == "fault")
    assert faults["power_cut"] and faults["sick_day_in_bed"] and (faults["night_at_child"] or faults["hospital_night"])
    homes = sim.homes
    assert any(len(h.units) == 2 for h in homes) and any(h.door is None for h in homes) and any(h.tag is None for h in homes)
    assert any(not u.mains for h in homes for u in h.units) and any(u.mains for h in homes for u in h.units)
