"""The hub's network thread per message, without a broker: raw MQTT bytes to the writer's inbox.

    .venv/bin/python benchmarks/network_thread.py [--count 50000]

50,000 load-generator messages (simulators/load.py, 10,000 devices) as QoS 1 PUBLISH packets
(MQTT 5, no properties, as Mosquitto delivers them) in one byte stream, fed in 64 KB chunks the
way gmqtt's read loop feeds them (`buf += chunk`, then the protocol's `_read_packet`) to an
`MqttConnection`'s gmqtt client, connection and protocol objects (no socket; a stand-in for
gmqtt's `MQTTConnection` with its `put_package`). Process CPU, best of 7 rounds. What the
socket read, asyncio and the PUBACKs cost is not in it. Last line:

    network_thread: us_per_msg=N
"""

from __future__ import annotations

import argparse
import gc
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gmqtt.mqtt.constants import MQTTv50
from gmqtt.mqtt.protocol import MQTTProtocol
from prometheus_client import CollectorRegistry

from hub.clock import SystemClock
from hub.config import MqttConfig
from hub.ingest.batch import Inbox
from hub.ingest.mqtt_connection import MqttConnection
from hub.metrics import IngestMetrics
from simulators.load import _Fleet

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--count", type=int, default=50_000)
N = parser.parse_args().count
fleet = _Fleet([f"load-{i + 1:05d}" for i in range(10_000)], "pingan/v1", seed=1)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(topic: str, payload: bytes, mid: int) -> bytes:
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + struct.pack("!H", mid) + b"\x00" + payload
    return bytes([0x32]) + varint(len(body)) + body


stream = b"".join(packet(t, p, (i % 65535) + 1) for i, (t, p, _c) in enumerate(fleet.next() for _ in range(N)))
conn = MqttConnection(MqttConfig(), Inbox(10**9), IngestMetrics(CollectorRegistry()), SystemClock())
h = conn.client._package_handler
h._connection_state.protocol_version = MQTTv50
proto = MQTTProtocol.__new__(MQTTProtocol)


class FakeConn:
    _protocol = proto

    def __init__(self) -> None:
        self._handler = h
        self._last_data_in = 0.0

    def put_package(self, pkg: object) -> None:  # as gmqtt.mqtt.connection.MQTTConnection.put_package
        if self._handler.current_connection is not self:
            return
        self._last_data_in = time.monotonic()
        self._handler(pkg)


fc = FakeConn()
proto._connection = fc
h._connection = fc
if hasattr(conn, "_take_over_reads"):  # since session 14; before, gmqtt's splitter
    conn._take_over_reads(fc)


def run() -> None:
    buf = b""
    pos = 0
    read = proto._read_packet
    while pos < len(stream):  # as gmqtt's _read_loop: 64 KB reads, the rest kept
        buf += stream[pos:pos + 65536]
        pos += 65536
        buf = buf[read(buf):]


best = float("inf")
for _ in range(7):
    conn.inbox = Inbox(10**9)
    gc.collect()
    t = time.process_time()
    run()
    best = min(best, time.process_time() - t)
    assert conn.inbox.qsize() == N, conn.inbox.qsize()
print(f"network_thread: us_per_msg={best * 1e6 / N:.2f}")
