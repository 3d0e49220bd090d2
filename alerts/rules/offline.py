"""device_offline: missed heartbeats or a Last Will; cleared when the device is heard again.

One alert per resident (PRODUCT.md: at most one open alert per (resident, kind)): a power cut or a
Wi-Fi outage silences several devices of a home at once, and that is one thing for a grid worker
to see to, not one SMS per device. The first device opens it; each further one attaches to it
(a re-trigger, with its own reason as a note, `offline_told` in its state); a device heard again
is noted, and the alert clears when the last of them is heard again (docs/RULES.md).

Any message counts as heard (hub receive time). A device is due offline at
last_heard + offline_after_missed × its heartbeat_s (from the start of monitoring if never
heard). The alert is low while another activity sensor of the resident is online; when none
is, or the home's motion sensor is offline so silence cannot be judged (the resident is
unwatched), it becomes high after unwatched_hours. During an absence the
device state still changes but no alert opens until the absence ends.

A lossy link (QoS 0 over weak Wi-Fi, a flaky cellular tag; `rules.flaky_links`) drops single
heartbeats now and then; with loss p, two dropped in a row (p²) let the third arrive just at the
deadline, and a home at 5 % loss raised an offline alert every few days per device. So the hub
counts each device's *single* missed heartbeats (a silence of 1.5–2.5 intervals between two
messages: one beat lost; longer silences are outages, not counted), and once it has seen
`min_gaps` of them estimates p = single misses / intervals watched and waits the smallest number
of intervals M ≥ offline_after_missed with (intervals a week) × p^(M-1) ≤ `false_per_week`, at
most `max_missed`. A device that never lost a single beat keeps offline_after_missed exactly.

Deadlines are lazy: hearing a device only moves `last_heard`; the armed deadline stays a lower
bound, and when it fires the true deadline is recomputed and re-armed if it is still ahead.
"""

from __future__ import annotations

from alerts.actions import SEVERITY_RANK, AlertKind, DeviceHealth, DeviceStateChanged, Outcome, Reason, Severity
from alerts.context import REJOIN_GRACE_S, WATCH_KINDS, RuleContext, is_late
from alerts.deadlines import DEVICE
from alerts.reasons import Explanation, ReasonCode, device_ref, explain
from alerts.registry import Device
from alerts.state import DeviceState, ResidentState

WEEK_S = 7 * 86400.0

# Enum members read on every message (or every activity), bound once as module globals: Python 3.11
# reads an enum class's attribute through its metaclass's __getattr__ hook, about 800
# instructions a read (docs/BENCHMARKS.md, session 11).
_ONLINE, _OFFLINE = DeviceHealth.ONLINE, DeviceHealth.OFFLINE


def period_s(ctx: RuleContext, device: Device, ds: DeviceState | None = None) -> float:
    return float(missed_allowed(ctx, device, ds) * device.heartbeat_s)


def missed_allowed(ctx: RuleContext, device: Device, ds: DeviceState | None) -> int:
    """Heartbeat intervals of silence before the device is offline: offline_after_missed, more on a lossy link."""
    base = ctx.rules.offline_after_missed
    if ds is None or ds.rare is None:  # no side record: no single miss seen (the common case, read without the property)
        return base
    cfg = ctx.rules.flaky_links
    if not cfg.enabled or ds.rare.single_misses < cfg.min_gaps or ds.watch_start is None or ds.last_heard is None:
        return base
    if _sibling_offline(ctx, device):  # a power cut or an outage of her home, not a lost beat
        return base
    intervals = max((ds.last_heard - ds.watch_start) / device.heartbeat_s, 1.0)
    p = min(ds.single_misses / intervals, 0.9)
    per_week = WEEK_S / device.heartbeat_s
    missed = base
    while missed < cfg.max_missed and per_week * p ** (missed - 1) > cfg.false_per_week:
        missed += 1
    return max(missed, base)


def heard(ctx: RuleContext, device: Device, ds: DeviceState, now: float) -> None:
    last = ds.last_heard
    if last is None or now > last:
        # the gap first: most messages follow the last within an interval, and stop there
        if last is not None and 1.5 * device.heartbeat_s < now - last < 2.5 * device.heartbeat_s and ctx.rules.flaky_links.enabled:
            ds.single_misses += 1  # one beat lost between two messages (a longer silence is an outage)
        ds.last_heard = now
    if ds.health is not _ONLINE:
        _back_online(ctx, device, ds, now)
    if ds.due is None:  # no deadline armed (its time is kept in the state: alerts/deadlines.py)
        ctx.deadlines.arm(DEVICE, device.id, now + period_s(ctx, device, ds))


def _sibling_offline(ctx: RuleContext, device: Device) -> bool:
    """Another device of the resident is offline now."""
    if device.resident is None:
        return False
    for other in ctx.devices_of(device.resident):
        state = ctx.devices.get(other.id) if other.id != device.id else None
        if state is not None and state.health is _OFFLINE:
            return True
    return False


def _hurry_lossy_siblings(ctx: RuleContext, device: Device) -> None:
    """A device of hers went offline: her devices on a lossy link (flaky_links) are now due after
    offline_after_missed intervals again, not after the longer wait their lost beats earned — the
    same power cut or Wi-Fi outage has likely silenced them too."""
    assert device.resident is not None
    base = ctx.rules.offline_after_missed
    for other in ctx.devices_of(device.resident):
        state = ctx.devices.get(other.id) if other.id != device.id else None
        if state is not None and state.health is _ONLINE and state.last_heard is not None and state.rare is not None:
            ctx.deadlines.arm_earlier(DEVICE, other.id, state.last_heard + base * other.heartbeat_s)


def _back_online(ctx: RuleContext, device: Device, ds: DeviceState, now: float) -> None:
    was_offline = ds.health is DeviceHealth.OFFLINE
    ds.health, ds.offline_since = DeviceHealth.ONLINE, None
    ctx.emit(DeviceStateChanged(device.id, device.resident, DeviceHealth.ONLINE, Reason.DEVICE_HEARD, now))
    if device.resident is None:
        return
    told, ds.offline_told = ds.offline_told, False
    release(ctx, device, told, now, Reason.DEVICE_HEARD, ReasonCode.DEVICE_HEARD)
    if was_offline and device.kind in WATCH_KINDS:
        rs = ctx.residents[device.resident]
        if ctx.covered(device.resident):
            if ctx.rules.inactivity.outage_not_silence and rs.unwatched_since is not None:
                _blind_span(rs, rs.unwatched_since, now)
            rs.unwatched_since = None
        ctx.arm_resident(device.resident, now + REJOIN_GRACE_S)  # re-judge silence once the buffer has flushed
    ctx.touched.add(device.resident)


def _blind_span(rs: ResidentState, since: float, now: float) -> None:
    """The home's sensors are back after an unwatched span (a Wi-Fi outage, a power cut): what she
    did meanwhile is unseen, not silence — a device that does not flush what it kept sends nothing
    of it. Her silence counts from `now` less the silence seen before the span (inactivity.silence_start),
    until activity newer than the span's start arrives (a flush, or her next movement)."""
    seen = rs.last_activity if rs.last_activity is not None else rs.watch_start
    before = max(0.0, since - seen) if seen is not None else 0.0
    rs.blind_from, rs.blind_floor = since, now - before


def last_will(ctx: RuleContext, device: Device, ds: DeviceState, now: float) -> None:
    if ds.health is DeviceHealth.OFFLINE:
        return
    alert_at = last_will_alert_at(ctx, device, ds, now)
    go_offline(ctx, device, ds, now, now, Reason.LAST_WILL, alert=alert_at <= now)
    if alert_at > now:  # back before it (a router's reboot): no alert; else `evaluate` opens it
        ctx.deadlines.arm(DEVICE, device.id, alert_at)


def evaluate(ctx: RuleContext, device: Device, now: float) -> float | None:
    """The device deadline fired: go offline if truly due, else say when to look again."""
    ds = ctx.devices[device.id]
    if ds.health is _OFFLINE:
        return _alert_after_absence(ctx, device, ds, now)
    base = ds.last_heard if ds.last_heard is not None else ds.watch_start
    due = (base if base is not None else now) + period_s(ctx, device, ds)
    if now < due:
        return due
    go_offline(ctx, device, ds, now, due, Reason.HEARTBEATS_MISSED)
    return _alert_after_absence(ctx, device, ds, now)


def go_offline(ctx: RuleContext, device: Device, ds: DeviceState, now: float, since: float, reason: Reason,
               alert: bool = True) -> None:
    late = is_late(since, now)
    ds.health, ds.offline_since = DeviceHealth.OFFLINE, since
    ctx.emit(DeviceStateChanged(device.id, device.resident, DeviceHealth.OFFLINE, reason, now, late))
    if device.resident is None:
        return
    rs = ctx.residents[device.resident]
    if ctx.rules.flaky_links.enabled:
        _hurry_lossy_siblings(ctx, device)
    if device.kind in WATCH_KINDS and rs.unwatched_since is None and not ctx.covered(device.resident):
        rs.unwatched_since = since
        ctx.arm_resident(device.resident, since + ctx.rules.unwatched_hours * 3600)
    ctx.touched.add(device.resident)
    if alert and ctx.absence_at(device.resident, now) is None:
        _open(ctx, device, ds, now, reason, late)


def _open(ctx: RuleContext, device: Device, ds: DeviceState, now: float, reason: Reason, late: bool) -> None:
    """Open her offline alert for this device, or attach the device to the one open already."""
    assert device.resident is not None
    since = ds.offline_since if ds.offline_since is not None else now
    severity = Severity.HIGH if unwatched_too_long(ctx, device.resident, now) and device.kind in WATCH_KINDS else Severity.LOW
    why = _why_offline(ctx, device, ds, reason)
    ds.offline_told = True
    alert = ctx.book.find(device.resident, AlertKind.DEVICE_OFFLINE)
    if alert is None:
        ctx.open_alert(AlertKind.DEVICE_OFFLINE, severity, device.resident, device=device.id, now=now, triggered_at=since,
                       why=why, reason=reason, late=late)
    else:
        ctx.update_alert(alert, Reason.RETRIGGERED, note=why, triggers=alert.triggers + 1,
                         severity=max(alert.severity, severity, key=SEVERITY_RANK.__getitem__))


def release(ctx: RuleContext, device: Device, told: bool, now: float, reason: Reason, code: ReasonCode) -> None:
    """The device is heard again (or removed): her offline alert notes it, and clears when no
    other device of hers that it tells of is still offline."""
    if device.resident is None:
        return
    keyed = ctx.book.find(device.resident, AlertKind.DEVICE_OFFLINE)
    note = explain(code, device=device_ref(device.id, device.kind))
    for alert in ctx.book.of_resident(device.resident):
        # A state saved before one alert a resident may hold an alert per device, none of them told
        # of in `offline_told`: each clears when its own device is heard again.
        if alert.kind is not AlertKind.DEVICE_OFFLINE or not (alert.device == device.id or (told and alert is keyed)):
            continue
        if alert is keyed and any(_told(ctx, d.id) for d in ctx.devices_of(alert.resident) if d.id != device.id):
            ctx.update_alert(alert, reason, note=note)
        else:
            ctx.resolve_alert(alert, Outcome.CLEARED, reason, now, note=note)


def _told(ctx: RuleContext, device_id: str) -> bool:
    ds = ctx.devices.get(device_id)
    return ds is not None and ds.offline_told


def _why_offline(ctx: RuleContext, device: Device, ds: DeviceState, reason: Reason) -> Explanation:
    ref = device_ref(device.id, device.kind)
    if reason is Reason.LAST_WILL:
        return explain(ReasonCode.LAST_WILL, device=ref, last_seen=ds.last_heard)
    return explain(ReasonCode.HEARTBEATS_MISSED, device=ref, missed=missed_allowed(ctx, device, ds), last_seen=ds.last_heard)


def _alert_after_absence(ctx: RuleContext, device: Device, ds: DeviceState, now: float) -> float | None:
    if device.resident is None or ds.offline_told:
        return None
    absence = ctx.absence_at(device.resident, now)
    if absence is not None:
        return absence.until
    alert_at = last_will_alert_at(ctx, device, ds, ds.offline_since if ds.offline_since is not None else now)
    if now < alert_at:
        return alert_at
    _open(ctx, device, ds, now, _offline_reason(ctx, device, ds), False)
    return None


def last_will_alert_at(ctx: RuleContext, device: Device, ds: DeviceState, since: float) -> float:
    """When the alert of a device offline since `since` may open: after a Last Will, once
    rules.last_will_grace_s has passed without it being heard again, but never later than its
    missed heartbeats would have opened it (back before that, it was never offline by that
    reading either); at `since` when the heartbeats ran out first. Those are the contract's
    offline_after_missed intervals, not a lossy link's longer wait: rules.flaky_links learns
    beats lost on a link that stays up, and a Last Will says the link is down."""
    heard = ds.last_heard if ds.last_heard is not None else ds.watch_start
    due = since if heard is None else heard + ctx.rules.offline_after_missed * device.heartbeat_s
    return max(since, min(since + ctx.rules.last_will_grace_s, due))


def _offline_reason(ctx: RuleContext, device: Device, ds: DeviceState) -> Reason:
    """A device offline before its heartbeats ran out went by its Last Will."""
    since, last = ds.offline_since, ds.last_heard
    will = since is not None and last is not None and since < last + period_s(ctx, device, ds)
    return Reason.LAST_WILL if will else Reason.HEARTBEATS_MISSED


def unwatched_too_long(ctx: RuleContext, resident_id: str, now: float) -> bool:
    since = ctx.residents[resident_id].unwatched_since
    return since is not None and now - since >= ctx.rules.unwatched_hours * 3600


def check_unwatched(ctx: RuleContext, resident_id: str, now: float) -> float | None:
    """Raise offline alerts to high once the resident has been unwatched for unwatched_hours."""
    departure = ctx.residents[resident_id].departure  # the field's record, read as such: runs at every resident deadline
    since = None if departure is None else departure.unwatched_since
    if since is None:
        return None
    due = since + ctx.rules.unwatched_hours * 3600
    if now < due:
        return due
    alert = ctx.book.find(resident_id, AlertKind.DEVICE_OFFLINE)
    if alert is not None and alert.severity is Severity.LOW and any(
            d.kind in WATCH_KINDS and _told(ctx, d.id) for d in ctx.devices_of(resident_id)):
        ctx.update_alert(alert, Reason.UNWATCHED, severity=Severity.HIGH,
                         note=explain(ReasonCode.UNWATCHED, for_s=ctx.rules.unwatched_hours * 3600))
    return None
