"""Golden example payloads of protocol v1, valid and invalid, used by every test suite.

Each invalid example names the reason the hub must quarantine it with.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.topics import Channel


@dataclass(frozen=True)
class Example:
    name: str
    channel: Channel
    raw: bytes
    reason: str | None = None  # None: valid


VALID = [
    Example("heartbeat", Channel.HEARTBEAT, b'{"ts": 1764124800, "seq": 1234, "battery": 87, "rssi": -71, "fw": "1.4.2"}'),
    Example("heartbeat_minimal", Channel.HEARTBEAT, b"{}"),
    Example("heartbeat_float_ts", Channel.HEARTBEAT, b'{"ts": 1764124800.25, "seq": 4294967295}'),
    Example("motion", Channel.EVENT, b'{"ts": 1764124800, "seq": 1235, "type": "motion"}'),
    Example("sos", Channel.EVENT, b'{"ts": 1764124801, "seq": 1236, "type": "sos"}'),
    Example("unknown_event_type", Channel.EVENT, b'{"ts": 1764124801, "seq": 7, "type": "cat_on_keyboard"}'),
    Example("event_with_device_id", Channel.EVENT, b'{"type": "door_open", "device_id": "door-0001"}'),
    Example("gps", Channel.GPS, b'{"ts": 1764124800, "seq": 9, "lat": 45.7512, "lon": 126.6421, "acc": 12.5, "speed": 0.8, "battery": 64}'),
    Example("gps_extra_field", Channel.GPS, b'{"lat": -33.9, "lon": 18.4, "sats": 7}'),
    Example("status_online", Channel.STATUS, b'{"state": "online"}'),
    Example("status_offline", Channel.STATUS, b'{"state": "offline"}'),
    Example("chinese_fw", Channel.HEARTBEAT, '{"fw": "平安-1.0"}'.encode()),
]

INVALID = [
    Example("not_json", Channel.HEARTBEAT, b"hello", "bad_json"),
    Example("truncated", Channel.EVENT, b'{"type": "motion"', "bad_json"),
    Example("not_utf8", Channel.EVENT, b'{"type": "\xff\xfe"}', "not_utf8"),
    Example("array", Channel.GPS, b"[45.75, 126.64]", "not_object"),
    Example("number", Channel.STATUS, b"42", "not_object"),
    Example("event_without_type", Channel.EVENT, b'{"ts": 1764124800, "seq": 1}', "missing_field"),
    Example("gps_without_lat", Channel.GPS, b'{"lon": 126.6}', "missing_field"),
    Example("lat_out_of_range", Channel.GPS, b'{"lat": 91.0, "lon": 126.6}', "out_of_range"),
    Example("lon_out_of_range", Channel.GPS, b'{"lat": 45.0, "lon": -180.5}', "out_of_range"),
    Example("battery_over_100", Channel.HEARTBEAT, b'{"battery": 101}', "out_of_range"),
    Example("battery_negative", Channel.GPS, b'{"lat": 45, "lon": 126, "battery": -1}', "out_of_range"),
    Example("negative_seq", Channel.EVENT, b'{"type": "motion", "seq": -1}', "out_of_range"),
    Example("seq_over_uint32", Channel.EVENT, b'{"type": "motion", "seq": 4294967296}', "out_of_range"),
    Example("negative_accuracy", Channel.GPS, b'{"lat": 45, "lon": 126, "acc": -3}', "out_of_range"),
    Example("status_unknown_state", Channel.STATUS, b'{"state": "sleeping"}', "out_of_range"),
    Example("ts_as_string", Channel.HEARTBEAT, b'{"ts": "2025-11-26T00:00:00Z"}', "wrong_type"),
    Example("battery_as_string", Channel.HEARTBEAT, b'{"battery": "87"}', "wrong_type"),
    Example("type_as_number", Channel.EVENT, b'{"type": 3}', "wrong_type"),
    Example("bool_as_seq", Channel.EVENT, b'{"type": "motion", "seq": true}', "wrong_type"),
    Example("empty_type", Channel.EVENT, b'{"type": ""}', "out_of_range"),
    Example("bad_device_id_field", Channel.EVENT, b'{"type": "motion", "device_id": "NOT VALID"}', "out_of_range"),
    Example("nul_in_type", Channel.EVENT, b'{"type": "mo\\u0000tion"}', "nul_char"),
    Example("nul_in_fw", Channel.HEARTBEAT, b'{"fw": "1.0\\u0000"}', "nul_char"),
    Example("oversized", Channel.EVENT, b'{"type": "motion", "pad": "' + b"x" * 17000 + b'"}', "too_large"),
]
