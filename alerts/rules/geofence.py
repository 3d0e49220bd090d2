"""geofence_exit: the GPS tag leaves every active safe zone; and the tag's home/away edge.

A fix decides only when its accuracy ≤ max_accuracy_m (a missing `acc` counts as 0). It is
*outside* when its whole accuracy circle is outside every zone active at that local time
(depth + acc < 0 for all zones); `exit_confirm_fixes` consecutive outside fixes open the alert.
Any deciding fix that is not outside resets the count, so a single multipath jump or drift at
the edge never opens one. A return starts with a fix `return_margin_m` inside a zone and is
confirmed by a later fix within the home radius, or once the tag has stayed inside for
RETURN_CONFIRM_S (30 min) with no deciding fix outside: a stray fix (a cached position, a
multipath jump back into the zone) or a wanderer meandering back across the zone edge for a
while does not end the episode, so one wandering is one alert, and responders keep looking
until the resident is home or has clearly settled. Confirmed, the alert resolves as `returned` if nobody
acknowledged it, else responders get an update.
Home motion in the last HOME_MOTION_WINDOW_S lowers the exit to a low-severity check when it
is newer than the departure (door or tag leaving home) or the tag is farther from home than
anyone could have travelled since that motion.
No active zone (none defined, or outside their hours): no judgement.

GPS movement (speed ≥ MOVING_SPEED_MS or a jump beyond MOVED_M and the accuracy) is activity.
"""

from __future__ import annotations

from alerts.actions import AlertKind, AlertState, Outcome, Reason, Severity
from alerts.context import HOME_MOTION_WINDOW_S, HOME_RADIUS_M, RuleContext
from alerts.geo import depth_m, distance_m
from alerts.localtime import in_window, parse_window, seconds_of_day
from alerts.registry import Device, Resident, Zone
from alerts.rules import activity
from alerts.state import DeviceState
from devices import DeviceMessage, Gps

MOVING_SPEED_MS = 0.5
MOVED_M = 50.0
RETURN_CONFIRM_S = 1800.0  # inside this long (or back home) before a wandering counts as over
MAX_TRAVEL_MS = 15.0  # ~54 km/h: a taxi across town; faster than this from home is not the resident


def on_fix(ctx: RuleContext, device: Device, resident: Resident, msg: DeviceMessage, now: float) -> None:
    fix = msg.payload
    assert isinstance(fix, Gps)
    ds = ctx.devices[device.id]
    acc = fix.acc or 0.0
    if _moved(ds, fix, acc):
        activity.note_activity(ctx, resident.id, device, msg.at, now, msg.late)
    if ds.fix_at is None or msg.at >= ds.fix_at:
        ds.fix_lat, ds.fix_lon, ds.fix_at = fix.lat, fix.lon, msg.at
    if acc > ctx.rules.geofence.max_accuracy_m:
        ctx.count("gps_fix_poor_accuracy")
        return
    _home_edge(ctx, ds, resident, fix, acc, msg.at, now)
    zones = active_zones(resident, msg.at)
    if not zones:
        ds.outside_fixes = 0
        return
    depths = [(depth_m(z, fix.lat, fix.lon), z.name) for z in zones]
    if all(depth + acc < 0 for depth, _ in depths):
        ds.return_since = None  # out again: the return was not one
        ds.outside_fixes += 1
        if ds.outside_fixes >= ctx.rules.geofence.exit_confirm_fixes:
            _exit(ctx, device, resident, ds, msg, now, min(-d for d, _ in depths))
        return
    ds.outside_fixes = 0
    deepest, name = max(depths)
    if deepest >= ctx.rules.geofence.return_margin_m:
        ds.last_zone = name
        _back_inside(ctx, resident, ds, fix, name, msg.at, now)


def active_zones(resident: Resident, at: float) -> list[Zone]:
    if not resident.zones:
        return []
    sod: float | None = None
    active = []
    for zone in resident.zones:
        if zone.hours is None:
            active.append(zone)
            continue
        if sod is None:
            sod = seconds_of_day(at, resident.timezone)
        if in_window(sod, parse_window(zone.hours)):
            active.append(zone)
    return active


def _moved(ds: DeviceState, fix: Gps, acc: float) -> bool:
    if fix.speed is not None and fix.speed >= MOVING_SPEED_MS:
        return True
    if ds.fix_lat is None or ds.fix_lon is None:
        return False
    return distance_m(ds.fix_lat, ds.fix_lon, fix.lat, fix.lon) > max(MOVED_M, acc)


def _home_edge(ctx: RuleContext, ds: DeviceState, resident: Resident, fix: Gps, acc: float, at: float, now: float) -> None:
    from_home = distance_m(fix.lat, fix.lon, resident.home.lat, resident.home.lon)
    if not ds.tag_out and from_home - acc > HOME_RADIUS_M:
        ds.tag_out = True
        activity.tag_home_edge(ctx, resident.id, True, at)
    elif ds.tag_out and from_home + acc <= HOME_RADIUS_M:
        ds.tag_out = False
        activity.tag_home_edge(ctx, resident.id, False, at)


def _exit(ctx: RuleContext, device: Device, resident: Resident, ds: DeviceState, msg: DeviceMessage, now: float, out_m: float) -> None:
    if ctx.book.find(resident.id, AlertKind.GEOFENCE_EXIT) is not None:
        return  # one open exit per resident; further outside fixes are just the trail
    assert isinstance(msg.payload, Gps)
    home_motion = _motion_at_home_contradicts(ctx, resident, msg.payload, msg.at)
    text = f"tag {device.id} {out_m:.0f} m outside the safe zones"
    if ds.last_zone:
        text += f" (last inside {ds.last_zone})"
    if home_motion:
        text += "; but motion at home just now — check the tag"
    ctx.open_alert(AlertKind.GEOFENCE_EXIT, Severity.LOW if home_motion else Severity.HIGH, resident.id, device=device.id,
                   zone=ds.last_zone, now=now, triggered_at=msg.at, text=text, reason=Reason.LEFT_SAFE_ZONES, late=msg.late)


def _motion_at_home_contradicts(ctx: RuleContext, resident: Resident, fix: Gps, at: float) -> bool:
    """Recent home motion (last HOME_MOTION_WINDOW_S) that the tag's trip cannot explain.

    Motion just before the door opened is the resident getting ready to go out, not someone at
    home while the tag is away: counting it would lower every prompt exit (a 500 m zone is left
    within ~7 minutes of walking) to a mere tag check. So the motion contradicts the tag only
    when it is newer than the departure (door or tag leaving home), or when nobody could have
    travelled from home to the fix since it (faster than MAX_TRAVEL_MS).
    """
    rs = ctx.residents[resident.id]
    last = rs.last_home_activity
    if last is None or at - last > HOME_MOTION_WINDOW_S:
        return False
    left = rs.away_since if rs.away_since is not None else rs.door_open_at
    if left is None or last > left:
        return True
    from_home = distance_m(fix.lat, fix.lon, resident.home.lat, resident.home.lon)
    return from_home > max(0.0, at - last) * MAX_TRAVEL_MS


def _back_inside(ctx: RuleContext, resident: Resident, ds: DeviceState, fix: Gps, zone: str, at: float, now: float) -> None:
    """A fix `return_margin_m` inside a zone starts a return (or continues one). It is confirmed
    by a later fix within the home radius, or once the tag has stayed inside RETURN_CONFIRM_S.
    A single fix never confirms: a stray fix (a cached position at home, a multipath jump)
    lands inside as easily as out."""
    if ctx.book.find(resident.id, AlertKind.GEOFENCE_EXIT) is None:
        ds.return_since = None
        return
    if ds.return_since is None or at < ds.return_since:
        ds.return_since = at
        return
    home = distance_m(fix.lat, fix.lon, resident.home.lat, resident.home.lon) + (fix.acc or 0.0) <= HOME_RADIUS_M
    if home or at - ds.return_since >= RETURN_CONFIRM_S:
        _returned(ctx, resident, ds, "home" if home else zone, now)


def _returned(ctx: RuleContext, resident: Resident, ds: DeviceState, zone: str, now: float) -> None:
    ds.return_since = None
    alert = ctx.book.find(resident.id, AlertKind.GEOFENCE_EXIT)
    if alert is None:
        return
    if alert.state is AlertState.OPEN:
        ctx.resolve_alert(alert, Outcome.RETURNED, Reason.RETURNED_TO_ZONE, now)
    else:
        ctx.update_alert(alert, Reason.RETURNED_TO_ZONE, reason=f"{alert.reason}; back inside {zone}")
