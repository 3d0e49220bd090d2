"""Rule, alert and escalation settings: the part of config.yaml the pure core reads.

Pydantic models (no I/O); hub/config.py embeds them in the whole configuration.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import cache
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerts.durations import Duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InactivityConfig(Strict):
    day_hours: float = Field(6, gt=0, le=72, description="allowed silence by day")
    day_hours_door: float | None = Field(None, gt=0, le=72, description="allowed silence by day while a door sensor sees departures (null: day_hours)")
    night_hours: float = Field(12, gt=0, le=72, description="allowed silence when it falls in the night window")
    night: str = Field("21:00-07:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="local night window HH:MM-HH:MM, may cross midnight")
    away_max_hours: float = Field(24, gt=0, le=720, description="longest absence after a departure before inactivity is judged again")
    away_alert_until_return: bool = Field(False, description="an away-too-long alert is ended by her return only, not by activity while away (a moving tag): clearing it re-opened it at once")
    away_counts_tag_movement: bool = Field(False, description="proven movement of her tag while she is away is a sign of life: away_max_hours runs from the newest such movement, not from the departure")
    away_learned: bool = Field(False, description="after she has come back through the door from an absence longer than away_max_hours, she is allowed learned_day.margin × her longest such absence of learned_day.window_days, up to away_ceiling_hours")
    away_ceiling_hours: float = Field(48, gt=0, le=720, description="the most away_learned allows")
    nap: str | None = Field("11:30-15:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="local window in which an afternoon nap begins (null: none)")
    nap_hours: float = Field(3.5, gt=0, le=24, description="a silence beginning in the nap window is allowed at least this long")
    sleep_in_hours: float = Field(3, ge=0, le=12, description="a silence that may be sleep ends at the latest this long after the night window closes")
    night_at_least_day: bool = Field(False, description="a silence beginning in the night window's last hour is allowed at least the day allowance (up at dawn)")
    outing_window: str | None = Field(None, pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="without a door sensor, a silence beginning in this local window may be an outing without the tag (null: none)")
    outing_hours: float = Field(8, gt=0, le=24, description="such a silence is allowed at least this long in the resident's first outing_days days")
    outing_days: int = Field(7, ge=1, le=365, description="days of the resident's own history after which the outing window no longer applies")
    late_bedtime: bool = Field(False, description="a night whose going to bed (the end of a run of activity) came after midnight ends that much later than 07:00 + the sleep-in, up to the ceiling")
    late_bedtime_run_minutes: float = Field(60, gt=0, le=720, description="activity without a pause of an hour for this long before the silence: a going to bed, not a return to bed after a bathroom visit")
    late_bedtime_ceiling_hours: float = Field(6, ge=0, le=12, description="a late bedtime's night ends at the latest this long after the night window closes")
    outage_not_silence: bool = Field(False, description="the hours the home's sensors were offline (and flushed no activity of hers) are unseen, not silence: after they come back, only the silence seen before and after counts")
    door_ajar_unseen: bool = Field(False, description="a door that has stood open for 10 min (opened, not closed since) sees no departures: she may walk out through it unseen, so her home is judged as one without a door sensor until it is shut")
    unshut_door_return: Literal["never", "night", "always"] = Field("never", description="she left through a door that was not shut behind her (opened, not closed since): it cannot see her come back in, so her first home motion is her return — in the night window only (night: by day a door propped open onto the yard is a habit, and she comes home moving), or at any hour (always)")
    door_left_open: bool = Field(False, description="a door opened while she is away and then neither closed nor passed again, with no motion, for 10 min ends the absence: someone lies in the doorway (a fall as she came in)")


class GeofenceConfig(Strict):
    max_accuracy_m: float = Field(100, gt=0, description="fixes with a worse accuracy are stored but do not decide")
    exit_confirm_fixes: int = Field(2, ge=1, le=10, description="consecutive outside fixes that confirm an exit")
    return_margin_m: float = Field(30, ge=0, description="a return must be this far inside a zone")
    seldom_fixes: bool = Field(
        True, description="two fixes with nothing reported between confirm each other up to an hour apart (a tag that reports seldom)"
    )
    speed_twice: bool = Field(
        True, description="a tag's reported speed proves movement only when a second fix within 10 min confirms it"
    )
    speed_travels: bool = Field(False, description="two speed claims minutes apart prove movement only when one of them lies farther from where the tag rests than a still tag scatters (a walk at 0.5 m/s for minutes goes somewhere; a still tag's noise does not)")
    night_exit: str | None = Field(None, pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="a resident with safe zones who goes out through the door (a departure) in this local window and is not back 20 min after the door gets a geofence_exit alert, her tag or not; her return resolves it (null: off)")
    repeated_fix_once: bool = Field(False, description="a fix delivered again (QoS 1 redelivery: the newest fix's device time and position) is not a second fix")


class LowBatteryConfig(Strict):
    open_at: int = Field(20, ge=0, le=100, description="battery percent at or below which a low alert opens")
    clear_at: int = Field(30, ge=0, le=100, description="battery percent above which it clears")

    @model_validator(mode="after")
    def _hysteresis(self) -> LowBatteryConfig:
        if self.clear_at <= self.open_at:
            raise ValueError("clear_at must be above open_at")
        return self


class RoutineConfig(Strict):
    enabled: bool = Field(False, description="learn the allowed silence per hour from each resident's history")
    min_history_days: int = Field(14, ge=1, description="days of history before the learned routine applies")
    min_factor: float = Field(0.5, gt=0, le=1, description="the learned silence is at least this share of the fixed threshold")
    max_factor: float = Field(1.5, ge=1, description="and at most this multiple of it")


class LearnedDayConfig(Strict):
    enabled: bool = Field(False, description="learn each resident's daytime allowance from their own quiet spells at home")
    min_days: int = Field(3, ge=1, le=365, description="days of history before the learned allowance may widen the prior")
    tighten_days: int = Field(14, ge=1, le=365, description="days of history before it may also be tighter than the prior")
    shrink_days: float = Field(0, ge=0, le=365, description="before tighten_days a tighter learned day moves the prior towards it by n/(n + this) after n days (0: not at all)")
    shrink_needs_door: bool = Field(True, description="shrink_days only where a door sensor sees departures (elsewhere quiet spells include outings without the tag)")
    window_days: int = Field(28, ge=1, le=365, description="the learned allowance looks at this many recent days")
    margin: float = Field(1.25, ge=1, le=5, description="the allowance is this multiple of the longest daytime quiet spell in the window")
    spread_hours: int = Field(12, ge=0, le=12, description="a silence beginning in hour h is judged on the quiet spells seen in hours h ± this (12: the whole day)")
    habit_band_hours: int = Field(0, ge=0, le=24, description="long quiet spells all within a band of this many hours, on habit_days days: other hours are judged on their own spells (0: off)")
    habit_days: int = Field(3, ge=1, le=365, description="days with such a spell before they count as a habit at that time of day")
    habit_from_days: int = Field(14, ge=1, le=365, description="days of history before the habit applies; before tighten_days it only keeps other hours from widening (never below the prior)")
    habit_needs_door: bool = Field(True, description="the habit only where a door sensor sees departures (elsewhere quiet spells include outings without the tag, at any hour)")
    habit_spread_hours: int = Field(1, ge=0, le=11, description="outside the band, a silence beginning in hour h is judged on the spells seen in hours h ± this")
    floor_hours: float = Field(1.5, gt=0, le=72, description="never less than this")
    ceiling_hours: float = Field(8, gt=0, le=72, description="never more than this")
    sleep_in_floor_hours: float = Field(1, ge=0, le=12, description="a learned night ends at least this long after the night window")
    sleep_in_ceiling_hours: float = Field(5, ge=0, le=12, description="and at most this long after it")
    own_bedtime: bool = Field(False, description="a night may begin from her earliest bedtime of the window's nights, not from the night window's opening")
    bedtime_nights: int = Field(7, ge=1, le=365, description="nights of evidence before her earliest bedtime is used")
    early_risers: bool = Field(False, description="a resident up before the night window's end on every morning seen: her night's sleep-in shrinks by n/(n + early_risers_days) × how early her latest morning was (never below sleep_in_floor_hours)")
    early_risers_days: float = Field(7, gt=0, le=365, description="mornings of evidence at which early_risers moves the night's end half-way to her latest rising + the sleep-in")
    nap_spells_own: bool = Field(False, description="before tighten_days, where a door sensor sees departures, quiet spells in the nap window's whole hours widen only the nap window: a silence beginning after the window closes is judged on her spells in the other hours, never below the prior")
    bedtime_widen_nights: int = Field(0, ge=0, le=365, description="after this many nights an earliest bedtime before the night window's opening counts already (widening only; 0: off)")
    alerted_nights: bool = Field(False, description="an evening silence an inactivity alert opened on, gone on past midnight and ended before noon by her own movement (not a door), is her night: it teaches her bedtime and rising, not a day spell cut at the alert")
    evening_spells_by_day: bool = Field(False, description="a silence that may be sleep only by her earliest bedtime and ended before midnight is kept as a daytime quiet spell (an evening in the armchair), not as a night")
    prior_bedtime_hours: float | None = Field(None, ge=12, le=29, description="in her first prior_bedtime_days of monitoring, before her earliest bedtime is settled (bedtime_nights), a night may begin an hour before this hour (20 = 20:00) — the population's early night — or before hers where she has shown an earlier one (None: off, the night window's)")
    prior_bedtime_days: float = Field(1, gt=0, le=365, description="prior_bedtime_hours only in her first this many days of monitoring (the first evening: 1)")
    late_mornings: bool = Field(False, description="a resident up late every morning of the window: the learned sleep-in's ceiling rises by her earliest morning's lateness")
    late_mornings_ceiling_hours: float = Field(7, ge=0, le=12, description="and never above this many hours after the night window")

    @model_validator(mode="after")
    def _bounds(self) -> LearnedDayConfig:
        if self.ceiling_hours < self.floor_hours:
            raise ValueError("ceiling_hours must not be below floor_hours")
        if self.sleep_in_ceiling_hours < self.sleep_in_floor_hours:
            raise ValueError("sleep_in_ceiling_hours must not be below sleep_in_floor_hours")
        return self


class PetsConfig(Strict):
    enabled: bool = Field(False, description="learn per home the lone motions of the deep night (a pet) and count only bouts as the resident's")
    min_nights: int = Field(3, ge=1, le=60, description="nights watched before the background is judged")
    window_nights: int = Field(7, ge=1, le=60, description="the background is learned from this many recent nights")
    night_share: float = Field(0.5, ge=0, le=1, description="lone motions on at least this share of the nights: night after night")
    min_rate: float = Field(0.5, gt=0, le=10, description="a background of at least this many lone motions an hour of the deep night (two a night)")
    false_bouts: float = Field(0.1, gt=0, le=1, description="bouts the background alone may make in a day allowance")
    away_absences: int = Field(2, ge=0, le=10, description="absences (door-confirmed, ended by a return through the door) with home motion before a home is a pet's; 0: the deep night alone (session 6)")
    min_away_rate: float = Field(0.25, ge=0, le=10, description="motion while away of at least this many an hour (one in 4 h) is a pet's")
    window_absences: int = Field(10, ge=1, le=60, description="the motion while away is learned from this many recent absences")
    hindsight: bool = Field(False, description="a departure that motion cancelled, followed by lone motion only until a return through the door (a bout after a door event), was an absence: learn its motion as the background's")
    by_hour: bool = Field(False, description="learn the motion while away per hour of the day (a PIR set off by the sun or a heater in some hours only) and judge each hour by its own background")
    wake_bound: float = Field(0.0, ge=0, lt=1, description="by_hour: her first motions after a night's silence make a bout against the upper bound, at this confidence, of the background her absences showed (a few hours out tell a rate only roughly); 0: against the estimate itself")
    tag_absences: bool = Field(False, description="where no door sensor sees her departures: her tag beyond the home radius on several good fixes over half an hour, with no bout of motion at home meanwhile, was an absence: learn its motion as the background's")
    dead_time: bool = Field(False, description="rules.motion_gap: the background's chance of a bout counts each window's live time only (a PIR blind for its gap after each trigger reports no motion then)")


class LeaksConfig(Strict):
    enabled: bool = Field(False, description="a water meter that flows through the deep night (a running cistern) shows no activity of the resident")
    night_flows: int = Field(8, ge=2, le=1000, description="flows in 01:00-05:00 that make a leaking night (people: 1-5)")
    min_nights: int = Field(2, ge=1, le=30, description="leaking nights of the window before the meter's flows stop counting")
    window_nights: int = Field(5, ge=1, le=30, description="the recent nights judged")


class FlakyLinksConfig(Strict):
    enabled: bool = Field(False, description="learn per device how often single heartbeats go missing (a lossy link) and wait out runs of losses before calling it offline")
    min_gaps: int = Field(3, ge=1, le=1000, description="single missed heartbeats seen before the device counts as lossy")
    false_per_week: float = Field(0.02, gt=0, le=10, description="offline alerts a week that the link's losses alone may open")
    max_missed: int = Field(12, ge=1, le=100, description="the most heartbeat intervals a lossy device is given")


class RulesConfig(Strict):
    offline_after_missed: int = Field(3, ge=1, le=100, description="missed heartbeat intervals before a device is offline")
    last_will_grace_s: float = Field(0, ge=0, le=3600, description="a Last Will marks the device offline at once, but its alert opens only if the device is not heard again within this long, and never later than its missed heartbeats would open it (a router rebooting, a breaker reset; 0: at once)")
    unwatched_hours: float = Field(1, ge=0, description="offline this long with no other activity sensor online raises severity to high")
    inactivity: InactivityConfig = Field(default_factory=InactivityConfig)
    geofence: GeofenceConfig = Field(default_factory=GeofenceConfig)
    low_battery: LowBatteryConfig = Field(default_factory=LowBatteryConfig)
    sos_cancel_s: float = Field(30, ge=0, le=600, description="an sos_cancel within this many seconds cancels the SOS alert")
    motion_gap: bool = Field(False, description="learn each home unit's shortest usual gap between motions (its PIR's blind time): windows that count motions fit it, a departure's confirmation counts from its end (alerts/rules/pets.py `fit`)")
    motion_gap_per_unit: bool = Field(False, description="rules.motion_gap in a home with several units: each unit learns its own gap (two PIRs interleave: the gap between one's report and the other's is no blind time); the home's is the largest settled (alerts/rules/pets.py `_note_unit_gap`)")
    clock_behind: bool = Field(True, description="judge a device whose clock runs steadily behind on corrected time, not as late (alerts/clocks.py)")
    routine: RoutineConfig = Field(default_factory=RoutineConfig)
    learned_day: LearnedDayConfig = Field(default_factory=LearnedDayConfig)
    pets: PetsConfig = Field(default_factory=PetsConfig)
    leaks: LeaksConfig = Field(default_factory=LeaksConfig)
    flaky_links: FlakyLinksConfig = Field(default_factory=FlakyLinksConfig)


class Role(StrEnum):
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    GRID_SECRETARY = "grid_secretary"
    VOLUNTEERS = "volunteers"
    FAMILY = "family"
    OPERATOR = "operator"


class AlertChannel(StrEnum):
    """How a step reaches people: a text, a text-to-speech call, a card in the grid's staff group."""

    SMS = "sms"
    VOICE = "voice"
    GROUP = "group"


#: What a step without `channels` uses: today's behaviour (texts, and a card where the grid has a group).
DEFAULT_CHANNELS = (AlertChannel.SMS, AlertChannel.GROUP)


class EscalationStep(Strict):
    notify: list[Role] = Field(min_length=1, description="roles told at this step")
    wait: Duration | None = Field(None, description="how long to wait for an acknowledgement before the next step")
    digest: Literal["daily"] | None = Field(None, description="collect into a digest instead of sending at once")
    channels: list[AlertChannel] | None = Field(
        None, description="sms, voice (a call to the same people after voice_after without an acknowledgement), "
        "group (a card in the grid's staff group); null: [sms, group]",
    )
    voice_after: Duration | None = Field(None, description="when the voice call follows the step's start; null: voice.after")

    @model_validator(mode="after")
    def _channels(self) -> EscalationStep:
        chosen = self.channels or []
        if self.channels is not None and not chosen:
            raise ValueError("channels: name at least one of sms, voice, group")
        if len(set(chosen)) != len(chosen):
            raise ValueError("channels: each channel once")
        if self.digest is not None and set(chosen) - {AlertChannel.SMS}:
            raise ValueError("channels: a digest step collects texts; only sms")
        if self.voice_after is not None and AlertChannel.VOICE not in chosen:
            raise ValueError("voice_after: the step has no voice channel")
        if self.channels is not None and chosen == [AlertChannel.GROUP]:
            raise ValueError("channels: a group card alone tells nobody in person; add sms or voice")
        return self

    @property
    def channel_set(self) -> frozenset[AlertChannel]:
        """The step's channels: today's behaviour when none are named (digest steps: texts only)."""
        if self.channels is not None:
            return frozenset(self.channels)
        return frozenset({AlertChannel.SMS}) if self.digest is not None else frozenset(DEFAULT_CHANNELS)


class EscalationConfig(Strict):
    critical: list[EscalationStep] = Field(min_length=1)
    high: list[EscalationStep] = Field(min_length=1)
    low: list[EscalationStep] = Field(min_length=1)


class VolunteersConfig(Strict):
    count: int = Field(3, ge=1, le=50, description="nearest N available volunteers")
    radius_m: float = Field(3000, gt=0, description="only volunteers this close to the resident's home")


class AlertsConfig(Strict):
    ack_expiry: Duration = Field(timedelta(minutes=45), description="an acknowledgement without on-site or resolve within this is abandoned")


M = TypeVar("M")


def read_only_view(settings: M) -> M:
    """The same settings (and the settings models in them) as plain slotted objects: the same
    fields, the same values, read-only — for the rules, which read their settings on every
    message. A pydantic model's class defines `__getattr__`, so each read of one of its fields
    goes through CPython's generic hook, which the interpreter never specialises: about 370
    instructions a read in the hook alone, against a few dozen for a slot. The replay of
    benchmarks/rules_cost.py read the rules' settings about a million times (14 a message):
    372 M instructions in the hook, 5.5 % of the replay (callgrind; docs/BENCHMARKS.md,
    session 11). A value that is no model (a view already) is returned as it is."""
    if not isinstance(settings, BaseModel):
        return settings
    model = type(settings)
    view = object.__new__(_view_class(model))
    for name in model.model_fields:
        object.__setattr__(view, name, read_only_view(getattr(settings, name)))
    return cast(M, view)


class _View:
    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


@cache
def _view_class(model: type[BaseModel]) -> type[_View]:
    return type(f"{model.__name__}View", (_View,), {"__slots__": tuple(model.model_fields)})
