"""geofence.night_exit: a resident the community gave safe zones — watched for wandering — goes
out through the door in the deep night and is not back.

Night-time wandering is the classic danger of dementia, and a tag left on the table or flat says
nothing of it: she walks out at 04:30, and the geofence rule, which reads only her tag's fixes,
never sees her go. The door sensor does. A departure (alerts/rules/activity.py: a `door_open`
with no home motion for DEPARTURE_CONFIRM_S) whose opening falls in the `night_exit` window, by
a resident with a zone active then, is told of if she is still away NIGHT_EXIT_WAIT_S after the
door: a `geofence_exit` alert, high, reason `left_home_at_night`, whatever her tag says (one
already open, her tag's, takes it as nothing new). The wait is a telecare property-exit
sensor's absence period: someone who steps out at night to the gate or the bins is back within
minutes, a wanderer is not. Her return (the absence ended by her return) resolves it
`returned`, as her tag back home does."""

from __future__ import annotations

from alerts.actions import AlertKind, Outcome, Reason, Severity
from alerts.context import RuleContext
from alerts.localtime import in_window, parse_window, seconds_of_day
from alerts.reasons import ReasonCode, explain
from alerts.rules import geofence

NIGHT_EXIT_WAIT_S = 1200.0  # not back 20 min after the door opened


def departed(ctx: RuleContext, resident_id: str, at: float) -> float | None:
    """Her door-confirmed departure began at `at`: when to tell of it (None: not a night exit)."""
    window, resident = ctx.rules.geofence.night_exit, ctx.resident(resident_id)
    if window is None or resident is None or not geofence.active_zones(resident, at):
        return None
    if not in_window(seconds_of_day(at, resident.timezone), parse_window(window)):
        return None
    ctx.residents[resident_id].night_exit_due = due = at + NIGHT_EXIT_WAIT_S
    return due


def evaluate(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """At the resident's deadline: tell of a night exit that is due; return when to look again."""
    rs = ctx.residents[resident_id]
    departure = rs.departure  # the record, read as such: this runs at every resident deadline (alerts/state.py)
    due = None if departure is None else departure.night_exit_due
    if due is None or departure is None:
        return None
    if now < due:
        return due
    departure.night_exit_due, at = None, due - NIGHT_EXIT_WAIT_S
    still_out = departure.away_since == at and departure.away_by == "door"  # the same absence, not ended
    if still_out and ctx.book.find(resident_id, AlertKind.GEOFENCE_EXIT) is None:
        ctx.open_alert(AlertKind.GEOFENCE_EXIT, Severity.HIGH, resident_id, device=None, now=now, triggered_at=at,
                       why=explain(ReasonCode.LEFT_HOME_AT_NIGHT, at=at), reason=Reason.LEFT_HOME_AT_NIGHT)
    return None


def came_home(ctx: RuleContext, resident_id: str, now: float) -> None:
    """Her absence ended with a return: the night exit it opened is over."""
    alert = ctx.book.find(resident_id, AlertKind.GEOFENCE_EXIT)
    if alert is not None and alert.reason.code == ReasonCode.LEFT_HOME_AT_NIGHT:
        note = explain(ReasonCode.RETURNED_TO_ZONE, zone=None)
        ctx.resolve_alert(alert, Outcome.RETURNED, Reason.RETURNED_TO_ZONE, now, note=note)
