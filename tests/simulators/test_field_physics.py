"""Field-device physics knobs (session 10): off by default, each with its truth lines, and
profile overrides (`name+key=value`) that keep the base world's random streams."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from simulators.engine import write_recording
from simulators.field import PROFILES, FieldSimulation, Profile, with_overrides

ROOT = Path(__file__).parents[2]
Row = dict[str, object]


def world(profile: Profile, path: Path, residents: int = 8, days: float = 3, seed: int = 4) -> list[Row]:
    write_recording(FieldSimulation(profile, residents, days, seed), path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def faults(rows: list[Row]) -> Counter[str]:
    return Counter(r["truth"]["fault"] for r in rows if "truth" in r and r["truth"]["kind"] == "fault")  # type: ignore[index]


def channels(rows: list[Row]) -> Counter[str]:
    return Counter(str(r["topic"]).rsplit("/", 1)[1] for r in rows if "topic" in r)


def test_overrides_parse_each_type_and_keep_the_name() -> None:
    p = with_overrides(PROFILES["field"], ["scatter_m=400", "loss_rate=0.1:0.2", "exact_falls=true", "falls_from_day=3"])
    assert (p.name, p.scatter_m, p.loss_rate, p.exact_falls, p.falls_from_day) == ("field", 400.0, (0.1, 0.2), True, 3)
    with pytest.raises(ValueError, match="Profile field"):
        with_overrides(PROFILES["field"], ["no_such_knob=1"])


def test_knobs_off_change_nothing_and_each_knob_shows(tmp_path: Path) -> None:
    base = world(PROFILES["field"], tmp_path / "base.jsonl")
    same = world(with_overrides(PROFILES["field"], ["lossy=0", "duplicates=0", "pir_false=0"]), tmp_path / "same.jsonl")
    assert same == base
    lossy = world(with_overrides(PROFILES["field"], ["lossy=1", "loss_rate=0.2:0.2"]), tmp_path / "lossy.jsonl")
    assert faults(lossy)["message_loss"] == 8
    assert channels(lossy)["heartbeat"] < 0.85 * channels(base)["heartbeat"]
    dup = world(with_overrides(PROFILES["field"], ["duplicates=0.1"]), tmp_path / "dup.jsonl")
    seen = Counter((r["topic"], r["payload"]) for r in dup if "topic" in r)
    assert sum(n > 1 for n in seen.values()) > 0.05 * len(seen)
    pir = world(with_overrides(PROFILES["field"], ["pir_false=1", "pir_false_per_hour=3:3"]), tmp_path / "pir.jsonl")
    assert faults(pir)["pir_false"] >= 7 and channels(pir)["event"] > channels(base)["event"] + 8 * 3 * 10 * 3 * 0.7
    longs = world(with_overrides(PROFILES["field"], ["long_outages_per_week=3", "outage_flush=0"]), tmp_path / "long.jsonl")
    assert faults(longs)["wifi_outage"] > faults(base)["wifi_outage"] and faults(longs)["outage_not_flushed"] > 0


def test_an_overridden_profile_gets_its_own_recording(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import detection

    rec, _ = detection.simulate(tmp_path, "field+lossy=1", 3, 1, 1)
    assert rec.name == "field+lossy=1-3r-1d-s1.jsonl"
    assert detection.with_set(["field", "gps"], "lossy=1,duplicates=0.1") == ["field+lossy=1+duplicates=0.1", "gps+lossy=1+duplicates=0.1"]


def motions(rows: list[Row]) -> list[tuple[float, str]]:
    return [(float(r["t"]), str(r["topic"]).split("/")[3])  # type: ignore[arg-type]
            for r in rows if "topic" in r and str(r["topic"]).endswith("/event") and '"motion"' in str(r["payload"])]


def test_two_units_split_the_same_movements_and_a_balcony_door_opens_at_home(tmp_path: Path) -> None:
    """units=2 (session 16): a bedroom unit and a living-room unit see, between them, the very
    movements the one unit saw (the same streams); each sends heartbeats all along. balcony: a
    second door sensor opened and closed while she stays home."""
    base = world(PROFILES["rooms"], tmp_path / "base.jsonl")
    two = world(with_overrides(PROFILES["rooms"], ["units=1"]), tmp_path / "same.jsonl")
    assert two == base
    two = world(with_overrides(PROFILES["rooms"], ["units=2"]), tmp_path / "two.jsonl")
    assert sorted(t for t, _ in motions(two)) == sorted(t for t, _ in motions(base))
    by_unit = Counter(unit for _, unit in motions(two))
    assert len(by_unit) == 16 and all(unit.startswith("cat-") for unit in by_unit)  # 8 homes × 2 units
    assert min(by_unit.values()) > 10  # each room sees her
    beats = Counter(str(r["topic"]).split("/")[3] for r in two if "topic" in r and str(r["topic"]).endswith("/heartbeat"))
    assert all(beats[unit] > 2 * 86400 / 300 for unit in by_unit)
    bal = world(with_overrides(PROFILES["rooms"], ["units=2", "balcony=1", "balcony_per_day=3:3"]), tmp_path / "bal.jsonl")
    doors = Counter(json.loads(str(r["payload"]))["type"] for r in bal if "topic" in r and "-bal/event" in str(r["topic"]))
    assert doors["door_open"] == doors["door_close"] > 8


def test_a_second_unit_leaves_the_other_devices_faults_as_they_were(tmp_path: Path) -> None:
    """units=2 and balcony draw the new devices' faults from streams of their own: the Wi-Fi
    outages, clocks and replacements of the one-unit world's devices stay as they were."""
    def truths(rows: list[Row]) -> list[object]:
        return [r["truth"] for r in rows if "truth" in r and r["truth"]["kind"] == "fault"  # type: ignore[index]
                and not str(r["truth"].get("device", "")).endswith(("-lr", "-bal"))]  # type: ignore[index,union-attr]
    base = world(PROFILES["devices"], tmp_path / "base.jsonl")
    two = world(with_overrides(PROFILES["devices"], ["units=2", "balcony=0.5"]), tmp_path / "two.jsonl")
    assert truths(two) == truths(base) and faults(base)["wifi_outage"] > 0
