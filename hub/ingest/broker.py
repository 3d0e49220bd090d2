"""The hub's one MQTT connection: persistent session, QoS 1 subscriptions, manual acks, publishing.

paho-mqtt 2.x with `manual_ack=True`. Two library defaults lose messages on a restart and
are overridden here: MQTT 5 `clean_start` defaults to "clean on first connect" (we pass
False) and the session expiry defaults to 0, i.e. the session dies with the connection (we
send `mqtt.session_expiry`). The client id is fixed, so the broker keeps queueing for the
hub while it is down.

Threads: paho's network loop runs `on_message`, which only stamps the receive time and puts
a `Received` in the bounded queue (blocking when full: backpressure reaches the broker
through TCP). The batch writer calls `ack()` from its own thread after commit; paho's
`ack()` only appends a PUBACK to its out-queue and wakes the network loop, which writes it,
so it is safe from any thread. An ack is sent only on the connection that delivered the
message (`generation`): after a reconnect the broker redelivers every unacknowledged
message under the same packet id, and acking a stale id twice could acknowledge a newer
message that reused it before it was committed.
"""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.messages import MAX_QUARANTINED_BYTES
from hub.config import MqttConfig
from hub.ingest.batch import Clock, Received
from hub.ingest.connection import ConnectionBase
from hub.metrics import IngestMetrics

log = logging.getLogger("pingan.mqtt")

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 4  # a few seconds: back soon after an outage (as hub/ingest/gmqtt_broker.py)
DISCONNECT_TIMEOUT_S = 5.0


class BufferedReadClient(mqtt.Client):
    """paho reads each packet with several tiny recv() calls and handles one packet per select()
    (with manual acks it tracks no incoming QoS 1 messages, so its read budget stays at 1); at
    thousands of messages a second those syscalls are the consumer's bottleneck. This reads
    64 KiB at a time and handles every packet already buffered before returning to select()."""

    READ_CHUNK = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(self.READ_CHUNK)
            if not data:
                return data  # connection closed: paho handles it
            self._rbuf, self._rpos = data, 0
        chunk = self._rbuf[self._rpos : self._rpos + bufsize]
        self._rpos += len(chunk)
        return chunk

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == mqtt.MQTT_ERR_SUCCESS and self._sock is not None and self._rpos < len(self._rbuf):
            rc = self._packet_read()
            if rc == mqtt.MQTT_ERR_AGAIN:
                return mqtt.MQTT_ERR_SUCCESS
            if rc > 0:
                return self._loop_rc_handle(rc)
        return rc

    def reconnect(self) -> MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0  # never carry bytes of a dead connection into a new one
        return super().reconnect()

    def _reconnect_wait(self) -> None:
        # paho doubles the delay up to the cap with no jitter: a random cap (0.5–1 of it) keeps
        # many hubs that lost the same broker from reconnecting in the same instant.
        with self._reconnect_delay_mutex:
            self._reconnect_max_delay = RECONNECT_MAX_S * random.uniform(0.5, 1.0)  # type: ignore[assignment]
        super()._reconnect_wait()


class BrokerConnection(ConnectionBase):
    """Receives device messages into `inbox`, acknowledges them on request, publishes commands."""

    def __init__(
        self,
        settings: MqttConfig,
        inbox: queue.Queue[Received],
        metrics: IngestMetrics,
        *,
        receive_maximum: int = 65535,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, inbox, metrics, clock)
        self._lock = threading.Lock()
        self._disconnected = threading.Event()
        self.client = self._make_client(receive_maximum)

    # --- lifecycle ------------------------------------------------------------------------

    def _make_client(self, receive_maximum: int) -> mqtt.Client:
        s = self.settings
        # MQTT 3.1.1 (brokers without 5, like the demo's): clean_session=False keeps the session.
        session = {} if self._v5 else {"clean_session": False}
        client = BufferedReadClient(
            CallbackAPIVersion.VERSION2, client_id=s.client_id, manual_ack=True,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311, **session,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(0)
        if s.username:
            client.username_pw_set(s.username, s.password.get_secret_value() if s.password else None)
        url = urlsplit(s.url or "")
        if url.scheme == "mqtts" or s.tls.ca_file:
            client.tls_set(
                ca_certs=str(s.tls.ca_file) if s.tls.ca_file else None,
                certfile=str(s.tls.cert_file) if s.tls.cert_file else None,
                keyfile=str(s.tls.key_file) if s.tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        self._receive_maximum = max(1, min(65535, receive_maximum))
        return client

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff whenever the broker is lost."""
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = int(self.settings.session_expiry.total_seconds())
            props.ReceiveMaximum = self._receive_maximum
            self.client.connect_async(
                self._host, self._port, keepalive=self.settings.keepalive_s, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(self._host, self._port, keepalive=self.settings.keepalive_s)
        self.client.loop_start()
        log.info("mqtt connecting host=%s port=%d client_id=%s filters=%s", self._host, self._port,
                 self.settings.client_id, ",".join(self.filters))

    def pause(self) -> None:
        """Stop taking new messages (shutdown): they stay unacknowledged and the broker keeps them."""
        self._accepting = False

    def stop(self) -> None:
        """Disconnect without clearing the session (expiry as sent on connect), after queued acks."""
        self._accepting = False
        self._disconnected.clear()
        if self.client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
            # loop_stop() ends the network thread without flushing its out-queue: wait (bounded)
            # until the DISCONNECT — and the PUBACKs queued before it — went out, or the acks of
            # the last batch are lost and those messages redelivered (harmless, dedup; but seen).
            self._disconnected.wait(DISCONNECT_TIMEOUT_S)
        self.client.loop_stop()
        self._set_connected(False)

    @property
    def connected(self) -> bool:
        return self._connected

    # --- acks and publishing --------------------------------------------------------------

    def ack(self, received: Received) -> None:
        if received.qos == 0:
            return
        with self._lock:
            if received.generation != self._generation or not self._connected:
                return  # delivered on an older connection: the broker redelivers it, we ack that copy
            self.client.ack(received.mid, received.qos)

    def ack_all(self, batch: Sequence[Received]) -> None:
        for received in batch:
            self.ack(received)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish on the hub's connection (commands to devices); queued by paho while disconnected."""
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.error("publish failed topic=%s rc=%s", topic, info.rc)

    # --- paho callbacks (network thread) --------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("mqtt connect refused reason=%s", reason)
            return
        with self._lock:
            self._generation += 1
            self._connected = True
        self.metrics.broker_connected.set(1)
        self.metrics.reconnects.inc()
        # Subscribing again is harmless with a resumed session; retain handling 1 sends retained
        # status messages only for a subscription that did not exist yet.
        if self._v5:
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(f, options) for f in self.filters])
        else:
            client.subscribe([(f, 1) for f in self.filters])
        log.info("mqtt connected session_present=%s generation=%d", flags.session_present, self._generation)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._set_connected(False)
        self._disconnected.set()
        if self._accepting:
            log.warning("mqtt disconnected reason=%s; reconnecting with backoff", reason)

    def _set_connected(self, value: bool) -> None:
        with self._lock:
            self._generation += 1
            self._connected = value
        self.metrics.broker_connected.set(1 if value else 0)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = message.payload
        size = len(payload)
        if size > self.settings.max_payload_bytes:
            payload = payload[:MAX_QUARANTINED_BYTES]  # never parsed; keep only what quarantine stores
        item = Received(
            topic=message._topic.decode("utf-8", "replace"),
            payload=bytes(payload),
            size=size,
            mid=message.mid,
            qos=message.qos,
            received_at=self.clock.now(),
            generation=self._generation,
        )
        while self._accepting:
            try:
                self.inbox.put(item, timeout=0.5)
                return
            except queue.Full:
                continue  # backpressure: the socket is not read while the writer catches up
