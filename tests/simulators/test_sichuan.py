"""The blind world simulators/sichuan.py: a winter in the Sichuan hills written from the contract, not
from the rules. Deterministic, every incident has its truth line, a fallen resident's devices report
nothing of hers until the finder comes in (the dog, the cat or the heater may still set off the PIR),
every message is valid protocol, and the world looks like a Sichuan village in winter."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from statistics import median

import pytest
import yaml
from world_checks import (
    assert_same_seed_same_bytes,
    checked_messages,
    gps_fixes,
    hers_near,
    message_kinds,
    recorded,
    truths,
)

from simulators.geo import distance_m
from simulators.recording import messages_only, read_recording
from simulators.sichuan import BED, FALLS, NOT_HERS, SichuanSimulation, hour_of

HOMES, DAYS, SEED = 30, 7, 3
WANTED = {**dict.fromkeys(FALLS, "inactivity"), "sos": "sos", "sos_fall": "sos", "sos_mistaken": "sos",
          "sos_cancelled": "sos_cancelled", "wander": "geofence_exit", "smoke": "smoke", "gas": "gas"}
#: What a wandering or an SOS on the tag leaves when the tag was not there to show it.
EXCUSED = {"wander": ("wandered_off", "left_zone_tag_flat", "tag_left_on_the_charger"),
           "sos_fall": ("sos_not_sent_tag_unavailable",), "sos": ("sos_not_sent_tag_unavailable",),
           "sos_mistaken": ("sos_not_sent_tag_unavailable",)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[SichuanSimulation, Path]:
    return recorded(SichuanSimulation(HOMES, DAYS, SEED), tmp_path_factory.mktemp("sichuan"))


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    assert_same_seed_same_bytes(lambda seed: SichuanSimulation(6, 3, seed), tmp_path)


def test_every_incident_has_its_truth_line(world: tuple[SichuanSimulation, Path]) -> None:
    sim, path = world
    lines = truths(path)
    kinds = Counter(t["kind"] for _, t in lines)
    assert {"inactivity", "device_offline", "low_battery", "fault"} <= set(kinds)
    assert kinds["sos"] + kinds["sos_cancelled"] > 0
    for rid, plan in sim.plans.items():
        for incident in plan.incidents:
            day0 = sim.season.midnight(incident.day)
            excused = [t for t, truth in lines if truth["resident"] == rid and day0 - 86400 <= t < day0 + 2 * 86400
                       and truth.get("fault") in EXCUSED.get(incident.kind, ())]
            assert hers_near(lines, WANTED[incident.kind], rid, day0) or excused, f"{rid} {incident} has no truth line"


def test_outages_and_low_batteries_have_truth_lines(world: tuple[SichuanSimulation, Path]) -> None:
    """From the recording itself: a first report ≤ 20 % has its low_battery line (checked_messages); a device
    unheard for more than three heartbeat intervals has a device_offline line that names it."""
    sim, path = world
    lines = truths(path)
    offline = {(truth["device"], t) for t, truth in lines if truth["kind"] == "device_offline"}
    period = {d.id: d.heartbeat_s for d in sim.community.devices}
    last = dict.fromkeys(period, sim.start)
    gaps = []
    for t, device, channel, body in checked_messages(path, lines):
        if channel == "status" and body["state"] == "offline":
            continue  # a Last Will is not the device speaking
        if t - last[device] > 3 * period[device]:
            gaps.append((device, last[device], t))
        last[device] = t
    gaps += [(d, t, sim.end) for d, t in last.items() if sim.end - t > 3 * period[d]]
    assert gaps
    for device, went, back in gaps:
        assert any(d == device and went - 1 <= x < back for d, x in offline), (device, went, back)
    assert len(offline) == len(gaps)  # one line an outage, none for what did not happen


def test_a_fallen_resident_is_silent_until_the_finder(world: tuple[SichuanSimulation, Path]) -> None:
    """Between the fall and the finder, an event of her devices is only in flight from before, or the
    world's own account says a pet or the heater made it; the finder is seen within the hour."""
    sim, path = world
    falls = [(t, truth) for t, truth in truths(path) if truth["kind"] == "inactivity"]
    assert len(falls) >= 2
    owner = {d.id: d.resident for d in sim.community.devices}
    events = [(t, topic.split("/")[3], json.loads(raw)) for t, topic, raw in messages_only(read_recording(path))
              if topic.endswith("/event")]
    for tf, truth in falls:
        found = tf + float(truth["found_after_h"]) * 3600
        assert 2 <= float(truth["found_after_h"]) <= 16, truth
        hers = [(t, device, body) for t, device, body in events if owner[device] == truth["resident"]]
        for t, device, body in hers:
            if tf + 1 < t < found - 20:
                made, cause = sim.causes[(device, body["seq"])]
                assert made < tf or cause in NOT_HERS, (truth, device, body, cause)
        assert [t for t, _, _ in hers if found - 20 <= t < found + 3600], truth


def test_zone_exits_cross_the_circle(world: tuple[SichuanSimulation, Path]) -> None:
    """Every geofence_exit is a zoned resident whose tag reports a good fix clearly outside, taken within the
    next hours (a tag cut off by a tower down keeps only its newest fixes, and sends them late)."""
    sim, path = world
    houses = {h.rid: h for h in sim.houses}
    exits = [(t, truth) for t, truth in truths(path) if truth["kind"] == "geofence_exit"]
    fixes = gps_fixes(path)
    for t, truth in exits:
        h = houses[truth["resident"]]
        assert h.tag is not None and h.zone_m is not None, truth
        outside = [f for _, d, f in fixes if d == h.tag.device and t <= f["ts"] < t + 4 * 3600 and f["acc"] <= 100
                   and distance_m(h.resident.home, (f["lat"], f["lon"])) - f["acc"] > h.zone_m]
        assert outside, truth


def test_registry_zones_follow_the_village_committee(world: tuple[SichuanSimulation, Path]) -> None:
    sim, _ = world
    doc = yaml.safe_load(sim.registry_yaml())
    zoned = {r["id"]: r["zones"][0]["circle"]["radius_m"] for r in doc["residents"] if r.get("zones")}
    assert zoned == {h.rid: h.zone_m for h in sim.houses if h.zone_m is not None}
    assert all(h.rid in zoned for h in sim.houses if h.person.dementia and h.tag is not None)
    for h in sim.houses:
        if h.rid in zoned:
            assert h.tag is not None and (h.person.dementia or h.zone_why == "family_asked")
    assert len(zoned) < len(sim.houses) / 2  # most have none


def test_messages_are_valid_protocol_and_the_world_is_a_sichuan_winter(world: tuple[SichuanSimulation, Path]) -> None:
    sim, path = world
    kinds = message_kinds(path)
    assert kinds["heartbeat"] > kinds["gps"] > 0 and kinds["event"] > 0
    lines = truths(path)
    faults = Counter(t["fault"] for _, t in lines if t["kind"] == "fault")
    assert faults["market_day"] and faults["door_left_open"] and faults["power_cut"]
    market_days = {sim.season.date(d) for d in range(sim.season.days) if sim.season.market(d)}
    assert all(sim.season.date(sim.season.day_of(t)) in market_days for t, f in lines if f.get("fault") == "market_day")
    # early nights: she goes to bed between 19:00 and 22:00 most evenings, up before 8
    beds = [hour_of(s.t0) for plan in sim.plans.values() for prev, s in zip(plan.segs, plan.segs[1:], strict=False)
            if s.place == BED and s.act == "sleep" and prev.act != "toilet" and hour_of(s.t0) > 16]
    assert 19.0 < median(beds) < 21.5
    # the dog, the cat and the heater set off PIRs, day and night
    causes = Counter(cause for _, cause in sim.causes.values())
    assert causes["her"] > causes["dog"] + causes["cat"] > 0
    doors = Counter(h.door.on if h.door is not None else None for h in sim.houses)
    assert doors[None] and doors["main"]
    assert any(h.flat for h in sim.houses) and any(h.tag is not None and h.tag.form == "phone" for h in sim.houses)
