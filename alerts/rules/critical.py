"""sos, fall, smoke, gas: critical alerts at once; sos_cancel within sos_cancel_s cancels an SOS.

A buffered (late) SOS or fall still raises its alert, marked late. A cancel from the same
device within the window (device time) resolves the SOS as `cancelled` and tells everyone
already notified; a later cancel is only recorded on the alert, which stays open.

A cancel can be ruled before its SOS when the two reach the rules out of order (several hubs
whose batches commit out of order, a device's buffered messages; docs/SCALE_OUT.md
"Per-device ordering"). Such a cancel is kept on the device, and the SOS it follows in device
time (within the window) opens and is cancelled at once: the outcome of the order they were
pressed in.
"""

from __future__ import annotations

from alerts.actions import Alert, AlertKind, Outcome, Reason, Severity
from alerts.context import RuleContext
from alerts.reasons import ReasonCode, device_ref, explain
from alerts.registry import Device
from devices import DeviceMessage

CRITICAL_EVENTS: dict[str, tuple[AlertKind, Reason]] = {
    "sos": (AlertKind.SOS, Reason.SOS_PRESSED),
    "fall": (AlertKind.FALL, Reason.FALL_DETECTED),
    "smoke": (AlertKind.SMOKE, Reason.SMOKE_DETECTED),
    "gas": (AlertKind.GAS, Reason.GAS_DETECTED),
}


def raise_critical(ctx: RuleContext, device: Device, resident: str, event: str, msg: DeviceMessage, now: float) -> None:
    kind, reason = CRITICAL_EVENTS[event]
    state = ctx.devices[device.id]
    if kind is AlertKind.SOS:
        state.last_sos_at = msg.at
    ref = device_ref(device.id, device.kind)
    late = (explain(ReasonCode.DELIVERED_LATE, device=ref, late_s=round(now - msg.at)),) if msg.late else ()
    alert = ctx.open_alert(
        kind, Severity.CRITICAL, resident, device=device.id, now=now, triggered_at=msg.at,
        why=explain(ReasonCode(reason.value), device=ref), notes=late, reason=reason, late=msg.late,
    )
    cancelled_at = state.early_cancel_at
    if kind is AlertKind.SOS and cancelled_at is not None and _in_window(ctx, msg.at, cancelled_at):
        state.early_cancel_at = None
        _cancel(ctx, alert, device, now)


def _in_window(ctx: RuleContext, pressed_at: float, cancelled_at: float) -> bool:
    return 0 <= cancelled_at - pressed_at <= ctx.rules.sos_cancel_s


def _cancel(ctx: RuleContext, alert: Alert, device: Device, now: float) -> None:
    ctx.resolve_alert(alert, Outcome.CANCELLED, Reason.SOS_CANCELLED, now, by=device.id, channel="device",
                      note=explain(ReasonCode.SOS_CANCELLED, device=device_ref(device.id, device.kind)))


def cancel_sos(ctx: RuleContext, device: Device, resident: str, msg: DeviceMessage, now: float) -> None:
    state = ctx.devices[device.id]
    pressed_at = state.last_sos_at
    alert = ctx.book.find(resident, AlertKind.SOS)
    if alert is not None and alert.device == device.id and pressed_at is not None and _in_window(ctx, pressed_at, msg.at):
        _cancel(ctx, alert, device, now)
        return
    state.early_cancel_at = msg.at  # cancels nothing yet: its SOS may still be on its way (module docstring)
    if alert is None:
        ctx.count("sos_cancel_without_alert")
        return
    after = None if pressed_at is None else round(msg.at - pressed_at)
    ctx.update_alert(alert, Reason.SOS_CANCEL_TOO_LATE,
                     note=explain(ReasonCode.SOS_CANCEL_TOO_LATE, device=device_ref(device.id, device.kind), after_s=after))
