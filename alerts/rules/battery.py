"""low_battery with hysteresis: ≤ open_at opens a low alert (one per device), > clear_at clears it.

The device's `battery_low` flag is the hysteresis state: one alert per low episode, so an
alert an operator resolved while the battery is still low does not reopen on the next heartbeat.
Readings from buffered (late) messages update nothing: they are older than what we know.
"""

from __future__ import annotations

from alerts.actions import AlertKind, Outcome, Reason, Severity
from alerts.context import RuleContext
from alerts.reasons import ReasonCode, device_ref, explain
from alerts.registry import Device


def on_battery(ctx: RuleContext, device: Device, level: int, at: float, now: float, late: bool) -> None:
    ds = ctx.devices[device.id]
    if late:
        return
    ds.battery = level
    cfg = ctx.rules.low_battery
    rare = ds.rare  # the flag's record, read as such: this runs on every heartbeat (alerts/state.py)
    low = rare is not None and rare.battery_low
    if cfg.open_at < level <= cfg.clear_at or (level > cfg.clear_at and not low) or device.resident is None:
        return
    if level <= cfg.open_at:
        if not low:
            ds.battery_low = True
            ctx.open_alert(AlertKind.LOW_BATTERY, Severity.LOW, device.resident, device=device.id, now=now, triggered_at=at,
                           why=explain(ReasonCode.BATTERY_LOW, device=device_ref(device.id, device.kind), level=level),
                           reason=Reason.BATTERY_LOW, late=late)
    else:
        ds.battery_low = False
        alert = ctx.book.find(device.resident, AlertKind.LOW_BATTERY, device.id)
        if alert is not None:
            why = explain(ReasonCode.BATTERY_RECOVERED, device=device_ref(device.id, device.kind), level=level)
            ctx.resolve_alert(alert, Outcome.CLEARED, Reason.BATTERY_RECOVERED, now, note=why)
