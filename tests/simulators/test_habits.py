"""The habits world (simulators/habits.py): days planned from the habits of elderly people in
Chinese cities, not from routines.py — up at dawn, the morning market, the noon nap, mahjong,
square dancing, early nights, weekends away — rendered by the field world's devices, with
truth lines."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime
from pathlib import Path

from devices import DeviceMessage, interpret
from simulators.engine import LOCAL_TZ, write_recording
from simulators.habits import HabitsSimulation
from simulators.recording import messages_only, read_recording
from simulators.routines import AWAY, DAY, HOUR, NAP, OUT, SLEEP, Seg

DAYS = 14


def hour(t: float) -> float:
    moment = datetime.fromtimestamp(t, LOCAL_TZ)
    return moment.hour + moment.minute / 60


def plans(residents: int = 30, seed: int = 3) -> list[tuple[str, int, list[Seg], dict[float, str]]]:
    """(resident, day, planned segments, outing kinds) of every resident-day."""
    sim = HabitsSimulation(residents, DAYS, seed)
    out = []
    for r in sim.community.residents:
        rs = sim.resident_sim(r, sim.midnight0, seed, [])
        for d in range(DAYS):
            segs = rs._plan(sim.midnight0 + d * DAY)
            out.append((r.id, d, segs, dict(rs.kinds)))
    return out


def test_the_day_follows_the_habits() -> None:
    days = plans()
    wakes, beds, markets, naps, mahjong, evenings, aways = [], [], [], [], [], [], []
    for _, _, segs, kinds in days:
        for s in segs:
            if s.kind == SLEEP and hour(s.start) == 0 and s.end - s.start > HOUR:
                wakes.append(hour(s.end))
            elif s.kind == SLEEP:
                beds.append(hour(s.start))
            elif s.kind == NAP:
                naps.append((hour(s.start), (s.end - s.start) / HOUR))
            elif s.kind == AWAY:
                aways.append((s.end - s.start) / DAY)
            elif s.kind == OUT:
                {"market": markets, "mahjong": mahjong, "evening": evenings}[kinds[s.start]].append(
                    (hour(s.start), hour(s.end)))
    assert sum(w < 6.5 for w in wakes) > 0.6 * len(wakes) and min(wakes) < 5 and max(wakes) > 7  # early risers, some late
    assert sum(b < 22 for b in beds) > 0.4 * len(beds) and min(beds) < 20.5  # early nights for many
    assert len(markets) > 0.3 * len(days)  # the morning market on many days ...
    assert all(5.4 < a < 9.6 and 1 - 0.01 <= b - a <= 2.5 + 0.01 for a, b in markets)  # ... at dawn, 1-2.5 h
    assert len(naps) > 0.4 * len(days) and all(12 <= a <= 15 and 0.5 <= n <= 2.5 for a, n in naps)
    assert mahjong and all(a >= 13.5 and b <= 17.5 + 0.01 for a, b in mahjong)
    assert evenings and all(a >= 18.5 and b <= 21 + 0.01 for a, b in evenings)
    assert aways and all(1 < n < 3 for n in aways)  # a weekend at a child's: 1-2 nights


def test_the_days_differ_from_routines_py() -> None:
    """routines.py's walks start 07:36-09:30 and nobody there is up before 05:00 or out before 07:30."""
    days = plans()
    early_outings = [s for _, _, segs, kinds in days for s in segs if s.kind == OUT and kinds[s.start] == "market"
                     and hour(s.start) < 7.5]
    assert len(early_outings) > 0.1 * len(days)


def test_truth_lines_and_valid_messages(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    write_recording(HabitsSimulation(30, 7, 2), path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    truths = [r["truth"] for r in rows if "truth" in r]
    kinds = Counter(t["kind"] for t in truths)
    faults = Counter(t["fault"] for t in truths if t["kind"] == "fault")
    assert faults["habits"] == 30  # every resident's drawn habits, for reading the alerts
    assert 3 <= faults["no_door_sensor"] <= 18 and 3 <= faults["no_tag"] <= 18  # about 70 % of homes have each
    assert kinds["inactivity"] >= 4  # falls in about 35 % of homes
    last = -math.inf
    for t, topic, payload in messages_only(read_recording(path)):
        assert t >= last
        last = t
        assert isinstance(interpret(topic, payload, t), DeviceMessage)


def test_a_fallen_resident_moves_no_device(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    write_recording(HabitsSimulation(30, 7, 2), path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    falls = [(float(r["t"]), r["truth"]["resident"]) for r in rows if "truth" in r and r["truth"]["kind"] == "inactivity"]
    assert falls
    for at, rid in falls:
        suffix = "-" + rid.split("-")[1]
        moved = [r for r in rows if "topic" in r and r["topic"].endswith("/event") and r["topic"].split("/")[3].endswith(suffix)
                 and at < float(r["t"]) < at + 3 * HOUR and json.loads(r["payload"])["type"] == "motion"]
        assert not moved
