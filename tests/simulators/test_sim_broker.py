"""Against a real Mosquitto: record ← publish round trips, live simulation, load generator."""

from __future__ import annotations

import threading
from pathlib import Path

from devices import Rejection, interpret
from simulators import publisher, recorder
from simulators.engine import SimConfig, Simulation, write_recording
from simulators.incidents import Incident
from simulators.load import run_load
from simulators.recording import messages_only, read_recording


def _recording_thread(url: str, out: Path, count: int) -> tuple[threading.Thread, threading.Event, list[int]]:
    ready, result = threading.Event(), []
    thread = threading.Thread(
        target=lambda: result.append(recorder.record(url, out, count=count, duration_s=60, ready=ready)), daemon=True
    )
    thread.start()
    assert ready.wait(10), "recorder subscribed"
    return thread, ready, result


def test_replay_to_broker_round_trip_keeps_every_message(broker, tmp_path: Path) -> None:
    source = tmp_path / "source.jsonl"
    write_recording(Simulation(SimConfig(residents=4, days=0.5, seed=8, incidents=[Incident('sos', 'r-0001', 3600.0)])), source)
    sent = list(messages_only(read_recording(source)))
    truths = [e for e in read_recording(source) if isinstance(e, dict)]
    copy = tmp_path / "copy.jsonl"
    thread, _, result = _recording_thread(broker.url, copy, len(sent))

    acked = publisher.replay_to_broker(source, broker.url, speed=0)
    thread.join(30)

    assert acked == len(sent)
    assert result == [len(sent)]
    got = list(read_recording(copy))
    assert all(isinstance(e, tuple) for e in got)  # truth lines are not published
    assert sorted((topic, raw) for _, topic, raw in got) == sorted((topic, raw) for _, topic, raw in sent)
    assert truths, "the source had ground truth to skip"


def test_record_keeps_non_utf8_payloads(broker, tmp_path: Path) -> None:
    out = tmp_path / "raw.jsonl"
    thread, _, result = _recording_thread(broker.url, out, 2)
    client = publisher.connect(broker.url)
    client.publish("pingan/v1/dev/cat-0001/event", b'{"type": "\xff\xfe"}', qos=1).wait_for_publish(5)
    client.publish("pingan/v1/dev/cat-0001/event", '{"type":"motion","note":"平安"}'.encode(), qos=1).wait_for_publish(5)
    publisher.disconnect(client)
    thread.join(30)
    assert result == [2]
    assert b"payload_b64" in out.read_bytes()
    assert [raw for _, _, raw in read_recording(out)] == [b'{"type": "\xff\xfe"}', '{"type":"motion","note":"平安"}'.encode()]


def test_live_simulation_reaches_the_broker_with_wall_clock_ts(broker, tmp_path: Path) -> None:
    sim = Simulation(SimConfig(residents=3, days=0.01, seed=3, random_incidents=False))  # 14.4 min → ~3 s
    expected = sum(1 for item in sim if not hasattr(item, "truth"))
    out = tmp_path / "live.jsonl"
    thread, _, result = _recording_thread(broker.url, out, expected)

    acked = publisher.publish_simulation(Simulation(sim.config), broker.url, speed=300)
    thread.join(30)

    assert acked == expected and result == [expected]
    for t, topic, raw in read_recording(out):
        message = interpret(topic, raw, t)
        assert not isinstance(message, Rejection)
        assert not message.skewed and not message.late and abs(message.at - t) < 5, (topic, raw)


def test_load_generator_sends_exactly_the_requested_count(broker, tmp_path: Path) -> None:
    out = tmp_path / "load.jsonl"
    count = 3000
    thread, _, result = _recording_thread(broker.url, out, count)
    stats = run_load(broker.url, devices=200, rate=20000, count=count, duration_s=60, connections=2)
    thread.join(30)
    assert stats.sent == count and stats.acked == count
    assert sum(stats.by_channel.values()) == count
    assert result == [count]
    assert all(not isinstance(interpret(topic, raw, t), Rejection) for t, topic, raw in read_recording(out))
