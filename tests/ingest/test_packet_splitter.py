"""The connection's own packet splitter (MqttConnection._take_over_reads) against gmqtt's.

The hub cuts the socket's bytes into MQTT packets itself and queues a plain QoS 1 PUBLISH at
once (docs/INGESTION.md). Whatever the mix of packets and however TCP cuts the stream into
chunks, the inbox must receive exactly what gmqtt's own splitter delivers, in the same order.
No broker: the bytes are fed as gmqtt's read loop feeds them (`buf += chunk`, then the
protocol's `_read_packet`, the unparsed rest kept)."""

from __future__ import annotations

import struct
import time
from typing import Any

from gmqtt.mqtt.constants import MQTTv50
from gmqtt.mqtt.protocol import MQTTProtocol
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from hub.clock import SystemClock
from hub.config import MqttConfig
from hub.ingest.batch import Inbox
from hub.ingest.mqtt_connection import MqttConnection
from hub.metrics import IngestMetrics


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, b = divmod(n, 128)
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, qos: int, mid: int, props: bytes = b"", flags: int = 0) -> bytes:
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", mid) if qos else b"") + varint(len(props)) + props + payload
    return bytes([0x30 | qos << 1 | flags]) + varint(len(body)) + body


PINGRESP = b"\xd0\x00"

topics = st.sampled_from(["pingan/v1/dev/cat-0001/event", "pingan/v1/dev/tag-0002/gps", "pingan/v1/dev/门-3/heartbeat"])
payloads = st.one_of(st.binary(max_size=300), st.just(b"x" * 20_000))  # 1-, 2- and 3-byte remaining lengths
packets = st.one_of(
    st.builds(lambda t, p, m, f: publish(t, p, 1, m, flags=f), topics, payloads, st.integers(1, 65535), st.sampled_from([0, 1, 8, 9])),
    st.builds(lambda t, p: publish(t, p, 0, 0), topics, payloads),  # QoS 0: gmqtt's own path
    st.builds(lambda t, p, m: publish(t, p, 1, m, props=b"\x01\x01"), topics, payloads, st.integers(1, 65535)),  # properties: gmqtt's
    st.just(PINGRESP),
)


class _Connection:
    """Stands in for gmqtt's MQTTConnection: `put_package` hands a packet to the handler."""

    def __init__(self, handler: Any, protocol: MQTTProtocol) -> None:
        self._handler, self._protocol, self._last_data_in = handler, protocol, 0.0

    def put_package(self, pkg: Any) -> None:
        if self._handler.current_connection is self:
            self._last_data_in = time.monotonic()
            self._handler(pkg)


def _delivered(stream: bytes, cuts: list[int], take_over: bool) -> list[tuple[str, bytes, int, int, int]]:
    conn = MqttConnection(MqttConfig(), Inbox(10**9), IngestMetrics(CollectorRegistry()), SystemClock())
    handler = conn.client._package_handler
    handler._connection_state.protocol_version = MQTTv50
    protocol = MQTTProtocol.__new__(MQTTProtocol)
    connection = _Connection(handler, protocol)
    protocol._connection = handler._connection = connection
    if take_over:
        conn._take_over_reads(connection)
    buf, pos = b"", 0
    for cut in [*sorted(cuts), len(stream)]:
        buf += stream[pos:cut]
        pos = max(pos, cut)
        buf = buf[protocol._read_packet(buf):]
    assert buf == b""
    out = []
    while not conn.inbox.empty():
        r = conn.inbox.get_nowait()
        out.append((r.topic, r.payload, r.size, r.mid, r.qos))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(packets, min_size=1, max_size=12), st.lists(st.integers(0, 25_000), max_size=20))
def test_the_hubs_splitter_delivers_what_gmqtts_does(chosen: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(chosen)
    cuts = [c for c in cuts if c <= len(stream)]
    stock = _delivered(stream, cuts, take_over=False)
    assert _delivered(stream, cuts, take_over=True) == stock
    assert len(stock) == sum(1 for p in chosen if p != PINGRESP)  # every PUBLISH queued once, whatever the cuts


def test_a_publish_cut_in_its_length_bytes_waits_for_the_rest() -> None:
    big = publish("pingan/v1/dev/cat-0001/event", b"y" * 20_000, 1, 7)  # remaining length in 3 bytes
    [(topic, _payload, size, mid, qos)] = _delivered(big, [1, 2, 3, 4], take_over=True)
    assert (topic, size, mid, qos) == ("pingan/v1/dev/cat-0001/event", 20_000, 7, 1)
