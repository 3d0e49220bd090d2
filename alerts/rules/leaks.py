"""A leaking cistern's water is not the resident's (rules.leaks; docs/RULES.md "Leaks").

A running toilet cistern refills on its own every 10-30 min, day and night, so a water meter
that reports each flow as `water_flow` went on "showing activity" while the resident lay on the
floor: on a copy of the field world with a leak in every metered home, 1 of 13 and 6 of 16
falls were found. People rarely use water in the deep night — a bathroom visit is a flush and a
tap: 1-5 flows in 01:00-05:00 on our worlds' nights — while a leak makes 8-24. So per meter the
hub counts the deep night's flows, and a meter that reached `night_flows` on `min_nights` of
the last `window_nights` nights is leaking: its flows still keep it online but are not the
resident's activity. The leak is forgotten once such nights leave the window (a fixed cistern).
Kept on the meter's rare side record (3 numbers).
"""

from __future__ import annotations

from alerts.config import LeaksConfig
from alerts.localtime import local_day, seconds_of_day
from alerts.rules.pets import DEEP_NIGHT  # 01:00-05:00 local: the resident sleeps
from alerts.state import DeviceState


def note_flow(ds: DeviceState, tz: str, at: float, cfg: LeaksConfig) -> None:
    """Count a flow of the deep night; a night that reaches `night_flows` is marked."""
    if not DEEP_NIGHT[0] <= seconds_of_day(at, tz) < DEEP_NIGHT[1]:
        return
    day = local_day(at, tz)[0]
    last = ds.leak_day
    if last is None or day > last:
        ds.leak_mask = (ds.leak_mask << (day - last if last is not None else 0)) & ((1 << cfg.window_nights) - 1)
        ds.leak_day, ds.leak_count = day, 0
    elif day < last:
        return  # a late flush of an older night: its count is closed
    ds.leak_count += 1
    if ds.leak_count >= cfg.night_flows:
        ds.leak_mask |= 1


def leaking(ds: DeviceState, tz: str, at: float, cfg: LeaksConfig) -> bool:
    """The meter flowed through `min_nights` of the last `window_nights` deep nights."""
    last = ds.leak_day
    if last is None or not ds.leak_mask:
        return False
    mask = (ds.leak_mask << max(0, local_day(at, tz)[0] - last)) & ((1 << cfg.window_nights) - 1)
    return mask.bit_count() >= cfg.min_nights
