"""Tag-confirmed absences (issue 15, session 12; rules.pets.tag_absences): in a home without a
door sensor, a home unit that the sun sets off by day hid her falls — no absence to learn its
background from. Her tag far from home is that evidence. Scenario tables on the virtual clock."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rules_kit import HOME, Device, Driver, registry, resident

from alerts.config import RulesConfig
from alerts.rules import pets
from alerts.state import MotionBackground
from devices import DeviceKind

H = 3600.0
TZ = "Asia/Shanghai"
FAR_LAT = HOME.lat + 0.004  # ~445 m north: beyond the home radius (150 m) with any accuracy up to 100 m
NEAR_LAT = HOME.lat + 0.0018  # ~200 m north: beyond it with 30 m accuracy, not with 80 m


def local(day: int, hour: float) -> float:
    return datetime(2025, 10, day, tzinfo=ZoneInfo(TZ)).timestamp() + hour * H


def sunny_home_without_door(days: int, on: bool, fall: tuple[int, float] | None = None, tag_lent: int | None = None,
                            sun: bool = True, tag_acc: float = 30.0, tag_lat: float = FAR_LAT) -> Driver:
    """`days` days of a resident up 07:00-21:30 who moves in bouts (5 motions 2 min apart every
    half hour) and sleeps 22:00-07:00, in a home with a home unit and a GPS tag but no door sensor;
    out two hours with her tag on every day but the last (10:00 on odd days, 14:00 on even ones):
    its fixes every 5 min at `tag_lat` (~445 m away) and `tag_acc`, at home every 15 min otherwise (accuracy 20 m).
    With `sun` the home unit fires alone every 25 min 08:00-18:00. `fall` (day, hour): her last bout
    then, only the sensor after it. `tag_lent` (day): she stays in, quietly (a lone motion every
    20 min), 13:00-16:00 while someone takes her tag out 13:00-17:00, and moves about from 16:00. `on`:
    rules.pets.tag_absences (rules.pets, hindsight and by_hour on in both)."""
    rules = RulesConfig(inactivity={"day_hours": 3, "day_hours_door": 2.5},
                        pets={"enabled": True, "hindsight": True, "by_hour": True, "tag_absences": on})
    devices = [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 86400 * 60),
               Device("tag-0001", DeviceKind.GPS_TAG, "r-0001", 86400 * 60)]
    drv = Driver.start(registry([resident(tz=TZ)], devices), rules=rules, at=local(1, 6.9))
    events: dict[float, tuple[str, ...]] = {}
    for day in range(1, days + 1):
        fell = fall is not None and fall[0] == day
        last_bout = fall[1] if fall is not None and fell else 21.5
        out = day < days and not fell
        leave = 10.0 if day % 2 else 14.0
        away = (leave, leave + 2) if out else (13.0, 17.0) if day == tag_lent else None
        stays_in = (13.0, 16.0) if day == tag_lent else away
        for h in (7.0 + k / 2 for k in range(int((last_bout - 7.0) * 2) + 1)):
            if stays_in is None or not stays_in[0] <= h < stays_in[1]:
                events.update({local(day, h) + 120 * j: ("cat-0001", "motion") for j in range(5)})
        if day == tag_lent:
            events.update({local(day, 13.0) + 600 + 1200 * j: ("cat-0001", "motion") for j in range(8)})
        t = local(day, 7.0)
        while t < local(day, 22.0):
            gone = away is not None and local(day, away[0]) + 60 <= t < local(day, away[1]) - 60
            events.setdefault(t, ("tag-0001", "far") if gone else ("tag-0001", "home"))
            t += 300 if gone else 900
        if sun:
            h = 8.1
            while h < 18.0:
                events.setdefault(local(day, h), ("cat-0001", "motion"))
                h += 25 / 60
    for t in sorted(t for t in events if t > drv.now):
        device, what = events[t]
        if device.startswith("tag"):
            far = what == "far"
            drv.fix(device, tag_lat if far else HOME.lat, HOME.lon, acc=tag_acc if far else 20.0, at=t)
        else:
            drv.event(device, what, t)
    drv.advance_to(local(days + 1, 0))
    return drv


def alerts_on(drv: Driver, day: int) -> list[float]:
    """Hours (local, of `day`) at which inactivity alerts opened that day."""
    return [(a.opened_at - local(day, 0)) / H for a in drv.opened("inactivity") if local(day, 0) <= a.opened_at < local(day + 1, 0)]


@pytest.mark.parametrize(
    ("name", "on", "found_at_h"),
    [
        ("her tag far while the sensor fired, four outings: a background where she was out; the fall at noon found at"
         " the nap allowance (3.5 h) after the sensor's 12:16 (8 min after her bout: its tail)", True, 12.0 + 16 / 60 + 3.5),
        ("rules.pets alone (control): no door, no absence learned; the sensor ends every silence till 18:00", False, None),
    ],
)
def test_her_tag_far_from_home_does_not_let_the_sensor_hide_a_fall(name: str, on: bool, found_at_h: float | None) -> None:
    found = [h for h in alerts_on(sunny_home_without_door(5, on, fall=(5, 12.0)), 5) if h < 18.0]
    assert found == ([] if found_at_h is None else [pytest.approx(found_at_h, abs=0.05)]), name


@pytest.mark.parametrize(
    ("name", "on", "sun", "tag", "lent", "learned"),
    [
        ("the sensor by day, her tag far on her four outings: four absences learned", True, True, (FAR_LAT, 30.0), None, 4),
        ("no sensor firing: four absences learned, none with motion (no background)", True, False, (FAR_LAT, 30.0), None, 4),
        ("her tag 200 m away, fixes at 30 m: beyond the home radius with all their accuracy", True, True, (NEAR_LAT, 30.0), None, 4),
        ("her tag 200 m away, fixes at 80 m: at the edge (the accuracy reaches into the home radius), nothing learned", True, True, (NEAR_LAT, 80.0), None, 0),
        ("her tag lent on day 4 while she stayed in quietly, then moved about with the tag still out: not learned", True,
         True, (FAR_LAT, 30.0), 4, 3),
        ("off (control): nothing learned", False, True, (FAR_LAT, 30.0), None, 0),
    ],
)
def test_which_runs_of_her_tag_are_learned(name: str, on: bool, sun: bool, tag: tuple[float, float], lent: int | None,
                                          learned: int) -> None:
    days = 5 if lent is None else 4
    drv = sunny_home_without_door(days, on, sun=sun, tag_lat=tag[0], tag_acc=tag[1], tag_lent=lent)
    rs = drv.engine.resident_state("r-0001")
    assert rs is not None and rs.background is not None
    assert len(rs.background.absences) == learned, name
    if name.startswith("no sensor"):
        assert pets.away_motion(rs.background, drv.engine._ctx.rules.pets) is None, name


@pytest.mark.parametrize(
    ("name", "on"),
    [("on: ordinary days, her outings with the tag: nothing", True), ("off (control)", False)],
)
def test_ordinary_days_raise_nothing(name: str, on: bool) -> None:
    assert sunny_home_without_door(8, on).opened("inactivity") == [], name


def test_a_run_survives_a_restart_and_old_snapshots_load() -> None:
    bg = MotionBackground()
    pets.tag_fix(bg, 1000.0, True, RulesConfig().pets, TZ)
    again = MotionBackground.from_dict(json.loads(json.dumps(bg.to_dict())))
    assert again == bg and again.tag_out == [1000.0, 1000.0, 1, 0.0]
    old = {"recent": [1.0], "first_day": 3, "nights": [[3, 2]], "away": [], "absences": [[2, 7200.0, 1]]}
    assert MotionBackground.from_dict(old).tag_out == []
