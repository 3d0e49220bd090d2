"""Local time of day for rules: time zones (zoneinfo), HH:MM windows that may cross midnight.

Pure functions of an epoch time and an IANA zone name; ZoneInfo objects are cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from math import floor
from zoneinfo import ZoneInfo

DAY_S = 86400


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# The rules ask for a zone's offset several times per message; building a datetime each time was
# their largest single cost (benchmarks/rules_cost.py). Every UTC-offset change in the tz database
# since standard time zones (about 1900) falls on a quarter hour of UTC, so an offset holds for
# its whole quarter hour and is cached by it.
OFFSET_BUCKET_S = 900
_OFFSETS: dict[tuple[str, int], float] = {}
_OFFSETS_MAX = 4096


# `floor(t) // n`, not `int(t // n)`: the same integer (⌊⌊t⌋ / n⌋ = ⌊t / n⌋ for an integer n), while
# a float's floor division goes through fmod and a float result (~500 instructions more a call,
# several calls a message; docs/BENCHMARKS.md "Session 14: the rules' CPU per message").


def utc_offset_s(t: float, tz: str) -> float:
    key = (tz, floor(t) // OFFSET_BUCKET_S)
    offset = _OFFSETS.get(key)
    if offset is None:
        if len(_OFFSETS) >= _OFFSETS_MAX:
            _OFFSETS.clear()
        delta = datetime.fromtimestamp(t, UTC).astimezone(zone(tz)).utcoffset()
        offset = _OFFSETS[key] = 0.0 if delta is None else delta.total_seconds()
    return offset


def seconds_of_day(t: float, tz: str) -> float:
    return (t + utc_offset_s(t, tz)) % DAY_S


def local_day(t: float, tz: str) -> tuple[int, float]:
    """(day ordinal, epoch seconds of that local midnight)."""
    offset = utc_offset_s(t, tz)
    day = floor(t + offset) // DAY_S
    return day, day * DAY_S - offset


def hhmm(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(zone(tz)).strftime("%H:%M")


def local_text(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=256)
def parse_window(text: str) -> tuple[int, int]:
    """'21:00-07:00' → (75600, 25200) seconds of day; start == end means all day."""
    start, end = text.split("-")
    return _seconds(start), _seconds(end)


def _seconds(hh_mm: str) -> int:
    hours, minutes = hh_mm.strip().split(":")
    if not (0 <= int(hours) <= 24 and 0 <= int(minutes) < 60):
        raise ValueError(f"{hh_mm!r} is not a time of day HH:MM")
    return (int(hours) * 3600 + int(minutes) * 60) % DAY_S


def in_window(second_of_day: float, window: tuple[int, int]) -> bool:
    start, end = window
    if start == end:
        return True
    if start < end:
        return start <= second_of_day < end
    return second_of_day >= start or second_of_day < end  # crosses midnight
