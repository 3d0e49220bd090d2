"""scripts/real_homes.py: CASAS and van Kasteren logs become protocol v1 recordings the hub
accepts, with the devices' debounce, heartbeats and seq, on the resident's wall clock.

The samples are written here (synthetic lines in the datasets' formats, not real data).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.config import load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.replay import run_offline
from simulators.recording import read_recording

ROOT = Path(__file__).parents[2]
_spec = importlib.util.spec_from_file_location("real_homes", ROOT / "scripts" / "real_homes.py")
assert _spec is not None and _spec.loader is not None
real_homes = importlib.util.module_from_spec(_spec)
sys.modules["real_homes"] = real_homes  # dataclasses look their module up there
_spec.loader.exec_module(real_homes)

# A Thursday in 2010 (the legacy layout, with an annotation column), then the hh1xx layout.
CASAS = """\
2010-11-04 08:00:00.100000\tM003\tON\tSleeping end
2010-11-04 08:00:02.000000\tM003\tOFF
2010-11-04 08:00:30.000000\tM004\tON
2010-11-04 08:01:10.000000\tM004\tON
2010-11-04 08:01:15.000000\tT002\t21.5
2010-11-04 08:02:00\tD001\tOPEN
2010-11-04 08:02:20\tD001\tCLOSE
2010-11-04 09:30:00.000000\tLivingRoom\tLiving\tLiving\tON\tControl4-MotionArea
2010-11-04 09:31:00.000000\tFrontDoor\tEntry\tOPEN\tControl4_Door\tOther_Activity
2010-11-04 09:32:00.000000\tBedroomLight\tBedroom\tBedroom\tON\tControl4-Light
"""

KASTEREN = """\
Start time\tEnd time\tID\tVal
25-Feb-2008 09:33:41\t25-Feb-2008 09:33:42\t24\t1
25-Feb-2008 09:40:00\t25-Feb-2008 10:10:00\t12\t1
25-Feb-2008 11:00:00\t25-Feb-2008 11:00:05\t16\t1
"""


def convert(tmp_path: Path, fmt: str, text: str, *extra: str) -> tuple[list[tuple[float, str, dict]], Path]:
    data = tmp_path / f"{fmt}.txt"
    data.write_text(text, encoding="utf-8")
    out = tmp_path / "out" / f"{fmt}.jsonl"
    assert real_homes.main([fmt, str(data), "--home", "h1", "--out", str(out), "--start", "2026-10-05", *extra]) == 0
    messages = [(e[0], e[1], json.loads(e[2])) for e in read_recording(out) if isinstance(e, tuple)]
    return messages, out


def events(messages: list[tuple[float, str, dict]]) -> list[tuple[str, str, str]]:
    tz = ZoneInfo("Asia/Shanghai")
    return [(datetime.fromtimestamp(t, tz).strftime("%a %Y-%m-%d %H:%M:%S"), topic.split("/")[3], p["type"])
            for t, topic, p in messages if topic.endswith("/event")]


def test_casas_motion_is_debounced_doors_kept_other_sensors_dropped(tmp_path: Path) -> None:
    messages, _ = convert(tmp_path, "casas", CASAS)
    # Thursday 2010-11-04 moves by whole weeks to the first Thursday on or after 2026-10-05,
    # keeping the wall clock; M004 30 s after M003 is inside the 60 s debounce, 70 s after is not.
    assert events(messages) == [
        ("Thu 2026-10-08 08:00:00", "cat-h1", "motion"),
        ("Thu 2026-10-08 08:01:10", "cat-h1", "motion"),
        ("Thu 2026-10-08 08:02:00", "door-h1", "door_open"),
        ("Thu 2026-10-08 08:02:20", "door-h1", "door_close"),
        ("Thu 2026-10-08 09:30:00", "cat-h1", "motion"),
        ("Thu 2026-10-08 09:31:00", "door-h1", "door_open"),
    ]


def test_heartbeats_and_seq_as_a_device_sends_them(tmp_path: Path) -> None:
    messages, _ = convert(tmp_path, "casas", CASAS)
    beats = {d: [t for t, topic, _ in messages if topic == f"pingan/v1/dev/{d}/heartbeat"] for d in ("cat-h1", "door-h1")}
    assert {d: {round(b - a) for a, b in pairwise(ts)} for d, ts in beats.items()} == {"cat-h1": {300}, "door-h1": {900}}
    assert len(beats["cat-h1"]) == 19  # 08:00:00 to 09:31:00 every 300 s
    for device in ("cat-h1", "door-h1"):
        mine = [(t, p) for t, topic, p in messages if f"/{device}/" in topic]
        assert [p["seq"] for _, p in mine] == list(range(1, len(mine) + 1))
        assert all(p["ts"] == round(t, 3) for t, p in mine)
    assert [t for t, _, _ in messages] == sorted(t for t, _, _ in messages)


def test_the_hub_accepts_every_message_and_the_registry(tmp_path: Path) -> None:
    messages, out = convert(tmp_path, "casas", CASAS, "--timezone", "America/Los_Angeles")
    registry = load_registry_file(out.with_name(out.name + ".registry.yaml"))
    assert [d.id for d in registry.devices] == ["cat-h1", "door-h1"]
    result = run_offline(out, to_snapshot(registry), load_config(ROOT / "config.yaml", environ={}))
    assert (result.summary["messages"], result.summary["rejected"]) == (len(messages), 0)
    first = datetime.fromtimestamp(messages[0][0], ZoneInfo("America/Los_Angeles"))
    assert first.strftime("%Y-%m-%d %H:%M") == "2026-10-08 08:00"


def test_kasteren_front_door_and_both_edges_of_a_switch(tmp_path: Path) -> None:
    messages, _ = convert(tmp_path, "kasteren", KASTEREN, "--door", "12", "--pir", "16")
    assert events(messages) == [
        ("Mon 2026-10-05 09:33:41", "cat-h1", "motion"),  # 24 opened; its close 1 s later is debounced
        ("Mon 2026-10-05 09:40:00", "door-h1", "door_open"),
        ("Mon 2026-10-05 10:10:00", "door-h1", "door_close"),
        ("Mon 2026-10-05 11:00:00", "cat-h1", "motion"),  # PIR 16: its END is no movement
    ]


@pytest.mark.parametrize("bad", ["2010-11-04 M003 ON\n", "yesterday noon M003 ON\n"])
def test_unreadable_lines_are_a_clear_error(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bad.txt"
    data.write_text(bad, encoding="utf-8")
    assert real_homes.main(["casas", str(data), "--home", "h1", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert f"{data}:1:" in capsys.readouterr().err


def test_kasteren_door_latch_edges_are_passages(tmp_path: Path) -> None:
    messages, _ = convert(tmp_path, "kasteren", KASTEREN, "--door", "12", "--door-latch")
    doors = [e for e in events(messages) if e[1] == "door-h1"]
    assert doors == [
        ("Mon 2026-10-05 09:40:00", "door-h1", "door_open"), ("Mon 2026-10-05 09:40:05", "door-h1", "door_close"),
        ("Mon 2026-10-05 10:10:00", "door-h1", "door_open"), ("Mon 2026-10-05 10:10:05", "door-h1", "door_close"),
    ]


# The Ordóñez layout: START END LOCATION TYPE PLACE, tabs and stray spaces between columns.
ORDONEZ = """\
Start time          \tEnd time            \tLocation\tType\t\tPlace
--------------------\t--------------------\t--------\t--------\t-----
2011-11-28 02:27:59\t\t2011-11-28 10:18:11\t\tBed\t\t\tPressure\tBedroom
2011-11-28 10:21:44\t\t2011-11-28 10:24:00\t\tBasin\t\tPIR\t\t\tBathroom
2011-11-28 10:30:02 \t2011-11-28 10:30:36\t\tToilet\t\tFlush\t\tBathroom
2011-11-28 13:09:31\t\t2011-11-28 13:09:35\t\tMaindoor\tMagnetic\tEntrance
"""


def test_ordonez_door_pir_through_its_interval_flush_at_its_start(tmp_path: Path) -> None:
    messages, out = convert(tmp_path, "ordonez", ORDONEZ)
    assert events(messages) == [
        ("Mon 2026-10-05 02:27:59", "cat-h1", "motion"),  # the bed mat pressed ...
        ("Mon 2026-10-05 10:18:11", "cat-h1", "motion"),  # ... and released
        ("Mon 2026-10-05 10:21:44", "cat-h1", "motion"),  # the PIR saw movement from 10:21:44 to 10:24:00:
        ("Mon 2026-10-05 10:22:44", "cat-h1", "motion"),  # one motion a debounce interval
        ("Mon 2026-10-05 10:23:44", "cat-h1", "motion"),
        ("Mon 2026-10-05 10:30:02", "cat-h1", "motion"),  # the flush; its end (the cistern) is no movement
        ("Mon 2026-10-05 13:09:31", "door-h1", "door_open"),
        ("Mon 2026-10-05 13:09:35", "door-h1", "door_close"),
    ]
    registry = load_registry_file(out.with_name(out.name + ".registry.yaml"))
    result = run_offline(out, to_snapshot(registry), load_config(ROOT / "config.yaml", environ={}))
    assert (result.summary["messages"], result.summary["rejected"]) == (len(messages), 0)


def test_ordonez_one_unit_a_room_each_with_its_own_debounce_and_heartbeats(tmp_path: Path) -> None:
    text = ORDONEZ + "2011-11-28 10:22:10\t\t2011-11-28 10:22:12\t\tCupboard\tMagnetic\tKitchen\n"
    messages, out = convert(tmp_path, "ordonez", text, "--units", "rooms")
    assert events(messages)[:7] == [
        ("Mon 2026-10-05 02:27:59", "cat-h1-bedroom", "motion"),
        ("Mon 2026-10-05 10:18:11", "cat-h1-bedroom", "motion"),
        ("Mon 2026-10-05 10:21:44", "cat-h1-bathroom", "motion"),
        ("Mon 2026-10-05 10:22:10", "cat-h1-kitchen", "motion"),  # 26 s after the bathroom's: its own debounce
        ("Mon 2026-10-05 10:22:44", "cat-h1-bathroom", "motion"),  # (the cupboard's closing at 10:22:12 debounced)
        ("Mon 2026-10-05 10:23:44", "cat-h1-bathroom", "motion"),
        ("Mon 2026-10-05 10:30:02", "cat-h1-bathroom", "motion"),
    ]
    beats = {topic.split("/")[3] for _, topic, _ in messages if topic.endswith("/heartbeat")}
    assert beats == {"cat-h1-bathroom", "cat-h1-bedroom", "cat-h1-kitchen", "door-h1"}  # the empty rooms' units beat too
    registry = load_registry_file(out.with_name(out.name + ".registry.yaml"))
    assert sorted(d.id for d in registry.devices) == ["cat-h1-bathroom", "cat-h1-bedroom", "cat-h1-kitchen", "door-h1"]
    result = run_offline(out, to_snapshot(registry), load_config(ROOT / "config.yaml", environ={}))
    assert (result.summary["messages"], result.summary["rejected"]) == (len(messages), 0)


def test_kasteren_rooms_from_the_sensor_map_and_a_sensor_without_a_room_refused(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    rooms = tmp_path / "map.txt"
    rooms.write_text("12,Front door,Outside\n24,Hall-Bedroom door,SleepDoor\n", encoding="utf-8")
    args = ("--door", "12", "--units", "rooms", "--rooms", str(rooms))
    data = tmp_path / "kasteren.txt"
    data.write_text(KASTEREN, encoding="utf-8")
    assert real_homes.main(["kasteren", str(data), "--home", "h1", "--out", str(tmp_path / "x.jsonl"), *args]) == 2
    assert "sensor 16 has no room in the rooms map" in capsys.readouterr().err
    rooms.write_text("12,Front door,Outside\n24,Hall-Bedroom door,SleepDoor\n16,Kitchen-Drawer A-houseD,Kitchen\n",
                     encoding="utf-8")
    messages, _ = convert(tmp_path, "kasteren", KASTEREN, *args)
    assert {e[1] for e in events(messages)} == {"cat-h1-bedroom", "cat-h1-kitchen", "door-h1"}
    messages, _ = convert(tmp_path, "kasteren", KASTEREN, *args, "--room-from", "prefix")
    assert {e[1] for e in events(messages)} == {"cat-h1-hall", "cat-h1-kitchen", "door-h1"}  # "Hall-...": the hall


@pytest.mark.parametrize("bad", ["2011-11-28 02:27:59 2011-11-28 10:18:11 Bed\n",
                                 "2011-11-28 10:00:00 2011-11-28 09:00:00 Bed Pressure Bedroom\n"])
def test_ordonez_bad_lines_name_file_and_line(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bad.txt"
    data.write_text("Start time\tEnd time\tLocation\tType\tPlace\n" + bad, encoding="utf-8")
    assert real_homes.main(["ordonez", str(data), "--home", "h1", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert f"{data}:2:" in capsys.readouterr().err


HOURLY = """\
timestamp,co2,movement,hour
2019-11-06 10:00:00+00:00,117.0,3.0,10
2019-11-06 11:00:00+00:00,80.8,0.0,11
2019-11-06 12:00:00+00:00,84.7,1.0,12
"""


def test_hourly_counts_spread_over_their_hour_and_no_door_sensor(tmp_path: Path) -> None:
    messages, out = convert(tmp_path, "hourly", HOURLY)
    assert events(messages) == [  # Wednesday 2019-11-06 -> the first Wednesday on or after 2026-10-05
        ("Wed 2026-10-07 10:10:00", "cat-h1", "motion"),
        ("Wed 2026-10-07 10:30:00", "cat-h1", "motion"),
        ("Wed 2026-10-07 10:50:00", "cat-h1", "motion"),
        ("Wed 2026-10-07 12:30:00", "cat-h1", "motion"),
    ]
    assert not [m for m in messages if "/door-h1/" in m[1]]  # no door event in the data: no door sensor
    registry = load_registry_file(out.with_name(out.name + ".registry.yaml"))
    assert [d.id for d in registry.devices] == ["cat-h1"]
    result = run_offline(out, to_snapshot(registry), load_config(ROOT / "config.yaml", environ={}))
    assert (result.summary["messages"], result.summary["rejected"]) == (len(messages), 0)


def test_hourly_bad_count_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("timestamp,movement\n2019-11-06 10:00:00,3\n2019-11-06 11:00:00,many\n", encoding="utf-8")
    assert real_homes.main(["hourly", str(data), "--home", "h1", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert f"{data}:3:" in capsys.readouterr().err
