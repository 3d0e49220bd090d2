"""The blind world simulators/lingnan.py: a Guangzhou summer written from the contract, not from
the rules. Deterministic, every incident has its truth line, a fallen resident's devices report
no activity until the finder comes in, and every message is valid protocol."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from world_checks import (
    assert_same_seed_same_bytes,
    assert_silent_until_found,
    checked_messages,
    fixes_outside,
    gps_fixes,
    hers_near,
    message_kinds,
    recorded,
    truths,
)

from simulators.lingnan import FALLS, LingnanSimulation

HOMES, DAYS, SEED = 30, 7, 3


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[LingnanSimulation, Path]:
    return recorded(LingnanSimulation(HOMES, DAYS, SEED), tmp_path_factory.mktemp("lingnan"))


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
            hits = hers_near(lines, wanted[incident.kind], rid, day0)
            inside = [t for t, truth in lines if truth.get("fault") == "wander_inside_zone" and truth["resident"] == rid]
            assert hits or (incident.kind == "wander" and inside), f"{rid} {incident} has no truth line"


def test_outages_and_low_batteries_have_truth_lines(world: tuple[LingnanSimulation, Path]) -> None:
    """Read from the recording itself: a first report ≤ 20 % has its low_battery line; a device that
    sends its Last Will and stays unheard for three heartbeats has a device_offline line of hers."""
    sim, path = world
    lines = truths(path)
    owner = {d.id: d for d in sim.community.devices}
    offline = [(t, truth["resident"]) for t, truth in lines if truth["kind"] == "device_offline"]
    last_will: dict[str, float] = {}
    for t, device, channel, body in checked_messages(path, lines):
        if channel == "status" and body["state"] == "offline":
            last_will[device] = t
        elif channel != "status" and device in last_will:
            went = last_will.pop(device)
            if t - went > 3 * owner[device].heartbeat_s + 300:
                rid = owner[device].resident
                assert any(rid == r and went - 3 * 3600 < x <= went for x, r in offline), (device, went)


def test_a_fallen_resident_is_silent_until_the_finder(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    assert_silent_until_found(path, sim.community.devices, falls_at_least=3, found_after_h=(4, 16),
                              finder_within_s=3600, every_event=False)


def test_wanderers_are_seen_crossing_the_zone(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    exits = [(t, truth) for t, truth in truths(path) if truth["kind"] == "geofence_exit"]
    homes = {h.resident.id: h for h in sim.homes}
    fixes = gps_fixes(path)
    for t, truth in exits:
        home = homes[truth["resident"]]
        assert home.tag is not None and home.elder.dementia
        if truth["tag_on_her"] == "true":
            assert fixes_outside(fixes, home.tag.device, home.resident.home, 500, t), truth


def test_messages_are_valid_protocol_and_the_world_is_a_summer(world: tuple[LingnanSimulation, Path]) -> None:
    sim, path = world
    kinds = message_kinds(path)
    assert kinds["heartbeat"] > kinds["gps"] > kinds["event"] > 0
    assert "typhoon" in sim.weather.kind
    faults = Counter(t["fault"] for _, t in truths(path) if t["kind"] == "fault")
    assert faults["typhoon_cut"] or faults["breaker"]
    homes = sim.homes
    assert any(len(h.units) == 2 for h in homes) and any(h.door is None for h in homes) and any(h.tag is None for h in homes)
    assert any(h.door is not None and h.door.prop > 0.5 for h in homes)  # the wooden door open behind the iron gate
