"""sos, fall, smoke, gas: critical alerts at once; sos_cancel within sos_cancel_s cancels an SOS.

A buffered (late) SOS or fall still raises its alert, marked late. A cancel from the same
device within the window (device time) resolves the SOS as `cancelled` and tells everyone
already notified; a later cancel is only recorded on the alert, which stays open.
"""

from __future__ import annotations

from alerts.actions import AlertKind, Outcome, Reason, Severity
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
    if kind is AlertKind.SOS:
        ctx.devices[device.id].last_sos_at = msg.at
    ref = device_ref(device.id, device.kind)
    late = (explain(ReasonCode.DELIVERED_LATE, device=ref, late_s=round(now - msg.at)),) if msg.late else ()
    ctx.open_alert(
        kind, Severity.CRITICAL, resident, device=device.id, now=now, triggered_at=msg.at,
        why=explain(ReasonCode(reason.value), device=ref), notes=late, reason=reason, late=msg.late,
    )


def cancel_sos(ctx: RuleContext, device: Device, resident: str, msg: DeviceMessage, now: float) -> None:
    alert = ctx.book.find(resident, AlertKind.SOS)
    if alert is None:
        ctx.count("sos_cancel_without_alert")
        return
    pressed_at = ctx.devices[device.id].last_sos_at
    if alert.device == device.id and pressed_at is not None and 0 <= msg.at - pressed_at <= ctx.rules.sos_cancel_s:
        ctx.resolve_alert(alert, Outcome.CANCELLED, Reason.SOS_CANCELLED, now, by=device.id, channel="device",
                          note=explain(ReasonCode.SOS_CANCELLED, device=device_ref(device.id, device.kind)))
    else:
        after = None if pressed_at is None else round(msg.at - pressed_at)
        ctx.update_alert(alert, Reason.SOS_CANCEL_TOO_LATE,
                         note=explain(ReasonCode.SOS_CANCEL_TOO_LATE, device=device_ref(device.id, device.kind), after_s=after))
