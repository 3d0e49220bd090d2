"""The hub's MQTT connection, on gmqtt (asyncio): receives device messages into `inbox`,
acknowledges them only after their commit, publishes commands.

Why gmqtt and not paho: it parses packets and writes acknowledgements with less Python per
message (a bare gmqtt subscriber drains a backlog ~4x faster than a bare paho one on the
benchmark machine, docs/BENCHMARKS.md), and the hub's network thread shares the GIL with the
writer, so every microsecond saved there is writer time. The hub has this one client; tools,
simulators and tests speak MQTT through paho.

Ack after commit, never before. gmqtt's own QoS 1 path either acknowledges before the handler
runs (`optimistic_acknowledgement=True`, its default) or after a coroutine handler returns,
with one asyncio task per message and the PUBACK written on whatever connection is current
by then. Neither fits, so the connection takes over gmqtt's QoS 1 step (the handler's
`_handle_qos_1_publish_packet`, which receives the packet id): it only queues a `Received`
and sends nothing. The batch writer calls `ack_all(batch)` after its commit; that hands the
packet ids to the event loop in one call, and the loop writes one buffer of 4-byte PUBACKs
(MQTT 5 allows omitting the reason code when it is Success), but only for messages delivered
on the connection that is still current (`generation`: after a reconnect the broker
redelivers every unacknowledged message under the same packet id).

The bulk of the traffic takes a shorter way in (session 14, docs/BENCHMARKS.md): the
connection also takes over gmqtt's packet splitter (`MQTTProtocol._read_packet`, per
connection) and its dispatch (`_package_handler._handle_packet`), and a plain QoS 1 PUBLISH
(no MQTT 5 properties) is cut into topic, packet id and payload and queued there, ~2.7 µs of
the network thread a message against ~8.5 through gmqtt's `Package`, `put_package`, dispatch
and PUBLISH parse; everything else still goes through gmqtt.

Relies on gmqtt 0.8 internals (`_package_handler._handle_qos_1_publish_packet`, `_handle_packet`,
`current_connection`, `_connection.send_package`, `put_package`, `_last_data_in`, `_protocol._read_packet`,
`Package`, `_connection_state`), pinned by requirements/*.lock; the reliability tests in
tests/ingest fail first if an upgrade changes them.

Threads: the asyncio loop runs in its own thread ("mqtt"). The handler runs in the loop and
blocks on the bounded queue when it is full: the loop then stops reading the socket and TCP
flow control holds the broker (backpressure).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

import gmqtt
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv50, MQTTv311
from gmqtt.mqtt.package import Package

from devices import subscription_filters
from devices.messages import MAX_QUARANTINED_BYTES
from hub.clock import Clock
from hub.config import MqttConfig
from hub.ingest.batch import InboxLike, Received
from hub.metrics import IngestMetrics

log = logging.getLogger("pingan.mqtt")

RECONNECT_MIN_S = 0.5
# A few seconds, not tens: after an outage the hubs are back within the cap of the broker's
# return, which also bounds the window in which Mosquitto drops `$share` messages after a
# restart (docs/SCALE_OUT.md). Retrying every few seconds costs the broker nothing.
RECONNECT_MAX_S = 4.0
PUBACK = struct.Struct("!BBH")  # fixed header 0x40, remaining length 2, packet id
STOP_TIMEOUT_S = 10.0


def reconnect_delay_s(failures: int) -> float:
    """Doubling per failure up to the cap, times a random 0.5–1: many hubs that lost the same
    broker do not all come back in the same instant."""
    return float(min(RECONNECT_MAX_S, RECONNECT_MIN_S * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0))


class Lane:
    """A second session of the hub on some channels only (the critical lane: `hub.ingest.service`).

    `takes(topic, payload)` picks what this lane queues; everything else it is delivered is
    acknowledged at once without parsing, because the main session receives it too."""

    def __init__(self, suffix: str, channels: Sequence[str], takes: Callable[[str, bytes], bool]) -> None:
        self.suffix, self.channels, self.takes = suffix, tuple(channels), takes


class _BackoffClient(gmqtt.Client):  # type: ignore[misc]
    """gmqtt retries a lost connection after a fixed delay; this doubles it per failure, with jitter."""

    async def reconnect(self, delay: bool = False) -> None:
        self.reconnect_delay = reconnect_delay_s(self._connection_state.failed_connections)
        await super().reconnect(delay=delay)


class MqttConnection:
    """Receives device messages into `inbox`, acknowledges them on request, publishes commands."""

    def __init__(
        self,
        settings: MqttConfig,
        inbox: InboxLike,
        metrics: IngestMetrics,
        clock: Clock,
        *,
        receive_maximum: int = 65535,
        lane: Lane | None = None,
    ) -> None:
        if settings.url is None:
            raise ValueError("mqtt.url is null: `pingan serve` needs a broker (the demo starts its own)")
        self.settings = settings
        self.inbox = inbox
        self.metrics = metrics
        self.clock = clock
        self.lane = lane
        # Read on every message in the network thread: a plain int, not the pydantic model's field
        # (~370 instructions a read through its class's `__getattr__` hook; alerts/config.py).
        self._max_payload_bytes = settings.max_payload_bytes
        self.client_id = settings.client_id if lane is None else f"{settings.client_id}-{lane.suffix}"
        self.filters = subscription_filters(settings.topic_root, settings.shared_group)
        if lane is not None:
            self.filters = [f for f in self.filters if f.endswith(tuple("/" + c for c in lane.channels))]
        self._v5 = settings.protocol == "5"
        self._generation = 0  # counts connections: a message is acknowledged on the one that brought it
        self._connected = False
        self._accepting = True
        url = urlsplit(str(settings.url))
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        self._tls = self._tls_context(url.scheme == "mqtts")
        self._receive_maximum = max(1, min(65535, receive_maximum))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mqtt", daemon=True)
        self._connecting: Future[None] | None = None
        self._unsent: list[tuple[str, bytes | str, int]] = []  # published before the first connect (loop thread)
        self.client = self._make_client()

    # --- lifecycle ------------------------------------------------------------------------

    def _make_client(self) -> gmqtt.Client:
        s = self.settings
        properties: dict[str, Any] = {}
        if self._v5:
            properties = {"session_expiry_interval": int(s.session_expiry.total_seconds()),
                          "receive_maximum": self._receive_maximum}
        # clean_session=False is MQTT 5's clean_start=False: resume the session the broker kept.
        client = _BackoffClient(self.client_id, clean_session=False, optimistic_acknowledgement=False, **properties)
        if s.username:
            # A lane logs in as a user of its own: a broker that names sessions after their user
            # (deploy/mosquitto.conf) would otherwise give both sessions one id, each cutting the other off.
            username = s.username if self.lane is None else f"{s.username}-{self.lane.suffix}"
            client.set_auth_credentials(username, s.password.get_secret_value() if s.password else None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_qos0_message
        # Take over gmqtt's QoS 1 step: queue the message, acknowledge it only after the commit.
        handler = client._package_handler
        handler._handle_qos_1_publish_packet = self._on_qos1_message
        # And its dispatch of a packet: a plain QoS 1 PUBLISH takes the short path (_handle_packet).
        self._gmqtt_state = handler._connection_state
        self._gmqtt_handle_packet = handler._handle_packet
        handler._handle_packet = self._handle_packet
        return client

    def _tls_context(self, mqtts: bool) -> ssl.SSLContext | bool:
        tls = self.settings.tls
        if not (mqtts or tls.ca_file):
            return False
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        return context

    def start(self) -> None:
        """Connect in the background; retried with backoff until the broker answers, then gmqtt reconnects."""
        self._thread.start()
        self._connecting = asyncio.run_coroutine_threadsafe(self._connect_until_up(), self._loop)
        log.info("mqtt connecting host=%s port=%d client_id=%s filters=%s", self._host, self._port,
                 self.client_id, ",".join(self.filters))

    async def _connect_until_up(self) -> None:
        # gmqtt retries only after a first successful connect; until then the retries are ours.
        self.client.set_config({"reconnect_retries": 0})
        failures = 0
        version = MQTTv50 if self._v5 else MQTTv311
        while self._accepting:
            try:
                await self.client.connect(self._host, self._port, ssl=self._tls, keepalive=self.settings.keepalive_s,
                                          version=version)
                self.client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS})
                return
            except Exception as exc:
                delay = reconnect_delay_s(failures)
                failures += 1
                log.warning("mqtt connect failed error=%s; retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)

    def pause(self) -> None:
        """Stop taking new messages (shutdown): they stay unacknowledged and the broker keeps them."""
        self._accepting = False

    def stop(self) -> None:
        """Disconnect without clearing the session (expiry as sent on connect), after queued acks."""
        self._accepting = False
        if self._thread.is_alive():
            # Acks handed to the loop before this call are written before the DISCONNECT (FIFO).
            done = asyncio.run_coroutine_threadsafe(self._disconnect(), self._loop)
            try:
                done.result(STOP_TIMEOUT_S)
            except Exception as exc:
                log.warning("mqtt disconnect failed error=%s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_S)
        self._set_connected(False)

    async def _disconnect(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self.client._connection is not None:
            await self.client.disconnect()

    @property
    def connected(self) -> bool:
        return self._connected

    # --- acks and publishing (any thread) -------------------------------------------------

    def ack(self, received: Received) -> None:
        self.ack_all([received])

    def ack_all(self, batch: Sequence[Received]) -> None:
        """Acknowledge committed messages: one hand-over to the loop for the whole batch."""
        ids = [(r.generation, r.mid) for r in batch if r.qos > 0]
        if ids and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._send_acks, ids)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish on the hub's connection (commands to devices); gmqtt resends QoS 1 after a reconnect."""
        self._loop.call_soon_threadsafe(self._publish, topic, payload, qos)

    # --- event loop -----------------------------------------------------------------------

    def _send_acks(self, ids: list[tuple[int, int]]) -> None:
        if not self._connected:
            return  # the broker redelivers them on the resumed session; those copies get acked
        current = self._generation
        data = b"".join(PUBACK.pack(0x40, 2, mid) for generation, mid in ids if generation == current)
        if data:
            self.client._connection.send_package(data)

    def _publish(self, topic: str, payload: bytes | str, qos: int) -> None:
        if self.client._connection is None:
            # Never connected yet: gmqtt has nowhere to put it. Sent on the first connect. (After a
            # drop gmqtt keeps QoS 1 messages itself and resends them on the resumed session.)
            self._unsent.append((topic, payload, qos))
            return
        try:
            self.client.publish(topic, payload, qos=qos)
        except Exception as exc:
            log.error("publish failed topic=%s error=%s", topic, exc)

    def _on_connect(self, client: gmqtt.Client, flags: int, rc: int, _props: Any) -> None:
        self._set_connected(True)
        self._take_over_reads(client._connection)  # the chunks read from now on
        if self.lane is None:  # the series are the main session's
            self.metrics.reconnects.inc()
        # Subscribing again is harmless with a resumed session; retain handling 1 sends retained
        # status messages only for a subscription that did not exist yet.
        # (MQTT 3.1.1 has no retain handling: its bits are reserved, and Mosquitto drops the connection.)
        retain_handling = 1 if self._v5 else 0
        client.subscribe([gmqtt.Subscription(f, qos=1, retain_handling_options=retain_handling) for f in self.filters])
        log.info("mqtt connected session_present=%s generation=%d", bool(flags), self._generation)
        unsent, self._unsent = self._unsent, []
        for topic, payload, qos in unsent:
            self._publish(topic, payload, qos)

    def _on_disconnect(self, _client: gmqtt.Client, _packet: Any, exc: Any = None) -> None:
        self._set_connected(False)
        if self._accepting:
            log.warning("mqtt disconnected error=%s; reconnecting with backoff", exc)

    def _set_connected(self, value: bool) -> None:
        self._generation += 1
        self._connected = value
        if self.lane is None:
            self.metrics.broker_connected.set(1 if value else 0)

    def _publish_fast(self, cmd: int, packet: bytes) -> bool:
        """The short path for the bulk of the hub's traffic: a QoS 1 PUBLISH without MQTT 5
        properties, whose topic is valid UTF-8, is cut into topic, packet id and payload here and
        queued; True when it was. gmqtt's own path for it costs ~5 µs a message in Python (a
        debug log call that formats the command, three `struct.unpack`s with formats built per
        call, a properties dict; docs/BENCHMARKS.md, session 14) and ends in `_on_qos1_message`
        with the same three values. False for everything else — other packets, QoS 0, a PUBLISH
        with properties (a topic alias among them), an empty or undecodable topic, a malformed
        packet: gmqtt handles those unchanged."""
        if cmd & 0xF6 != 0x32:  # PUBLISH, QoS 1, whatever the DUP and RETAIN flags
            return False
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            mid = (packet[end] << 8) | packet[end + 1]
            start = end + 2
            if self._gmqtt_state.protocol_version >= MQTTv50:
                if packet[start]:  # a properties block: gmqtt parses it
                    return False
                start += 1
            topic = packet[2:end].decode()
        except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
            return False
        if not topic:
            return False
        if self.lane is None:
            self._enqueue(topic, packet[start:], mid, 1)
        else:
            self._on_qos1_message(mid, packet[start:], topic, None)
        return True

    def _handle_packet(self, cmd: int, packet: bytes) -> None:
        """gmqtt's dispatch of one incoming packet, the short path first. (gmqtt's dispatch also
        notes the time in `_last_msg_in`, which nothing in gmqtt 0.8 reads.)"""
        if not self._publish_fast(cmd, packet):
            self._gmqtt_handle_packet(cmd, packet)

    def _take_over_reads(self, connection: Any) -> None:
        """Replace the packet splitter of this connection's protocol (gmqtt's `_read_packet`, run
        on every chunk read from the socket) by the same loop that hands a plain QoS 1 PUBLISH
        to `_publish_fast` at once, without gmqtt's `Package`, `put_package` and dispatch call
        per message; every other packet goes the stock way. The time of the last data in (the
        keepalive's) is noted once per chunk instead of once per packet, and a chunk of a
        connection that is no longer current goes to the stock splitter, which drops it."""
        protocol, handler, publish_fast = connection._protocol, self.client._package_handler, self._publish_fast
        stock = protocol._read_packet

        def read_packets(data: bytes) -> int:  # gmqtt 0.8 `MQTTProtocol._read_packet`, with the short path
            if handler.current_connection is not connection:
                return int(stock(data))
            connection._last_data_in = time.monotonic()
            parsed_size, raw_size = 0, len(data)
            data_size = raw_size
            while data_size >= 2:
                header_size, mult, payload_size = 1, 1, 0
                while True:
                    if parsed_size + header_size >= raw_size:
                        return parsed_size  # not a full header
                    payload_byte = data[parsed_size + header_size]
                    payload_size += (payload_byte & 0x7F) * mult
                    if mult > 2097152:  # 128 * 128 * 128
                        return -1
                    mult *= 128
                    header_size += 1
                    if header_size + payload_size > data_size or payload_byte & 128 == 0:
                        break
                if header_size + payload_size > data_size:
                    break  # not enough data
                command = data[parsed_size]
                start = parsed_size + header_size
                end = start + payload_size
                packet = data[start:end]
                data_size -= header_size + payload_size
                parsed_size = end
                try:
                    if publish_fast(command, packet):
                        continue
                except Exception:  # as gmqtt's handler does with an error in a packet's handling
                    log.exception("mqtt packet handling failed")
                    continue
                connection.put_package(Package(command, packet))
            return parsed_size

        protocol._read_packet = read_packets

    def _on_qos1_message(self, mid: int, payload: bytes, topic: str | bytes, _props: Any) -> None:
        if self.lane is not None and not self.lane.takes(topic if isinstance(topic, str) else topic.decode("utf-8", "replace"), payload):
            # Not for this lane: the main session has its own copy. Acked at once, never parsed.
            self.client._connection.send_package(PUBACK.pack(0x40, 2, mid))
            return
        self._enqueue(topic, payload, mid, 1)

    def _on_qos0_message(self, _client: gmqtt.Client, topic: str | bytes, payload: bytes, qos: int, _props: Any) -> None:
        self._enqueue(topic, payload, 0, qos)  # QoS 2 never arrives: the subscriptions are QoS 1

    def _enqueue(self, topic: str | bytes, payload: bytes, mid: int, qos: int) -> None:
        size = len(payload)
        if size > self._max_payload_bytes:
            payload = payload[:MAX_QUARANTINED_BYTES]  # never parsed; keep only what quarantine stores
        item = Received(topic if isinstance(topic, str) else topic.decode("utf-8", "replace"), bytes(payload), size,
                        mid, qos, self.clock.now(), self._generation)
        while self._accepting:
            try:
                self.inbox.put(item, timeout=0.5)
                return
            except queue.Full:
                continue  # backpressure: the loop stops reading the socket while the writer catches up
