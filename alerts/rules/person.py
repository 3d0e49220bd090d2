"""Person state fusion: one state per resident from alerts, absences, departures, sensors, activity.

Order of precedence: `alert` (an open critical or high alert) > `away` (absence calendar, a
departure seen by the door sensor, or the tag outside the home radius) > `unknown` (no working
activity sensor, or the home's motion sensor offline so silence is not judged) > `home_active` (activity within ACTIVE_S) > `home_quiet`.
"""

from __future__ import annotations

from alerts.actions import PersonState, PersonStateChanged, Reason, Severity
from alerts.context import ACTIVE_S, MOTION_SENSING_KINDS, RuleContext
from alerts.reasons import Explanation, ReasonCode, device_ref, explain


def fuse(ctx: RuleContext, resident_id: str, now: float) -> tuple[PersonState, Reason, Explanation | None, float | None]:
    """(state, reason, its values if it has any, time the state may change by time alone)."""
    rs = ctx.residents[resident_id]
    if any(a.severity is not Severity.LOW for a in ctx.book.of_resident(resident_id)):
        return PersonState.ALERT, Reason.ALERT_OPEN, None, None
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
        return PersonState.HOME_ACTIVE, Reason.ACTIVITY, None, rs.last_activity + ACTIVE_S
    return PersonState.HOME_QUIET, Reason.QUIET, None, None


def _motion_sensors_offline(ctx: RuleContext, resident_id: str) -> Explanation:
    """Silence is not judged: which motion sensors are offline (the offline alert speaks instead)."""
    dead = [device_ref(d.id, d.kind) for d in ctx.devices_of(resident_id) if d.kind in MOTION_SENSING_KINDS and not ctx.online(d)]
    return explain(ReasonCode.NO_MOTION_SENSOR, devices=dead)


def refresh(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """Re-fuse the state, emit PersonStateChanged on change; return the next time-driven change."""
    state, reason, why, changes_at = fuse(ctx, resident_id, now)
    rs = ctx.residents[resident_id]
    if state is not rs.person:
        if rs.person is PersonState.ALERT and state is not PersonState.ALERT:
            reason = Reason.ALERT_CLOSED if reason in (Reason.ACTIVITY, Reason.QUIET) else reason
        ctx.emit(PersonStateChanged(resident_id, state, rs.person, reason, now, why))
        rs.person = state
    return changes_at
