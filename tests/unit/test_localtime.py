"""The cached UTC offset is the zone's own at every instant, across DST changes of every kind."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from alerts.localtime import utc_offset_s, zone

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]


def uncached(t: float, tz: str) -> float:
    offset = datetime.fromtimestamp(t, UTC).astimezone(zone(tz)).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


@pytest.mark.parametrize("tz", ZONES)
def test_cached_offset_is_the_zones_own(tz: str) -> None:
    """Random instants of 2024-2027 and every second around each DST change of New York and Lord
    Howe (a 30 min shift): the cache never hands out the offset of the other side."""
    rng = random.Random(7)
    start, end = datetime(2024, 1, 1, tzinfo=UTC).timestamp(), datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    instants = [rng.uniform(start, end) for _ in range(3000)]
    changes = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York
               datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC)]  # Lord Howe
    for change in changes:
        instants += [change.timestamp() + k for k in range(-1000, 1000, 7)]
    wrong = [t for t in instants if utc_offset_s(t, tz) != uncached(t, tz)]
    assert wrong == []
