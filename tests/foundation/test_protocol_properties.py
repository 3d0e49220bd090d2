"""Protocol v1 under golden and random input: decode and interpret never raise, reasons are a fixed set."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import Channel, DeviceMessage, DeviceTopic, ProtocolError, Rejection, TopicError, decode, interpret
from devices.examples import INVALID, VALID, Example
from devices.messages import MAX_QUARANTINED_BYTES
from devices.payloads import MODELS, classify_invalid, encode

ROOT = "pingan/v1"
NOW = 1_764_124_900.0
PAYLOAD_REASONS = {"bad_json", "not_utf8", "not_object", "missing_field", "out_of_range", "wrong_type", "too_large", "nul_char"}
TOPIC_REASONS = {"bad_topic", "unknown_channel", "bad_device_id", "wrong_direction"}
ALL_REASONS = PAYLOAD_REASONS | TOPIC_REASONS | {"device_id_mismatch"}
UPLINK = [c for c in Channel if c is not Channel.CMD]


def topic(channel: Channel, device: str = "cat-0001") -> str:
    return f"{ROOT}/dev/{device}/{channel.value}"


# --- golden examples ------------------------------------------------------------------------


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_every_valid_example_is_accepted(example: Example) -> None:
    payload = decode(example.channel, example.raw)
    assert isinstance(payload, MODELS[example.channel])
    device = "door-0001" if b"door-0001" in example.raw else "cat-0001"
    message = interpret(topic(example.channel, device), example.raw, NOW, ROOT)
    assert isinstance(message, DeviceMessage), message
    assert message.device_id == device and message.raw == example.raw


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.name)
def test_every_invalid_example_is_rejected_with_its_reason(example: Example) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(example.channel, example.raw)
    assert info.value.reason == example.reason
    rejection = interpret(topic(example.channel), example.raw, NOW, ROOT)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.device_id, rejection.topic) == (example.reason, "cat-0001", topic(example.channel))
    assert rejection.raw == example.raw[:MAX_QUARANTINED_BYTES]
    assert rejection.message


@pytest.mark.parametrize("example", [e for e in INVALID if e.reason not in ("too_large", "nul_char")], ids=lambda e: e.name)
def test_the_reason_is_decided_from_the_input_not_the_decoders_wording(example: Example) -> None:
    # classify_invalid never sees the decoder's error, so a msgspec release that rewords it
    # (0.23 calls invalid UTF-8 a JSON error) cannot move a message to another reason
    assert classify_invalid(MODELS[example.channel], example.raw) == example.reason


def test_golden_reasons_cover_the_fixed_set() -> None:
    assert {e.reason for e in INVALID} == PAYLOAD_REASONS


# --- random input ---------------------------------------------------------------------------

# Only what JSON can express: json.dumps writes infinities as `Infinity` and lone surrogates as
# `\ud800`, neither of which is JSON (they are `bad_json`, tested with random bytes above).
json_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=10), children, max_size=4),
    max_leaves=12,
)


def outcome(channel: Channel, raw: bytes) -> str:
    """'ok' or the reason; any other exception fails the test."""
    try:
        payload = decode(channel, raw)
    except ProtocolError as exc:
        assert exc.reason in PAYLOAD_REASONS, exc.reason
        assert exc.message
        return exc.reason
    assert isinstance(payload, MODELS[channel])
    assert decode(channel, encode(payload)) == payload, "an accepted payload survives a round trip"
    return "ok"


@settings(max_examples=300)
@given(st.sampled_from(list(Channel)), st.binary(max_size=300))
def test_random_bytes_never_raise(channel: Channel, raw: bytes) -> None:
    outcome(channel, raw)


@settings(max_examples=300)
@given(st.sampled_from(list(Channel)), json_values)
def test_random_json_values_never_raise(channel: Channel, value: Any) -> None:
    result = outcome(channel, json.dumps(value).encode())
    if not isinstance(value, dict):
        assert result == "not_object"


def known_field_dicts(channel: Channel) -> st.SearchStrategy[dict[str, Any]]:
    fields = MODELS[channel].__struct_fields__
    return st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), json_values, max_size=len(fields) + 2)


@settings(max_examples=500)
@given(st.sampled_from(list(Channel)).flatmap(lambda c: st.tuples(st.just(c), known_field_dicts(c))))
def test_random_types_for_known_fields_never_raise(case: tuple[Channel, dict[str, Any]]) -> None:
    channel, value = case
    outcome(channel, json.dumps(value).encode())


@settings(max_examples=300)
@given(st.text(max_size=80), st.binary(max_size=200), st.floats(0, 4e9))
def test_interpret_never_raises_on_any_topic(any_topic: str, raw: bytes, received_at: float) -> None:
    result = interpret(any_topic, raw, received_at, ROOT, max_payload_bytes=16384)
    if isinstance(result, Rejection):
        assert result.reason in ALL_REASONS
        assert len(result.raw) <= MAX_QUARANTINED_BYTES
    else:
        assert result.channel is not Channel.CMD


@settings(max_examples=300)
@given(st.sampled_from(UPLINK), known_field_dicts(Channel.GPS), st.floats(0, 4e9))
def test_interpret_on_valid_topics_gives_message_or_known_reason(channel: Channel, value: dict[str, Any], now: float) -> None:
    result = interpret(topic(channel), json.dumps(value).encode(), now, ROOT)
    if isinstance(result, Rejection):
        assert result.reason in PAYLOAD_REASONS | {"device_id_mismatch"}
    else:
        assert result.at <= now + 300 and not (result.late and result.skewed)


# --- topics ---------------------------------------------------------------------------------

device_ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{2,63}\Z")


@given(device_ids, st.sampled_from(list(Channel)))
def test_built_topics_parse_back(device: str, channel: Channel) -> None:
    built = DeviceTopic(device, channel)
    assert DeviceTopic.parse(str(built)) == built


@pytest.mark.parametrize(
    ("bad_topic", "reason"),
    [
        ("pingan/v1/dev/CAT-0001/event", "bad_device_id"),
        ("pingan/v1/dev/ab/event", "bad_device_id"),
        ("pingan/v1/dev/cat 0001/event", "bad_device_id"),
        ("pingan/v1/dev/-cat/event", "bad_device_id"),
        ("pingan/v1/dev/" + "a" * 65 + "/event", "bad_device_id"),
        ("pingan/v2/dev/cat-0001/event", "bad_topic"),
        ("other/v1/dev/cat-0001/event", "bad_topic"),
        ("pingan/v1/dev/cat-0001/event/extra", "bad_topic"),
        ("pingan/v1/dev/cat-0001", "bad_topic"),
        ("pingan/v1/dev/cat-0001/telemetry", "unknown_channel"),
        ("pingan/v1/dev/cat-0001/cmd", "wrong_direction"),
    ],
)
def test_bad_topics_are_rejected_with_reason(bad_topic: str, reason: str) -> None:
    result = interpret(bad_topic, b'{"type": "motion"}', NOW, ROOT)
    assert isinstance(result, Rejection) and result.reason == reason
    if reason in ("bad_device_id", "bad_topic", "unknown_channel"):
        with pytest.raises(TopicError):
            DeviceTopic.parse(bad_topic, ROOT)


def test_payload_device_id_must_match_topic() -> None:
    result = interpret(topic(Channel.EVENT, "cat-0002"), b'{"type": "motion", "device_id": "cat-0001"}', NOW, ROOT)
    assert isinstance(result, Rejection) and result.reason == "device_id_mismatch" and result.device_id == "cat-0002"


def test_configured_root_and_size_limit() -> None:
    ok = interpret("acme/x/dev/cat-0001/heartbeat", b"{}", NOW, "acme/x")
    assert isinstance(ok, DeviceMessage)
    big = interpret(topic(Channel.EVENT), b'{"type": "motion", "pad": "' + b"x" * 400 + b'"}', NOW, ROOT, max_payload_bytes=256)
    assert isinstance(big, Rejection) and big.reason == "too_large"
