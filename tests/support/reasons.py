"""Realistic explanations for every reason code (alerts/reasons.py), for texts and pages under test."""

from __future__ import annotations

from alerts.actions import AlertKind
from alerts.reasons import CATALOGUE, Explanation, ReasonCode, device_ref, explain

T0 = 1764900000.0  # 2025-12-05 02:00 UTC, 10:00 in Harbin
CAT = device_ref("cat-0001", "pingan_cat")
DOOR = device_ref("door-0001", "door_sensor")
TAG = device_ref("tag-0001", "gps_tag")
SMOKE = device_ref("smoke-0001", "smoke_alarm")
GAS = device_ref("gas-0001", "gas_alarm")

C = ReasonCode
SAMPLES: dict[ReasonCode, Explanation] = {
    C.SOS_PRESSED: explain(C.SOS_PRESSED, device=TAG),
    C.FALL_DETECTED: explain(C.FALL_DETECTED, device=CAT),
    C.SMOKE_DETECTED: explain(C.SMOKE_DETECTED, device=SMOKE),
    C.GAS_DETECTED: explain(C.GAS_DETECTED, device=GAS),
    C.SILENCE_EXCEEDED: explain(
        C.SILENCE_EXCEEDED, since=T0 - 6 * 3600, last_activity=T0 - 6 * 3600, last_device=CAT, devices=[CAT, DOOR, TAG],
        threshold_s=21600, basis="day",
    ),
    C.AWAY_TOO_LONG: explain(C.AWAY_TOO_LONG, since=T0 - 86400, by="door", limit_s=86400),
    C.HEARTBEATS_MISSED: explain(C.HEARTBEATS_MISSED, device=GAS, missed=3, last_seen=T0 - 900),
    C.LAST_WILL: explain(C.LAST_WILL, device=CAT, last_seen=T0 - 30),
    C.LEFT_SAFE_ZONES: explain(C.LEFT_SAFE_ZONES, device=TAG, outside_m=420, accuracy_m=12, fixes=2, zone="小区周边"),
    C.LEFT_HOME_AT_NIGHT: explain(C.LEFT_HOME_AT_NIGHT, at=T0 - 600),
    C.BATTERY_LOW: explain(C.BATTERY_LOW, device=GAS, level=18),
    C.MANUAL_REPORT: explain(C.MANUAL_REPORT, by="operator", note="邻居来电：敲门无人应"),
    C.DELIVERED_LATE: explain(C.DELIVERED_LATE, device=TAG, late_s=1260),
    C.HOME_MOTION_WHILE_TAG_AWAY: explain(C.HOME_MOTION_WHILE_TAG_AWAY, at=T0 - 300),
    C.DOOR_ONLY_ACTIVITY: explain(C.DOOR_ONLY_ACTIVITY, device=DOOR, at=T0 + 1200),
    C.UNWATCHED: explain(C.UNWATCHED, for_s=3600),
    C.SOS_CANCEL_TOO_LATE: explain(C.SOS_CANCEL_TOO_LATE, device=TAG, after_s=95),
    C.RETURNED_TO_ZONE: explain(C.RETURNED_TO_ZONE, zone="小区周边"),
    C.ACTIVITY_RESUMED: explain(C.ACTIVITY_RESUMED, device=CAT, at=T0 + 600),
    C.LATE_ACTIVITY: explain(C.LATE_ACTIVITY, device=CAT, at=T0 - 3000),
    C.ABSENCE_RECORDED: explain(C.ABSENCE_RECORDED, until=T0 + 3 * 86400),
    C.DEVICE_HEARD: explain(C.DEVICE_HEARD, device=CAT),
    C.DEVICE_REMOVED: explain(C.DEVICE_REMOVED, device=DOOR),
    C.BATTERY_RECOVERED: explain(C.BATTERY_RECOVERED, device=TAG, level=95),
    C.SOS_CANCELLED: explain(C.SOS_CANCELLED, device=TAG),
    C.ACTIVITY: explain(C.ACTIVITY),
    C.QUIET: explain(C.QUIET),
    C.DEPARTED: explain(C.DEPARTED),
    C.TAG_LEFT_HOME: explain(C.TAG_LEFT_HOME),
    C.ABSENCE: explain(C.ABSENCE, until=T0 + 2 * 86400),
    C.NO_WORKING_SENSOR: explain(C.NO_WORKING_SENSOR),
    C.NO_MOTION_SENSOR: explain(C.NO_MOTION_SENSOR, devices=[CAT]),
    C.ALERT_OPEN: explain(C.ALERT_OPEN),
    C.ALERT_CLOSED: explain(C.ALERT_CLOSED),
    C.LEGACY_TEXT: explain(C.LEGACY_TEXT, text="no activity since 07:40; allowed silence 6 h by day, 12 h at night (21:00-07:00)"),
}
assert set(SAMPLES) == set(CATALOGUE)

#: The reason each alert kind opens with (a gas alarm's words are the longest device words: the SMS worst case).
OPENING: dict[AlertKind, Explanation] = {
    AlertKind.SOS: SAMPLES[C.SOS_PRESSED],
    AlertKind.FALL: SAMPLES[C.FALL_DETECTED],
    AlertKind.SMOKE: SAMPLES[C.SMOKE_DETECTED],
    AlertKind.GAS: SAMPLES[C.GAS_DETECTED],
    AlertKind.INACTIVITY: SAMPLES[C.SILENCE_EXCEEDED],
    AlertKind.DEVICE_OFFLINE: SAMPLES[C.HEARTBEATS_MISSED],
    AlertKind.GEOFENCE_EXIT: SAMPLES[C.LEFT_SAFE_ZONES],
    AlertKind.LOW_BATTERY: SAMPLES[C.BATTERY_LOW],
    AlertKind.MANUAL: SAMPLES[C.MANUAL_REPORT],
}
