"""Escalation decisions: who is told at each step, when the next step is due, and why.

Owns the pure policy: `plan_step` resolves a step's roles to recipients through the
`Directory`, `next_step_index` says where escalation goes after a wait, a backup request or
an abandoned acknowledgement, `replacement_for` finds the next responder of a role when a
message fails for good, `channel_plan` says which channels a step uses and when (texts and the
group card at once, a voice call after `voice.after` without an acknowledgement), and `ack_command_for` builds the home unit's `alert_ack` command.
Every plan carries a named `StepReason`, so "why did this SMS go out?" is answerable from the
outbox row. No I/O, no clock: `now` is an argument. Executing plans (outbox rows, alert
columns) is hub/dispatch/dispatcher.py's job.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from alerts.actions import Alert, Severity
from alerts.config import AlertChannel, EscalationConfig, EscalationStep, Role, VolunteersConfig
from alerts.directory import Directory, Recipient
from alerts.registry import RegistrySnapshot, Resident
from devices.kinds import DeviceKind
from devices.topics import DEFAULT_ROOT, Channel, DeviceTopic

#: A message must not arrive after its step is over; steps without a wait (the last one) and
#: "done" messages get these validity periods instead.
LAST_STEP_VALIDITY = timedelta(minutes=30)
DONE_VALIDITY = timedelta(hours=1)
DIGEST_VALIDITY = timedelta(hours=6)
DIGEST_HOUR_LOCAL = 9  # the daily digest goes out at 09:00 in the resident's time zone


class StepReason(StrEnum):
    ALERT_OPENED = "alert_opened"  # first step of a new alert
    WAIT_ELAPSED = "wait_elapsed"  # nobody acknowledged within the step's wait
    BACKUP_REQUESTED = "backup_requested"  # a responder replied 2: the next step now
    ACK_EXPIRED = "ack_expired"  # an acknowledgement was abandoned: escalation resumes
    STEP_EMPTY = "step_empty"  # the previous step had nobody to tell
    STEP_UNDELIVERABLE = "step_undeliverable"  # every message of the previous step failed for good
    SEVERITY_RAISED = "severity_raised"  # a re-trigger raised a digest alert to an urgent one


class SkipReason(StrEnum):
    NOBODY_IN_ROLE = "nobody_in_role"  # no available responder with this role in the resident's grid
    NO_CONTACTS = "no_contacts"  # the resident has no family contacts
    NO_VOLUNTEER_IN_RADIUS = "no_volunteer_in_radius"
    ALREADY_TOLD = "already_told"  # everyone the role names was told at an earlier step


@dataclass(frozen=True, slots=True)
class SkippedRole:
    role: Role
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class StepPlan:
    step_index: int
    recipients: tuple[Recipient, ...]
    wait: timedelta | None  # None: the last step, nothing follows automatically
    reason: StepReason
    digest: bool = False  # collect into the daily digest instead of sending now
    next_at: float | None = None  # when the next step is due (now + wait), None if none
    validity: timedelta = LAST_STEP_VALIDITY  # how long a message of this step may wait to be delivered
    skipped: tuple[SkippedRole, ...] = ()
    has_next: bool = False  # a later step exists
    channels: ChannelPlan | None = None  # None: texts only (a plan made without channel settings)


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """Which channels a step uses for its recipients, and when."""

    sms: bool  # a text to each recipient now
    voice_at: float | None  # a call to each recipient then, unless the alert was acknowledged; None: no call
    group: bool  # a card in the resident's grid group now (once per alert)


def channel_plan(step: EscalationStep, now: float, voice_after: timedelta | None) -> ChannelPlan:
    """The step's channels at `now`. `voice_after`: the configured `voice.after`, None when no voice
    provider is configured (the step's voice channel is then left out). A step's own `voice_after`
    wins; a voice-only step calls at once."""
    chosen = step.channel_set
    sms = AlertChannel.SMS in chosen
    voice_at = None
    if AlertChannel.VOICE in chosen and voice_after is not None and step.digest is None:
        delay = step.voice_after if step.voice_after is not None else (voice_after if sms else timedelta(0))
        voice_at = now + delay.total_seconds()
    if not sms and voice_at is None:
        sms = True  # a voice-only step without a voice provider texts instead of telling nobody
    return ChannelPlan(sms, voice_at, AlertChannel.GROUP in chosen and step.digest is None)


def voice_too_late(step: EscalationStep, voice_after: timedelta) -> bool:
    """A call due when the step's wait is over would come after the next step started: a configuration error."""
    chosen = step.channel_set
    if AlertChannel.VOICE not in chosen or step.wait is None:
        return False
    default = voice_after if AlertChannel.SMS in chosen else timedelta(0)
    delay = step.voice_after if step.voice_after is not None else default
    return delay >= step.wait


@dataclass(frozen=True)
class EscalationPolicy:
    """The `escalation` and `volunteers` sections of the configuration, read together."""

    escalation: EscalationConfig
    volunteers: VolunteersConfig

    def steps(self, severity: Severity | str) -> list[EscalationStep]:
        steps: list[EscalationStep] = getattr(self.escalation, str(severity))
        return steps


def plan_step(
    alert: Alert,
    step_index: int,
    policy: EscalationPolicy,
    directory: Directory,
    resident: Resident,
    now: float,
    reason: StepReason = StepReason.ALERT_OPENED,
    already_told: Collection[str] = (),
    voice_after: timedelta | None = None,
) -> StepPlan:
    """Who step `step_index` of the alert's severity tells, and when the next step is due.

    A person is told once per alert (by phone number): later steps skip whoever an earlier
    step told (`already_told`), a repeat of the last step tells its people again.
    """
    steps = policy.steps(alert.severity)
    step = steps[step_index]
    recipients: list[Recipient] = []
    skipped: list[SkippedRole] = []
    seen = set(already_told)
    for role in step.notify:
        candidates = directory.candidates(role, resident, policy.volunteers)
        fresh = [c for c in candidates if c.phone not in seen]
        if role is Role.VOLUNTEERS:
            fresh = fresh[: policy.volunteers.count]
        if not fresh:
            skipped.append(SkippedRole(role, _skip_reason(role, bool(candidates))))
        for c in fresh:
            seen.add(c.phone)
            recipients.append(c)
    has_next = step_index + 1 < len(steps)
    wait = step.wait
    digest = step.digest is not None
    validity = _validity(wait, digest)
    next_at = None if wait is None or digest else now + wait.total_seconds()
    channels = channel_plan(step, now, voice_after)
    return StepPlan(
        step_index, tuple(recipients), wait, reason, digest, next_at, validity, tuple(skipped), has_next, channels
    )


def _skip_reason(role: Role, had_candidates: bool) -> SkipReason:
    if had_candidates:
        return SkipReason.ALREADY_TOLD
    if role is Role.FAMILY:
        return SkipReason.NO_CONTACTS
    if role is Role.VOLUNTEERS:
        return SkipReason.NO_VOLUNTEER_IN_RADIUS
    return SkipReason.NOBODY_IN_ROLE


def _validity(wait: timedelta | None, digest: bool) -> timedelta:
    if digest:
        return DIGEST_VALIDITY
    # A step's message is useless once the next step has started: never longer than the wait.
    return wait if wait is not None else LAST_STEP_VALIDITY


def next_step_index(current: int, step_count: int) -> int:
    """The step after `current`; escalation stays on its last step (it repeats it) once there."""
    return min(current + 1, step_count - 1)


def replacement_for(
    role: Role,
    policy: EscalationPolicy,
    directory: Directory,
    resident: Resident,
    already_told: Collection[str],
) -> Recipient | None:
    """The next person of `role` not told yet, when a message to one of them failed for good."""
    told = set(already_told)
    return next((c for c in directory.candidates(role, resident, policy.volunteers) if c.phone not in told), None)


def next_digest_at(now: float, timezone: str, hour: int = DIGEST_HOUR_LOCAL) -> float:
    """The next `hour`:00 local time strictly after `now`."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour)
    return candidate.timestamp()


def ack_command_for(alert: Alert, registry: RegistrySnapshot, root: str = DEFAULT_ROOT) -> tuple[str, bytes] | None:
    """`alert_ack` for the resident's home unit (`pingan_cat`), so it can say help is coming.

    None when the resident has no home unit. The hub publishes it with QoS 1 after the commit.
    """
    cats = [d for d in registry.devices_of(alert.resident) if d.kind is DeviceKind.PINGAN_CAT]
    if not cats:
        return None
    topic = DeviceTopic(cats[0].id, Channel.CMD, root)
    payload = json.dumps({"cmd": "alert_ack", "alert": alert.code}, separators=(",", ":")).encode()
    return str(topic), payload
