"""Pure pieces of the web side: the live bus, percentiles, battery fit, person state, i18n."""

from __future__ import annotations

import asyncio
import threading

from dashboards.i18n import catalogue, pick_language, translator
from dashboards.live import RESYNC, EventBus
from dashboards.queries import DeviceHealthRow, days_left, derive_person_state
from dashboards.reports import percentile


def test_events_published_from_another_thread_reach_subscribers() -> None:
    bus = EventBus()

    async def scenario() -> list[str]:
        async with bus.subscribe() as queue:
            thread = threading.Thread(target=lambda: [bus.publish("alert", {"id": str(i)}) for i in range(3)])
            thread.start()
            got = [(await queue.get()).data["id"] for _ in range(3)]
            thread.join()
        return got

    assert asyncio.run(scenario()) == ["0", "1", "2"]
    assert bus.subscriber_count == 0


def test_an_overflowing_subscriber_gets_one_resync() -> None:
    bus = EventBus(queue_size=3)

    async def scenario() -> list[str]:
        async with bus.subscribe() as queue:
            for i in range(5):
                bus.publish("alert", {"id": str(i)})
            await asyncio.sleep(0)  # let call_soon_threadsafe callbacks run
            kinds = []
            while not queue.empty():
                kinds.append(queue.get_nowait().kind)
            return kinds

    kinds = asyncio.run(scenario())
    assert RESYNC in kinds and len(kinds) <= 3


def test_percentiles_interpolate() -> None:
    assert percentile([], 0.5) is None
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.1


def test_battery_days_left_by_linear_fit() -> None:
    day = 86400.0
    falling = [(i * day, 60 - 3 * i) for i in range(10)]  # 3 % a day
    assert abs(days_left(falling, 9 * day) - 11.0) < 1e-9
    assert days_left([(0, 50), (day, 55)], day) is None  # charging
    assert days_left([(0, 50)], 0) is None
    assert days_left([(0, 50), (60, 40)], 60) is None  # less than an hour of data


def _dev(kind: str, online: bool | None, lat: float | None = None, lon: float | None = None) -> DeviceHealthRow:
    return DeviceHealthRow("d", kind, "r", 300, online, 0.0, 80, None, None, lat, lon, None)


def test_derived_person_state() -> None:
    home = (45.75, 126.64)
    assert derive_person_state([_dev("pingan_cat", False)], home, 0.0, 10.0) == "unknown"
    assert derive_person_state([], home, None, 10.0) == "unknown"
    assert derive_person_state([_dev("pingan_cat", True), _dev("gps_tag", True, 45.76, 126.64)], home, 9.0, 10.0) == "away"
    assert derive_person_state([_dev("pingan_cat", True), _dev("gps_tag", True, 45.7501, 126.64)], home, 9.0, 10.0) == "home_active"
    assert derive_person_state([_dev("pingan_cat", True)], home, 0.0, 7200.0) == "home_quiet"


def test_catalogues_have_the_same_keys_and_fall_back() -> None:
    assert set(catalogue("zh-CN")) == set(catalogue("en"))
    assert pick_language("en-US") == "en" and pick_language(None) == "zh-CN" and pick_language("fr") == "zh-CN"
    assert translator("en")("time.minutes", n=12) == "12 min"
    assert translator("en")("no.such.key") == "no.such.key"
