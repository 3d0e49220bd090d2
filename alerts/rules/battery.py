"""low_battery with hysteresis: ≤ open_at opens a low alert (one per device), > clear_at clears it."""

from __future__ import annotations

from alerts.actions import AlertKind, Outcome, Reason, Severity
from alerts.context import RuleContext
from alerts.registry import Device


def on_battery(ctx: RuleContext, device: Device, level: int, at: float, now: float, late: bool) -> None:
    ds = ctx.devices[device.id]
    ds.battery = level
    if device.resident is None:
        return
    cfg = ctx.rules.low_battery
    if level <= cfg.open_at:
        if ctx.book.find(device.resident, AlertKind.LOW_BATTERY, device.id) is None:
            ctx.open_alert(AlertKind.LOW_BATTERY, Severity.LOW, device.resident, device=device.id, now=now, triggered_at=at,
                           text=f"{device.kind.value} {device.id} battery at {level} %", reason=Reason.BATTERY_LOW, late=late)
    elif level > cfg.clear_at:
        alert = ctx.book.find(device.resident, AlertKind.LOW_BATTERY, device.id)
        if alert is not None:
            ctx.resolve_alert(alert, Outcome.CLEARED, Reason.BATTERY_RECOVERED, now)
