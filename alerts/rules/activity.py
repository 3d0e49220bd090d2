"""What counts as activity, and what it does: departures, returns, clearing an inactivity alert.

Activity is any event other than `tamper` and the critical ones, plus GPS movement of the
resident's tag. Activity time is device time (`msg.at`) and never moves last-activity
backwards, so a flush of buffered events fills exactly the silence it covers. A `door_open`
not followed by home motion within DEPARTURE_CONFIRM_S is a departure (`away`); the tag coming
home ends it, and so does home motion (PIR, water) that shows a return (`_returned`): after a
door event, or several within minutes (`RETURN_MOTIONS`) — one stray event (a couch mat settling twice
while the resident was out for ten hours, docs/DETECTION.md "Real recordings") is not a person
at home. Activity resolves an open inactivity alert, except a door event alone in a home whose
motion sensor is online (`_door_only`) and stray motion during an absence gone on too long.
"""

from __future__ import annotations

from alerts.actions import Alert, AlertKind, Outcome, PersonState, Reason, Severity
from alerts.context import DEPARTURE_CONFIRM_S, HOME_MOTION_KINDS, REJOIN_GRACE_S, RuleContext
from alerts.reasons import ReasonCode, device_ref, explain
from alerts.registry import Device
from alerts.rules import inactivity, night_exit, pets, routine
from alerts.state import Departure, MotionBackground, ResidentState, RoutineHistory
from devices.kinds import DeviceKind

ACTIVITY_EVENTS = frozenset({"motion", "door_open", "door_close", "water_flow", "button"})
#: RETURN_MOTIONS home motion events within RETURN_WINDOW_S are a return even with no door event
#: (one lost on the radio): a person who came home moves about; a pet (0.3-2 motions an hour) or
#: a mat settling does not, and a second stray event 10 min after the first is no more evidence.
RETURN_MOTIONS = 3
RETURN_WINDOW_S = 600.0
#: Door events this soon after a departure's opening are that passage (the door closing behind).
DOOR_PASSAGE_S = 120.0
#: Her tag went with her when it left the home radius this soon around the door's departure
#: (a walk of 150 m takes 2-3 min; the two devices' clocks may differ by minutes).
TAG_ALONG_BEFORE_S, TAG_ALONG_AFTER_S = 300.0, 900.0
# Enum members read on every activity, bound once as module globals: Python 3.11 reads an enum
# class's attribute through its metaclass's __getattr__ hook, about 800 instructions a read
# (docs/BENCHMARKS.md, session 11).
_DOOR_SENSOR, _PINGAN_CAT = DeviceKind.DOOR_SENSOR, DeviceKind.PINGAN_CAT
_INACTIVITY, _GEOFENCE_EXIT, _HOME_ACTIVE = AlertKind.INACTIVITY, AlertKind.GEOFENCE_EXIT, PersonState.HOME_ACTIVE


def note_activity(ctx: RuleContext, resident_id: str, device: Device, at: float, now: float, late: bool,
                  seen: float | None = None, event: str = "") -> None:
    """Activity at device time `at`; `seen` orders it against door events (hub time when live).
    Home motion a pet may explain is the resident's only in a bout (rules.pets, `_bout_sizes`)."""
    rs = ctx.residents[resident_id]
    if event == "motion" and device.kind is _PINGAN_CAT and ctx.rules.motion_gap:
        unit = device.id if ctx.rules.motion_gap_per_unit else None  # each unit its own (several units a home)
        pets.note_gap(_background(rs), at, unit)  # its PIR's blind time (rules.motion_gap)
    sizes = _bout_sizes(ctx, resident_id, device, at) if event == "motion" else ()
    residents = not sizes or pets.in_bout(_background(rs), at, sizes)
    if not residents and ctx.rules.pets.wake_bound:
        _doubt(ctx, resident_id, at)
    newer = residents and (rs.last_activity is None or at > rs.last_activity)
    if newer:
        inactivity.note_quiet_spell(ctx, resident_id, at, device.kind)
        inactivity.note_run(ctx, resident_id, at)
        rs.last_activity, rs.last_activity_device = at, device.id
    if ctx.rules.routine.enabled and residents:
        resident = ctx.resident(resident_id)
        if resident is not None:
            learned = rs.learned  # the histories' record, read as such: this runs on every activity (alerts/state.py)
            history = None if learned is None else learned.routine
            if history is None:
                history = rs.routine = RoutineHistory()
            routine.record(history, resident.timezone, at)
    departure = rs.departure  # the record, read as such: this runs on every activity (alerts/state.py)
    stray, was_away = False, departure is not None and departure.away_since is not None
    if device.kind is _DOOR_SENSOR:
        door_at = at if seen is None else seen
        if event == "door_close":
            note_door_closed(rs)
        if ctx.rules.inactivity.door_ajar_unseen or ctx.rules.inactivity.unshut_door_return != "never":
            _note_ajar(rs, event, door_at)
        rs.last_door_at = door_at if rs.last_door_at is None else max(rs.last_door_at, door_at)
        _hindsight(ctx, rs, resident_id, device, at, event)
        _someone_home(rs)
    elif device.kind in HOME_MOTION_KINDS:
        watch = ctx.rules.pets.enabled and device.kind is _PINGAN_CAT
        _hindsight(ctx, rs, resident_id, device, at, event)
        if device.kind is not _PINGAN_CAT or event != "motion":
            _someone_home(rs)  # water: a person
        stray = not _home_motion(ctx, resident_id, at if seen is None else seen, now, sizes, watch)
        if residents:
            _back_early(ctx, rs, resident_id, at if seen is None else seen, now)
    elif event:
        _hindsight(ctx, rs, resident_id, device, at, event)  # a button: she is at home
        _someone_home(rs)
    alert = ctx.book.find(resident_id, _INACTIVITY)
    departure = rs.departure  # again: a door event may have made it, home motion ended the absence
    away_since = None if departure is None else departure.away_since
    no_return = stray or (ctx.rules.inactivity.away_alert_until_return and away_since is not None)
    if no_return and alert is not None and alert.triggered_at == away_since:
        alert = None  # away too long: stray motion or a moving tag is no return, and clearing would re-open it at once
    if not residents:
        alert = None  # a pet's motion does not end the silence
    if alert is not None and at > alert.triggered_at:
        if _door_only(ctx, resident_id, device):
            _note_door(ctx, alert, device, at)
            alert = None  # still open, but the silence judgement waits for it to close
        else:
            reason = Reason.LATE_ACTIVITY if late else Reason.ACTIVITY_RESUMED
            why = explain(ReasonCode(reason.value), device=device_ref(device.id, device.kind), at=at)
            ctx.resolve_alert(alert, Outcome.CLEARED, reason, now, note=why)
            alert = None  # cleared: judged again from here (an absence it began under needs its deadline)
    if rs.person is not _HOME_ACTIVE:
        ctx.touched.add(resident_id)
    if late:
        rs.flush_until = now + REJOIN_GRACE_S  # kept events arriving: her silence is judged once they are all in
    if newer and alert is None and rs.due is None:  # no deadline armed (alerts/deadlines.py)
        ctx.arm_resident(resident_id, now)
    elif was_away and rs.away_since is None:
        ctx.arm_resident(resident_id, now)  # back home: the away deadline gives way to the silence's
    if was_away and rs.away_since is None and ctx.rules.geofence.night_exit is not None:
        night_exit.came_home(ctx, resident_id, now)


def _bout_sizes(ctx: RuleContext, resident_id: str, device: Device, at: float) -> tuple[int, ...]:
    """Motion on the home unit (rules.pets): note it, and say what bout makes motion the
    resident's in this home — () when any motion is (no pet's background; alerts/rules/pets.py)."""
    cfg, resident = ctx.rules.pets, ctx.resident(resident_id)
    if not cfg.enabled or device.kind is not _PINGAN_CAT or resident is None:
        return ()
    background = _background(ctx.residents[resident_id])
    pets.note_motion(background, resident.timezone, at, cfg)
    if background.tag_out:
        pets.tag_motion(background, at)  # her tag is out (rules.pets.tag_absences)
    day_s = inactivity.thresholds(ctx, resident)[0]
    return pets.bout_sizes(background, resident.timezone, at, day_s, cfg, ctx.residents[resident_id].last_activity)


def _doubt(ctx: RuleContext, resident_id: str, at: float) -> None:
    """rules.pets.wake_bound: home-unit motion at `at` not hers against the background's bound —
    a bout against its estimate after a night's silence is noted (alerts/rules/pets.py `doubtful`)."""
    resident, rs = ctx.resident(resident_id), ctx.residents[resident_id]
    if resident is not None and pets.waking(resident.timezone, rs.last_activity, at):  # cheap first: seldom so
        day_s = inactivity.thresholds(ctx, resident)[0]
        pets.doubtful(_background(rs), resident.timezone, at, day_s, ctx.rules.pets, rs.last_activity)


def _hindsight(ctx: RuleContext, rs: ResidentState, resident_id: str, device: Device, at: float, event: str) -> None:
    """rules.pets.hindsight (alerts/rules/pets.py): follow a departure that home-unit motion
    cancelled in a home with no background known — the door, the home unit's motion; any other
    activity at home (water, a button) shows her in."""
    learned = rs.learned  # the histories' record, read as such: this runs on every activity (alerts/state.py)
    background = None if learned is None else learned.background
    if background is None or not background.maybe_out or not ctx.rules.pets.hindsight:
        return
    if device.kind is _DOOR_SENSOR:
        pets.hindsight_door(background, at)
    elif device.kind is _PINGAN_CAT and event == "motion":
        pets.hindsight_motion(background, at, ctx.rules.pets, _timezone(ctx, resident_id))
    else:
        background.maybe_out.clear()


def _someone_home(rs: ResidentState) -> None:
    """Activity at home that only a person makes (a door, water, a button) while her tag is out:
    the tag's run is not learned (rules.pets.tag_absences)."""
    learned = rs.learned  # the histories' record, read as such: this runs on every activity (alerts/state.py)
    background = None if learned is None else learned.background
    if background is not None and background.tag_out:
        pets.tag_home_activity(background)


def tag_far(ctx: RuleContext, resident_id: str, at: float, out: bool | None) -> None:
    """rules.pets.tag_absences: a deciding fix of her tag at `at` (its newest), `out` beyond the
    home radius with all its accuracy (False: within it, None: neither) — in a home with a home unit's background record and no door
    sensor online to see her departures (alerts/rules/pets.py `tag_fix`)."""
    cfg = ctx.rules.pets
    if not cfg.enabled or not cfg.tag_absences:
        return
    learned = ctx.residents[resident_id].learned
    background = None if learned is None else learned.background
    if background is None:
        return
    if inactivity.departures_seen(ctx, resident_id):
        background.tag_out.clear()  # the door sees her absences: its evidence, not the tag's
        return
    pets.tag_fix(background, at, out, cfg, _timezone(ctx, resident_id))


def _background(rs: ResidentState) -> MotionBackground:
    learned = rs.learned  # the histories' record, read as such: this runs on every home-unit motion (alerts/state.py)
    background = None if learned is None else learned.background
    if background is None:
        background = rs.background = MotionBackground()
    return background


def _door_only(ctx: RuleContext, resident_id: str, device: Device) -> bool:
    """A door event is weak evidence where a motion sensor is online to see the resident: a
    visitor, a neighbour or the wind opens doors too, and the motion sensor saw nobody. It does
    not clear an inactivity alert there (home motion, water, a button or a moving tag does), so
    a resident never gets a series of the same alert re-opened after each door event."""
    return device.kind is DeviceKind.DOOR_SENSOR and ctx.has_motion_sensor(resident_id) and ctx.silence_judged(resident_id)


def _note_door(ctx: RuleContext, alert: Alert, device: Device, at: float) -> None:
    """Noted once: the first door event after the alert opened, with no motion inside after it."""
    if any(n.code is ReasonCode.DOOR_ONLY_ACTIVITY for n in alert.notes):
        return
    why = explain(ReasonCode.DOOR_ONLY_ACTIVITY, device=device_ref(device.id, device.kind), at=at)
    ctx.update_alert(alert, Reason.DOOR_ONLY_ACTIVITY, note=why)


def _home_motion(ctx: RuleContext, resident_id: str, at: float, now: float, sizes: tuple[int, ...] = (),
                 watch: bool = False) -> bool:
    """Note home motion; False when it is stray motion during an absence (not a return).
    In a pet's home (`sizes`) only a bout since the door opened shows the resident stayed in.
    `watch`: home-unit motion that rules.pets notes while the resident is out (a pet's evidence)."""
    rs = ctx.residents[resident_id]
    if rs.last_home_activity is None or at > rs.last_home_activity:
        rs.last_home_activity = at
    departure = rs.departure  # with a departure pending or an absence going on, this motion may end it
    if departure is not None and (departure.door_open_at is not None or departure.away_since is not None) \
            and not _still_home_or_back(ctx, rs, departure, resident_id, at, sizes, watch):
        return False
    exit_alert = ctx.book.find(resident_id, _GEOFENCE_EXIT)
    if exit_alert is not None and exit_alert.severity is Severity.HIGH and exit_alert.device is not None:  # her tag's (not night_exit's)
        ctx.update_alert(exit_alert, Reason.HOME_MOTION_WHILE_TAG_AWAY, severity=Severity.LOW,
                         note=explain(ReasonCode.HOME_MOTION_WHILE_TAG_AWAY, at=at))
    return True


def _still_home_or_back(ctx: RuleContext, rs: ResidentState, departure: Departure, resident_id: str, at: float,
                        sizes: tuple[int, ...], watch: bool) -> bool:
    """Home motion of a resident with departure fields (`rs.departure`, read and set on the
    record itself: this runs on every home motion): end a pending departure, or an absence when
    it shows a return; False when it is stray motion during an absence."""
    opened = departure.door_open_at
    stayed = not sizes or (opened is not None and pets.in_bout(_background(rs), at, sizes, since=opened))
    if opened is not None and at >= opened and stayed:
        departure.door_open_at = None  # still at home after opening the door
        if watch and not sizes and ctx.rules.pets.hindsight:
            pets.hindsight_start(_background(rs), opened, at)  # or a PIR firing by itself: looked back on later
    away_since = departure.away_since
    if away_since is not None and at > away_since:
        if not _returned(ctx, resident_id, at, sizes):
            if watch:
                pets.note_away(_background(rs), at)
            return False
        _end_absence(ctx, rs, at, _timezone(ctx, resident_id))
        _learn_absence(ctx, rs, at, _through_door(rs, at))
        departure.away_since = departure.away_by = departure.stray_motion_at = departure.stray_motions = None  # came home
        ctx.touched.add(resident_id)
    return True


def _back_early(ctx: RuleContext, rs: ResidentState, resident_id: str, at: float, now: float) -> None:
    """Home motion within DEPARTURE_CONFIRM_S of a door event during a recorded absence, the door
    event after the absence began: she (or someone) came in through the door. Until a departure
    she is judged as at home (`RuleContext.absence_at`): a resident back from her daughter's a
    day early who falls that night is not covered by the calendar's expected return; a visitor
    who checks the flat and leaves through the door hands it back to the absence."""
    door = rs.last_door_at
    if door is None or at - door > DEPARTURE_CONFIRM_S or at < door or not ctx.index.absences_of.get(resident_id):
        return
    absence = ctx.absence_at(resident_id, at)
    if absence is None or door < absence.start:
        return
    rs.back_at = at
    ctx.arm_resident(resident_id, now)
    ctx.touched.add(resident_id)


def _timezone(ctx: RuleContext, resident_id: str) -> str | None:
    resident = ctx.resident(resident_id)
    return None if resident is None else resident.timezone


def _end_absence(ctx: RuleContext, rs: ResidentState, at: float, tz: str | None = None) -> None:
    """rules.pets: the absence ends with home motion at `at`; a return through the door (a door
    event since the departure's passage, this motion within DEPARTURE_CONFIRM_S of it) keeps the
    motion seen while away (alerts/rules/pets.py `end_absence`)."""
    if not ctx.rules.pets.enabled or rs.away_since is None:
        return
    if rs.away_by != "door":
        _background(rs).away.clear()  # a tag-confirmed absence ends at any home motion: nothing to learn
        return
    pets.end_absence(_background(rs), rs.away_since, rs.last_door_at if _through_door(rs, at) else None, ctx.rules.pets, tz)


def _through_door(rs: ResidentState, at: float) -> bool:
    """A door-confirmed absence ends through the door: a door event since the departure's
    passage, and the home motion at `at` within DEPARTURE_CONFIRM_S of it — her return, seen."""
    door = rs.last_door_at
    return (rs.away_by == "door" and rs.away_since is not None and door is not None
            and door > rs.away_since + DOOR_PASSAGE_S and at - door <= DEPARTURE_CONFIRM_S)


def _learn_absence(ctx: RuleContext, rs: ResidentState, at: float, seen: bool) -> None:
    """rules.inactivity.away_learned: a door-confirmed absence longer than away_max_hours that
    ended with her return seen (`seen`: through the door, or her tag coming home) is one she has
    had; keep the longest of learned_day.window_days (alerts/rules/inactivity.py `away_limit_s`).
    A burst of motion with the door event lost proves less that she came home by herself."""
    cfg = ctx.rules.inactivity
    if not cfg.away_learned or rs.away_since is None or rs.away_by != "door" or not seen:
        return
    seconds = at - rs.away_since
    if seconds <= cfg.away_max_hours * 3600:
        return
    longest, ended = rs.longest_away_s, rs.longest_away_at
    stale = ended is None or at - ended > ctx.rules.learned_day.window_days * 86400
    if longest is None or stale or seconds >= longest:
        rs.longest_away_s, rs.longest_away_at = seconds, at


def _returned(ctx: RuleContext, resident_id: str, at: float, sizes: tuple[int, ...] = ()) -> bool:
    """Home motion at `at` during an absence: a return? Always, unless the door confirmed the
    departure and a door sensor is online to see the way back in; then it takes a door event
    since the departure, or RETURN_MOTIONS motion events within RETURN_WINDOW_S — and with
    rules.pets.by_hour in a home with a background at this hour (`sizes`), a bout of it since
    the departure (a PIR firing 4 times an hour makes 3 within 10 min every couple of hours)."""
    rs = ctx.residents[resident_id]
    assert rs.away_since is not None
    if rs.away_by != "door" or not inactivity.door_online(ctx, resident_id):
        return True  # (a door standing open still takes RETURN_MOTIONS: a pet's one motion is no return)
    if rs.last_door_at is not None and rs.last_door_at > rs.away_since + DOOR_PASSAGE_S:
        return True
    window = pets.fit(RETURN_WINDOW_S, RETURN_MOTIONS, _gap(rs))  # a blind-time PIR reports fewer (rules.motion_gap)
    if rs.stray_motion_at is None or rs.stray_motion_at < rs.away_since or at - rs.stray_motion_at > window:
        rs.stray_motion_at, rs.stray_motions = at, 0  # a new burst
    rs.stray_motions = (rs.stray_motions or 0) + 1
    if sizes and ctx.rules.pets.by_hour and not pets.in_bout(_background(rs), at, sizes, since=rs.away_since):
        return False
    if _left_unshut(ctx, resident_id, rs, at):
        return True  # the door she left by still stands open: it cannot see her come back in
    return rs.stray_motions >= RETURN_MOTIONS


def _left_unshut(ctx: RuleContext, resident_id: str, rs: ResidentState, at: float) -> bool:
    """inactivity.unshut_door_return: the opening that made her departure is the door's newest,
    not shut since, and (`night`) her motion at `at` comes in the night window. (A sensor that
    reports openings only never shuts: its first opening stands for ever, so only a departure
    through that very opening would count — once.)"""
    mode, ajar, away = ctx.rules.inactivity.unshut_door_return, rs.door_ajar_at, rs.away_since
    if mode == "never" or ajar is None or away is None or abs(away - ajar) > DOOR_PASSAGE_S:
        return False
    return mode == "always" or inactivity.at_night(ctx, resident_id, at)


def note_door_open(ctx: RuleContext, resident_id: str, at: float) -> None:
    rs = ctx.residents[resident_id]
    pending_newer = rs.door_open_at is None or at > rs.door_open_at
    motion_before = rs.last_home_activity is None or rs.last_home_activity <= at
    if rs.away_since is None and pending_newer and motion_before:
        rs.door_open_at = at
        ctx.arm_resident(resident_id, at + DEPARTURE_CONFIRM_S)
    elif rs.away_since is not None and at > rs.away_since + DOOR_PASSAGE_S and ctx.rules.inactivity.door_left_open:
        rs.door_in_at = at  # the door opened while she is away: closed again, or passed again, or she moves, or `_left_open`
        ctx.arm_resident(resident_id, at + DEPARTURE_CONFIRM_S)


def _note_ajar(rs: ResidentState, event: str | None, at: float) -> None:
    """inactivity.door_ajar_unseen: when her door was opened and is not shut since (None: shut)."""
    if event == "door_close":
        rs.door_ajar_at = None
    elif event == "door_open" and rs.door_ajar_at is None:
        rs.door_ajar_at = at


def note_door_closed(rs: ResidentState) -> None:
    """A door_close: the door opened while she was away is shut again (inactivity.door_left_open)."""
    departure = rs.departure
    if departure is not None and departure.door_in_at is not None:
        departure.door_in_at = None


def _left_open(ctx: RuleContext, rs: ResidentState, resident_id: str, now: float) -> float | None:
    """rules.inactivity.door_left_open: the door opened during her absence and for DEPARTURE_CONFIRM_S
    since nothing — no closing, no other door event, no home motion (which ends the absence as a
    return, `_returned`). Whoever comes home shuts the door behind them; a door left standing open
    with nobody moving inside is someone lying in the doorway — a fall as she came in (her tag, the
    door and the home unit otherwise all wait for a return that never moves). Her absence ends at
    the opening and her silence is judged from it. Returns when to look again."""
    departure = rs.departure
    opened = None if departure is None else departure.door_in_at
    if opened is None or departure is None:
        return None
    away_since = departure.away_since
    if away_since is None or opened <= away_since:
        departure.door_in_at = None  # the absence ended otherwise
        return None
    if now < opened + DEPARTURE_CONFIRM_S:
        return opened + DEPARTURE_CONFIRM_S
    if rs.background is not None:
        rs.background.away.clear()  # not a return through the door seen with her motion: nothing for the pets rule to learn
    departure.away_since = departure.away_by = departure.stray_motion_at = departure.stray_motions = departure.door_in_at = None
    departure.door_open_at = None
    ctx.count("doors_left_open")
    ctx.touched.add(resident_id)
    return None


def confirm_departure(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """Turn a pending door departure into `away` once no motion followed; return when to look again."""
    rs = ctx.residents[resident_id]
    departure = rs.departure  # the record, read as such: this runs at every resident deadline (alerts/state.py)
    if departure is not None and departure.door_in_at is not None:
        return _left_open(ctx, rs, resident_id, now)
    if departure is None or departure.door_open_at is None or departure.away_since is not None:
        return None
    due = departure.door_open_at + DEPARTURE_CONFIRM_S + _blind_left(rs, departure.door_open_at)
    if now < due:
        return due
    since = departure.door_open_at
    rs.away_since, rs.away_by, rs.door_open_at = since, "door", None
    ctx.touched.add(resident_id)
    return night_exit.departed(ctx, resident_id, since)


def _gap(rs: ResidentState) -> float | None:
    """rules.motion_gap: the home unit's learned gap between motions (None: not learned, or off)."""
    background = rs.background
    return None if background is None else background.gap


def _blind_left(rs: ResidentState, at: float) -> float:
    """rules.motion_gap: how long after `at` the home unit stays blind after its newest motion
    (up to its learned gap): motion then cannot be reported, so a departure's confirmation
    (DEPARTURE_CONFIRM_S) counts from the end of it."""
    background = rs.background
    if background is None or background.gap is None or background.gap_last is None:
        return 0.0
    return min(background.gap, max(0.0, background.gap_last + background.gap - at))


def tag_home_edge(ctx: RuleContext, resident_id: str, out: bool, at: float) -> None:
    """The tag crossed the home radius: out → away (unless home motion contradicts it), in → home."""
    rs = ctx.residents[resident_id]
    if out:
        rs.tag_left_at = at
    if out and rs.away_since is None:
        rs.away_since, rs.away_by = at, "tag"
    elif not out and rs.away_since is not None and not _tag_went_along(rs):
        rs.tag_left_at = None  # a tag left at home: its scatter crossing the radius and back is none of her return
    elif not out and rs.away_since is not None:
        if rs.background is not None and rs.away_by == "door":  # the door saw her leave, the tag her come back
            pets.end_absence(rs.background, rs.away_since, at, ctx.rules.pets, _timezone(ctx, resident_id))
        _learn_absence(ctx, rs, at, seen=True)  # the door saw her leave, the tag her come back
        rs.away_since = rs.away_by = None
        rs.door_open_at = None
        ctx.arm_resident(resident_id, at)  # back home: the away deadline gives way to the silence's
    ctx.touched.add(resident_id)


def _tag_went_along(rs: ResidentState) -> bool:
    """Her tag left the home radius as she went out by the door (not before, not hours later: a
    tag left at home scatters across the radius now and then): only then does its coming back
    say that she did."""
    if rs.away_by != "door":
        return True
    left, since = rs.tag_left_at, rs.away_since
    return left is not None and since is not None and -TAG_ALONG_BEFORE_S <= left - since <= TAG_ALONG_AFTER_S


def note_tag_moved(ctx: RuleContext, resident_id: str, at: float) -> None:
    """Proven movement of her tag (alerts/rules/geofence.py `_moved`) while she is away: a sign
    of life, from which `away_max_hours` runs (rules.inactivity.away_counts_tag_movement)."""
    rs = ctx.residents[resident_id]
    if rs.away_since is not None and at > rs.away_since and (rs.tag_moved_at is None or at > rs.tag_moved_at):
        rs.tag_moved_at = at


def is_activity_device(device: Device) -> bool:
    return device.kind is not DeviceKind.SMOKE_ALARM and device.kind is not DeviceKind.GAS_ALARM
