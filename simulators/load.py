"""Load generator for benchmarks: N devices at a set total message rate, QoS 1, bounded.

Devices `load-00001` … publish realistic payloads (about 75 % heartbeats, 15 % events, 10 % GPS
fixes, with per-device seq and battery) spread over `connections` MQTT connections, each with
its own thread running paho's loop by hand (no network thread, a bounded window of unacknowledged messages). It stops by itself after `count`
messages or `duration_s` seconds, whichever comes first, then waits (bounded) for the
outstanding PUBACKs. `run_load` returns the stats; `python -m simulators.load --help` runs it.

    python -m simulators.load --devices 10000 --rate 5000 --count 200000 --url mqtt://127.0.0.1:1883
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import paho.mqtt.client as mqtt

from devices.payloads import Event, Gps, Heartbeat
from devices.topics import DEFAULT_ROOT, Channel, topic_of
from simulators.community import DEFAULT_CENTRE
from simulators.engine import payload_bytes
from simulators.publisher import AckCounter, connect

EVENT_TYPES = ("motion", "motion", "motion", "motion", "door_open", "door_close", "water_flow", "button")
TICK_S = 0.005
ACK_SAMPLE_EVERY = 16


@dataclass
class LoadStats:
    sent: int
    acked: int
    elapsed_s: float  # first publish to last PUBACK
    rate: float  # acknowledged messages per second
    target_rate: float
    devices: int
    connections: int
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    by_channel: dict[str, int] = field(default_factory=dict)


class _Fleet:
    """Payload factory for a slice of the simulated devices."""

    def __init__(self, device_ids: list[str], root: str, seed: int, events: bool = True) -> None:
        self.rng = random.Random(seed)
        self.event_share = 0.15 if events else 0.0  # without events: heartbeats and fixes only (a backlog's bulk)
        self.ids = device_ids
        self.root = root
        self.seq = {d: self.rng.randrange(1, 1000) for d in device_ids}
        self.i = 0

    def next(self) -> tuple[str, bytes, str]:
        """(topic, payload, channel) for the next device in round-robin order."""
        device = self.ids[self.i % len(self.ids)]
        self.i += 1
        seq = self.seq[device] = (self.seq[device] + 1) % 2**32
        ts, r = round(time.time(), 3), self.rng.random()
        if r < 0.90 - self.event_share:
            payload = Heartbeat(ts, seq, 40 + seq % 60, -60 - seq % 30, "1.4.2")
            channel = "heartbeat"
        elif r < 0.90 and self.event_share:
            payload = Event(EVENT_TYPES[seq % len(EVENT_TYPES)], ts, seq)  # type: ignore[assignment]
            channel = "event"
        else:
            lat = round(DEFAULT_CENTRE[0] + self.rng.uniform(-0.01, 0.01), 6)
            lon = round(DEFAULT_CENTRE[1] + self.rng.uniform(-0.01, 0.01), 6)
            payload = Gps(lat, lon, ts, seq, round(self.rng.uniform(4, 40), 1), 0.8, 60)  # type: ignore[assignment]
            channel = "gps"
        return topic_of(device, Channel(channel), self.root), payload_bytes(payload), channel


class _Worker(threading.Thread):
    """One connection publishing its share of the messages at its share of the rate."""

    def __init__(self, url: str, fleet: _Fleet, count: int, rate: float, deadline: float, window: int) -> None:
        super().__init__(daemon=True)
        self.url, self.fleet, self.count, self.rate, self.deadline = url, fleet, count, rate, deadline
        self.window = window
        self.acks = AckCounter()
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.by_channel: dict[str, int] = {}
        self.started = self.finished = 0.0
        self.error: BaseException | None = None

    def on_publish(self, client: object, userdata: object, mid: int, rc: object, props: object) -> None:
        sent = self.sent_at.pop(mid, None)
        if sent is not None:
            self.latencies.append(time.perf_counter() - sent)
        self.acks.on_publish(client, userdata, mid, rc, props)  # type: ignore[arg-type]

    def run(self) -> None:
        try:
            client = connect(self.url, threaded=False)
        except BaseException as exc:
            self.error = exc
            return
        client.on_publish = self.on_publish
        try:
            self._publish_all(client)
            self._drain(client, max(30.0, self.count / 2000))
        finally:
            client.disconnect()

    def _publish_all(self, client: mqtt.Client) -> None:
        """Single-threaded: publish what is due within the window, then service the socket."""
        self.started = time.perf_counter()
        acks = self.acks
        while acks.sent < self.count and time.perf_counter() < self.deadline:
            due = min(self.count, int((time.perf_counter() - self.started) * self.rate) + 1)
            n = min(due - acks.sent, self.window - (acks.sent - acks.acked))
            for _ in range(n):
                self._publish_one(client)
            client.loop(0 if n > 0 else TICK_S)

    def _drain(self, client: mqtt.Client, timeout_s: float) -> None:
        limit = time.perf_counter() + timeout_s
        while self.acks.acked < self.acks.sent and time.perf_counter() < limit:
            client.loop(0.01)
        self.finished = time.perf_counter()

    def _publish_one(self, client: mqtt.Client) -> None:
        topic, payload, channel = self.fleet.next()
        info = client.publish(topic, payload, qos=1)
        if self.acks.sent % ACK_SAMPLE_EVERY == 0:
            self.sent_at[info.mid] = time.perf_counter()
        self.acks.sent += 1
        self.by_channel[channel] = self.by_channel.get(channel, 0) + 1


def run_load(
    url: str = "mqtt://127.0.0.1:1883",
    devices: int = 1000,
    rate: float = 1000.0,
    count: int = 10_000,
    duration_s: float = 600.0,
    connections: int = 1,
    topic_root: str = DEFAULT_ROOT,
    window: int = 2000,
    seed: int = 1,
    events: bool = True,
) -> LoadStats:
    """Publish `count` messages (or fewer if `duration_s` runs out) from `devices` devices at `rate`/s."""
    ids = [f"load-{i + 1:05d}" for i in range(devices)]
    connections = max(1, min(connections, devices))
    deadline = time.perf_counter() + duration_s
    workers = [
        _Worker(url, _Fleet(ids[k::connections], topic_root, seed + k, events), _share(count, connections, k),
                rate / connections, deadline, window)
        for k in range(connections)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    errors = [w.error for w in workers if w.error]
    if errors:
        raise errors[0]
    return _stats(workers, rate, devices)


def _share(count: int, parts: int, k: int) -> int:
    return count // parts + (1 if k < count % parts else 0)


def _stats(workers: list[_Worker], rate: float, devices: int) -> LoadStats:
    sent = sum(w.acks.sent for w in workers)
    acked = sum(w.acks.acked for w in workers)
    elapsed = max(w.finished or time.perf_counter() for w in workers) - min(w.started for w in workers)
    lat = sorted(x * 1000 for w in workers for x in w.latencies)
    by_channel: dict[str, int] = {}
    for w in workers:
        for k, v in w.by_channel.items():
            by_channel[k] = by_channel.get(k, 0) + v
    p50 = statistics.median(lat) if lat else None
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None
    return LoadStats(sent, acked, round(elapsed, 3), round(acked / elapsed, 1) if elapsed > 0 else 0.0, rate,
                     devices, len(workers), p50 and round(p50, 2), p99 and round(p99, 2), by_channel)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.load", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883", help="broker URL")
    parser.add_argument("--devices", type=int, default=1000, help="number of simulated devices")
    parser.add_argument("--rate", type=float, default=1000.0, help="total messages per second")
    parser.add_argument("--count", type=int, default=10_000, help="messages to send in all")
    parser.add_argument("--duration", type=float, default=600.0, help="stop after this many seconds")
    parser.add_argument("--connections", type=int, default=1, help="MQTT connections (one thread each)")
    parser.add_argument("--window", type=int, default=2000, help="QoS 1 messages awaiting PUBACK per connection")
    parser.add_argument("--topic-root", default=DEFAULT_ROOT)
    parser.add_argument("--no-events", action="store_true", help="heartbeats and GPS fixes only (a backlog's bulk)")
    args = parser.parse_args(argv)
    stats = run_load(args.url, args.devices, args.rate, args.count, args.duration, args.connections,
                     args.topic_root, args.window, events=not args.no_events)
    json.dump(asdict(stats), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if stats.acked == stats.sent else 1


if __name__ == "__main__":
    sys.exit(main())
