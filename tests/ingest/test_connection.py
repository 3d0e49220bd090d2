"""The hub's broker connection on both MQTT clients, against a real Mosquitto: nothing is
acknowledged until `ack_all` is called, and what was acknowledged is not delivered again.

Without an ack the broker must redeliver every message to the next connection with the same
client id (the PUBACK was held); after `ack_all` and a normal stop it must not. "Nothing more
comes" is shown without timing: a marker published after reconnecting arrives behind anything
the broker still had to redeliver (Mosquitto resends the session's in-flight messages first).
"""

from __future__ import annotations

import queue
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker
from prometheus_client import CollectorRegistry

from hub.clock import SystemClock
from hub.config import MqttConfig
from hub.ingest import MqttConnection, Received
from hub.metrics import IngestMetrics
from ingest.helpers import Publisher, heartbeat, wait_until

DEVICE = "cat-0001"
COUNT = 50


def make(broker: Broker, protocol: str, client_id: str) -> tuple[MqttConnection, queue.Queue[Received]]:
    settings = MqttConfig(url=broker.url, protocol=protocol, client_id=client_id,  # type: ignore[arg-type]
                          session_expiry="1h")  # type: ignore[arg-type]
    inbox: queue.Queue[Received] = queue.Queue(maxsize=1000)
    connection = MqttConnection(settings, inbox, IngestMetrics(CollectorRegistry()), SystemClock(), receive_maximum=1000)
    return connection, inbox


def connect(broker: Broker, protocol: str, client_id: str) -> tuple[MqttConnection, queue.Queue[Received]]:
    connection, inbox = make(broker, protocol, client_id)
    connection.start()
    wait_until(lambda: connection.connected, 30, "the hub's connection to connect")
    return connection, inbox


def drain(inbox: queue.Queue[Received], count: int) -> list[Received]:
    got: list[Received] = []
    wait_until(lambda: inbox.qsize() >= count, 30, f"{count} messages delivered")
    while not inbox.empty():
        got.append(inbox.get_nowait())
    return got


def seqs(items: list[Received]) -> list[int]:
    return sorted(int(item.payload.split(b'"seq": ')[1].split(b",")[0]) for item in items)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_messages_are_acknowledged_only_by_ack_all(broker: Broker, protocol: str, request: pytest.FixtureRequest) -> None:
    client_id = f"hub-{uuid.uuid4().hex[:8]}"
    hub, inbox = connect(broker, protocol, client_id)
    pub = Publisher(broker.port)
    request.addfinalizer(pub.close)
    for seq in range(COUNT):
        pub.publish(*heartbeat(DEVICE, seq, 1_764_124_800 + seq))
    pub.flush()
    first = drain(inbox, COUNT)
    assert seqs(first) == list(range(COUNT))
    hub.stop()  # never acknowledged

    hub, inbox = connect(broker, protocol, client_id)
    again = drain(inbox, COUNT)
    assert seqs(again) == list(range(COUNT)), "the broker did not redeliver: something was acknowledged"
    hub.ack_all(again)
    hub.stop()  # the acks go out before the DISCONNECT

    hub, inbox = connect(broker, protocol, client_id)
    pub.publish(*heartbeat(DEVICE, 999, 1_764_124_800))
    pub.flush()
    after = drain(inbox, 1)
    assert seqs(after) == [999], "acknowledged messages were delivered again"
    hub.ack_all(after)
    hub.stop()


def test_a_command_published_before_the_first_connect_is_sent_once_connected(broker: Broker) -> None:
    topic = "pingan/v1/dev/cat-0001/cmd"
    got: queue.Queue[bytes] = queue.Queue()
    subscribed = threading.Event()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    device.on_message = lambda _c, _u, message: got.put(message.payload)
    device.on_subscribe = lambda *_a: subscribed.set()
    device.connect("127.0.0.1", broker.port)
    device.loop_start()
    device.subscribe(topic, qos=1)
    wait_until(subscribed.is_set, 30, "the device's subscription")
    hub, _inbox = make(broker, "5", f"hub-{uuid.uuid4().hex[:8]}")
    hub.publish(topic, b'{"cmd": "alert_ack", "alert": "A7K2"}')
    hub.start()
    wait_until(lambda: not got.empty(), 30, "the command to reach the device")
    assert got.get_nowait() == b'{"cmd": "alert_ack", "alert": "A7K2"}'
    hub.stop()
    device.disconnect()
    device.loop_stop()
