"""A pet's motion is not the resident's (rules.pets; docs/RULES.md "Pets").

A pet sets a home unit's PIR off at random times, day and night, alone and briefly — also
while the resident is out or lies on the floor, so every stray motion ended the silence and a
fall was never found. A person awake at home moves in bouts (several detections within
minutes: walking room to room, cooking) and sleeps at night. So per home the hub learns the
background of *lone* motions (no other within LONE_S either side) in the deep night
(DEEP_NIGHT, local), when the resident sleeps: a home with a pet shows them night after night,
one without does not. In a home with such a background, home motion counts as the resident's
activity only as part of a bout — k motions within 10 min, or more within 30 or 60 min
(BOUT_WINDOWS_S: a person pottering about moves less densely but for longer) — each k the
smallest for which the background alone makes such a bout in a day allowance rarely
(< `false_bouts`). Every motion still counts for the device's health, last home activity and
returns (alerts/rules/activity.py); a departure is cancelled only by a bout since the door
opened. A home without that background behaves exactly as before.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right

from alerts.config import PetsConfig
from alerts.localtime import local_day, seconds_of_day
from alerts.state import MotionBackground

LONE_S = 600.0  # a lone motion: no other within 10 min either side
BOUT_WINDOWS_S = (600.0, 1800.0, 3600.0)  # a bout: k motions within 10 min, or more within 30 or 60 min
DEEP_NIGHT = (3600.0, 5 * 3600.0)  # 01:00-05:00 local: the resident sleeps (a getting-up is a bout)
DEEP_NIGHT_H = (DEEP_NIGHT[1] - DEEP_NIGHT[0]) / 3600
MAX_BOUT = 32  # the most motions kept for the bout test (and the largest k)
MAX_AWAY = 64  # the most motions kept for one absence
PASSAGE_S = 120.0  # motion this soon before the door's return may be the resident's (clocks differ)
#: An "absence" longer than this is more likely a return the door sensor missed (another door, a
#: missed passage: kasteren-b's sparse motion through 13-97 h "absences") than an outing; not learned from.
MAX_ABSENCE_S = 12 * 3600.0
MIN_SEEN_RETURNS = 0.75  # the share of absences that must end through the door for their motion to tell
NEAR_HOURS = 1  # by_hour: an hour's background is learned with the hours either side (a sunny spell drifts with the season)
HOUR_EVIDENCE = 3.0  # by_hour: the home's rate would have shown this many motions in the time out at those hours

# rules.motion_gap: a PIR reports at most one motion per blind time after each trigger — 60 s on our home unit,
# 120-300 s on many battery (Zigbee) PIRs — so "k motions within w" may be more than the sensor can ever report
# (3 within 10 min with a 300 s blind time). Each home unit's own gap is learned from its motions (`note_gap`), and
# a window that counts k motions is at least GAP_SLACK × (k - 1) of those gaps long (`fit`): a person moving
# about sets the sensor off again about every other time it re-arms. A unit with a 60 s gap keeps every window
# here up to k = 6 (10 min), 16 (30 min), 31 (60 min).
GAP_SLACK = 2.0
GAP_QUANTILE = 0.05  # the gap tracked: this low quantile of the unit's gaps under LONE_S (a flush or a jitter of
GAP_STEP = 0.1  # ... a second now and then moves it one step), each gap moving it by this factor (log) at most
#: rules.motion_gap_per_unit: a unit's own gap counts for the home once it has seen this many gaps (a
#: quantile step of 0.1 × 0.95 per gap below the estimate: about 50 bring a first gap of 10 min down to 1 min)
UNIT_GAPS = 50


def note_gap(bg: MotionBackground, at: float, unit: str | None = None) -> None:
    """rules.motion_gap: home-unit motion at device time `at`: track the low quantile GAP_QUANTILE
    of the gaps between its motions (a stochastic-approximation quantile, in log space: a gap
    below the estimate pulls it down by GAP_STEP × (1 - q), one above lifts it by GAP_STEP × q).
    The first gap starts it; gaps of LONE_S or more (she did not move) and out-of-order ones are
    not the sensor's.

    `unit` (rules.motion_gap_per_unit): the unit that reported it. A home with one unit learns as
    above; from a second unit's first motion on, each unit learns its own gap (`_note_unit_gap`):
    two PIRs interleave, and the gap between one's report and the other's is no sensor's blind time."""
    if unit is not None and (bg.units is not None or (bg.gap_unit is not None and unit != bg.gap_unit)):
        _note_unit_gap(bg, at, unit)
        return
    if unit is not None:
        bg.gap_unit = unit
    bg.gap, bg.gap_last = _gap_step(bg.gap, bg.gap_last, at)


def _gap_step(gap: float | None, last: float | None, at: float) -> tuple[float | None, float]:
    """One motion at `at` after the newest `last`: the quantile estimate `gap` moved by its gap."""
    newest = at if last is None else max(at, last)
    if last is None or not 1.0 <= at - last < LONE_S:
        return gap, newest
    if gap is None:
        return at - last, newest
    return gap * (math.exp(-GAP_STEP * (1 - GAP_QUANTILE)) if at - last < gap else math.exp(GAP_STEP * GAP_QUANTILE)), newest


def _note_unit_gap(bg: MotionBackground, at: float, unit: str) -> None:
    """Each unit's own gap ([gap, newest motion, gaps seen] in `bg.units`; the first unit's row
    starts from what it learned alone). The home's gap (`bg.gap`, what windows fit) is the
    largest of the units that have seen UNIT_GAPS of their own — she is in one room at a time, seen
    by its unit alone — or, before any has, the smallest learned (a unit in a room she seldom
    enters has few gaps, its estimate still near its first); `bg.gap_last` the newest motion of any."""
    units = bg.units
    if units is None:
        units = bg.units = {bg.gap_unit or "": [bg.gap, bg.gap_last, float(UNIT_GAPS if bg.gap is not None else 0)]}
    row = units.setdefault(unit, [None, None, 0.0])
    gap, last = row[0], row[1]
    row[0], row[1] = _gap_step(gap, last, at)
    if last is not None and 1.0 <= at - last < LONE_S:
        row[2] = (row[2] or 0.0) + 1
    settled = [r[0] for r in units.values() if r[0] is not None and (r[2] or 0) >= UNIT_GAPS]
    learned = [r[0] for r in units.values() if r[0] is not None]
    bg.gap = max(settled) if settled else (min(learned) if learned else None)
    bg.gap_last = max(r[1] for r in units.values() if r[1] is not None)


def fit(window_s: float, k: int, gap: float | None) -> float:
    """A window that counts `k` motions, long enough for a sensor that reports one per `gap`
    (rules.motion_gap; None: as it is)."""
    return window_s if gap is None else max(window_s, GAP_SLACK * (k - 1) * gap)


def note_motion(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig) -> None:
    """Keep home motion at device time `at`: the recent times (bout test) and, once the motion
    before it turns out lone, a lone motion of the deep night."""
    recent = bg.recent
    if recent and at - recent[-1] > LONE_S and (len(recent) < 2 or recent[-1] - recent[-2] > LONE_S):
        _note_lone(bg, tz, recent[-1], cfg)
    recent.append(at)
    recent.sort()  # a buffered flush may come late
    # the motions older than the longest window (sorted: bisect counts them, as a loop over all would)
    stale = bisect_right(recent, recent[-1] - fit(BOUT_WINDOWS_S[-1], MAX_BOUT, bg.gap))  # keep the newest: the lone test looks one back
    del recent[: max(0, len(recent) - MAX_BOUT, stale - 1)]
    if bg.first_day is None:  # the first deep night watched whole
        bg.first_day = local_day(at, tz)[0] + (seconds_of_day(at, tz) > DEEP_NIGHT[0])


def _note_lone(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig) -> None:
    if cfg.by_hour:
        _note_lone_hour(bg, tz, at, cfg)
    if not DEEP_NIGHT[0] <= seconds_of_day(at, tz) < DEEP_NIGHT[1]:
        return
    day = local_day(at, tz)[0]
    if bg.nights and bg.nights[-1][0] == day:
        bg.nights[-1][1] += 1
    else:
        bg.nights.append([day, 1])
        del bg.nights[: max(0, len(bg.nights) - cfg.window_nights)]


def bout_sizes(bg: MotionBackground, tz: str, at: float, day_s: float, cfg: PetsConfig,
               last: float | None = None) -> tuple[int, ...]:
    """Per window of BOUT_WINDOWS_S, the motions that make a bout the resident's in this home at
    `at`; () when every motion is (no pet known here). `last`: her last activity (by_hour)."""
    rate = pet_rate(bg, tz, at, cfg, last)
    return () if rate is None else tuple(_size(rate, w, day_s, cfg, bg.gap) for w in BOUT_WINDOWS_S)


#: rules.pets.wake_bound: a silence whose allowance ends this soon after a doubtful bout (`doubtful`) waits
#: until this long after it — a person who got up goes on moving, and her next bout comes within it
WAKE_GRACE_S = 1800.0


def doubtful(bg: MotionBackground, tz: str, at: float, day_s: float, cfg: PetsConfig, last: float | None) -> None:
    """rules.pets.wake_bound: motion at `at` that is not the resident's against the bound
    (`bout_sizes`): note it in `bg.doubt_at` when, her first after a night's silence, it makes a
    bout against the background's estimate — her getting up slowly, or the sensor's chance bout."""
    if waking(tz, last, at):
        rate = pet_rate(bg, tz, at, cfg, last, upper=False)
        if rate is not None and in_bout(bg, at, tuple(_size(rate, w, day_s, cfg, bg.gap) for w in BOUT_WINDOWS_S)):
            bg.doubt_at = at


def pet_rate(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig, last: float | None = None,
             upper: bool = True) -> float | None:
    """The pet's motions an hour at `at`, None where no pet is known. With `away_absences`, a pet
    is known from motion while the resident was out (`away_motion`): in that many absences, or in
    one together with the deep night's lone motions (at least `min_rate`); its rate is the higher
    of the two. Without (0), from the deep night alone (session 6)."""
    night = background_rate(bg, tz, at, cfg)
    lone_nights = night is not None and night >= cfg.min_rate
    if cfg.away_absences == 0:
        return night if lone_nights else None
    away = away_motion(bg, cfg)
    if away is None or away[0] < (1 if lone_nights else cfg.away_absences):
        return None
    rate = max(away[1], night or 0.0)
    if not cfg.by_hour:
        return rate
    woke = waking(tz, last, at)
    bound = cfg.wake_bound if woke and upper else 0.0
    quiet_nights = night is not None and not lone_nights and not woke
    return hour_rate(bg, tz, at, rate, night if lone_nights else None, quiet_nights, cfg, bound)


def hour_rate(bg: MotionBackground, tz: str, at: float, rate: float, night: float | None, quiet_nights: bool,
              cfg: PetsConfig, bound: float = 0.0) -> float | None:
    """rules.pets.by_hour: the background at `at`'s local hour (with the hours either side,
    NEAR_HOURS) from the motion seen while the resident was out at those hours, once she was out
    long enough then for the home's `rate` to show HOUR_EVIDENCE motions. None where the
    background at these hours is below `min_away_rate` (a PIR the sun sets off by day is quiet in
    the evening: there every motion is hers again). In the deep night, at least the lone motions
    of the nights (`night`, when they came night after night). Hours she was seldom out: `rate`
    (the home's), unless the deep night was watched and quiet (`quiet_nights`) and she has been
    seen up since it: then the background comes and goes with the hours (the sun, a heater, not a
    pet), and an hour where it was not seen has none — but her first motion after a night's
    silence (`waking`) still has to be a bout: the sensor may fire alone at that hour, and a
    resident who gets up moves about. `bound` (rules.pets.wake_bound, her first motions after a
    night's silence): the background is the upper bound, at that confidence, of the motion her
    absences showed at those hours, at most that of all her absences (and at least `rate`, where
    those hours were seldom out): a few hours out tell a rate only roughly."""
    hour = int(seconds_of_day(at, tz) // 3600)
    near = {(hour + d) % 24 for d in range(-NEAR_HOURS, NEAR_HOURS + 1)}
    moved = seen = 0.0
    for rows in bg.hours:
        for h, m, s in rows:
            if int(h) in near:
                moved, seen = moved + m, seen + s
    home = max(upper_rate(*_away_counts(bg), bound), rate) if bound else rate
    if seen / 3600 * rate < HOUR_EVIDENCE:
        if bg.absences and all(row[2] == TAG_SEEN for row in bg.absences):  # her tag's evidence only: no background where it saw none
            return night if night is not None and DEEP_NIGHT[0] <= seconds_of_day(at, tz) < DEEP_NIGHT[1] else None
        return home if not quiet_nights or lone_at_hour(bg, tz, at, cfg) else None
    here = moved / (seen / 3600)
    if bound:  # a few hours out at this hour bound its rate widely, all her absences tighter
        here = max(here, min(upper_rate(moved, seen / 3600, bound), home))
    if night is not None and DEEP_NIGHT[0] <= seconds_of_day(at, tz) < DEEP_NIGHT[1]:
        here = max(here, night)
    return here if here >= cfg.min_away_rate else None


WAKE_SILENCE_S = 4 * 3600.0  # a silence this long over 04:00 local is a night's sleep


def waking(tz: str, last: float | None, at: float) -> bool:
    """Her last activity `last` came before 04:00 of `at`'s local day and WAKE_SILENCE_S or more
    before `at`: she has not been seen up since the night (by_hour)."""
    if last is None or at - last < WAKE_SILENCE_S or at - last > 24 * 3600:
        return False
    sod = seconds_of_day(at, tz)
    return sod >= 4 * 3600.0 and last < at - (sod - 4 * 3600.0)


def _note_lone_hour(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig) -> None:
    """by_hour: a lone motion at home at `at`, counted per local day and hour (`bg.lone_hours`)."""
    day, hour = local_day(at, tz)[0], int(seconds_of_day(at, tz) // 3600)
    if not bg.lone_hours or bg.lone_hours[-1][0] != day:
        bg.lone_hours.append(array("i", [day] + [0] * 24))
        del bg.lone_hours[: max(0, len(bg.lone_hours) - cfg.window_nights)]
    bg.lone_hours[-1][1 + hour] += 1


def _days_watched(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig) -> tuple[int, int] | None:
    """(`at`'s local day, the days of the window watched before it); None before `min_nights` days."""
    if bg.first_day is None:
        return None
    today = local_day(at, tz)[0]
    observed = min(cfg.window_nights, today - bg.first_day)
    return None if observed < cfg.min_nights else (today, observed)


def lone_at_hour(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig) -> bool:
    """by_hour: lone motions came at `at`'s hour (and the hours either side) at `min_away_rate` or
    more over the days watched before today: a background there is possible. A background fires
    whether or not she is there, so an hour that shows (almost) none day after day has none."""
    watched = _days_watched(bg, tz, at, cfg)
    if watched is None:
        return True
    today, observed = watched
    hour = int(seconds_of_day(at, tz) // 3600)
    near = [(hour + d) % 24 for d in range(-NEAR_HOURS, NEAR_HOURS + 1)]
    lone = sum(row[1 + h] for row in bg.lone_hours if today - observed <= row[0] < today for h in near)
    return lone >= cfg.min_away_rate * observed * len(near)


def _by_hour(away: list[float], start: float, end: float, tz: str) -> list[list[float]]:
    """[local hour, motions, seconds] of each hour touched by the span start-end of an absence."""
    rows: dict[int, list[float]] = {}
    t = start
    while t < end:
        sod = seconds_of_day(t, tz)
        step = min(end, t + 3600 - sod % 3600)
        rows.setdefault(int(sod // 3600), [int(sod // 3600), 0, 0.0])[2] += step - t
        t = step
    for m in away:
        if start < m < end:
            hour = int(seconds_of_day(m, tz) // 3600)
            rows.setdefault(hour, [hour, 0, 0.0])[1] += 1
    return [rows[h] for h in sorted(rows)]


def note_away(bg: MotionBackground, at: float) -> None:
    """Home-unit motion at `at` while the door says the resident is out (not a return, yet)."""
    bg.away.append(at)
    del bg.away[: max(0, len(bg.away) - MAX_AWAY)]


def end_absence(bg: MotionBackground, since: float, back_at: float | None, cfg: PetsConfig, tz: str | None = None,
                seen: int = 1) -> None:
    """A door-confirmed absence from `since` ended. Only a seen return at `back_at` (through the
    door, or the tag coming home) proves the resident was out until then, so only then are its
    motions kept (those before the return's passage: nobody at home but a pet could make them);
    an absence that ended with motion alone (a return the door sensor missed) is kept as such,
    without its motions: the resident may have been home unseen. With `by_hour` (and `tz`), per
    local hour too (`bg.hours`, one row per absence kept). `seen`: how the return was seen, 1 (the
    door, the tag coming home) or TAG_SEEN (a run of her tag's fixes far from home)."""
    hours = cfg.by_hour and tz is not None
    if back_at is None:
        bg.absences.append([0, 0.0, 0])
        if hours:
            bg.hours.append([])
    elif since < back_at <= since + MAX_ABSENCE_S:
        moved = sum(1 for t in bg.away if since < t < back_at - PASSAGE_S)
        bg.absences.append([moved, back_at - since, seen])
        if hours and tz is not None:
            bg.hours.append(_by_hour(bg.away, since, back_at - PASSAGE_S, tz))
    del bg.absences[: max(0, len(bg.absences) - cfg.window_absences)]
    del bg.hours[: max(0, len(bg.hours) - cfg.window_absences)]
    bg.away.clear()


def _away_counts(bg: MotionBackground) -> tuple[float, float]:
    """(home motions, hours) over the recent absences ended by a seen return (`away_motion`'s)."""
    seen = [row for row in bg.absences if row[2]]
    return sum(row[0] for row in seen), max(sum(row[1] for row in seen) / 3600, 1.0)


def upper_rate(motions: float, hours: float, confidence: float) -> float:
    """rules.pets.wake_bound: the highest rate an hour of a background (at random times) that
    shows `motions` or fewer in `hours` with probability 1 - `confidence` or more — the upper
    confidence bound of a Poisson rate (bisection on P(Poisson(rate × hours) ≤ motions))."""
    n, lo, hi = int(motions), motions / hours, (motions + 10 + 5 * math.sqrt(motions + 1)) / hours
    for _ in range(40):
        mid = (lo + hi) / 2
        if 1.0 - _at_least(n + 1, mid * hours) > 1.0 - confidence:
            lo = mid
        else:
            hi = mid
    return lo


def away_motion(bg: MotionBackground, cfg: PetsConfig) -> tuple[int, float] | None:
    """(absences that showed motion, home motions an hour while the resident was out) over the
    recent absences; None where no absence showed motion, or its rate is below `min_away_rate`
    (sparser motion hides few silences), or the door missed many returns (MIN_SEEN_RETURNS:
    there a resident back home unseen and moving seldom looks like a pet — kasteren-b)."""
    seen = [row for row in bg.absences if row[2]]
    moved = sum(1 for row in seen if row[0] > 0)
    if not moved or len(seen) < MIN_SEEN_RETURNS * len(bg.absences):
        return None
    rate = sum(row[0] for row in seen) / max(sum(row[1] for row in seen) / 3600, 1.0)
    return (moved, rate) if rate >= cfg.min_away_rate else None


def background_rate(bg: MotionBackground, tz: str, at: float, cfg: PetsConfig) -> float | None:
    """Lone motions an hour of the deep night over the window's nights before `at`'s day, when
    they came night after night (on at least `night_share` of the nights); None before
    `min_nights` nights."""
    watched = _days_watched(bg, tz, at, cfg)
    if watched is None:
        return None
    today, observed = watched
    rows = [count for day, count in bg.nights if today - observed <= day < today]
    if len(rows) < cfg.night_share * observed:
        return 0.0
    return sum(rows) / (observed * DEEP_NIGHT_H)


def _size(rate: float, window_s: float, day_s: float, cfg: PetsConfig, gap: float | None = None) -> int:
    """The smallest k ≥ 2 for which a background of `rate` motions an hour (at random times)
    makes k motions within `window_s` (`fit` for the unit's `gap`) fewer than `false_bouts`
    times in `day_s`: day_s × rate × P(at least k − 1 more in the window before a motion)."""
    live_rate = rate if gap is None or not cfg.dead_time else rate / max(1.0 - rate * gap / 3600, 0.1)
    for k in range(2, MAX_BOUT):
        window = fit(window_s, k, gap)
        if gap is not None and cfg.dead_time:  # the k - 1 others each leave the sensor blind for its gap
            window = max(window - (k - 1) * gap, 0.0)
        per_window = live_rate * window / 3600
        if day_s / 3600 * rate * _at_least(k - 1, per_window) < cfg.false_bouts:
            return k
    return MAX_BOUT


def _at_least(n: int, mean: float) -> float:
    """P(Poisson(mean) ≥ n)."""
    return 1.0 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(n))


def in_bout(bg: MotionBackground, at: float, sizes: tuple[int, ...], since: float | None = None) -> bool:
    """Motion at `at` is part of a bout: another within LONE_S before it, and in some window of
    BOUT_WINDOWS_S up to it (it among them) as many motions as `sizes` asks — a lone motion
    after a bout is not its tail. Only motions from `since` on count. Always when `sizes` is ().
    Each window `fit` for the unit's gap (rules.motion_gap: `bg.gap`, None when off)."""
    if not sizes:
        return True
    before = [t for t in bg.recent if t <= at and (since is None or t >= since)]
    gap = bg.gap
    if len(before) < 2 or at - before[-2] > fit(LONE_S, 2, gap):
        return False
    return any(sum(1 for t in before if t > at - fit(w, k, gap)) >= k for w, k in zip(BOUT_WINDOWS_S, sizes, strict=True))


# rules.pets.hindsight: where the background is not known yet, a self-firing PIR cancels her departures
# (a trigger within 10 min of the door opening says she stayed in) and so hides the very absences it
# would be learned from. Looked back on, such a departure was an absence when nothing but lone motion
# followed until a door event that a bout of motion followed (her return: a person coming in moves).
HINDSIGHT_MIN_S = 1800.0  # an outing judged in hindsight lasted at least this long (a quick in-and-out is not judged)
HINDSIGHT_BOUT = (3, MAX_BOUT, MAX_BOUT)  # a person moving: 3 motions within 10 min (activity.RETURN_MOTIONS)
HINDSIGHT_RETURN_S = 600.0  # the bout of her return comes this soon after the door event (DEPARTURE_CONFIRM_S)


def hindsight_start(bg: MotionBackground, opened: float, at: float) -> None:
    """Motion at `at` cancelled the departure of the door opened at `opened`: watch what follows."""
    if not bg.maybe_out:
        bg.maybe_out = [opened, 0.0, at]


def hindsight_door(bg: MotionBackground, at: float) -> None:
    """A door event at `at` while watching: her return, if a bout follows (`hindsight_motion`)."""
    watch = bg.maybe_out
    if not watch or watch[1] or at - watch[0] <= PASSAGE_S:
        return  # the opening passage's own close, or a door event already taken
    if at - watch[0] < HINDSIGHT_MIN_S or at - watch[0] > MAX_ABSENCE_S:
        watch.clear()
    else:
        watch[1] = at


def hindsight_motion(bg: MotionBackground, at: float, cfg: PetsConfig, tz: str | None) -> None:
    """Home-unit motion at `at` (already in `bg.recent`) while watching: a bout before a door event
    shows her at home (forget it); after one, her return (the motions between were not hers: learn
    them as an absence's, `end_absence`); no bout soon after the door event: not her return."""
    watch = bg.maybe_out
    if not watch:
        return
    since, door = watch[0], watch[1]
    if not door:
        if in_bout(bg, at, HINDSIGHT_BOUT, since=since) or at - since > MAX_ABSENCE_S:
            watch.clear()
        else:
            watch.append(at)
        return
    if at - door > HINDSIGHT_RETURN_S:
        watch.clear()
    elif in_bout(bg, at, HINDSIGHT_BOUT, since=door - PASSAGE_S):
        bg.away = [t for t in watch[2:] if t < door - PASSAGE_S]
        end_absence(bg, since, door, cfg, tz)
        watch.clear()


# rules.pets.tag_absences: where no door sensor sees her departures there is no absence to learn from, and a
# background the deep night does not show (a PIR the sun sets off by day) is never known. Her tag is evidence of
# its own: while it lies beyond the home radius (every deciding fix's accuracy circle outside it), she is out —
# unless she left it with someone; then she is at home and moves as a person does (a bout), and the run is not
# learned. Her being out never changes here: a tag-based away still ends at any home motion (activity.py).
TAG_MIN_FIXES = 3  # a run of this many consecutive deciding fixes beyond the home radius ...
TAG_MIN_SPAN_S = 1800.0  # ... from the first to the last at least this long (a multipath jump is one fix, seldom two)
TAG_GAP_S = 1800.0  # two fixes of a run no further apart than this (a tag saving its battery: 10-30 min)
#: someone moving at home: 4 motions within 10 min (a background of 4 an hour makes that at 3 % of its motions,
#: a person who came in or stayed in moves so again and again); 3 (HINDSIGHT_BOUT) came by chance in 2 of the first
#: 4 outings of a home whose sensor fired 3.4 times an hour (docs/DETECTION.md "Tag-confirmed absences")
TAG_BOUT = (4, MAX_BOUT, MAX_BOUT)
#: `absences` row[2] of a run of her tag (a seen absence). A home that knows only these has a background only in the
#: hours they covered (`hour_rate`): elsewhere nothing tells her lone motions from the sensor's (no door, no outing).
TAG_SEEN = 2
_TAINTED = -1.0  # tag_out[3]: a bout came between fixes beyond the radius — someone at home; nothing learned


def tag_fix(bg: MotionBackground, at: float, out: bool | None, cfg: PetsConfig, tz: str | None) -> None:
    """A deciding fix of her tag at device time `at` (the tag's newest): `out` True when its
    accuracy circle lies wholly beyond the home radius, False when the fix itself is within it
    (she may be at home), None between (neither: a fix at the edge). A run of fixes out
    (`bg.tag_out`) ends at a fix within the radius, or after a gap longer than TAG_GAP_S; a run
    that ends untainted is learned as an absence (`_end_tag_run`)."""
    if out is None:
        return
    run = bg.tag_out
    if run and (not out or (at - run[1] > TAG_GAP_S and run[3] != _TAINTED)):
        _end_tag_run(bg, cfg, tz)
        run = bg.tag_out
    if not out:
        return
    if not run:
        bg.tag_out = [at, at, 1, 0.0]
    elif at > run[1]:
        if run[3] > 0:  # a bout at home after the last fix out, and the tag is out still: someone is at home
            del run[4:]
            run[3] = _TAINTED
        run[1], run[2] = at, run[2] + 1


def tag_motion(bg: MotionBackground, at: float) -> None:
    """Home-unit motion at device time `at` (already in `bg.recent`) while her tag is beyond the
    home radius: kept for the run; a bout (TAG_BOUT) marks someone at home — her return
    if the tag's next fix may be at home, else the run is not learned (a tag left with someone)."""
    run = bg.tag_out
    if not run or run[3] == _TAINTED or at <= run[0]:
        return
    if not run[3] and in_bout(bg, at, TAG_BOUT, since=run[0]):
        run[3] = at
    if not run[3] and len(run) - 4 < MAX_AWAY:
        run.append(at)


def tag_home_activity(bg: MotionBackground) -> None:
    """Activity at home other than the home unit's (water, a button, a door) while her tag is out:
    someone is at home; the run is not learned."""
    run = bg.tag_out
    if run:
        del run[4:]
        run[3] = _TAINTED


def _end_tag_run(bg: MotionBackground, cfg: PetsConfig, tz: str | None) -> None:
    """Learn a run of fixes out that lasted TAG_MIN_FIXES fixes and TAG_MIN_SPAN_S (up to
    MAX_ABSENCE_S) with no one seen at home meanwhile: its home-unit motions between its first and
    last fix (a PASSAGE_S margin at both ends: the devices' clocks differ) as an absence ended by
    a seen return (`end_absence`)."""
    run, bg.tag_out = bg.tag_out, []
    first, last, fixes, bout = run[0], run[1], run[2], run[3]
    if bout == _TAINTED or fixes < TAG_MIN_FIXES or not TAG_MIN_SPAN_S <= last - first <= MAX_ABSENCE_S:
        return
    kept, bg.away = bg.away, list(run[4:])
    end_absence(bg, first + PASSAGE_S, last, cfg, tz, seen=TAG_SEEN)
    bg.away = kept
