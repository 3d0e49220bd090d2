"""A partition's backlog is ruled in device-time order across its batches, not in id order.

Found by benchmarks/same_alerts.py (1,000 homes, three hubs on a loaded machine, the rules
minutes behind ingestion): three hubs raised a `geofence_exit` that one hub and
`replay --offline` did not. The tag's fixes went outside, inside, outside 0.25 s apart (GPS
multipath at the zone edge: no two consecutive fixes outside, so no exit). Round robin gave
them to two hubs; the hub holding the first and the third committed its batch before the hub
holding the second, so the ids ran outside, outside, inside. `consume` took the backlog by id,
500 at a time, and sorted each batch by device time, but a batch boundary between the ids of
the two outside fixes and the inside one fed "outside, outside": an exit. The same cut can
swap an `sos` and its `sos_cancel`, or a battery reading and the one before.

Here on a virtual clock with real SQLite and PostgreSQL (`db_url`), one partitioned core owning
every partition, and batches of 2 events (CONSUME_BATCH) so that the boundary falls there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices import DeviceMessage, interpret
from hub.clock import VirtualClock
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules import partitions
from hub.rules.replay import run_offline

from .test_partitioned_core import alert_set, hub_config, import_registry, make_hub

TAG, RESIDENT = "tag-0009", "r-0009"


def zone_of(recording: Path, resident: str) -> dict[str, float]:
    registry = yaml.safe_load(Path(f"{recording}.registry.yaml").read_text(encoding="utf-8"))
    return next(r for r in registry["residents"] if r["id"] == resident)["zones"][0]["circle"]


def fix(zone: dict[str, float], from_centre_m: float, at: float, seq: int) -> dict[str, Any]:
    """A GPS fix of the tag `from_centre_m` north of the zone's centre (10 m accuracy)."""
    lat = zone["lat"] + from_centre_m / 111_320  # metres per degree of latitude
    payload = {"lat": round(lat, 6), "lon": zone["lon"], "ts": at, "seq": seq, "acc": 10.0, "battery": 80}
    return {"t": at, "topic": f"pingan/v1/dev/{TAG}/gps", "payload": json.dumps(payload)}


def store(hub: Any, lines: list[dict[str, Any]]) -> None:
    """One hub's ingestion batch, committed (ids in this order)."""
    from hub.ingest import store as ingest_store

    messages = [interpret(line["topic"], line["payload"].encode(), line["t"], "pingan/v1") for line in lines]
    assert all(isinstance(msg, DeviceMessage) for msg in messages)
    with hub.sessions.begin() as session:
        ingest_store.insert_events(session, messages, hub.map.partitions(session, {m.device_id for m in messages}))


def test_a_batch_boundary_does_not_reorder_a_devices_fixes(db_url: str, day_recording: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    zone = zone_of(day_recording, RESIDENT)
    t = 1_800_000_000.0
    outside, inside, outside_again = (fix(zone, zone["radius_m"] + 300, t, 1), fix(zone, 0, t + 0.25, 2),
                                      fix(zone, zone["radius_m"] + 300, t + 0.5, 3))
    clock = VirtualClock(t - 60)
    hub = make_hub(db_url, "hub-a", clock)
    import_registry(hub.sessions, day_recording)
    hub.load()
    monkeypatch.setattr(partitions, "CONSUME_BATCH", 2)
    # Round robin: hub A got the 1st and 3rd fix and committed first; hub B's batch with the
    # 2nd fix committed after it, so the ids run outside, outside, inside.
    store(hub, [outside, outside_again])
    store(hub, [inside])
    clock.set(t + 0.5 + hub.config.scale.settle_ms / 1000 + 1)
    assert hub.step() == 3

    recording = tmp_path / "fixes.jsonl"
    recording.write_text("".join(json.dumps(line) + "\n" for line in (outside, inside, outside_again)), encoding="utf-8")
    snapshot = to_snapshot(load_registry_file(Path(f"{day_recording}.registry.yaml")))
    offline = run_offline(recording, snapshot, hub_config(db_url, "offline"))
    assert [a.kind.value for a in offline.alerts] == []  # never two consecutive fixes outside
    assert {a for a in alert_set(hub.sessions) if a[0] == "geofence_exit"} == set()


def test_a_skewed_devices_sos_and_cancel_stamped_in_reverse_by_two_hubs(db_url: str, day_recording: Path) -> None:
    """A home unit whose clock runs a day ahead (its ts are rejected as skewed: `at` is the
    receiving hub's time) sends an SOS and, right after, its cancel. Round robin hands them to
    two hubs, and the cancel is stamped 11 ms before the SOS. As on one hub, the SOS is
    cancelled — not left open because the cancel looked earlier than the press."""
    t = 1_800_000_000.0
    clock = VirtualClock(t - 60)
    hub = make_hub(db_url, "hub-a", clock)  # one core owns every partition: rules what both hubs stored
    import_registry(hub.sessions, day_recording)
    hub.load()
    device_ts = t + 86_400

    def event(kind: str, seq: int, received_at: float) -> dict[str, Any]:
        payload = {"ts": device_ts + seq, "seq": seq, "type": kind}
        return {"t": received_at, "topic": "pingan/v1/dev/cat-0006/event", "payload": json.dumps(payload)}

    store(hub, [event("sos_cancel", 5, t - 0.011)])  # hub B
    store(hub, [event("sos", 4, t)])  # hub A
    clock.set(t + hub.config.scale.settle_ms / 1000 + 1)
    assert hub.step() == 2
    assert ("sos", "r-0006", "cat-0006", "cancelled") in alert_set(hub.sessions)
