"""What the two MQTT connection classes (paho: hub/ingest/broker.py, gmqtt:
hub/ingest/gmqtt_broker.py) share: their inputs and the state of one connection's lifetime.
Each receives device messages into `inbox`, acknowledges them on request and publishes
commands; only the client library differs."""

from __future__ import annotations

import queue

from devices import subscription_filters
from hub.clock import SystemClock
from hub.config import MqttConfig
from hub.ingest.batch import Clock, Received
from hub.metrics import IngestMetrics


class ConnectionBase:
    def __init__(
        self, settings: MqttConfig, inbox: queue.Queue[Received], metrics: IngestMetrics, clock: Clock | None
    ) -> None:
        if settings.url is None:
            raise ValueError("mqtt.url is null: `pingan serve` needs a broker (the demo starts its own)")
        self.settings = settings
        self.inbox = inbox
        self.metrics = metrics
        self.clock = clock or SystemClock()
        self.filters = subscription_filters(settings.topic_root, settings.shared_group)
        self._v5 = settings.protocol == "5"
        self._generation = 0  # counts connections: a message is acknowledged on the one that brought it
        self._connected = False
        self._accepting = True
