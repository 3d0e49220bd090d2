"""Learned routine: with enough history the allowed silence follows the resident's own day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rules_kit import Device, Driver, registry, resident

from alerts.config import RoutineConfig, RulesConfig
from alerts.rules.routine import factors, record
from alerts.state import RoutineHistory
from devices import DeviceKind

TZ = "Asia/Shanghai"


def local(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2025, 11, day, hour, minute, tzinfo=ZoneInfo(TZ)).timestamp()


def lived(days: int, enabled: bool = True) -> Driver:
    rules = RulesConfig(routine=RoutineConfig(enabled=enabled, min_history_days=14))
    reg = registry([resident(tz=TZ)], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 86400 * 60)])
    drv = Driver.start(reg, rules=rules, at=datetime(2025, 10, 1, 6, tzinfo=ZoneInfo(TZ)).timestamp())
    start = datetime(2025, 10, 1, tzinfo=ZoneInfo(TZ)).timestamp()
    for day in range(days):
        for hour in range(7, 22):
            drv.event("cat-0001", "motion", start + day * 86400 + hour * 3600 + 900)
    return drv


@pytest.mark.parametrize(("days", "enabled", "due_hours"), [(20, True, 3.0), (10, True, 6.0), (20, False, 6.0)])
def test_learned_silence_tightens_in_usually_active_hours(days: int, enabled: bool, due_hours: float) -> None:
    drv = lived(days, enabled)
    last = datetime(2025, 10, 1, tzinfo=ZoneInfo(TZ)).timestamp() + days * 86400 + 7 * 3600 + 40 * 60  # 07:40
    drv.event("cat-0001", "motion", last)
    drv.advance_to(last + 7 * 3600)
    alerts = [a for a in drv.opened("inactivity") if a.triggered_at == last]
    assert len(alerts) == 1
    assert alerts[0].opened_at - last == pytest.approx(due_hours * 3600, abs=60)
    if due_hours == 3.0:
        why = alerts[0].reason.params  # learned: usually active in the 08:00 hour, on every one of the days
        assert (why["basis"], why["usual_hour"], why["usual_days"], why["history_days"]) == ("learned", 8, days, days)
        assert why["last_activity"] == last and why["threshold_s"] == round(alerts[0].opened_at - last)


def test_factors_stay_in_bounds() -> None:
    cfg = RoutineConfig(enabled=True, min_history_days=2, min_factor=0.5, max_factor=1.5)
    history = RoutineHistory()
    for day in range(5):
        record(history, TZ, local(1, 9) + day * 86400)
    record(history, TZ, local(1, 9) + 5 * 86400)
    f = factors(history, cfg)
    assert f is not None and all(0.5 <= x <= 1.5 for x in f)
    assert f[9] == 0.5 and f[3] == 1.5
    assert history.days == 5


def test_late_activity_from_an_older_day_is_ignored_by_history() -> None:
    history = RoutineHistory()
    record(history, TZ, local(10, 9))
    record(history, TZ, local(9, 9))
    assert history.day is not None and history.days == 0 and history.mask == 1 << 9
