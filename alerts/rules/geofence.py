"""geofence_exit: the GPS tag leaves every active safe zone; and the tag's home/away edge.

A fix decides only when its accuracy ≤ max_accuracy_m (a missing `acc` counts as 0). It is
*outside* when its whole accuracy circle is outside every zone active at that local time
(depth + acc < 0 for all zones); `exit_confirm_fixes` consecutive outside fixes open the alert,
if they all fall within EXIT_CONFIRM_WINDOW_S of the first and each is where a trip from the
last could be (two multipath jumps hours apart, or in two directions, are not an exit).
Any deciding fix that is not outside resets the count, so a single multipath jump or drift at
the edge never opens one. A return starts with a fix `return_margin_m` inside a zone and is
confirmed by a later fix within the home radius that is not moving (walking past her home is
not coming home) or followed by activity at home, or once the tag has stayed inside for
RETURN_CONFIRM_S (30 min) with no deciding fix outside: a stray fix (a cached position, a
multipath jump back into the zone) or a wanderer meandering back across the zone edge for a
while does not end the episode, so one wandering is one alert, and responders keep looking
until the resident is home or has clearly settled. Confirmed, the alert resolves as `returned` if nobody
acknowledged it, else responders get an update.
Home motion in the last HOME_MOTION_WINDOW_S lowers the exit to a low-severity check when it
is newer than the departure (door or tag leaving home) or the tag is farther from home than
anyone could have travelled since that motion.
No active zone (none defined, or outside their hours): no judgement.
With `repeated_fix_once`, a fix delivered again (QoS 1 redelivery after a lost PUBACK: the
newest fix's device time and position, to the bit) is dropped before any of this: a duplicated
multipath jump was two consecutive outside fixes and confirmed an exit.

GPS movement is activity only with evidence that survives the fixes' accuracy and their history
(`_moved`): a still tag indoors scatters by up to ~150 m with 25–160 m accuracy and speed 0,
and a multipath jump lands hundreds of metres off with an optimistic accuracy. Movement is a
device-reported speed ≥ MOVING_SPEED_MS on a fix at least SPEED_ACC_M accurate, said twice
within MOVE_CONFIRM_S (`speed_twice`: a still tracker indoors now and then claims a speed on a
good-looking fix), or two deciding fixes within MOVE_CONFIRM_S both displaced from where the tag rests (the anchor, an
accuracy-weighted mean of its fixes) by more than both accuracies and more than a still tag's
scatter (STILL_SCATTER_M plus the anchor's own uncertainty), and consistent with each other (no
farther apart than their accuracies and a minute of brisk walking).
The tag leaves the home radius (`away`) only on two such consecutive fixes too.
"""

from __future__ import annotations

import math

from alerts.actions import AlertKind, AlertState, Outcome, Reason, Severity
from alerts.context import HOME_MOTION_WINDOW_S, HOME_RADIUS_M, RuleContext
from alerts.geo import depth_m, distance_m
from alerts.localtime import in_window, parse_window, seconds_of_day
from alerts.reasons import ReasonCode, device_ref, explain
from alerts.registry import Device, Resident, Zone
from alerts.rules import activity
from alerts.state import DeviceState
from devices import DeviceKind, DeviceMessage, Gps

MOVING_SPEED_MS = 0.5
SPEED_ACC_M = 30.0  # a speed reading counts only on a fix at least this accurate
STILL_SCATTER_M = 150.0  # a still tag indoors scatters this far: nearer is never movement
MOVE_CONFIRM_S = 600.0  # the second displaced fix must come within this long of the first
SPEED_PAIR_S = 120.0  # speed_travels: two speed claims this close are one walk wherever they lie (a tracker on the move reports often)
WALK_MS = 1.5  # how far apart two fixes of one trip may be: accuracies + this speed × the gap …
WALK_GAP_S = 60.0  # … counting at most this much of the gap (scatter minutes apart is not a walk)
ANCHOR_MAX_N = 16  # the anchor's spread stops shrinking after this many fixes
ANCHOR_MIN_ACC_M = 10.0  # the anchor never claims better than this (it keeps following a slow drift)
EXIT_CONFIRM_WINDOW_S = 900.0  # the fixes confirming an exit all fall within this long of the first
EXIT_TRAVEL_MS = 3.0  # and each lies within both accuracies + this speed × the gap (≤ EXIT_TRAVEL_GAP_S) of the last
EXIT_TRAVEL_GAP_S = 120.0
RETURN_CONFIRM_S = 1800.0  # inside this long (or back home) before a wandering counts as over
HOME_SEEN_SLACK_S = 60.0  # home activity this long before the tag's newest fix near home still confirms (clocks)
SELDOM_GAP_S = 3600.0  # two fixes with nothing reported between confirm each other up to this far apart
MAX_TRAVEL_MS = 15.0  # ~54 km/h: a taxi across town; faster than this from home is not the resident
_GPS_TAG = DeviceKind.GPS_TAG  # `home_seen` while an exit is open
_GEOFENCE_EXIT = AlertKind.GEOFENCE_EXIT  # `home_seen` reads it on every activity: an enum class's attribute costs ~800 instructions (alerts/rules/activity.py)


def on_fix(ctx: RuleContext, device: Device, resident: Resident, msg: DeviceMessage, now: float) -> None:
    fix = msg.payload
    # The exact type, not isinstance: msgspec's metaclass makes every isinstance call its
    # __instancecheck__ (~1,000 instructions; alerts/engine.py).
    assert type(fix) is Gps
    ds = ctx.devices[device.id]
    cfg = ctx.rules.geofence
    at = msg.at
    fix_at = ds.fix_at  # a tag's field, read through its property once (alerts/state.py)
    if cfg.repeated_fix_once and at == fix_at and fix.lat == ds.fix_lat and fix.lon == ds.fix_lon:
        ctx.count("gps_fix_repeated")  # the broker delivered it again: one multipath jump is not two outside fixes
        return
    acc = fix.acc or 0.0
    poor = acc > cfg.max_accuracy_m
    newest = fix_at is None or at >= fix_at
    moving = _moving(fix, acc)
    # the tag's previous report: a fix that follows it with nothing between may be many minutes
    # apart (a tag reporting every 10-30 min to save its battery) and still confirm it, when one
    # of the two says the tag is moving (two multipath jumps in a row are still)
    prev_at = fix_at if newest and cfg.seldom_fixes and (moving or ds.fix_moving) else None
    if newest:
        ds.fix_lat, ds.fix_lon, ds.fix_at, ds.fix_moving = fix.lat, fix.lon, at, moving
    if newest and _moved(ds, fix, acc, at, poor, cfg.speed_twice, prev_at, cfg.speed_travels):
        activity.note_tag_moved(ctx, resident.id, at)
        activity.note_activity(ctx, resident.id, device, at, now, msg.late)
    if poor:
        ctx.count("gps_fix_poor_accuracy")
        return
    home = resident.home
    from_home = distance_m(fix.lat, fix.lon, home.lat, home.lon)  # once: both the tag's absences and its home edge ask
    if newest and ctx.rules.pets.tag_absences:
        activity.tag_far(ctx, resident.id, at, _beyond_home(from_home, acc))
    _home_edge(ctx, ds, resident, from_home, acc, at, now, prev_at)
    zones = active_zones(resident, msg.at)
    if not zones:
        ds.outside_fixes = 0
        return
    depths = [(depth_m(z, fix.lat, fix.lon), z.name) for z in zones]
    if all(depth + acc < 0 for depth, _ in depths):
        ds.return_since = None  # out again: the return was not one
        if not _continues_outside(ds, fix, acc, msg.at, prev_at):
            ds.outside_fixes, ds.outside_since = 0, msg.at  # this fix starts a new run
        ds.outside_fixes += 1
        ds.out_lat, ds.out_lon, ds.out_acc, ds.out_at = fix.lat, fix.lon, acc, msg.at
        if ds.outside_fixes >= ctx.rules.geofence.exit_confirm_fixes:
            _exit(ctx, device, resident, ds, msg, now, min(-d for d, _ in depths))
        return
    ds.outside_fixes = 0
    deepest, name = max(depths)
    if deepest >= ctx.rules.geofence.return_margin_m:
        ds.last_zone = name
        _back_inside(ctx, resident, ds, fix, name, msg.at, now)


def _beyond_home(from_home: float, acc: float) -> bool | None:
    """True when the fix's whole accuracy circle (`from_home` metres from home) lies beyond the
    home radius, False when the fix itself is within it, None at the edge (neither)."""
    if from_home - acc > HOME_RADIUS_M:
        return True
    return False if from_home <= HOME_RADIUS_M else None


def _continues_outside(ds: DeviceState, fix: Gps, acc: float, at: float, prev_at: float | None) -> bool:
    """The fix confirms the run of outside fixes: within EXIT_CONFIRM_WINDOW_S of its first, or
    the tag's next report after the last (`_seldom`), and where one trip from the last could be
    (two multipath jumps land far apart)."""
    if ds.outside_fixes == 0 or ds.outside_since is None or ds.out_at is None:
        return False
    seldom = _seldom(prev_at, ds.out_at, at)
    if not seldom and not 0 <= at - ds.outside_since <= EXIT_CONFIRM_WINDOW_S:
        return False
    if ds.out_lat is None or ds.out_lon is None:
        return True
    gap = max(0.0, at - ds.out_at)
    if not seldom:
        gap = min(gap, EXIT_TRAVEL_GAP_S)
    return distance_m(ds.out_lat, ds.out_lon, fix.lat, fix.lon) <= ds.out_acc + acc + EXIT_TRAVEL_MS * gap


def _seldom(prev_at: float | None, last_at: float | None, at: float) -> bool:
    """`at`'s fix is the tag's next report after the one at `last_at`, within SELDOM_GAP_S, and
    one of them reported a speed (`on_fix`): the two are consecutive in time as the tag reports,
    however seldom. The fixed windows are for fixes with others between them (poor ones
    skipped), which a multipath jump could pair."""
    return prev_at is not None and prev_at == last_at and 0 <= at - prev_at <= SELDOM_GAP_S


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


def _moving(fix: Gps, acc: float) -> bool:
    """The device's own (Doppler) speed says it is moving, on a fix accurate enough to trust."""
    return fix.speed is not None and fix.speed >= MOVING_SPEED_MS and acc <= SPEED_ACC_M


def _moved(ds: DeviceState, fix: Gps, acc: float, at: float, poor: bool, speed_twice: bool, prev_at: float | None,
           travels: bool = False) -> bool:
    """Movement the fix proves (see the module doc); updates the anchor and the pending fix."""
    if _moving(fix, acc):
        confirmed = not speed_twice or _confirms(ds, fix, acc, at, prev_at, by_speed=True, travels=travels)
        if confirmed:
            _set_anchor(ds, fix.lat, fix.lon, acc)
        if speed_twice:  # pending either way: on the move, each speed fix confirms the next
            ds.moved_lat, ds.moved_lon, ds.moved_acc, ds.moved_at, ds.moved_speed = fix.lat, fix.lon, acc, at, True
        return confirmed
    if poor:
        return False  # a poor fix neither moves the tag nor settles it
    if ds.anchor_lat is None or ds.anchor_lon is None:
        _set_anchor(ds, fix.lat, fix.lon, acc)
        return False
    if distance_m(ds.anchor_lat, ds.anchor_lon, fix.lat, fix.lon) <= _still_within(ds, acc):
        ds.moved_at = None
        _settle(ds, fix.lat, fix.lon, acc)
        return False
    if _confirms(ds, fix, acc, at, prev_at):
        _set_anchor(ds, fix.lat, fix.lon, acc)
        return True
    ds.moved_lat, ds.moved_lon, ds.moved_acc, ds.moved_at, ds.moved_speed = fix.lat, fix.lon, acc, at, False
    return False


def _still_within(ds: DeviceState, acc: float) -> float:
    """How far from the anchor a fix of a still tag may land: both accuracies, and at least the
    scatter of the fix itself plus the anchor's own (a fresh anchor is one scattered fix that
    may be STILL_SCATTER_M off; the mean of n fixes is off by about STILL_SCATTER_M / √n)."""
    spread = STILL_SCATTER_M / math.sqrt(min(max(ds.anchor_n, 1), ANCHOR_MAX_N))
    return max(ds.anchor_acc + acc, STILL_SCATTER_M + spread)


def _confirms(ds: DeviceState, fix: Gps, acc: float, at: float, prev_at: float | None, by_speed: bool = False,
              travels: bool = False) -> bool:
    """A displaced fix confirms the pending one: soon after it (or as the tag's next report,
    `_seldom`), and where one trip could be. Two fixes that both report a speed confirm each
    other wherever they lie: the tag said twice that it moves, and a walk between fixes minutes
    apart may have gone far."""
    if ds.moved_at is None or ds.moved_lat is None or ds.moved_lon is None:
        return False
    seldom = _seldom(prev_at, ds.moved_at, at)
    if not seldom and not 0 <= at - ds.moved_at <= MOVE_CONFIRM_S:
        return False
    if by_speed and ds.moved_speed:
        return not travels or at - ds.moved_at <= SPEED_PAIR_S or _off_rest(ds, fix.lat, fix.lon, acc) \
            or _off_rest(ds, ds.moved_lat, ds.moved_lon, ds.moved_acc)
    walked = at - ds.moved_at if seldom else min(at - ds.moved_at, WALK_GAP_S)
    return distance_m(ds.moved_lat, ds.moved_lon, fix.lat, fix.lon) <= ds.moved_acc + acc + WALK_MS * walked


def _off_rest(ds: DeviceState, lat: float, lon: float, acc: float) -> bool:
    """The fix lies farther from where the tag rests (the anchor) than a still tag scatters."""
    if ds.anchor_lat is None or ds.anchor_lon is None:
        return True
    return distance_m(ds.anchor_lat, ds.anchor_lon, lat, lon) > _still_within(ds, acc)


def _set_anchor(ds: DeviceState, lat: float, lon: float, acc: float) -> None:
    ds.anchor_lat, ds.anchor_lon, ds.anchor_acc, ds.anchor_n = lat, lon, max(acc, ANCHOR_MIN_ACC_M), 1
    ds.moved_at = None


def _settle(ds: DeviceState, lat: float, lon: float, acc: float) -> None:
    """Fold a fix near the anchor into it (weights 1/acc²): scatter averages out around the
    true position instead of the anchor hopping to the last scattered fix."""
    assert ds.anchor_lat is not None and ds.anchor_lon is not None
    w_anchor, w_fix = 1 / ds.anchor_acc**2, 1 / max(acc, ANCHOR_MIN_ACC_M) ** 2
    total = w_anchor + w_fix
    ds.anchor_lat = (ds.anchor_lat * w_anchor + lat * w_fix) / total
    ds.anchor_lon = (ds.anchor_lon * w_anchor + lon * w_fix) / total
    ds.anchor_acc = max(ANCHOR_MIN_ACC_M, total**-0.5)
    ds.anchor_n += 1


def _home_edge(ctx: RuleContext, ds: DeviceState, resident: Resident, from_home: float, acc: float, at: float, now: float,
               prev_at: float | None) -> None:
    """Out of the home radius on two consecutive deciding fixes within MOVE_CONFIRM_S or one
    report apart (`_seldom`; one multipath jump is not a departure); back in on one fix wholly
    inside it (`from_home`: the fix's distance from home, metres)."""
    if not ds.tag_out and from_home - acc > HOME_RADIUS_M:
        if ds.home_out_at is None or not (0 <= at - ds.home_out_at <= MOVE_CONFIRM_S or _seldom(prev_at, ds.home_out_at, at)):
            ds.home_out_at = at
            return
        first, ds.tag_out, ds.home_out_at = ds.home_out_at, True, None
        activity.tag_home_edge(ctx, resident.id, True, first)  # away since the first fix out
        return
    ds.home_out_at = None
    if ds.tag_out and from_home + acc <= HOME_RADIUS_M:
        ds.tag_out = False
        activity.tag_home_edge(ctx, resident.id, False, at)


def _exit(ctx: RuleContext, device: Device, resident: Resident, ds: DeviceState, msg: DeviceMessage, now: float, out_m: float) -> None:
    if ctx.book.find(resident.id, AlertKind.GEOFENCE_EXIT) is not None:
        return  # one open exit per resident; further outside fixes are just the trail
    assert isinstance(msg.payload, Gps)
    home_motion = _motion_at_home_contradicts(ctx, resident, msg.payload, msg.at)
    why = explain(ReasonCode.LEFT_SAFE_ZONES, device=device_ref(device.id, device.kind), outside_m=round(out_m),
                  accuracy_m=round(msg.payload.acc or 0.0), fixes=ds.outside_fixes, zone=ds.last_zone)
    last_motion = ctx.residents[resident.id].last_home_activity
    check = (explain(ReasonCode.HOME_MOTION_WHILE_TAG_AWAY, at=last_motion),) if home_motion and last_motion is not None else ()
    ctx.open_alert(AlertKind.GEOFENCE_EXIT, Severity.LOW if home_motion else Severity.HIGH, resident.id, device=device.id,
                   zone=ds.last_zone, now=now, triggered_at=msg.at, why=why, notes=check, reason=Reason.LEFT_SAFE_ZONES,
                   late=msg.late)


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
    by a later fix within the home radius that is not moving (a wanderer walking past her home
    is not back) or followed by activity at home (`home_seen`), or once the tag has stayed inside
    RETURN_CONFIRM_S.
    A single fix never confirms: a stray fix (a cached position at home, a multipath jump)
    lands inside as easily as out."""
    if ctx.book.find(resident.id, AlertKind.GEOFENCE_EXIT) is None:
        ds.return_since = None
        return
    if ds.return_since is None or at < ds.return_since:
        ds.return_since = at
        return
    acc = fix.acc or 0.0
    home = distance_m(fix.lat, fix.lon, resident.home.lat, resident.home.lon) + acc <= HOME_RADIUS_M and not _moving(fix, acc)
    if home or at - ds.return_since >= RETURN_CONFIRM_S:
        _returned(ctx, resident, ds, None if home else zone, now)


def home_seen(ctx: RuleContext, resident_id: str, at: float, now: float) -> None:
    """Activity at home (a door, home motion) while a return is under way and the tag's newest
    fix is within the home radius: she is in. A tag walked home while moving may send no
    resting fix for a long while (trackers that report only on the move)."""
    if ctx.book.find(resident_id, _GEOFENCE_EXIT) is None:
        return
    resident = ctx.resident(resident_id)
    if resident is None:
        return
    for device in ctx.devices_of(resident_id):
        ds = ctx.devices[device.id] if device.kind is _GPS_TAG else None
        if ds is None or ds.return_since is None or ds.fix_at is None or ds.fix_lat is None or ds.fix_lon is None:
            continue
        near = distance_m(ds.fix_lat, ds.fix_lon, resident.home.lat, resident.home.lon) <= HOME_RADIUS_M
        if near and at >= ds.fix_at - HOME_SEEN_SLACK_S:
            _returned(ctx, resident, ds, None, now)
            return


def _returned(ctx: RuleContext, resident: Resident, ds: DeviceState, zone: str | None, now: float) -> None:
    """Back inside `zone` (None: home)."""
    ds.return_since = None
    alert = ctx.book.find(resident.id, AlertKind.GEOFENCE_EXIT)
    if alert is None:
        return
    why = explain(ReasonCode.RETURNED_TO_ZONE, zone=zone)
    if alert.state is AlertState.OPEN:
        ctx.resolve_alert(alert, Outcome.RETURNED, Reason.RETURNED_TO_ZONE, now, note=why)
    else:
        ctx.update_alert(alert, Reason.RETURNED_TO_ZONE, note=why)
