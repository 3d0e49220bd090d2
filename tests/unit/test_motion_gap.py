"""rules.motion_gap (issue 15, session 15 "Device physics"): a home unit's PIR reports at most one
motion per blind time after each trigger — 60 s on ours, 120-300 s on many battery PIRs. The
rules counted motions in windows made for 60 s ("3 within 10 min": impossible at 300 s) and
confirmed a departure when no motion came within 10 min of the door, though the PIR may be blind
for the first minutes of them. Each unit's own gap is learned from its motions (pets.note_gap);
windows that count k motions fit it (pets.fit), a departure's confirmation counts from its end."""

from __future__ import annotations

import random

import pytest
from rules_kit import Driver, registry, resident

from alerts.config import PetsConfig, RulesConfig
from alerts.reasons import ReasonCode
from alerts.registry import Device
from alerts.rules import pets
from alerts.state import MotionBackground
from devices import DeviceKind

H = 3600.0
TZ = "Asia/Shanghai"
T7 = 1764111600.0  # 2025-11-26 07:00 Asia/Shanghai
DEVICES = [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 86400 * 30),
           Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 86400 * 30)]
POTTERING = (320.0, 700.0, 400.0, 900.0)  # a person about the flat seen by a 300 s PIR: never 3 reports in 10 min


def day_at_home(blind_s: float, door: str, motion_gap: bool) -> Driver:
    """Up at 07:00, her PIR (blind `blind_s` after each trigger) reporting every `blind_s` + 20 s
    until 10:00; 40 s after its last report she opens the door. `door`: "stays" — she looked
    out and stayed in: the PIR's next report 700 s after the door (it was blind when she moved
    by it), then pottering reports (POTTERING) until 22:00 and from 07:00 the next day to 12:00;
    "out 4 h" — she went out, back through the door at 14:00, then pottering as before."""
    rules = RulesConfig(motion_gap=motion_gap, inactivity={"day_hours_door": 2.5})
    drv = Driver.start(registry([resident(tz=TZ)], DEVICES), rules=rules, at=T7 - 60)
    t = T7
    while t < T7 + 3 * H:
        drv.event("cat-0001", "motion", t)
        last, t = t, t + blind_s + 20
    return door_then_pottering(drv, last + 40, door == "out 4 h")


def door_then_pottering(drv: Driver, opened: float, out: bool = False) -> Driver:
    """The door opened at `opened` and shut 10 s later; the bedroom unit's next report 700 s later
    (or, `out`, back through the door at 14:00), then pottering until 22:00 and 07:00-12:00 the next day."""
    drv.event("door-0001", "door_open", opened)
    drv.event("door-0001", "door_close", opened + 10)
    t = opened + 700
    if out:
        drv.event("door-0001", "door_open", T7 + 7 * H)
        drv.event("door-0001", "door_close", T7 + 7 * H + 10)
        t = T7 + 7 * H + 60
    for start, end in ((t, T7 + 15 * H), (T7 + 24 * H, T7 + 29 * H)):
        t, k = start, 0
        while t < end:
            drv.event("cat-0001", "motion", t)
            t, k = t + POTTERING[k % len(POTTERING)], k + 1
    drv.advance_to(T7 + 29 * H)
    return drv


@pytest.mark.parametrize(
    ("name", "blind_s", "door", "motion_gap", "alerts"),
    [
        ("300 s PIR, she stays in after opening the door: no departure, no alert", 300, "stays", True, []),
        ("key off: a departure, her pottering never makes a return (3 in 10 min): away too long 24 h after the door",
         300, "stays", False, [ReasonCode.AWAY_TOO_LONG]),
        ("300 s PIR, out 4 h through the door: the departure still holds, no alert while out", 300, "out 4 h", True, []),
        ("the same, key off", 300, "out 4 h", False, []),
        ("60 s PIR, out 4 h: as before", 60, "out 4 h", True, []),
    ],
)
def test_a_blind_time_pir_neither_invents_departures_nor_hides_returns(
        name: str, blind_s: float, door: str, motion_gap: bool, alerts: list[ReasonCode]) -> None:
    drv = day_at_home(blind_s, door, motion_gap)
    assert [a.reason.code for a in drv.opened("inactivity")] == alerts, name


def learned_gap(blind_s: float, n: int = 400, seed: int = 1) -> float | None:
    """A unit that re-arms `blind_s` after each trigger, a person setting it off at random
    (exponential pauses of mean 2 min) and now and then a jitter of a second."""
    rng, bg, t = random.Random(seed), MotionBackground(), 0.0
    for _ in range(n):
        t += blind_s + rng.expovariate(1 / 120) if rng.random() > 0.02 else 1.0
        pets.note_gap(bg, t)
    return bg.gap


@pytest.mark.parametrize(("blind_s", "low", "high"), [(60, 55, 80), (120, 115, 140), (300, 295, 325)])
def test_the_gap_learned_is_the_units_blind_time(blind_s: float, low: float, high: float) -> None:
    gap = learned_gap(blind_s)
    assert gap is not None and low <= gap <= high


@pytest.mark.parametrize(
    ("name", "gap", "motions", "sizes", "bout"),
    [
        ("60 s unit: 3 within 10 min, a bout", 60.0, (0, 120, 240), (3, 32, 32), True),
        ("300 s unit, key off (no gap): 3 reports 310 s apart are never within 10 min", None, (0, 310, 620), (3, 32, 32), False),
        ("300 s unit: the window fits 2 × 2 gaps (1240 s), a bout", 310.0, (0, 310, 620), (3, 32, 32), True),
        ("300 s unit: 3 reports over 25 min are no bout", 310.0, (0, 700, 1500), (3, 32, 32), False),
        ("60 s unit: windows unchanged, 3 reports over 11 min are no bout", 60.0, (0, 330, 660), (3, 32, 32), False),
    ],
)
def test_a_bout_fits_the_units_gap(name: str, gap: float | None, motions: tuple[float, ...], sizes: tuple[int, ...],
                                   bout: bool) -> None:
    bg = MotionBackground(recent=[1000.0 + m for m in motions], gap=gap)
    assert pets.in_bout(bg, 1000.0 + motions[-1], sizes) is bout, name


@pytest.mark.parametrize(
    ("name", "rate", "gap", "dead_time", "sizes"),
    [
        ("60 s unit, a pet of 1.5 an hour: the same bouts either way", 1.5, 60.0, True, (4, 5, 7)),
        ("the same, dead_time off", 1.5, 60.0, False, (4, 5, 7)),
        ("300 s unit: each window's live time only — 4 within 31 min (twice), 6 within 60 min",
         1.5, 310.0, True, (4, 4, 6)),
        ("300 s unit, dead_time off: the whole stretched window — 6 within 52 min (twice), 7 within 62 min", 1.5, 310.0, False, (6, 6, 7)),
    ],
)
def test_a_bout_against_a_blind_time_pir_counts_its_live_time(name: str, rate: float, gap: float, dead_time: bool,
                                                              sizes: tuple[int, ...]) -> None:
    """rules.pets.dead_time: a background of `rate` motions an hour seen through a PIR blind for
    `gap` after each trigger cannot put a motion within a gap of another, so k motions in a window
    take (k - 1) gaps of it: the chance counts the rest (at the rate before the blind time)."""
    cfg = PetsConfig(enabled=True, dead_time=dead_time)
    assert tuple(pets._size(rate, w, 6 * H, cfg, gap) for w in pets.BOUT_WINDOWS_S) == sizes, name


TWO_UNITS = [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 86400 * 30),
             Device("cat-0001-lr", DeviceKind.PINGAN_CAT, "r-0001", 86400 * 30),
             Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 86400 * 30)]


def two_rooms(per_unit: bool) -> Driver:
    """Two 300 s PIRs (bedroom, living room). From 04:00 to 10:00 she goes between the rooms:
    the bedroom unit reports every 320 s and the living-room unit 40 s after each (every 320 s
    too) — gaps of 40 and 280 s between the home's reports, none a sensor's. 40 s after the last
    she opens the door and stays in (the bedroom unit's next report 700 s after the door, blind
    when she passed it), then potters in the bedroom as in `day_at_home` until 22:00 and from
    07:00 the next day to 12:00."""
    rules = RulesConfig(motion_gap=True, motion_gap_per_unit=per_unit, inactivity={"day_hours_door": 2.5})
    drv = Driver.start(registry([resident(tz=TZ)], TWO_UNITS), rules=rules, at=T7 - 3 * H - 60)
    t = T7 - 3 * H
    while t < T7 + 3 * H:
        drv.event("cat-0001", "motion", t)
        drv.event("cat-0001-lr", "motion", t + 40)
        last, t = t + 40, t + 320
    return door_then_pottering(drv, last + 40)


@pytest.mark.parametrize(
    ("name", "per_unit", "alerts"),
    [
        ("each unit its own gap (300 s): the door is no departure, her pottering is hers", True, []),
        ("key off: the home's gap is the 40 s between two units' reports — a departure her pottering never ends",
         False, [ReasonCode.AWAY_TOO_LONG]),
    ],
)
def test_two_units_each_learn_their_own_gap(name: str, per_unit: bool, alerts: list[ReasonCode]) -> None:
    drv = two_rooms(per_unit)
    assert [a.reason.code for a in drv.opened("inactivity")] == alerts, name


def test_a_second_unit_keeps_the_first_ones_gap_and_waits_for_its_own() -> None:
    """A second unit's first motions (a room she seldom enters) do not move the home's gap: the
    first unit's stays until the second has seen UNIT_GAPS gaps of its own."""
    bg, t = MotionBackground(), 0.0
    for _ in range(100):
        t += 65.0
        pets.note_gap(bg, t, "cat-a")
    assert bg.gap is not None and 60 <= bg.gap <= 70 and bg.units is None
    for k in range(10):
        pets.note_gap(bg, t + 20 + 550 * k, "cat-b")  # 550 s apart: its estimate starts at 550
    assert bg.units is not None and bg.gap is not None and 60 <= bg.gap <= 70
    assert MotionBackground.from_dict(bg.to_dict()) == bg
