"""Inactivity: too long a silence at home, judged in the resident's local time.

The silence budget is spent at 1/day_hours per hour by day and 1/night_hours per hour inside
the night window (which may cross midnight), times the learned per-hour factor when the routine
applies; the alert is due when the budget is spent. A silence starting at 20:00 with 6 h / 12 h
and 21:00-07:00 is due at 07:00 (1 h of day = 1/6, 10 h of night = 10/12).

The night allowance is for sleep: a silence that began by day more than BEDTIME_LEAD_S before
the night window opens (the last movement at 18:30, with a 21:00 window) is judged at the day
rate all along — whoever goes to bed moves on the way there, so a silence that started long
before bedtime and runs on into the night is a resident who never went to bed (a fall in the
early evening was otherwise found only the next morning, 9–10 h later). A resident who
really sleeps earlier gets an earlier night window (registry override).

Silence starts at the newest of: last activity (device time), the start of monitoring, the
expected return of an ended absence. Not judged: during an absence, while the resident is away
(until away_max_hours after the departure, then an `away_too_long` inactivity alert), or when
no home activity sensor is online (the device_offline alert speaks instead — never both).
"""

from __future__ import annotations

from alerts.actions import AlertKind, Outcome, Reason, Severity
from alerts.context import RuleContext, is_late
from alerts.localtime import DAY_S, hhmm, in_window, local_text, parse_window, utc_offset_s
from alerts.registry import Resident
from alerts.rules import routine

MAX_STEPS = 2000
BEDTIME_LEAD_S = 3600.0  # a silence beginning up to 1 h before the night window may be sleep


def thresholds(ctx: RuleContext, resident: Resident) -> tuple[float, float, str]:
    """(day seconds, night seconds, night window) with the resident's overrides applied."""
    base, own = ctx.rules.inactivity, resident.inactivity
    day = own.day_hours if own.day_hours is not None else base.day_hours
    night = own.night_hours if own.night_hours is not None else base.night_hours
    return day * 3600, night * 3600, own.night or base.night


def due_time(start: float, tz: str, day_s: float, night_s: float, night: str, hour_factors: list[float] | None) -> float:
    """When a silence that began at `start` has spent its budget."""
    window = parse_window(night)
    if not _may_be_sleep(start, tz, window):
        night_s = day_s
    budget, t = 1.0, start
    for _ in range(MAX_STEPS):
        sod = (t + utc_offset_s(t, tz)) % DAY_S
        is_night = in_window(sod, window)
        threshold = night_s if is_night else day_s
        ends: list[float] = [e if e > sod else e + DAY_S for e in window if window[0] != window[1]] or [sod + DAY_S]
        if hour_factors is not None:
            hour = int(sod // 3600)
            threshold *= hour_factors[hour]
            ends.append((hour + 1) * 3600)
        segment = max(1.0, min(ends) - sod)
        need = budget * threshold
        if need <= segment:
            return t + need
        budget -= segment / threshold
        t += segment
    return t


def _may_be_sleep(start: float, tz: str, window: tuple[int, int]) -> bool:
    """A silence beginning in the night window, or at most BEDTIME_LEAD_S before it opens."""
    sod = (start + utc_offset_s(start, tz)) % DAY_S
    if in_window(sod, window):
        return True
    return (window[0] - sod) % DAY_S <= BEDTIME_LEAD_S


def silence_start(ctx: RuleContext, resident_id: str, now: float) -> float:
    rs = ctx.residents[resident_id]
    starts = [t for t in (rs.last_activity, rs.watch_start, ctx.last_return(resident_id, now)) if t is not None]
    return max(starts) if starts else now


def evaluate(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """Open the alert if due; return when to look again (None: an event will re-arm)."""
    resident = ctx.resident(resident_id)
    rs = ctx.residents[resident_id]
    if resident is None:
        return None
    open_alert = ctx.book.find(resident_id, AlertKind.INACTIVITY)
    absence = ctx.absence_at(resident_id, now)
    if absence is not None:
        if open_alert is not None:
            ctx.resolve_alert(open_alert, Outcome.CLEARED, Reason.ABSENCE_RECORDED, now)
        return absence.until
    if open_alert is not None or not ctx.home_watched(resident_id):
        return None
    if rs.away_since is not None:
        due = rs.away_since + ctx.rules.inactivity.away_max_hours * 3600
        if now < due:
            return due
        text = f"away since {local_text(rs.away_since, resident.timezone)}, no sign of return for {ctx.rules.inactivity.away_max_hours:g} h"
        ctx.open_alert(AlertKind.INACTIVITY, Severity.HIGH, resident_id, device=None, now=now, triggered_at=rs.away_since,
                       text=text, reason=Reason.AWAY_TOO_LONG, late=is_late(due, now))
        return None
    start = silence_start(ctx, resident_id, now)
    day_s, night_s, night = thresholds(ctx, resident)
    hour_factors = None if rs.routine is None else routine.factors(rs.routine, ctx.rules.routine)
    due = due_time(start, resident.timezone, day_s, night_s, night, hour_factors)
    if now < due:
        return due
    ctx.open_alert(AlertKind.INACTIVITY, Severity.HIGH, resident_id, device=None, now=now, triggered_at=start,
                   text=explain(ctx, resident, start, due), reason=Reason.SILENCE_EXCEEDED, late=is_late(due, now))
    return None


def explain(ctx: RuleContext, resident: Resident, start: float, due: float) -> str:
    rs = ctx.residents[resident.id]
    tz = resident.timezone
    since = hhmm(start, tz) if due - start < DAY_S else local_text(start, tz)
    what = "no activity since" if rs.last_activity is not None and rs.last_activity >= start else "nothing heard since"
    day_s, night_s, night = thresholds(ctx, resident)
    text = f"{what} {since}; allowed silence {day_s / 3600:g} h by day, {night_s / 3600:g} h at night ({night})"
    hour = int(((start + utc_offset_s(start, tz)) % DAY_S) // 3600)
    usual = "" if rs.routine is None else routine.usually_active(rs.routine, ctx.rules.routine, hour)
    return f"{what} {since}; {usual}" if usual else text
