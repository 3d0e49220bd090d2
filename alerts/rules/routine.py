"""Learned routine: allowed silence per local hour of day from the resident's own history.

History is 24 counters "on how many days was the resident active in this hour" plus the day
being filled (a 24-bit mask). With at least `min_history_days` days, each hour gets a factor
on the fixed threshold: hours in which the resident is regularly active (REGULAR_SHARE of the
days) tighten the silence allowed (down to `min_factor`), hours in which they are less often
widen it (up to `max_factor`). A silence that may be sleep is judged by the night allowance
alone (`inactivity.due_time`): the learned routine shapes the day.
The walk in `inactivity.due_time` spends the silence budget hour by hour at these rates, so
the learned silence stays within [min_factor, max_factor] × the fixed threshold.
"""

from __future__ import annotations

from alerts.config import RoutineConfig
from alerts.localtime import DAY_S, local_day
from alerts.state import RoutineHistory

USUAL_SHARE = 0.5  # "usually active" in an hour: on at least half of the days
REGULAR_SHARE = 0.75  # an hour is tightened only when active on at least this share of the days


def record(history: RoutineHistory, tz: str, at: float) -> None:
    """Note activity at `at`; older days than the one being filled are ignored (late data)."""
    if history.day is None or not history.day_start <= at < history.day_start + DAY_S:
        day, start = local_day(at, tz)
        if history.day is not None and day < history.day:
            return
        if history.day is not None and day > history.day:
            _fold(history)
        if history.day != day:
            history.day, history.day_start, history.mask = day, start, 0
    hour = min(23, int((at - history.day_start) // 3600))
    history.mask |= 1 << hour


def _fold(history: RoutineHistory) -> None:
    for hour in range(24):
        if history.mask >> hour & 1:
            history.active_days[hour] += 1
    history.days += 1


def factors(history: RoutineHistory, cfg: RoutineConfig) -> list[float] | None:
    """Per local hour, the factor on the fixed threshold; None until there is enough history.

    Only an hour in which the resident was active on at least REGULAR_SHARE of the days is
    tightened (down to min_factor when active every day); one active on some days but not
    most is widened towards max_factor (never active). A resident who gets up at night now and
    then has not shown that silence in those hours is unusual."""
    if not cfg.enabled or history.days < cfg.min_history_days:
        return None
    return [_factor(count / history.days, cfg) for count in history.active_days]


def _factor(share: float, cfg: RoutineConfig) -> float:
    if share >= REGULAR_SHARE:
        return 1.0 - (1.0 - cfg.min_factor) * (share - REGULAR_SHARE) / (1.0 - REGULAR_SHARE)
    return 1.0 + (cfg.max_factor - 1.0) * (REGULAR_SHARE - share) / REGULAR_SHARE


def usual_hour(history: RoutineHistory, cfg: RoutineConfig, from_hour: int) -> tuple[int, int] | None:
    """The first hour after from_hour the resident is usually active in, and on how many days
    ("usually active by 09:00, 12 of 14 days"); None without enough history or such an hour."""
    if factors(history, cfg) is None:
        return None
    for step in range(1, 25):
        hour = (from_hour + step) % 24
        count = history.active_days[hour]
        if count >= USUAL_SHARE * history.days:
            return hour, count
    return None
