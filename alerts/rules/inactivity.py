"""Inactivity: too long a silence at home, judged in the resident's local time.

A silence by day is due after day_hours, spent hour by hour at the learned per-hour factor
when the routine applies. A silence that may be sleep — it began in the night window (which
may cross midnight) or up to BEDTIME_LEAD_S before it opens — is allowed night_hours but ends
at the latest sleep_in_hours after the window closes; the learned routine shapes only the day.
With 6 h / 12 h / 21:00-07:00 / 3 h: last movement 10:00 → 16:00; 20:00 → 08:00; 23:00 →
10:00; 02:00 → 10:00.

A silence that began by day more than BEDTIME_LEAD_S before the night window opens (the last
movement at 18:30, with a 21:00 window) is judged at the day rate all along — whoever goes to
bed moves on the way there, so a silence that started long before bedtime and runs on into
the night is a resident who never went to bed (a fall in the early evening was otherwise
found only the next morning, 9–10 h later). A resident who really sleeps earlier gets an
earlier night window (registry override).

Silence starts at the newest of: last activity (device time), the start of monitoring, the
expected return of an ended absence. Not judged: during an absence, while the resident is away
(until away_max_hours after the departure — or after her tag's newest proven movement, with
away_counts_tag_movement — then an `away_too_long` inactivity alert), or when
no home activity sensor is online, or the home has a motion sensor and none is online (the
device_offline alert speaks instead — never both; a live door sensor next to a dead motion
sensor does not judge silence: it made one home flap 25 times in 8 days).
"""

from __future__ import annotations

from alerts.actions import AlertKind, Outcome, Reason, Severity
from alerts.context import RuleContext, is_late
from alerts.localtime import DAY_S, in_window, local_day, parse_window, seconds_of_day, utc_offset_s
from alerts.reasons import Explanation, ReasonCode, device_ref
from alerts.reasons import explain as reason
from alerts.registry import Resident
from alerts.rules import activity, pets, quiet, routine
from alerts.state import QuietHistory, ResidentState
from devices.kinds import DeviceKind

MAX_STEPS = 2000
BEDTIME_LEAD_S = 3600.0  # a silence beginning up to 1 h before the night window may be sleep
RUN_PAUSE_S = 3600.0  # a pause this long ends a run of activity (ResidentState.active_since)
DOOR_KINDS = frozenset({DeviceKind.DOOR_SENSOR})  # the sensors that see her departures (`departures_seen`)
DOOR_AJAR_S = 600.0  # a door open this long is standing open, not being passed (inactivity.door_ajar_unseen)
# Read on every activity, bound once: Python 3.11 reads an enum class's attribute through its
# metaclass's __getattr__ hook, about 800 instructions a read (docs/BENCHMARKS.md, session 11).
_INACTIVITY = AlertKind.INACTIVITY


def thresholds(ctx: RuleContext, resident: Resident) -> tuple[float, float, str]:
    """(day seconds, night seconds, night window) with the resident's overrides applied.

    By day, `day_hours_door` applies while a door sensor of the resident is online: it sees
    departures, so an outing is not a silence at home and the day allowance covers only naps
    and quiet spells. Where no door sensor sees departures, a long outing without the tag is
    indistinguishable from a fall, and `day_hours` (longer) must cover it. A resident's own
    `day_hours` overrides both."""
    base, own = ctx.rules.inactivity, resident.inactivity
    day = base.day_hours_door if base.day_hours_door is not None and departures_seen(ctx, resident.id) else base.day_hours
    day = own.day_hours if own.day_hours is not None else day
    night = own.night_hours if own.night_hours is not None else base.night_hours
    return day * 3600, night * 3600, own.night or base.night


def at_night(ctx: RuleContext, resident_id: str, at: float) -> bool:
    """`at` falls in the resident's night window (local time)."""
    resident = ctx.resident(resident_id)
    if resident is None:
        return False
    window = parse_window(resident.inactivity.night or ctx.rules.inactivity.night)
    return in_window(seconds_of_day(at, resident.timezone), window)


def door_online(ctx: RuleContext, resident_id: str) -> bool:
    """A door sensor of the resident is online (open or shut)."""
    return ctx.any_online(resident_id, DOOR_KINDS)


def departures_seen(ctx: RuleContext, resident_id: str) -> bool:
    """A door sensor of the resident is online and her door is shut: it sees her departures. A door
    that has stood open for DOOR_AJAR_S (a farmhouse's door propped open all day, inactivity.door_ajar_unseen)
    sends nothing when she walks out through it."""
    if not door_online(ctx, resident_id):
        return False
    ajar, now = ctx.residents[resident_id].door_ajar_at if ctx.rules.inactivity.door_ajar_unseen else None, ctx.now
    return ajar is None or now is None or now - ajar < DOOR_AJAR_S


def due_time(start: float, tz: str, day_s: float, night_s: float, night: str, hour_factors: list[float] | None,
             sleep_in_s: float = 3 * 3600.0, floor_s: float = 0.0, nap: tuple[str, float] | None = None,
             bedtime_min: float | None = None, night_at_least_day: bool = False,
             late_bed: tuple[float, float] | None = None) -> float:
    """When a silence that began at `start` has spent its budget.

    A silence that may be sleep is allowed `night_s`, but ends at the latest `sleep_in_s` after
    the night window closes: a night's sleep and a sleep-in fit (bed at 22:47, up at 09:01 was
    an alert at 08:53 when the hours after 07:00 were spent at the day rate), and a resident
    who went back to bed after a bathroom visit at 03:00 and is still silent at 10:00 is not
    asleep any more. The learned routine does not shape the night — neither tighter (the
    learned night of a resident who gets up most nights was too short for the nights they
    slept through) nor wider. By day the learned routine never allows less than `floor_s`.

    With her earliest bedtime learned (`bedtime_min`, minutes after noon), a night may begin
    BEDTIME_LEAD_S before it instead of before the window's opening. With `night_at_least_day`,
    a silence beginning in the night window's last BEDTIME_LEAD_S is allowed at least the day
    allowance: a resident up at dawn and quiet again is awake, not owed only the rest of the night.

    With `late_bed` (shift, ceiling seconds) for a night whose going to bed came `shift` after
    midnight (late_bedtime), the night's end moves `shift` later, to at most `ceiling` after the
    window closes: a sleep lasts about as long from a late bedtime as from midnight, and the
    end moves with the bedtime without a jump at midnight."""
    window = parse_window(night)
    if not _may_be_sleep(start, tz, window, bedtime_min):
        due = max(_day_walk(start, tz, day_s, hour_factors), start + min(floor_s, day_s))
        if nap is not None and _in_window(start, tz, nap[0]):
            due = max(due, start + nap[1])  # an afternoon nap (午睡) fits
        return due
    end = night_end(start, tz, window) + sleep_in_s
    if late_bed is not None:
        end = max(end, min(end + late_bed[0], night_end(start, tz, window) + late_bed[1]))
    due = min(start + night_s, end)
    return max(due, start + day_s) if night_at_least_day and _at_dawn(start, tz, window) else due


def _in_window(t: float, tz: str, window: str) -> bool:
    return in_window((t + utc_offset_s(t, tz)) % DAY_S, parse_window(window))


def _at_dawn(start: float, tz: str, window: tuple[int, int]) -> bool:
    """A silence beginning in the night window's last BEDTIME_LEAD_S (06:00-07:00 with 21:00-07:00)."""
    sod = (start + utc_offset_s(start, tz)) % DAY_S
    return in_window(sod, window) and (window[1] - sod) % DAY_S <= BEDTIME_LEAD_S


def note_run(ctx: RuleContext, resident_id: str, at: float) -> None:
    """New activity at `at` (before last_activity moves to it): after a pause of RUN_PAUSE_S a
    new run of activity begins. The night's first such pause that may be sleep is tonight's
    going to bed, whatever came before it: in bed at 23:20 after a short trip, up for an hour
    at 01:20 and silent from 02:20 is a wakeful night after a bedtime, not a late bedtime
    (field s2 r-0052's fall at 02:21)."""
    rs = ctx.residents[resident_id]
    last, learned = rs.last_activity, rs.learned  # `learned` read as the record: this runs on every activity
    if last is not None and learned is not None and learned.active_since is not None and at - last < RUN_PAUSE_S:
        return
    resident = ctx.resident(resident_id)
    if rs.last_activity is not None and resident is not None and tonights_bedtime(ctx, resident, rs.last_activity) is None:
        window = parse_window(resident.inactivity.night or ctx.rules.inactivity.night)
        if _may_be_sleep(rs.last_activity, resident.timezone, window):
            rs.went_to_bed, rs.bed_after_run = rs.last_activity, _sustained(ctx, rs, rs.last_activity)
    rs.active_since = at


def _sustained(ctx: RuleContext, rs: ResidentState, end: float) -> bool:
    """The run of activity that ended at `end` lasted late_bedtime_run_minutes: an evening, not a bathroom visit."""
    learned = rs.learned  # the record, read as such (alerts/state.py)
    since = None if learned is None else learned.active_since
    return since is not None and end - since >= ctx.rules.inactivity.late_bedtime_run_minutes * 60


def tonights_bedtime(ctx: RuleContext, resident: Resident, start: float) -> float | None:
    """The going to bed already seen this night, before a silence beginning at `start`: one that
    may be sleep (in the night window or just before it) within night_hours of `start`."""
    learned = ctx.residents[resident.id].learned  # the record, read as such (alerts/state.py)
    bed = None if learned is None else learned.went_to_bed
    _, night_s, night = thresholds(ctx, resident)
    if bed is None or not 0 < start - bed <= night_s:
        return None
    return bed if _may_be_sleep(bed, resident.timezone, parse_window(night)) else None


def late_bedtime_shift(ctx: RuleContext, resident: Resident, start: float) -> tuple[float, float] | None:
    """(how long after midnight she went to bed, ceiling) for a night's silence whose going to
    bed came after midnight (rules.inactivity.late_bedtime); None otherwise.

    The going to bed is the night's first pause of RUN_PAUSE_S (in the night window or just
    before it): a silence after a short return to bed (a bathroom visit, or a fall on the way
    there) or after an hour up in the night belongs to it, and is a going to bed only if a run
    of late_bedtime_run_minutes ended it (not the first pause seen when watching began at
    00:40, nights s1 r-0041). Only when there was none tonight
    is this silence the going to bed — if a run of late_bedtime_run_minutes ended it (an
    evening up without an hour's pause since the night window opened). A resident who went to
    bed at 22:30 and is silent from a visit at 02:10 keeps the window's end (10:00); one who
    was up all evening until 02:10 gets 2 h 10 more, to 13:00 at the latest (docs/RULES.md
    "Late bedtimes"). A fall at the end of such an evening is found that much later."""
    cfg, rs = ctx.rules.inactivity, ctx.residents[resident.id]
    if not cfg.late_bedtime or rs.last_activity != start:
        return None
    bed = tonights_bedtime(ctx, resident, start)
    if bed is None and _sustained(ctx, rs, start):
        bed = start
    elif bed is not None and not rs.bed_after_run:
        bed = None  # tonight's first pause ended no evening of activity (watched from 00:00, a short trip)
    if bed is None:
        return None
    window = parse_window(resident.inactivity.night or cfg.night)
    sod = (bed + utc_offset_s(bed, resident.timezone)) % DAY_S
    after_midnight = window[0] > window[1] and sod < window[1]  # 00:00 to the window's end
    return (sod, cfg.late_bedtime_ceiling_hours * 3600) if after_midnight else None


def night_end(start: float, tz: str, window: tuple[int, int]) -> float:
    """The end of the night window `start` lies in (or, just before it opens, of the coming one)."""
    sod = (start + utc_offset_s(start, tz)) % DAY_S
    return start + ((window[1] - sod) % DAY_S or DAY_S)


def _day_walk(start: float, tz: str, day_s: float, hour_factors: list[float] | None) -> float:
    """Spend the budget hour by hour at day_s × the hour's learned factor (1 without a routine)."""
    if hour_factors is None:
        return start + day_s
    budget, t = 1.0, start
    for _ in range(MAX_STEPS):
        sod = (t + utc_offset_s(t, tz)) % DAY_S
        hour = int(sod // 3600)
        threshold = day_s * hour_factors[hour]
        segment = max(1.0, (hour + 1) * 3600 - sod)
        need = budget * threshold
        if need <= segment:
            return t + need
        budget -= segment / threshold
        t += segment
    return t


def _may_be_sleep(start: float, tz: str, window: tuple[int, int], bedtime_min: float | None = None) -> bool:
    """A silence beginning in the night window, or at most BEDTIME_LEAD_S before it opens; with
    the resident's own bedtime (minutes after noon), from BEDTIME_LEAD_S before it to the window's end."""
    sod = (start + utc_offset_s(start, tz)) % DAY_S
    if bedtime_min is not None:
        until = ((window[1] - quiet.NOON_S) % DAY_S) / 60
        return bedtime_min - BEDTIME_LEAD_S / 60 <= quiet.after_noon_min(start, tz) < until
    if in_window(sod, window):
        return True
    return (window[0] - sod) % DAY_S <= BEDTIME_LEAD_S


class _Ask:
    """The caller has not asked `bedtime_of` yet (`evaluate` asks once and passes the answer)."""


ASK = _Ask()


def _bed(ctx: RuleContext, resident: Resident, start: float, bed: float | _Ask | None) -> float | None:
    return bedtime_of(ctx, resident, start) if isinstance(bed, _Ask) else bed


def learned_day_s(ctx: RuleContext, resident: Resident, start: float, bed: float | _Ask | None = ASK) -> quiet.Learned | None:
    """The resident's learned daytime allowance for a silence beginning at `start`, or None
    (not learned yet, a silence that may be sleep, or the resident's own `day_hours` set)."""
    window = parse_window(resident.inactivity.night or ctx.rules.inactivity.night)
    if resident.inactivity.day_hours is not None or _may_be_sleep(start, resident.timezone, window, _bed(ctx, resident, start, bed)):
        return None
    cfg = ctx.rules.learned_day
    door = departures_seen(ctx, resident.id)
    habit = not cfg.habit_needs_door or door
    return quiet.allowance(_quiet_history(ctx, resident.id), resident.timezone, start, cfg, habit,
                           _nap_hours(ctx, resident, start) if cfg.nap_spells_own and door else None)


def _nap_hours(ctx: RuleContext, resident: Resident, start: float) -> range | None:
    """The nap window's whole local hours (12-14 with 11:30-15:00) when a silence begins at `start`
    after the window closes (learned_day.nap_spells_own): her spells there are naps, the nap
    window's own, and do not widen her afternoon and evening before she is settled. None: in the
    window or before it (her mornings: 4 false alerts of people back to bed after an early rise
    when they were judged without their naps too), or no window."""
    nap = ctx.rules.inactivity.nap
    if nap is None or _in_window(start, resident.timezone, nap):
        return None
    opens, closes = parse_window(nap)
    if closes <= opens:
        return None
    if (start + utc_offset_s(start, resident.timezone)) % DAY_S < closes:
        return None  # a morning: a return to bed after an early rise is hers at any length the day has shown
    return range(int(-(-opens // 3600)), int(closes // 3600))


def shrink_days(ctx: RuleContext, resident: Resident) -> float:
    """learned_day.shrink_days, or 0 where it needs a door sensor and none sees departures: there
    quiet spells at home include outings without the tag, and a week without a long one says little."""
    cfg = ctx.rules.learned_day
    return 0.0 if cfg.shrink_needs_door and not departures_seen(ctx, resident.id) else cfg.shrink_days


def outing_prior_s(ctx: RuleContext, resident: Resident, start: float, bed: float | _Ask | None = ASK) -> float:
    """The first days' allowance of a silence beginning in the outing window (inactivity.outing_window)
    where no door sensor sees departures: an outing without the tag is a silence at home to the
    hub, and in the first `outing_days` days little says how long hers last. 0: none."""
    cfg = ctx.rules.inactivity
    if cfg.outing_window is None or resident.inactivity.day_hours is not None or departures_seen(ctx, resident.id):
        return 0.0
    tz, night = resident.timezone, parse_window(resident.inactivity.night or cfg.night)
    if _may_be_sleep(start, tz, night, _bed(ctx, resident, start, bed)):
        return 0.0
    sod = (start + utc_offset_s(start, tz)) % DAY_S
    return cfg.outing_hours * 3600 if in_window(sod, parse_window(cfg.outing_window)) else 0.0


def learned_sleep_in_s(ctx: RuleContext, resident: Resident, start: float, bed: float | _Ask | None = ASK) -> quiet.Learned | None:
    """How long after the night window a night's silence beginning at `start` may last, learned
    from how late this resident got up (None: not learned yet, or not a night)."""
    window = parse_window(resident.inactivity.night or ctx.rules.inactivity.night)
    if not _may_be_sleep(start, resident.timezone, window, _bed(ctx, resident, start, bed)):
        return None
    end = night_end(start, resident.timezone, window)
    return quiet.sleep_in(_quiet_history(ctx, resident.id), resident.timezone, end, ctx.rules.learned_day)


def early_sleep_in_s(ctx: RuleContext, resident: Resident, start: float, bed: float | _Ask | None = ASK) -> float | None:
    """The sleep-in of an early riser's night beginning at `start` (learned_day.early_risers):
    the prior's, less by how early her latest rising of the window was, weighed by the mornings
    seen (quiet.early_sleep_in). None: off, not a night, or not up before the window's end every morning."""
    cfg = ctx.rules.learned_day
    if not cfg.enabled or not cfg.early_risers:
        return None
    window = parse_window(resident.inactivity.night or ctx.rules.inactivity.night)
    if not _may_be_sleep(start, resident.timezone, window, _bed(ctx, resident, start, bed)):
        return None
    end = night_end(start, resident.timezone, window)
    return quiet.early_sleep_in(_quiet_history(ctx, resident.id), resident.timezone, end, ctx.rules.inactivity.sleep_in_hours * 3600, cfg)


def _quiet_history(ctx: RuleContext, resident_id: str) -> QuietHistory | None:
    """The resident's quiet history, read on the `Learned` record itself (not through the
    state's property)."""
    learned = ctx.residents[resident_id].learned
    return None if learned is None else learned.quiet


def bedtime_of(ctx: RuleContext, resident: Resident, start: float) -> float | None:
    """Where a night may begin for a silence beginning at `start` (minutes after noon): her
    earliest bedtime (learned_day.own_bedtime); None: the window."""
    cfg = ctx.rules.learned_day
    if not cfg.enabled or not cfg.own_bedtime:
        return None  # not learned (quiet.earliest_bedtime says None then)
    learned = ctx.residents[resident.id].learned  # `_quiet_history` inlined: this runs several times a message
    history = None if learned is None else learned.quiet
    if history is None:  # nothing learned
        return _prior_bedtime(ctx, resident.id, start)
    # The answer depends on the evening of `start`, her nights, the night window and the config only:
    # kept on the history for the next activity of the same evening (record_bedtime clears it).
    evening, _ = local_day(start - quiet.NOON_S, resident.timezone)
    night = resident.inactivity.night or ctx.rules.inactivity.night
    kept = history.bedtime
    if kept is not None and kept[0] == evening and kept[1] == night and kept[2] is cfg:
        return kept[3]
    opens = None
    if cfg.bedtime_widen_nights:
        window = parse_window(night)
        opens = ((window[0] - quiet.NOON_S) % DAY_S) / 60
    bed = quiet.earliest_bedtime(history, evening, cfg, opens)
    prior = _prior_bedtime(ctx, resident.id, start)
    if prior is not None and quiet.earliest_bedtime(history, evening, cfg) is None:  # hers not settled yet
        bed = prior if bed is None else min(bed, prior)
    history.bedtime = (evening, night, cfg, bed)
    return bed


def _prior_bedtime(ctx: RuleContext, resident_id: str, start: float) -> float | None:
    """learned_day.prior_bedtime_hours in minutes after noon (20 → 480) in her first
    prior_bedtime_days of monitoring, or None."""
    cfg, watched = ctx.rules.learned_day, ctx.residents[resident_id].watch_start
    if cfg.prior_bedtime_hours is None or watched is None or start - watched >= cfg.prior_bedtime_days * DAY_S:
        return None
    return cfg.prior_bedtime_hours * 60 - quiet.NOON_S / 60


def note_quiet_spell(ctx: RuleContext, resident_id: str, at: float, by: DeviceKind | None = None) -> None:
    """Activity at `at` (seen by a device of kind `by`) ends the silence so far: keep it as a
    daytime quiet spell at home when it began by day, the resident was not away (a confirmed
    departure), and silence was judged. Call before last activity moves to `at`."""
    cfg = ctx.rules.learned_day
    resident, rs = ctx.resident(resident_id), ctx.residents[resident_id]
    departure = rs.departure  # the side records read as such: this runs on every activity (alerts/state.py)
    if not cfg.enabled or resident is None or (departure is not None and departure.away_since is not None) \
            or not ctx.silence_judged(resident_id):
        return
    start = silence_start(ctx, resident_id, at)
    if at <= start or ctx.absence_at(resident_id, start) is not None:
        return
    alert = ctx.book.find(resident_id, _INACTIVITY)
    whole = at
    if alert is not None and alert.triggered_at <= start:
        at = min(at, alert.opened_at)  # known quiet that long; a fall would have gone on
    learned = rs.learned
    history = None if learned is None else learned.quiet
    if history is None:
        history = rs.quiet = QuietHistory()
    tz, window = resident.timezone, parse_window(resident.inactivity.night or ctx.rules.inactivity.night)
    slept = cfg.alerted_nights and whole > at and _slept_through(start, whole, tz, by)
    if slept:
        at = whole  # an evening's silence that an alert took for a fall, and she got up from it herself: her night
    if cfg.own_bedtime:
        quiet.record_bedtime(history, tz, start, at - start, cfg)
    if slept or (_may_be_sleep(start, tz, window, bedtime_of(ctx, resident, start))
                 and not _an_evening_spell(start, at, tz, window, cfg.evening_spells_by_day)):
        end = night_end(start, tz, window)
        quiet.record_wake(history, tz, end, at - end, cfg)
        if cfg.early_risers and at - start >= RUN_PAUSE_S:  # a shorter pause is no sleep (sitting at dawn, up already)
            quiet.record_rising(history, tz, end, at - end, cfg)
    else:
        quiet.record(history, tz, start, at - start, cfg)


def _slept_through(start: float, end: float, tz: str, by: DeviceKind | None) -> bool:
    """A silence that began in the evening (quiet.BEDTIMES_MIN: 18:00-05:00), lasted a night
    (quiet.NIGHT_MIN_S), went on past midnight and ended before noon with her own movement at home:
    not a door opening (someone coming in to find her; she, leaving, moves first) — sleep, even
    when an alert opened on it (learned_day.alerted_nights: she goes to bed earlier than the hub
    allowed for)."""
    if by is DeviceKind.DOOR_SENSOR or end - start < quiet.NIGHT_MIN_S:
        return False
    bed = quiet.after_noon_min(start, tz)
    up = bed + (end - start) / 60
    return quiet.BEDTIMES_MIN[0] <= bed < quiet.BEDTIMES_MIN[1] and quiet.SMALL_HOURS_MIN <= up < 2 * quiet.SMALL_HOURS_MIN


def _an_evening_spell(start: float, end: float, tz: str, window: tuple[int, int], on: bool) -> bool:
    """A silence that may be sleep only by her earliest bedtime (it began before the window's
    hour before) and ended before midnight: an evening in the armchair, not a night — with
    learned_day.evening_spells_by_day it is kept as a daytime quiet spell, as the window's rule
    keeps it (a silence from 19:48 to 23:00, then bed at 23:38)."""
    if not on or _may_be_sleep(start, tz, window):
        return False
    return quiet.after_noon_min(start, tz) + (end - start) / 60 < quiet.SMALL_HOURS_MIN


def silence_start(ctx: RuleContext, resident_id: str, now: float) -> float:
    rs = ctx.residents[resident_id]
    starts = [t for t in (rs.last_activity, rs.watch_start, ctx.last_return(resident_id, now)) if t is not None]
    dep = rs.departure  # outage_not_silence: an unwatched span is not silence (alerts/rules/offline.py)
    if dep is not None and dep.blind_floor is not None and (rs.last_activity is None or rs.last_activity < (dep.blind_from or 0.0)):
        starts.append(dep.blind_floor)
    return max(starts) if starts else now


def evaluate(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """Open the alert if due; return when to look again (None: an event will re-arm)."""
    resident = ctx.resident(resident_id)
    rs = ctx.residents[resident_id]
    if resident is None:
        return None
    open_alert = ctx.book.find(resident_id, _INACTIVITY)
    absence = ctx.absence_at(resident_id, now)
    if absence is not None:
        if open_alert is not None:
            ctx.resolve_alert(open_alert, Outcome.CLEARED, Reason.ABSENCE_RECORDED, now,
                              note=reason(ReasonCode.ABSENCE_RECORDED, until=absence.until))
        return absence.until
    if open_alert is not None or not ctx.silence_judged(resident_id):
        return None
    departure, record = rs.departure, rs.learned  # the side records read as such (alerts/state.py)
    flushing = None if departure is None else departure.flush_until
    if flushing is not None and now < flushing:
        return flushing  # a flush of kept events is judged once it is over, not at each of them (docs/RULES.md)
    away_since = None if departure is None else departure.away_since
    if away_since is not None:
        due = away_due(ctx, rs, away_since)
        if now < due:
            return due
        why = reason(ReasonCode.AWAY_TOO_LONG, since=away_since, by=rs.away_by or "door", limit_s=due - away_since)
        ctx.open_alert(AlertKind.INACTIVITY, Severity.HIGH, resident_id, device=None, now=now, triggered_at=away_since,
                       why=why, reason=Reason.AWAY_TOO_LONG, late=is_late(due, now))
        return None
    start = silence_start(ctx, resident_id, now)
    day_s, night_s, night = thresholds(ctx, resident)
    history = None if record is None else record.routine
    hour_factors = None if history is None else routine.factors(history, ctx.rules.routine)
    # the learned day never goes below min_factor × the day allowance of a home without a door sensor
    floor_s = ctx.rules.routine.min_factor * ctx.rules.inactivity.day_hours * 3600 if hour_factors is not None else 0.0
    cfg = ctx.rules.inactivity
    nap = None if cfg.nap is None else (cfg.nap, cfg.nap_hours * 3600)
    sleep_in_s = cfg.sleep_in_hours * 3600
    bed = bedtime_of(ctx, resident, start)  # asked once: the history does not change while this runs
    learned_night = learned_sleep_in_s(ctx, resident, start, bed)
    if learned_night is not None:
        sleep_in_s = learned_night.seconds if learned_night.settled else max(sleep_in_s, learned_night.seconds)
    early = early_sleep_in_s(ctx, resident, start, bed)
    if early is not None:  # up before 07:00 every morning so far: her night ends sooner, by the mornings of evidence
        sleep_in_s = min(sleep_in_s, early)
    due = due_time(start, resident.timezone, day_s, night_s, night, hour_factors, sleep_in_s, floor_s, nap,
                   bed, cfg.night_at_least_day, late_bedtime_shift(ctx, resident, start))
    learned = learned_day_s(ctx, resident, start, bed)
    if learned is not None:  # the resident's own quiet spells: wider at once, tighter by the days of evidence
        due = start + quiet.blend(due - start, learned, shrink_days(ctx, resident))
        if not learned.settled and nap is not None and _in_window(start, resident.timezone, nap[0]):
            due = max(due, start + nap[1])  # a long nap comes some days only: a week without one says little
    if learned is None or learned.days < cfg.outing_days:
        due = max(due, start + outing_prior_s(ctx, resident, start, bed))
    background = None if record is None else record.background
    doubt = None if background is None or not ctx.rules.pets.wake_bound else background.doubt_at
    if doubt is not None and start < doubt and doubt + pets.WAKE_GRACE_S > due:
        # rules.pets.wake_bound: a doubtful bout before the end waits a little (one after it — the alert not open,
        # so one came before — keeps that wait: the newest is kept)
        due = max(due, min(doubt, due) + pets.WAKE_GRACE_S)
    if now < due:
        return due
    ctx.open_alert(AlertKind.INACTIVITY, Severity.HIGH, resident_id, device=None, now=now, triggered_at=start,
                   why=explain(ctx, resident, start, due), reason=Reason.SILENCE_EXCEEDED, late=is_late(due, now))
    return None


def away_due(ctx: RuleContext, rs: ResidentState, away_since: float) -> float:
    """`away_max_hours` of no sign of life: from the departure, or (away_counts_tag_movement)
    from her tag's newest proven movement since — she is alive and out, not back. A still tag
    (left at home, or scattering indoors at her child's) proves nothing and moves nothing."""
    cfg = ctx.rules.inactivity
    since = away_since
    if cfg.away_counts_tag_movement and rs.tag_moved_at is not None and rs.tag_moved_at > away_since:
        since = rs.tag_moved_at
    return since + away_limit_s(ctx, rs, away_since)


def away_limit_s(ctx: RuleContext, rs: ResidentState, away_since: float) -> float:
    """`away_max_hours`, or (away_learned) learned_day.margin × her longest absence that ended
    with her return through the door within learned_day.window_days before this departure,
    up to away_ceiling_hours: a weekend at her child's she has had is no alarm; the first is."""
    cfg = ctx.rules.inactivity
    limit_s = cfg.away_max_hours * 3600
    longest, ended = rs.longest_away_s, rs.longest_away_at
    if not cfg.away_learned or longest is None or ended is None:
        return limit_s
    if away_since - ended > ctx.rules.learned_day.window_days * 86400:
        return limit_s  # too long ago to say what she does now
    return max(limit_s, min(ctx.rules.learned_day.margin * longest, cfg.away_ceiling_hours * 3600))


def explain(ctx: RuleContext, resident: Resident, start: float, due: float) -> Explanation:
    """The silence as data: since when, the last activity and what saw it, the sensors it was
    judged on, the silence allowed and why that much (fixed: which allowance; learned: the
    hour the resident is usually active in)."""
    rs = ctx.residents[resident.id]
    last = ctx.device(rs.last_activity_device) if rs.last_activity_device else None
    judged_on = [device_ref(d.id, d.kind) for d in ctx.devices_of(resident.id) if activity.is_activity_device(d) and ctx.online(d)]
    basis, usual = _basis(ctx, resident, start, due)
    history_days = rs.routine.days if usual is not None and rs.routine is not None else None
    return reason(
        ReasonCode.SILENCE_EXCEEDED, since=start, last_activity=rs.last_activity,
        last_device=None if last is None else device_ref(last.id, last.kind), devices=judged_on,
        threshold_s=round(due - start), basis=basis, usual_hour=None if usual is None else usual[0],
        usual_days=None if usual is None else usual[1], history_days=history_days,
    )


def _basis(ctx: RuleContext, resident: Resident, start: float, due: float) -> tuple[str, tuple[int, int] | None]:
    """Which allowance set the due time (alerts/reasons.py SILENCE_BASES), and for a learned one
    the (hour, days) the resident is usually active in next."""
    rs, cfg, tz = ctx.residents[resident.id], ctx.rules.inactivity, resident.timezone
    day_s, _, night = thresholds(ctx, resident)
    if _may_be_sleep(start, tz, parse_window(night), bedtime_of(ctx, resident, start)):
        return "night", None
    learned = learned_day_s(ctx, resident, start)
    if learned is not None and (learned.settled or due - start <= learned.seconds + 1):
        return "learned_day", None
    if cfg.nap is not None and due - start > day_s and abs(due - start - cfg.nap_hours * 3600) < 1:
        return "nap", None
    if learned is not None and shrink_days(ctx, resident) > 0 and learned.seconds < due - start and abs(due - start - day_s) >= 1:
        return "learned_day", None  # the prior moved part of the way towards it
    if rs.routine is not None and routine.factors(rs.routine, ctx.rules.routine) is not None:
        hour = int(((start + utc_offset_s(start, tz)) % DAY_S) // 3600)
        return "learned", routine.usual_hour(rs.routine, ctx.rules.routine, hour)
    if resident.inactivity.day_hours is not None:
        return "resident", None
    if cfg.day_hours_door is not None and departures_seen(ctx, resident.id):
        return "day_door", None
    return "day", None
