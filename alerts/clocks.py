"""A device clock that runs behind: its messages are judged on corrected time.

Cheap devices lose their clock: a real-time clock reset to its epoch by a power cut, a clock
set by hand or in the wrong time zone. Their messages arrive live but stamped hours (or years)
in the past, so each looked buffered: motion of a minute ago was taken for motion of hours ago,
and the resident got an inactivity alert every few hours while moving about (a field home whose
clocks ran 2 h behind: 310 alerts in 14 days against 7; docs/RULES.md "Device clocks").

A message arrives after it was stamped, so its lag (receive time − device ts) is the clock's
offset plus the delivery delay, and the lowest lag is the best bound on the offset. A buffered
flush delivers its oldest message first and catches up: its lag falls to seconds within the
burst, and the next live message has none. A clock behind keeps a lag that does not fall. So
when a device's lowest lag has stayed above LATE_AFTER_S, steady within LAG_TOLERANCE_S, for
PROOF_S of receive time, its clock is taken to be that far behind; from then on its messages
are judged at ts + offset, late only beyond that. A lower lag lowers the offset at once (the
clock was set forward); a normal lag ends the correction. A hub draining a backlog slower than
real time could look like this for a while: the offset then follows the falling lag down.
The ts stored with each event is unchanged (hub storage keeps device ts and receive time).
"""

from __future__ import annotations

from dataclasses import replace

from alerts.state import DeviceState
from devices import DeviceMessage
from devices.messages import LATE_AFTER_S

LAG_TOLERANCE_S = 30.0  # delivery jitter and drift between two live messages (a cheap RTC: ≤ 10 s a day)
PROOF_S = 900.0  # receive time a steady lag must last: 3 heartbeats of 300 s; a flush drains in seconds


def corrected(ds: DeviceState, msg: DeviceMessage) -> DeviceMessage:
    """`msg` on the device's corrected clock: itself while its clock is right."""
    ts = msg.device_ts
    if ts is None or msg.skewed:
        return msg
    lag = msg.received_at - ts
    offset = ds.clock_behind_s or 0.0
    if lag < offset - LAG_TOLERANCE_S:  # sooner than the offset allows: the clock was set forward
        ds.clock_behind_s = lag if lag > LATE_AFTER_S else None
        ds.lag_low = ds.lag_low_at = None
    elif lag - offset > LATE_AFTER_S:  # buffered, or the clock fell (further) behind
        _watch(ds, lag, msg.received_at)
    elif ds.lag_low is not None:  # a live message: what the watch saw was a flush
        ds.lag_low = ds.lag_low_at = None
    offset = ds.clock_behind_s or 0.0
    if not offset:
        return msg
    at = ts + offset
    return replace(msg, at=at, late=msg.received_at - at > LATE_AFTER_S)


def _watch(ds: DeviceState, lag: float, received_at: float) -> None:
    """Keep the lowest lag and since when it holds; a steady one for PROOF_S is the offset."""
    low, since = ds.lag_low, ds.lag_low_at
    if low is None or since is None or lag < low - LAG_TOLERANCE_S:
        ds.lag_low, ds.lag_low_at = lag, received_at  # a new low: the watch starts again
    elif lag <= low + LAG_TOLERANCE_S and received_at - since >= PROOF_S:
        ds.clock_behind_s = min(low, lag)
        ds.lag_low = ds.lag_low_at = None
    elif lag < low:
        ds.lag_low = lag
