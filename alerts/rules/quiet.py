"""Learned allowances: how long this resident is quiet at home by day, and how late they get up.

A fixed day allowance cannot fit everyone: real people sit still through an afternoon for
longer than 2.5 h (the van Kasteren homes, docs/DETECTION.md), while an active resident's fall
is found hours late under a 6 h one. So per local day the hub keeps the resident's longest
daytime quiet spell at home and how long after the night window the night's silence ended,
for the last `window_days` days (about 100 bytes a resident). The learned allowance is
`margin` × the longest of the window, within a floor and a ceiling. The population prior (the
fixed allowances) applies until `min_days`; after that the learned value may widen the prior
(one long spell is evidence enough), and only after `tighten_days` may it be tighter (that no
longer spell comes needs more days than a week: docs/RULES.md).

A quiet spell is the gap between two activities that began by day, while the resident was
not away (a door- or tag-confirmed departure) and no absence was recorded. A spell that ended
an inactivity alert counts as long as the alert's threshold: the hub knows the resident was
quiet that long, not how long a fall would have lasted.

Per hour of the day, not one value for the whole day: a resident who naps 2.5 h after lunch
is allowed a long afternoon, not a long morning (PRODUCT.md: "the allowed silence for each
hour of the day may be tightened or widened from the resident's own history"). Each day keeps,
for every local hour a quiet spell went through, how much of the spell was still ahead from
that hour (a spell 13:10-16:10 gives hour 13 3 h, hour 14 2 h 10, ...). A silence beginning
in hour h is allowed `margin` × the longest of those in hours h ± `spread_hours` over the
window's days: people do not start a nap at the same minute every day. `spread_hours` 12 is
one value for the whole day (the longest spell), as before, and then the hours are not kept;
days kept without them count their longest spell for every hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from alerts.config import LearnedDayConfig
from alerts.localtime import local_day, seconds_of_day
from alerts.state import QuietHistory, day_row

DAY, NIGHT = 0, 1  # slots of a day's row: the longest daytime quiet spell, the latest wake-up after the night
HOURS = 2  # slots HOURS + h, h = 0..23: the longest quiet at home still ahead from local hour h
SLOTS = HOURS + 24


def record(history: QuietHistory, tz: str, start: float, seconds: float, cfg: LearnedDayConfig) -> None:
    """Note a daytime quiet spell at home that began at `start` (on the local day of its start)."""
    day, _ = local_day(start, tz)
    if history.day is not None and day < history.day:
        return  # late data for a day already folded
    width = _width(cfg)
    _keep(history, day, DAY, seconds, cfg, width)
    t, end = start, start + seconds
    while width == SLOTS and t < end and local_day(t, tz)[0] == day:
        sod = seconds_of_day(t, tz)
        _keep(history, day, HOURS + int(sod // 3600), end - t, cfg, width)
        t += 3600 - sod % 3600


def record_wake(history: QuietHistory, tz: str, night_end: float, seconds_late: float, cfg: LearnedDayConfig) -> None:
    """Note how long after the night window's end a night's silence ended (0 when before it)."""
    day, _ = local_day(night_end, tz)
    if history.day is not None and day < history.day:
        return
    _keep(history, day, NIGHT, max(0.0, seconds_late), cfg, _width(cfg))


def _width(cfg: LearnedDayConfig) -> int:
    """Slots a day keeps: the hours only when the spread or the habit uses them (24 numbers a
    resident-day: 5.6 KB a resident over 28 days instead of 2.9 KB, `day_row`)."""
    return SLOTS if cfg.spread_hours < 12 or cfg.habit_band_hours > 0 else HOURS


def _keep(history: QuietHistory, day: int, slot: int, seconds: float, cfg: LearnedDayConfig, width: int) -> None:
    if history.day != day:
        _fold(history, cfg.window_days)
        history.day, history.today = day, [0] * width
    if len(history.today) < width:  # a day begun without the hours: its longest spell for every hour
        history.today += [history.today[DAY]] * (width - len(history.today))
    ceiling_hours = cfg.sleep_in_ceiling_hours if slot == NIGHT else cfg.ceiling_hours
    minutes = min(int(seconds // 60), int(ceiling_hours * 60) * 2)
    history.today[slot] = max(history.today[slot], minutes)


def _fold(history: QuietHistory, window_days: int) -> None:
    if history.day is None:
        return
    history.past.append(day_row((history.day, *history.today)))
    del history.past[: max(0, len(history.past) - window_days)]


class Learned(NamedTuple):
    seconds: float
    settled: bool  # enough days (tighten_days) to allow less than the prior; before, it only widens
    days: int = 0  # the days of evidence it rests on
    narrowed: bool = False  # by her habit (habit_band_hours): before settled it only keeps the hour from widening
    whole: float = 0.0  # narrowed by the nap window (nap_spells_own): the whole day's value, which may still shrink the prior


def blend(prior_s: float, learned: Learned, shrink_days: float) -> float:
    """The allowance from the prior and the learned value: the learned one where it is wider
    (one long spell shows such spells happen) or settled; a tighter one before it is settled
    moves the prior towards it by n/(n + shrink_days) after n days (0: not at all)
    — that no longer spell comes is only likelier with each day that did not show one."""
    if learned.settled or learned.seconds >= prior_s:
        return learned.seconds
    if learned.narrowed and learned.whole and learned.whole < prior_s:  # no long nap yet: the day shrinks as without the nap window
        return blend(prior_s, Learned(learned.whole, learned.settled, learned.days), shrink_days)
    if learned.narrowed:
        return prior_s  # her long spells keep to other hours: this one is not widened, nor yet tightened
    if shrink_days <= 0:
        return prior_s
    return prior_s - learned.days / (learned.days + shrink_days) * (prior_s - learned.seconds)


def allowance(history: QuietHistory | None, tz: str, start: float, cfg: LearnedDayConfig, habit: bool = True,
              nap_hours: range | None = None) -> Learned | None:
    """Quiet allowed for a daytime silence beginning at `start`: margin × the longest spell seen
    in the hours around it (with `habit` and habit_band_hours, outside the hours her long
    spells keep to; with `nap_hours` before tighten_days, learned_day.nap_spells_own, outside
    the nap window's whole hours); None: use the prior."""
    days = _days(history, tz, start, cfg)
    if days is None:
        return None
    hour = int(seconds_of_day(start, tz) // 3600)
    longest = _longest_near(days, hour, cfg.spread_hours)
    if nap_hours is not None and len(days) < cfg.tighten_days and all(len(row) >= 1 + SLOTS for row in days):
        other = max(row[1 + HOURS + h] for row in days for h in range(24) if h not in nap_hours)
        if other < longest:  # her longest spells were naps: they widen the nap window only
            learned = _bounded(other * 60.0, cfg.floor_hours, cfg.ceiling_hours, len(days), cfg)
            whole = _bounded(longest * 60.0, cfg.floor_hours, cfg.ceiling_hours, len(days), cfg).seconds
            return learned._replace(narrowed=True, whole=whole)  # not below the prior: 9 false alerts when it shrank
    outside = _outside_the_habit(days, hour, cfg) if habit and cfg.habit_band_hours > 0 else None
    if outside is not None and outside < longest:
        return _bounded(outside * 60.0, cfg.floor_hours, cfg.ceiling_hours, len(days), cfg)._replace(narrowed=True)
    return _bounded(longest * 60.0, cfg.floor_hours, cfg.ceiling_hours, len(days), cfg)


def _longest_near(days: list[Sequence[int]], hour: int, spread: int) -> int:
    """The longest quiet (minutes) still ahead in hours `hour` ± `spread` over the days."""
    slots = [HOURS + (hour + k) % 24 for k in range(-spread, spread + 1)]
    return max(_slot(row, slot) for row in days for slot in slots)


def _outside_the_habit(days: list[Sequence[int]], hour: int, cfg: LearnedDayConfig) -> int | None:
    """The longest quiet (minutes) around `hour` (± habit_spread_hours) when every quiet spell
    longer than that allows lay within one band of habit_band_hours, on habit_days days or more:
    long spells that come at one time of day (the afternoon nap, the television serial) are a
    habit of that time, and an hour in which she was never quiet that long is judged on its own
    spells. None (the whole day's longest applies): a long spell at any other hour, too few days
    to call it a habit (one long spell may come at any hour), fewer than tighten_days days (that
    no long spell comes at an hour is evidence of absence, as for any tightening: in the first
    two weeks a morning's return to bed had not yet been seen, `irregular` +3 false alerts), or
    days kept without the hours."""
    if len(days) < cfg.habit_from_days or any(len(row) < 1 + SLOTS for row in days):
        return None
    near = _longest_near(days, hour, cfg.habit_spread_hours)
    allowed = max(cfg.floor_hours * 60, cfg.margin * near)
    long_hours = [h for h in range(24) if any(row[1 + HOURS + h] > allowed for row in days)]
    if not long_hours:
        return near
    if long_hours[-1] - long_hours[0] + 1 > cfg.habit_band_hours:
        return None
    long_days = sum(1 for row in days if any(row[1 + HOURS + h] > allowed for h in long_hours))
    return near if long_days >= cfg.habit_days else None


def sleep_in(history: QuietHistory | None, tz: str, night_end: float, cfg: LearnedDayConfig) -> Learned | None:
    """How long after the night window's end a night's silence may last; None: use the prior."""
    days = _days(history, tz, night_end, cfg)
    if days is None:
        return None
    latest = max(_slot(row, NIGHT) for row in days) * 60.0
    return _bounded(latest, cfg.sleep_in_floor_hours, _sleep_in_ceiling(days, cfg), len(days), cfg)


def _sleep_in_ceiling(days: list[Sequence[int]], cfg: LearnedDayConfig) -> float:
    """Hours after the night window a learned night may end at most. With `late_mornings`, a
    resident up late on every morning of the window (ordonez-a: never before 10:07) gets her
    earliest morning's lateness on top (up to late_mornings_ceiling_hours): her sleep-in is
    counted from her usual late morning, not from 07:00. One morning up by 07:00 (or a day
    without a night recorded) keeps the ceiling where it was."""
    if not cfg.late_mornings:
        return cfg.sleep_in_ceiling_hours
    earliest_h = min(_slot(row, NIGHT) for row in days) / 60
    return max(cfg.sleep_in_ceiling_hours, min(cfg.late_mornings_ceiling_hours, cfg.sleep_in_ceiling_hours + earliest_h))


def _slot(row: Sequence[int], slot: int) -> int:
    """A day row's value (minutes); rows kept before the per-hour slots give their longest spell."""
    return row[1 + slot] if 1 + slot < len(row) else row[1 + DAY]


def _days(history: QuietHistory | None, tz: str, at: float, cfg: LearnedDayConfig) -> list[Sequence[int]] | None:
    """The window's day rows before `at`'s day; None before min_days (or learning off)."""
    if not cfg.enabled or history is None:
        return None
    day, _ = local_day(at, tz)
    days: list[Sequence[int]] = [row for row in history.past if 0 < day - row[0] <= cfg.window_days]
    if history.day is not None and 0 < day - history.day <= cfg.window_days:
        days.append([history.day, *history.today])  # the day being filled is complete once it is over
    return days if len(days) >= cfg.min_days else None


def _bounded(seconds: float, floor_h: float, ceiling_h: float, days: int, cfg: LearnedDayConfig) -> Learned:
    """margin × `seconds`, within [floor_h, ceiling_h]."""
    allowed = min(ceiling_h * 3600, max(floor_h * 3600, cfg.margin * seconds))
    return Learned(allowed, days >= cfg.tighten_days, days)


# The evening's clock, shared by the night's rules (her earliest bedtime, alerted nights, an
# evening in the armchair): minutes after the local noon, so an evening and its night are one span.
NOON_S, DAY_SECONDS = 12 * 3600.0, 24 * 3600.0
NIGHT_MIN_S = 2 * 3600.0  # a shorter silence is not sleep (an evening's sitting may be)
BEDTIMES_MIN = (6 * 60, 17 * 60)  # minutes after noon: a night's silence begins 18:00–05:00


def after_noon_min(t: float, tz: str) -> float:
    """Minutes after the local noon before `t` (21:00 → 540, 02:00 → 840)."""
    return ((seconds_of_day(t, tz) - NOON_S) % DAY_SECONDS) / 60


# Her earliest bedtime (rules.learned_day.own_bedtime, docs/RULES.md "Her earliest bedtime").
SMALL_HOURS_MIN = 12 * 60  # midnight, minutes after noon: a night's sleep goes on past it, an evening's sitting does not


def record_bedtime(history: QuietHistory, tz: str, start: float, seconds: float, cfg: LearnedDayConfig) -> None:
    """Note when the evening's sleep began: the start of a silence of at least NIGHT_MIN_S that
    began 18:00-05:00 and went on past midnight. An evening in the armchair (18:52-22:11) is not a
    bedtime; after a bathroom visit before midnight the later silence counts, a later bedtime
    than hers — the earliest over the nights is still hers."""
    bed = after_noon_min(start, tz)
    if seconds < NIGHT_MIN_S or not BEDTIMES_MIN[0] <= bed < BEDTIMES_MIN[1] or bed + seconds / 60 < SMALL_HOURS_MIN:
        return
    history.bedtime = None  # inactivity.bedtime_of's last answer: the nights change
    evening, _ = local_day(start - NOON_S, tz)
    if history.beds and history.beds[-1][0] == evening:
        history.beds[-1][1] = min(history.beds[-1][1], int(bed))
        return
    history.beds.append([evening, int(bed)])
    del history.beds[: max(0, len(history.beds) - cfg.window_days)]


def earliest_bedtime(history: QuietHistory | None, evening: int, cfg: LearnedDayConfig,
                     opens_min: float | None = None) -> float | None:
    """Her earliest bedtime (minutes after noon) over the window's nights before `evening`
    (the local day of the evening, `local_day(t - NOON_S, tz)`)
    (rules.learned_day.own_bedtime), or None: fewer than `bedtime_nights` nights, or off.
    With `bedtime_widen_nights` and the night window's opening (`opens_min`), after that many
    nights an earliest bedtime before the opening already counts — only ever earlier than the
    window: that she went to bed at 19:30 once shows such nights happen, while that she never
    goes to bed before 22:30 needs the `bedtime_nights` of evidence (asymmetric as the day's
    widening and tightening).
    The earliest, not a quantile: an early night she has had is a night, and only a silence
    that begins before every bedtime she has shown is not (docs/RULES.md "Her earliest bedtime")."""
    if not cfg.enabled or not cfg.own_bedtime or history is None:
        return None
    rows = [row for row in history.beds if 0 < evening - row[0] <= cfg.window_days]
    if len(rows) >= cfg.bedtime_nights:
        return float(min(row[1] for row in rows))
    if opens_min is not None and 0 < cfg.bedtime_widen_nights <= len(rows):
        return float(min(opens_min, min(row[1] for row in rows)))  # earlier than the window only: widening needs one night as evidence
    return None


# Early risers (rules.learned_day.early_risers, docs/RULES.md "Early risers").
RISING_MIN = -24 * 60  # a rising is kept signed: minutes after the night window's end (before it: negative)


def record_rising(history: QuietHistory, tz: str, night_end: float, seconds_late: float, cfg: LearnedDayConfig) -> None:
    """Note when a silence that may be sleep (an hour or longer: the caller) ended, signed, on the
    morning of `night_end`: the morning's latest such end is when she rose (a bathroom visit at
    02:00 ends an earlier one).
    The motion sensor sees the first movement of the morning in every home; a silence the hub
    cannot tell from sleep (an outing before 07:00 without a door sensor) counts as a late rising."""
    day, _ = local_day(night_end, tz)
    minutes = max(RISING_MIN, min(int(seconds_late // 60), int(cfg.sleep_in_ceiling_hours * 60) * 2))
    if history.risings and history.risings[-1][0] == day:
        history.risings[-1][1] = max(history.risings[-1][1], minutes)
        return
    if history.risings and history.risings[-1][0] > day:
        return  # late data for a morning already past
    history.risings.append([day, minutes])
    del history.risings[: max(0, len(history.risings) - cfg.window_days)]


def early_sleep_in(history: QuietHistory | None, tz: str, night_end: float, prior_s: float, cfg: LearnedDayConfig) -> float | None:
    """The sleep-in past the night window of a resident up before its end on every morning of the
    window before `night_end`'s: the prior's, less n/(n + early_risers_days) × how early her latest
    rising was, never below sleep_in_floor_hours. Up by 05:24 at the latest on 9 mornings: 3 h −
    9/16 × 1.6 h = 2.1 h, the night ends at 09:06, not 10:00. None: off, no morning seen, or a
    morning she rose after the window's end (a sleep-in: then the learned sleep-in decides)."""
    if not cfg.enabled or not cfg.early_risers or history is None:
        return None
    day, _ = local_day(night_end, tz)
    rows = [row[1] for row in history.risings if 0 < day - row[0] <= cfg.window_days]
    if not rows or max(rows) >= 0:
        return None
    n = len(rows)
    return max(cfg.sleep_in_floor_hours * 3600, prior_s + n / (n + cfg.early_risers_days) * max(rows) * 60)
