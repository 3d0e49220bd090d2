"""What the critical lane takes (docs/INGESTION.md, critical first): alarms only, never a cancel,
and only alarms that dedup can recognise when the main session delivers them again."""

from __future__ import annotations

import json

import pytest

from devices import DeviceMessage, interpret
from hub.ingest.batch import may_raise_alarm, raises_alarm

TOPIC = "pingan/v1/dev/cat-0001/event"


def message(body: dict[str, object], topic: str = TOPIC) -> DeviceMessage:
    msg = interpret(topic, json.dumps(body).encode(), 1_764_124_800.0)
    assert isinstance(msg, DeviceMessage), msg
    return msg


@pytest.mark.parametrize("event", ["sos", "fall", "smoke", "gas"])
def test_alarms_are_taken(event: str) -> None:
    body = {"ts": 1_764_124_799.0, "seq": 7, "type": event}
    assert may_raise_alarm(TOPIC, json.dumps(body).encode())
    assert raises_alarm(message(body))


@pytest.mark.parametrize("event", ["sos_cancel", "motion", "door_open", "tamper"])
def test_a_cancel_and_ordinary_events_stay_in_device_order(event: str) -> None:
    body = {"ts": 1_764_124_799.0, "seq": 7, "type": event}
    assert not may_raise_alarm(TOPIC, json.dumps(body).encode())  # '"sos"' is not in '"sos_cancel"'
    assert not raises_alarm(message(body))


def test_an_alarm_without_seq_is_left_to_the_main_session() -> None:
    """Without seq the main session's copy would not be a duplicate: the alarm would be ruled twice."""
    assert not raises_alarm(message({"ts": 1_764_124_799.0, "type": "sos"}))


def test_the_bytes_test_only_looks_at_the_event_channel() -> None:
    assert not may_raise_alarm("pingan/v1/dev/cat-0001/heartbeat", b'{"ts": 1, "seq": 1, "note": "sos"}')
