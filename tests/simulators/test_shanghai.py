"""The blind world simulators/shanghai.py: a Shanghai spring written from the contract, not from
the rules. Deterministic, every incident has its truth line, a fallen resident's devices report
no activity until the finder comes in, and every message is valid protocol."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
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

from simulators.shanghai import FALLS, ShanghaiSimulation

HOMES, DAYS, SEED = 20, 7, 3
WANTED = {**dict.fromkeys(FALLS, "inactivity"), "sos": "sos", "sos_mistaken": "sos", "sos_cancelled": "sos_cancelled",
          "wander": "geofence_exit", "smoke_steam": "smoke"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShanghaiSimulation, Path]:
    return recorded(ShanghaiSimulation(HOMES, DAYS, SEED), tmp_path_factory.mktemp("shanghai"))


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    assert_same_seed_same_bytes(lambda seed: ShanghaiSimulation(6, 3, seed), tmp_path)


def test_every_incident_has_its_truth_line(world: tuple[ShanghaiSimulation, Path]) -> None:
    sim, path = world
    lines = truths(path)
    kinds = Counter(t["kind"] for _, t in lines)
    assert {"inactivity", "device_offline", "low_battery", "fault"} <= set(kinds)
    assert kinds["sos"] + kinds["sos_cancelled"] > 0
    for rid, plan in sim.plans.items():
        for incident in plan.incidents:
            day0 = sim.start + incident.day * 86400
            assert hers_near(lines, WANTED[incident.kind], rid, day0), f"{rid} {incident} has no truth line"


def test_outages_and_low_batteries_have_truth_lines(world: tuple[ShanghaiSimulation, Path]) -> None:
    """From the recording itself: a first report ≤ 20 % has its low_battery line; a device that sends
    its Last Will and stays unheard for three heartbeats has a device_offline line of hers."""
    sim, path = world
    lines = truths(path)
    owner = {d.id: d for d in sim.community.devices}
    offline = [(t, truth["resident"], float(truth["hours"]) * 3600) for t, truth in lines if truth["kind"] == "device_offline"]
    last_will: dict[str, float] = {}
    for t, device, channel, body in checked_messages(path, lines):
        if channel == "status" and body["state"] == "offline":
            last_will.setdefault(device, t)
        elif channel == "heartbeat" and device in last_will:
            went = last_will.pop(device)
            if t - went > 3 * owner[device].heartbeat_s + 300:
                rid = owner[device].resident
                # her outage line: at the Last Will, or an earlier outage of the home still going on (one open alert a kind)
                assert any((rid == r and went - 3 * 3600 < x <= went + 1) or (rid == r and x <= went < x + span)
                           for x, r, span in offline), (device, went)


def test_a_fallen_resident_is_silent_until_the_finder(world: tuple[ShanghaiSimulation, Path]) -> None:
    sim, path = world
    assert_silent_until_found(path, sim.community.devices, falls_at_least=1, found_after_h=(3, 16),
                              finder_within_s=3600, every_event=False)


def test_wanderers_cross_their_zone(world: tuple[ShanghaiSimulation, Path]) -> None:
    sim, path = world
    exits = [(t, truth) for t, truth in truths(path) if truth["kind"] == "geofence_exit"]
    homes = {h.rid: h for h in sim.homes}
    fixes = gps_fixes(path)
    for t, truth in exits:
        home = homes[truth["resident"]]
        assert home.tag is not None and home.elder.dementia and home.zone_m is not None
        if truth["tag_on_her"] == "true":
            assert fixes_outside(fixes, home.tag.device, home.resident.home, home.zone_m, t), truth


def test_registry_zones_follow_the_office(world: tuple[ShanghaiSimulation, Path]) -> None:
    sim, _ = world
    doc = yaml.safe_load(sim.registry_yaml())
    zoned = {r["id"] for r in doc["residents"] if r.get("zones")}
    assert zoned == {h.rid for h in sim.homes if h.zone_m is not None}
    assert all(h.zone_m is not None for h in sim.homes if h.elder.dementia and h.tag is not None)


def test_messages_are_valid_protocol_and_the_world_is_shanghai(world: tuple[ShanghaiSimulation, Path]) -> None:
    sim, path = world
    kinds = message_kinds(path)
    assert kinds["heartbeat"] > max(kinds["gps"], kinds["event"]) and kinds["gps"] > 0 and kinds["event"] > 0
    faults = Counter(t.get("fault") for _, t in truths(path) if t["kind"] == "fault")
    assert faults["qingming_trip"] + faults["qingming_night_away"] > 0
    assert any(len(h.units) == 4 for h in sim.homes) and any(len(h.units) == 1 for h in sim.homes)
    assert any(h.tag is not None and h.tag.watch for h in sim.homes) and any(h.tag is None for h in sim.homes)
