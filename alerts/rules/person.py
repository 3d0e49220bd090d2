"""Person state fusion: one state per resident from alerts, absences, departures, sensors, activity.

Order of precedence: `alert` (an open critical or high alert) > `away` (absence calendar, a
departure seen by the door sensor, or the tag outside the home radius) > `unknown` (no working
activity sensor, or the home's motion sensor offline so silence is not judged) > `home_active` (activity within ACTIVE_S) > `home_quiet`.
"""

from __future__ import annotations

from alerts.actions import PersonState, PersonStateChanged, Reason, Severity
from alerts.context import ACTIVE_S, MOTION_SENSING_KINDS, RuleContext
from alerts.reasons import Explanation, ReasonCode, device_ref, explain

# Enum members read on every activity (`refresh` after each event of a resident not active yet),
# bound once as module globals: Python 3.11 reads an enum class's attribute through its
# metaclass, about 800 instructions a read (alerts/rules/activity.py; docs/BENCHMARKS.md, session 14).
_LOW, _ALERT, _HOME_ACTIVE, _HOME_QUIET = Severity.LOW, PersonState.ALERT, PersonState.HOME_ACTIVE, PersonState.HOME_QUIET
_R_ACTIVITY, _R_QUIET, _R_ALERT_OPEN, _R_ALERT_CLOSED = Reason.ACTIVITY, Reason.QUIET, Reason.ALERT_OPEN, Reason.ALERT_CLOSED


def fuse(ctx: RuleContext, resident_id: str, now: float) -> tuple[PersonState, Reason, Explanation | None, float | None]:
    """(state, reason, its values if it has any, time the state may change by time alone)."""
    rs = ctx.residents[resident_id]
    for a in ctx.book.of_resident(resident_id):  # a loop, not any() over a generator (session 11)
        if a.severity is not _LOW:
            return _ALERT, _R_ALERT_OPEN, None, None
    absence = ctx.absence_at(resident_id, now)
    if absence is not None:
        return PersonState.AWAY, Reason.ABSENCE, explain(ReasonCode.ABSENCE, until=absence.until), absence.until
    departure = rs.departure  # the away fields' record, read as such (alerts/state.py)
    if departure is not None and departure.away_since is not None:
        return PersonState.AWAY, Reason.DEPARTED if departure.away_by == "door" else Reason.TAG_LEFT_HOME, None, None
    if not ctx.watched(resident_id):
        return PersonState.UNKNOWN, Reason.NO_WORKING_SENSOR, None, None
    if not ctx.silence_judged(resident_id):
        return PersonState.UNKNOWN, Reason.NO_MOTION_SENSOR, _motion_sensors_offline(ctx, resident_id), None
    if rs.last_activity is not None and now - rs.last_activity < ACTIVE_S:
        return _HOME_ACTIVE, _R_ACTIVITY, None, rs.last_activity + ACTIVE_S
    return _HOME_QUIET, _R_QUIET, None, None


def _motion_sensors_offline(ctx: RuleContext, resident_id: str) -> Explanation:
    """Silence is not judged: which motion sensors are offline (the offline alert speaks instead)."""
    dead = [device_ref(d.id, d.kind) for d in ctx.devices_of(resident_id) if d.kind in MOTION_SENSING_KINDS and not ctx.online(d)]
    return explain(ReasonCode.NO_MOTION_SENSOR, devices=dead)


def refresh(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """Re-fuse the state, emit PersonStateChanged on change; return the next time-driven change."""
    state, reason, why, changes_at = fuse(ctx, resident_id, now)
    rs = ctx.residents[resident_id]
    if state is not rs.person:
        if rs.person is _ALERT and state is not _ALERT:
            reason = _R_ALERT_CLOSED if reason is _R_ACTIVITY or reason is _R_QUIET else reason
        ctx.emit(PersonStateChanged(resident_id, state, rs.person, reason, now, why))
        rs.person = state
    return changes_at
